// Recomputing checksums after mutation, as a crafted file would carry them, so the parsers
// behind each checksum meet hostile bytes (see FuzzCase.Flags.resealData).

import Foundation
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

extension FuzzCase {
    // MARK: Resealing

    /// Recomputes the checksums of the data file the way the engine writes them.
    static func resealData(_ data: inout [UInt8], relink: Bool) {
        guard data.count >= FileHeader.encodedSize else { return }
        data.withUnsafeMutableBytes { file in
            file.setU32(crc32c(UnsafeRawBufferPointer(rebasing: file[0 ..< 60])), 60)
            let declared = Int(UnsafeRawBufferPointer(file).u32(12))
            let pageSize = PageLayout.isValidPageSize(declared) ? declared : 4096
            let pages = UInt64(file.count / pageSize)
            var page: UInt64 = 1
            var fold: UInt32 = 0
            var previousCommit: UInt64 = 0
            var regionStart: UInt64 = 1
            while page < pages {
                let start = Int(page) * pageSize
                // The reserve (zero pages right after a commit record) is no run: left as it is.
                if page == regionStart, previousCommit != 0, file[start ..< start + pageSize].allSatisfy({ $0 == 0 }) { break }
                let declaredRun = UInt64(UnsafeRawBufferPointer(file).u32(start + PageHeader.runLengthOffset))
                let runLength = (1 ... pages - page).contains(declaredRun) ? declaredRun : 1
                let run = UnsafeMutableRawBufferPointer(rebasing: file[start ..< start + Int(runLength) * pageSize])
                let isCommit = run[PageHeader.kindOffset] == PageKind.commit.rawValue
                if isCommit {
                    if relink {
                        run.setU64(previousCommit, 32)
                        run.setU64(regionStart, 40)
                    }
                    run.setU32(fold, 80)
                }
                let checksum = PageHeader.seal(run, pageNumber: page)
                if isCommit {
                    fold = 0
                    previousCommit = page
                    regionStart = page + 1
                } else {
                    var stored = checksum.littleEndian
                    fold = withUnsafeBytes(of: &stored) { crc32c($0, seed: fold) }
                }
                page += runLength
            }
        }
    }

    /// Recomputes the checksum of every whole index record.
    static func resealIndex(_ index: inout [UInt8]) {
        index.withUnsafeMutableBytes { file in
            var offset = 0
            while offset + IndexRecord.size <= file.count {
                let record = UnsafeMutableRawBufferPointer(rebasing: file[offset ..< offset + IndexRecord.size])
                record.setU32(crc32c(UnsafeRawBufferPointer(rebasing: record[0 ..< 60])), 60)
                offset += IndexRecord.size
            }
        }
    }
}

extension FuzzCase {
    /// Recomputes the checksums of the tags file (its last four bytes) and of CURRENT (bytes
    /// 16–19), so their parsers see the mutated fields rather than a checksum mismatch.
    static func resealTagsAndCurrent(_ files: inout Files) {
        if let tags = files.tags, tags.count >= 4 {
            let checksum = tags.withUnsafeBytes { crc32c(UnsafeRawBufferPointer(rebasing: $0[0 ..< tags.count - 4])) }
            files.tags!.withUnsafeMutableBytes { $0.setU32(checksum, tags.count - 4) }
        }
        if let current = files.current, current.count >= 20 {
            let checksum = current.withUnsafeBytes { crc32c(UnsafeRawBufferPointer(rebasing: $0[0 ..< 16])) }
            files.current!.withUnsafeMutableBytes { $0.setU32(checksum, 16) }
        }
    }
}
