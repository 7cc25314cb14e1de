// The operation fuzzer's changing operations: write transactions (puts, inserts, deletes,
// keyspaces, bulk loads, reads inside the transaction), rollback, tags and compaction. Each
// states in the model what it would do before it starts, so a fault or crash part-way can be
// judged (`inFlight`, `mayBeDropped`, `tagInFlight`).

import Foundation
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

extension OpFuzzRunner {
    /// Runs one operation and checks its outcome against the model.
    func perform(_ operation: OpFuzzProgram.Operation) throws {
        switch operation {
        case let .write(mutations, abort): try write(mutations, abort: abort)
        case let .get(version, space, keys): try get(at: version, space: space, keys: keys)
        case let .scan(version, space, from, to, reverse, limit):
            try scan(at: version, space: space, from: from, to: to, reverse: reverse, limit: limit)
        case let .cursor(version, space, moves): try cursor(at: version, space: space, moves: moves)
        case let .openSnapshot(version): try openSnapshot(at: version)
        case let .readSnapshot(pick): try readSnapshot(pick)
        case let .closeSnapshot(pick):
            if !snapshots.isEmpty { snapshots.remove(at: Int(pick) % snapshots.count).snapshot.close() }
        case let .rollback(version): try rollback(to: version)
        case let .tag(name, version): try tag(name, version: version)
        case let .untag(name): try untag(name)
        case let .compact(keepLast, keepSince, keepTags, keepAll, keepVersion, packAllBut):
            try compact(keepLast: keepLast.map(Int.init), keepSince: keepSince, keepTags: keepTags, keepAll: keepAll,
                        keepVersions: keepVersion.map { [version($0)] } ?? [], packing: packAllBut.map { .allButNewest(Int($0)) } ?? .none)
        case let .diff(from, to, space): try diff(from: from, to: to, space: space)
        case .reopen: try reopen()
        }
    }

    // MARK: Write transactions

    /// Applies the mutations in one write transaction (discarded when `abort`).
    func write(_ mutations: [OpFuzzProgram.Mutation], abort: Bool) throws {
        let database = database!
        var state = model.current
        model.inFlight = state // a commit is under way (a spill may write before the end)
        do {
            try database.write { txn in
                for mutation in mutations { try apply(mutation, to: txn, state: &state) }
                model.inFlight = state
                if abort { throw OpFuzzAbort() }
            }
        } catch is OpFuzzAbort {
            model.inFlight = nil
            compare(database.latestVersion, model.latest, "latest version after a discarded transaction")
            return
        }
        model.inFlight = nil
        let latest = database.latestVersion
        if latest == model.latest + 1 {
            model.commit(state, durable: durable)
        } else if latest != model.latest || state != model.current {
            problems.append("step \(step): a write left version \(latest) (was \(model.latest), changed: \(state != model.current))")
        }
    }

    /// Applies one mutation to the transaction and to `state`.
    func apply(_ mutation: OpFuzzProgram.Mutation, to txn: WriteTransaction, state: inout OpModel.State) throws {
        switch mutation {
        case let .put(pick, keyPick, valuePick), let .insert(pick, keyPick, valuePick):
            let (name, key, value) = (space(pick), key(keyPick, forWrite: true), value(valuePick))
            let errors = state.spaces[name] == nil ? [CowDBError.keyspaceNotFound(name)] : keyError(key).map { [$0] } ?? []
            let isInsert = if case .insert = mutation { true } else { false }
            var inserted = false
            let done = try expect(errors, "put/insert \(name.debugDescription) \(key.count)-byte key") {
                let keyspace = try keyspace(txn, name)
                if isInsert { inserted = try keyspace.insert(key, value) } else { try keyspace.put(key, value) }
            }
            guard done else { return }
            if isInsert {
                compare(inserted, state.spaces[name]![key] == nil, "insert's result")
                if inserted { state.spaces[name]![key] = value }
            } else {
                state.spaces[name]![key] = value
            }
        case let .delete(pick, keyPick):
            let (name, key) = (space(pick), key(keyPick))
            var existed = false
            let errors = state.spaces[name] == nil ? [CowDBError.keyspaceNotFound(name)] : []
            guard try expect(errors, "delete in \(name.debugDescription)", { existed = try keyspace(txn, name).delete(key) }) else { return }
            compare(existed, state.spaces[name]![key] != nil, "delete's result")
            state.spaces[name]![key] = nil
        case let .create(pick):
            let name = Self.spaceNames[1 + Int(pick) % (Self.spaceNames.count - 1)]
            let errors: [CowDBError] = name.contains("\n") ? [.invalidKeyspaceName(name)] : state.spaces[name] != nil ? [.keyspaceExists(name)] : []
            if try expect(errors, "create \(name.debugDescription)", { _ = try txn.createKeyspace(name) }) { state.spaces[name] = [:] }
        case let .drop(pick):
            let name = Self.spaceNames[1 + Int(pick) % (Self.spaceNames.count - 1)]
            let errors = state.spaces[name] == nil ? [CowDBError.keyspaceNotFound(name)] : []
            if try expect(errors, "drop \(name.debugDescription)", { try txn.dropKeyspace(name) }) { state.spaces[name] = nil }
        case let .bulk(pick, start, count, keyLength, valuePick):
            let name = space(pick)
            let errors = state.spaces[name] == nil ? [CowDBError.keyspaceNotFound(name)] : []
            var added: OpModel.Entries = [:]
            let padding = [UInt8](repeating: 0x62, count: min(Int(keyLength) % 200, database!.maxKeySize - 12))
            let done = try expect(errors, "bulk load into \(name.debugDescription)") {
                let keyspace = try keyspace(txn, name)
                for i in 0 ..< Int(count) {
                    let key = Array(String(format: "b%06d", Int(start) + i).utf8) + padding
                    let value = value(valuePick, bulk: true, salt: i)
                    try keyspace.put(key, value)
                    added[key] = value
                }
            }
            if done { state.spaces[name]!.merge(added) { $1 } }
        case let .readBack(pick, keyPick, reverse):
            try readBack(in: txn, state: state, space: space(pick), key: key(keyPick), reverse: reverse)
        }
    }

    /// Reads a key and the start of a scan inside a write transaction (its own changes seen).
    func readBack(in txn: WriteTransaction, state: OpModel.State, space name: String, key: [UInt8], reverse: Bool) throws {
        let errors = state.spaces[name] == nil ? [CowDBError.keyspaceNotFound(name)] : []
        try expect(errors, "read back in \(name.debugDescription)") {
            let keyspace = try keyspace(txn, name)
            let entries = state.spaces[name]!
            compare(try keyspace.get(key), entries[key], "get inside a write")
            compare(try keyspace.count(), UInt64(entries.count), "count inside a write")
            let got = Array(try keyspace.scan(reverse: reverse).prefix(40))
            compare(got, Array(OpModel.range(entries, from: nil, to: nil, reverse: reverse).prefix(40)), "scan inside a write")
        }
    }

    // MARK: History

    /// Rolls back to a picked version.
    func rollback(to pick: UInt8) throws {
        let target = version(pick)
        guard let state = model.versions[target], target <= model.latest else {
            try expect([.versionNotFound(target)], "rollback to \(target)") { _ = try database!.rollback(to: target) }
            return
        }
        if target != model.latest { model.inFlight = state }
        var result: UInt64 = 0
        try expect([], "rollback to \(target)") { result = try database!.rollback(to: target) }
        model.inFlight = nil
        if target == model.latest {
            compare(result, target, "rollback to the latest version")
        } else {
            model.commit(state, durable: durable)
            compare(result, model.latest, "rollback's new version")
            compare(try database!.rolledBackFrom(version: result), target, "rolledBackFrom")
        }
        compare(database!.latestVersion, model.latest, "latest version after a rollback")
    }

    /// Sets a picked tag on a picked version.
    func tag(_ pick: UInt8, version versionPick: UInt8) throws {
        let name = Self.tagNames[Int(pick) % Self.tagNames.count]
        let target = version(versionPick)
        if name.isEmpty || name.utf8.count > 255 {
            try expect([.invalidTagName(name)], "tag \(name.debugDescription)") { try database!.tag(name, version: target) }
            return
        }
        guard model.versions[target] != nil else {
            try expect([.versionNotFound(target)], "tag at \(target)") { try database!.tag(name, version: target) }
            return
        }
        model.tagInFlight = (name, target)
        try expect([], "tag \(name) at \(target)") { try database!.tag(name, version: target) }
        model.tagInFlight = nil
        model.tags[name] = target
        model.durable = model.latest // a tag syncs the version it names
        compare(try database!.tag(named: name).version, target, "the tag just set")
    }

    /// Removes a picked tag.
    func untag(_ pick: UInt8) throws {
        let name = Self.tagNames[Int(pick) % Self.tagNames.count]
        guard model.tags[name] != nil else {
            try expect([.tagNotFound(name)], "untag \(name.debugDescription)") { try database!.deleteTag(name) }
            return
        }
        model.tagInFlight = (name, nil)
        try expect([], "untag \(name)") { try database!.deleteTag(name) }
        model.tagInFlight = nil
        model.tags[name] = nil
    }

    /// Compacts with a retention policy, packing what `packing` says; the versions it keeps
    /// must be exactly the model's (each reads back as the model has it: `verifyAll`).
    func compact(keepLast: Int?, keepSince: Bool?, keepTags: Bool, keepAll: Bool, keepVersions: Set<UInt64>, packing: Packing) throws {
        let kept = model.kept(keepLast: keepLast, keepSince: keepSince, keepTags: keepTags, keepAll: keepAll, keepVersions: keepVersions)
        let since = keepSince.map { $0 ? Date.distantPast : Date.distantFuture }
        let policy = RetentionPolicy(keepLast: keepLast, keepSince: since, keepTags: keepTags, keepAll: keepAll, keepVersions: keepVersions)
        model.mayBeDropped = Set(model.versions.keys.filter { $0 != 0 && !kept.contains($0) })
        try expect([], "compact keeping \(kept.sorted()), \(packing)") { _ = try database!.compact(keeping: policy, packing: packing) }
        model.mayBeDropped = []
        model.drop(keeping: kept)
        model.durable = model.latest
        compare(try database!.versions().map(\.version), kept.sorted(), "versions after compaction")
        compare(database!.latestVersion, model.latest, "latest version after compaction")
        if packing != .none { checkEveryVersion(database!, model: model, context: "after packing \(packing)") }
    }
}
