// cowdb-bench: CowDB next to LMDB and SQLite on the same data, on the same disk, in the same run.
//   swift run -c release cowdb-bench [--scale N] [--engines cowdb,lmdb,sqlite] [--json FILE]
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
    var individualWrites = 1000

    @Option(help: "Durable commits of --batch-size pairs.")
    var batchWrites = 100

    @Option(help: "Pairs per batch commit.")
    var batchSize = 1000

    @Option(help: "Commits in the database that open_with_history opens (default: 100,000 × N / 1,000,000, at least 100).")
    var historyCommits: Int?

    @Option(help: "Runs of each warm read workload (warm gets, range reads, 2-thread gets, old-version gets); the fastest is reported, which filters out other work on a shared machine.")
    var readRepeats = 3

    /// The plan these options describe.
    var plan: Plan {
        Plan(scale: scale, seed: seed, individualWrites: individualWrites, batchWrites: batchWrites, batchSize: batchSize,
             historyCommits: historyCommits ?? max(100, Int(Double(scale) * 0.1)), readRepeats: readRepeats)
    }

    func validate() throws {
        guard scale >= 2 else { throw ValidationError("--scale must be at least 2") }
        guard individualWrites >= 0, batchWrites >= 0, batchSize >= 1 else { throw ValidationError("commit counts must not be negative") }
        guard readRepeats >= 1 else { throw ValidationError("--read-repeats must be at least 1") }
    }

    /// The flags that give a child `plan`.
    static func arguments(for plan: Plan) -> [String] {
        ["--scale", "\(plan.scale)", "--seed", "\(plan.seed)", "--individual-writes", "\(plan.individualWrites)",
         "--batch-writes", "\(plan.batchWrites)", "--batch-size", "\(plan.batchSize)", "--history-commits", "\(plan.historyCommits)",
         "--read-repeats", "\(plan.readRepeats)"]
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

    @Option(help: "Engines, comma-separated: cowdb, lmdb, sqlite.")
    var engines = "cowdb,lmdb,sqlite"

    @Option(help: "Workloads, comma-separated (default: all): \(Workload.allCases.map(\.rawValue).joined(separator: ", ")).")
    var workloads: String?

    @Option(help: "Directory to work in (a fresh subdirectory is made and removed): default the temporary directory.")
    var dir: String?

    @Option(help: "Write every figure as JSON to this file.")
    var json: String?

    @Flag(help: "Keep the databases afterwards.")
    var keep = false

    func run() throws {
        let engineList = try parseList(engines, as: EngineKind.self, "engine")
        let workloadList = try workloads.map { try parseList($0, as: Workload.self, "workload") } ?? Workload.allCases
        let plan = sizes.plan
        let base = dir ?? NSTemporaryDirectory()
        let root = (base as NSString).appendingPathComponent("cowdb-bench-\(getpid())")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { if !keep { try? FileManager.default.removeItem(atPath: root) } }

        let machine = Machine.describe(directory: root)
        print("cowdb-bench: N = \(plan.scale), random \(Dataset.keySize)-byte keys and \(Dataset.valueSize)-byte values (seed \(plan.seed))")
        print("machine: \(machine)")
        print("directory: \(root)")

        var results: [Measurement] = []
        for engine in engineList {
            let directory = root + "/" + engine.rawValue
            for phase in phases(for: engine, workloadList) {
                let ownDatabase = phase == .history || phase == .compaction
                let target = ownDatabase ? root + "/cowdb-" + phase.rawValue : directory
                try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
                FileHandle.standardError.write(Data("\(engine.title): \(phase.rawValue)\n".utf8))
                results += try ChildProcess.run(engine, phase, directory: target, plan: plan, scratch: root)
                if ownDatabase, !keep { try? FileManager.default.removeItem(atPath: target) }
            }
            if !keep { try? FileManager.default.removeItem(atPath: directory) }
        }

        let report = Report(scale: plan.scale, machine: machine, results: results.filter { workloadList.contains($0.workload) })
        print()
        print(report.table(engines: engineList))
        print("CowDB/LMDB > 1 means CowDB is better (for sizes, times and memory: LMDB's figure over CowDB's).")
        let targets = report.targets(dirtyPageBudget: CowDB.DatabaseOptions().dirtyPageBudget)
        if !targets.isEmpty { print("\nTargets of issue #5:\n" + targets) }
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

    /// The phases `engine` must run for `workloads`: every phase on the engine's directory
    /// needs the load first, and reads at a version 1,000 commits old need the writes.
    private func phases(for engine: EngineKind, _ workloads: [Workload]) -> [Phase] {
        var wanted = Set(workloads.filter { engine == .cowdb || !$0.cowdbOnly }.map(\.phase))
        if !wanted.isDisjoint(with: [.write, .read, .remove]) { wanted.insert(.load) }
        if wanted.contains(.read), workloads.contains(.oldVersionReads), engine == .cowdb { wanted.insert(.write) }
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
