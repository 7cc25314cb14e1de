/// Where a replica lives: a bucket and a key prefix, written `s3://BUCKET/PREFIX`. Every object
/// of the replica is under the prefix (docs/REPLICATION.md, "Bucket layout").
public struct ReplicaLocation: Sendable, Equatable, CustomStringConvertible {
    /// The bucket.
    public let bucket: String
    /// The key prefix, without leading or trailing `/` (empty: the bucket's root).
    public let prefix: String

    /// A location from `s3://BUCKET` or `s3://BUCKET/PREFIX`.
    public init(_ url: String) throws(ReplicaError) {
        guard url.hasPrefix("s3://") else { throw .badLocation(url, "expected s3://BUCKET/PREFIX") }
        let rest = url.dropFirst(5)
        let bucket = rest.prefix { $0 != "/" }
        guard (3...63).contains(bucket.count),
              bucket.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == ".") })
        else { throw .badLocation(url, "a bucket name is 3 to 63 characters: a-z, 0-9, '-' and '.'") }
        self.bucket = String(bucket)
        self.prefix = rest.dropFirst(bucket.count).split(separator: "/").joined(separator: "/")
    }

    /// A location from its parts (`prefix` trimmed of slashes).
    public init(bucket: String, prefix: String) {
        self.bucket = bucket
        self.prefix = prefix.split(separator: "/").joined(separator: "/")
    }

    /// The one-line description.
    public var description: String { "s3://\(bucket)" + (prefix.isEmpty ? "" : "/\(prefix)") }

    /// The key of `name` under the prefix.
    func key(_ name: String) -> String { prefix.isEmpty ? name : prefix + "/" + name }

    /// The manifest's key.
    var manifestKey: String { key("manifest.json") }
    /// The tags object's key (the tags file's bytes).
    var tagsKey: String { key("tags") }

    /// The folder of generation `generation`'s segments (with a trailing `/`).
    func segmentsFolder(_ generation: UInt64) -> String {
        key("generations/\(Self.hex(generation))/segments/")
    }

    /// The key of the segment holding bytes [start, end) of generation `generation`.
    func segmentKey(_ generation: UInt64, _ range: Range<UInt64>) -> String {
        segmentsFolder(generation) + Self.hex(range.lowerBound) + "-" + Self.hex(range.upperBound)
    }

    /// The byte range a segment's key names, nil for a key that is not a segment's.
    func segmentRange(ofKey key: String, generation: UInt64) -> Range<UInt64>? {
        let folder = segmentsFolder(generation)
        guard key.hasPrefix(folder) else { return nil }
        let parts = key.dropFirst(folder.count).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ $0.count == 16 }),
              let start = UInt64(parts[0], radix: 16), let end = UInt64(parts[1], radix: 16), start < end,
              end <= Self.largestOffset, end - start <= Self.largestSegment
        else { return nil }
        return start ..< end
    }

    /// The largest segment a key may name (S3 takes at most 5 GB in one PUT), and the largest
    /// offset: a key past them is not a segment's (so no size computed from it can overflow).
    static let largestSegment: UInt64 = 1 << 33
    static let largestOffset: UInt64 = 1 << 56

    /// 16 lower-case hex digits, so that key order is numeric order.
    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
