import Foundation
import XCTest

/// The `cowdb` tool run as a child process against the shared moto server (the AWS_* variables
/// set for it), its output captured in files.
struct CowDBProcess {
    /// The built `cowdb`, beside the test bundle.
    static let path = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("cowdb").path

    /// The child's environment: this process's, with the server and test credentials.
    static func environment(endpoint: String) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["AWS_ENDPOINT_URL"] = endpoint
        environment["AWS_ACCESS_KEY_ID"] = "testing"
        environment["AWS_SECRET_ACCESS_KEY"] = "testing"
        environment.removeValue(forKey: "AWS_REGION")
        return environment
    }

    let process = Process()
    let output: String
    let errors: String

    /// Starts `cowdb arguments`.
    init(_ arguments: [String], endpoint: String) throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("cowdb-s3-run-\(UUID().uuidString)")
        output = scratch.path + ".out"
        errors = scratch.path + ".err"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        _ = FileManager.default.createFile(atPath: errors, contents: nil)
        process.executableURL = URL(fileURLWithPath: Self.path)
        process.arguments = arguments
        process.environment = Self.environment(endpoint: endpoint)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle(forWritingAtPath: output)
        process.standardError = FileHandle(forWritingAtPath: errors)
        try process.run()
    }

    /// Runs `cowdb arguments` to its end: its exit status, standard output and error.
    static func run(_ arguments: [String], endpoint: String) throws -> (status: Int32, output: String, errors: String) {
        let child = try CowDBProcess(arguments, endpoint: endpoint)
        child.waitForExit()
        return (child.process.terminationStatus, child.outputText, child.errorText)
    }

    /// Waits for the child to end (polling: `Process.waitUntilExit` spins a run loop).
    func waitForExit() {
        while process.isRunning { usleep(5_000) }
    }

    /// Kills the child with `signal` and waits for it.
    func kill(_ signal: Int32) {
        Foundation.kill(process.processIdentifier, signal)
        waitForExit()
    }

    /// What it wrote to standard output and error so far.
    var outputText: String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }
    var errorText: String { (try? String(contentsOfFile: errors, encoding: .utf8)) ?? "" }
}
