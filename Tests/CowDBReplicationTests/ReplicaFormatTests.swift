@testable import CowDBReplication
import XCTest

/// Golden tests of the bucket layout docs/REPLICATION.md draws: locations, object keys and the
/// manifest's JSON, and what a reader refuses.
final class ReplicaFormatTests: XCTestCase {
    func testLocationsAndKeys() throws {
        let location = try ReplicaLocation("s3://backups/apps//one/")
        XCTAssertEqual(location.bucket, "backups")
        XCTAssertEqual(location.prefix, "apps/one")
        XCTAssertEqual(location.description, "s3://backups/apps/one")
        XCTAssertEqual(location.manifestKey, "apps/one/manifest.json")
        XCTAssertEqual(location.tagsKey, "apps/one/tags")
        XCTAssertEqual(location.segmentKey(2, 0 ..< 0x3000), "apps/one/generations/0000000000000002/segments/0000000000000000-0000000000003000")
        XCTAssertEqual(try ReplicaLocation("s3://backups").manifestKey, "manifest.json")
        XCTAssertEqual(location.segmentRange(ofKey: "apps/one/generations/0000000000000002/segments/0000000000001000-00000000000a3000", generation: 2), 0x1000 ..< 0xa3000)
        for bad in ["apps/one/generations/0000000000000002/segments/0000000000003000-0000000000003000", // empty
                    "apps/one/generations/0000000000000002/segments/0000000000003000-0000000000001000", // backwards
                    "apps/one/generations/0000000000000002/segments/3000-4000", // not 16 digits
                    "apps/one/generations/0000000000000002/segments/0000000000000000-ffffffffffffffff", // absurd
                    "apps/one/generations/0000000000000002/segments/000000000000300g-0000000000004000",
                    "apps/one/generations/0000000000000003/segments/0000000000000000-0000000000004000"] { // another generation
            XCTAssertNil(location.segmentRange(ofKey: bad, generation: 2), bad)
        }
        for bad in ["backups/x", "s3://", "s3://ab/x", "s3://Upper/x", "s3://under_score"] {
            XCTAssertThrowsError(try ReplicaLocation(bad), bad)
        }
    }

    func testManifestJSON() throws {
        var manifest = ReplicaManifest(database: "5B0E4C8A-0D1C-4F67-9E55-1F3A3B2C4D5E", pageSize: 4096, generations: [])
        manifest.update(.init(generation: 1, end: 0x5000, firstVersion: 1, firstTimestamp: 1_700_000_000_000_000_000,
                              version: 4, timestamp: 1_700_000_000_000_000_900))
        let golden = #"{"database":"5B0E4C8A-0D1C-4F67-9E55-1F3A3B2C4D5E","format":1,"generations":[{"end":20480,"firstTimestamp":1700000000000000000,"firstVersion":1,"generation":1,"timestamp":1700000000000000900,"version":4}],"pageSize":4096}"#
        XCTAssertEqual(String(decoding: manifest.encoded(), as: UTF8.self), golden)
        XCTAssertEqual(try ReplicaManifest.decode(Array(golden.utf8), key: "m"), manifest)

        let refused = [
            golden.replacingOccurrences(of: #""format":1"#, with: #""format":2"#),
            golden.replacingOccurrences(of: "4096", with: "4000"),
            golden.replacingOccurrences(of: "20480", with: "20481"), // not a page boundary
            golden.replacingOccurrences(of: "20480", with: "4096"), // no commit after the header
            golden.replacingOccurrences(of: #""firstVersion":1"#, with: #""firstVersion":5"#),
            golden.replacingOccurrences(of: "1700000000000000900", with: "-1"),
            String(golden.dropLast()),
        ]
        for text in refused {
            XCTAssertThrowsError(try ReplicaManifest.decode(Array(text.utf8), key: "p/manifest.json"), text) { error in
                guard case .damaged(let object, _) = error as? ReplicaError else { return XCTFail("\(error)") }
                XCTAssertEqual(object, "p/manifest.json")
            }
        }
    }
}
