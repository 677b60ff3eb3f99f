/* messaging.c - what every messaging module shares: running statements for a handler, rows
   into replies, checks of ids and text, the request's time */
#include "messaging.h"
#include "clock.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t
messaging_now (const svc_request_t *request)
{
    return request->envelope->now_ms? request->envelope->now_ms: clock_now_ms ();
}

bool
messaging_uuid (const char *text)
{
    static const size_t groups [] = { 8, 4, 4, 4, 12 };
    for (int i = 0; i < 5; i++) {
        size_t digits = strspn (text, "0123456789abcdefABCDEF");
        if (digits != groups [i])
            return false;
        text += digits;
        if (i < 4 && *text++ != '-')
            return false;
    }
    return *text == 0;
}

bool
messaging_email (const char *text)
{
    const char *at = strchr (text, '@');
    size_t length = strlen (text);
    return at && at != text && at [1] && at [1] != '.' && text [length - 1] != '.'
        && !strchr (at + 1, '@') && strchr (at + 1, '.') && length <= 254
        && strcspn (text, " \t\r\n<>\",;()[]\\") == length;
}

/* The number of UTF-8 characters of text, or -1 when it is not UTF-8 or holds a control
   character (line breaks and tabs allowed when multiline). */
static long
s_characters (const char *text, bool multiline)
{
    long count = 0;
    const unsigned char *p = (const unsigned char *) text;
    while (*p) {
        int extra = *p < 0x80? 0: (*p & 0xE0) == 0xC0? 1: (*p & 0xF0) == 0xE0? 2: (*p & 0xF8) == 0xF0? 3: -1;
        if (extra < 0)
            return -1;
        if (extra == 0 && (*p < 0x20 || *p == 0x7F) && !(multiline && (*p == '\n' || *p == '\r' || *p == '\t')))
            return -1;
        for (int i = 1; i <= extra; i++)
            if ((p [i] & 0xC0) != 0x80)
                return -1;
        p += extra + 1;
        count++;
    }
    return count;
}

void
messaging_check_text (svc_reply_t *reply, const char *field, const char *text, long max_chars,
                      bool multiline)
{
    long count = s_characters (text, multiline);
    if (count < 0)
        svc_field_error (reply, field, multiline? "must be UTF-8 text": "must be one line of UTF-8 text");
    else
    if (count < 1 || count > max_chars)
        svc_field_error (reply, field, "must be 1 to %ld characters", max_chars);
}

PGresult *
messaging_run (svc_request_t *request, svc_reply_t *reply, const char *name, int count,
               const char *const *params)
{
    PGresult *result = pg_run (request->db, name, count, params);
    if (!result)
        svc_db_fail (reply, request->db);
    return result;
}

int
messaging_exists (pg_t *db, const char *name, const char *id)
{
    if (!messaging_uuid (id))
        return 0;
    const char *params [] = { id };
    PGresult *result = pg_run (db, name, 1, params);
    int found = result? PQntuples (result) > 0: -1;
    PQclear (result);
    return found;
}

int
messaging_reply_row (svc_request_t *request, svc_reply_t *reply, const char *name, int count,
                     const char *const *params, const ProtobufCMessageDescriptor *descriptor,
                     const char *not_found)
{
    PGresult *result = messaging_run (request, reply, name, count, params);
    if (!result)
        return -1;
    int rc = -1;
    if (PQntuples (result) == 0)
        svc_fail_say (reply, KAIIN__STATUS__NOT_FOUND, not_found);
    else {
        ProtobufCMessage *message = pg_row_message (result, 0, descriptor);
        rc = svc_reply_with (reply, message);
        protobuf_c_message_free_unpacked (message, NULL);
    }
    PQclear (result);
    return rc;
}

int
messaging_reply_changed (svc_request_t *request, svc_reply_t *reply, const char *name, int count,
                         const char *const *params, const ProtobufCMessageDescriptor *descriptor,
                         const char *changed)
{
    PGresult *result = messaging_run (request, reply, name, count, params);
    int rc = -1;
    if (result && PQntuples (result) == 0)
        svc_fail_say (reply, KAIIN__STATUS__ABORTED, changed);
    else
    if (result) {
        ProtobufCMessage *updated = pg_row_message (result, 0, descriptor);
        rc = svc_reply_with (reply, updated);
        protobuf_c_message_free_unpacked (updated, NULL);
    }
    PQclear (result);
    return rc;
}

int
messaging_reply_by_id (svc_request_t *request, svc_reply_t *reply, const char *name,
                       const ProtobufCMessageDescriptor *descriptor, const char *not_found)
{
    Kaiin__Messaging__IdRequest *get = (Kaiin__Messaging__IdRequest *)
        svc_unpack (request, &kaiin__messaging__id_request__descriptor, reply);
    if (!get)
        return -1;
    const char *params [] = { get->id };
    int rc = messaging_uuid (get->id)
        ? messaging_reply_row (request, reply, name, 1, params, descriptor, not_found)
        : svc_fail_say (reply, KAIIN__STATUS__NOT_FOUND, not_found);
    protobuf_c_message_free_unpacked (&get->base, NULL);
    return rc;
}

/* A field of message by name, as a pointer into it. */
static void *
s_field (ProtobufCMessage *message, const char *name, const ProtobufCFieldDescriptor **field_p)
{
    const ProtobufCFieldDescriptor *field =
        protobuf_c_message_descriptor_get_field_by_name (message->descriptor, name);
    assert (field);
    if (field_p)
        *field_p = field;
    return (char *) message + field->offset;
}

int
messaging_reply_list (svc_request_t *request, svc_reply_t *reply, const char *name, int count,
                      const char **params, const Kaiin__Messaging__ListRequest *list,
                      const ProtobufCMessageDescriptor *list_descriptor)
{
    int limit = list->limit? list->limit: LIST_DEFAULT;
    if (limit < 1 || limit > LIST_MAX)
        svc_field_error (reply, "limit", "must be from 1 to %d", LIST_MAX);
    unsigned long long before = INT64_MAX;
    const char *cursor = list->cursor;
    size_t length = strlen (cursor);
    if (length && (cursor [0] != 's' || length < 2 || length > 17
                   || strspn (cursor + 1, "0123456789abcdef") != length - 1))
        svc_field_error (reply, "cursor", "is not a cursor this API returned");
    else
    if (length)
        before = strtoull (cursor + 1, NULL, 16);
    if (reply->status != KAIIN__STATUS__OK)
        return -1;
    char before_text [24], limit_text [24];
    params [count - 2] = NUM (before_text, before);
    params [count - 1] = NUM (limit_text, limit);
    PGresult *result = messaging_run (request, reply, name, count, params);
    if (!result)
        return -1;
    ProtobufCMessage *answer = calloc (1, list_descriptor->sizeof_message);
    assert (answer);
    list_descriptor->message_init (answer);
    const ProtobufCFieldDescriptor *data;
    void ***items = s_field (answer, "data", &data);
    size_t *items_count = (size_t *) ((char *) answer + data->quantifier_offset);
    int rows = PQntuples (result);
    for (int row = 0; row < rows; row++)
        pg_row_append (items, items_count, pg_row_message (result, row, data->descriptor));
    char next [24] = "";
    if (rows == limit && rows > 0)
        snprintf (next, sizeof next, "s%llx",
                  strtoull (PQgetvalue (result, rows - 1, PQfnumber (result, "seq")), NULL, 10));
    *(char **) s_field (answer, "next_cursor", NULL) = strdup (next);
    PQclear (result);
    svc_reply_with (reply, answer);
    protobuf_c_message_free_unpacked (answer, NULL);
    return 0;
}

PGresult *
messaging_take_due (pg_t *db, const char *statement, int64_t now_ms, int *done)
{
    char now [24];
    const char *params [] = { NUM (now, now_ms) };
    *done = -1;
    if (pg_begin (db) == -1)
        return NULL;
    PGresult *due = pg_run (db, statement, 1, params);
    if (due && PQntuples (due) > 0)
        return due;
    PQclear (due);
    if (due && pg_commit (db) == 0)
        *done = 0;
    else
        pg_rollback (db);
    return NULL;
}

int64_t
messaging_retry_at (int attempts, int64_t now_ms)
{
    int minutes = attempts >= 6? 60: 1 << attempts;
    return now_ms + minutes * MINUTE_MS;
}
