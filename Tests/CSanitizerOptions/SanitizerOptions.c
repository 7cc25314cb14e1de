// Under `swift test --sanitize=address`, the test process runs without LeakSanitizer, so
// README's command passes as written: at exit XCTest's own objects (every test case, suite and
// run, held through a weak-reference side table that XCTest's `awaitUsingExpectation` leaks)
// show as leaks, and FoundationEssentials' `Data(contentsOf:)` keeps buffers; no suppression
// can name them without also covering the tests. Address errors are still caught in this
// process, and leaks still in the tools the tests start (`cowdb`, `cowdb-bench`,
// `cowdb-test-helper`), which run the engine in their own processes (their few Foundation
// leaks: Tests/lsan-suppressions.txt). Without a sanitizer nothing calls this.
#include "SanitizerOptions.h"

/// The options AddressSanitizer asks the process for at start-up (a hook of its runtime).
const char *__asan_default_options(void) { return "detect_leaks=0"; }
