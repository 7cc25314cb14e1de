import CCowDBSupport

/// Lowers the calling thread's CPU priority to the lowest nice value (19), for background work
/// (automatic compaction) that should run on CPU time the commits and reads leave over. Unlike
/// an idle scheduling class it is never starved outright, so that work done under the writer
/// gate (compaction's last step) cannot stall writers behind busy readers. Best effort.
package func lowerThreadPriority() {
    _ = cowdb_lower_thread_priority(19)
}
