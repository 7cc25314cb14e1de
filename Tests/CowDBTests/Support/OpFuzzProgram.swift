// The operation fuzzer's input: a fault plan and a list of operations, decoded from bytes so
// libFuzzer can drive it (any byte string decodes; running out of bytes ends the program).
//
//   offset size field
//   0      1    pageSize     4096 << (value % 5): 4 to 64 KiB
//   1      1    options      bit 0: durability .none (else .full); bit 1: verifyOnRead;
//                            bit 2: the faults below persist until the next reopen
//   2      2    failWrite    u16 LE: write number that fails with EIO (0: none)
//   4      1    failSync     sync number that fails (0: none)
//   5      1    syncFailure  what the failed sync does to dirty pages (value % 3)
//   6      2    crashStep    u16 LE: the process dies after this step (0: never)
//   8      …    operations   each: one opcode byte, then its operands (see `decodeOperation`)
//
// Keys, values, versions, keyspaces and tag names are small picks resolved when the operation
// runs (a version pick indexes the versions the model holds then), so a mutation of one byte
// still gives a meaningful program.

import Foundation

/// A decoded operation fuzzer input.
struct OpFuzzProgram {
    /// A key: `k<index>`, sometimes padded long, sometimes empty or too long (an error).
    struct KeyPick { var index: UInt16; var shape: UInt8 }
    /// A value: a size class and a seed for its bytes.
    struct ValuePick { var size: UInt8; var seed: UInt8 }

    /// One change (or read) inside a write transaction.
    enum Mutation {
        case put(space: UInt8, key: KeyPick, value: ValuePick)
        case insert(space: UInt8, key: KeyPick, value: ValuePick)
        case delete(space: UInt8, key: KeyPick)
        case create(space: UInt8)
        case drop(space: UInt8)
        /// Puts `count` consecutive keys (a big commit: spills, splits, deep trees).
        case bulk(space: UInt8, start: UInt16, count: UInt16, keyLength: UInt8, value: ValuePick)
        /// Reads a key and scans the keyspace inside the transaction.
        case readBack(space: UInt8, key: KeyPick, reverse: Bool)
    }

    /// Which moves a cursor makes.
    enum CursorMove { case first, last, next, previous, seek(KeyPick) }

    /// One operation.
    enum Operation {
        case write([Mutation], abort: Bool)
        case get(version: UInt8, space: UInt8, keys: [KeyPick])
        case scan(version: UInt8, space: UInt8, from: KeyPick?, to: KeyPick?, reverse: Bool, limit: UInt8)
        case cursor(version: UInt8, space: UInt8, moves: [CursorMove])
        case openSnapshot(version: UInt8)
        case readSnapshot(UInt8)
        case closeSnapshot(UInt8)
        case rollback(version: UInt8)
        case tag(name: UInt8, version: UInt8)
        case untag(name: UInt8)
        /// `packAllBut`: pack every kept version but the newest that many (nil: pack nothing more).
        case compact(keepLast: UInt8?, keepSince: Bool?, keepTags: Bool, keepAll: Bool, keepVersion: UInt8?, packAllBut: UInt8?)
        case diff(from: UInt8, to: UInt8, space: UInt8?)
        case reopen
    }

    var pageSize = 4096
    var durabilityNone = false
    var verifyOnRead = false
    var persistentFaults = false
    var failWrite: Int?
    var failSync: Int?
    var syncFailure = FaultInjectionStorage.SyncFailure.keepDirty
    var crashStep: Int?
    var operations: [Operation] = []

    /// The most operations one program runs, and mutations one write makes.
    static let maxOperations = 80
    static let maxMutations = 40

    /// Decodes `bytes` (never fails: missing bytes read as zero, and end the operations).
    init(_ bytes: UnsafeRawBufferPointer) {
        var input = OpFuzzBytes(bytes)
        pageSize = 4096 << (Int(input.byte()) % 5)
        let options = input.byte()
        durabilityNone = options & 1 != 0
        verifyOnRead = options & 2 != 0
        persistentFaults = options & 4 != 0
        let write = Int(input.u16())
        failWrite = write == 0 ? nil : write
        let sync = Int(input.byte())
        failSync = sync == 0 ? nil : sync
        syncFailure = [.keepDirty, .dropPages, .markClean][Int(input.byte()) % 3]
        let crash = Int(input.u16())
        crashStep = crash == 0 ? nil : crash
        while !input.isAtEnd, operations.count < Self.maxOperations {
            operations.append(Self.decodeOperation(&input))
        }
    }

    /// Decodes one operation (its opcode, then its operands).
    static func decodeOperation(_ input: inout OpFuzzBytes) -> Operation {
        let opcode = input.byte() % 16
        switch opcode {
        case 0 ... 3:
            let count = 1 + Int(input.byte()) % maxMutations
            var mutations: [Mutation] = []
            for _ in 0 ..< count where !input.isAtEnd { mutations.append(decodeMutation(&input)) }
            return .write(mutations, abort: opcode == 3 && input.byte() % 4 == 0)
        case 4: return .get(version: input.byte(), space: input.byte(), keys: (0 ..< 1 + Int(input.byte() % 4)).map { _ in key(&input) })
        case 5:
            let flags = input.byte()
            return .scan(version: input.byte(), space: input.byte(), from: flags & 1 != 0 ? key(&input) : nil,
                         to: flags & 2 != 0 ? key(&input) : nil, reverse: flags & 4 != 0, limit: input.byte())
        case 6:
            let (version, space) = (input.byte(), input.byte())
            let moves: [CursorMove] = (0 ..< 1 + Int(input.byte() % 12)).map { _ in
                switch input.byte() % 5 {
                case 0: return .first
                case 1: return .last
                case 2: return .next
                case 3: return .previous
                default: return .seek(key(&input))
                }
            }
            return .cursor(version: version, space: space, moves: moves)
        case 7: return .openSnapshot(version: input.byte())
        case 8: return .readSnapshot(input.byte())
        case 9: return .closeSnapshot(input.byte())
        case 10: return .rollback(version: input.byte())
        case 11: return input.byte() % 4 == 0 ? .untag(name: input.byte()) : .tag(name: input.byte(), version: input.byte())
        case 12:
            let flags = input.byte()
            return .compact(keepLast: flags & 1 != 0 ? input.byte() % 6 : nil, keepSince: flags & 2 != 0 ? flags & 4 != 0 : nil,
                            keepTags: flags & 8 != 0, keepAll: flags & 0x30 == 0x30, keepVersion: flags & 0x40 != 0 ? input.byte() : nil,
                            packAllBut: flags & 0x80 != 0 ? 1 + input.byte() % 4 : nil)
        case 13, 14:
            let flags = input.byte()
            return .diff(from: input.byte(), to: input.byte(), space: flags & 1 != 0 ? nil : input.byte())
        default: return .reopen
        }
    }

    /// Decodes one mutation of a write transaction.
    static func decodeMutation(_ input: inout OpFuzzBytes) -> Mutation {
        let opcode = input.byte() % 16
        switch opcode {
        case 0 ... 5: return .put(space: input.byte(), key: key(&input), value: value(&input))
        case 6: return .insert(space: input.byte(), key: key(&input), value: value(&input))
        case 7 ... 9: return .delete(space: input.byte(), key: key(&input))
        case 10: return .create(space: input.byte())
        case 11: return .drop(space: input.byte())
        case 12: return .bulk(space: input.byte(), start: input.u16(), count: input.u16() % 1_500, keyLength: input.byte(), value: value(&input))
        default: return .readBack(space: input.byte(), key: key(&input), reverse: opcode & 1 != 0)
        }
    }

    /// Decodes a key pick.
    static func key(_ input: inout OpFuzzBytes) -> KeyPick { KeyPick(index: input.u16(), shape: input.byte()) }

    /// Decodes a value pick.
    static func value(_ input: inout OpFuzzBytes) -> ValuePick { ValuePick(size: input.byte(), seed: input.byte()) }
}

/// A cursor over the input bytes; reads past the end give zero and set `isAtEnd`.
struct OpFuzzBytes {
    private let bytes: UnsafeRawBufferPointer
    private var position = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// Whether every byte has been read.
    var isAtEnd: Bool { position >= bytes.count }

    /// The next byte (0 past the end).
    mutating func byte() -> UInt8 {
        defer { position += 1 }
        return position < bytes.count ? bytes[position] : 0
    }

    /// The next two bytes, little-endian.
    mutating func u16() -> UInt16 { UInt16(byte()) | UInt16(byte()) << 8 }
}
