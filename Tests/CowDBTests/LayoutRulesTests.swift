import Foundation
import XCTest

/// The layout rules of issue 12, kept true: files of at most 400 lines and declarations with a
/// body (func, init, deinit, subscript, a computed var, a closure-bodied let) of at most 60,
/// unless a comment says why (`// long-file: <reason>` in a file's first 30 lines,
/// `// long-function: <reason>` directly above the declaration); and no lower layer importing
/// a higher one (the compiler refuses an undeclared dependency, but a module reachable through
/// another's dependencies can be imported). Scans every `.swift` file under Sources/, Tools/
/// and Tests/ and names every violation at once.
final class LayoutRulesTests: XCTestCase {
    /// The repository's root, found from this file's path.
    private var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Every file and declaration keeps the limits or says why, and no layer imports one above it.
    func testFilesAndFunctionsAreShortOrSayWhyAndLayersImportDownwards() throws {
        let files = LayoutScanner.swiftFiles(under: repositoryRoot)
        XCTAssertGreaterThan(files.count, 100, "the sources were not found under \(repositoryRoot.path)")
        var violations: [LayoutViolation] = []
        for path in files {
            let text = try String(contentsOf: repositoryRoot.appendingPathComponent(path), encoding: .utf8)
            violations += LayoutScanner.violations(inFile: path, text: text)
        }
        XCTAssertTrue(violations.isEmpty, "\(violations.count) layout violations:\n" + violations.map(\.description).joined(separator: "\n"))
    }

    /// Every OS call in Sources/ is in Sources/CowDBStorage/OS*.swift (issue 15: a port is those
    /// files): no other file imports a C platform module or swift-system, or calls the C library.
    func testOnlyTheOSFilesCallTheOperatingSystem() throws {
        let files = LayoutScanner.swiftFiles(under: repositoryRoot).filter { $0.hasPrefix("Sources/") }
        XCTAssertTrue(files.contains { $0.hasPrefix(LayoutScanner.osFilePrefix) }, "no OS files under \(repositoryRoot.path)")
        var violations: [LayoutViolation] = []
        for path in files {
            let text = try String(contentsOf: repositoryRoot.appendingPathComponent(path), encoding: .utf8)
            violations += LayoutScanner.osCallViolations(inFile: path, text: text)
        }
        XCTAssertTrue(violations.isEmpty, "\(violations.count) OS calls outside the OS files:\n" + violations.map(\.description).joined(separator: "\n"))
    }

    /// The OS rule names imports, platform tests, qualified names and C calls outside the OS
    /// files, with their lines, and passes members, declarations, comments, strings and the OS files.
    func testTheOSRuleFindsCallsOutsideTheOSFiles() {
        let bad = """
            #if canImport(Glibc)
            import Glibc
            #endif
            import SystemPackage
            let fd = Glibc.open(path, O_RDONLY)
            func wait() { usleep(1_000); _ = pthread_self() }
            """
        let found = LayoutScanner.osCallViolations(inFile: "Sources/CowDB/X.swift", text: bad)
        XCTAssertEqual(found.map(\.line), [1, 2, 4, 5, 6, 6])
        XCTAssertEqual(found.map(\.name), ["Glibc", "Glibc", "SystemPackage", "Glibc", "usleep", "pthread_self"])
        XCTAssertEqual(LayoutScanner.osCallViolations(inFile: "Sources/CowDBStorage/OS+X.swift", text: bad), [])
        XCTAssertEqual(LayoutScanner.osCallViolations(inFile: "Tools/cowdb/X.swift", text: bad), [])
        let fine = """
            // usleep(1) in a comment, import Glibc
            let text = "Glibc.open( fsync("
            func sleep(seconds: Int) { OS.sleep(microseconds: 1); storage.rename(a, b); file.sync() }
            """
        XCTAssertEqual(LayoutScanner.osCallViolations(inFile: "Sources/CowDB/X.swift", text: fine), [])
    }

    // MARK: - The scanner itself

    /// A function of `bodyLines` lines between its first line and its closing brace, with braces
    /// in strings, comments and an interpolation that the counter must not count.
    private func fixture(bodyLines: Int, above: String = "") -> String {
        var lines = ["struct Fixture {", above + "    func measured(x: Int) -> Int {"]
        lines += ["        let text = \"}}} \\(x + { 1 }()) {\" // } a brace in a comment {", "        /* { nested /* } */ { */"]
        lines += (0 ..< bodyLines - 3).map { "        _ = \($0) + x // {" }
        lines += ["        return x", "    }", "    var after: Int { 1 }", "}"]
        return lines.joined(separator: "\n") + "\n"
    }

    /// The counter finds a 61-line function, passes a 60-line one, and honours an exemption
    /// only when it gives a reason.
    func testTheCounterFindsA61LineFunction() {
        let long = fixture(bodyLines: 59) // 1 first line + 59 + the closing brace
        XCTAssertEqual(LayoutScanner.declarations(in: long).first { $0.name == "measured" },
                       LayoutScanner.Declaration(name: "measured", firstLine: 2, lastLine: 62))
        XCTAssertEqual(LayoutScanner.declarations(in: long).first { $0.name == "after" }?.length, 1)
        XCTAssertEqual(LayoutScanner.violations(inFile: "Fixture.swift", text: long).map(\.name), ["measured"])
        XCTAssertEqual(LayoutScanner.violations(inFile: "Fixture.swift", text: fixture(bodyLines: 58)), [])

        let exempt = fixture(bodyLines: 59, above: "    // long-function: one linear sequence that reads worse split\n")
        XCTAssertEqual(LayoutScanner.violations(inFile: "Fixture.swift", text: exempt), [])
        let reasonless = fixture(bodyLines: 59, above: "    // long-function:\n")
        XCTAssertEqual(LayoutScanner.violations(inFile: "Fixture.swift", text: reasonless).map(\.message),
                       ["`// long-function:` needs a reason"])
    }

    /// A file over 400 lines is named unless its first lines say why; a bodiless protocol
    /// requirement is no declaration with a body; an upward import is named with its line.
    func testLongFilesBodilessRequirementsAndUpwardImports() {
        let long = "protocol P {\n    func required()\n}\n" + String(repeating: "let x = 1\n", count: 400)
        XCTAssertEqual(LayoutScanner.violations(inFile: "F.swift", text: long).map(\.name), [LayoutScanner.wholeFile])
        XCTAssertEqual(LayoutScanner.declarations(in: long), [])
        XCTAssertEqual(LayoutScanner.violations(inFile: "F.swift", text: "// long-file: generated tables, one per line\n" + long), [])

        let upward = "import Foundation\n@testable import CowDBTree\nimport struct CowDB.Database\n"
        XCTAssertEqual(LayoutScanner.violations(inFile: "Sources/CowDBStorage/X.swift", text: upward).map(\.line), [2, 3])
        XCTAssertEqual(LayoutScanner.violations(inFile: "Sources/CowDBTree/X.swift", text: upward).map(\.line), [3])
        XCTAssertEqual(LayoutScanner.violations(inFile: "Sources/CowDB/X.swift", text: upward), [])
    }
}
