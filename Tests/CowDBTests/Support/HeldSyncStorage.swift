import Foundation
@testable import CowDB
import CowDBStorage

/// A storage backend that passes everything to another one, but can hold the next
/// `fdatasync` of a data file until the test releases it (to make commits queue behind a
/// sync, deterministically), and counts the data file's syncs. A held sync has done its work
/// (on what was written before it began) and is slow to return: writes made while it is held
/// are not covered by it, as with a real `fdatasync` that began before them.
final class HeldSyncStorage: InterposedStorage, @unchecked Sendable {
    private let state = Locked<(armed: Bool, dataSyncs: Int)>((false, 0))
    /// Signalled when a held sync has begun (and is waiting for `release`).
    let entered = DispatchSemaphore(value: 0)
    private let released = DispatchSemaphore(value: 0)

    /// The data file's syncs so far.
    var dataSyncs: Int { state.withLock { $0.dataSyncs } }

    /// Holds the next data-file sync until `release()`.
    func holdNextDataSync() { state.withLock { $0.armed = true } }

    /// Lets the held sync go on.
    func release() { released.signal() }

    /// A file's sync; then, for a data file's, counts it, and holds it when armed.
    override func sync(_ file: any StorageFile) throws {
        try file.sync()
        guard Self.isDataFile(file.path) else { return }
        let hold = state.withLock { state -> Bool in
            state.dataSyncs += 1
            defer { state.armed = false }
            return state.armed
        }
        if hold {
            entered.signal()
            released.wait()
        }
    }
}
