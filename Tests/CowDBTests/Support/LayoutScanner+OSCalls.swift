import Foundation

// The platform rule of issue 15: every call to the operating system is in the files named
// OS*.swift of Sources/CowDBStorage (docs/DESIGN.md, "Where the operating system is called"),
// so that a port is those files. Anywhere else in Sources/, a C platform module, swift-system,
// or a C library call that only the OS files may make is a violation.

extension LayoutScanner {
    /// Where the OS calls live.
    static let osFilePrefix = "Sources/CowDBStorage/OS"

    /// Files outside the OS files that may import swift-system, and why.
    static let systemPackageUsers: [String: String] = [
        "Sources/CowDBFormat/CowDBError.swift": "an I/O error's text is `Errno.description` (portable: no call of its own)",
    ]

    /// The C platform modules (and swift-system), whose import, `canImport` or qualified use
    /// outside the OS files is a violation.
    static let platformModules = ["Glibc", "Darwin", "Musl", "Bionic", "WASILibc", "WinSDK", "ucrt", "SystemPackage"]

    /// The C library calls an unqualified name can reach (Foundation re-exports the C module).
    /// `open`, `close`, `read`, `write`, `rename` and `unlink` are left out: StorageBackend
    /// methods have those names.
    private static let callPattern = try! NSRegularExpression(pattern:
        #"\b(pthread_[a-z_]+|usleep|nanosleep|sleep|fdatasync|fsync|mmap|munmap|madvise|fcntl|flock|ftruncate|"#
        + #"pread|pwrite|lseek|fstat|lstat|stat|access|mkdir|rmdir|opendir|readdir|closedir|posix_fallocate|"#
        + #"clock_gettime|gettimeofday|getpid|syscall|strerror|memcmp|memcpy|memmove|memset|signal|sigaction|kill)\s*\("#)

    /// The OS rule's violations in the file at `path` (relative to the root) with contents `text`.
    static func osCallViolations(inFile path: String, text: String) -> [LayoutViolation] {
        guard path.hasPrefix("Sources/"), path.hasSuffix(".swift"), !path.hasPrefix(osFilePrefix) else { return [] }
        let code = String(decoding: blankingCommentsAndStrings(text), as: UTF8.self)
        var found: [LayoutViolation] = []
        for (number, line) in code.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(line)
            for module in platformModules where mentions(module, in: line) {
                if module == "SystemPackage", systemPackageUsers[path] != nil { continue }
                found.append(LayoutViolation(file: path, line: number + 1, name: module,
                                             message: "uses the platform outside \(osFilePrefix)*.swift (a port must find every OS call there)"))
            }
            let range = NSRange(line.startIndex..., in: line)
            for match in callPattern.matches(in: line, range: range) {
                guard let call = Range(match.range(at: 1), in: line), !isMember(line, before: call.lowerBound) else { continue }
                found.append(LayoutViolation(file: path, line: number + 1, name: String(line[call]),
                                             message: "calls the C library outside \(osFilePrefix)*.swift: add an OS function there"))
            }
        }
        return found
    }

    /// Whether `line` imports (`import Glibc`, `import func Glibc.sleep`), tests for (`canImport`)
    /// or qualifies a name with (`Glibc.open`) `module`.
    private static func mentions(_ module: String, in line: String) -> Bool {
        let pattern = #"\bimport\s+(\w+\s+)?"# + module + #"\b|\bcanImport\(\s*"# + module + #"\b|\b"# + module + #"\s*\."#
        return line.range(of: pattern, options: .regularExpression) != nil
    }

    /// Whether the name starting at `index` is a member (`x.sleep(`) or a declaration (`func sleep(`),
    /// not a call of the C function.
    private static func isMember(_ line: String, before index: String.Index) -> Bool {
        let before = line[..<index].reversed().drop { $0 == " " }
        if before.first == "." { return true }
        return line[..<index].hasSuffix("func ")
    }
}
