// The damages of PackedHostileFileTests: pack fields, version table, history tree pages,
// packed index records, and the index lost or cut short.

import CowDBTestSupport
import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

extension PackedHostileFileTests {
    /// Sets the u64 at byte `offset` of `bytes`.
    static func set(_ bytes: inout [UInt8], _ value: UInt64, at offset: Int) {
        bytes.withUnsafeMutableBytes { $0.setU64(value, offset) }
    }

    /// The u64 at byte `offset` of `bytes`.
    static func u64(_ bytes: [UInt8], at offset: Int) -> UInt64 {
        bytes.withUnsafeBytes { $0.u64(offset) }
    }

    /// Judges a copy whose data file is `data` resealed (`reseal`) with the intact index:
    /// the damage must be reported.
    func assertDataDamageReported(_ packed: Packed, _ label: String, reseal: Bool = true, _ damage: (inout [UInt8]) -> Void) throws {
        var data = packed.data
        damage(&data)
        if reseal { FuzzCase.resealData(&data, relink: false) }
        XCTAssertNotEqual(data, packed.data, "\(label): the damage changes the file")
        let path = try writeCopy(packed, name: label.filter { $0.isLetter || $0.isNumber }, data: data, index: packed.index)
        let (reported, lost) = judge(path, packed, label)
        XCTAssertGreaterThan(reported, 0, "\(label): damage went unreported (versions lost: \(lost))")
        try? FileManager.default.removeItem(atPath: path)
    }

    /// The pack commit's pack fields: counts of zero, huge or off by one, a first version past
    /// the pack's, a version table at page 0, at the commit itself, past it, on a page that
    /// is not an overflow run, and the pack flag cleared with the fields left set.
    func testDamagedPackFieldsAreReported() throws {
        let seed = testSeed("packed-hostile-fields")
        let packed = try makePacked(seed: seed)
        let base = Int(packed.packPage) * packed.pageSize
        let pack = packed.pack.pack!
        let treePage = (1 ..< packed.packPage).first { page in
            packed.data[Int(page) * packed.pageSize + PageHeader.kindOffset] != PageKind.overflow.rawValue
        }!
        let fields: [(String, Int, UInt64)] = [
            ("versionCount 0", 104, 0), ("versionCount 2^40", 104, 1 << 40), ("versionCount max", 104, .max),
            ("versionCount - 1", 104, pack.versionCount - 1), ("versionCount + 1", 104, pack.versionCount + 1),
            ("firstVersion past the pack", 96, packed.pack.version + 1), ("firstVersion 0", 96, 0), ("firstVersion + 1", 96, pack.firstVersion + 1),
            ("versionTable 0", 112, 0), ("versionTable at the commit", 112, packed.packPage),
            ("versionTable past the commit", 112, packed.packPage + 3), ("versionTable on a tree page", 112, treePage),
            ("versionTable max", 112, .max),
        ]
        for (label, offset, value) in fields {
            try assertDataDamageReported(packed, "seed \(seed) \(label)") { Self.set(&$0, value, at: base + offset) }
        }
        try assertDataDamageReported(packed, "seed \(seed) pack flag cleared") { data in
            let flags = data.withUnsafeBytes { $0.u32(base + 84) }
            data.withUnsafeMutableBytes { $0.setU32(flags & ~CommitRecord.packedFlag, base + 84) }
        }
    }

    /// The version table's bytes: two entries swapped, a timestamp repeated, the last version
    /// not the pack's, the first not its firstVersion, the run's value length not the count's.
    func testDamagedVersionTablesAreReported() throws {
        let seed = testSeed("packed-hostile-table")
        let packed = try makePacked(seed: seed)
        let table = Int(packed.pack.pack!.versionTable) * packed.pageSize
        let entries = table + PageHeader.size
        let size = VersionTable.entrySize
        let count = packed.packedCount
        XCTAssertGreaterThanOrEqual(count, 3)
        try assertDataDamageReported(packed, "seed \(seed) entries swapped") { data in
            let first = Array(data[entries ..< entries + size])
            data.replaceSubrange(entries ..< entries + size, with: data[entries + size ..< entries + 2 * size])
            data.replaceSubrange(entries + size ..< entries + 2 * size, with: first)
        }
        try assertDataDamageReported(packed, "seed \(seed) timestamp repeated") { data in
            Self.set(&data, Self.u64(data, at: entries + 8), at: entries + size + 8)
        }
        try assertDataDamageReported(packed, "seed \(seed) last version not the pack's") { data in
            Self.set(&data, packed.pack.version + 1, at: entries + (count - 1) * size)
        }
        try assertDataDamageReported(packed, "seed \(seed) last count not the pack's") { data in
            Self.set(&data, packed.pack.totalCount + 1, at: entries + (count - 1) * size + 16)
        }
        try assertDataDamageReported(packed, "seed \(seed) first version moved") { data in
            Self.set(&data, Self.u64(data, at: entries) + 1, at: entries)
        }
        try assertDataDamageReported(packed, "seed \(seed) value length one entry short") { data in
            data.withUnsafeMutableBytes { $0.setU32(UInt32((count - 1) * size), table + PageHeader.auxOffset) }
        }
    }

    /// A byte changed (not resealed) in each page of the pack's region in turn, a few at a
    /// time: the reads at packed versions that meet it throw, none returns other bytes.
    func testChangedBytesInThePackAreReportedNeverRead() throws {
        let seed = testSeed("packed-hostile-bytes")
        var random = SeededGenerator(seed: seed)
        let packed = try makePacked(seed: seed)
        let pages = Array(1 ... packed.packPage).shuffled(using: &random).prefix(12)
        for page in pages {
            let offset = Int(page) * packed.pageSize + Int.random(in: PageHeader.size ..< packed.pageSize, using: &random)
            try assertDataDamageReported(packed, "seed \(seed) byte \(offset) of page \(page)", reseal: false) { $0[offset] ^= 0x21 }
        }
    }
}
