import CowDBStorage
import Foundation

// Waiting for the next commit without a thread per waiter: change feeds that have caught up
// park here, and one thread per database waits on the lock file's publication sequence (a
// futex that the writer's publication wakes, in this process or another) and resumes them.
// It ends when nobody waits. Every second it also resumes them all, so that a feed rechecks
// even if a wake was missed (a writer killed in the middle of publishing).

/// Parks tasks until the writer publishes a commit after a given publication sequence.
final class CommitWatcher: @unchecked Sendable {
    /// How long the watching thread waits before resuming every waiter to recheck.
    static let recheckSeconds = 1.0

    private let lockFile: LockFile
    private let state = Locked(State())

    /// What the lock guards.
    private struct State {
        var waiters: [Int: Waiter] = [:]
        var nextID = 0
        var threadRunning = false
        var closed = false
    }

    /// A parked task: the sequence it saw and how to resume it.
    private struct Waiter {
        let sequence: UInt64
        let continuation: CheckedContinuation<Void, Never>
    }

    init(lockFile: LockFile) {
        self.lockFile = lockFile
    }

    /// The publication sequence now (read it before looking for new commits, then pass it to `wait`).
    var sequence: UInt64 { lockFile.publicationSequence() }

    /// Suspends the task until the writer publishes after `sequence`, the watcher rechecks
    /// (about once a second), the task is cancelled or the database closes.
    func wait(after sequence: UInt64) async {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let (resumeNow, startThread) = state.withLock { state -> (Bool, Bool) in
                    if state.closed || Task.isCancelled || lockFile.publicationSequence() != sequence { return (true, false) }
                    state.waiters[id] = Waiter(sequence: sequence, continuation: continuation)
                    guard !state.threadRunning else { return (false, false) }
                    state.threadRunning = true
                    return (false, true)
                }
                if resumeNow { continuation.resume() }
                if startThread {
                    let thread = Thread { [self] in watch() }
                    thread.name = "CowDB watcher"
                    thread.start()
                }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume()
        }
    }

    /// Resumes every waiter and refuses new ones (the database is closing).
    func close() {
        let waiters = state.withLock { state in
            state.closed = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.continuation.resume() }
    }

    /// The watching thread: resumes the waiters whose sequence is out of date, waits for the
    /// next publication (or the recheck), then resumes everyone; ends when nobody waits.
    private func watch() {
        while true {
            let current = lockFile.publicationSequence()
            let (ready, done) = state.withLock { state -> ([Waiter], Bool) in
                let ready = state.waiters.filter { $0.value.sequence != current }
                for id in ready.keys { state.waiters.removeValue(forKey: id) }
                if state.waiters.isEmpty { state.threadRunning = false }
                return (Array(ready.values), state.waiters.isEmpty)
            }
            for waiter in ready { waiter.continuation.resume() }
            if done { return }
            lockFile.waitForPublication(after: current, timeout: Self.recheckSeconds)
            if lockFile.publicationSequence() == current {
                // The recheck: every waiter looks again for itself.
                let all = state.withLock { state in
                    defer { state.waiters = [:]; state.threadRunning = false }
                    return Array(state.waiters.values)
                }
                for waiter in all { waiter.continuation.resume() }
                return
            }
        }
    }
}
