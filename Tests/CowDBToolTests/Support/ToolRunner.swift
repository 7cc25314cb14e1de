import Foundation
import XCTest

/// What a subprocess did: its exit status, and what it wrote.
struct ProcessResult {
    /// The exit status (a signal fails the test where the process is run).
    let status: Int32
    /// Standard output, as bytes.
    let output: Data
    /// Standard error, as text.
    let errors: String

    /// Standard output as text.
    var text: String { String(decoding: output, as: UTF8.self) }

    /// The lines of standard error.
    var errorLines: [String] { errors.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }
}

/// Runs the built `cowdb` binary and LMDB's tools as subprocesses.
enum ToolRunner {
    /// The `cowdb` binary built beside the test bundle.
    static let cowdbPath = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("cowdb").path

    /// Runs `cowdb` with `arguments`; standard input from `input` (bytes) or `inputFile`, else empty.
    static func cowdb(_ arguments: [String], input: Data? = nil, inputFile: String? = nil,
                      file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: cowdbPath), "cowdb binary not found at \(cowdbPath)", file: file, line: line)
        return try run(cowdbPath, arguments, input: input, inputFile: inputFile, file: file, line: line)
    }

    /// The path of an LMDB tool (`mdb_load`, `mdb_dump`, `mdb_stat`) on PATH; skips the test when missing.
    static func lmdbTool(_ name: String) throws -> String {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        for directory in directories + ["/usr/bin"] {
            let path = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw XCTSkip("\(name) is not installed (apt-get install lmdb-utils)")
    }

    /// Runs an LMDB tool and requires it to succeed.
    @discardableResult
    static func lmdb(_ name: String, _ arguments: [String], input: Data? = nil, inputFile: String? = nil,
                     file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
        let result = try run(try lmdbTool(name), arguments, input: input, inputFile: inputFile, file: file, line: line)
        XCTAssertEqual(result.status, 0, "\(name) \(arguments.joined(separator: " ")) failed: \(result.errors)", file: file, line: line)
        return result
    }

    /// The tests' environment, with LeakSanitizer told to ignore Foundation's own leak in
    /// `Process.run` (`Tests/lsan-suppressions.txt`): under `--sanitize=address` it would turn
    /// a tool's exit status into 1. Without a sanitizer, `LSAN_OPTIONS` is ignored.
    static let environment: [String: String] = {
        var environment = ProcessInfo.processInfo.environment
        let suppressions = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("lsan-suppressions.txt").path
        let options = environment["LSAN_OPTIONS"].map { $0 + ":" } ?? ""
        environment["LSAN_OPTIONS"] = options + "print_suppressions=0:suppressions=" + suppressions
        return environment
    }()

    /// Runs `executable`, capturing standard output and error in temporary files (no pipe can
    /// fill up and stall the child). A child killed by a signal (a crash, a trap) fails the test.
    static func run(_ executable: String, _ arguments: [String], input: Data? = nil, inputFile: String? = nil,
                    file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("cowdb-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outPath = scratch.appendingPathComponent("out").path, errPath = scratch.appendingPathComponent("err").path
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        var inPath = inputFile ?? "/dev/null"
        if let input {
            inPath = scratch.appendingPathComponent("in").path
            try input.write(to: URL(fileURLWithPath: inPath))
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        process.standardInput = FileHandle(forReadingAtPath: inPath)
        let outHandle = FileHandle(forWritingAtPath: outPath)!, errHandle = FileHandle(forWritingAtPath: errPath)!
        process.standardOutput = outHandle
        process.standardError = errHandle
        try process.run()
        process.waitUntilExit()
        try outHandle.close()
        try errHandle.close()
        let result = ProcessResult(status: process.terminationStatus,
                                   output: try Data(contentsOf: URL(fileURLWithPath: outPath)),
                                   errors: String(decoding: try Data(contentsOf: URL(fileURLWithPath: errPath)), as: UTF8.self))
        XCTAssertEqual(process.terminationReason, .exit, "\(executable) \(arguments) died of signal \(process.terminationStatus): \(result.errors)",
                       file: file, line: line)
        return result
    }
}

// MARK: Assertions

/// Asserts that a command succeeded with nothing on standard error.
func assertSuccess(_ result: ProcessResult, _ what: String = "", allowErrors: Bool = false,
                   file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(result.status, 0, "\(what) failed: \(result.errors)", file: file, line: line)
    if !allowErrors { XCTAssertEqual(result.errors, "", "\(what) wrote to standard error", file: file, line: line) }
}

/// Asserts that a command failed with `status` and exactly one `cowdb: error:` line containing
/// every string in `containing`, and nothing that looks like a crash.
func assertFailure(_ result: ProcessResult, status: Int32 = 1, containing: [String],
                   file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(result.status, status, "exit status; stderr: \(result.errors)", file: file, line: line)
    XCTAssertEqual(result.errorLines.count, 1, "expected one line on stderr, got: \(result.errors)", file: file, line: line)
    XCTAssertTrue(result.errors.hasPrefix("cowdb: error: "), "stderr: \(result.errors)", file: file, line: line)
    for needle in containing {
        XCTAssertTrue(result.errors.contains(needle), "stderr lacks \(needle.debugDescription): \(result.errors)", file: file, line: line)
    }
    for crash in ["Fatal error", "Stack dump", "backtrace", "Illegal instruction"] {
        XCTAssertFalse(result.errors.contains(crash), "looks like a crash: \(result.errors)", file: file, line: line)
    }
}
