// The commits of the multi-threaded writer process (cowdb-test-helper `write-threads`), shared by
// the helper and the test that kills it: each commit puts one key of its own, written once, and
// once its `write` returns, the helper logs it as a line on its standard output.

/// One single-pair commit of a writer thread in a round (one run of the helper process).
public struct LoggedCommit: Equatable, Sendable {
    /// The run of the helper process (each round appends to the same database).
    public var round: Int
    /// The writer thread.
    public var thread: Int
    /// The thread's commit number in the round, from 0.
    public var sequence: Int
    /// The version the commit made (0 while not committed).
    public var version: UInt64

    /// A commit of `thread` in `round`.
    public init(round: Int, thread: Int, sequence: Int, version: UInt64 = 0) {
        self.round = round
        self.thread = thread
        self.sequence = sequence
        self.version = version
    }

    /// The key it puts: "r<round>-t<thread>-<sequence>".
    public var key: [UInt8] { Array("r\(round)-t\(thread)-\(sequence)".utf8) }

    /// The value it puts: its name, then bytes drawn from it; one value in eight spans overflow
    /// pages (over 4 KiB).
    public var value: [UInt8] {
        var random = SeededGenerator(seed: UInt64(round) << 48 ^ UInt64(thread) << 40 ^ UInt64(sequence))
        let size = Int.random(in: 0 ..< 8, using: &random) == 0 ? Int.random(in: 4_100 ... 9_000, using: &random)
            : Int.random(in: 8 ... 120, using: &random)
        return key + Array(":".utf8) + random.bytes(size)
    }

    /// The commit whose key is `key`, its version unknown (nil: not such a key).
    public init?(key: [UInt8]) {
        let fields = String(decoding: key, as: UTF8.self).split(separator: "-")
        guard fields.count == 3, fields[0].first == "r", fields[1].first == "t", let round = Int(fields[0].dropFirst()),
              let thread = Int(fields[1].dropFirst()), let sequence = Int(fields[2]) else { return nil }
        self.init(round: round, thread: thread, sequence: sequence)
    }

    /// The line the helper logs: "commit <round> <thread> <sequence> <version>".
    public var line: String { "commit \(round) \(thread) \(sequence) \(version)" }

    /// The commit a logged line names (nil: not such a line).
    public init?(line: Substring) {
        let fields = line.split(separator: " ")
        guard fields.count == 5, fields[0] == "commit", let round = Int(fields[1]), let thread = Int(fields[2]),
              let sequence = Int(fields[3]), let version = UInt64(fields[4]) else { return nil }
        self.init(round: round, thread: thread, sequence: sequence, version: version)
    }
}
