import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A progress line on standard error for long work (load, dump, check): a bar with percent,
/// rate and ETA when the total is known, a count and rate otherwise, and a spinner with the
/// elapsed time for work that cannot be measured. Shown only when standard error is a
/// terminal and `--quiet` is off, so pipes and logs never see it; redrawn at most ten times a
/// second, and erased when the work ends.
final class ProgressBar {
    /// What the progress counts.
    enum Unit {
        /// Bytes, shown as MB and MB/s.
        case bytes
        /// Items with a plural name ("records"), shown as counts.
        case items(String)
    }

    private let enabled: Bool
    private let label: String
    private let unit: Unit
    private let total: UInt64?
    private let started = ProcessClock.now()
    private var lastDraw: UInt64 = 0
    private var calls = 0
    private var drawn = false

    /// A progress line labelled `label`, of `total` units if known; drawn only if `enabled`.
    init(label: String, unit: Unit, total: UInt64?, enabled: Bool) {
        self.label = label
        self.unit = unit
        self.total = total
        self.enabled = enabled
    }

    /// Whether progress should be shown: standard error is a terminal and not `--quiet`.
    static func shouldShow(quiet: Bool) -> Bool { !quiet && isatty(2) != 0 }

    /// Reports `done` units and `items` items so far. Cheap: looks at the clock once every
    /// 256 calls and draws at most every 100 ms.
    func update(done: UInt64, items: UInt64) {
        guard enabled else { return }
        calls += 1
        guard calls & 255 == 0 else { return }
        let now = ProcessClock.now()
        guard now - lastDraw >= 100_000_000 else { return }
        lastDraw = now
        draw(done: done, items: items, now: now)
    }

    /// Erases the progress line.
    func finish() {
        guard enabled, drawn else { return }
        ProgressBar.writeToStandardError("\r\u{1B}[K")
        drawn = false
    }

    /// Draws the line for `done` units at time `now`.
    private func draw(done: UInt64, items: UInt64, now: UInt64) {
        let seconds = max(Double(now - started) / 1e9, 0.001)
        let rate = Double(done) / seconds
        var parts = [label]
        let width = ProgressBar.terminalWidth()
        if let total, total > 0 {
            let fraction = min(1, Double(done) / Double(total))
            let barWidth = max(10, min(40, width - 70))
            let filled = Int(fraction * Double(barWidth))
            parts.append("[" + String(repeating: "#", count: filled) + String(repeating: ".", count: barWidth - filled) + "]")
            parts.append(String(format: "%3.0f%%", fraction * 100))
        }
        switch unit {
        case .bytes:
            parts.append(String(format: "%.1f MB  %.1f MB/s", Double(done) / 1e6, rate / 1e6))
            parts.append("\(items) records")
        case let .items(name):
            parts.append("\(done) \(name)  \(Int(rate))/s")
        }
        if let total, total > done, rate > 0 {
            parts.append("ETA " + ProgressBar.duration(Double(total - done) / rate))
        }
        let line = String(parts.joined(separator: "  ").prefix(max(20, width - 1)))
        ProgressBar.writeToStandardError("\r" + line + "\u{1B}[K")
        drawn = true
    }

    // MARK: Terminal

    /// Columns of the terminal on standard error (80 when unknown).
    static func terminalWidth() -> Int {
        var size = winsize()
        guard ioctl(2, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }

    /// `m:ss` or `h:mm:ss`, whole seconds rounded up (for an ETA) or down (for time elapsed).
    static func duration(_ seconds: Double, roundingUp: Bool = true) -> String {
        let total = Int(seconds.rounded(roundingUp ? .up : .down))
        let (hours, minutes, secs) = (total / 3600, total / 60 % 60, total % 60)
        return hours > 0 ? String(format: "%d:%02d:%02d", hours, minutes, secs) : String(format: "%d:%02d", minutes, secs)
    }

    /// Writes `text` to standard error unbuffered.
    static func writeToStandardError(_ text: String) {
        var text = text
        text.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
    }
}

/// A spinner with the elapsed time, for work the engine cannot measure as it goes (`check`):
/// a background thread redraws it every 200 ms until `stop()`.
final class Spinner: Sendable {
    private let stopped = Mutex(false)
    private let finished = DispatchSemaphore(value: 0)
    private let enabled: Bool

    /// Starts spinning with `label` if `enabled`.
    init(label: String, enabled: Bool) {
        self.enabled = enabled
        guard enabled else { return }
        let started = ProcessClock.now()
        Thread.detachNewThread { [self] in
            let frames = ["|", "/", "-", "\\"]
            var frame = 0
            while !stopped.withLock({ $0 }) {
                let elapsed = Double(ProcessClock.now() - started) / 1e9
                ProgressBar.writeToStandardError("\r\(label)  \(frames[frame % 4])  \(ProgressBar.duration(elapsed, roundingUp: false)) elapsed\u{1B}[K")
                frame += 1
                usleep(200_000)
            }
            ProgressBar.writeToStandardError("\r\u{1B}[K")
            finished.signal()
        }
    }

    /// Stops the spinner and erases its line.
    func stop() {
        guard enabled else { return }
        let wasStopped = stopped.withLock { stopped in
            defer { stopped = true }
            return stopped
        }
        if !wasStopped { finished.wait() }
    }
}

/// A monotonic clock in nanoseconds. The corresponding C function is `clock_gettime(CLOCK_MONOTONIC)`.
enum ProcessClock {
    /// Nanoseconds since an arbitrary start.
    static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}
