import ArgumentParser
import CowDB
import Foundation

/// `cowdb dump`: writes a version of a database in LMDB's `mdb_dump` text format.
struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Write a version of a database in LMDB's mdb_dump text format.",
        discussion: """
            Writes format=bytevalue (two hex digits per byte) by default, or format=print with -p \
            (printable bytes as themselves, a backslash as \\\\, other bytes as \\xx, as LMDB 0.9.25+ \
            writes it). Without -s or -a it dumps the default keyspace; -a dumps the default keyspace \
            (when it has entries, without a database= line) and then every named keyspace in byte order \
            of their names. The header's mapsize= is large enough for mdb_load to load the dump into a \
            fresh LMDB environment. Memory stays constant however large the database; a progress bar \
            shows on a terminal when the dump goes to a file or a pipe.

            Examples:
              cowdb dump app.cowdb > default.dump
              cowdb dump app.cowdb -a -f all.dump --version 12
              cowdb dump app.cowdb -s users -p --as-of 2025-03-01T12:00:00Z
              cowdb dump app.cowdb -a | mdb_load lmdb-env
            """)

    @Argument(help: "The database directory.")
    var database: String

    @Flag(name: [.customShort("p"), .customLong("print")], help: "Write format=print instead of format=bytevalue.")
    var printable = false

    @Option(name: [.customShort("s"), .customLong("keyspace")], help: ArgumentHelp("Dump the named keyspace KEYSPACE.", valueName: "KEYSPACE"))
    var keyspace: String?

    @Flag(name: [.customShort("a"), .customLong("all")], help: "Dump the default keyspace (if not empty) and every named keyspace.")
    var all = false

    @Option(name: [.customShort("f"), .customLong("file")], help: ArgumentHelp("Write to FILE instead of standard output.", valueName: "FILE"))
    var file: String?

    @OptionGroup var selection: VersionSelection

    @Flag(help: "Show no progress bar.")
    var quiet = false

    /// Rejects -s with -a.
    func validate() throws {
        if keyspace != nil, all { throw ValidationError("give -s KEYSPACE or -a, not both") }
    }

    // MARK: Running

    /// Opens the database read-only and writes the dump; a failed dump to a file removes the file.
    func run() throws {
        let db = try DatabaseAccess.openForReading(database)
        defer { try? db.close() }
        let output = try file.map(BufferedOutput.creatingFile) ?? .standardOutput()
        do {
            try selection.read(db) { txn in try dump(txn, of: db, to: output) }
            try output.close()
        } catch {
            if let file { unlink(file) }
            throw error
        }
    }

    /// Writes one block per keyspace selected, in one read transaction (one consistent version).
    private func dump(_ txn: ReadTransaction, of db: Database, to output: BufferedOutput) throws {
        let names: [String?] = all ? (try txn.count > 0 ? [nil] : []) + (try txn.keyspaces()) : [keyspace]
        let keyspaces = try names.map { try DatabaseAccess.keyspace($0, in: txn) }
        let encoding: DumpEncoding = printable ? .print : .bytevalue
        let header = DumpHeader(encoding: encoding, mapSize: DumpFormat.mapSize(forFileBytes: try fileLength(of: db, at: txn.version)),
                                maxReaders: DumpFormat.lmdbDefaultMaxReaders, pageSize: db.pageSize)
        let total = try keyspaces.reduce(UInt64(0)) { $0 + (try $1.count()) }
        let showProgress = ProgressBar.shouldShow(quiet: quiet) && (file != nil || isatty(1) == 0)
        let progress = ProgressBar(label: "dump", unit: .items("records"), total: total, enabled: showProgress)
        defer { progress.finish() }
        let writer = DumpWriter(output: output, encoding: encoding)
        var done: UInt64 = 0
        for keyspace in keyspaces {
            var blockHeader = header
            blockHeader.database = keyspace.name
            try writer.beginBlock(blockHeader)
            for (key, value) in try keyspace.scan() {
                try writer.writeRecord(key: key, value: value)
                done += 1
                progress.update(done: done, items: done)
            }
            try writer.endBlock()
        }
    }

    /// The data file's length just after `version` was committed (one page for version 0).
    private func fileLength(of db: Database, at version: UInt64) throws -> UInt64 {
        guard version > 0 else { return UInt64(db.pageSize) }
        return try db.versions().last { $0.version == version }?.fileLength ?? UInt64(db.pageSize)
    }
}
