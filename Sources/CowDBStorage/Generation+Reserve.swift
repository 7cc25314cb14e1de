import CowDBFormat

// The reserve: zeros kept past the last commit of the data file, written and synced ahead, so
// that a durable commit overwrites blocks the file already has instead of growing it. An
// `fdatasync` after an append must also commit the file system's journal (the new length, the
// blocks allocated); one over allocated, written blocks flushes data only, about twice as fast
// on ext4 (docs/DURABLE-COMMITS.md has the measurements).
//
// The format allows it (FORMAT.md, "The reserve"): past the last commit a data file may hold
// zero pages, which no reader trusts and recovery's scan stops at (a zero page is not a run).
// The writer keeps it zeros: every commit writes its pages over the reserve's start, an
// abandoned commit writes zeros back over what it wrote, and a writer's open keeps what lies
// past the last commit only if it is all zeros (else cuts it off, as a torn tail).
//
// Only a durable writer keeps one (`GenerationPlace.keepsReserve`): a commit that is not synced
// gains nothing. It grows with the file (a 32nd of it, between 256 KiB and 16 MiB), so a small
// database stays small; it is topped up, by one chunk of zeros and one sync, when less than
// half a chunk is left before a commit starts, from the writer's second commit on (a process
// that commits once gains nothing either). A clean close cuts it off, so a closed database ends
// with its last commit; a writer's open keeps one a crash left if it is all zeros.

extension Generation {
    /// Zeros written and synced at a time when the reserve runs low, for a file of `length` bytes.
    package static func reserveChunk(forLength length: UInt64, pageSize: Int) -> UInt64 {
        let pageSize = UInt64(pageSize)
        let chunk = min(max(length / 32, 256 << 10), 16 << 20)
        return (chunk + pageSize - 1) / pageSize * pageSize
    }

    /// The bytes of reserve past the newest appended commit (0 for a reader or a writer keeping none).
    package var reserveBytes: UInt64 {
        queue.withLock { state in
            let tipEnd = ((state.tip?.page ?? 0) + 1) * UInt64(store.layout.pageSize)
            return state.fileEnd > tipEnd ? state.fileEnd - tipEnd : 0
        }
    }

    /// Under the writer gate, before a commit appends: tops the reserve up when less than half a
    /// chunk is left. The zeros are synced before any commit writes over them; a failed sync
    /// poisons the writer (the commits waiting for a sync fail with it).
    /// A zero write that fails leaves the reserve as it was (what it wrote is zeros, harmless
    /// either way), and the commit goes on without.
    func topUpReserve() throws {
        guard place.keepsReserve else { return }
        let pageSize = store.layout.pageSize
        let (tipEnd, fileEnd, appended) = queue.withLock { state in
            (((state.tip?.page ?? 0) + 1) * UInt64(pageSize), state.fileEnd, state.appended)
        }
        let chunk = Generation.reserveChunk(forLength: tipEnd, pageSize: pageSize)
        guard appended > 0, fileEnd < tipEnd + chunk / 2 else { return }
        let newEnd = tipEnd + chunk
        do { try writeZeros(from: max(fileEnd, tipEnd), to: newEnd) } catch { return }
        // The sync takes the queue's `syncing` role, never running beside a group leader's:
        // of two concurrent fdatasyncs of one file, Linux may report a writeback error (pages
        // of the leader's group dropped) to this one alone. Its failure fails every commit not
        // yet published, as a leader's does.
        queue.lock()
        while queue.state.syncing { queue.wait() }
        if let failure = queue.state.failure {
            queue.unlock()
            throw failure
        }
        queue.state.syncing = true
        queue.unlock()
        defer {
            queue.withLock { $0.syncing = false }
            queue.broadcast()
        }
        do { try store.file.sync() } catch {
            poison("could not sync the reserve: \(error)")
            queue.withLock { $0.failure = $0.failure ?? error }
            throw error
        }
        queue.withLock { $0.fileEnd = newEnd }
    }

    /// At a writer's close, after every commit is published: cuts the reserve off (and, after a
    /// failed sync, the commits that were never published: their `write` threw).
    func trimReserve() throws {
        let end = ((head.withLock { $0.latest }?.page ?? 0) + 1) * UInt64(store.layout.pageSize)
        guard try store.file.length() > end else { return }
        try store.file.truncate(to: end)
        queue.withLock { $0.fileEnd = end }
    }

    /// Writes zeros over `[start, end)` of the data file, a MiB at a time.
    func writeZeros(from start: UInt64, to end: UInt64) throws {
        var offset = start
        while offset < end {
            let count = Int(min(end - offset, UInt64(ZeroPages.bytes.count)))
            try store.file.write(UnsafeRawBufferPointer(rebasing: ZeroPages.bytes[0 ..< count]), at: offset)
            offset += UInt64(count)
        }
    }

    /// Where `[start, end)` of `file` (page-aligned) holds pages that are not all zeros: the
    /// first such page and the end of the last one (nil: only zeros), read a MiB at a time. A
    /// writer's open keeps a tail without any as its reserve; `Database.dataFileTail` reports it.
    package static func nonZeroPages(of file: any StorageFile, from start: UInt64, to end: UInt64,
                                     pageSize: Int) throws -> (first: PageNumber, end: UInt64)? {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ZeroPages.bytes.count, alignment: 16)
        defer { buffer.deallocate() }
        var found: (first: PageNumber, end: UInt64)?
        var offset = start
        while offset < end {
            let count = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0 ..< Int(min(end - offset, UInt64(buffer.count)))]), at: offset)
            guard count > 0 else { break }
            for pageStart in stride(from: 0, to: count, by: pageSize) {
                let page = UnsafeRawBufferPointer(rebasing: buffer[pageStart ..< min(count, pageStart + pageSize)])
                guard page.contains(where: { $0 != 0 }) else { continue }
                let at = offset + UInt64(pageStart)
                found = (found?.first ?? at / UInt64(pageSize), at + UInt64(page.count))
            }
            offset += UInt64(count)
        }
        return found
    }
}

/// A MiB of zeros, written to extend the reserve and over an abandoned commit.
enum ZeroPages {
    /// Never written after it is made, so shared by every thread.
    nonisolated(unsafe) static let bytes: UnsafeRawBufferPointer = {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        return UnsafeRawBufferPointer(buffer)
    }()
}
