import CowDB
import Foundation
import XCTest

/// Replays the load fuzzer's seeds (`Tools/cowdb-fuzz/seeds-load`) and kept findings
/// (`Fixtures/loadfuzz`) through the `cowdb load` process, with the options each input's flags
/// byte selects (the layout is drawn in `Tools/cowdb-fuzz/LoadFuzzMain.swift`). The process must
/// exit (no signal): 0 with a database that checks clean, or 1 with one error line naming the
/// input's line (a seed must load). Seeds named `bad-…` are malformed on purpose and must be refused.
final class LoadFuzzReplayTests: XCTestCase {
    /// The input files of a folder of the repository (not its README).
    private func inputs(_ relativePath: String) throws -> [URL] {
        let root = fixturesDirectory.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return try FileManager.default.contentsOfDirectory(at: root.appendingPathComponent(relativePath), includingPropertiesForKeys: nil)
            .filter { $0.pathExtension != "md" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    /// The `cowdb load` arguments a flags byte stands for.
    static func arguments(flags: UInt8) -> [String] {
        var arguments: [String] = []
        if flags & 1 != 0 { arguments.append("-T") }
        if flags & 2 != 0 { arguments.append("-N") }
        if flags & 4 != 0 { arguments += ["-s", "fuzz"] }
        let batch = Int(flags >> 3 & 7)
        if batch != 0 { arguments += ["--batch", "\(1 << (batch - 1))"] }
        return arguments
    }

    func testSeedsAndFindingsLoadOrFailCleanly() throws {
        let files = try inputs("Tools/cowdb-fuzz/seeds-load") + inputs("Tests/CowDBToolTests/Fixtures/loadfuzz")
        XCTAssertGreaterThanOrEqual(files.count, 10, "the load corpus is missing")
        let directory = TemporaryDirectory()
        for file in files {
            let bytes = try [UInt8](Data(contentsOf: file))
            let name = file.lastPathComponent
            let text = directory.path(name + ".txt"), database = directory.path(name)
            try Data(bytes.dropFirst()).write(to: URL(fileURLWithPath: text))
            let result = try ToolRunner.cowdb(["load", database, "-f", text, "--quiet"] + Self.arguments(flags: bytes.first ?? 0))
            if name.hasPrefix("bad-") {
                assertFailure(result, containing: ["line"])
                continue
            }
            // A seed is well formed and must load; a finding may be refused, with one error line.
            let isSeed = file.path.contains("seeds-load")
            XCTAssertTrue(isSeed ? result.status == 0 : [0, 1].contains(result.status), "\(name): status \(result.status): \(result.errors)")
            guard result.status == 0 else { continue }
            let loaded = try openDatabase(path: database, options: DatabaseOptions())
            XCTAssertTrue(try loaded.checkReport(allVersions: true).isClean, name)
            XCTAssertGreaterThan(loaded.latestVersion, 0, "\(name): nothing loaded")
            try loaded.close()
        }
    }
}
