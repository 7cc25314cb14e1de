import Foundation

/// The replica's small index (`manifest.json`): which database it is, and for each generation
/// how far its segments are trusted. Written after the segments it covers; a segment past a
/// generation's `end` is an upload the manifest does not vouch for yet (docs/REPLICATION.md).
struct ReplicaManifest: Codable, Equatable {
    /// The manifest's own format (1).
    var format = 1
    /// The database's UUID.
    var database: String
    /// Its page size.
    var pageSize: Int
    /// Every generation shipped, oldest first.
    var generations: [Generation]

    /// One data-file generation: bytes [0, end) are in its segments.
    struct Generation: Codable, Equatable {
        var generation: UInt64
        /// Bytes shipped: the end of its last shipped commit record.
        var end: UInt64
        /// The first version it holds (a pack's first) and that commit's timestamp (ns since 1970).
        var firstVersion: UInt64
        var firstTimestamp: UInt64
        /// The last version shipped and its timestamp.
        var version: UInt64
        var timestamp: UInt64
    }

    /// The entry of `generation`, if shipped.
    func entry(_ generation: UInt64) -> Generation? { generations.first { $0.generation == generation } }

    /// Sets the entry of its generation (appended when new).
    mutating func update(_ entry: Generation) {
        if let i = generations.firstIndex(where: { $0.generation == entry.generation }) {
            generations[i] = entry
        } else {
            generations.append(entry)
            generations.sort { $0.generation < $1.generation }
        }
    }

    /// The JSON bytes.
    func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array((try? encoder.encode(self)) ?? Data())
    }

    /// A manifest from its bytes; `key` names the object in errors.
    static func decode(_ bytes: [UInt8], key: String) throws(ReplicaError) -> ReplicaManifest {
        let manifest: ReplicaManifest
        do {
            manifest = try JSONDecoder().decode(ReplicaManifest.self, from: Data(bytes))
        } catch {
            throw .damaged(object: key, reason: "not a replica manifest (\(error))")
        }
        guard manifest.format == 1 else { throw .damaged(object: key, reason: "manifest format \(manifest.format), this tool reads 1") }
        guard manifest.pageSize >= 512, manifest.pageSize.nonzeroBitCount == 1 else {
            throw .damaged(object: key, reason: "page size \(manifest.pageSize)")
        }
        for (i, entry) in manifest.generations.enumerated() {
            let ordered = i == 0 || manifest.generations[i - 1].generation < entry.generation
            guard ordered, entry.end >= 2 * UInt64(manifest.pageSize), entry.end % UInt64(manifest.pageSize) == 0,
                  entry.firstVersion <= entry.version, entry.firstTimestamp <= entry.timestamp
            else { throw .damaged(object: key, reason: "generation entry \(i) is inconsistent") }
        }
        return manifest
    }
}
