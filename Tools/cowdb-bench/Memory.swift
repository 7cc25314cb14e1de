// Peak anonymous memory of this process, per workload.
//
// Method: a background thread reads `RssAnon` from /proc/self/status every 2 ms and keeps the
// maximum; a workload starts by resetting the maximum to the current value and ends with one
// more read. `RssAnon` counts resident private anonymous pages (heap, stacks, private
// copies): unlike the total RSS it leaves out the file pages an engine maps (LMDB's and
// CowDB's data files), which belong to the page cache and are not the engine's own memory.
// A spike shorter than the period can be missed; the final read catches what is still held.
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Samples this process's anonymous resident memory on a background thread.
final class MemorySampler: Sendable {
    /// The highest `RssAnon` seen since the last `reset`, in bytes.
    private let peak = Atomic<Int>(0)
    /// Cleared to stop the sampling thread.
    private let running = Atomic<Bool>(true)
    /// Sampling period in microseconds.
    private let periodMicroseconds: UInt32

    /// Starts sampling every `periodMicroseconds`.
    init(periodMicroseconds: UInt32 = 2000) {
        self.periodMicroseconds = periodMicroseconds
        peak.store(MemorySampler.currentAnonymousBytes(), ordering: .relaxed)
        let thread = Thread { [self] in
            while running.load(ordering: .relaxed) {
                sample()
                usleep(periodMicroseconds)
            }
        }
        thread.stackSize = 256 << 10
        thread.start()
    }

    /// Starts a new measurement: the peak becomes the current value.
    func reset() {
        peak.store(MemorySampler.currentAnonymousBytes(), ordering: .relaxed)
    }

    /// The peak since the last `reset`, including one final read now.
    func peakBytes() -> UInt64 {
        sample()
        return UInt64(peak.load(ordering: .relaxed))
    }

    /// Stops the sampling thread.
    func stop() { running.store(false, ordering: .relaxed) }

    /// Reads the current value into the peak.
    private func sample() {
        let now = MemorySampler.currentAnonymousBytes()
        var seen = peak.load(ordering: .relaxed)
        while now > seen {
            let (exchanged, original) = peak.compareExchange(expected: seen, desired: now, ordering: .relaxed)
            if exchanged { break }
            seen = original
        }
    }

    /// `RssAnon` of this process, in bytes (0 where /proc is missing).
    static func currentAnonymousBytes() -> Int {
        let fd = open("/proc/self/status", O_RDONLY)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4096) { buffer -> Int in
            let count = read(fd, buffer.baseAddress, buffer.count)
            guard count > 0 else { return 0 }
            let text = UnsafeBufferPointer(rebasing: buffer[0 ..< count])
            // Find "RssAnon:", then the number of kB after it.
            let label = Array("RssAnon:".utf8)
            var i = 0
            while i + label.count <= text.count {
                if text[i] == label[0], Array(text[i ..< i + label.count]) == label {
                    var j = i + label.count, kilobytes = 0
                    while j < text.count, text[j] == 0x20 || text[j] == 0x09 { j += 1 }
                    while j < text.count, text[j] >= 0x30, text[j] <= 0x39 {
                        kilobytes = kilobytes * 10 + Int(text[j] - 0x30)
                        j += 1
                    }
                    return kilobytes * 1024
                }
                i += 1
            }
            return 0
        }
    }
}
