import Foundation

// Damage for the hostile-file tests: plain bit and byte flips (never resealed, so every
// page checksum that covers a flipped byte fails) aimed at each kind of page of a data file,
// at the index, or a page copied over another. Works on raw bytes: it reads only the kind
// (byte 4) and run length (bytes 8..<12) of each run's page header (see docs/FORMAT.md).

/// Where `FileDamage` aims.
public enum DamageTarget: String, CaseIterable, Sendable {
    /// A byte of a leaf page past its header (keys, values, cell offsets, free space).
    case leafBody
    /// A byte of a page header (checksum, kind, flags, count, run length, aux).
    case pageHeader
    /// A byte of a branch page past its header (separator keys, child page numbers).
    case branchBody
    /// A byte of any page of an overflow run (a large value).
    case overflow
    /// A byte of a commit record.
    case commitRecord
    /// One bit anywhere in the data file.
    case anyBit
    /// A byte of the index file.
    case index
    /// A whole page copied over another (its checksum is valid, for the wrong place).
    case copiedPage
}

/// The pages of an intact data file by kind, and damage aimed at them.
public struct FileDamage {
    public let pageSize: Int
    /// Page numbers of every page by kind (1 branch, 2 leaf, 3 overflow (every page of a run), 4 commit).
    public private(set) var pagesByKind: [UInt8: [Int]] = [:]

    /// Classifies the pages of `data` (an intact data file with `pageSize`-byte pages).
    public init(data: [UInt8], pageSize: Int) {
        self.pageSize = pageSize
        var page = 1
        while (page + 1) * pageSize <= data.count {
            let kind = data[page * pageSize + 4]
            var runLength = 0
            for i in 0 ..< 4 { runLength |= Int(data[page * pageSize + 8 + i]) << (8 * i) }
            runLength = max(1, runLength)
            for member in page ..< min(page + runLength, data.count / pageSize) { pagesByKind[kind, default: []].append(member) }
            page += runLength
        }
    }

    /// Damages `data` or `index` at a place `target` names; returns a description.
    public func damage(_ target: DamageTarget, data: inout [UInt8], index: inout [UInt8],
                       using random: inout SeededGenerator) -> String {
        let flip = UInt8.random(in: 1 ... 255, using: &random)
        switch target {
        case .leafBody: return flipByte(in: 2, from: 16, &data, flip, &random)
        case .branchBody: return flipByte(in: 1, from: 16, &data, flip, &random)
        case .overflow: return flipByte(in: 3, from: 0, &data, flip, &random)
        case .commitRecord: return flipByte(in: 4, from: 0, &data, flip, &random)
        case .pageHeader:
            let page = Int.random(in: 1 ..< data.count / pageSize, using: &random)
            let offset = page * pageSize + Int.random(in: 0 ..< 16, using: &random)
            data[offset] ^= flip
            return "header byte \(offset % pageSize) of page \(page) ^= \(flip)"
        case .anyBit:
            let offset = Int.random(in: 0 ..< data.count, using: &random)
            let bit = Int.random(in: 0 ..< 8, using: &random)
            data[offset] ^= 1 << bit
            return "bit \(bit) of byte \(offset)"
        case .index:
            guard !index.isEmpty else { return "no index" }
            let offset = Int.random(in: 0 ..< index.count, using: &random)
            index[offset] ^= flip
            return "index byte \(offset) ^= \(flip)"
        case .copiedPage:
            let pages = data.count / pageSize
            let from = Int.random(in: 1 ..< pages, using: &random)
            var to = Int.random(in: 1 ..< pages, using: &random)
            if to == from { to = from == 1 ? 2 : 1 }
            data.replaceSubrange(to * pageSize ..< (to + 1) * pageSize, with: data[from * pageSize ..< (from + 1) * pageSize])
            return "page \(from) copied over page \(to)"
        }
    }

    /// XORs a random byte at or past `from` of a random page of `kind` with `flip`.
    private func flipByte(in kind: UInt8, from: Int, _ data: inout [UInt8], _ flip: UInt8, _ random: inout SeededGenerator) -> String {
        guard let pages = pagesByKind[kind], !pages.isEmpty else { return "no page of kind \(kind)" }
        let page = pages[Int.random(in: 0 ..< pages.count, using: &random)]
        let offset = page * pageSize + Int.random(in: from ..< pageSize, using: &random)
        data[offset] ^= flip
        return "byte \(offset % pageSize) of page \(page) (kind \(kind)) ^= \(flip)"
    }
}
