// The replica writer (`cowdb restore`, `cowdb follow`; docs/REPLICATION.md) under a crash after
// every step and power cuts: the replica opens at a version at least the last one it
// acknowledged, and every version it holds is the source's.

import Foundation
import XCTest
import CowDB
import CowDBFormat
import CowDBStorage

extension CrashTests {
    /// A replica written as restore and follow write it: generation 1 in two segments (the
    /// first while the generation is new, the second appended and published), then a switch to
    /// the source's compacted generation 2. Crashed after each step of that, each disk state
    /// (page cache, durable bytes, 12 power cuts with torn writes) must open at or past the
    /// acknowledged version with the source's content at every version it holds.
    func testReplicaWriterSurvivesACrashAfterEveryStepAndPowerCuts() throws {
        let dir = TemporaryDirectory()
        let (shipments, contents) = try replicaShipments(source: dir.path("source"))
        let replica = dir.path("replica")
        try FileManager.default.createDirectory(atPath: replica, withIntermediateDirectories: true)

        /// Writes the shipments until done or crashed; the last version acknowledged.
        func replicate(_ backend: FaultInjectionStorage) -> UInt64 {
            var acknowledged: UInt64 = 0
            do {
                let writer = try ReplicaWriter(path: replica, storage: backend)
                defer { writer.close() }
                for shipment in shipments {
                    if shipment.begins { try writer.beginGeneration(shipment.generation, pageSize: 4096) }
                    try writer.append(shipment.bytes, commits: shipment.commits)
                    if shipment.begins { try writer.finishGeneration() }
                    acknowledged = shipment.commits.last!.record.version
                }
            } catch {}
            return acknowledged
        }
        let counter = FaultInjectionStorage(durableDirectories: [dir.url.path])
        XCTAssertEqual(replicate(counter), contents.keys.max())
        var images = 0
        for step in 1 ... counter.counts.steps {
            let backend = FaultInjectionStorage(durableDirectories: [dir.url.path])
            backend.crash(afterStep: step)
            let acknowledged = replicate(backend)
            var kinds: [FaultInjectionStorage.ImageKind] = [.processCrash, .durableOnly]
            kinds += (0 ..< UInt64(12)).map { .powerCut(seed: $0, tear: $0 % 2 == 1) }
            for kind in kinds {
                images += 1
                let disk = FaultInjectionStorage(image: backend.image(kind))
                let label = "crash after step \(step) of \(counter.counts.steps), \(kind)"
                do {
                    let db = try Database(path: replica, options: DatabaseOptions(), backend: disk) // unchecked-open: checked here, on a simulated disk
                    defer { try? db.close() }
                    XCTAssertGreaterThanOrEqual(db.latestVersion, acknowledged, label)
                    for info in try db.versions() {
                        XCTAssertEqual(try Self.defaultKeyspace(of: db, at: info.version), contents[info.version], "\(label), version \(info.version)")
                    }
                    _ = try db.check()
                } catch {
                    XCTFail("\(label): \(error)")
                }
            }
        }
        print("replica writer: \(counter.counts.steps) steps, \(images) disk images")
    }

    /// What a replica is sent, from a source at `path`: generation 1 as two segments (versions
    /// 1–3, then 4–6), then generation 2 whole (after a compaction keeping every version, and
    /// versions 7–8); and the default keyspace of every version.
    private func replicaShipments(source path: String) throws
        -> ([(generation: UInt64, begins: Bool, bytes: [UInt8], commits: [CommitPoint])], [UInt64: [[UInt8]: [UInt8]]]) {
        let source = try openDatabase(path: path, options: Self.options(.full))
        /// Commits `count` versions, each a small and a 9,000-byte value.
        func commit(_ count: Int) throws {
            for _ in 0 ..< count {
                let n = source.latestVersion + 1
                try source.write { txn in
                    try txn.put(b("k\(n)"), b("v\(n)"))
                    try txn.put(b("big\(n % 3)"), [UInt8](repeating: UInt8(n), count: 9_000))
                }
            }
        }
        /// The whole committed file of the current generation, as segments cut after `splits` commits.
        func segments(_ splits: [Int]) throws -> [(generation: UInt64, begins: Bool, bytes: [UInt8], commits: [CommitPoint])] {
            let view = try source.shippingView()
            let all = SegmentScan.scan(UnsafeRawBufferPointer(start: view.mapping.base, count: Int(view.end)), startPage: 0,
                                       pageSize: view.pageSize, after: nil).commits
            var result: [(generation: UInt64, begins: Bool, bytes: [UInt8], commits: [CommitPoint])] = []
            var start = 0
            for cut in splits + [all.count] where cut > start {
                let from = start == 0 ? 0 : (all[start - 1].page + 1) * UInt64(view.pageSize)
                let to = (all[cut - 1].page + 1) * UInt64(view.pageSize)
                result.append((view.generation, start == 0, view.bytes(from ..< to), Array(all[start ..< cut])))
                start = cut
            }
            return result
        }
        try commit(6)
        let first = try segments([3])
        _ = try source.compact(keeping: RetentionPolicy(keepAll: true), packing: .none)
        try commit(2)
        let second = try segments([])
        XCTAssertEqual(second.first?.generation, 2)
        var contents: [UInt64: [[UInt8]: [UInt8]]] = [:]
        for info in try source.versions() { contents[info.version] = try Self.defaultKeyspace(of: source, at: info.version) }
        XCTAssertEqual(contents.count, 8)
        return (first + second, contents)
    }

    /// The default keyspace of `version`.
    static func defaultKeyspace(of db: Database, at version: UInt64) throws -> [[UInt8]: [UInt8]] {
        try db.read(at: version) { txn in
            var entries: [[UInt8]: [UInt8]] = [:]
            for entry in try txn.scan() { entries[entry.key] = entry.value }
            return entries
        }
    }
}
