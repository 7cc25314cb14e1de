// cowdb-bench: CowDB next to LMDB and SQLite on the same data, on the same disk, in the same run.
//   swift run -c release cowdb-bench [--scale N] [--engines cowdb,lmdb,sqlite] [--order lmdb,cowdb,sqlite] [--json FILE]
import ArgumentParser
import CowDB
import Foundation

/// The sizes of a run, shared by the parent and its children.
struct PlanOptions: ParsableArguments {
    @Option(help: "N: pairs in the bulk load and random gets per read workload.")
    var scale = 1_000_000

    @Option(help: "Seed of the keys, values and random picks.")
    var seed: UInt64 = 1

    @Option(help: "Single-pair durable commits.")
    var individualWrites = 10000

    @Option(help: "Single-pair durable commits per thread of concurrent_writes (\(ConcurrentWrites.threads) threads; default max(250, 1,000 × N / 1,000,000)).")
    var concurrentWrites: Int?

    @Option(help: "Durable commits of --batch-size pairs.")
    var batchWrites = 100

    @Option(help: "Rounds the durable commits are timed in: each row reports all its commits over their total time, and the spread of the rounds.")
    var writeRounds = 5

    @Option(help: "Pairs per batch commit.")
    var batchSize = 1000

    @Option(help: "Commits in the database that open_with_history opens (default: 100,000 × N / 1,000,000, at least 100).")
    var historyCommits: Int?

    @Option(help: "Runs of each warm read workload (warm gets, range reads, 2-thread gets, old-version gets); the fastest is reported, which filters out other work on a shared machine, with the spread of all.")
    var readRepeats = 3

    @Flag(help: .hidden)
    var misreadOldVersion = false

    @Flag(help: .hidden)
    var skipConcurrentWrite = false

    /// The plan these options describe.
    var plan: Plan {
        Plan(scale: scale, seed: seed, individualWrites: individualWrites,
             concurrentWritesPerThread: concurrentWrites ?? max(250, scale / 1000), batchWrites: batchWrites, writeRounds: writeRounds,
             batchSize: batchSize, historyCommits: historyCommits ?? max(100, Int(Double(scale) * 0.1)), readRepeats: readRepeats,
             misreadOldVersion: misreadOldVersion, skipConcurrentWrite: skipConcurrentWrite)
    }

    func validate() throws {
        guard scale >= 2 else { throw ValidationError("--scale must be at least 2") }
        guard individualWrites >= 0, (concurrentWrites ?? 0) >= 0, batchWrites >= 0, batchSize >= 1 else { throw ValidationError("commit counts must not be negative") }
        guard readRepeats >= 1 else { throw ValidationError("--read-repeats must be at least 1") }
        guard writeRounds >= 1 else { throw ValidationError("--write-rounds must be at least 1") }
    }

    /// The flags that give a child `plan`.
    static func arguments(for plan: Plan) -> [String] {
        ["--scale", "\(plan.scale)", "--seed", "\(plan.seed)", "--individual-writes", "\(plan.individualWrites)",
         "--concurrent-writes", "\(plan.concurrentWritesPerThread)",
         "--batch-writes", "\(plan.batchWrites)", "--batch-size", "\(plan.batchSize)", "--history-commits", "\(plan.historyCommits)",
         "--read-repeats", "\(plan.readRepeats)", "--write-rounds", "\(plan.writeRounds)"] + (plan.misreadOldVersion ? ["--misread-old-version"] : [])
            + (plan.skipConcurrentWrite ? ["--skip-concurrent-write"] : [])
    }
}

/// The benchmark tool: runs the chosen workloads on the chosen engines and prints (and
/// optionally writes) the results; its hidden `child` subcommand is one engine's phase.
@main
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cowdb-bench",
        abstract: "Benchmark CowDB against LMDB and SQLite on the same data in the same run.",
        discussion: """
            Each engine works in a fresh directory under --dir; each phase (load, writes, reads, removals, \
            history) of each engine runs in a child process, whose peak anonymous memory (RssAnon, \
            sampled every 2 ms) is reported per workload. The table's last column is CowDB/LMDB, \
            oriented so that > 1 means CowDB is better: throughput over throughput, and for sizes \
            and times LMDB's figure over CowDB's.

            Examples:
              swift run -c release cowdb-bench
              swift run -c release cowdb-bench --scale 100000 --engines cowdb,lmdb --json bench.json
              swift run -c release cowdb-bench --workloads bulk_load,random_reads_warm
            """,
        subcommands: [ChildCommand.self])

    /// The sizes of the run.
    @OptionGroup var sizes: PlanOptions

    @Option(help: "Engines, comma-separated: cowdb, lmdb, sqlite (default: all three).")
    var engines: String?

    @Option(help: "Workloads, comma-separated (default: all): \(Workload.allCases.map(\.rawValue).joined(separator: ", ")).")
    var workloads: String?

    @Option(help: "Directory to work in (a fresh subdirectory is made and removed): default the temporary directory.")
    var dir: String?

    @Option(help: "Write every figure as JSON to this file.")
    var json: String?

    @Flag(help: "Keep the databases afterwards.")
    var keep = false

    @Option(help: "Run the engines in this order, comma-separated (default: --engines rotated by one place each run, counted in --dir).")
    var order: String?

    func run() throws {
        let workloadList = try workloads.map { try parseList($0, as: Workload.self, "workload") } ?? Workload.allCases
        let plan = sizes.plan
        let base = dir ?? NSTemporaryDirectory()
        let root = (base as NSString).appendingPathComponent("cowdb-bench-\(getpid())")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { if !keep { try? FileManager.default.removeItem(atPath: root) } }
        let (engineList, orderNote) = try engineOrder(base: base)

        let machine = Machine.describe(directory: root)
        print("cowdb-bench: N = \(plan.scale), random \(Dataset.keySize)-byte keys and \(Dataset.valueSize)-byte values (seed \(plan.seed))")
        print("machine: \(machine)")
        print("engine order: \(engineList.map(\.rawValue).joined(separator: ", ")) (\(orderNote))")
        print("directory: \(root)")

        var results: [Measurement] = []
        for (position, engine) in engineList.enumerated() {
            if position > 0 { Disk.flushAndDropCache(under: root) } // nothing of the engine before stays cached
            results += try runPhases(of: engine, workloadList, plan: plan, root: root)
        }

        let report = Report(scale: plan.scale, order: engineList.map(\.rawValue), machine: machine,
                            results: results.filter { workloadList.contains($0.workload) })
        print()
        print(report.table(engines: EngineKind.allCases.filter(engineList.contains)))
        print("CowDB/LMDB > 1 means CowDB is better (for sizes, times and memory: LMDB's figure over CowDB's).")
        let targets = report.targets()
        if !targets.isEmpty { print("\nTargets:\n" + targets) }
        if let json {
            try report.json().write(to: URL(fileURLWithPath: json))
            print("wrote \(json)")
        }
        let mismatches = report.checksumMismatches()
        if !mismatches.isEmpty {
            FileHandle.standardError.write(Data(("cowdb-bench: engines read different bytes:\n" + mismatches.joined(separator: "\n") + "\n").utf8))
            throw ExitCode.failure
        }
    }

    /// Runs every phase `workloads` need on `engine`, in `root/<engine>` (and directories of
    /// their own for the phases that have them); returns the measurements.
    private func runPhases(of engine: EngineKind, _ workloads: [Workload], plan: Plan, root: String) throws -> [Measurement] {
        var results: [Measurement] = []
        let directory = root + "/" + engine.rawValue
        for phase in phases(for: engine, workloads) {
            let target = phase.ownDirectory ? root + "/" + engine.rawValue + "-" + phase.rawValue : directory
            if phase == .oldVersion {
                // The database the writes left, on disk before the phase starts: no write-back
                // of the copy may overlap this phase or the next.
                try FileManager.default.copyItem(atPath: directory, toPath: target)
                sync()
            } else {
                try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            }
            FileHandle.standardError.write(Data("\(engine.title): \(phase.rawValue)\n".utf8))
            results += try ChildProcess.run(engine, phase, directory: target, plan: plan, scratch: root)
            if phase.ownDirectory, !keep { try? FileManager.default.removeItem(atPath: target) }
        }
        if !keep { try? FileManager.default.removeItem(atPath: directory) }
        return results
    }

    /// The engines in the order they run, and why: `--order` as given, or `--engines` rotated
    /// by the run count kept in `base` (so that no engine always runs first, or always right
    /// after another one's heavy writes).
    private func engineOrder(base: String) throws -> ([EngineKind], String) {
        let chosen = try parseList(engines ?? "cowdb,lmdb,sqlite", as: EngineKind.self, "engine")
        if let order {
            let fixed = try parseList(order, as: EngineKind.self, "engine")
            guard !fixed.isEmpty, Set(fixed).count == fixed.count, engines == nil || Set(fixed) == Set(chosen) else {
                throw ValidationError("--order must name each engine once (and the same engines as --engines)")
            }
            return (fixed, "fixed by --order")
        }
        let counter = (base as NSString).appendingPathComponent("cowdb-bench.runs")
        let run = (try? String(contentsOfFile: counter, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
        try? "\(run + 1)\n".write(toFile: counter, atomically: true, encoding: .utf8)
        let shift = chosen.isEmpty ? 0 : run % chosen.count
        return (Array(chosen[shift...] + chosen[..<shift]), "run \(run + 1) counted in \(counter), rotated by \(shift); --order fixes it")
    }

    /// The phases `engine` must run for `workloads`: every phase on the engine's directory
    /// needs the load first; reads at an old version work on a copy of what the writes left,
    /// and then every engine's reads follow the writes, so that all read the same tree.
    private func phases(for engine: EngineKind, _ workloads: [Workload]) -> [Phase] {
        var wanted = Set(workloads.filter { engine == .cowdb || !$0.cowdbOnly }.map(\.phase))
        if wanted.contains(.oldVersion) { wanted.insert(.write) }
        if workloads.contains(.oldVersionReads), wanted.contains(.read) { wanted.insert(.write) }
        if !wanted.isDisjoint(with: [.write, .read, .remove]) { wanted.insert(.load) }
        return Phase.allCases.filter { wanted.contains($0) }
    }

    /// Parses a comma-separated list of names.
    private func parseList<T: RawRepresentable>(_ text: String, as _: T.Type, _ what: String) throws -> [T] where T.RawValue == String {
        try text.split(separator: ",").map { name in
            guard let value = T(rawValue: name.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("unknown \(what) \(name)") }
            return value
        }
    }
}

/// One engine's phase, in a child process (started by the benchmark, hidden from help).
struct ChildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "child", shouldDisplay: false)

    /// The sizes of the run (the parent passes its own).
    @OptionGroup var sizes: PlanOptions

    /// The engine: cowdb, lmdb or sqlite.
    @Option var engine: String
    /// The phase: load, write, read, remove or history.
    @Option var phase: String
    /// The engine's directory.
    @Option var directory: String
    /// Where to write the measurements (JSON).
    @Option var output: String

    func run() throws {
        guard let kind = EngineKind(rawValue: engine), let step = Phase(rawValue: phase) else {
            throw ValidationError("unknown engine \(engine) or phase \(phase)")
        }
        try ChildProcess.serve(kind, step, directory: directory, plan: sizes.plan, output: output)
    }
}
