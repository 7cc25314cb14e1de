// How the operation fuzzer turns its picks (small numbers from the input) into keys, values,
// keyspace and tag names and versions, and how it compares an operation's error with the one
// the model expects.

import Foundation
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// An error a test throws inside a write transaction to discard it.
struct OpFuzzAbort: Error {}

extension OpFuzzRunner {
    /// Keyspace names: the default keyspace, three names, the longest name, an invalid one.
    static let spaceNames = ["", "alpha", "beta", "γάμμα", String(repeating: "n", count: 255), "bad\nname"]
    /// Tag names: four valid ones, the longest, an invalid one.
    static let tagNames = ["t0", "t1", "release/1.0", "ü", String(repeating: "t", count: 255), ""]

    /// The keyspace a pick names ("" is the default keyspace).
    func space(_ pick: UInt8) -> String { Self.spaceNames[Int(pick) % Self.spaceNames.count] }

    /// The key a pick names; `forWrite` allows the invalid ones (empty, one byte too long).
    func key(_ pick: OpFuzzProgram.KeyPick, forWrite: Bool = false) -> [UInt8] {
        let base = Array("k\(pick.index % 700)".utf8)
        switch pick.shape % 32 {
        case 0 where forWrite: return []
        case 1 where forWrite: return [UInt8](repeating: 0x6B, count: database!.maxKeySize + 1)
        case 2: return base + [UInt8](repeating: 0x70, count: database!.maxKeySize - base.count)
        case 3 ... 6: return base + [UInt8](repeating: 0x70, count: Int(pick.shape) * 3)
        default: return base
        }
    }

    /// The value a pick names: mostly small, sometimes a few pages (an overflow run), rarely
    /// hundreds of KiB; `bulk` keeps it under a page.
    func value(_ pick: OpFuzzProgram.ValuePick, bulk: Bool = false, salt: Int = 0) -> [UInt8] {
        let seed = Int(pick.seed)
        let size: Int
        switch Int(pick.size) % (bulk ? 11 : 16) {
        case 0: size = 0
        case 8 ... 10: size = 100 + seed * 7
        case 11 ... 12: size = program.pageSize / 4 + seed * 40
        case 13: size = 3 * program.pageSize + seed * 100
        case 14: size = 70_000 + seed * 900
        default: size = seed % 120
        }
        var random = SeededGenerator(seed: UInt64(size) << 20 ^ UInt64(seed) << 8 ^ UInt64(truncatingIfNeeded: salt))
        return random.bytes(size)
    }

    /// The version a pick names: one the model holds, or (one pick in several) one the
    /// database does not have (dropped by compaction, or not yet committed).
    func version(_ pick: UInt8) -> UInt64 {
        let known = model.versions.keys.sorted()
        let index = Int(pick) % (known.count + 1)
        if index < known.count { return known[index] }
        if let dropped = (0 ... model.latest).first(where: { model.versions[$0] == nil }), pick & 1 == 0 { return dropped }
        return model.latest + 1 + UInt64(pick % 3)
    }

    /// The keyspace of `name` in `txn` ("" is the default).
    func keyspace(_ txn: ReadTransaction, _ name: String) throws -> Keyspace {
        try name.isEmpty ? txn.defaultKeyspace : txn.keyspace(name)
    }

    /// The error a key should get from a put (nil: none).
    func keyError(_ key: [UInt8]) -> CowDBError? {
        if key.isEmpty { return .emptyKey }
        if key.count > database!.maxKeySize { return .keyTooLarge(size: key.count, maximum: database!.maxKeySize) }
        return nil
    }

    /// Runs `body` expecting it to throw one of `expected` (none when empty). A fault from the
    /// disk is rethrown (the caller survives it); a wrong outcome is recorded as a problem.
    /// Returns whether `body` ran to its end.
    @discardableResult
    func expect(_ expected: [CowDBError], _ what: @autoclosure () -> String, _ body: () throws -> Void) throws -> Bool {
        do {
            try body()
        } catch let error as OpFuzzAbort {
            throw error
        } catch {
            if isFault(error) { throw error }
            if let error = error as? CowDBError, expected.contains(error) { return false }
            problems.append("step \(step) \(what()): threw \(error), expected \(expected.isEmpty ? "success" : "\(expected)")")
            return false
        }
        if !expected.isEmpty { problems.append("step \(step) \(what()): succeeded, expected \(expected)") }
        return expected.isEmpty
    }

    /// Records a problem unless `got` equals `expected`.
    func compare<T: Equatable>(_ got: T, _ expected: T, _ what: @autoclosure () -> String) {
        if got != expected { problems.append("step \(step) \(what()): got \(got), expected \(expected)") }
    }

    /// Records a problem unless the entries are the expected ones (compared whole, reported short).
    func compare(_ got: [(key: [UInt8], value: [UInt8])], _ expected: [(key: [UInt8], value: [UInt8])], _ what: @autoclosure () -> String) {
        let same = got.count == expected.count && zip(got, expected).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        if !same {
            let firstDifference = zip(got, expected).enumerated().first { $0.element.0.key != $0.element.1.key || $0.element.0.value != $0.element.1.value }?.offset ?? min(got.count, expected.count)
            problems.append("step \(step) \(what()): \(got.count) entries instead of \(expected.count), first difference at \(firstDifference)")
        }
    }
}
