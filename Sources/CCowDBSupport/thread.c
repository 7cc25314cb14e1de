#define _GNU_SOURCE
#include "cowdb_support.h"
#include <sys/resource.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

int cowdb_lower_thread_priority(int nice_value) {
#if defined(__linux__)
    // On Linux a thread has its own nice value: `setpriority` on its thread id sets it alone.
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice_value);
#else
    (void)nice_value;
    return -1;
#endif
}
