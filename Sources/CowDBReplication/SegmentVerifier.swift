import CowDB
import CowDBFormat
import CowDBStorage
import Foundation

/// Checks a segment's bytes before they are uploaded or written: whole commits, each run's
/// checksum, every commit record's link to the one before (`anchor`), its version, timestamp
/// and region checksum: recovery's own rules (SegmentScan). A segment that starts the file
/// also carries the file header, which must name the replica's database and generation.
enum SegmentVerifier {
    /// The commits of `bytes`, bytes [start, start + count) of generation `generation`, which
    /// must all verify and end exactly at the segment's end. `object` names it in errors.
    static func commits(
        of bytes: UnsafeRawBufferPointer, start: UInt64, generation: UInt64, database: String, pageSize: Int,
        after anchor: CommitPoint?, object: String
    ) throws(ReplicaError) -> [CommitPoint] {
        guard bytes.count >= pageSize, bytes.count % pageSize == 0, start % UInt64(pageSize) == 0 else {
            throw .damaged(object: object, reason: "\(bytes.count) bytes is not a whole number of \(pageSize)-byte pages")
        }
        if start == 0 {
            let header: FileHeader
            do {
                header = try FileHeader.decode(UnsafeRawBufferPointer(rebasing: bytes[0 ..< pageSize]), path: object)
            } catch {
                throw .damaged(object: object, reason: "bad file header (\(error))")
            }
            guard bytes[FileHeader.encodedSize ..< pageSize].allSatisfy({ $0 == 0 }) else {
                throw .damaged(object: object, reason: "page 0 holds bytes other than zeros after the file header")
            }
            guard header.uuid.uuidString == database, header.generation == generation, header.pageSize == pageSize else {
                throw .damaged(object: object, reason: "its header is database \(header.uuid.uuidString) generation \(header.generation), page size \(header.pageSize), not the manifest's")
            }
        }
        let startPage = start / UInt64(pageSize)
        let result = SegmentScan.scan(bytes, startPage: startPage, pageSize: pageSize, after: anchor)
        guard result.complete else {
            let at = result.verifiedEndPage * UInt64(pageSize)
            let what = result.commits.isEmpty ? "no whole commit verifies" : "verified only through version \(result.commits.last!.record.version)"
            throw .damaged(object: object, reason: "\(what): page \(result.verifiedEndPage) (byte \(at)) fails its checksum, chain or region checks")
        }
        return result.commits
    }
}
