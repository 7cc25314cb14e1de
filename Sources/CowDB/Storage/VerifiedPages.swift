import CCowDBSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Which pages of one data file this process has verified: the first read of a page (or of
// an overflow run, as a whole) checks its checksum and sets its bit; later reads test the bit
// only. Pages this process wrote itself are set when sealed. A committed page never changes
// while the file lives (it is append-only; compaction writes a new file, with a map of its own),
// so a bit never needs clearing: pages past the latest commit that an aborted transaction
// leaves set are written again, by this process, before anything can read them.
//
// Two levels, so that the map grows with the file without moving (readers test bits while
// the writer sets them, with no lock):
//
//   directory  2^15 slots, each 0 or the address of a chunk (set once, compare-and-swap)
//   chunk      2^12 words of 64 bits = 2^18 pages (1 GiB of 4 KiB pages, 32 KiB of memory)
//
// The directory covers 2^33 pages (32 TiB of 4 KiB pages); pages beyond are verified on
// every read. The directory's 256 KiB are allocated zeroed and touched only where used.

/// The verified-pages bitmap of one data file, shared by the readers and the writer of a
/// `Database` instance. Owned by its `PageStore`; `Bits` views it without reference counting.
final class VerifiedPages: @unchecked Sendable {
    /// log2 of the pages one chunk covers.
    static let chunkShift: UInt64 = 18
    /// Words in one chunk.
    static let chunkWords = 1 << 12
    /// Slots in the directory.
    static let directorySlots = 1 << 15

    /// The view readers test and set bits through.
    let bits: Bits

    init() {
        guard let directory = calloc(VerifiedPages.directorySlots, MemoryLayout<UInt64>.size) else {
            fatalError("CowDB: out of memory for the verified-pages map")
        }
        bits = Bits(directory: directory.assumingMemoryBound(to: UInt64.self))
    }

    deinit {
        for slot in 0 ..< VerifiedPages.directorySlots where bits.directory[slot] != 0 {
            free(UnsafeMutableRawPointer(bitPattern: UInt(bits.directory[slot])))
        }
        free(bits.directory)
    }

    /// A view of the bitmap (valid while its `VerifiedPages` lives).
    struct Bits: @unchecked Sendable {
        let directory: UnsafeMutablePointer<UInt64>

        /// Whether `page` was verified (or written) by this process: two loads and a bit test.
        @inline(__always)
        func contains(_ page: PageNumber) -> Bool {
            let slot = page >> VerifiedPages.chunkShift
            guard slot < UInt64(VerifiedPages.directorySlots) else { return false }
            let chunk = cowdb_atomic_load_u64(directory + Int(slot))
            guard chunk != 0, let words = UnsafeRawPointer(bitPattern: UInt(chunk)) else { return false }
            let word = cowdb_atomic_load_relaxed_u64(words + 8 * Int((page >> 6) & UInt64(VerifiedPages.chunkWords - 1)))
            return word & (1 << (page & 63)) != 0
        }

        /// Records that `page` verified (or was written by this process).
        func insert(_ page: PageNumber) {
            let slot = page >> VerifiedPages.chunkShift
            guard slot < UInt64(VerifiedPages.directorySlots) else { return }
            let words = chunk(Int(slot))
            cowdb_atomic_or_u64(words + 8 * Int((page >> 6) & UInt64(VerifiedPages.chunkWords - 1)), 1 << (page & 63))
        }

        /// The chunk of directory slot `slot`, allocated (zeroed) on first use; of two threads
        /// racing to allocate it, one wins and the other frees its own.
        private func chunk(_ slot: Int) -> UnsafeMutableRawPointer {
            let existing = cowdb_atomic_load_u64(directory + slot)
            if existing != 0, let words = UnsafeMutableRawPointer(bitPattern: UInt(existing)) { return words }
            guard let fresh = calloc(VerifiedPages.chunkWords, MemoryLayout<UInt64>.size) else {
                fatalError("CowDB: out of memory for the verified-pages map")
            }
            let address = UInt64(UInt(bitPattern: fresh))
            if cowdb_atomic_compare_exchange_u64(directory + slot, 0, address) { return fresh }
            free(fresh)
            let winner = cowdb_atomic_load_u64(directory + slot)
            return UnsafeMutableRawPointer(bitPattern: UInt(winner))!
        }
    }
}
