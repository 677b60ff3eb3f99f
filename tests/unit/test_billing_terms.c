/* test_billing_terms.c - a company's payment terms (締め日と支払期日, terms.c): the closing date
   that follows an invoice's issue and its due date, against dates worked out by hand on the
   calendar of Japan (terms.c is included, as h2o's unit tests do, to reach it without a
   database) */
#include "check.h"
#include "../../services/billing/billing.c"
#include "../../services/billing/member_ref.c"
#include "../../services/billing/terms.c"

/* Unix ms of a moment in Japan (UTC+9). */
static int64_t
s_jst (int year, int month, int day, int hour, int minute)
{
    struct tm tm = { .tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = day,
                     .tm_hour = hour, .tm_min = minute };
    return (int64_t) timegm (&tm) * 1000 - JST_MS;
}

/* The date in Japan of ms, "YYYY-MM-DD", into a static buffer of its own (four may be held). */
static const char *
s_date_of (int64_t ms)
{
    static char buffers [4][40];
    static int which;
    struct tm tm;
    billing_japan_time (ms, &tm);
    char *buffer = buffers [which++ % 4];
    snprintf (buffer, 40, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    return buffer;
}

/* Whether an invoice issued at issued on terms (closing, months, day, days) closes on closing_date
   and is due on due_date, at the due date's last millisecond in Japan. */
static bool
s_terms (int closing, int months, int day, int days, int64_t issued,
         const char *closing_date, const char *due_date)
{
    terms_t terms = { closing, months, day, days };
    int64_t closes;
    int64_t due = terms_due_ms (&terms, issued, &closes);
    bool ok = strcmp (s_date_of (closes), closing_date) == 0 && strcmp (s_date_of (due), due_date) == 0
           && strcmp (s_date_of (due + 1), due_date) != 0 && strcmp (s_date_of (closes + 1), closing_date) != 0;
    if (!ok)
        fprintf (stderr, "closing %d, due %d/%d/%d, issued %s: closes %s, due %s\n", closing, months, day,
                 days, s_date_of (issued), s_date_of (closes), s_date_of (due));
    return ok;
}

int
main (void)
{
    /* 20日締め翌月末払い: issued 2026-12-21 is past December's closing, so closes 2027-01-20
       and is due at the end of February 2027 (28 days: not a leap year) — README's example. */
    CHECK (s_terms (20, 1, 31, 0, s_jst (2026, 12, 21, 10, 0), "2027-01-20", "2027-02-28"));
    /* ... the last millisecond of 2027-02-28 in Japan, 14:59:59.999 UTC. */
    terms_t example = { 20, 1, 31, 0 };
    CHECK (terms_due_ms (&example, s_jst (2026, 12, 21, 10, 0), NULL) == 1803826799999LL);
    /* Issued on the closing day itself: that day's closing. */
    CHECK (s_terms (20, 1, 31, 0, s_jst (2026, 12, 20, 23, 59), "2026-12-20", "2027-01-31"));
    /* 2026-12-20 15:30 UTC is already the 21st in Japan: the next closing. */
    CHECK (s_terms (20, 1, 31, 0, s_jst (2026, 12, 21, 0, 30), "2027-01-20", "2027-02-28"));
    /* 月末締め翌月末払い: a month-end closing, February's 28th then March's 31st. */
    CHECK (s_terms (31, 1, 31, 0, s_jst (2027, 1, 31, 12, 0), "2027-01-31", "2027-02-28"));
    CHECK (s_terms (31, 1, 31, 0, s_jst (2027, 2, 1, 0, 0), "2027-02-28", "2027-03-31"));
    /* A leap year: January's invoices due on 2028-02-29; February closes on its 29th. */
    CHECK (s_terms (31, 1, 31, 0, s_jst (2028, 1, 15, 9, 0), "2028-01-31", "2028-02-29"));
    CHECK (s_terms (31, 1, 31, 0, s_jst (2028, 2, 29, 9, 0), "2028-02-29", "2028-03-31"));
    /* 月末締め翌々月10日払い across the year: November closes 11-30, due 2027-01-10. */
    CHECK (s_terms (31, 2, 10, 0, s_jst (2026, 11, 30, 18, 0), "2026-11-30", "2027-01-10"));
    /* 月末締め翌月15日払い in December: due in January of the next year. */
    CHECK (s_terms (31, 1, 15, 0, s_jst (2027, 12, 31, 23, 59), "2027-12-31", "2028-01-15"));
    /* 28日締め (the latest day every month has) 翌月末払い, issued on February's 28th. */
    CHECK (s_terms (28, 1, 31, 0, s_jst (2027, 2, 28, 8, 0), "2027-02-28", "2027-03-31"));
    /* 25日締め 3 months later on the 5th. */
    CHECK (s_terms (25, 3, 5, 0, s_jst (2026, 10, 26, 8, 0), "2026-11-25", "2027-02-05"));
    /* N days after the closing date: 15日締め 30日後, closes 2027-01-15, due 2027-02-14. */
    CHECK (s_terms (15, 0, 0, 30, s_jst (2026, 12, 21, 10, 0), "2027-01-15", "2027-02-14"));
    /* 月末締め 60日後: 2026-12-31 + 31 days = 01-31, + 28 = 02-28, + 1 = 03-01. */
    CHECK (s_terms (31, 0, 0, 60, s_jst (2026, 12, 5, 10, 0), "2026-12-31", "2027-03-01"));
    return check_report ("billing terms");
}
