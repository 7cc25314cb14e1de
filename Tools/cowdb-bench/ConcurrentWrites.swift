// concurrent_writes: single-pair durable commits from 4 threads at once, each engine set up as
// a user would for it: CowDB one shared `Database` (its writers queue at the writer gate),
// LMDB one environment (each thread its own write transactions, serialized by LMDB), SQLite a
// connection per thread (`BEGIN IMMEDIATE`, a busy timeout). Then every committed pair is read
// back, so that an engine that lost or mangled a commit fails the run rather than posting a figure.

/// The shape of `concurrent_writes`.
enum ConcurrentWrites {
    /// The writing threads.
    static let threads = 4
}

extension PhaseRunner {
    /// Commits each pair of `pairs` (`ConcurrentWrites.threads` × `plan.concurrentWritesPerThread`
    /// new pairs, a contiguous slice per thread) in a durable transaction of its own, from all the
    /// threads at once, timed in `writeRounds` rounds; records commits per second over the total
    /// wall time, then checks that every pair reads back whole.
    mutating func concurrentWrites(_ engine: E, pairs: Range<Int>) throws {
        let data = plan.data, threads = ConcurrentWrites.threads, perThread = plan.concurrentWritesPerThread
        let skipped = plan.skipConcurrentWrite ? pairs.lowerBound + perThread - 1 : nil // test only: a lost commit
        var opened: [E] = []
        for _ in 0 ..< threads { opened.append(try engine.handleForAnotherThread()) } // outside the timing
        let handles = opened
        sampler.reset()
        let rounds = max(1, min(plan.writeRounds, perThread))
        var rates: [Double] = [], total = 0.0
        let processorBefore = Clock.processorTime()
        for round in 0 ..< rounds {
            let part = perThread * round / rounds ..< perThread * (round + 1) / rounds
            let seconds = try Clock.measure {
                _ = try onThreads(threads) { thread in
                    let handle = handles[thread], first = pairs.lowerBound + thread * perThread
                    for k in part where first + k != skipped { try handle.write(first + k ..< first + k + 1, of: data) }
                    return 0
                }
            }
            total += seconds
            rates.append(Double(threads * part.count) / seconds)
        }
        let processor = Clock.processorTime() - processorBefore, peak = sampler.peakBytes()
        for handle in handles where handle !== engine { try handle.close() }
        let checksum = try readBackWhole(engine, pairs)

        let spread = Measurement.Spread(rates)
        results.append(Measurement(workload: .concurrentWrites, engine: engineName, seconds: total,
                                   operationsPerSecond: Double(pairs.count) / total, bytes: nil, peakRSSAnonBytes: peak,
                                   checksum: checksum, spread: spread, commits: pairs.count, cpuSeconds: processor))
        log(.concurrentWrites, String(format: "%d commits from %d threads in %.3f s, %.0f commits/s (rounds %.0f / %.0f / %.0f), peak anon %.1f MiB, CPU %.3f s; all read back",
                                      pairs.count, threads, total, Double(pairs.count) / total, spread.min, spread.median, spread.max,
                                      Double(peak) / 1048576, processor))
    }

    /// Reads every pair of `pairs` back and returns the byte sum of their values; throws when a
    /// key is missing or the values' sum is not the data set's.
    private func readBackWhole(_ engine: E, _ pairs: Range<Int>) throws -> UInt64 {
        let data = plan.data
        var buffers = PairBuffers(), missing = 0, expected: UInt64 = 0
        let sum = try inReadTransactions(pairs, transaction: { try engine.read($0) }) { i, reader in
            buffers.load(i, from: data)
            expected &+= buffers.value.withUnsafeBytes { byteSum($0) }
            guard let valueSum = try reader.get(buffers.key) else {
                missing += 1
                return 0
            }
            return valueSum
        }
        guard missing == 0 else {
            throw EngineError(description: "concurrent_writes: \(missing) of \(pairs.count) committed pairs are missing")
        }
        guard sum == expected else {
            throw EngineError(description: "concurrent_writes: the committed values' byte sum is \(sum), but the pairs written sum to \(expected)")
        }
        return sum
    }
}
