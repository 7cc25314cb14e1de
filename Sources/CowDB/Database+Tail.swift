import CowDBFormat
import CowDBStorage

// What lies in the data file past its last commit: the reserve of zeros a durable writer keeps
// (CowDBStorage/Generation+Reserve.swift, FORMAT.md "The reserve"), and, before it, whatever is
// not zeros — a commit another process is writing, an interrupted write, or damage. `stat`
// reports both, `check` requires the writer's reserve to be zeros, and the tool warns about
// the rest.

/// The data file past the latest commit.
public struct DataFileTail: Sendable, Equatable {
    /// Bytes from the end of the latest commit through the last page that is not all zeros
    /// (0: none).
    public var unfinishedBytes: UInt64
    /// The first page past the latest commit that is not all zeros, if any.
    public var firstUnfinishedPage: UInt64?
    /// The zero bytes after those: the reserve, written ahead so that durable commits
    /// overwrite blocks the file already has.
    public var reserveBytes: UInt64
    /// The data file's length when it was read (whole pages).
    public var fileBytes: UInt64
}

extension Database {
    /// Reads what lies past the latest commit in the data file (a MiB at a time).
    public func dataFileTail() throws -> DataFileTail {
        let generation = self.generation
        let file = generation.store.file
        let pageSize = UInt64(generation.store.layout.pageSize)
        let start = ((generation.current().latest?.page ?? 0) + 1) * pageSize
        let length = try file.length() / pageSize * pageSize
        let found = try Generation.nonZeroPages(of: file, from: start, to: length, pageSize: Int(pageSize))
        let lastNonZeroEnd = found?.end ?? start
        return DataFileTail(unfinishedBytes: lastNonZeroEnd - start, firstUnfinishedPage: found?.first,
                            reserveBytes: length > lastNonZeroEnd ? length - lastNonZeroEnd : 0, fileBytes: max(length, start))
    }

    /// `check`'s part: in the writer's process, with no commit in progress, everything past the
    /// latest commit must be zeros (the writer's open cut off anything else). Nil when it is,
    /// or when this process cannot know (a reader, or a check inside a write on this thread).
    func reserveProblem() throws -> (page: UInt64, message: String)? {
        guard !options.readOnly, writerThread.load(ordering: .relaxed) != OS.currentThread() else { return nil }
        let tail = try withWriterGate { _, _ in try dataFileTail() }
        guard let page = tail.firstUnfinishedPage else { return nil }
        return (page, "the data file holds \(tail.unfinishedBytes) bytes past the last commit that are not zeros "
            + "(only the reserve, zero pages, may follow the last commit)")
    }
}
