// The differential run against LMDB: the seeded workload's keys, values and choices.

import CLMDB
import CowDB
import Foundation
import XCTest

extension LMDBDifferentialRun {
    // MARK: Workload generation

    /// A uniform integer in `range`, by rejection (the standard library's algorithm for
    /// `Int.random(in:using:)` is not promised to stay the same across releases).
    func randomInt(in range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound) + 1
        let limit = UInt64.max - UInt64.max % span
        var x = rng.next()
        while x >= limit { x = rng.next() }
        return range.lowerBound + Int(x % span)
    }

    /// A uniform integer in `0 ..< bound`.
    func randomInt(below bound: Int) -> Int { randomInt(in: 0 ... bound - 1) }

    /// True with probability `percent` / 100.
    func chance(_ percent: Int) -> Bool { randomInt(below: 100) < percent }

    /// A uniformly chosen element of a non-empty array.
    func pick<T>(_ items: [T]) -> T { items[randomInt(below: items.count)] }

    /// Key prefixes shared by many keys, many 8 bytes or longer (so 8-byte key heads tie),
    /// some extending others.
    func makePrefixes() {
        for _ in 0 ..< 24 {
            let length = pick([1, 2, 3, 4, 6, 7, 8, 8, 8, 9, 11, 12, 16])
            if !prefixes.isEmpty, chance(30) {
                let base = pick(prefixes)
                prefixes.append(base + keyBytes(max(1, length - base.count)))
            } else {
                prefixes.append(keyBytes(length))
            }
        }
    }

    /// Random bytes, a quarter of the time from a small alphabet of edge values.
    func keyBytes(_ count: Int) -> [UInt8] {
        guard chance(25) else { return rng.bytes(count) }
        let alphabet: [UInt8] = [0x00, 0x01, 0x02, 0x61, 0x7F, 0x80, 0xFE, 0xFF]
        return (0 ..< count).map { _ in pick(alphabet) }
    }

    /// A new key for keyspace `name` (1...100 bytes): mostly a shared prefix plus a suffix,
    /// sometimes fully random, sometimes a near neighbour of a key already written.
    func newKey(_ name: String) -> [UInt8] {
        let roll = randomInt(below: 100)
        var key: [UInt8]
        if roll < 65 {
            let prefix = pick(prefixes)
            let suffix = chance(85) ? randomInt(in: 0 ... 12) : randomInt(in: 0 ... 100 - prefix.count)
            key = prefix + keyBytes(suffix)
        } else if roll < 80 || spaces[name]!.keys.isEmpty {
            key = keyBytes(randomInt(in: 1 ... 100))
        } else {
            key = neighbour(of: pick(spaces[name]!.keys))
        }
        if key.isEmpty { key = [pick([0x00, 0x61, 0xFF])] }
        return Array(key.prefix(100))
    }

    /// A key close to `key` in order: extended, truncated, last byte nudged, or its 8-byte head.
    func neighbour(of key: [UInt8]) -> [UInt8] {
        var result = key
        switch randomInt(below: 7) {
        case 0: result.append(0x00)
        case 1: result += keyBytes(randomInt(in: 1 ... 4))
        case 2: if result.count > 1 { result.removeLast() } else { result.append(0xFF) }
        case 3: if result[result.count - 1] < 0xFF { result[result.count - 1] += 1 } else { result.append(0x00) }
        case 4: if result[result.count - 1] > 0 { result[result.count - 1] -= 1 } else if result.count > 1 { result.removeLast() }
        case 5: result = Array(result.prefix(8))
        default: result = Array(result.prefix(8)) + [0xFF, 0xFF]
        }
        return Array(result.prefix(100))
    }

    /// A key written before to keyspace `name` (with probability `existingPercent`) or a new
    /// one, which is remembered.
    func chooseKey(_ name: String, existingPercent: Int) -> [UInt8] {
        if let keys = spaces[name]?.keys, !keys.isEmpty, chance(existingPercent) { return pick(keys) }
        let key = newKey(name)
        spaces[name]!.keys.append(key)
        return key
    }

    /// A key to look up or seek to in a view: present, a neighbour of a present key, or new.
    func probeKey(near entries: [LMDBEntry], _ name: String) -> [UInt8] {
        if entries.isEmpty || chance(25) { return newKey(name) }
        let key = pick(entries).key
        return chance(20) ? key : neighbour(of: key)
    }

    /// A value: mostly 0...3000 bytes, some around the page size, a few of 20–200 KB.
    func makeValue() -> [UInt8] {
        let roll = randomInt(below: 1000)
        let size: Int
        if roll < 8 {
            size = randomInt(in: 20_000 ... 200_000)
            stats.largeValues += 1
        } else if roll < 50 {
            size = randomInt(in: 1500 ... 5000)
        } else if roll < 420 {
            size = randomInt(in: 0 ... 40)
        } else if roll < 760 {
            size = randomInt(in: 41 ... 800)
        } else {
            size = randomInt(in: 801 ... 3000)
        }
        return rng.bytes(size)
    }
}
