/// Why replication, restore or follow failed; each describes itself on one line.
public enum ReplicaError: Error, Equatable, CustomStringConvertible {
    /// The text is not an `s3://BUCKET/PREFIX` location.
    case badLocation(String, String)
    /// An object in the bucket is damaged, missing or not what its name says: its key and what
    /// is wrong. Nothing is restored from it.
    case damaged(object: String, reason: String)
    /// The location holds no replica, or one of another database.
    case notAReplica(location: String, reason: String)
    /// The replica and the local database have diverged (a replica of an older copy, a
    /// generation the database does not have).
    case diverged(String)
    /// The version asked for cannot be restored exactly (dropped by retention, or inside a pack).
    case notRestorable(String)
    /// The local database's bytes fail verification: nothing is shipped.
    case localDamage(String)

    /// The one-line description.
    public var description: String {
        switch self {
        case let .badLocation(text, reason): "bad replica location '\(text)': \(reason)"
        case let .damaged(object, reason): "replica object \(object) is damaged: \(reason)"
        case let .notAReplica(location, reason): "\(location) holds no replica of this database: \(reason)"
        case let .diverged(reason): "replica diverged: \(reason)"
        case let .notRestorable(reason): reason
        case let .localDamage(reason): "not shipped: \(reason)"
        }
    }
}
