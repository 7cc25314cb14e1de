import Foundation

/// One broken layout rule, at a file and line.
struct LayoutViolation: Equatable, CustomStringConvertible {
    /// The file, relative to the repository's root (`Sources/CowDB/Database.swift`).
    let file: String
    let line: Int
    /// The declaration's name, or `(file)` for a rule about the whole file.
    let name: String
    let message: String

    var description: String { "\(file):\(line): \(name): \(message)" }
}

extension LayoutScanner {
    /// The folders whose `.swift` files keep the rules, relative to the repository's root.
    static let scannedFolders = ["Sources", "Tools", "Tests"]

    /// The name a file-wide violation carries.
    static let wholeFile = "(file)"

    /// For each layer's folder, the modules above it, which none of its files may import.
    static let modulesAbove: [(folder: String, modules: Set<String>)] = [
        ("Sources/CowDBFormat/", replication.union(["CowDBStorage", "CowDBTree", "CowDB"])),
        ("Sources/CowDBStorage/", replication.union(["CowDBTree", "CowDB"])),
        ("Sources/CowDBTree/", replication.union(["CowDB"])),
        ("Sources/CowDB/", replication),
    ]

    /// Replication and its dependencies (HTTP, crypto): above the library, which never imports them.
    static let replication: Set<String> = ["CowDBReplication", "AsyncHTTPClient", "Crypto", "NIOCore", "NIOPosix", "NIOHTTP1"]

    /// Every `.swift` file under `scannedFolders` of `root`, as paths relative to it, sorted.
    static func swiftFiles(under root: URL) -> [String] {
        var paths: [String] = []
        for folder in scannedFolders {
            let base = root.appendingPathComponent(folder)
            guard let files = FileManager.default.enumerator(at: base, includingPropertiesForKeys: nil) else { continue }
            for case let url as URL in files where url.pathExtension == "swift" {
                let path = url.standardizedFileURL.path
                let rootPath = root.standardizedFileURL.path + "/"
                paths.append(path.hasPrefix(rootPath) ? String(path.dropFirst(rootPath.count)) : path)
            }
        }
        return paths.sorted()
    }

    /// Every layout rule the file at `path` (relative to the root) with contents `text` breaks:
    /// its length, its declarations' lengths, its exemptions, and its imports.
    static func violations(inFile path: String, text: String) -> [LayoutViolation] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let lineCount = text.hasSuffix("\n") ? lines.count - 1 : lines.count
        var found: [LayoutViolation] = []
        func report(_ line: Int, _ name: String, _ message: String) {
            found.append(LayoutViolation(file: path, line: line, name: name, message: message))
        }
        switch fileExemption(in: lines) {
        case .none where lineCount > fileLimit:
            report(1, wholeFile, "\(lineCount) lines (limit \(fileLimit)): split it, or say why in `// long-file: <reason>`")
        case .missingReason:
            report(1, wholeFile, "`// long-file:` needs a reason")
        case .reason where lineCount <= fileLimit:
            report(1, wholeFile, "\(lineCount) lines: the `// long-file:` exemption is not needed, remove it")
        default: break
        }
        for declaration in declarations(in: text) {
            let long = declaration.length > functionLimit
            switch functionExemption(above: declaration.firstLine, in: lines) {
            case .none where long:
                report(declaration.firstLine, declaration.name,
                       "\(declaration.length) lines (limit \(functionLimit)): split it, or say why in `// long-function: <reason>` above it")
            case .missingReason:
                report(declaration.firstLine, declaration.name, "`// long-function:` needs a reason")
            case .reason where !long:
                report(declaration.firstLine, declaration.name,
                       "\(declaration.length) lines: the `// long-function:` exemption is not needed, remove it")
            default: break
            }
        }
        for (folder, forbidden) in modulesAbove where path.hasPrefix(folder) {
            for (module, line) in imports(in: text) where forbidden.contains(module) {
                report(line, "import \(module)", "a lower layer imports a higher one (\(folder) must not import \(forbidden.sorted().joined(separator: ", ")))")
            }
        }
        return found
    }
}
