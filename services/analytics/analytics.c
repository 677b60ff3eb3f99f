/* analytics.c - what kaiin-analytics' modules share: yen and JST months */
#include "analytics.h"
#include "clock.h"
#include <assert.h>
#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define JST_OFFSET_MS (9LL * 3600 * 1000)     /* Japan has no daylight saving time */

char *
analytics_yen (int64_t amount, char *buf, int size)
{
    char digits [32];
    uint64_t magnitude = amount < 0? (uint64_t) -(amount + 1) + 1: (uint64_t) amount;
    int length = snprintf (digits, sizeof digits, "%llu", (unsigned long long) magnitude);
    char grouped [48];
    int used = 0;
    for (int i = 0; i < length; i++) {
        if (i > 0 && (length - i) % 3 == 0)
            grouped [used++] = ',';
        grouped [used++] = digits [i];
    }
    grouped [used] = 0;
    snprintf (buf, size, "%s¥%s", amount < 0? "-": "", grouped);
    return buf;
}

analytics_month_t
analytics_month_of (int64_t unix_ms)
{
    char text [32];
    clock_format_ms (unix_ms + JST_OFFSET_MS, text, sizeof text);     /* "YYYY-MM-DDT..." */
    return (analytics_month_t) atoi (text) * 12 + atoi (text + 5) - 1;
}

int64_t
analytics_month_start_ms (analytics_month_t month)
{
    char text [64];
    int64_t unix_ms = 0;
    snprintf (text, sizeof text, "%04lld-%02d-01T00:00:00+09:00", (long long) (month / 12),
              (int) (month % 12) + 1);
    int rc = clock_parse_ms (text, &unix_ms);
    assert (rc == 0);
    (void) rc;
    return unix_ms;
}

int
analytics_month_parse (const char *text, analytics_month_t *month)
{
    if (strlen (text) != 7 || text [4] != '-')
        return -1;
    for (int i = 0; i < 7; i++)
        if (i != 4 && !isdigit ((unsigned char) text [i]))
            return -1;
    int year = (text [0] - '0') * 1000 + (text [1] - '0') * 100 + (text [2] - '0') * 10 + (text [3] - '0');
    int number = (text [5] - '0') * 10 + (text [6] - '0');
    if (year < 2000 || year > 2999 || number < 1 || number > 12)
        return -1;
    *month = (analytics_month_t) year * 12 + number - 1;
    return 0;
}

char *
analytics_month_format (analytics_month_t month, char *buf, int size)
{
    snprintf (buf, size, "%04lld-%02d", (long long) (month / 12), (int) (month % 12) + 1);
    return buf;
}

char *
analytics_week_format (int64_t unix_ms, char *buf, int size)
{
    time_t seconds = (time_t) ((unix_ms + JST_OFFSET_MS) / 1000);
    struct tm day;
    gmtime_r (&seconds, &day);
    strftime (buf, (size_t) size, "%G-W%V", &day);
    return buf;
}

int
analytics_page (svc_reply_t *reply, int32_t limit, const char *cursor, int *size, char before [24])
{
    *size = limit? limit: 20;
    snprintf (before, 24, "9223372036854775807");
    if (*size < 1 || *size > 100)
        svc_field_error (reply, "limit", "must be from 1 to 100");
    if (*cursor) {
        char *end;
        long long id = strtoll (cursor, &end, 10);
        if (*end || id < 1)
            svc_field_error (reply, "cursor", "is not a cursor this list gave");
        else
            snprintf (before, 24, "%lld", id);
    }
    return reply->status == KAIIN__STATUS__OK? 0: -1;
}
