import Foundation

/// Reads Swift source just well enough to keep the layout rules (`LayoutRulesTests`): how long
/// each declaration with a body is, which exemptions its comments claim, and what a file imports.
/// Not a parser: comments and string literals are blanked first (so braces in them don't
/// count), then declarations are found by their first line and their bodies by brace counting.
enum LayoutScanner {
    /// The longest a file may be, in lines, without a `// long-file: <reason>` comment.
    static let fileLimit = 400
    /// The longest a declaration with a body may be, in lines from its first line to its closing
    /// brace, without a `// long-function: <reason>` comment directly above it.
    static let functionLimit = 60
    /// How far from the top of a file its `// long-file:` comment may be.
    static let fileExemptionReach = 30
    /// The fewest characters an exemption's reason may have.
    static let shortestReason = 10

    /// A declaration with a body (func, init, deinit, subscript, or a var/let whose first line
    /// opens a brace: a computed property or a closure), by its lines (1-based, inclusive).
    struct Declaration: Equatable {
        let name: String
        let firstLine: Int
        let lastLine: Int
        /// Its length in lines, first and last included.
        var length: Int { lastLine - firstLine + 1 }
    }

    /// What an exemption comment says: nothing, a reason, or the marker with no reason after it.
    enum Exemption: Equatable {
        case none
        case reason(String)
        case missingReason
    }

    // MARK: - Blanking comments and strings

    /// Where the blanker is: in code (at some depth of parentheses; `interpolation` when the
    /// code is inside `\( … )`), or in a string literal with its count of `#` and its quotes.
    private enum Context {
        case code(parentheses: Int, interpolation: Bool)
        case string(hashes: Int, multiline: Bool)
    }

    /// `text` with every comment and string literal replaced by spaces, newlines kept (so line
    /// numbers hold); code inside string interpolations is kept.
    static func blankingCommentsAndStrings(_ text: String) -> [UInt8] {
        var bytes = Array(text.utf8)
        var contexts: [Context] = [.code(parentheses: 0, interpolation: false)]
        var index = 0
        while index < bytes.count {
            switch contexts[contexts.count - 1] {
            case let .code(parentheses, interpolation):
                index = stepInCode(&bytes, at: index, &contexts, parentheses: parentheses, interpolation: interpolation)
            case let .string(hashes, multiline):
                index = stepInString(&bytes, at: index, &contexts, hashes: hashes, multiline: multiline)
            }
        }
        return bytes
    }

    /// Handles the byte at `index` in code; returns the index of the next byte to look at.
    private static func stepInCode(_ bytes: inout [UInt8], at index: Int, _ contexts: inout [Context],
                                   parentheses: Int, interpolation: Bool) -> Int {
        let byte = bytes[index]
        if byte == slash, peek(bytes, index + 1) == slash { return blankLineComment(&bytes, from: index) }
        if byte == slash, peek(bytes, index + 1) == star { return blankBlockComment(&bytes, from: index) }
        if byte == quote || byte == hash {
            var hashes = 0
            while peek(bytes, index + hashes) == hash { hashes += 1 }
            guard peek(bytes, index + hashes) == quote else { return index + max(hashes, 1) }
            let multiline = peek(bytes, index + hashes + 1) == quote && peek(bytes, index + hashes + 2) == quote
            let opening = hashes + (multiline ? 3 : 1)
            blank(&bytes, index ..< index + opening)
            contexts.append(.string(hashes: hashes, multiline: multiline))
            return index + opening
        }
        if byte == openParenthesis {
            contexts[contexts.count - 1] = .code(parentheses: parentheses + 1, interpolation: interpolation)
        } else if byte == closeParenthesis {
            if interpolation, parentheses == 0 {
                bytes[index] = space
                contexts.removeLast()
            } else {
                contexts[contexts.count - 1] = .code(parentheses: parentheses - 1, interpolation: interpolation)
            }
        }
        return index + 1
    }

    /// Handles the byte at `index` in a string literal; returns the index of the next byte to look at.
    private static func stepInString(_ bytes: inout [UInt8], at index: Int, _ contexts: inout [Context],
                                     hashes: Int, multiline: Bool) -> Int {
        let byte = bytes[index]
        if byte == backslash, (0 ..< hashes).allSatisfy({ peek(bytes, index + 1 + $0) == hash }) {
            let afterHashes = index + 1 + hashes
            if peek(bytes, afterHashes) == openParenthesis {
                blank(&bytes, index ... afterHashes)
                contexts.append(.code(parentheses: 0, interpolation: true))
                return afterHashes + 1
            }
            blank(&bytes, index ..< min(afterHashes + 1, bytes.count)) // an escape: `\"`, `\\`, `\n`…
            return afterHashes + 1
        }
        let quotes = multiline ? 3 : 1
        if byte == quote, (0 ..< quotes).allSatisfy({ peek(bytes, index + $0) == quote }),
           (0 ..< hashes).allSatisfy({ peek(bytes, index + quotes + $0) == hash }) {
            blank(&bytes, index ..< index + quotes + hashes)
            contexts.removeLast()
            return index + quotes + hashes
        }
        if byte != newline { bytes[index] = space }
        return index + 1
    }

    /// Blanks a `//` comment up to (not including) the end of its line; returns where it ends.
    private static func blankLineComment(_ bytes: inout [UInt8], from start: Int) -> Int {
        var index = start
        while index < bytes.count, bytes[index] != newline {
            bytes[index] = space
            index += 1
        }
        return index
    }

    /// Blanks a `/* … */` comment (they nest in Swift), newlines kept; returns where it ends.
    private static func blankBlockComment(_ bytes: inout [UInt8], from start: Int) -> Int {
        var depth = 0
        var index = start
        while index < bytes.count {
            if bytes[index] == slash, peek(bytes, index + 1) == star {
                depth += 1
                blank(&bytes, index ... index + 1)
                index += 2
            } else if bytes[index] == star, peek(bytes, index + 1) == slash {
                depth -= 1
                blank(&bytes, index ... index + 1)
                index += 2
                if depth == 0 { return index }
            } else {
                if bytes[index] != newline { bytes[index] = space }
                index += 1
            }
        }
        return index
    }

    /// The byte at `index`, or nil past the end.
    private static func peek(_ bytes: [UInt8], _ index: Int) -> UInt8? {
        index < bytes.count ? bytes[index] : nil
    }

    /// Replaces the bytes in `range` (newlines excepted) with spaces.
    private static func blank<R: RangeExpression<Int>>(_ bytes: inout [UInt8], _ range: R) {
        for index in range.relative(to: bytes.indices) where index < bytes.count && bytes[index] != newline {
            bytes[index] = space
        }
    }

    private static let slash = UInt8(ascii: "/"), star = UInt8(ascii: "*"), quote = UInt8(ascii: "\"")
    private static let hash = UInt8(ascii: "#"), backslash = UInt8(ascii: "\\"), newline = UInt8(ascii: "\n")
    private static let space = UInt8(ascii: " "), openParenthesis = UInt8(ascii: "("), closeParenthesis = UInt8(ascii: ")")
    private static let openBrace = UInt8(ascii: "{"), closeBrace = UInt8(ascii: "}")
    private static let openBracket = UInt8(ascii: "["), closeBracket = UInt8(ascii: "]")
}
