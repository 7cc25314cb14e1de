import CowDBFormat
import CowDBStorage

/// Which of the versions a compaction keeps it packs into the history tree
/// (docs/PACKED-HISTORY.md): there a version costs about the bytes of its changes, and it
/// reads like any other (a little slower: about a seek per key read). The newest version is
/// never packed. Versions packed before stay packed.
public enum Packing: Sendable, Equatable {
    /// Pack nothing more.
    case none
    /// Pack every kept version but the newest `count` (at least 1).
    case allButNewest(Int)

    /// Pack every kept version but the latest.
    public static let all = Packing.allButNewest(1)

    /// How many of `kept` (ascending, the latest last) go into the pack: the versions packed
    /// before (a prefix of the index), and as many more as this asks.
    func count(of kept: [UInt64], packedBefore index: IndexView) throws -> Int {
        var packed = 0
        while packed < kept.count, let position = try index.position(of: kept[packed]), try index.record(position).isPacked {
            packed += 1
        }
        guard packed < kept.count else { // a pack commit is never its file's last: the commits after it are lost
            throw CowDBError.corrupt(page: nil, offset: nil, reason: "the latest version \(kept.last ?? 0) is packed: the commits after its pack are missing")
        }
        switch self {
        case .none: return packed
        case let .allButNewest(newest): return max(packed, kept.count - max(1, newest))
        }
    }
}
