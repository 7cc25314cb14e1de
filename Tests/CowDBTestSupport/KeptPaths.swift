import Foundation

// Databases that a test's teardown still has to check keep their directory: a
// `TemporaryDirectory` released before then (a local of the test method) waits for them.

/// Paths held until a check has run, and the directories whose removal waits for them.
public final class KeptPaths: @unchecked Sendable {
    /// The registry of the test process.
    public static let shared = KeptPaths()

    private let lock = NSLock()
    private var held: [String: Int] = [:]
    private var waiting: Set<String> = []

    /// Keeps `path` (and every directory above it) until `release(path)`.
    public func hold(_ path: String) {
        lock.withLock { held[path, default: 0] += 1 }
    }

    /// Undoes one `hold(path)`; removes every waiting directory that nothing holds any more.
    public func release(_ path: String) {
        let free = lock.withLock { () -> [String] in
            if let count = held[path] { held[path] = count > 1 ? count - 1 : nil }
            let free = Array(waiting.filter { !isHeld($0) })
            waiting.subtract(free)
            return free
        }
        for directory in free { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// Removes `directory` now, or once nothing inside it is held.
    public func remove(_ directory: String) {
        let now = lock.withLock { () -> Bool in
            if isHeld(directory) {
                waiting.insert(directory)
                return false
            }
            return true
        }
        if now { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// Whether a held path lies in `directory` (under the lock).
    private func isHeld(_ directory: String) -> Bool {
        held.keys.contains { $0 == directory || $0.hasPrefix(directory + "/") }
    }
}
