// The operation fuzzer (redb's fuzz target, in spirit): runs an OpFuzzProgram on a database
// over FaultInjectionStorage, checks every result against OpModel, and survives the program's
// faults as an application would: a commit whose write failed leaves nothing and the database
// goes on; any other I/O error (a failed sync poisons the writer) closes and reopens it, and
// what the interrupted operation may have done is reconciled with the model. When the process
// "crashes", the disk it leaves (page cache, durable bytes, power cuts with and without a torn
// write) is opened on a fresh backend, and every acknowledged commit must be there with exactly
// its content; the commit in flight may be there or not, and nothing else.
//
// Returns the problems found (empty: the database matched the model throughout). The libFuzzer
// target traps on a problem; OpFuzzTests asserts there is none.

import Foundation
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// Runs one operation fuzzer program.
final class OpFuzzRunner {
    let program: OpFuzzProgram
    let backend = FaultInjectionStorage()
    /// A real directory too: the lock file is always a real file (it is not a backend file).
    let directory: String
    let path: String
    /// Seeds the power-cut images (from the input, so a case replays exactly).
    let imageSeed: UInt64
    var database: Database?
    var model = OpModel()
    /// Open snapshots and the state each must read.
    var snapshots: [(snapshot: Snapshot, state: OpModel.State)] = []
    var problems: [String] = []
    /// `backend.pageDropCount` when the model was last reconciled with the disk: a failed sync
    /// since then that dropped dirty pages may have lost the commits after `model.durable`.
    var pageDropsReconciled = 0
    /// The operation running (for messages).
    var step = 0
    /// Print each operation and error (`COWDB_OPFUZZ_TRACE=1`, for replaying a finding).
    let trace = ProcessInfo.processInfo.environment["COWDB_OPFUZZ_TRACE"] != nil

    /// A runner for `program`; `imageSeed` varies the power-cut images.
    init(program: OpFuzzProgram, imageSeed: UInt64) {
        self.program = program
        self.imageSeed = imageSeed
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        directory = "\(base)/cowdb-opfuzz-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        path = directory + "/db"
    }

    /// Decodes `bytes` and runs them; returns the problems found.
    static func run(_ bytes: UnsafeRawBufferPointer) -> [String] {
        var seed: UInt64 = 0xCBF2_9CE4_8422_2325 // FNV-1a of the input
        for byte in bytes { seed = (seed ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return OpFuzzRunner(program: OpFuzzProgram(bytes), imageSeed: seed).run()
    }

    var options: DatabaseOptions {
        var options = DatabaseOptions()
        options.pageSize = program.pageSize
        options.durability = program.durabilityNone ? .none : .full
        options.verifyOnRead = program.verifyOnRead
        options.dirtyPageBudget = 16 * program.pageSize // the smallest: big commits spill
        options.mapReservation = 1 << 28
        return options
    }

    var durable: Bool { !program.durabilityNone }

    // MARK: Running

    /// Runs the program, then checks what a crash (or the final close) left on the disk.
    func run() -> [String] {
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try! backend.makeDirectory(path)
        installFaults()
        do {
            try open()
            for operation in program.operations {
                step += 1
                if backend.isCrashed || !problems.isEmpty { break }
                if trace { note("step \(step): \(operation) (latest \(model.latest), counts \(backend.counts))") }
                do {
                    try perform(operation)
                } catch {
                    if trace { note("  threw \(error)") }
                    try recover(from: error, during: operation)
                }
            }
            if !backend.isCrashed, problems.isEmpty { try closeDatabase() }
        } catch {
            if !backend.isCrashed { problems.append("step \(step): unexpected error \(error)") }
        }
        guard problems.isEmpty else { return problems }
        closeSnapshots()
        database = nil // a crashed instance still holds the writer lock
        checkImages(crashed: backend.isCrashed)
        return problems
    }

    /// Arms the program's write, sync and crash faults.
    func installFaults() {
        if let number = program.failWrite { backend.failWrite(number: number, errno: EIO, persistent: program.persistentFaults) }
        if let number = program.failSync {
            backend.failSync(number: number, errno: EIO, persistent: program.persistentFaults, failure: program.syncFailure)
        }
        if let crash = program.crashStep { backend.crash(afterStep: crash) }
    }

    /// Whether `error` comes from the faulty disk (rather than being a wrong answer).
    func isFault(_ error: Error) -> Bool {
        if backend.isCrashed { return true }
        guard let error = error as? CowDBError else { return false }
        switch error {
        case .io, .writerPoisoned: return true
        default: return false
        }
    }

    /// Handles an error an operation threw: a wrong error is a problem; a fault is survived.
    func recover(from error: Error, during operation: OpFuzzProgram.Operation) throws {
        guard isFault(error) else {
            problems.append("step \(step) \(operation): unexpected error \(error)")
            return
        }
        if backend.isCrashed { return }
        if case let .io(name, _, _) = error as? CowDBError, name == "pwrite", model.inFlight != nil, model.mayBeDropped.isEmpty {
            // A commit whose write failed leaves no version, and the database goes on.
            model.inFlight = nil
            if let latest = database?.latestVersion, latest != model.latest {
                problems.append("step \(step) \(operation): a commit that threw \(error) made version \(latest) (latest was \(model.latest))")
            }
            return
        }
        try reopen()
    }

    /// Writes a trace line to standard error (unbuffered, so it survives a trap).
    func note(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }

    // MARK: Opening and closing

    /// Opens the database (retrying an open that fails on a fault) and reconciles the model
    /// with what an interrupted operation left.
    func open() throws {
        database = nil // the old instance must be gone: it may still hold the writer lock
        var attempts = 0
        while true {
            do {
                database = try Database(path: path, options: options, backend: backend) // unchecked-open: fault-injected disk; the runner checks every crash image with checkReport(allVersions:)
                break
            } catch where isFault(error) && !backend.isCrashed && attempts < 3 {
                attempts += 1
                if program.persistentFaults { backend.clearFaults() }
            }
        }
        // The process may have died at the open's last step: nothing more can be read.
        if backend.isCrashed { return }
        let before = problems.count
        reconcile(with: database!, context: "reopen after step \(step)")
        model.durable = model.latest // opening syncs a tail it was not sure of
        if problems.count == before {
            var latestOnly = model
            latestOnly.versions = [model.latest: model.current]
            checkEveryVersion(database!, model: latestOnly, context: "reopen after step \(step)")
        }
    }

    /// Closes the open snapshots and the database (a close that fails on a fault is retried
    /// through a reopen).
    func closeDatabase() throws {
        closeSnapshots()
        do {
            try database?.close()
        } catch where isFault(error) && !backend.isCrashed {
            if trace { note("  close threw \(error)") }
            try open()
            try database?.close()
        }
        database = nil
        model.durable = model.latest
    }

    /// Closes and reopens (faults that persist are cleared first: the disk was "replaced").
    func reopen() throws {
        if program.persistentFaults { backend.clearFaults() }
        closeSnapshots()
        try? database?.close()
        try open()
    }

    /// Closes every open snapshot.
    func closeSnapshots() {
        for entry in snapshots { entry.snapshot.close() }
        snapshots = []
    }

    // MARK: Crash images

    /// Opens each disk image the run left (after a crash: the page cache, the durable bytes,
    /// two power cuts; after a clean close: the durable bytes) and checks it against the model.
    func checkImages(crashed: Bool) {
        var kinds: [(String, FaultInjectionStorage.ImageKind)] = [("durable bytes", .durableOnly)]
        if crashed {
            kinds += [("page cache", .processCrash), ("power cut", .powerCut(seed: imageSeed, tear: false)),
                      ("torn power cut", .powerCut(seed: imageSeed &+ 1, tear: true))]
        }
        for (name, kind) in kinds {
            let image = backend.image(kind)
            let restarted = FaultInjectionStorage(image: image)
            var copy = model
            do {
                let database = try Database(path: path, options: options, backend: restarted) // unchecked-open: a crash image; checked by the runner with checkReport(allVersions:)
                let before = problems.count
                let lostAllowed = !durable && (name != "page cache" || backend.pageDropCount > pageDropsReconciled)
                checkRecovered(database, model: &copy, lostAllowed: lostAllowed, context: "\(name) image after step \(step)")
                if problems.count == before { checkEveryVersion(database, model: copy, context: "\(name) image") }
                try database.close()
            } catch {
                problems.append("\(name) image after step \(step): does not open or close: \(error)")
            }
        }
    }
}
