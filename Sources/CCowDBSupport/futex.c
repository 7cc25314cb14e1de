// Waiting for a word of shared memory to change, and waking the waiters: Linux's futex on a
// shared (file-backed) mapping, so that processes mapping the same file page wake each other.
#include "cowdb_support.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int cowdb_futex_wait(const void *address, uint32_t expected, int64_t timeout_ns) {
    struct timespec timeout = { .tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000 };
    if (syscall(SYS_futex, address, FUTEX_WAIT, expected, &timeout, NULL, 0) == 0) return 0;
    return errno;
}

int cowdb_futex_wake(const void *address) {
    if (syscall(SYS_futex, address, FUTEX_WAKE, 0x7fffffff, NULL, NULL, 0) >= 0) return 0;
    return errno;
}
