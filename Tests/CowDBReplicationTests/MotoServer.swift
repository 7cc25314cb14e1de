import CowDBReplication
import CowDBStorage
import Foundation
import XCTest

/// A `moto_server` (a local S3 API server from the `moto` package) on a free port: one per test
/// process, started by the first test that needs it and killed when the process exits. Each
/// test uses a bucket of its own (`freshBucket`).
final class MotoServer: @unchecked Sendable {  // `process` is set once, then only killed and waited on.
    /// The server's endpoint URL.
    let endpoint: String
    private let process: Process

    /// The process's server, started on first use.
    static func shared() async throws -> MotoServer {
        try await Starter.shared.server()
    }

    /// Starts the server once, whoever asks first.
    private actor Starter {
        static let shared = Starter()
        private var started: Result<MotoServer, any Error>?

        func server() async throws -> MotoServer {
            if let started { return try started.get() }
            let result: Result<MotoServer, any Error>
            do {
                result = .success(try await MotoServer.start())
            } catch {
                result = .failure(error)
            }
            started = result
            if case .success(let server) = result {
                MotoServer.runningPID.withLock { $0 = server.process.processIdentifier }
                atexit { MotoServer.runningPID.withLock { pid in if pid > 0 { kill(pid, SIGKILL) } } }
            }
            return try result.get()
        }
    }

    /// The shared server's process, killed at exit.
    private static let runningPID = Locked<Int32>(0)

    /// A new bucket with a unique name, created on the server.
    func freshBucket() async throws -> String {
        let bucket = "cowdb-\(UInt64.random(in: 0 ... UInt64.max >> 8))"
        try await client().createBucket(bucket)
        return bucket
    }

    /// Starts `moto_server -p PORT` and waits (up to 30 s) until it answers S3 requests.
    /// Throws XCTSkip, saying why, when moto_server is not installed.
    private static func start() async throws -> MotoServer {
        guard let executable = findExecutable("moto_server") else {
            throw unavailable("moto_server is not on PATH (pip install 'moto[server]')")
        }
        let port = try freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-H", "127.0.0.1", "-p", String(port)]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let server = MotoServer(endpoint: "http://127.0.0.1:\(port)", process: process)
        try await server.waitUntilAnswering()
        return server
    }

    private init(endpoint: String, process: Process) {
        self.endpoint = endpoint
        self.process = process
    }

    /// A client for the server with test credentials, built the way the tool builds one.
    func client() throws -> S3Client {
        let environment = [
            "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        ]
        return S3Client(configuration: try S3Configuration.fromEnvironment(environment))
    }

    /// Stops the server and waits for it to exit. SIGKILL: a `moto_server` started from a test
    /// process does not always end on SIGTERM.
    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// Polls until a request gets an S3 answer (a 404 for a bucket that does not exist).
    private func waitUntilAnswering() async throws {
        var client = try client()
        client.retries = 0
        let deadline = Date().addingTimeInterval(30)
        while true {
            do {
                _ = try await client.listObjects(bucket: "probe-\(UInt32.random(in: 0...UInt32.max))")
                return
            } catch is S3Error {
                return
            } catch {
                guard process.isRunning, Date() < deadline else {
                    stop()
                    throw Self.unavailable("moto_server did not answer on \(endpoint) within 30 s: \(error)")
                }
                try await Task.sleep(nanoseconds: 100_000_000)
            }
        }
    }

    /// A skip saying why the server is unavailable; a failure instead under `COWDB_REQUIRE_S3=1`
    /// (set by Tools/test.sh, which installs moto_server).
    private static func unavailable(_ reason: String) -> any Error {
        if ProcessInfo.processInfo.environment["COWDB_REQUIRE_S3"] == "1" { return MotoUnavailable(reason: reason) }
        return XCTSkip(reason)
    }

    /// The full path of `name` on PATH.
    private static func findExecutable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// A TCP port that was free a moment ago (bound to port 0, read back, released).
    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(fd, generic, length) == 0 && getsockname(fd, generic, &length) == 0
            }
        }
        guard bound else { throw POSIXError(.EADDRINUSE) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// moto_server could not start where it must (`COWDB_REQUIRE_S3=1`).
struct MotoUnavailable: Error, CustomStringConvertible {
    let reason: String
    var description: String { "the S3 test server is required (COWDB_REQUIRE_S3=1): \(reason)" }
}
