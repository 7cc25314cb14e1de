#ifndef COWDB_SUPPORT_H
#define COWDB_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/// Continues a CRC-32C (Castagnoli) over `length` bytes. Start with `crc = 0`;
/// the pre- and post-inversion are done inside, so calls chain:
/// `crc32c(crc32c(0, a, n), b, m) == crc32c(0, a ++ b, n + m)`.
/// Uses the SSE4.2 `crc32` instruction when the CPU has it, a table otherwise.
uint32_t cowdb_crc32c(uint32_t crc, const void *bytes, size_t length);

/// Portable (table-driven) CRC-32C, exposed so tests can compare both paths.
uint32_t cowdb_crc32c_portable(uint32_t crc, const void *bytes, size_t length);

/// `memcmp` (the compiler's builtin, which calls the C library's where it does not inline it),
/// so that Swift code compares bytes without importing the platform's C module.
static inline int cowdb_memcmp(const void *a, const void *b, size_t length) {
    return __builtin_memcmp(a, b, length);
}

/// Acquire load of a 64-bit word in shared (possibly cross-process) memory.
static inline uint64_t cowdb_atomic_load_u64(const void *address) {
    return __atomic_load_n((const uint64_t *)address, __ATOMIC_ACQUIRE);
}

/// Release store of a 64-bit word in shared (possibly cross-process) memory.
static inline void cowdb_atomic_store_u64(void *address, uint64_t value) {
    __atomic_store_n((uint64_t *)address, value, __ATOMIC_RELEASE);
}

/// Relaxed load of a 64-bit word (a bit of the verified-pages map: no ordering needed, the
/// bytes it vouches for are immutable and the verdict is recomputed if the bit is missed).
static inline uint64_t cowdb_atomic_load_relaxed_u64(const void *address) {
    return __atomic_load_n((const uint64_t *)address, __ATOMIC_RELAXED);
}

/// Atomically ORs `bits` into a 64-bit word (relaxed).
static inline void cowdb_atomic_or_u64(void *address, uint64_t bits) {
    __atomic_fetch_or((uint64_t *)address, bits, __ATOMIC_RELAXED);
}

/// Full fence, for the seqlock in the lock file's shared page.
static inline void cowdb_atomic_fence(void) {
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/// Hints the CPU to start loading the cache line holding `address` (a read, kept in every
/// cache level). Only a hint: it never faults, whatever the address.
static inline void cowdb_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

/// Waits while the 32-bit word at `address` (in a shared mapping) holds `expected`, at most
/// `timeout_ns` nanoseconds. Returns 0 when woken, else the errno (EAGAIN: the word already
/// differed; ETIMEDOUT; EINTR).
int cowdb_futex_wait(const void *address, uint32_t expected, int64_t timeout_ns);

/// Wakes every process and thread waiting on the 32-bit word at `address`. Returns 0 or the errno.
int cowdb_futex_wake(const void *address);

/// `F_OFD_SETLK` (Linux ≥ 3.15): open-file-description locks; glibc hides it without _GNU_SOURCE.
#define COWDB_F_OFD_SETLK 37

#endif
