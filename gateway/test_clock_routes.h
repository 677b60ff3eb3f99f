/* test_clock_routes.h - POST and GET /v1/test/clock: the test clock, only in test mode */
#ifndef KAIIN_TEST_CLOCK_ROUTES_H
#define KAIIN_TEST_CLOCK_ROUTES_H
#include "http.h"
#include <stdint.h>

/* POST /v1/test/clock {"advance":"P1M"} or {"to":"2027-01-01T00:00:00Z"}: moves the gateway's
   clock forward, then has every service of KAIIN_SERVICES (billing, member, then the others,
   twice over) catch up with <service>.ClockSet; answers {"now", "work_done"} after all did. */
void test_clock_routes_set (http_request_t *request);

/* GET /v1/test/clock: {"now", "test_mode": true}. */
void test_clock_routes_get (http_request_t *request);

/* Adds an ISO 8601 duration (PnYnMnWnDTnHnMnS) to from_ms: years and months on the UTC
   calendar, a day past the month's end clamped to its last day; then days and time.
   Returns 0 with *to_ms set, or -1 when text is not such a duration. */
int test_clock_add_duration (int64_t from_ms, const char *text, int64_t *to_ms);

#endif
