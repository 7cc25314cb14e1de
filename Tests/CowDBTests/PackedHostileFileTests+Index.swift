// The index of a packed database damaged (PackedHostileFileTests): packed records resealed
// with other flags, pages or order; the index lost or cut short inside the packed records.

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

    /// Packed records with the packed flag cleared or an unknown flag set, two swapped (their
    /// repeated pages out of order), one naming another page or another history root, an
    /// unpacked record marked packed, the last packed record's synced flag set.
    func testDamagedPackedIndexRecordsNeverReadWrong() throws {
        let seed = testSeed("packed-hostile-index")
        var random = SeededGenerator(seed: seed)
        let packed = try makePacked(seed: seed)
        let count = packed.packedCount
        let some = Int.random(in: 0 ..< count - 1, using: &random)
        var swapped = packed.index
        let (a, b) = (some * IndexRecord.size, (some + 1) * IndexRecord.size)
        let first = Array(swapped[a ..< b])
        swapped.replaceSubrange(a ..< b, with: swapped[b ..< b + IndexRecord.size])
        swapped.replaceSubrange(b ..< b + IndexRecord.size, with: first)
        let cases: [(String, [UInt8])] = [
            ("packed flag cleared", Self.changing(packed.index, record: some) { $0.flags &= ~IndexRecord.packedFlag }),
            ("unknown flag", Self.changing(packed.index, record: some) { $0.flags |= 8 }),
            ("records \(some) and \(some + 1) swapped", swapped),
            ("another commit page", Self.changing(packed.index, record: some) { $0.commitPage -= 1 }),
            ("a later commit page", Self.changing(packed.index, record: some) { $0.commitPage = packed.packPage + 1 }),
            ("another history root", Self.changing(packed.index, record: some) { $0.catalogRoot -= 1 }),
            ("an unpacked record marked packed", Self.changing(packed.index, record: count) { $0.flags |= IndexRecord.packedFlag }),
            ("the last packed record synced", Self.changing(packed.index, record: count - 1) { $0.flags |= IndexRecord.syncedFlag }),
            ("the last packed record's version", Self.changing(packed.index, record: count - 1) { $0.version += 1 }),
        ]
        for (label, index) in cases {
            try judgeIndex(packed, "seed \(seed) \(label)", index: index, mustReadAll: false)
        }
    }

    /// No index, and the index cut short inside the packed records (at a record boundary and
    /// inside a record): the open rebuilds it from the pack commit's version table and every
    /// version reads as it was.
    func testALostOrShortIndexIsRebuiltThroughThePack() throws {
        let seed = testSeed("packed-hostile-short-index")
        var random = SeededGenerator(seed: seed)
        let packed = try makePacked(seed: seed)
        try judgeIndex(packed, "seed \(seed) no index", index: nil, mustReadAll: true)
        try judgeIndex(packed, "seed \(seed) empty index", index: [], mustReadAll: true)
        for _ in 0 ..< 3 {
            let records = Int.random(in: 1 ..< packed.packedCount, using: &random)
            try judgeIndex(packed, "seed \(seed) index cut to \(records) records", index: Array(packed.index.prefix(records * IndexRecord.size)), mustReadAll: true)
            let bytes = records * IndexRecord.size + Int.random(in: 1 ..< IndexRecord.size, using: &random)
            try judgeIndex(packed, "seed \(seed) index cut to \(bytes) bytes", index: Array(packed.index.prefix(bytes)), mustReadAll: true)
        }
        try judgeIndex(packed, "seed \(seed) index cut after the packed records",
                       index: Array(packed.index.prefix(packed.packedCount * IndexRecord.size)), mustReadAll: true)
    }
}
