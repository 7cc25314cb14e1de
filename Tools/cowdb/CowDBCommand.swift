import ArgumentParser
import CowDB
import Foundation

/// The `cowdb` command-line tool.
@main
struct CowDBCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cowdb",
        abstract: "Inspect and use CowDB databases: an embedded, versioned key-value store.",
        subcommands: [Demo.self])
}

/// `cowdb demo`: a guided run on a default database.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Commit a few versions to a database and read an old one.",
        discussion: "Example: cowdb demo /tmp/demo.cowdb")

    @Argument(help: "Database directory (default: a fresh one under the temporary directory).")
    var path: String?

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
                Array(try txn.scan()).map { "\(String(decoding: $0.key, as: UTF8.self))=\(String(decoding: $0.value, as: UTF8.self))" }
            }
            print("read at version \(version): \(entries.joined(separator: ", "))")
        }
        print("versions:")
        for info in try db.versions().suffix(6) {
            print("  \(info.version)  \(ISO8601DateFormatter().string(from: info.timestamp))  entries \(info.entryCount)  appended \(info.appendedBytes) B")
        }
    }
}
