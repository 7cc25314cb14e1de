import CowDBFormat

// Group commit: steps 5–8 of a commit (Generation+Commit.swift), shared by every commit
// appended while one sync is in flight.
//
// A writer appends its commit under the writer gate (steps 1–4), queues it (`CommitQueue`),
// leaves the gate, and calls `awaitPublished`. There the first writer to find no sync in
// flight becomes the leader: it takes every commit queued so far, makes them durable with one
// `fdatasync` (which covers every byte written before it starts), then publishes them in order
// (their index records in one write, the head readers start from, the lock file's page) and
// wakes the others. A writer whose commit a sync covered returns; one whose commit was appended
// while the sync ran leads the next group. So a commit's caller returns only after a sync that
// covers it, readers and other processes never see a commit before it is durable, versions are
// in the order of the gate, and a single writer pays what it paid before: one sync per commit.
//
// A failed sync poisons the writer (as before group commit: the kernel may have dropped the
// dirty pages) and fails every commit that is not yet published, the group it covered and any
// appended on top of it; none of them was ever visible. The data file's syncs never overlap (the
// reserve's top-up takes the same `syncing` role), so no sync can return success for pages
// another one saw dropped.

extension Generation {
    /// Queues an appended commit (under the writer gate); it becomes the tip the next builds on.
    func enqueue(_ point: CommitPoint, mapping: MappedRegion, durable: Bool) -> CommitTicket {
        queue.withLock { state in
            state.appended += 1
            state.entries.append(CommitQueue.Entry(sequence: state.appended, point: point, mapping: mapping, durable: durable))
            state.tip = point
            state.tipMapping = mapping
            state.fileEnd = max(state.fileEnd, (point.page + 1) * UInt64(store.layout.pageSize))
            return CommitTicket(sequence: state.appended, point: point)
        }
    }

    /// How many commits are appended and not yet published (waiting for, or covered by, a sync).
    package var queuedCommits: Int { queue.withLock { $0.entries.count } }

    /// Returns once the commit is durable (if it asked to be) and published, leading a group
    /// sync if none is in flight; throws the sync's error if one that had to cover it failed.
    package func awaitPublished(_ ticket: CommitTicket) throws {
        try awaitPublished(through: ticket.sequence)
    }

    /// Publishes every commit appended so far (under the writer gate, before whatever needs
    /// the published head to be the tip: compaction's switch, a rollback, a tag, close).
    package func drainCommits() throws {
        try awaitPublished(through: queue.withLock { $0.appended })
    }

    /// The loop behind `awaitPublished` and `drainCommits`.
    private func awaitPublished(through sequence: UInt64) throws {
        queue.lock()
        defer { queue.unlock() }
        while queue.state.published < sequence {
            if let failure = queue.state.failure { throw failure }
            if queue.state.syncing {
                queue.wait()
                continue
            }
            let group = queue.state.entries
            queue.state.syncing = true
            queue.unlock()
            let outcome = Result { try syncAndPublish(group) }
            queue.lock()
            queue.state.entries.removeFirst(group.count)
            queue.state.syncing = false
            switch outcome {
            case .success: queue.state.published = group.last?.sequence ?? queue.state.published
            case .failure(let error): queue.state.failure = error
            }
            queue.broadcast()
        }
    }

    /// Steps 5–8 for a group of appended commits, oldest first (the leader, outside every lock).
    private func syncAndPublish(_ group: [CommitQueue.Entry]) throws {
        guard let last = group.last else { return }
        // 5. THE DURABILITY POINT: one fdatasync makes every commit of the group durable. A
        //    failure poisons the writer; readers stay where they were.
        let durable = group.contains { $0.durable }
        if durable {
            do { try store.file.sync() } catch {
                poison("\(error)")
                throw error
            }
        }
        // 6. The index records (no sync of their own), written past every reader's view; and
        // 7. publication to readers in this process: the records counted and the head moved
        //    under the head lock together, so that a reader that finds a record also finds
        //    its version published.
        let records = group.map { IndexRecord(commit: $0.point.record, page: $0.point.page, synced: durable) }
        let written = log.write(records)
        head.withLock { head in
            log.count(records, written: written)
            for entry in group where entry.point.record.pack != nil {
                head.packed = PackedVersions(pack: entry.point, mapping: entry.mapping, pageSize: store.layout.pageSize)
            }
            head.latest = last.point
            head.mapping = last.mapping
        }
        // 8. Publication to other processes: the lock file's seqlock page.
        lockFile?.publish(version: last.point.record.version, commitPage: last.point.page, generation: number, indexCount: log.count)
    }
}
