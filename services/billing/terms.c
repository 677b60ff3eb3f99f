/* terms.c - a company's payment terms (締め日と支払期日): when its invoices are due, and the
   requests that set and read them */
#include "terms.h"
#include "member_ref.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JST_MS (9 * 3600 * 1000LL)
#define TERMS_COLUMNS "member_id, company, closing_day, due_months, due_day, due_days, consolidate," \
    " " MS ("updated_at") " as updated_at_ms, updated_by, version"

void
terms_prepare (pg_t *db)
{
    pg_prepare (db, "terms_get", "select " TERMS_COLUMNS " from payment_terms where member_id = $1");
    pg_prepare (db, "terms_in_force",
            "select closing_day, due_months, due_day, due_days, consolidate from payment_terms"
            " where member_id = $1 and company");
    pg_prepare (db, "terms_put",
            "insert into payment_terms as t (member_id, company, closing_day, due_months, due_day, due_days,"
            " updated_at, updated_by, consolidate) values ($1, $2, $3, $4, $5, $6, " AT ("$7") ", $8, $10)"
            " on conflict (member_id) do update set company = $2, closing_day = $3, due_months = $4,"
            " due_day = $5, due_days = $6, updated_at = " AT ("$7") ", updated_by = $8, consolidate = $10,"
            " version = t.version + 1"
            " where $9::bigint = 0 or t.version = $9 returning " TERMS_COLUMNS);
}

int
terms_find (pg_t *db, const char *member_id, terms_t *terms)
{
    memset (terms, 0, sizeof *terms);
    const char *params [] = { member_id };
    PGresult *result = pg_run (db, "terms_in_force", 1, params);
    if (!result)
        return -1;
    if (PQntuples (result) == 1) {
        terms->closing_day = atoi (PQgetvalue (result, 0, 0));
        terms->due_months = atoi (PQgetvalue (result, 0, 1));
        terms->due_day = atoi (PQgetvalue (result, 0, 2));
        terms->due_days = atoi (PQgetvalue (result, 0, 3));
        terms->consolidate = strcmp (PQgetvalue (result, 0, 4), "t") == 0;
    }
    PQclear (result);
    return 0;
}

/* The day of month day (31: the last) in year and month (0..11, any number: carried into the year). */
static void
s_date (int year, int month, int day, struct tm *tm)
{
    memset (tm, 0, sizeof *tm);
    tm->tm_year = year + month / 12 - 1900;
    tm->tm_mon = month % 12;
    int last = billing_days_in_month (tm->tm_year + 1900, tm->tm_mon);
    tm->tm_mday = day == TERMS_MONTH_END || day > last? last: day;
}

/* The last millisecond of the date tm (its year, month and day) in Japan. */
static int64_t
s_end_of_day (struct tm *tm)
{
    struct tm next = *tm;
    next.tm_mday++;                     /* timegm carries it into the next month or year */
    return (int64_t) timegm (&next) * 1000 - JST_MS - 1;
}

int64_t
terms_due_ms (const terms_t *terms, int64_t issued_ms, int64_t *closing_ms)
{
    struct tm issued, closing, due;
    billing_japan_time (issued_ms, &issued);
    int year = issued.tm_year + 1900;
    s_date (year, issued.tm_mon, terms->closing_day, &closing);
    if (issued.tm_mday > closing.tm_mday)           /* past this month's closing: the next */
        s_date (year, issued.tm_mon + 1, terms->closing_day, &closing);
    if (closing_ms)
        *closing_ms = s_end_of_day (&closing);
    if (terms->due_days > 0) {
        due = closing;
        due.tm_mday += terms->due_days;
        time_t normal = timegm (&due);              /* carried into its month and year */
        gmtime_r (&normal, &due);
    }
    else
        s_date (closing.tm_year + 1900, closing.tm_mon + terms->due_months, terms->due_day, &due);
    return s_end_of_day (&due);
}

int64_t
terms_gather_ms (const terms_t *terms, int64_t charged_ms)
{
    int64_t closing_ms = 0;
    if (terms->closing_day && terms->consolidate)
        terms_due_ms (terms, charged_ms, &closing_ms);
    return closing_ms;
}

int64_t
terms_due_for (pg_t *db, const char *member_id, int64_t issued_ms, int64_t otherwise_ms)
{
    terms_t terms;
    if (terms_find (db, member_id, &terms) == -1)
        return -1;
    return terms.closing_day? terms_due_ms (&terms, issued_ms, NULL): issued_ms + otherwise_ms;
}

int
terms_api_get (svc_request_t *request, svc_reply_t *reply)
{
    ProtobufCMessage *terms = billing_get_by_id (request, reply, "terms_get",
                                                 &kaiin__billing__payment_terms__descriptor,
                                                 "payment terms not found");
    if (!terms)
        return -1;
    svc_reply_with (reply, terms);
    protobuf_c_message_free_unpacked (terms, NULL);
    return 0;
}

static bool
s_day (int day)
{
    return (day >= 1 && day <= 28) || day == TERMS_MONTH_END;
}

/* The rules of terms as given; a due day with no month is due the next month (翌月). */
static void
s_check (svc_reply_t *reply, Kaiin__Billing__PaymentTerms *terms)
{
    if (!s_day (terms->closing_day))
        svc_field_error (reply, "closing_day", "must be from 1 to 28, or 31 for the month's last day");
    if (terms->due_days != 0) {
        if (terms->due_days < 1 || terms->due_days > 120)
            svc_field_error (reply, "due_days", "must be from 1 to 120");
        if (terms->due_day != 0)
            svc_field_error (reply, "due_day", "give due_day or due_days, not both");
        if (terms->due_months != 0)
            svc_field_error (reply, "due_months", "goes with due_day, not with due_days");
        return;
    }
    if (terms->due_months == 0)
        terms->due_months = 1;
    if (terms->due_day == 0)
        svc_field_error (reply, "due_day", "is required without due_days");
    else
    if (!s_day (terms->due_day))
        svc_field_error (reply, "due_day", "must be from 1 to 28, or 31 for the month's last day");
    if (terms->due_months < 1 || terms->due_months > 3)
        svc_field_error (reply, "due_months", "must be from 1 to 3");
}

int
terms_api_put (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__PaymentTerms *terms = (Kaiin__Billing__PaymentTerms *)
        svc_unpack (request, &kaiin__billing__payment_terms__descriptor, reply);
    if (!terms)
        return -1;
    s_check (reply, terms);
    char rank [33], status [16];
    int rc = -1;
    if (reply->status == KAIIN__STATUS__OK
    &&  member_ref_lookup (reply, terms->member_id, NULL, false, rank, status) == 0) {
        char closing [24], months [24], day [24], days [24], now [24], version [24];
        const char *params [] = { terms->member_id, terms->company? "true": "false",
            NUM (closing, terms->closing_day), NUM (months, terms->due_months), NUM (day, terms->due_day),
            NUM (days, terms->due_days), NUM (now, billing_now (request)), request->envelope->caller_id,
            NUM (version, terms->if_version), terms->consolidate? "true": "false" };
        PGresult *result = billing_run (request, reply, "terms_put", 10, params);
        if (result && PQntuples (result) == 0)
            svc_fail (reply, KAIIN__STATUS__ABORTED, "the payment terms were changed meanwhile");
        else
        if (result) {
            ProtobufCMessage *stored = pg_row_message (result, 0, &kaiin__billing__payment_terms__descriptor);
            rc = svc_reply_with (reply, stored);
            protobuf_c_message_free_unpacked (stored, NULL);
        }
        PQclear (result);
    }
    protobuf_c_message_free_unpacked (&terms->base, NULL);
    return rc;
}
