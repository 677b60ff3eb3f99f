/* test_clock_routes.c - POST and GET /v1/test/clock: the test clock, only in test mode */
#include "test_clock_routes.h"
#include "routes.h"
#include "clock.h"
#include "clock.pb-c.h"
#include "config.h"
#include "json_in.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CLOCK_SET_TIMEOUT_MS 300000     /* a service may have a month of renewals to run */
#define MAX_SERVICES 16
#define ROUNDS 2                        /* a consumer's effects on a producer settle in round 2 */

/* The services to call, in the order of KAIIN_SERVICES (services/list's: a source of events
   before its consumers). */
static int
s_services (char names [MAX_SERVICES][32])
{
    return config_names (config_str ("KAIIN_SERVICES", "member"), names, MAX_SERVICES);
}

static bool
s_allowed (http_request_t *request)
{
    if (!clock_test_mode ()) {
        http_problem (request, 404, "no such route", NULL, NULL);
        return false;
    }
    return routes_owner_or_admin (request);
}

static int
s_days_in_month (int year, int month)       /* month 0..11 */
{
    static const int days [] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 1 && leap? 29: days [month];
}

int
test_clock_add_duration (int64_t from_ms, const char *text, int64_t *to_ms)
{
    if (*text++ != 'P' || !*text)
        return -1;
    long long years = 0, months = 0, weeks = 0, days = 0, hours = 0, minutes = 0, seconds = 0;
    bool in_time = false, any = false, time_any = false;
    const char *order = "YMWD";             /* designators must come in this order */
    const char *time_order = "HMS";
    while (*text) {
        if (*text == 'T') {
            if (in_time)
                return -1;
            in_time = true;
            text++;
            continue;
        }
        if (!isdigit ((unsigned char) *text))
            return -1;
        char *end;
        long long value = strtoll (text, &end, 10);
        if (end - text > 9)                 /* large enough for any test, small enough to add */
            return -1;
        char unit = *end;
        const char *slot = strchr (in_time? time_order: order, unit);
        if (!unit || !slot)
            return -1;
        if (in_time) {
            time_order = slot + 1;
            *(unit == 'H'? &hours: unit == 'M'? &minutes: &seconds) = value;
            time_any = true;
        }
        else {
            order = slot + 1;
            *(unit == 'Y'? &years: unit == 'M'? &months: unit == 'W'? &weeks: &days) = value;
        }
        any = true;
        text = end + 1;
    }
    if (!any || (in_time && !time_any))
        return -1;
    time_t whole = (time_t) (from_ms / 1000);
    int64_t millis = from_ms % 1000;
    struct tm tm;
    gmtime_r (&whole, &tm);
    long long month_index = (long long) (tm.tm_year + 1900) * 12 + tm.tm_mon + years * 12 + months;
    int year = (int) (month_index / 12), month = (int) (month_index % 12);
    tm.tm_year = year - 1900;
    tm.tm_mon = month;
    if (tm.tm_mday > s_days_in_month (year, month))
        tm.tm_mday = s_days_in_month (year, month);
    int64_t seconds_total = (int64_t) timegm (&tm)
        + (weeks * 7 + days) * 86400LL + hours * 3600LL + minutes * 60LL + seconds;
    *to_ms = seconds_total * 1000 + millis;
    return 0;
}

static void s_next (http_request_t *request);

static void
s_on_clock_set (http_request_t *request, const ProtobufCBinaryData *payload)
{
    Kaiin__ClockSetReply *reply = (Kaiin__ClockSetReply *)
        http_unpack (request, &kaiin__clock_set_reply__descriptor, payload);
    if (!reply)
        return;
    int step;
    long long target, work;
    sscanf (request->scratch, "%d %lld %lld", &step, &target, &work);
    snprintf (request->scratch, sizeof request->scratch, "%d %lld %lld", step + 1, target,
              work + reply->work_done);
    kaiin__clock_set_reply__free_unpacked (reply, NULL);
    s_next (request);
}

static void
s_on_clock_error (http_request_t *request, unsigned int status, const char *message)
{
    char names [MAX_SERVICES][32];
    int count = s_services (names);
    int step = atoi (request->scratch);
    const char *service = count? names [step % count]: "?";
    char detail [256];
    if (status == 503 || status == 504) {
        snprintf (detail, sizeof detail, "the service '%s' is not available right now", service);
        http_problem (request, 503, detail, NULL, json_pack ("{s:s}", "service", service));
    }
    else {
        snprintf (detail, sizeof detail, "the service '%s' could not catch up: %s", service, message);
        http_problem (request, status, detail, NULL, json_pack ("{s:s}", "service", service));
    }
}

/* Calls the next service's ClockSet, or answers once every round is done. */
static void
s_next (http_request_t *request)
{
    char names [MAX_SERVICES][32];
    int count = s_services (names);
    int step;
    long long target, work;
    sscanf (request->scratch, "%d %lld %lld", &step, &target, &work);
    if (step >= count * ROUNDS) {
        http_respond_json (request, 200, json_pack ("{s:o, s:I}", "now",
                           json_in_time_or_null (clock_now_ms ()), "work_done", (json_int_t) work));
        return;
    }
    const char *service = names [step % count];
    char method [64];
    snprintf (method, sizeof method, "%s.ClockSet", service);
    Kaiin__ClockSetRequest set = KAIIN__CLOCK_SET_REQUEST__INIT;
    set.now_ms = target;
    request->timeout_ms = CLOCK_SET_TIMEOUT_MS;
    request->on_error = s_on_clock_error;
    http_call (request, service, method, &set.base, s_on_clock_set);
}

void
test_clock_routes_set (http_request_t *request)
{
    if (!s_allowed (request))
        return;
    static const char *const media [] = { "application/json", NULL };
    json_t *body = json_in_object (request, media, false);
    if (!body)
        return;
    json_t *errors = json_array ();
    static const char *const keys [] = { "advance", "to", NULL };
    json_in_known_keys (body, keys, errors);
    bool has_advance, has_to;
    const char *advance = json_in_string (body, "advance", false, &has_advance, errors);
    const char *to = json_in_string (body, "to", false, &has_to, errors);
    int64_t now_ms = clock_now_ms (), target = now_ms;
    if (has_advance == has_to)
        json_in_error (errors, has_advance? "to": "advance",
                       "give exactly one of 'advance' (an ISO 8601 duration) and 'to' (a time)");
    else
    if (has_advance && test_clock_add_duration (now_ms, advance, &target) == -1)
        json_in_error (errors, "advance", "must be an ISO 8601 duration such as P1M, P3D or PT36H");
    else
    if (has_to && clock_parse_ms (to, &target) == -1)
        json_in_error (errors, "to", "must be an RFC 3339 time such as 2027-01-01T00:00:00Z");
    else
    if (has_to && target < now_ms)
        json_in_error (errors, "to", "must not be before the current test time");
    json_decref (body);
    if (json_in_rejected (request, errors))
        return;
    clock_set_ms (target);
    snprintf (request->scratch, sizeof request->scratch, "0 %lld 0", (long long) target);
    s_next (request);
}

void
test_clock_routes_get (http_request_t *request)
{
    if (!s_allowed (request))
        return;
    http_respond_json (request, 200, json_pack ("{s:o, s:b}", "now",
                       json_in_time_or_null (clock_now_ms ()), "test_mode", 1));
}
