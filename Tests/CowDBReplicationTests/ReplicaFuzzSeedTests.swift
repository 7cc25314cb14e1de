@testable import CowDBReplication
import CowDBTestSupport
import XCTest

/// The replica fuzzer's seeds (Tools/cowdb-fuzz/seeds-replica), replayed through its code
/// (ReplicaFuzzCase): each image restores whole; each with one byte flipped anywhere (seeded)
/// is refused, since every byte of a shipped segment is covered by a check.
final class ReplicaFuzzSeedTests: XCTestCase {
    private let seeds = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Tools/cowdb-fuzz/seeds-replica").standardizedFileURL

    func testSeedsRestoreWholeAndEveryFlippedByteIsRefused() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: seeds.path).sorted()
        XCTAssertGreaterThanOrEqual(names.count, 7)
        let dir = TemporaryDirectory()
        var generator = SeededGenerator(seed: testSeed("ReplicaFuzzSeedTests.flips"))
        for name in names {
            let input = try [UInt8](Data(contentsOf: seeds.appendingPathComponent(name)))
            input.withUnsafeBytes { ReplicaFuzzCase.run($0, scratch: dir.path("run")) }
            guard input[0] & 1 == 0 else { continue } // a manifest: decoded above
            let split = Int(input[0] >> 1 & 7)
            XCTAssertNoThrow(try ReplicaFuzzCase.restore(Array(input.dropFirst()), split: split, into: dir.path("\(name)-whole")), name)
            for flip in 0 ..< 40 {
                var image = Array(input.dropFirst())
                let at = Int(generator.next() % UInt64(image.count))
                image[at] ^= UInt8(1 << (generator.next() % 8))
                XCTAssertThrowsError(try ReplicaFuzzCase.restore(image, split: split, into: dir.path("\(name)-\(flip)")),
                                     "\(name): a flip at byte \(at) restored")
            }
        }
    }
}
