/* billing.c - what every billing module shares: checks, the calendar, consumption tax,
   queries into messages, list cursors */
#include "billing.h"
#include "clock.h"
#include "idempotency.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <assert.h>

#define JST_MS (9 * 3600 * 1000LL)

bool
billing_one_of (const char *value, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (strcmp (value, *allowed) == 0)
            return true;
    return false;
}

void
billing_check_enum (svc_reply_t *reply, const char *field, const char *value,
                    const char *const *allowed, bool required)
{
    if ((!*value && !required) || billing_one_of (value, allowed))
        return;
    char list [200] = "";
    for (size_t used = 0; *allowed; allowed++, used = strlen (list))
        snprintf (list + used, sizeof list - used, "%s%s", used? ", ": "", *allowed);
    svc_field_error (reply, field, "must be one of %s", list);
}

void
billing_check_text (svc_reply_t *reply, const char *field, const char *text, long max_chars)
{
    const unsigned char *s = (const unsigned char *) text;
    long count = 0;
    while (*s) {
        int extra = s [0] < 0x80? 0: (s [0] & 0xE0) == 0xC0? 1: (s [0] & 0xF0) == 0xE0? 2
                  : (s [0] & 0xF8) == 0xF0? 3: -1;
        bool bad = extra < 0 || (extra == 0 && (s [0] < 0x20 || s [0] == 0x7F));
        for (int i = 1; !bad && i <= extra; i++)
            bad = (s [i] & 0xC0) != 0x80;
        if (bad) {
            svc_field_error (reply, field, "must be UTF-8 text without control characters");
            return;
        }
        s += extra + 1;
        count++;
    }
    if (count == 0 || count > max_chars)
        svc_field_error (reply, field, "must be 1 to %ld characters", max_chars);
}

bool
billing_uuid (const char *text)
{
    if (strlen (text) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash? text [i] != '-': !strchr ("0123456789abcdefABCDEF", text [i]))
            return false;
    }
    return true;
}

bool
billing_caller_may_see (const svc_request_t *request, const char *member_id)
{
    const Kaiin__Request *envelope = request->envelope;
    return strcmp (envelope->caller_role, "member") != 0
        || strcasecmp (envelope->caller_id, member_id) == 0;
}

void
billing_string_set (char **field, const char *value)
{
    if (*field != protobuf_c_empty_string)
        free (*field);
    *field = strdup (value);
}

int
billing_days_in_month (int year, int month)
{
    static const int days [] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 1 && leap? 29: days [month];
}

int
billing_day_of_month (int64_t ms)
{
    struct tm tm;
    billing_japan_time (ms, &tm);
    return tm.tm_mday;
}

void
billing_japan_time (int64_t ms, struct tm *tm)
{
    time_t seconds = (time_t) ((ms + JST_MS) / 1000);
    gmtime_r (&seconds, tm);
}

int64_t
billing_period_end (int64_t from_ms, const char *interval, int count, int anchor_day)
{
    struct tm tm;
    billing_japan_time (from_ms, &tm);
    int months = strcmp (interval, "year") == 0? 12 * count: count;
    int month = tm.tm_mon + months;
    tm.tm_year += month / 12;
    tm.tm_mon = month % 12;
    int last = billing_days_in_month (tm.tm_year + 1900, tm.tm_mon);
    tm.tm_mday = anchor_day < last? anchor_day: last;
    return (int64_t) timegm (&tm) * 1000 + (from_ms + JST_MS) % 1000 - JST_MS;
}

int
billing_tax (Kaiin__Billing__InvoiceLine *const *lines, size_t count, bool inclusive,
             billing_tax_t taxes [3])
{
    static const int rates [] = { 10, 8, 0 };
    int used = 0;
    for (int r = 0; r < 3; r++) {
        int64_t sum = 0;
        bool any = false;
        for (size_t i = 0; i < count; i++)
            if (lines [i]->tax_rate == rates [r]) {
                sum += lines [i]->amount;
                any = true;
            }
        if (!any)
            continue;
        billing_tax_t *tax = &taxes [used++];
        tax->rate = rates [r];
        tax->amount = sum;
        /* Rounded down once per rate per invoice (適格請求書: 一の税率ごとに1回の端数処理). */
        tax->tax = inclusive? sum * rates [r] / (100 + rates [r]): sum * rates [r] / 100;
        tax->taxable_amount = inclusive? sum - tax->tax: sum;
    }
    return used;
}

PGresult *
billing_run (svc_request_t *request, svc_reply_t *reply, const char *name, int count,
             const char *const *params)
{
    PGresult *result = pg_run (request->db, name, count, params);
    if (!result)
        svc_db_fail (reply, request->db);
    return result;
}

int
billing_append_rows (svc_request_t *request, svc_reply_t *reply, const char *name, const char *id,
                     void ***items, size_t *count, const ProtobufCMessageDescriptor *descriptor)
{
    const char *params [] = { id };
    PGresult *result = billing_run (request, reply, name, 1, params);
    if (!result)
        return -1;
    for (int row = 0; row < PQntuples (result); row++)
        pg_row_append (items, count, pg_row_message (result, row, descriptor));
    PQclear (result);
    return 0;
}

ProtobufCMessage *
billing_get (svc_request_t *request, svc_reply_t *reply, const char *name, int count,
             const char *const *params, const ProtobufCMessageDescriptor *descriptor,
             const char *not_found)
{
    PGresult *result = billing_run (request, reply, name, count, params);
    if (!result)
        return NULL;
    ProtobufCMessage *message = NULL;
    if (PQntuples (result) == 0)
        svc_fail_say (reply, KAIIN__STATUS__NOT_FOUND, not_found);
    else
        message = pg_row_message (result, 0, descriptor);
    PQclear (result);
    return message;
}

ProtobufCMessage *
billing_get_by_id (svc_request_t *request, svc_reply_t *reply, const char *name,
                   const ProtobufCMessageDescriptor *descriptor, const char *not_found)
{
    Kaiin__Billing__IdRequest *get = (Kaiin__Billing__IdRequest *)
        svc_unpack (request, &kaiin__billing__id_request__descriptor, reply);
    if (!get)
        return NULL;
    ProtobufCMessage *message = NULL;
    const char *params [] = { get->id };
    if (!billing_uuid (get->id))            /* like every get by id: no such object */
        svc_fail_say (reply, KAIIN__STATUS__NOT_FOUND, not_found);
    else
        message = billing_get (request, reply, name, 1, params, descriptor, not_found);
    protobuf_c_message_free_unpacked (&get->base, NULL);
    return message;
}

int
billing_page (svc_reply_t *reply, const Kaiin__Billing__ListRequest *list, char before [24],
              char limit [24])
{
    int rows = list->limit? list->limit: LIST_DEFAULT;
    if (rows < 1 || rows > LIST_MAX)
        svc_field_error (reply, "limit", "must be from 1 to %d", LIST_MAX);
    snprintf (limit, 24, "%d", rows);
    snprintf (before, 24, "%lld", (long long) INT64_MAX);
    const char *cursor = list->cursor;
    if (*cursor) {
        size_t length = strlen (cursor);
        if (cursor [0] != 's' || length < 2 || length > 17
        ||  strspn (cursor + 1, "0123456789abcdef") != length - 1)
            svc_field_error (reply, "cursor", "is not a cursor this API returned");
        else
            snprintf (before, 24, "%llu", strtoull (cursor + 1, NULL, 16));
    }
    if (*list->member_id && !billing_uuid (list->member_id))
        svc_field_error (reply, "member_id", "must be a member id");
    if (*list->subscription_id && !billing_uuid (list->subscription_id))
        svc_field_error (reply, "subscription_id", "must be a subscription id");
    if (*list->invoice_id && !billing_uuid (list->invoice_id))
        svc_field_error (reply, "invoice_id", "must be an invoice id");
    return reply->status == KAIIN__STATUS__OK? 0: -1;
}

void
billing_next_cursor (PGresult *result, int limit, char cursor [24])
{
    int rows = PQntuples (result);
    cursor [0] = 0;
    if (rows == limit && rows > 0)
        snprintf (cursor, 24, "s%llx",
                  strtoull (PQgetvalue (result, rows - 1, PQfnumber (result, "seq")), NULL, 10));
}

int64_t
billing_now (svc_request_t *request)
{
    return request->envelope->now_ms? request->envelope->now_ms: clock_now_ms ();
}

int
billing_reply_rows (svc_reply_t *reply, PGresult *result, int limit,
                    const ProtobufCMessageDescriptor *list_descriptor)
{
    ProtobufCMessage *list = malloc (list_descriptor->sizeof_message);
    assert (list);
    list_descriptor->message_init (list);
    const ProtobufCFieldDescriptor *data = protobuf_c_message_descriptor_get_field_by_name (list_descriptor, "data");
    const ProtobufCFieldDescriptor *next = protobuf_c_message_descriptor_get_field_by_name (list_descriptor, "next_cursor");
    assert (data && data->descriptor);
    void ***items = (void ***) ((char *) list + data->offset);
    size_t *count = (size_t *) ((char *) list + data->quantifier_offset);
    for (int row = 0; row < PQntuples (result); row++)
        pg_row_append (items, count, pg_row_message (result, row, data->descriptor));
    if (next) {
        char cursor [24];
        billing_next_cursor (result, limit, cursor);
        *(char **) ((char *) list + next->offset) = strdup (cursor);
    }
    svc_reply_with (reply, list);
    protobuf_c_message_free_unpacked (list, NULL);
    return 0;
}

void
billing_provider_key (const svc_request_t *request, const char *what, const char *fallback,
                      char *key, size_t size)
{
    char intent [65];
    if (idempotency_intent (request->envelope, intent))
        snprintf (key, size, "%s:k:%s", what, intent);
    else
        snprintf (key, size, "%s:%s", what, fallback);
}
