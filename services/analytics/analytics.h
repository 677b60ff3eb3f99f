/* analytics.h - what kaiin-analytics' modules share: yen and JST months (what staff tune is in
   settings.h) */
#ifndef KAIIN_ANALYTICS_H
#define KAIIN_ANALYTICS_H
#include <stdbool.h>
#include <stdint.h>
#include "svc.h"

#define ANALYTICS_DAY_MS (24LL * 3600 * 1000)

/* Writes amount as yen with thousands separators ("¥1,100", "-¥500") into buf. Returns buf. */
char *analytics_yen (int64_t amount, char *buf, int size);

/* A month in JST as a count of months since year 0 (year × 12 + month − 1). */
typedef int64_t analytics_month_t;

/* The month (JST) in which unix_ms falls. */
analytics_month_t analytics_month_of (int64_t unix_ms);

/* The Unix milliseconds at which month starts, 00:00 JST on its first day. */
int64_t analytics_month_start_ms (analytics_month_t month);

/* Parses "YYYY-MM" (years 2000..2999) into *month. Returns 0, or -1 when text is not one. */
int analytics_month_parse (const char *text, analytics_month_t *month);

/* Formats month as "YYYY-MM" into buf (at least 8 bytes). Returns buf. */
char *analytics_month_format (analytics_month_t month, char *buf, int size);

/* A list's page: limit (0: 20; 1..100) into *size, and cursor ("" or an id this list gave as
   next_cursor) into before, the id the page starts below. Field errors into reply. Returns 0,
   or -1 after an error. */
int analytics_page (svc_reply_t *reply, int32_t limit, const char *cursor, int *size, char before [24]);

/* The JST ISO week in which unix_ms falls, "2026-W49", into buf (at least 9 bytes). */
char *analytics_week_format (int64_t unix_ms, char *buf, int size);

#endif
