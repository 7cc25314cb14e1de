import CowDBFormat
import CowDBStorage
import Foundation

// What replication (the CowDBReplication target, docs/REPLICATION.md) needs from an open
// database, at package level: the committed bytes of the current generation as they are in
// the data file, the commit record that ends them, the tags file's content, and a way to wait
// for the next commit. The data file is append-only, so bytes [0, end of the latest commit)
// never change while the generation lasts: a replica ships them and nothing else.

/// The committed bytes of one generation, from one view of it.
package struct ShippingView: @unchecked Sendable {  // `mapping` is immutable; the view only reads it.
    /// The data file's generation.
    package let generation: UInt64
    /// The database's UUID (kept by compaction).
    package let uuid: UUID
    /// The page size.
    package let pageSize: Int
    /// The latest commit (nil: the empty database).
    package let latest: CommitPoint?
    /// The map of the data file, covering at least [0, end).
    package let mapping: MappedRegion

    /// Bytes through the latest commit record (the header page alone for the empty database).
    package var end: UInt64 { ((latest?.page ?? 0) + 1) * UInt64(pageSize) }

    /// A copy of bytes `range` (inside [0, end)).
    package func bytes(_ range: Range<UInt64>) -> [UInt8] {
        precondition(range.upperBound <= end, "shipping past the latest commit")
        return Array(UnsafeRawBufferPointer(start: mapping.base + Int(range.lowerBound), count: range.count))
    }

    /// The commit record whose page ends at byte `offset`, if it verifies.
    package func commit(endingAt offset: UInt64) -> CommitPoint? {
        guard offset >= 2 * UInt64(pageSize), offset <= end, offset % UInt64(pageSize) == 0 else { return nil }
        let page = offset / UInt64(pageSize) - 1
        return Recovery.verifiedCommit(base: mapping.base, pageSize: pageSize, page: page).map { CommitPoint(record: $0, page: page) }
    }
}

extension Database {
    /// The committed bytes of the current generation (a read-only instance first adopts what
    /// a writer in another process published).
    package func shippingView() throws -> ShippingView {
        if options.readOnly { try refreshFromWriter() }
        let (generation, view) = try openView()
        return ShippingView(generation: generation.number, uuid: generation.store.header.uuid,
                            pageSize: generation.store.layout.pageSize, latest: view.latest, mapping: view.mapping)
    }

    /// The tags file's content as it would be written (nil when there are no tags).
    package func encodedTags() throws -> [UInt8]? {
        let tags = try readTags()
        return tags.isEmpty ? nil : TagFile.encode(tags)
    }

    /// The publication sequence now: read it before looking for commits, then pass it to
    /// `waitForCommit(after:)`.
    package var commitSequence: UInt64 { watcher.sequence }

    /// Suspends until a writer publishes after `sequence`, about a second passes (the
    /// watcher's recheck), the task is cancelled or the database closes.
    package func waitForCommit(after sequence: UInt64) async {
        await watcher.wait(after: sequence)
    }
}
