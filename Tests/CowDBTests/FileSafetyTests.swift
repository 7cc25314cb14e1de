import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// File modes (the umask and `fileMode` apply; nothing world-writable) and symbolic links
/// planted in a database directory (never followed out of it).
final class FileSafetyTests: XCTestCase {
    /// The permission bits of a file.
    private func mode(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    /// Runs `body` with the process umask set to `mask`, restoring it after.
    private func withUmask<T>(_ mask: mode_t, _ body: () throws -> T) rethrows -> T {
        let previous = umask(mask)
        defer { umask(previous) }
        return try body()
    }

    func testFilesAreNeverWorldWritableEvenWithAZeroUmask() throws {
        let directory = TemporaryDirectory()
        for (requested, expected) in [(mode_t(0o666), 0o664), (0o600, 0o600), (0o644, 0o644), (0o777, 0o664)] {
            let path = directory.path("mode-\(String(requested, radix: 8))")
            var options = DatabaseOptions()
            options.fileMode = requested
            try withUmask(0) {
                let db = try openDatabase(path: path, options: options)
                try db.write { try $0.put(b("k"), b("v")) }
                try db.close()
            }
            for file in ["data", "index", "lock"] {
                XCTAssertEqual(try mode(path + "/" + file), expected, "\(file) created with fileMode \(String(requested, radix: 8))")
            }
        }
    }

    func testUmaskStillApplies() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("umask")
        try withUmask(0o077) { try openDatabase(path: path).close() }
        for file in ["data", "index", "lock"] { XCTAssertEqual(try mode(path + "/" + file), 0o600, file) }
    }

    func testSymbolicLinksInTheDatabaseDirectoryAreNotFollowed() throws {
        let directory = TemporaryDirectory()
        let outside = directory.path("outside")
        XCTAssertTrue(FileManager.default.createFile(atPath: outside, contents: Data("precious".utf8)))
        for planted in ["data", "index", "lock"] {
            let path = directory.path("planted-\(planted)")
            try Database(path: path).close() // unchecked-open: the test replaces a file of it with a symbolic link
            try FileManager.default.removeItem(atPath: path + "/" + planted)
            try FileManager.default.createSymbolicLink(atPath: path + "/" + planted, withDestinationPath: outside)
            XCTAssertThrowsError(try openDatabase(path: path), planted) { error in
                guard case .io(_, _, let code) = error as? CowDBError else { return XCTFail("\(error)") }
                XCTAssertEqual(code, ELOOP)
            }
            var readOnly = DatabaseOptions()
            readOnly.readOnly = true
            XCTAssertThrowsError(try openDatabase(path: path, options: readOnly), planted)
            XCTAssertEqual(try String(contentsOfFile: outside, encoding: .utf8), "precious", "the link's target was touched")
        }
    }
}
