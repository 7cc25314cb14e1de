// The content of one version as the crash harness (CrashTests) and the operation fuzzer
// (OpModel) model it. Apart from the harness so the libFuzzer target `cowdb-fuzz-ops`, which
// has no XCTest, builds it too.

/// Every keyspace of a version: "" is the default keyspace.
struct ModelState: Equatable {
    typealias Entries = [[UInt8]: [UInt8]]

    var spaces: [String: Entries] = ["": [:]]

    /// What differs between two states (for messages).
    static func difference(_ got: ModelState, _ expected: ModelState) -> String {
        if Set(got.spaces.keys) != Set(expected.spaces.keys) {
            return "keyspaces \(got.spaces.keys.sorted()) instead of \(expected.spaces.keys.sorted())"
        }
        for space in expected.spaces.keys.sorted() where got.spaces[space] != expected.spaces[space] {
            let g = got.spaces[space]!, e = expected.spaces[space]!
            let missing = e.keys.filter { g[$0] == nil }.count
            let extra = g.keys.filter { e[$0] == nil }.count
            let wrong = e.keys.filter { g[$0] != nil && g[$0] != e[$0] }.count
            return "keyspace \(space.debugDescription): \(g.count) entries instead of \(e.count) (\(missing) missing, \(extra) extra, \(wrong) wrong values)"
        }
        return "equal"
    }
}
