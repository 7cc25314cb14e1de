// CRC-32C (Castagnoli polynomial 0x1EDC6F41, reflected 0x82F63B78), as used by
// iSCSI, ext4 and LevelDB. Hardware path: SSE4.2 `crc32` (8 bytes a step),
// chosen once at run time; portable path: slicing-by-1 table.
#include "cowdb_support.h"
#include <string.h>

static uint32_t table[256];
static int table_ready = 0;

static void build_table(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[i] = c;
    }
    __atomic_store_n(&table_ready, 1, __ATOMIC_RELEASE);
}

uint32_t cowdb_crc32c_portable(uint32_t crc, const void *bytes, size_t length) {
    if (!__atomic_load_n(&table_ready, __ATOMIC_ACQUIRE)) build_table();
    const uint8_t *p = (const uint8_t *)bytes;
    uint32_t c = ~crc;
    for (size_t i = 0; i < length; i++) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return ~c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const void *bytes, size_t length) {
    const uint8_t *p = (const uint8_t *)bytes;
    uint64_t c = (uint32_t)~crc;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = __builtin_ia32_crc32di(c, word);
        p += 8;
        length -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (length > 0) {
        c32 = __builtin_ia32_crc32qi(c32, *p);
        p++;
        length--;
    }
    return ~c32;
}

static int has_sse42 = -1;

uint32_t cowdb_crc32c(uint32_t crc, const void *bytes, size_t length) {
    int hw = __atomic_load_n(&has_sse42, __ATOMIC_RELAXED);
    if (hw < 0) {
        __builtin_cpu_init();
        hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
        __atomic_store_n(&has_sse42, hw, __ATOMIC_RELAXED);
    }
    return hw ? crc32c_sse42(crc, bytes, length) : cowdb_crc32c_portable(crc, bytes, length);
}
#else
uint32_t cowdb_crc32c(uint32_t crc, const void *bytes, size_t length) {
    return cowdb_crc32c_portable(crc, bytes, length);
}
#endif
