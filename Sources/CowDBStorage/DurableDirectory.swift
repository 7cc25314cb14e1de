import CowDBFormat

// Making a directory's path survive a power cut. A new directory entry is durable only once
// the directory holding it is synced, and that directory's own entry only once its parent is
// synced: `mkdir -p a/b/c` followed by an `fsync` of `a/b` alone can lose `a` (and with it
// everything below) to a power cut. So a new database syncs every level of its path.

extension StorageBackend {
    /// Syncs `path` and every directory above it, up to "/" (or "." for a relative path),
    /// so that the whole path survives a power cut. A level above `path` that this process
    /// may not open (`EACCES`, `EPERM`: it did not create it, so its entry is as durable as
    /// whoever made it left it), or whose file system cannot sync a directory or is read-only
    /// (`EINVAL`, `EROFS`: nothing there is waiting to be written), is skipped.
    package func syncEveryLevel(of path: String) throws {
        try syncDirectory(path)
        var level = path
        while true {
            let parent = parentDirectory(of: level)
            if parent == level { break } // "/" or "."
            level = parent
            do {
                try syncDirectory(level)
            } catch let CowDBError.io(_, _, code) where Self.skippedLevelErrors.contains(code) {
                continue
            }
        }
    }

    /// EACCES, EPERM, EINVAL, EROFS: see `syncEveryLevel(of:)`.
    private static var skippedLevelErrors: [Int32] {
        [OSErrno.permissionDenied, OSErrno.notPermitted, OSErrno.invalidArgument, OSErrno.readOnlyFileSystem]
    }
}

/// The directory holding `path` ("." for a bare name, "/" for a top-level one; "/" and "."
/// are their own). Plain string work: Foundation's `deletingLastPathComponent` traps on "//".
package func parentDirectory(of path: String) -> String {
    var trimmed = Substring(path)
    while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
    if trimmed == "/" || trimmed == "." || trimmed.isEmpty { return trimmed.isEmpty ? "." : String(trimmed) }
    guard let slash = trimmed.lastIndex(of: "/") else { return "." }
    var parent = trimmed[..<slash]
    while parent.hasSuffix("/") { parent = parent.dropLast() }
    return parent.isEmpty ? "/" : String(parent)
}
