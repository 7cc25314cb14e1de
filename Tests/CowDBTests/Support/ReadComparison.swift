import CowDB
import CowDBTestSupport
import Foundation
import XCTest

// For the hostile-file tests: the same read run on an intact database and on a damaged copy
// of it must either give the same answer or report the damage. Answers are compared as
// digests (FNV-1a over every byte returned, with lengths), computed once on the intact side.

/// A 64-bit FNV-1a digest of answers; stable from run to run.
struct Digest {
    private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    /// Adds a length-prefixed byte string.
    mutating func add(_ bytes: some Sequence<UInt8>) {
        var count: UInt64 = 0
        for byte in bytes {
            mix(byte)
            count += 1
        }
        add(count)
    }

    /// Adds the bytes of a raw buffer.
    mutating func add(_ bytes: UnsafeRawBufferPointer) { add(bytes.lazy.map { $0 }) }

    /// Adds a number.
    mutating func add(_ number: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { mix(UInt8(truncatingIfNeeded: number >> UInt64(shift))) }
    }

    /// Adds a string (its UTF-8 bytes).
    mutating func add(_ text: String) { add(Array(text.utf8)) }

    /// Mixes one byte in.
    private mutating func mix(_ byte: UInt8) {
        value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
    }
}

/// Runs reads on a damaged copy and compares every successful answer with the intact database's.
final class ReadComparison {
    let intact: Database
    private var expected: [String: UInt64] = [:]
    /// What the current copy is (for messages): its damage and the seed.
    var context = ""
    /// Reads that succeeded with the intact answer, and reads that reported damage.
    private(set) var matched = 0, reported = 0
    /// Reads on the current copy that reported damage.
    private(set) var reportedOnCopy = 0

    init(intact: Database) { self.intact = intact }

    /// Starts a new damaged copy.
    func beginCopy(_ context: String) {
        self.context = context
        reportedOnCopy = 0
    }

    /// Records that opening the current copy reported damage.
    func openReportedDamage() {
        reported += 1
        reportedOnCopy += 1
    }

    /// Runs `body` on `damaged`: its answer must equal the intact one (computed by `body` on the
    /// intact database, once per label), or it must throw an error that reports damage.
    func compare(_ label: String, _ damaged: Database, file: StaticString = #filePath, line: UInt = #line,
                 _ body: (Database) throws -> UInt64) {
        let answer: UInt64
        do { answer = try body(damaged) } catch {
            if ReadComparison.reportsDamage(error, label: label, in: damaged) {
                reported += 1
                reportedOnCopy += 1
            } else {
                XCTFail("\(context): \(label) threw \(error), which does not report damage", file: file, line: line)
            }
            return
        }
        guard let wanted = intactAnswer(label, body, file: file, line: line) else { return }
        if answer == wanted { matched += 1 } else {
            XCTFail("\(context): \(label) returned something the intact database does not hold", file: file, line: line)
        }
    }

    /// The intact database's answer to `label` (computed once).
    private func intactAnswer(_ label: String, _ body: (Database) throws -> UInt64, file: StaticString, line: UInt) -> UInt64? {
        if let known = expected[label] { return known }
        do {
            let answer = try body(intact)
            expected[label] = answer
            return answer
        } catch {
            XCTFail("the intact database failed \(label): \(error)", file: file, line: line)
            return nil
        }
    }

    /// Whether `error` reports damage: `corrupt` always; `versionNotFound` for a version the
    /// damaged copy does not list (recovery dropped it as a torn tail); `notADatabase` at open.
    static func reportsDamage(_ error: any Error, label: String, in damaged: Database?) -> Bool {
        switch error as? CowDBError {
        case .corrupt?, .notADatabase?: return true
        case let .versionNotFound(version)?:
            guard let damaged else { return false }
            return (try? damaged.versions().contains { $0.version == version }) != true
        default: return false
        }
    }
}
