/* billing.h - what every billing module shares: SQL time macros, checks, the calendar,
   consumption tax, queries into messages, list cursors */
#ifndef KAIIN_BILLING_H
#define KAIIN_BILLING_H
#include "billing.pb-c.h"
#include "pg.h"
#include "pg_row.h"
#include "svc.h"
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define MS(column) "coalesce ((extract (epoch from " column ") * 1000)::bigint, 0)"
#define AT(param) "to_timestamp (nullif (" param "::bigint, 0) / 1000.0)"
#define DAY_MS      86400000LL
#define LIST_DEFAULT 20
#define LIST_MAX     100
#define AMOUNT_MAX   1000000000000LL      /* 10^12 yen */

/* How long an incomplete subscription waits for its first invoice to be paid (a konbini
   payment: until its expiry); a bank transfer for a first invoice is due within it. */
#define SUBSCRIPTION_INCOMPLETE_MS (23 * 3600 * 1000LL)

/* Decimal text of a number, in a caller's buffer of at least 24 bytes. */
#define NUM(buffer, value) (snprintf ((buffer), sizeof (buffer), "%lld", (long long) (value)), (buffer))

bool billing_one_of (const char *value, const char *const *allowed);

/* Adds a field error unless value is one of allowed; an empty value passes when !required. */
void billing_check_enum (svc_reply_t *reply, const char *field, const char *value,
                         const char *const *allowed, bool required);

/* Adds a field error unless text is 1..max_chars characters of UTF-8 without controls. */
void billing_check_text (svc_reply_t *reply, const char *field, const char *text, long max_chars);

bool billing_uuid (const char *text);

/* Sets a message's string field to a copy of value, freeing what it held (unless the shared
   empty string). */
void billing_string_set (char **field, const char *value);
/* Whether the caller may see an object of member_id: a member's own session only its own;
   staff (their roles checked by the gateway) and services everything. */
bool billing_caller_may_see (const svc_request_t *request, const char *member_id);

/* The end of a period that starts at from_ms: count months or years later on the calendar of
   Japan (UTC+9), on anchor_day or the month's last day when it is shorter. */
int64_t billing_period_end (int64_t from_ms, const char *interval, int count, int anchor_day);

/* How many days month (0..11) of year has. */
int billing_days_in_month (int year, int month);

/* The day of month of ms in Japan. */
int billing_day_of_month (int64_t ms);

/* The date and time of ms on the calendar and clock of Japan (UTC+9), into tm. */
void billing_japan_time (int64_t ms, struct tm *tm);

/* Consumption tax of an invoice's lines: per rate, the lines' amounts summed and the tax
   taken once, rounded down. Fills taxes (up to 3: 10, 8, 0) and returns how many. */
typedef struct {
    int rate;
    int64_t amount;                 /* in the invoice's tax mode */
    int64_t taxable_amount;         /* excluding tax */
    int64_t tax;
} billing_tax_t;
int billing_tax (Kaiin__Billing__InvoiceLine *const *lines, size_t count, bool inclusive,
                 billing_tax_t taxes [3]);

/* Runs a prepared statement; answers the reply's error on failure (database: 503/500). */
PGresult *billing_run (svc_request_t *request, svc_reply_t *reply, const char *name, int count,
                       const char *const *params);

/* A message of descriptor's type for each row of the statement name run with the one parameter
   id, appended to the repeated message field *items of *count (a record's lines, its history).
   0, or -1 with a database error set on reply. */
int billing_append_rows (svc_request_t *request, svc_reply_t *reply, const char *name, const char *id,
                         void ***items, size_t *count, const ProtobufCMessageDescriptor *descriptor);

/* The first row of a statement as a message, or NULL with NOT_FOUND (not_found, a sentence of
   the table of messages such as "plan not found") or a database error set on reply. */
ProtobufCMessage *billing_get (svc_request_t *request, svc_reply_t *reply, const char *name,
                               int count, const char *const *params,
                               const ProtobufCMessageDescriptor *descriptor, const char *not_found);

/* billing_get for a get-by-id method: the request's IdRequest id as the statement's one
   parameter. An id that is not a uuid is NOT_FOUND, as an unknown one. */
ProtobufCMessage *billing_get_by_id (svc_request_t *request, svc_reply_t *reply, const char *name,
                                     const ProtobufCMessageDescriptor *descriptor, const char *not_found);

/* List paging: the cursor ("s" + hex seq; "" = from the newest) and limit of a ListRequest,
   checked. Returns 0 or -1 with field errors set. */
int billing_page (svc_reply_t *reply, const Kaiin__Billing__ListRequest *list, char before [24],
                  char limit [24]);

/* The next cursor after a page of rows whose last column is seq: "" when fewer than limit. */
void billing_next_cursor (PGresult *result, int limit, char cursor [24]);

/* Answers a list message (fields "data" and, when it has one, "next_cursor") made of
   result's rows. Returns 0. */
int billing_reply_rows (svc_reply_t *reply, PGresult *result, int limit,
                        const ProtobufCMessageDescriptor *list_descriptor);

/* The logical time of the request. */
int64_t billing_now (svc_request_t *request);

/* The key a payment provider is called with for what request asks, into key (at least 96
   bytes): "<what>:k:<intent>" when the client sent an Idempotency-Key (a retry after a crash
   asks the provider with the same key, so the charge made before the crash is answered again,
   not made twice), else "<what>:<fallback>" (each request is an intent of its own; a charge
   left without a record by a crash is refunded by billing_reconcile). */
void billing_provider_key (const svc_request_t *request, const char *what, const char *fallback,
                           char *key, size_t size);

#endif
