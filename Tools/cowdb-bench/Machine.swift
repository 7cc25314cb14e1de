// A one-line description of the machine the figures come from.
import Foundation

/// The machine, the filesystem of the bench directory and its sync latency.
enum Machine {
    /// "CPU model, cores, memory, kernel, load average; filesystem, 4 KiB append + fdatasync latency".
    static func describe(directory: String) -> String {
        let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
        var names = utsname()
        uname(&names)
        let release = withUnsafeBytes(of: names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let memory = Double(ProcessInfo.processInfo.physicalMemory) / Double(1 << 30)
        let sync = Disk.syncLatency(in: directory)
        // Other work on the machine skews every figure: the load average says how much there was.
        let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first.map(String.init) ?? "?"
        return String(format: "%@, %d cores, %.1f GiB RAM, Linux %@, load average %@ at start; %@, 4 KiB append + fdatasync %.2f ms (median of 50)",
                      cpu, ProcessInfo.processInfo.activeProcessorCount, memory, release, load,
                      Disk.filesystemName(of: directory), sync * 1000)
    }
}
