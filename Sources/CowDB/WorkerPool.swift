import Foundation
import Synchronization

// CowDB's own threads, on which the async API runs its blocking work (a transaction, an
// `fdatasync`, a compaction), so that it never occupies a thread of Swift's cooperative pool.
// Two lanes: writes, few (they take turns under the writer gate anyway; a handful is enough
// for group commit), and everything else (reads, change feeds, backups, compactions), so that
// queued writes never keep a read from starting. Threads start on demand, up to each lane's
// limit, and end after a while without work.

/// A pool of threads for blocking work, in two lanes.
final class WorkerPool: Sendable {
    /// Which threads run a job.
    enum Lane {
        case write
        case other
    }

    /// The process's pool, shared by every database.
    static let shared = WorkerPool(writeThreads: 4, otherThreads: max(16, 4 * ProcessInfo.processInfo.activeProcessorCount))

    private let writes: WorkerLane
    private let others: WorkerLane

    init(writeThreads: Int, otherThreads: Int) {
        writes = WorkerLane(name: "CowDB write", limit: writeThreads)
        others = WorkerLane(name: "CowDB", limit: otherThreads)
    }

    /// Runs `job` on a thread of `lane`, after the jobs queued before it there.
    func submit(_ lane: Lane, _ job: @escaping @Sendable () -> Void) {
        (lane == .write ? writes : others).submit(job)
    }
}

/// The threads of one lane and their queue of jobs.
final class WorkerLane: @unchecked Sendable {
    /// How long a thread waits for work before it ends.
    static let idleSeconds = 10.0

    private let condition = NSCondition()
    private let name: String
    private let limit: Int
    // Guarded by `condition`.
    private var jobs: [@Sendable () -> Void] = []
    private var head = 0
    private var threads = 0
    private var idle = 0

    init(name: String, limit: Int) {
        self.name = name
        self.limit = max(1, limit)
    }

    /// Queues `job`, waking an idle thread or starting one when every thread is busy.
    func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        let waiting = jobs.count - head
        let start = waiting > idle && threads < limit
        if start { threads += 1 } else { condition.signal() }
        condition.unlock()
        if start {
            let thread = Thread { [self] in run() }
            thread.name = name
            thread.start()
        }
    }

    /// A thread's life: take jobs in order; end after `idleSeconds` without one.
    private func run() {
        condition.lock()
        while true {
            if head < jobs.count {
                let job = jobs[head]
                head += 1
                if head == jobs.count { jobs.removeAll(keepingCapacity: true); head = 0 }
                condition.unlock()
                job()
                condition.lock()
                continue
            }
            idle += 1
            let woken = condition.wait(until: Date(timeIntervalSinceNow: Self.idleSeconds))
            idle -= 1
            if !woken, head >= jobs.count {
                threads -= 1
                condition.unlock()
                return
            }
        }
    }
}

/// Set when the task that submitted a job is cancelled; the job checks it where stopping is safe.
final class CancellationFlag: Sendable {
    private let raised = Atomic<Bool>(false)

    /// Marks the task cancelled.
    func raise() { raised.store(true, ordering: .releasing) }

    /// Whether the task was cancelled.
    var isRaised: Bool { raised.load(ordering: .acquiring) }

    /// Throws `CancellationError` once the task was cancelled.
    func check() throws { if isRaised { throw CancellationError() } }
}

extension Database {
    /// Runs `work` on a thread of CowDB's pool and returns its result to the awaiting task.
    /// A task cancelled before the job starts gets `CancellationError` and `work` never runs;
    /// after that, `work` sees the cancellation through its flag.
    func onWorker<T: Sendable>(_ lane: WorkerPool.Lane, _ work: @escaping @Sendable (CancellationFlag) throws -> T) async throws -> T {
        try Task.checkCancellation()
        let flag = CancellationFlag()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                WorkerPool.shared.submit(lane) {
                    guard !flag.isRaised else { return continuation.resume(throwing: CancellationError()) }
                    continuation.resume(with: Result { try work(flag) })
                }
            }
        } onCancel: {
            flag.raise()
        }
    }
}
