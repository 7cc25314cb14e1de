import Foundation
import XCTest

/// Every public symbol of the library is documented (issue 15, "DocC"): each public declaration
/// under `Sources/CowDB*/` has a `///` comment directly above it, which DocC shows as its
/// summary. `DocCommentScanner` says what counts as public.
final class DocCommentRulesTests: XCTestCase {
    /// The repository's root, found from this file's path.
    private var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Gaps known when this test was written, in files being rewritten by others at the time
    /// (issue 15: the platform work on `POSIXStorage`, the everyday types on `Cursor`), as
    /// `file: declaration` (its line up to the body's brace). The list may only shrink: an
    /// entry that is no longer a gap fails the test until it is removed here, so that it
    /// cannot hide a later one.
    private let pendingGaps: Set<String> = []

    /// Every public declaration of the library's modules has a documentation comment.
    func testEveryPublicDeclarationIsDocumented() throws {
        let files = DocCommentScanner.libraryFiles(under: repositoryRoot)
        XCTAssertGreaterThan(files.count, 50, "the sources were not found under \(repositoryRoot.path)")
        var gaps: [DocCommentScanner.Gap] = []
        var publicFiles = 0
        for path in files {
            let text = try String(contentsOf: repositoryRoot.appendingPathComponent(path), encoding: .utf8)
            gaps += DocCommentScanner.gaps(inFile: path, text: text)
            if DocCommentScanner.publicDeclarationCount(in: text) > 0 { publicFiles += 1 }
        }
        XCTAssertGreaterThan(publicFiles, 20, "the scanner found almost no public declarations: it no longer reads them")
        let known = Set(gaps.map { "\($0.file): \($0.declaration)" })
        let new = gaps.filter { !pendingGaps.contains("\($0.file): \($0.declaration)") }
        XCTAssertTrue(new.isEmpty, "\(new.count) public declarations without a `///` comment:\n"
            + new.map(\.description).joined(separator: "\n"))
        let closed = pendingGaps.subtracting(known).sorted()
        XCTAssertTrue(closed.isEmpty, "documented now, remove from `pendingGaps`:\n" + closed.joined(separator: "\n"))
    }

    // MARK: - The scanner itself

    /// A file with every kind of public declaration, documented or not, and look-alikes that
    /// are not public API.
    private let fixture = """
        import Foundation
        @_exported import struct Other.Thing

        /// Documented.
        public struct Documented {
            /// Documented.
            public var a: Int { 1 }
            public let undocumentedProperty = 1
            /// Documented, with attributes between.
            @inlinable
            @discardableResult public func b() -> Int { 1 }
            let notPublic = "public func inAString()"
            // public func inAComment()
            private func notPublicEither() {}
            public internal(set) var undocumentedSetter = 0
        }

        public enum Kind {
            /// Documented.
            case one
            case undocumentedCase, another

            /// Documented.
            public var name: String {
                switch self {
                case .one: return "one"
                case .undocumentedCase, .another: return "other"
                }
            }
        }

        enum PackageEnum { case notPublic }

        /// Documented.
        public protocol Backend {
            func undocumentedRequirement()
            /// Documented.
            var documented: Int { get }
        }

        // A plain comment is no documentation.
        public final class UndocumentedClass {}

        public extension Documented {
            func undocumentedExtensionMember() {}
            private func hidden() {}
        }

        extension Documented {
            public static func undocumentedStatic() {}
            func internalMember() {}
        }
        """

    /// The scanner names exactly the undocumented public declarations of the fixture.
    func testTheScannerFindsEachUndocumentedPublicDeclaration() {
        let found = DocCommentScanner.gaps(inFile: "F.swift", text: fixture).map(\.declaration)
        XCTAssertEqual(found, [
            "public let undocumentedProperty = 1",
            "public internal(set) var undocumentedSetter = 0",
            "case undocumentedCase, another",
            "public enum Kind",
            "func undocumentedRequirement()",
            "public final class UndocumentedClass",
            "func undocumentedExtensionMember()",
            "public static func undocumentedStatic()",
        ].sorted { line($0) < line($1) })
        XCTAssertEqual(DocCommentScanner.publicDeclarationCount(in: fixture), 15)
    }

    /// The line of the fixture on which `declaration` stands (to list the expected gaps in order).
    private func line(_ declaration: String) -> Int {
        fixture.split(separator: "\n", omittingEmptySubsequences: false)
            .firstIndex { $0.trimmingCharacters(in: .whitespaces).hasPrefix(declaration) } ?? -1
    }

    /// Documenting a declaration removes it from the gaps; a blank line between undoes that.
    func testACommentCountsOnlyDirectlyAbove() {
        let documented = "/// A thing.\npublic struct Thing {}\n"
        XCTAssertEqual(DocCommentScanner.gaps(inFile: "F.swift", text: documented), [])
        let apart = "/// A thing.\n\npublic struct Thing {}\n"
        XCTAssertEqual(DocCommentScanner.gaps(inFile: "F.swift", text: apart).map(\.line), [3])
    }
}
