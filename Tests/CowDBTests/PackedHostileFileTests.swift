import CowDBTestSupport
import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// Damaged packed databases (docs/PACKED-HISTORY.md): the pack commit's pack fields, its
/// version table and the packed index records changed with their checksums resealed (so the
/// damage is semantic), history tree pages with a byte changed, and the index lost or cut
/// short. Opening, listing, reading every version and `check` either give exactly what the
/// intact database holds or throw `corrupt` — never a crash, a hang or wrong bytes; damage to
/// the data file is reported; an index lost or cut short is rebuilt and every version reads.
final class PackedHostileFileTests: XCTestCase {
    /// Every keyspace of a version: (name, entries as key, value, key, value, …).
    typealias Content = [String?: [[UInt8]]]

    /// An intact packed database: its files, where its pack is, every version's content.
    struct Packed {
        var directory: TemporaryDirectory
        var generation: UInt64
        var data: [UInt8], index: [UInt8], current: [UInt8]
        var pageSize: Int
        var packPage: PageNumber
        var pack: CommitRecord
        var packedCount: Int
        var versions: [UInt64]
        var contents: [UInt64: Content]
    }

    /// A database of 30 random commits packed (all but the latest), then three more commits.
    func makePacked(seed: UInt64) throws -> Packed {
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        let path = directory.path("intact")
        var options = DatabaseOptions()
        options.durability = .none
        let db = try openDatabase(path: path, options: options)
        for _ in 0 ..< 30 { try db.write { try RandomHistory.commit($0, &random) } }
        try db.compact(keeping: RetentionPolicy(keepAll: true), packing: .all)
        for _ in 0 ..< 3 { try db.write { try RandomHistory.commit($0, &random) } }
        let versions = try db.versions().map(\.version)
        var contents: [UInt64: Content] = [:]
        for version in versions { contents[version] = try Self.content(db, at: version) }
        let packPage = try db.read(at: 1) { $0.source.commit!.page }
        let pageSize = db.pageSize
        try db.close()
        let generation = try CurrentFile.read(in: path, backend: POSIXStorage())
        func file(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path + "/" + name))) }
        let data = try file(CurrentFile.dataName(generation))
        let pack = try data.withUnsafeBytes {
            try CommitRecord.decode(UnsafeRawBufferPointer(rebasing: $0[Int(packPage) * pageSize ..< Int(packPage + 1) * pageSize]), pageNumber: packPage)
        }
        return Packed(directory: directory, generation: generation, data: data, index: try file(CurrentFile.indexName(generation)),
                      current: try file(CurrentFile.name), pageSize: pageSize, packPage: packPage, pack: pack,
                      packedCount: Int(pack.pack!.versionCount), versions: versions, contents: contents)
    }

    /// Every keyspace's entries at `version`.
    static func content(_ db: Database, at version: UInt64) throws -> Content {
        try db.read(at: version) { txn in
            var content: Content = [:]
            for name in RandomHistory.names {
                content[name] = try RandomHistory.content(txn, name)?.flatMap { [$0.key, $0.value] }
            }
            return content
        }
    }

    /// Writes a copy named `name` with `data` and `index` (nil: no index file) as the current generation.
    func writeCopy(_ packed: Packed, name: String, data: [UInt8], index: [UInt8]?) throws -> String {
        let path = packed.directory.path(name)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try Data(packed.current).write(to: URL(fileURLWithPath: path + "/" + CurrentFile.name))
        try Data(data).write(to: URL(fileURLWithPath: path + "/" + CurrentFile.dataName(packed.generation)))
        if let index { try Data(index).write(to: URL(fileURLWithPath: path + "/" + CurrentFile.indexName(packed.generation))) }
        return path
    }

    /// Whether `error` reports damage.
    static func isCorrupt(_ error: any Error) -> Bool {
        if case .corrupt? = error as? CowDBError { return true }
        return false
    }

    /// Opens the copy at `path` and reads every version of the intact database and checks
    /// it: each answer must be the intact one or `corrupt`. Returns how many operations
    /// reported damage (the open counts as one) and the versions no longer listed.
    func judge(_ path: String, _ packed: Packed, _ label: String) -> (reported: Int, lost: [UInt64]) {
        var options = DatabaseOptions()
        options.durability = .none
        options.lockTimeout = 0
        options.automaticCompaction = nil
        let db: Database
        do {
            db = try Database(path: path, options: options) // unchecked-open: a damaged copy
        } catch {
            XCTAssertTrue(Self.isCorrupt(error), "\(label): open threw \(error)")
            return (1, [])
        }
        defer { try? db.close() }
        var reported = 0
        var listed = Set(packed.versions)
        do {
            listed = Set(try db.versions().map(\.version))
            XCTAssertTrue(listed.isSubset(of: packed.versions), "\(label): versions \(listed.sorted()) not the intact ones")
        } catch {
            XCTAssertTrue(Self.isCorrupt(error), "\(label): versions() threw \(error)")
            reported += 1
        }
        for version in packed.versions where listed.contains(version) {
            do {
                let content = try Self.content(db, at: version)
                XCTAssertTrue(content == packed.contents[version]!, "\(label): version \(version) reads back wrong")
            } catch {
                XCTAssertTrue(Self.isCorrupt(error), "\(label): reading version \(version) threw \(error)")
                reported += 1
            }
        }
        do {
            if !(try db.checkReport(allVersions: true)).isClean { reported += 1 }
        } catch {
            XCTAssertTrue(Self.isCorrupt(error), "\(label): check threw \(error)")
            reported += 1
        }
        compactAndReread(db, packed, label, listed: listed)
        return (reported, packed.versions.filter { !listed.contains($0) })
    }

    /// Compacts the damaged copy, packing every version but the latest: it either throws (a
    /// `corrupt` error) or keeps every listed version as the intact database has it.
    func compactAndReread(_ db: Database, _ packed: Packed, _ label: String, listed: Set<UInt64>) {
        do {
            try db.compact(keeping: RetentionPolicy(keepAll: true), packing: .all)
        } catch {
            XCTAssertTrue(Self.isCorrupt(error), "\(label): compaction threw \(error)")
            return
        }
        for version in packed.versions where listed.contains(version) {
            XCTAssertTrue((try? Self.content(db, at: version)) == packed.contents[version]!, "\(label): version \(version) after compaction")
        }
    }
}
