// Work spread over real threads (`Thread`), never Swift concurrency tasks: the workloads block
// in the engines (reads, `fdatasync`), which must not hold the cooperative pool's few threads.
import Foundation
import Synchronization

/// Runs `body(0)` … `body(count - 1)` on `count` threads at once and waits for all of them;
/// returns the sum of their results (rethrows the first error, in thread order).
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) throws -> UInt64) throws -> UInt64 {
    let outcomes = Outcomes(count)
    let done = DispatchSemaphore(value: 0)
    for index in 0 ..< count {
        let thread = Thread {
            let outcome = Result { try body(index) }
            outcomes.list.withLock { $0[index] = outcome }
            done.signal()
        }
        thread.start()
    }
    for _ in 0 ..< count { done.wait() }
    return try outcomes.list.withLock { results in try results.reduce(0) { $0 &+ (try $1?.get() ?? 0) } }
}

/// The results of the threads of `onThreads`, shared with them.
private final class Outcomes: Sendable {
    /// Each thread's result, by its index (nil until it finishes).
    let list: Mutex<[Result<UInt64, any Error>?]>

    /// Room for `count` threads' results.
    init(_ count: Int) { list = Mutex(Array(repeating: nil, count: count)) }
}
