// The disk under the benchmark: its filesystem, its sync latency, and the engines' footprints.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Facts about the directory the engines write to, and file operations on it.
enum Disk {
    /// The bytes a directory occupies on disk: the sum of `st_blocks * 512` over every file
    /// below it (sparse regions and preallocation count as the filesystem counts them).
    static func footprint(of path: String) -> UInt64 {
        var total: UInt64 = 0
        for file in files(under: path) {
            var info = stat()
            if lstat(file, &info) == 0 { total += UInt64(info.st_blocks) * 512 }
        }
        return total
    }

    /// Drops the page cache of every file below `path` (`posix_fadvise(POSIX_FADV_DONTNEED)`
    /// after an `fsync`, since dirty pages cannot be dropped): the next reads come from the disk.
    static func dropCache(under path: String) {
        for file in files(under: path) {
            let fd = open(file, O_RDONLY)
            guard fd >= 0 else { continue }
            _ = fsync(fd)
            _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
            close(fd)
        }
    }

    /// Writes every dirty page of the system to disk (`sync`), then drops the page cache of
    /// every file below `path`: what one engine wrote neither stays cached nor is still being
    /// written back while the next engine runs.
    static func flushAndDropCache(under path: String) {
        sync()
        dropCache(under: path)
    }

    /// The type of the filesystem holding `path` and its source, e.g. "ext4 (/dev/vda)": the
    /// entry of /proc/self/mountinfo with the longest mount point containing `path` (what
    /// `statfs`'s `f_type` names, without a table of magic numbers).
    static func filesystemName(of path: String) -> String {
        let resolved = (path as NSString).resolvingSymlinksInPath
        guard let table = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return "unknown" }
        var best: (mountPoint: String, type: String, source: String)?
        for line in table.split(separator: "\n") {
            // "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw": the mount
            // point is field 5; after the "-" separator come the type and the source.
            let fields = line.split(separator: " ").map(String.init)
            guard fields.count > 4, let dash = fields.firstIndex(of: "-"), dash + 2 < fields.count else { continue }
            let mountPoint = fields[4].replacingOccurrences(of: "\\040", with: " ")
            let inside = mountPoint == "/" || resolved == mountPoint || resolved.hasPrefix(mountPoint + "/")
            if inside, mountPoint.count >= (best?.mountPoint.count ?? -1) {
                best = (mountPoint, fields[dash + 1], fields[dash + 2])
            }
        }
        return best.map { "\($0.type) (\($0.source) on \($0.mountPoint))" } ?? "unknown"
    }

    /// The median latency, in seconds, of appending 4 KiB to a file in `directory` and calling
    /// `fdatasync` (what a durable single-page commit costs at least on this disk).
    static func syncLatency(in directory: String, samples: Int = 50) -> Double {
        let path = directory + "/sync-probe"
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { return .nan }
        defer {
            close(fd)
            unlink(path)
        }
        let page = [UInt8](repeating: 0xA5, count: 4096)
        var times: [Double] = []
        for i in 0 ..< samples {
            let start = Clock.now()
            let written = page.withUnsafeBytes { pwrite(fd, $0.baseAddress, 4096, off_t(i * 4096)) }
            guard written == 4096, fdatasync(fd) == 0 else { return .nan }
            times.append(Clock.now() - start)
        }
        return times.sorted()[samples / 2]
    }

    /// Every regular file below `path`.
    private static func files(under path: String) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: path) else { return [] }
        var result: [String] = []
        while let name = enumerator.nextObject() as? String {
            let full = path + "/" + name
            var info = stat()
            if lstat(full, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG { result.append(full) }
        }
        return result
    }

    /// The disk's sequential write speed in bytes per second, as `dd` measures it: `bytes` of
    /// zeros in 1 MiB blocks to a file in `directory`, synced at the end (`conv=fdatasync`).
    /// 0 when `dd` is missing or its output cannot be read.
    static func sequentialWriteSpeed(in directory: String, bytes: Int) -> Double {
        let target = directory + "/dd.tmp"
        defer { try? FileManager.default.removeItem(atPath: target) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/dd")
        process.arguments = ["if=/dev/zero", "of=\(target)", "bs=1M", "count=\(max(1, bytes >> 20))", "conv=fdatasync"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return 0 }
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // "… bytes (…) copied, 1.234 s, 870 MB/s": bytes over seconds, from the last line.
        guard let line = text.split(separator: "\n").last(where: { $0.contains("copied") }) else { return 0 }
        let fields = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard fields.count >= 2, let copied = Double(fields[0].split(separator: " ").first ?? ""),
              let seconds = Double(fields[fields.count - 2].split(separator: " ").first ?? ""), seconds > 0 else { return 0 }
        return copied / seconds
    }
}

/// A monotonic clock in seconds.
enum Clock {
    /// Seconds since an arbitrary start, monotonic.
    static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    /// The CPU seconds (user and system) this process has used so far, all threads included:
    /// on a busy machine a better guide than wall-clock time to what a change saved.
    static func processorTime() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        return user + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }

    /// Runs `body` and returns how many seconds it took.
    static func measure(_ body: () throws -> Void) rethrows -> Double {
        let start = now()
        try body()
        return now() - start
    }
}
