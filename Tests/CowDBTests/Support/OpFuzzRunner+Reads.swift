// The operation fuzzer's reading operations: gets, scans both ways with bounds, cursor moves,
// snapshots and diffs, at picked versions (dropped and future ones must throw
// `versionNotFound`), each compared with the model.

import Foundation
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

extension OpFuzzRunner {
    /// The errors a read of keyspace `name` at `version` should throw (empty: none).
    func readErrors(_ version: UInt64, _ name: String) -> [CowDBError] {
        guard let state = model.versions[version] else { return [.versionNotFound(version)] }
        return state.spaces[name] == nil ? [.keyspaceNotFound(name)] : []
    }

    /// Looks keys up (`get`, `contains`, `withValue`) at a picked version.
    func get(at versionPick: UInt8, space pick: UInt8, keys: [OpFuzzProgram.KeyPick]) throws {
        let (version, name) = (version(versionPick), space(pick))
        try expect(readErrors(version, name), "get at \(version) in \(name.debugDescription)") {
            try database!.read(at: version) { txn in
                let keyspace = try keyspace(txn, name)
                let entries = model.versions[version]!.spaces[name]!
                for key in keys.map({ key($0) }) {
                    compare(try keyspace.get(key), entries[key], "get at \(version)")
                    compare(try keyspace.contains(key), entries[key] != nil, "contains at \(version)")
                    compare(try keyspace.withValue(for: key) { Array($0) }, entries[key], "withValue at \(version)")
                }
            }
        }
    }

    /// Scans a range both with `scan` and `withEntries`, up to a limit.
    func scan(at versionPick: UInt8, space pick: UInt8, from: OpFuzzProgram.KeyPick?, to: OpFuzzProgram.KeyPick?,
              reverse: Bool, limit: UInt8) throws {
        let (version, name) = (version(versionPick), space(pick))
        let (low, high) = (from.map { key($0) }, to.map { key($0) })
        let count = limit == 0 ? Int.max : Int(limit) * 4
        try expect(readErrors(version, name), "scan at \(version) in \(name.debugDescription)") {
            try database!.read(at: version) { txn in
                let keyspace = try keyspace(txn, name)
                let expected = OpModel.range(model.versions[version]!.spaces[name]!, from: low, to: high, reverse: reverse)
                compare(Array(try keyspace.scan(from: low, to: high, reverse: reverse).prefix(count)), Array(expected.prefix(count)),
                        "scan at \(version) in \(name.debugDescription) reverse \(reverse)")
                guard !reverse else { return }
                var walked: [(key: [UInt8], value: [UInt8])] = []
                try keyspace.withEntries(from: low, to: high, limit: count == Int.max ? .max : count) { key, value in
                    walked.append((Array(key), Array(value)))
                    return true
                }
                compare(walked, Array(expected.prefix(count)), "withEntries at \(version)")
                compare(try keyspace.count(), UInt64(model.versions[version]!.spaces[name]!.count), "count at \(version)")
            }
        }
    }

    /// Moves a cursor and checks where each move lands.
    func cursor(at versionPick: UInt8, space pick: UInt8, moves: [OpFuzzProgram.CursorMove]) throws {
        let (version, name) = (version(versionPick), space(pick))
        try expect(readErrors(version, name), "cursor at \(version) in \(name.debugDescription)") {
            try database!.read(at: version) { txn in
                var cursor = try keyspace(txn, name).cursor()
                let entries = OpModel.range(model.versions[version]!.spaces[name]!, from: nil, to: nil, reverse: false)
                var position: Int?
                for move in moves {
                    let got: (key: [UInt8], value: [UInt8])?
                    switch move {
                    case .first: (got, position) = (try cursor.first(), entries.isEmpty ? nil : 0)
                    case .last: (got, position) = (try cursor.last(), entries.isEmpty ? nil : entries.count - 1)
                    case .next: (got, position) = (try cursor.next(), position.flatMap { $0 + 1 < entries.count ? $0 + 1 : nil })
                    case .previous: (got, position) = (try cursor.previous(), position.flatMap { $0 > 0 ? $0 - 1 : nil })
                    case let .seek(pick):
                        let target = key(pick)
                        got = try cursor.seek(to: target)
                        position = entries.firstIndex { !$0.key.lexicographicallyPrecedes(target) }
                    }
                    compare(got?.key, position.map { entries[$0].key }, "cursor \(move) at \(version)")
                    compare(got?.value, position.map { entries[$0].value }, "cursor value after \(move)")
                    compare(cursor.key, got?.key, "cursor.key after \(move)")
                }
            }
        }
    }

    // MARK: Snapshots

    /// Opens a snapshot of a picked version (at most four stay open).
    func openSnapshot(at pick: UInt8) throws {
        let version = version(pick)
        if snapshots.count >= 4 { snapshots.removeFirst().snapshot.close() }
        var snapshot: Snapshot?
        try expect(readErrors(version, ""), "snapshot at \(version)") { snapshot = try database!.snapshot(at: version) }
        if let snapshot {
            snapshots.append((snapshot, model.versions[version]!))
            compare(snapshot.version, version, "snapshot's version")
        }
    }

    /// Reads a snapshot whole: it must still show its version, whatever happened since
    /// (commits, rollbacks, a compaction that dropped the version).
    func readSnapshot(_ pick: UInt8) throws {
        guard !snapshots.isEmpty else { return }
        let (snapshot, state) = snapshots[Int(pick) % snapshots.count]
        try expect([], "read snapshot of \(snapshot.version)") {
            let got = try snapshot.read { try Self.readState($0) }
            if got != state { problems.append("step \(step): snapshot of \(snapshot.version) reads \(OpModel.difference(got, state))") }
        }
    }

    /// Every keyspace of a version.
    static func readState(_ txn: ReadTransaction) throws -> OpModel.State {
        var state = OpModel.State()
        state.spaces[""] = Dictionary(uniqueKeysWithValues: try txn.scan().map { ($0.key, $0.value) })
        for name in try txn.keyspaces() {
            state.spaces[name] = Dictionary(uniqueKeysWithValues: try txn.keyspace(name).scan().map { ($0.key, $0.value) })
        }
        return state
    }

    // MARK: Diff

    /// Diffs two picked versions, one keyspace or all of them.
    func diff(from fromPick: UInt8, to toPick: UInt8, space pick: UInt8?) throws {
        let (from, to) = (version(fromPick), version(toPick))
        let name = pick.map { space($0) }
        var errors: [CowDBError] = []
        if model.versions[from] == nil { errors = [.versionNotFound(from)] } else if model.versions[to] == nil { errors = [.versionNotFound(to)] }
        if errors.isEmpty, let name, !name.isEmpty, model.versions[from]!.spaces[name] == nil, model.versions[to]!.spaces[name] == nil {
            errors = [.keyspaceNotFound(name)]
        }
        try expect(errors, "diff \(from)→\(to) in \(name.map(\.debugDescription) ?? "all")") {
            let changes = try name.map { name in
                try database!.diff(from: from, to: to, keyspace: name.isEmpty ? nil : name) { Array($0) }
            } ?? database!.diffAllKeyspaces(from: from, to: to) { Array($0) }
            let got = changes.map { OpModel.Change(space: $0.keyspace ?? "", key: $0.key, old: $0.oldValue, new: $0.newValue) }
            let expected = OpModel.diff(model.versions[from]!, model.versions[to]!, space: name)
            if got != expected {
                problems.append("step \(step): diff \(from)→\(to) gave \(got.count) changes instead of \(expected.count)")
            }
        }
    }
}
