/* clock.h - the one place Kaiin reads time; business code takes "now" from the envelope */
#ifndef KAIIN_CLOCK_H
#define KAIIN_CLOCK_H
#include <stdbool.h>
#include <stdint.h>

/* Wall-clock Unix milliseconds plus the test offset (zero outside test mode). */
int64_t clock_now_ms (void);

/* True when the process runs with KAIIN_TEST_MODE=1 (read once). */
bool clock_test_mode (void);

/* In test mode, moves the process's clock forward so that clock_now_ms () reads now_ms from
   here on; a time behind the current one changes nothing (the clock never goes back). The
   offset is process-wide and safe from any thread. Outside test mode it does nothing. */
void clock_set_ms (int64_t now_ms);

/* Monotonic microseconds, for deadlines, timeouts and latency measurements. */
int64_t clock_mono_us (void);

/* Formats Unix milliseconds as RFC 3339 UTC with milliseconds ("2026-11-25T08:11:10.123Z")
   into buf (at least 32 bytes). Returns buf. */
char *clock_format_ms (int64_t unix_ms, char *buf, int size);

/* Parses an RFC 3339 date-time (section 5.6: "2026-11-25T08:11:10.123Z", "…+09:00", a
   lower-case t or z, up to 9 fraction digits, of which those past the milliseconds are
   dropped) into *unix_ms. Returns 0, or -1 when text is not one. */
int clock_parse_ms (const char *text, int64_t *unix_ms);

#endif
