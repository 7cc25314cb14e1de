#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Buffered writes to a file descriptor (standard output or a file the tool creates), in
/// 1 MiB blocks, with encoders that write hex or LMDB's printable form straight into the
/// buffer. Memory stays constant however much is written; a value larger than the buffer is
/// encoded in pieces.
final class BufferedOutput {
    /// Where the bytes go, for messages ("standard output" or the file's path).
    let name: String
    private let descriptor: Int32
    private let ownsDescriptor: Bool
    private let capacity: Int
    private let buffer: UnsafeMutablePointer<UInt8>
    private var used = 0
    /// Bytes handed to `write(2)` so far.
    private(set) var bytesFlushed: UInt64 = 0

    // MARK: Opening and closing

    /// An output to a descriptor it does not own.
    init(descriptor: Int32, name: String, ownsDescriptor: Bool = false, capacity: Int = 1 << 20) {
        self.descriptor = descriptor
        self.name = name
        self.ownsDescriptor = ownsDescriptor
        self.capacity = capacity
        buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
    }

    /// Standard output.
    static func standardOutput() -> BufferedOutput { BufferedOutput(descriptor: 1, name: "standard output") }

    /// Creates (or truncates) the file at `path`, permissions 0644 before the umask.
    /// The corresponding C function is `open(path, O_WRONLY | O_CREAT | O_TRUNC)`.
    static func creatingFile(_ path: String) throws -> BufferedOutput {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ToolError.failure("cannot create \(path): \(String(cString: strerror(errno)))") }
        return BufferedOutput(descriptor: fd, name: path, ownsDescriptor: true)
    }

    /// Writes what is buffered and closes the descriptor if it is the output's own.
    func close() throws {
        try flush()
        if ownsDescriptor, closeDescriptor(descriptor) != 0 {
            throw ToolError.failure("cannot write \(name): \(String(cString: strerror(errno)))")
        }
    }

    deinit { buffer.deallocate() }

    // MARK: Writing

    /// Writes the buffered bytes with `write(2)`, retrying short writes and EINTR.
    func flush() throws {
        var offset = 0
        while offset < used {
            let written = writeDescriptor(descriptor, buffer + offset, used - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw ToolError.failure("cannot write \(name): \(String(cString: strerror(errno)))")
            }
            offset += written
        }
        bytesFlushed += UInt64(used)
        used = 0
    }

    /// Room for `count` bytes (at most the capacity) at the end of the buffer.
    @inline(__always)
    private func reserve(_ count: Int) throws -> UnsafeMutablePointer<UInt8> {
        if used + count > capacity { try flush() }
        return buffer + used
    }

    /// Appends one byte.
    @inline(__always)
    func write(byte: UInt8) throws {
        try reserve(1).pointee = byte
        used += 1
    }

    /// Appends raw bytes.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let chunk = min(capacity, bytes.count - offset)
            let destination = try reserve(chunk)
            destination.update(from: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self) + offset, count: chunk)
            used += chunk
            offset += chunk
        }
    }

    /// Appends the UTF-8 bytes of a string.
    func write(_ text: String) throws {
        var text = text
        try text.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    /// Appends `bytes` as lowercase hex.
    func writeHex(_ bytes: UnsafeRawBufferPointer) throws {
        let digits = ByteEscaping.hexDigits
        var offset = 0
        while offset < bytes.count {
            let chunk = min(capacity / 2, bytes.count - offset)
            let destination = try reserve(2 * chunk)
            for i in 0 ..< chunk {
                let byte = bytes[offset + i]
                destination[2 * i] = digits[Int(byte >> 4)]
                destination[2 * i + 1] = digits[Int(byte & 0x0F)]
            }
            used += 2 * chunk
            offset += chunk
        }
    }

    /// Appends `bytes` in LMDB's printable form (see `ByteEscaping`).
    func writePrintable(_ bytes: UnsafeRawBufferPointer) throws {
        let digits = ByteEscaping.hexDigits
        var offset = 0
        while offset < bytes.count {
            let chunk = min(capacity / 3, bytes.count - offset)
            let destination = try reserve(3 * chunk)
            var n = 0
            for i in 0 ..< chunk {
                let byte = bytes[offset + i]
                if ByteEscaping.isPrintable(byte) {
                    if byte == ByteEscaping.backslash {
                        destination[n] = byte
                        n += 1
                    }
                    destination[n] = byte
                    n += 1
                } else {
                    destination[n] = ByteEscaping.backslash
                    destination[n + 1] = digits[Int(byte >> 4)]
                    destination[n + 2] = digits[Int(byte & 0x0F)]
                    n += 3
                }
            }
            used += n
            offset += chunk
        }
    }
}

// MARK: System calls

/// `close(2)`, named apart from `BufferedOutput.close()`.
private func closeDescriptor(_ descriptor: Int32) -> Int32 { close(descriptor) }

/// `write(2)`, named apart from `BufferedOutput.write`.
private func writeDescriptor(_ descriptor: Int32, _ bytes: UnsafeMutablePointer<UInt8>, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}
