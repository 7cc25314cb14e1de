import Foundation

extension LayoutScanner {
    // MARK: - Declarations with bodies

    /// The modifiers and attributes that may come before a declaration's keyword on its line.
    private static let leadingWords =
        #"^\s*(?:@[A-Za-z_]+(?:\([^)]*\))?\s+|(?:public|private|fileprivate|internal|package|open)(?:\(set\))?\s+|"#
        + #"(?:static|class|final|override|lazy|weak|unowned|nonisolated|mutating|nonmutating|convenience|"#
        + #"required|dynamic|optional|indirect|consuming|borrowing)\s+)*"#

    /// A line that begins a declaration with a possible body; group 1 is its keyword, group 2 what follows.
    private static let declarationPattern = try! NSRegularExpression(
        pattern: leadingWords + #"(func|init|deinit|subscript|var|let)\b(.*)$"#)

    /// A line that begins a declaration of any kind, or closes one: where a bodiless `func` (a
    /// protocol requirement) is known to have ended.
    private static let nextDeclarationPattern = try! NSRegularExpression(
        pattern: leadingWords + #"(?:func|init|deinit|subscript|var|let|case|struct|class|enum|protocol|extension|typealias|associatedtype|actor)\b|^\s*[}#@]"#)

    /// Every declaration with a body in `text`, in order of its first line.
    static func declarations(in text: String) -> [Declaration] {
        let code = blankingCommentsAndStrings(text)
        let lineStarts = [0] + code.indices.filter { code[$0] == UInt8(ascii: "\n") }.map { $0 + 1 }
        var found: [Declaration] = []
        for (number, start) in lineStarts.enumerated() {
            let end = number + 1 < lineStarts.count ? lineStarts[number + 1] - 1 : code.count
            let line = String(decoding: code[start ..< end], as: UTF8.self)
            guard let match = firstMatch(declarationPattern, in: line), let keyword = match[1], let rest = match[2] else { continue }
            let restStart = start + line.utf8.count - rest.utf8.count
            let brace = keyword == "var" || keyword == "let"
                ? code[restStart ..< end].firstIndex(of: UInt8(ascii: "{"))
                : bodyBrace(in: code, from: restStart)
            guard let brace, let close = matchingBrace(in: code, of: brace) else { continue }
            let lastLine = lineStarts.lastIndex { $0 <= close }! + 1
            found.append(Declaration(name: name(keyword: keyword, rest: rest), firstLine: number + 1, lastLine: lastLine))
        }
        return found
    }

    /// The brace that opens the body of a func, init, deinit or subscript whose signature starts
    /// at `start`: the first `{` outside parentheses and brackets, unless another declaration
    /// (or the end of the enclosing one) comes first, as after a protocol requirement.
    private static func bodyBrace(in code: [UInt8], from start: Int) -> Int? {
        var depth = 0
        var index = start
        while index < code.count {
            switch code[index] {
            case UInt8(ascii: "("), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: ")"), UInt8(ascii: "]"): depth -= 1
            case UInt8(ascii: "{") where depth == 0: return index
            case UInt8(ascii: "}") where depth == 0: return nil
            case UInt8(ascii: "\n") where depth == 0:
                let lineEnd = code[(index + 1)...].firstIndex(of: UInt8(ascii: "\n")) ?? code.count
                let next = String(decoding: code[(index + 1) ..< lineEnd], as: UTF8.self)
                if firstMatch(nextDeclarationPattern, in: next) != nil { return nil }
            default: break
            }
            index += 1
        }
        return nil
    }

    /// The index of the `}` that closes the `{` at `open`, or nil if the text ends first.
    private static func matchingBrace(in code: [UInt8], of open: Int) -> Int? {
        var depth = 0
        for index in open ..< code.count {
            if code[index] == UInt8(ascii: "{") { depth += 1 }
            if code[index] == UInt8(ascii: "}") {
                depth -= 1
                if depth == 0 { return index }
            }
        }
        return nil
    }

    /// The name a report gives a declaration: `init`, `deinit`, `subscript`, or the identifier
    /// (or operator) after `func`, `var` or `let`.
    private static func name(keyword: String, rest: String) -> String {
        guard ["func", "var", "let"].contains(keyword) else { return keyword }
        let trimmed = rest.drop { $0 == " " }
        let name = trimmed.prefix { !" (<:={".contains($0) }
        return name.isEmpty ? keyword : String(name)
    }

    // MARK: - Exemptions

    /// What `// long-function:` says in the comment and attribute lines directly above line
    /// `firstLine` (1-based) of `lines`.
    static func functionExemption(above firstLine: Int, in lines: [Substring]) -> Exemption {
        var index = firstLine - 2
        while index >= 0 {
            let line = lines[index].trimmingCharacters(in: .whitespaces)
            guard line.hasPrefix("//") || line.hasPrefix("@") else { break }
            if let exemption = exemption(marker: "long-function:", in: line) { return exemption }
            index -= 1
        }
        return .none
    }

    /// What `// long-file:` says in the first lines of a file.
    static func fileExemption(in lines: [Substring]) -> Exemption {
        for line in lines.prefix(fileExemptionReach) {
            if let exemption = exemption(marker: "long-file:", in: line.trimmingCharacters(in: .whitespaces)) {
                return exemption
            }
        }
        return .none
    }

    /// The exemption a comment line gives with `marker` (nil if it has none).
    private static func exemption(marker: String, in line: String) -> Exemption? {
        guard line.hasPrefix("//"), !line.hasPrefix("///") else { return nil }
        let comment = line.dropFirst(2).drop { $0 == " " }
        guard comment.hasPrefix(marker) else { return nil }
        let reason = comment.dropFirst(marker.count).trimmingCharacters(in: .whitespaces)
        return reason.count >= shortestReason ? .reason(reason) : .missingReason
    }

    // MARK: - Imports

    /// An import line; group 1 is the module (its first component).
    private static let importPattern = try! NSRegularExpression(
        pattern: #"^\s*(?:@[A-Za-z_]+\s+)*import\s+(?:(?:typealias|struct|class|enum|protocol|let|var|func)\s+)?([A-Za-z_][A-Za-z0-9_]*)"#)

    /// Every module `text` imports, with the line (1-based) of each import.
    static func imports(in text: String) -> [(module: String, line: Int)] {
        let code = String(decoding: blankingCommentsAndStrings(text), as: UTF8.self)
        return code.split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap { number, line in
            firstMatch(importPattern, in: String(line))?[1].map { ($0, number + 1) }
        }
    }

    /// The groups of `pattern`'s first match in `line` (index 0 the whole match), or nil.
    private static func firstMatch(_ pattern: NSRegularExpression, in line: String) -> [String?]? {
        guard let match = pattern.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)) else { return nil }
        return (0 ..< match.numberOfRanges).map { group in
            Range(match.range(at: group), in: line).map { String(line[$0]) }
        }
    }
}
