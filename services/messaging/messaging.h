/* messaging.h - what every messaging module shares: running statements for a handler, rows
   into replies, checks of ids and text, the request's time */
#ifndef KAIIN_MESSAGING_H
#define KAIIN_MESSAGING_H
#include "messaging.pb-c.h"
#include "pg.h"
#include "pg_row.h"
#include "svc.h"
#include <stdbool.h>
#include <stdint.h>

#define MINUTE_MS    60000LL
#define LIST_DEFAULT 20
#define LIST_MAX     100

/* Decimal text of a number, in a caller's buffer of at least 24 bytes. */
#define NUM(buffer, value) (snprintf ((buffer), sizeof (buffer), "%lld", (long long) (value)), (buffer))

/* The request's logical now (the envelope's, else the service clock's). */
int64_t messaging_now (const svc_request_t *request);

bool messaging_uuid (const char *text);

/* An address a mail can go to as it is written: one @ with a name before it and a domain with
   a dot inside it after it, at most 254 bytes, nothing a header would read otherwise (spaces, brackets,
   quotes, commas, semicolons, parentheses, backslashes). The one rule of messaging's
   addresses: the sender's, a test send's, the suppression list's. */
bool messaging_email (const char *text);

/* A tick's one item: begins a transaction and runs statement (its one parameter now_ms), which
   locks the first due row. Returns the result with the transaction open, or NULL with *done 0
   (nothing due: committed) or -1 (a database error: rolled back). */
PGresult *messaging_take_due (pg_t *db, const char *statement, int64_t now_ms, int *done);

/* When to try again after attempts failed ones: 2, 4, 8 … minutes, at most an hour, later. */
int64_t messaging_retry_at (int attempts, int64_t now_ms);

/* Adds a field error unless text is 1..max_chars characters of UTF-8 without control
   characters (multiline: line breaks and tabs allowed). */
void messaging_check_text (svc_reply_t *reply, const char *field, const char *text,
                           long max_chars, bool multiline);

/* Runs a prepared statement; on failure sets the reply's database error and returns NULL. */
PGresult *messaging_run (svc_request_t *request, svc_reply_t *reply, const char *name,
                         int count, const char *const *params);

/* Runs statement name with id (a uuid, else there is none) as its one parameter: 1 when it
   returns a row, 0 when not, -1 on a database error. */
int messaging_exists (pg_t *db, const char *name, const char *id);

/* Runs a statement and answers its first row as a descriptor message: NOT_FOUND (not_found, a
   sentence of the table of messages such as "template not found") when there is none.
   Returns 0 or -1. */
int messaging_reply_row (svc_request_t *request, svc_reply_t *reply, const char *name,
                         int count, const char *const *params,
                         const ProtobufCMessageDescriptor *descriptor, const char *not_found);

/* Runs an update with If-Match's version among its parameters and answers the row it returns
   as a descriptor message: ABORTED (changed, a sentence of the table of messages such as "the
   template was changed meanwhile") when it returns none. Returns 0 or -1. */
int messaging_reply_changed (svc_request_t *request, svc_reply_t *reply, const char *name,
                             int count, const char *const *params,
                             const ProtobufCMessageDescriptor *descriptor, const char *changed);

/* messaging_reply_row for a get-by-id method: the request's IdRequest id as the statement's
   one parameter; an id that is not a uuid is NOT_FOUND, as an unknown one. */
int messaging_reply_by_id (svc_request_t *request, svc_reply_t *reply, const char *name,
                           const ProtobufCMessageDescriptor *descriptor, const char *not_found);

/* Runs a list statement whose last two parameters are the page's "before seq" and limit, and
   whose rows end with column seq, and answers list_descriptor's message (fields data and
   next_cursor) from them. list gives limit and cursor; params holds count - 2 parameters
   first. Returns 0 or -1 (a bad limit or cursor: field errors). */
int messaging_reply_list (svc_request_t *request, svc_reply_t *reply, const char *name,
                          int count, const char **params, const Kaiin__Messaging__ListRequest *list,
                          const ProtobufCMessageDescriptor *list_descriptor);

#endif
