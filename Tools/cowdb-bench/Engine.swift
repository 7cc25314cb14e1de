// What the workloads need from a store. Each engine implements it with its fastest API;
// the workloads are generic over it, so the calls are specialized, not dynamic.

/// The engines the benchmark knows, by the names used in flags and in the JSON.
enum EngineKind: String, CaseIterable, Sendable, Codable {
    case cowdb, lmdb, sqlite

    /// The name shown in the table.
    var title: String {
        switch self {
        case .cowdb: "CowDB"
        case .lmdb: "LMDB"
        case .sqlite: "SQLite"
        }
    }
}

/// One open store in a directory of its own. Writes are durable commits (the engine's
/// default full sync); reads run in read transactions of up to 1,000 operations.
protocol Engine: AnyObject, Sendable {
    /// The reader handed to `read`, valid only inside it.
    associatedtype Reader: EngineReader

    /// Opens the store in `directory`, creating it when empty.
    init(directory: String) throws

    /// Writes pairs `pairs` of `data` in one durable transaction.
    func write(_ pairs: Range<Int>, of data: Dataset) throws

    /// Removes the keys of pairs `pairs` in one durable transaction; returns how many existed.
    func remove(_ pairs: Range<Int>, of data: Dataset) throws -> Int

    /// Runs `body` in one read transaction.
    func read<R>(_ body: (inout Reader) throws -> R) throws -> R

    /// A handle another thread may read or write through at the same time as this one (the
    /// same object where the engine allows that, a connection of its own where it does not).
    func handleForAnotherThread() throws -> Self

    /// Closes the store (a handle from `handleForAnotherThread` is closed by its own call).
    func close() throws
}

/// Reads inside one read transaction. Every read sums every byte it returns.
protocol EngineReader {
    /// The byte sum of the value under `key`, or nil when absent.
    mutating func get(_ key: [UInt8]) throws -> UInt64?

    /// The byte sum of the keys and values of the first `count` entries at or after `key`.
    mutating func range(from key: [UInt8], count: Int) throws -> UInt64
}

/// A failure inside an engine, with the engine's own message.
struct EngineError: Error, CustomStringConvertible {
    /// What failed, and why.
    let description: String
}
