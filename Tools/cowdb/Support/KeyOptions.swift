import ArgumentParser

/// `-s KEYSPACE` and `--hex`: which keyspace a key command uses, and how its keys and values
/// are written on the command line and shown.
struct KeyOptions: ParsableArguments {
    @Option(name: [.customShort("s"), .customLong("keyspace")], help: ArgumentHelp("The named keyspace (default: the default keyspace).", valueName: "KEYSPACE"))
    var keyspace: String?

    @Flag(help: "Keys and values are given, and shown, as hex (for binary bytes).")
    var hex = false

    /// The bytes of a key or value argument: its UTF-8 text, or with `--hex` the bytes its hex
    /// digits spell. `what` names the argument in errors.
    func bytes(_ argument: String, what: String) throws -> [UInt8] {
        guard hex else { return Array(argument.utf8) }
        guard let bytes = ByteEscaping.decodeHex(argument) else {
            throw ToolError.failure("\(what) \(ByteEscaping.quoted(argument)) is not hex (two digits 0-9a-f per byte)")
        }
        return bytes
    }

    /// Bytes as the tool shows them: hex with `--hex`, else escaped printable text.
    func show(_ bytes: [UInt8]) -> String {
        hex ? ByteEscaping.hex(bytes) : ByteEscaping.printable(bytes)
    }

    /// "in keyspace "users"" or "in the default keyspace", for messages.
    var keyspaceDescription: String {
        keyspace.map { "in keyspace \(ByteEscaping.quoted($0))" } ?? "in the default keyspace"
    }
}
