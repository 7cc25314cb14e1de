import CowDBFormat
import CowDBStorage

// `check` of a packed history tree (docs/PACKED-HISTORY.md), beyond what `TreeChecker` checks
// of every tree (checksums, order, bounds): one pass over its entries in key order that
//
// - decodes every composite key and every value (a pair's marker, a catalog entry's 8-byte
//   count, a change-index entry's empty value);
// - checks that every version an entry names is one the pack holds (a change-index entry may
//   also name the first tree version after the pack);
// - replays each key's entries oldest first into count changes per keyspace and version, and
//   checks every catalog entry's count against them (and a dropped keyspace's count is 0);
// - sums, for each packed version, the counts of the keyspaces present then: what its index
//   record must say.

/// Checks a history tree's entries.
package enum HistoryTreeCheck {
    /// Checks the entries of the history tree at `root` holding versions `versions`
    /// (ascending), reporting problems to `checker`; returns each version's total count.
    package static func run(root: PageNumber, versions: [UInt64], afterPack: UInt64?, checker: TreeChecker) -> [UInt64: UInt64] {
        var state = State(versions: Set(versions), afterPack: afterPack, first: versions.first ?? 0)
        var cursor = TreeCursor(root: root == 0 ? nil : .page(root), pages: checker.pages)
        do {
            var more = try cursor.first()
            var previous: [UInt8]?
            while more {
                let key = try cursor.keyArray()
                if let previous, compareBytes(previous, key) >= 0 {
                    checker.report(nil, "history tree out of order")
                    break
                }
                guard case let .stored(stored, leaf) = try cursor.value() else { break }
                let decoded = try key.withUnsafeBytes { try HistoryKey.decode($0, page: leaf) }
                let value = try HistoryValue.decode(stored, page: leaf)
                try state.add(decoded, value, leaf: leaf, checker: checker, pages: checker.pages)
                previous = key
                more = try cursor.next()
            }
        } catch let CowDBError.corrupt(page, offset, reason) {
            checker.report(page, "history tree: \(reason)", offset: offset)
        } catch {
            checker.report(nil, "history tree unreadable: \(error)")
        }
        state.flushKey()
        return state.totals(versions, checker: checker)
    }

    /// What the pass has gathered.
    private struct State {
        let versions: Set<UInt64>
        let afterPack: UInt64?
        let first: UInt64
        /// The key whose entries are being gathered, and its (version, present) entries, newest first.
        var current: (keyspace: [UInt8], key: [UInt8])?
        var entries: [(UInt64, Bool)] = []
        /// Count changes per keyspace and version.
        var deltas: [[UInt8]: [UInt64: Int64]] = [:]
        /// Catalog entries per keyspace: (version, count; nil: dropped), newest first.
        var catalog: [[UInt8]: [(UInt64, UInt64?)]] = [:]

        init(versions: Set<UInt64>, afterPack: UInt64?, first: UInt64) {
            (self.versions, self.afterPack, self.first) = (versions, afterPack, first)
        }

        /// Takes in one entry.
        mutating func add(_ entry: HistoryKey.Decoded, _ value: StoredValue?, leaf: PageNumber, checker: TreeChecker, pages: PageReader) throws {
            switch entry.kind {
            case .pair:
                guard versions.contains(entry.version) else { return checker.report(leaf, "history pair entry of version \(entry.version), which the pack does not hold") }
                if current?.keyspace != entry.keyspace || current?.key != entry.key {
                    flushKey()
                    current = (entry.keyspace, entry.key)
                }
                entries.append((entry.version, value != nil))
            case .catalog:
                guard versions.contains(entry.version) else { return checker.report(leaf, "history catalog entry of version \(entry.version), which the pack does not hold") }
                var count: UInt64?
                if let value {
                    guard case let .inline(bytes) = value, bytes.count == 8 else { return checker.report(leaf, "history catalog entry whose count is not 8 bytes") }
                    count = UInt64(bigEndian: bytes.loadUnaligned(as: UInt64.self))
                }
                catalog[entry.keyspace, default: []].append((entry.version, count))
            case .change:
                guard (entry.version > first && versions.contains(entry.version)) || entry.version == afterPack else {
                    return checker.report(leaf, "history change-index entry of version \(entry.version), which the pack does not cover")
                }
                guard case let .inline(bytes)? = value, bytes.isEmpty else { return checker.report(leaf, "history change-index entry with a value") }
            }
        }

        /// Turns the gathered key's entries, oldest first, into count changes.
        mutating func flushKey() {
            guard let current else { return }
            var present = false
            for (version, now) in entries.reversed() where now != present {
                deltas[current.keyspace, default: [:]][version, default: 0] += now ? 1 : -1
                present = now
            }
            entries.removeAll(keepingCapacity: true)
            self.current = nil
        }

        /// Checks the catalog's counts against the pairs; returns each version's total.
        func totals(_ ordered: [UInt64], checker: TreeChecker) -> [UInt64: UInt64] {
            for (keyspace, changes) in deltas where catalog[keyspace] == nil {
                checker.report(nil, "history holds pairs of keyspace \(String(decoding: keyspace, as: UTF8.self).debugDescription) (\(changes.count) versions) but no catalog entry")
            }
            if catalog[[]]?.last?.0 != first { checker.report(nil, "history has no catalog entry of the default keyspace at its first version \(first)") }
            var totals: [UInt64: UInt64] = [:]
            for (keyspace, timeline) in catalog {
                let changes = (deltas[keyspace] ?? [:]).sorted { $0.key < $1.key }
                var running: Int64 = 0, next = 0
                let name = String(decoding: keyspace, as: UTF8.self).debugDescription
                for (version, count) in timeline.reversed() {
                    while next < changes.count, changes[next].key <= version { running += changes[next].value; next += 1 }
                    if running != Int64(count ?? 0) {
                        checker.report(nil, "history catalog says keyspace \(name) holds \(count.map(String.init) ?? "nothing (dropped)") at version \(version), its pairs \(running)")
                    }
                }
                var position = timeline.count - 1
                for version in ordered {
                    while position > 0, timeline[position - 1].0 <= version { position -= 1 }
                    if timeline[position].0 <= version, let count = timeline[position].1 { totals[version, default: 0] += count }
                }
            }
            return totals
        }
    }
}
