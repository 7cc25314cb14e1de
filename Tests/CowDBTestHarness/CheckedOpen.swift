import CowDB
import CowDBTestSupport
import Foundation
import XCTest

// Every database a test opens is checked when the test ends, as bbolt checks every test
// database: tests open with `openDatabase(path:)`, never with `Database(path:)` directly (a
// scan of the test sources enforces it). An open that must not be checked (a damaged copy,
// a simulated crash that leaves no sound database behind) says so on its line with the
// marker `// unchecked-open: <reason>`.

extension XCTestCase {
    /// Opens the database at `path` as `Database(path:options:)` does, and registers it for the
    /// check at the end of the test (see `openDatabase(path:options:backend:)`).
    public func openDatabase(path: String, options: DatabaseOptions = DatabaseOptions(),
                             file: StaticString = #filePath, line: UInt = #line) throws -> Database {
        try CheckedOpens.shared.open(path: path, options: options, backend: nil, test: self, file: file, line: line)
    }

    /// Opens the database at `path` through `backend`, and registers it: when the test ends,
    /// every instance it opened at `path` that is still alive is closed, the path is opened
    /// again read-only (through the last backend given for it) and every version must check
    /// clean (`checkReport(allVersions: true)`). The path's directory is kept until then.
    public func openDatabase(path: String, options: DatabaseOptions, backend: any StorageBackend,
                             file: StaticString = #filePath, line: UInt = #line) throws -> Database {
        try CheckedOpens.shared.open(path: path, options: options, backend: backend, test: self, file: file, line: line)
    }
}

/// What the end-of-test check of one database found: nothing when it is sound.
public func problemsAtTeardown(path: String, options: DatabaseOptions, backend: (any StorageBackend)?) -> [String] {
    var readOnly = options
    readOnly.readOnly = true
    do {
        let db = try backend.map { try Database(path: path, options: readOnly, backend: $0) } // unchecked-open: this is the check
            ?? Database(path: path, options: readOnly) // unchecked-open: this is the check
        defer { try? db.close() }
        let report = try db.checkReport(allVersions: true)
        return report.problems.prefix(5).map { "\($0)" } + (report.problems.count > 5 ? ["and \(report.problems.count - 5) more"] : [])
    } catch {
        return ["reopening it for the check threw \(error)"]
    }
}

/// The databases each running test opened, by path.
final class CheckedOpens: @unchecked Sendable {
    /// The registry of the test process.
    static let shared = CheckedOpens()

    /// One path's instances and how to open it again.
    private final class Entry {
        var instances: [WeakDatabase] = []
        var options: DatabaseOptions
        var backend: (any StorageBackend)?
        init(options: DatabaseOptions, backend: (any StorageBackend)?) {
            self.options = options
            self.backend = backend
        }
    }

    /// An instance the registry must not keep alive (a test may drop one to release its lock).
    private final class WeakDatabase {
        weak var database: Database?
        init(_ database: Database) { self.database = database }
    }

    private let lock = NSLock()
    private var entries: [ObjectIdentifier: [String: Entry]] = [:]

    /// Opens, registers, and on a path's first open in this test, adds its teardown check.
    func open(path: String, options: DatabaseOptions, backend: (any StorageBackend)?, test: XCTestCase,
              file: StaticString, line: UInt) throws -> Database {
        let db = try backend.map { try Database(path: path, options: options, backend: $0) } // unchecked-open: registered below
            ?? Database(path: path, options: options) // unchecked-open: registered below
        let key = ObjectIdentifier(test)
        let isFirst = lock.withLock { () -> Bool in
            let entry = entries[key, default: [:]][path]
            if let entry {
                entry.instances.append(WeakDatabase(db))
                if let backend { entry.backend = backend }
                entry.options = options
                return false
            }
            let fresh = Entry(options: options, backend: backend)
            fresh.instances.append(WeakDatabase(db))
            entries[key, default: [:]][path] = fresh
            return true
        }
        if isFirst {
            KeptPaths.shared.hold(path)
            test.addTeardownBlock { [self] in
                self.finish(path: path, test: key, file: file, line: line)
            }
        }
        return db
    }

    /// Closes what the test left open at `path`, checks the database, forgets it.
    private func finish(path: String, test: ObjectIdentifier, file: StaticString, line: UInt) {
        defer { KeptPaths.shared.release(path) }
        let entry = lock.withLock { () -> Entry? in
            let entry = entries[test]?[path]
            entries[test]?[path] = nil
            if entries[test]?.isEmpty ?? false { entries[test] = nil }
            return entry
        }
        guard let entry else { return }
        for instance in entry.instances {
            guard let db = instance.database else { continue }
            do { try db.close() } catch {
                XCTFail("\(path): closing it at the end of the test threw \(error)", file: file, line: line)
                return
            }
        }
        let problems = problemsAtTeardown(path: path, options: entry.options, backend: entry.backend)
        XCTAssertEqual(problems, [], "\(path), checked at the end of the test (opened here)", file: file, line: line)
    }
}
