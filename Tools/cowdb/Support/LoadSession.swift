import CowDB

/// The state of one load across its commits: the reader, the block being read and counts.
struct LoadSession {
    private var reader: DumpReader
    private let lines: LineReader
    private let keyspaceOverride: String?
    private let noOverwrite: Bool
    private let progress: ProgressBar
    /// Records loaded so far.
    private(set) var records: UInt64 = 0
    /// Blocks begun so far.
    private(set) var blocks = 0
    /// The keyspace of the block being read, if one is (nil inside: the default keyspace).
    private var block: String??

    /// A session reading from `reader` (over `lines`, for progress).
    init(reader: DumpReader, lines: LineReader, keyspace: String?, noOverwrite: Bool, progress: ProgressBar) {
        self.reader = reader
        self.lines = lines
        keyspaceOverride = keyspace
        self.noOverwrite = noOverwrite
        self.progress = progress
    }

    // MARK: Loading

    /// Loads up to `limit` records (all when nil) into `txn`; returns whether input may remain.
    /// A block's keyspace is created when its header is read, so empty blocks keep their keyspace.
    mutating func load(into txn: WriteTransaction, limit: Int?) throws -> Bool {
        var keyspace: Keyspace?
        var count = 0
        while limit.map({ count < $0 }) ?? true {
            if block == nil {
                guard let header = try reader.nextBlock() else { return false }
                blocks += 1
                block = .some(keyspaceOverride ?? header.database)
                keyspace = nil
            }
            if keyspace == nil, let name = block {
                keyspace = try name.map { try txn.keyspaceCreatingIfMissing($0) } ?? txn.defaultKeyspace
            }
            guard let (key, value) = try reader.nextRecord() else {
                block = nil
                continue
            }
            try store(key, value, in: keyspace!)
            count += 1
            records += 1
            progress.update(done: lines.bytesConsumed, items: records)
        }
        return true
    }

    /// Puts the record just read; an unstorable key or value is an error at its line.
    private func store(_ key: [UInt8], _ value: [UInt8], in keyspace: Keyspace) throws {
        do {
            if noOverwrite {
                _ = try keyspace.insert(key, value)
            } else {
                try keyspace.put(key, value)
            }
        } catch let error as CowDBError {
            switch error {
            case .emptyKey, .keyTooLarge, .valueTooLarge:
                throw DumpInputError(input: lines.name, line: reader.recordLine, message: "\(error)")
            default:
                throw error
            }
        }
    }
}
