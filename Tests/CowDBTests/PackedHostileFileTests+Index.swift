// The index of a packed database damaged (PackedHostileFileTests): packed records resealed
// with other flags, pages or order; the index lost or cut short at or after it.

import CowDBTestSupport
import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

extension PackedHostileFileTests {
    /// Judges a copy with the intact data file and `index` (nil: none); with `mustReadAll`,
    /// every version must read as the intact one (the index rebuilt from the data file).
    func judgeIndex(_ packed: Packed, _ label: String, index: [UInt8]?, mustReadAll: Bool) throws {
        let path = try writeCopy(packed, name: label.filter { $0.isLetter || $0.isNumber }, data: packed.data, index: index)
        let (reported, lost) = judge(path, packed, label)
        if mustReadAll {
            XCTAssertEqual(reported, 0, "\(label): damage reported where the index can be rebuilt")
            XCTAssertEqual(lost, [], "\(label): versions lost")
        }
        try? FileManager.default.removeItem(atPath: path)
    }

    /// The index with record `i` changed by `change`, resealed.
    static func changing(_ index: [UInt8], record i: Int, _ change: (inout IndexRecord) -> Void) -> [UInt8] {
        var copy = index
        let range = i * IndexRecord.size ..< (i + 1) * IndexRecord.size
        var record = copy.withUnsafeBytes { IndexRecord.decode(UnsafeRawBufferPointer(rebasing: $0[range]))! }
        change(&record)
        copy.replaceSubrange(range, with: record.encoded)
        return copy
    }

    /// `index` with every record flagged synced, resealed.
    static func allSynced(_ index: [UInt8]) -> [UInt8] {
        (0 ..< index.count / IndexRecord.size).reduce(index) { copy, i in changing(copy, record: i) { $0.flags |= IndexRecord.syncedFlag } }
    }

    /// The pack commit's record (the index's first, flagged packed; the versions before its
    /// own are served from the version table) with the packed flag cleared or an unknown flag
    /// set, swapped with the next record, naming another page or another history root, its
    /// synced flag set or its version changed; the next (unpacked) record marked packed.
    func testDamagedPackedIndexRecordsNeverReadWrong() throws {
        let seed = testSeed("packed-hostile-index")
        let packed = try makePacked(seed: seed)
        var swapped = packed.index
        let (a, b) = (0, IndexRecord.size)
        let first = Array(swapped[a ..< b])
        swapped.replaceSubrange(a ..< b, with: swapped[b ..< b + IndexRecord.size])
        swapped.replaceSubrange(b ..< b + IndexRecord.size, with: first)
        let cases: [(String, [UInt8])] = [
            ("packed flag cleared", Self.changing(packed.index, record: 0) { $0.flags &= ~IndexRecord.packedFlag }),
            ("unknown flag", Self.changing(packed.index, record: 0) { $0.flags |= 8 }),
            ("records 0 and 1 swapped", swapped),
            ("another commit page", Self.changing(packed.index, record: 0) { $0.commitPage -= 1 }),
            ("a later commit page", Self.changing(packed.index, record: 0) { $0.commitPage = packed.packPage + 1 }),
            ("another history root", Self.changing(packed.index, record: 0) { $0.catalogRoot -= 1 }),
            ("an unpacked record marked packed", Self.changing(packed.index, record: 1) { $0.flags |= IndexRecord.packedFlag }),
            ("the pack's record synced", Self.changing(packed.index, record: 0) { $0.flags |= IndexRecord.syncedFlag }),
            ("the pack's record's version", Self.changing(packed.index, record: 0) { $0.version += 1 }),
            ("the pack's record's version lowered", Self.changing(packed.index, record: 0) { $0.version -= 1 }),
            // Every record synced, so that recovery trusts them all unread (found in review: the
            // pack's history tree was read as version H's trees, a get returned nil silently).
            ("packed flag cleared, every record synced", Self.allSynced(Self.changing(packed.index, record: 0) { $0.flags &= ~IndexRecord.packedFlag })),
            ("the next record marked packed, every record synced", Self.allSynced(Self.changing(packed.index, record: 1) { $0.flags |= IndexRecord.packedFlag })),
        ]
        for (label, index) in cases {
            try judgeIndex(packed, "seed \(seed) \(label)", index: index, mustReadAll: false)
        }
    }

    /// No index, and the index cut short inside the pack's record, right after it, and inside
    /// the next: the open rebuilds it from the data file (the pack commit's record, whose
    /// version table lists the versions before it) and every version reads as it was.
    func testALostOrShortIndexIsRebuiltThroughThePack() throws {
        let seed = testSeed("packed-hostile-short-index")
        var random = SeededGenerator(seed: seed)
        let packed = try makePacked(seed: seed)
        try judgeIndex(packed, "seed \(seed) no index", index: nil, mustReadAll: true)
        try judgeIndex(packed, "seed \(seed) empty index", index: [], mustReadAll: true)
        for records in 0 ..< 2 {
            let bytes = records * IndexRecord.size + Int.random(in: 1 ..< IndexRecord.size, using: &random)
            try judgeIndex(packed, "seed \(seed) index cut to \(bytes) bytes", index: Array(packed.index.prefix(bytes)), mustReadAll: true)
        }
        try judgeIndex(packed, "seed \(seed) index cut after the pack's record",
                       index: Array(packed.index.prefix(IndexRecord.size)), mustReadAll: true)
    }
}

extension PackedHostileFileTests {
    /// The pack's record with its packed flag cleared and every record synced (recovery trusts
    /// them unread): every get at every version, key by key, returns the intact value or throws
    /// `corrupt` — never nil or another value silently (review finding: the pack's history tree
    /// was read as the trees of version H) — and the open or `versions()` must not silently
    /// drop the packed versions.
    func testAnUnflaggedPackRecordNeverReadsWrongKeyByKey() throws {
        let seed = testSeed("packed-hostile-unflagged")
        let packed = try makePacked(seed: seed)
        let index = Self.allSynced(Self.changing(packed.index, record: 0) { $0.flags &= ~IndexRecord.packedFlag })
        let path = try writeCopy(packed, name: "unflagged", data: packed.data, index: index)
        var options = DatabaseOptions()
        options.durability = .none
        options.automaticCompaction = nil
        let db: Database
        do { db = try Database(path: path, options: options) } catch CowDBError.corrupt { return } // unchecked-open: damaged on purpose
        defer { try? db.close() }
        XCTAssertEqual(try db.versions().map(\.version), packed.versions, "seed \(seed): versions dropped silently")
        for version in packed.versions {
            for (name, flat) in packed.contents[version] ?? [:] {
                for pair in stride(from: 0, to: flat.count, by: 2) {
                    do {
                        let got = try db.read(at: version) { txn in try name.map { try txn.keyspace($0).get(flat[pair]) } ?? txn.get(flat[pair]) }
                        XCTAssertEqual(got, flat[pair + 1], "seed \(seed): version \(version) keyspace \(name ?? "default") read wrong")
                    } catch CowDBError.corrupt {}
                }
            }
        }
    }
}
