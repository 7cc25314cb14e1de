// AddressSanitizer's start-up options for the test process (see SanitizerOptions.c).
const char *__asan_default_options(void);
