// Each engine's phase runs in a child process (this binary, re-executed with the hidden
// `child` subcommand) so that its memory is measured alone: no other engine's heap, no data
// set, no allocator state left over from an earlier phase.
import Foundation

/// Starts the children and collects their measurements.
enum ChildProcess {
    /// This binary's path (resolved once: /proc/self/exe names whoever reads it).
    static let executable: String = {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }()

    /// Runs `phase` of `engine` on `directory` in a child process and returns its measurements.
    /// The child's progress lines go to this process's standard error.
    static func run(_ engine: EngineKind, _ phase: Phase, directory: String, plan: Plan, scratch: String) throws -> [Measurement] {
        let output = scratch + "/\(engine.rawValue)-\(phase.rawValue).json"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["child", "--engine", engine.rawValue, "--phase", phase.rawValue,
                             "--directory", directory, "--output", output] + PlanOptions.arguments(for: plan)
        try process.run()
        process.waitUntilExit()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            throw EngineError(description: "the \(engine.rawValue) \(phase.rawValue) phase failed (\(process.terminationReason == .exit ? "exit" : "signal") \(process.terminationStatus))")
        }
        let results = try JSONDecoder().decode([Measurement].self, from: Data(contentsOf: URL(fileURLWithPath: output)))
        try? FileManager.default.removeItem(atPath: output)
        return results
    }

    /// The child's side: runs the phase with a memory sampler and writes the measurements to `output`.
    static func serve(_ engine: EngineKind, _ phase: Phase, directory: String, plan: Plan, output: String) throws {
        let sampler = MemorySampler()
        defer { sampler.stop() }
        let results: [Measurement]
        switch engine {
        case .cowdb: results = try runPhase(CowDBEngine.self, phase, directory: directory, plan: plan, sampler: sampler)
        case .lmdb: results = try runPhase(LMDBEngine.self, phase, directory: directory, plan: plan, sampler: sampler)
        case .sqlite: results = try runPhase(SQLiteEngine.self, phase, directory: directory, plan: plan, sampler: sampler)
        }
        try JSONEncoder().encode(results).write(to: URL(fileURLWithPath: output))
    }

    /// Runs `phase` with engine type `E` (specialized per engine).
    private static func runPhase<E: Engine>(_: E.Type, _ phase: Phase, directory: String, plan: Plan, sampler: MemorySampler) throws -> [Measurement] {
        var runner = PhaseRunner<E>(plan: plan, directory: directory, sampler: sampler)
        try runner.run(phase)
        return runner.results
    }
}
