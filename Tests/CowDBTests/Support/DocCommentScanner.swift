import Foundation

/// Finds the public API declarations of a Swift file that have no `///` documentation comment
/// directly above them (`DocCommentRulesTests`). Public means: declared `public` or `open`; a
/// `case` directly inside a public enum; a member directly inside a public protocol; a member
/// without an access modifier directly inside a `public extension`. Attribute lines
/// (`@inlinable`, `@discardableResult`, …) may stand between the comment and the declaration;
/// a blank line or a `//` comment may not. Not a parser: comments and strings are blanked first
/// (`LayoutScanner.blankingCommentsAndStrings`), then each line is read by its leading words and
/// the scopes it is in are followed by counting braces.
enum DocCommentScanner {
    /// A public declaration without a documentation comment.
    struct Gap: Equatable, CustomStringConvertible {
        /// The file, relative to the repository's root.
        let file: String
        /// Its first line (1-based).
        let line: Int
        /// The declaration's line up to its body's brace, trimmed (`public var count: UInt64`).
        let declaration: String

        var description: String { "\(file):\(line): \(declaration)" }
    }

    /// What a brace opened: a type's body (with its kind and whether it is public API), or
    /// anything else (a function body, a closure, an accessor block, a `switch`).
    private enum Scope: Equatable {
        case type(keyword: String, isPublic: Bool)
        case other
    }

    /// The words that introduce a declaration.
    private static let declarationKeywords: Set<String> = [
        "func", "init", "deinit", "subscript", "var", "let", "case", "struct", "class", "enum",
        "protocol", "extension", "typealias", "associatedtype", "actor", "macro",
    ]

    /// The words that may precede a declaration's keyword (an access level, `static`, …).
    private static let modifiers: Set<String> = [
        "public", "open", "package", "internal", "fileprivate", "private", "static", "class", "final",
        "override", "lazy", "weak", "unowned", "nonisolated", "mutating", "nonmutating", "convenience",
        "required", "dynamic", "optional", "indirect", "consuming", "borrowing", "distributed",
    ]

    /// The folders whose files are the library's API, relative to the repository's root.
    static let scannedFolderPrefix = "Sources/CowDB"

    /// Every `.swift` file of the library's modules (`Sources/CowDB*/`), relative to `root`, sorted.
    static func libraryFiles(under root: URL) -> [String] {
        LayoutScanner.swiftFiles(under: root).filter { $0.hasPrefix(scannedFolderPrefix) }
    }

    /// Every public declaration of `text` (the file at `path`) without a `///` comment above it.
    static func gaps(inFile path: String, text: String) -> [Gap] {
        let rawLines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return publicDeclarationLines(in: text).filter { !isDocumented(above: $0, in: rawLines) }.map { index in
            Gap(file: path, line: index + 1,
                declaration: rawLines[index].prefix { $0 != "{" }.trimmingCharacters(in: .whitespaces))
        }
    }

    /// How many public declarations `text` has, documented or not.
    static func publicDeclarationCount(in text: String) -> Int { publicDeclarationLines(in: text).count }

    /// The lines (0-based) of `text` on which a public declaration begins.
    private static func publicDeclarationLines(in text: String) -> [Int] {
        let code = String(decoding: LayoutScanner.blankingCommentsAndStrings(text), as: UTF8.self)
        var scopes: [Scope] = []
        var pending: Scope?
        var found: [Int] = []
        for (index, line) in code.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if let declaration = declaration(in: line) {
                if isPublicAPI(declaration, in: scopes.last) { found.append(index) }
                pending = declaration.opensScope
            }
            for character in line {
                if character == "{" {
                    scopes.append(pending ?? .other)
                    pending = nil
                } else if character == "}", !scopes.isEmpty {
                    scopes.removeLast()
                }
            }
        }
        return found
    }

    // MARK: - Reading a line

    /// A line's declaration: its keyword and the modifiers before it.
    private struct Declaration {
        let keyword: String
        let modifiers: Set<String>

        /// The scope its body opens, if it has one.
        var opensScope: Scope {
            ["struct", "class", "enum", "protocol", "extension", "actor"].contains(keyword)
                ? .type(keyword: keyword, isPublic: modifiers.contains("public") || modifiers.contains("open"))
                : .other
        }
    }

    /// The declaration that `line` (comments and strings blanked) begins, or nil.
    private static func declaration(in line: Substring) -> Declaration? {
        var words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)[...]
        while let first = words.first, first.hasPrefix("@") {
            // An attribute, possibly with arguments: skip to the word after its closing parenthesis.
            if first.contains("("), !first.contains(")") {
                while let word = words.first, !word.contains(")") { words.removeFirst() }
            }
            words.removeFirst()
        }
        var found: Set<String> = []
        while let word = words.first {
            let bare = word.hasSuffix("(set)") ? String(word.dropLast(5)) : word
            if word == "class", let next = words.dropFirst().first, ["func", "var", "subscript"].contains(next) {
                found.insert(word)
            } else if declarationKeywords.contains(firstIdentifier(of: word)) {
                return Declaration(keyword: firstIdentifier(of: word), modifiers: found)
            } else if modifiers.contains(bare) {
                found.insert(bare)
            } else {
                return nil
            }
            words.removeFirst()
        }
        return nil
    }

    /// The leading identifier of a word (`init` of `init(path:`, `func` of `func`).
    private static func firstIdentifier(of word: String) -> String {
        String(word.prefix { $0.isLetter || $0.isNumber || $0 == "_" })
    }

    /// Whether `declaration`, directly inside `enclosing` (nil: at file level), is public API.
    private static func isPublicAPI(_ declaration: Declaration, in enclosing: Scope?) -> Bool {
        if declaration.keyword == "extension" || declaration.keyword == "deinit" { return false }
        if declaration.modifiers.contains("public") || declaration.modifiers.contains("open") { return true }
        guard case let .type(keyword, isPublic)? = enclosing, isPublic else { return false }
        switch keyword {
        case "enum": return declaration.keyword == "case"
        case "protocol": return true
        case "extension":
            return declaration.modifiers.isDisjoint(with: ["package", "internal", "fileprivate", "private"])
        default: return false
        }
    }

    /// Whether a `///` line stands directly above line `index` (0-based) of `lines`, attribute
    /// lines skipped.
    private static func isDocumented(above index: Int, in lines: [Substring]) -> Bool {
        var above = index - 1
        while above >= 0 {
            let line = lines[above].trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("@") {
                above -= 1
                continue
            }
            return line.hasPrefix("///")
        }
        return false
    }
}
