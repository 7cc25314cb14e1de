import CowDBFormat

// Reading the `CURRENT` file (its bytes are drawn in CowDBFormat's CurrentFile.swift).

extension CurrentFile {
    /// The current generation of the database in `directory` (1 when there is no `CURRENT`).
    package static func read(in directory: String, backend: any StorageBackend) throws -> UInt64 {
        let path = directory + "/" + name
        guard backend.exists(path) else { return 1 }
        let file = try backend.open(path, create: false, readOnly: true)
        defer { file.close() }
        var bytes = [UInt8](repeating: 0, count: size + 1)
        let got = try bytes.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }
        return try decode(Array(bytes.prefix(got)), path: path)
    }
}
