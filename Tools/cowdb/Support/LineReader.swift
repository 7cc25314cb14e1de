#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads lines from a file descriptor (standard input or a file) in 1 MiB blocks, counting
/// them, in memory proportional to the longest line rather than to the input.
final class LineReader {
    /// Where the lines come from, for messages ("standard input" or the file's path).
    let name: String
    /// The size of the input when it is a regular file (for progress), else nil.
    let totalBytes: UInt64?
    /// Lines handed out so far: the number of the last line read (1-based).
    private(set) var lineNumber = 0
    /// Bytes consumed so far, newlines included.
    private(set) var bytesConsumed: UInt64 = 0

    private let descriptor: Int32
    private let ownsDescriptor: Bool
    private var storage: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// Unconsumed bytes are [start, end) of `storage`.
    private var start = 0
    private var end = 0
    /// Bytes after `start` already searched for a newline (so a long line is scanned once).
    private var searched = 0
    private var atEndOfInput = false

    // MARK: Opening

    /// Reads from `descriptor`.
    init(descriptor: Int32, name: String, ownsDescriptor: Bool = false) {
        self.descriptor = descriptor
        self.name = name
        self.ownsDescriptor = ownsDescriptor
        var info = stat()
        if fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG {
            totalBytes = UInt64(info.st_size)
        } else {
            totalBytes = nil
        }
        capacity = 1 << 20
        storage = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
    }

    /// Standard input.
    static func standardInput() -> LineReader { LineReader(descriptor: 0, name: "standard input") }

    /// Opens the file at `path` for reading.
    static func opening(_ path: String) throws -> LineReader {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ToolError.failure("cannot open \(path): \(String(cString: strerror(errno)))") }
        return LineReader(descriptor: fd, name: path, ownsDescriptor: true)
    }

    deinit {
        storage.deallocate()
        if ownsDescriptor { close(descriptor) }
    }

    // MARK: Reading

    /// Calls `body` with the next line, without its newline, and whether a newline ended it
    /// (false only for a last line at the end of the input). The bytes are valid only inside
    /// `body`. Returns nil at the end of the input.
    func readLine<R>(_ body: (UnsafeBufferPointer<UInt8>, _ terminated: Bool) throws -> R) throws -> R? {
        while true {
            let unsearched = storage + start + searched
            if let newline = memchr(unsearched, Int32(UInt8(ascii: "\n")), end - start - searched) {
                let length = newline.assumingMemoryBound(to: UInt8.self) - (storage + start)
                return try hand(length: length, consumed: length + 1, terminated: true, body)
            }
            searched = end - start
            if atEndOfInput {
                guard end > start else { return nil }
                return try hand(length: end - start, consumed: end - start, terminated: false, body)
            }
            try fill()
        }
    }

    /// Hands `length` bytes at `start` to `body` and consumes `consumed` bytes.
    private func hand<R>(length: Int, consumed: Int, terminated: Bool,
                         _ body: (UnsafeBufferPointer<UInt8>, Bool) throws -> R) throws -> R {
        let line = UnsafeBufferPointer(start: storage + start, count: length)
        start += consumed
        searched = 0
        lineNumber += 1
        bytesConsumed += UInt64(consumed)
        return try body(line, terminated)
    }

    /// Reads more input after the unconsumed bytes, moving them to the front or growing the
    /// buffer first when it is full. The corresponding C function is `read`.
    private func fill() throws {
        if start > 0 {
            if end > start { memmove(storage, storage + start, end - start) }
            end -= start
            start = 0
        }
        if end == capacity {
            let larger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity * 2)
            larger.update(from: storage, count: end)
            storage.deallocate()
            storage = larger
            capacity *= 2
        }
        while true {
            let count = read(descriptor, storage + end, capacity - end)
            if count < 0 {
                if errno == EINTR { continue }
                throw ToolError.failure("cannot read \(name): \(String(cString: strerror(errno)))")
            }
            if count == 0 { atEndOfInput = true }
            end += count
            return
        }
    }
}
