import ArgumentParser
import CowDB
import Foundation

/// `cowdb demo`: a guided run on a default database.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Commit a few versions to a database, read an old one, list the history and show a dump.",
        discussion: """
            Uses a fresh database under the temporary directory unless you name one.

            Examples:
              cowdb demo
              cowdb demo /tmp/demo.cowdb && cowdb versions /tmp/demo.cowdb
            """)

    @Argument(help: "Database directory (default: a fresh one under the temporary directory).")
    var path: String?

    // MARK: Running

    /// Commits four versions, reads three of them back, lists the history and dumps the latest.
    func run() throws {
        let path = self.path ?? NSTemporaryDirectory() + "cowdb-demo-\(getpid()).cowdb"
        let db = try Database(path: path)
        defer { try? db.close() }
        print("database: \(path) (page size \(db.pageSize), max key \(db.maxKeySize) bytes)")
        let start = db.latestVersion
        let fruits = ["apple": "red", "banana": "yellow", "cherry": "dark red"]
        for (name, colour) in fruits.sorted(by: { $0.key < $1.key }) {
            try db.write { txn in try txn.put(Array(name.utf8), Array(colour.utf8)) }
            print("version \(db.latestVersion): put \(name) = \(colour)")
        }
        try db.write { txn in
            try txn.put(Array("apple".utf8), Array("green".utf8))
            try txn.delete(Array("banana".utf8))
            let stock = try txn.keyspaceCreatingIfMissing("stock")
            try stock.put(Array("apple".utf8), Array("12".utf8))
        }
        print("version \(db.latestVersion): apple = green, banana deleted, stock/apple = 12 (one commit)")
        for version in [start + 1, start + 3, db.latestVersion] {
            let entries = try db.read(at: version) { txn in
                Array(try txn.scan()).map { "\(ByteEscaping.printable($0.key))=\(ByteEscaping.printable($0.value))" }
            }
            print("read at version \(version): \(entries.joined(separator: ", "))")
        }
        print("versions (cowdb versions \(path)):")
        for info in try db.versions().suffix(6) {
            print("  \(info.version)  \(Timestamps.iso8601(nanoseconds: info.timestampNanoseconds))  entries \(info.entryCount)  appended \(info.appendedBytes) B")
        }
        // History: a diff that skips shared pages, a tag, a rollback and its undo.
        let latest = db.latestVersion
        print("diff \(start + 1) → \(latest) (cowdb diff \(path) \(start + 1) latest):")
        try db.diff(from: start + 1, to: latest) { changes in
            for change in changes {
                let old = change.oldValue.map { ByteEscaping.printable($0) } ?? "-"
                let new = change.newValue.map { ByteEscaping.printable($0) } ?? "-"
                print("  \(change.change.rawValue) \(ByteEscaping.printable(change.key)): \(old) → \(new)")
            }
        }
        try db.tag("demo", version: latest)
        print("tagged version \(latest) as \"demo\" (cowdb tags \(path))")
        let rolled = try db.rollback(to: start + 1)
        print("version \(rolled): rollback to version \(start + 1) — one commit record, nothing copied")
        let undone = try db.rollback(to: latest)
        print("version \(undone): rollback to version \(latest) (cowdb rollback \(path) --tag demo) undoes it")
        print("dump of version \(db.latestVersion) (cowdb dump \(path) -a -p):")
        try dump(db)
        print("next: cowdb dump \(path) -a --version \(start + 1), cowdb stat \(path) -a, cowdb check \(path) --all-versions")
    }

    /// Writes the latest version of every keyspace in print format to standard output.
    private func dump(_ db: Database) throws {
        fflush(nil)
        let output = BufferedOutput.standardOutput()
        let writer = DumpWriter(output: output, encoding: .print)
        let fileBytes = try db.versions().last?.fileLength ?? UInt64(db.pageSize)
        try db.read { txn in
            let names: [String?] = (try txn.count > 0 ? [nil] : []) + (try txn.keyspaces())
            for name in names {
                let keyspace = try DatabaseAccess.keyspace(name, in: txn)
                try writer.beginBlock(DumpHeader(encoding: .print, database: name, mapSize: DumpFormat.mapSize(forFileBytes: fileBytes),
                                                 maxReaders: DumpFormat.lmdbDefaultMaxReaders, pageSize: db.pageSize))
                for (key, value) in try keyspace.scan() { try writer.writeRecord(key: key, value: value) }
                try writer.endBlock()
            }
        }
        try output.flush()
    }
}
