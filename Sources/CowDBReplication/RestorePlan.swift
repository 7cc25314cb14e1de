import CowDB
import CowDBFormat
import CowDBStorage
import Foundation

/// Which generation a restore reads and where it cuts it. A version is restored from the oldest
/// generation that holds it, which holds the most history before it (a compaction may drop old
/// versions; its generation starts later). The cut is always at a commit's end, so every
/// version through the target is there and none after it.
struct RestorePlan {
    /// Where the restore stops.
    enum Cut: Equatable {
        case end
        case version(UInt64)
        case asOf(UInt64)
    }

    let generation: ReplicaManifest.Generation
    let cut: Cut
    /// The tags object's bytes (nil: no tags).
    let tagBytes: [UInt8]?
    let tagsKey: String

    /// The plan for `target`, reading the tags object (needed for `.tag`, and restored).
    static func make(manifest: ReplicaManifest, target: RestoreTarget, location: ReplicaLocation,
                     client: S3Client) async throws -> RestorePlan {
        let tagBytes = try await client.getObjectIfExists(bucket: location.bucket, key: location.tagsKey)
        let generations = manifest.generations
        func plan(_ generation: ReplicaManifest.Generation, _ cut: Cut) -> RestorePlan {
            RestorePlan(generation: generation, cut: cut, tagBytes: tagBytes, tagsKey: location.tagsKey)
        }
        switch target {
        case .latest:
            return plan(generations.last!, .end)
        case .version(let version):
            guard let holder = generations.first(where: { $0.firstVersion <= version && version <= $0.version }) else {
                let held = generations.map { "\($0.firstVersion)…\($0.version)" }.joined(separator: ", ")
                throw ReplicaError.notRestorable("version \(version) is not in the replica (it holds versions \(held))")
            }
            return plan(holder, .version(version))
        case .asOf(let date):
            let time = UInt64(min(max(0, date.timeIntervalSince1970 * 1e9), 1.8e19))
            return try await make(manifest: manifest, target: .asOfNanoseconds(time), location: location, client: client)
        case .asOfNanoseconds(let time):
            guard generations.first!.firstTimestamp <= time else {
                throw ReplicaError.notRestorable("no version in the replica was committed at or before \(Self.date(time)) (the first was at \(Self.date(generations.first!.firstTimestamp)))")
            }
            // The oldest generation still going at `time`; before its first commit, the one before it whole.
            guard let i = generations.firstIndex(where: { $0.timestamp >= time }) else { return plan(generations.last!, .end) }
            if generations[i].firstTimestamp > time { return plan(generations[i - 1], .end) }
            return plan(generations[i], .asOf(time))
        case .tag(let name):
            let tags = try decodeTags(tagBytes, key: location.tagsKey)
            guard let tag = tags.first(where: { $0.name == name }) else {
                throw ReplicaError.notRestorable("the replica has no tag '\(name)' (it has \(tags.count) tags)")
            }
            return try await make(manifest: manifest, target: .version(tag.version), location: location, client: client)
        }
    }

    /// The prefix of a segment's `commits` the restore keeps.
    func commitsToKeep(_ commits: [CommitPoint]) throws -> [CommitPoint] {
        switch cut {
        case .end: return commits
        case .version(let version):
            if let k = commits.firstIndex(where: { $0.record.version >= version }) {
                let found = commits[k].record
                guard found.version == version else {
                    if let pack = found.pack, pack.firstVersion <= version {
                        throw ReplicaError.notRestorable("version \(version) is packed with versions \(pack.firstVersion)…\(found.version) in generation \(generation.generation): restore --version \(found.version) (or a later one) instead")
                    }
                    throw ReplicaError.notRestorable("version \(version) is not in generation \(generation.generation): it was dropped by compaction before it was replicated")
                }
                return Array(commits[...k])
            }
            return commits
        case .asOf(let time):
            return Array(commits.prefix { $0.record.timestamp <= time })
        }
    }

    /// Whether `commit` is the last one the restore needs.
    func reached(_ commit: CommitPoint) -> Bool {
        switch cut {
        case .end: false
        case .version(let version): commit.record.version >= version
        case .asOf(let time): commit.record.timestamp >= time
        }
    }

    /// Why the cut was not found.
    var missedDescription: String {
        switch cut {
        case .end: "the replica holds no commit"
        case .version(let version): "version \(version) is not in generation \(generation.generation) of the replica"
        case .asOf: "no commit of generation \(generation.generation) is at or before the time asked for"
        }
    }

    /// The tags file to write: the replica's tags that name a restored version (nil: none).
    func tags(through version: UInt64) throws -> [UInt8]? {
        try Self.tags(tagBytes, key: tagsKey, through: version)
    }

    /// The tags file holding the tags of `bytes` (the tags object, `key`) that name a version
    /// up to `version` (nil: none).
    static func tags(_ bytes: [UInt8]?, key: String, through version: UInt64) throws -> [UInt8]? {
        let kept = try decodeTags(bytes, key: key).filter { $0.version <= version }
        return kept.isEmpty ? nil : TagFile.encode(kept)
    }

    /// The tags in the tags object's bytes.
    static func decodeTags(_ bytes: [UInt8]?, key: String) throws -> [Tag] {
        guard let bytes else { return [] }
        do {
            return try TagFile.decode(bytes, path: key)
        } catch {
            throw ReplicaError.damaged(object: key, reason: "\(error)")
        }
    }

    /// A timestamp as a date, for messages.
    static func date(_ nanoseconds: UInt64) -> Date { Date(timeIntervalSince1970: Double(nanoseconds) / 1e9) }
}
