import CowDBFormat
import CCowDBSupport

// Which pages of one data file this process has verified: the first read of a page (or of
// an overflow run, as a whole) checks its checksum and sets its bit; later reads test the bit
// only. Pages this process wrote itself are set when sealed. A committed page never changes
// while the file lives (it is append-only; compaction writes a new file, with a map of its own),
// so a bit never needs clearing: pages past the latest commit that an aborted transaction
// leaves set are written again, by this process, before anything can read them.
//
// One bit per page, in one anonymous mapping reserved up front for 2^35 pages (4 GiB of address
// space, `MAP_NORESERVE`): the bitmap never moves as the file grows, so readers test bits while
// the writer sets them with no lock, and a warm test is one load and a bit test. Only the pages
// of the bitmap that are touched take memory: 4 KiB per 128 MiB of 4 KiB data pages. Pages past
// 2^35 (128 TiB at 4 KiB) are verified on every read.

/// The verified-pages bitmap of one data file, shared by the readers and the writer of a
/// `Database` instance. Owned by its `PageStore`; `Bits` views it without reference counting.
@usableFromInline package final class VerifiedPages: @unchecked Sendable {
    /// Pages the bitmap covers.
    package static let capacity: UInt64 = 1 << 35

    /// The view readers test and set bits through.
    package let bits: Bits

    package init() {
        if let address = OS.mapAnonymous(length: Int(VerifiedPages.capacity / 8)) {
            bits = Bits(words: address, pageLimit: VerifiedPages.capacity)
        } else {
            // No address space for it: verify every read (a limit of 0 covers no page).
            bits = .none
        }
    }

    deinit {
        if bits.pageLimit > 0 { OS.unmap(bits.words, length: Int(bits.pageLimit / 8)) }
    }

    /// A view of the bitmap (valid while its `VerifiedPages` lives).
    @usableFromInline package struct Bits: @unchecked Sendable {
        @usableFromInline package let words: UnsafeMutableRawPointer
        /// Pages below this have a bit.
        @usableFromInline package let pageLimit: UInt64

        /// Memberwise.
        package init(words: UnsafeMutableRawPointer, pageLimit: UInt64) {
            self.words = words
            self.pageLimit = pageLimit
        }

        /// A bitmap of no page: every read verifies.
        package static let none = Bits(words: UnsafeMutableRawPointer(bitPattern: 8)!, pageLimit: 0)

        /// Whether `page` was verified (or written) by this process: a compare, a load, a bit test.
        @inlinable @inline(__always)
        package func contains(_ page: PageNumber) -> Bool {
            guard page < pageLimit else { return false }
            return cowdb_atomic_load_relaxed_u64(words + 8 * Int(page >> 6)) & (1 << (page & 63)) != 0
        }

        /// Records that `page` verified (or was written by this process).
        package func insert(_ page: PageNumber) {
            guard page < pageLimit else { return }
            cowdb_atomic_or_u64(words + 8 * Int(page >> 6), 1 << (page & 63))
        }
    }
}
