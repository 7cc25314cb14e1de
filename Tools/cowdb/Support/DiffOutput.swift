import CowDB

/// One difference's parts, as views: what `diff` and `watch` print.
struct DiffParts {
    var change: DiffEntry.Change
    var keyspace: String?
    var key: UnsafeRawBufferPointer
    var oldValue: UnsafeRawBufferPointer?
    var newValue: UnsafeRawBufferPointer?
}

extension DiffView {
    /// This difference's parts.
    var parts: DiffParts { DiffParts(change: change, keyspace: keyspace, key: key, oldValue: oldValue, newValue: newValue) }
}

extension DiffEntry {
    /// Calls `body` with this difference's parts (views of its arrays).
    func withParts<R>(_ body: (DiffParts) throws -> R) rethrows -> R {
        try key.withUnsafeBytes { key in
            try withOptionalBytes(oldValue) { old in
                try withOptionalBytes(newValue) { new in
                    try body(DiffParts(change: change, keyspace: keyspace, key: key, oldValue: old, newValue: new))
                }
            }
        }
    }
}

/// Views of `bytes`, or nil.
private func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) throws -> R) rethrows -> R {
    guard let bytes else { return try body(nil) }
    return try bytes.withUnsafeBytes { try body($0) }
}

/// How `diff` and `watch` print a difference: a text line or a JSON object.
struct DiffOutput {
    /// Keys and values as hex in text lines.
    var hex: Bool

    /// One change as a text line: `+ KEY<TAB>NEW`, `- KEY<TAB>OLD`, `~ KEY<TAB>OLD<TAB>NEW`.
    func write(text change: DiffParts, to output: BufferedOutput) throws {
        let mark = change.change == .added ? "+ " : change.change == .removed ? "- " : "~ "
        try output.write(mark)
        try writeBytes(change.key, to: output)
        for value in [change.oldValue, change.newValue].compactMap({ $0 }) {
            try output.write(byte: UInt8(ascii: "\t"))
            try writeBytes(value, to: output)
        }
        try output.write(byte: UInt8(ascii: "\n"))
    }

    /// One change as a JSON object on one line (with `"version"` first when given).
    func write(json change: DiffParts, version: UInt64?, to output: BufferedOutput) throws {
        try output.write("{" + (version.map { "\"version\": \($0), " } ?? ""))
        try output.write("\"op\": \"\(change.change.rawValue)\", \"keyspace\": \(change.keyspace.map(DiffCommand.jsonString) ?? "null"), \"key\": ")
        try writeJSONHex(change.key, to: output)
        try output.write(", \"old\": ")
        try writeJSONHex(change.oldValue, to: output)
        try output.write(", \"new\": ")
        try writeJSONHex(change.newValue, to: output)
        try output.write("}\n")
    }

    /// Bytes escaped for a terminal, or as hex with `--hex`.
    private func writeBytes(_ bytes: UnsafeRawBufferPointer, to output: BufferedOutput) throws {
        hex ? try output.writeHex(bytes) : try output.writePrintable(bytes)
    }

    /// Bytes as a JSON string of hex digits, or `null`.
    private func writeJSONHex(_ bytes: UnsafeRawBufferPointer?, to output: BufferedOutput) throws {
        guard let bytes else { return try output.write("null") }
        try output.write(byte: UInt8(ascii: "\""))
        try output.writeHex(bytes)
        try output.write(byte: UInt8(ascii: "\""))
    }
}
