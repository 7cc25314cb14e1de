import CowDBFormat
import CowDBStorage
import CowDBTestSupport
import Foundation
import Glibc
import XCTest

/// A blocking wait is not cut short by a signal (issue 15: EINTR is retried). The waiting thread
/// is sent SIGUSR2 every 2 ms; its handler does nothing and is installed without `SA_RESTART`,
/// so the kernel interrupts a blocking call (EINTR) instead of restarting it.
final class InterruptedCallTests: XCTestCase {
    /// A futex wait for a publication that does not come lasts its timeout, however many signals arrive.
    func testAWaitForAPublicationOutlastsSignals() throws {
        let directory = TemporaryDirectory()
        let lock = try LockFile(path: directory.path("lock"), writable: true, fileMode: 0o644)
        let sequence = lock.publicationSequence()
        let (seconds, signals) = interrupting { lock.waitForPublication(after: sequence, timeout: 0.3) }
        XCTAssertGreaterThanOrEqual(signals, 5)
        XCTAssertGreaterThanOrEqual(seconds, 0.29, "the wait ended early, after \(signals) signals")
        XCTAssertEqual(lock.publicationSequence(), sequence)
    }

    /// Without a shared page (no writer has the database open) the wait is a sleep, which lasts too.
    func testASleepOutlastsSignals() throws {
        let directory = TemporaryDirectory()
        let lock = try LockFile(path: directory.path("lock"), writable: false, fileMode: 0o644)
        XCTAssertNil(lock.page)
        let (seconds, signals) = interrupting { lock.waitForPublication(after: 0, timeout: 0.3) }
        XCTAssertGreaterThanOrEqual(signals, 5)
        XCTAssertGreaterThanOrEqual(seconds, 0.29, "the sleep ended early, after \(signals) signals")
    }

    /// Waiting for the writer's lock that another open holds ends with `locked` at the timeout,
    /// not with an I/O error; once the holder lets go, the same wait takes the lock.
    func testALockWaitOutlastsSignals() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("lock")
        let holder = try LockFile(path: path, writable: true, fileMode: 0o644)
        try holder.lockForWriting(timeout: 0)
        let waiter = try LockFile(path: path, writable: true, fileMode: 0o644)
        let outcome = Locked<(any Error)?>(nil)
        let (seconds, signals) = interrupting {
            do { try waiter.lockForWriting(timeout: 0.3) } catch { outcome.withLock { $0 = error } }
        }
        XCTAssertGreaterThanOrEqual(signals, 5)
        XCTAssertGreaterThanOrEqual(seconds, 0.29)
        XCTAssertEqual(outcome.withLock { $0 } as? CowDBError, .locked(path: path))

        outcome.withLock { $0 = nil }
        let release = Thread { usleep(100_000); holder.close() }
        release.start()
        let (_, during) = interrupting {
            do { try waiter.lockForWriting(timeout: 5) } catch { outcome.withLock { $0 = error } }
        }
        XCTAssertGreaterThanOrEqual(during, 5)
        XCTAssertNil(outcome.withLock { $0 })
        XCTAssertThrowsError(try LockFile(path: path, writable: true, fileMode: 0o644).lockForWriting(timeout: 0))
    }

    /// Runs `body` on a new thread, sending that thread SIGUSR2 every 2 ms until `body` returns;
    /// returns how long it took and how many signals were sent.
    private func interrupting(_ body: @escaping @Sendable () -> Void) -> (seconds: Double, signals: Int) {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0 // no SA_RESTART: a blocking call fails with EINTR
        var previous = sigaction()
        sigaction(SIGUSR2, &action, &previous)
        let state = Locked<(thread: pthread_t?, done: Bool)>((nil, false))
        let started = Date()
        let thread = Thread {
            state.withLock { $0.thread = pthread_self() }
            body()
            state.withLock { $0.done = true }
        }
        thread.start()
        var signals = 0
        // Under the lock, `done` false means the thread is alive: it is never signalled after.
        while state.withLock({ state in
            if let target = state.thread, !state.done { pthread_kill(target, SIGUSR2); signals += 1 }
            return !state.done
        }) { usleep(2_000) }
        let seconds = Date().timeIntervalSince(started)
        while !thread.isFinished { usleep(1_000) }
        usleep(10_000) // the thread has exited: no signal to it is pending any more
        sigaction(SIGUSR2, &previous, nil)
        return (seconds, signals)
    }
}
