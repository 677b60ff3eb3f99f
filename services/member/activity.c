/* activity.c - what members did: the activities clients record (pages seen, purchases
   started, ...), and every attempt to sign in, as their histories */
#include "activity.h"
#include "member_record.h"
#include "member_auth.pb-c.h"
#include "outbox.h"
#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TYPE_MAX            50
#define PATH_MAX_CHARS      2000
#define PROPERTIES_MAX      8192        /* bytes of compact JSON */
#define BATCH_MAX           500
#define LIST_DEFAULT        20
#define LIST_MAX            100
#define EARLIEST_MS         946684800000LL          /* 2000-01-01: older is a client's bug */
#define FUTURE_SKEW_MS      (24 * 3600 * 1000LL)    /* a client clock a day fast at most */

#define LOGIN_COLUMNS \
    "seq, coalesce (member_id::text, '') as member_id, email, " MS ("at") " as at_ms, ip," \
    " user_agent, succeeded, reason"

#define ACTIVITY_COLUMNS \
    "seq, id, member_id, type, coalesce (path, '') as path," \
    " " MS ("occurred_at") " as occurred_at_ms, " MS ("received_at") " as received_at_ms," \
    " properties::text as properties_json"

void
activity_prepare (pg_t *db)
{
    pg_prepare (db, "activity_logins",
            "select " LOGIN_COLUMNS " from member_logins where member_id = $1"
            " and ($2::bigint = 0 or seq < $2::bigint)"
            " and ($3::bigint = 0 or at >= " AT ("$3") ")"
            " and ($4::bigint = 0 or at < " AT ("$4") ")"
            " order by seq desc limit $5");
    pg_prepare (db, "activity_insert",
            "insert into member_activities (member_id, type, path, occurred_at, received_at, properties)"
            " values ($1, $2, nullif ($3, ''), " AT ("$4") ", " AT ("$5") ", coalesce (nullif ($6, '')::jsonb, '{}'))"
            " returning " ACTIVITY_COLUMNS);
    pg_prepare (db, "activity_list",
            "select " ACTIVITY_COLUMNS " from member_activities where member_id = $1"
            " and ($2 = '' or type = $2)"
            " and ($3::bigint = 0 or occurred_at >= " AT ("$3") ")"
            " and ($4::bigint = 0 or occurred_at < " AT ("$4") ")"
            " and ($6::bigint = 0 or (occurred_at, seq) < (" AT ("$5") ", $6::bigint))"
            " order by occurred_at desc, seq desc limit $7");
}

/* An activity's type: 1 to 50 of [a-z0-9_.]. */
static bool
s_valid_type (const char *type)
{
    size_t length = strlen (type);
    if (length == 0 || length > TYPE_MAX)
        return false;
    for (const char *c = type; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '.'))
            return false;
    return true;
}

/* --- cursors ------------------------------------------------------------------------------ */

/* Reads hex digits up to stop (or the end) into *value; -1 when there are none or too many. */
static int
s_hex (const char **cursor, char stop, int64_t *value)
{
    const char *c = *cursor;
    *value = 0;
    int digits = 0;
    for (; *c && *c != stop; c++, digits++) {
        if (!isxdigit ((unsigned char) *c) || digits == 15)
            return -1;
        *value = *value * 16 + (isdigit ((unsigned char) *c)? *c - '0': (*c | 0x20) - 'a' + 10);
    }
    *cursor = c;
    return digits? 0: -1;
}

/* Login cursors: "l<hex seq>". Activity cursors: "a<hex occurred ms>.<hex seq>". */
static int
s_login_cursor_decode (const char *cursor, int64_t *before_seq)
{
    *before_seq = 0;
    if (!*cursor)
        return 0;
    const char *c = cursor + 1;
    if (cursor [0] != 'l' || s_hex (&c, 0, before_seq) == -1 || *before_seq <= 0)
        return -1;
    return 0;
}

static int
s_activity_cursor_decode (const char *cursor, int64_t *before_ms, int64_t *before_seq)
{
    *before_ms = *before_seq = 0;
    if (!*cursor)
        return 0;
    const char *c = cursor + 1;
    if (cursor [0] != 'a' || s_hex (&c, '.', before_ms) == -1 || *c != '.')
        return -1;
    c++;
    if (s_hex (&c, 0, before_seq) == -1 || *before_seq <= 0)
        return -1;
    return 0;
}

static void
s_check_range (svc_reply_t *reply, int limit, int64_t from_ms, int64_t to_ms)
{
    if (limit < 1 || limit > LIST_MAX)
        svc_field_error (reply, "limit", "must be from 1 to %d", LIST_MAX);
    if (from_ms < 0)
        svc_field_error (reply, "from", "must not be before 1970");
    if (to_ms < 0)
        svc_field_error (reply, "to", "must not be before 1970");
    if (from_ms && to_ms && from_ms >= to_ms)
        svc_field_error (reply, "to", "must be after from");
}

/* Who may read a member's history: staff with member.read; the member exists. */
static int
s_check_history (svc_request_t *request, svc_reply_t *reply, const char *member_id)
{
    if (reply->status != KAIIN__STATUS__OK)
        return -1;
    return member_record_require (request, reply, member_id);
}

/* --- history ------------------------------------------------------------------------------ */

int
activity_api_list_logins (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__MemberAuth__ListLoginsRequest *list = (Kaiin__MemberAuth__ListLoginsRequest *)
        svc_unpack (request, &kaiin__member_auth__list_logins_request__descriptor, reply);
    if (!list)
        return -1;
    int limit = list->limit? list->limit: LIST_DEFAULT;
    int64_t before_seq;
    s_check_range (reply, limit, list->from_ms, list->to_ms);
    if (s_login_cursor_decode (list->cursor, &before_seq) == -1)
        svc_field_error (reply, "cursor", "is not a cursor this API returned");
    int rc = -1;
    PGresult *result = NULL;
    if (s_check_history (request, reply, list->member_id) == 0) {
        char before [24], from [24], to [24], fetch [24];
        const char *params [] = { list->member_id, NUM (before, before_seq), NUM (from, list->from_ms),
                                  NUM (to, list->to_ms), NUM (fetch, limit + 1) };  /* one more: are there more? */
        if (!(result = pg_run (request->db, "activity_logins", 5, params)))
            rc = svc_db_fail (reply, request->db);
    }
    if (result) {
        ProtobufCMessage *page = member_page (result, limit,
                                              &kaiin__member_auth__list_logins_reply__descriptor,
                                              "logins", 'l');
        rc = svc_reply_with (reply, page);
        protobuf_c_message_free_unpacked (page, NULL);
        PQclear (result);
    }
    protobuf_c_message_free_unpacked (&list->base, NULL);
    return rc;
}

int
activity_api_list (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__MemberAuth__ListActivitiesRequest *list = (Kaiin__MemberAuth__ListActivitiesRequest *)
        svc_unpack (request, &kaiin__member_auth__list_activities_request__descriptor, reply);
    if (!list)
        return -1;
    int limit = list->limit? list->limit: LIST_DEFAULT;
    int64_t before_ms, before_seq;
    s_check_range (reply, limit, list->from_ms, list->to_ms);
    if (s_activity_cursor_decode (list->cursor, &before_ms, &before_seq) == -1)
        svc_field_error (reply, "cursor", "is not a cursor this API returned");
    if (*list->type && !s_valid_type (list->type))
        svc_field_error (reply, "type", "must be 1 to %d of a-z, 0-9, '_' and '.'", TYPE_MAX);
    int rc = -1;
    PGresult *result = NULL;
    if (s_check_history (request, reply, list->member_id) == 0) {
        char from [24], to [24], cursor_ms [24], cursor_seq [24], fetch [24];
        const char *params [] = { list->member_id, list->type, NUM (from, list->from_ms),
                                  NUM (to, list->to_ms), NUM (cursor_ms, before_ms),
                                  NUM (cursor_seq, before_seq), NUM (fetch, limit + 1) };
        if (!(result = pg_run (request->db, "activity_list", 7, params)))
            rc = svc_db_fail (reply, request->db);
    }
    if (result) {
        Kaiin__MemberAuth__ListActivitiesReply *page = (Kaiin__MemberAuth__ListActivitiesReply *)
            member_page (result, limit, &kaiin__member_auth__list_activities_reply__descriptor,
                         "activities", 0);
        if (PQntuples (result) > limit) {     /* "a", the last one's time and seq */
            char cursor [40];
            snprintf (cursor, sizeof cursor, "a%llx.%llx",
                      (unsigned long long) page->activities [limit - 1]->occurred_at_ms,
                      (unsigned long long) member_seq (result, limit - 1));
            free (page->next_cursor);
            page->next_cursor = strdup (cursor);
        }
        rc = svc_reply_with (reply, &page->base);
        protobuf_c_message_free_unpacked (&page->base, NULL);
        PQclear (result);
    }
    protobuf_c_message_free_unpacked (&list->base, NULL);
    return rc;
}

/* --- activities --------------------------------------------------------------------------- */

/* In one transaction: inserts every activity of request (occurred_at_ms already set), each
   with its member.activity event, into reply. NOT_FOUND when the member does not exist. */
static member_rc_t
s_record (pg_t *db, const Kaiin__MemberAuth__RecordActivitiesRequest *request, int64_t now_ms,
          Kaiin__MemberAuth__RecordActivitiesReply *reply)
{
    if (pg_begin (db) == -1)
        return MEMBER_ERROR;
    member_rc_t rc = MEMBER_ERROR;
    /* An unknown member is NOT_FOUND (the foreign key would only say "violation"). */
    int exists = member_record_exists (db, request->member_id);
    if (exists != 1) {
        rc = exists == 0? MEMBER_NOT_FOUND: MEMBER_ERROR;
        goto fail;
    }
    for (size_t i = 0; i < request->n_activities; i++) {
        const Kaiin__MemberAuth__Activity *in = request->activities [i];
        char occurred [24], now [24];
        const char *params [] = { request->member_id, in->type, in->path, NUM (occurred, in->occurred_at_ms),
                                  NUM (now, now_ms), in->properties_json };
        Kaiin__MemberAuth__Activity *stored = NULL;
        if (member_row (db, "activity_insert", 6, params, &kaiin__member_auth__activity__descriptor,
                        (ProtobufCMessage **) &stored) != MEMBER_OK)
            goto fail;
        pg_row_append ((void ***) &reply->activities, &reply->n_activities, stored);
        if (outbox_append (db, "member.activity", request->member_id, &stored->base, now_ms) == -1)
            goto fail;
    }
    if (pg_commit (db) == -1)
        goto fail;
    return MEMBER_OK;
fail:
    pg_rollback (db);
    return rc;
}

/* Adds a field error on a field of the i-th activity ("type", or "events[3].type" in a batch):
   the reason fmt formats, fmt in Japanese as svc_field_error's. */
static void
s_activity_error (svc_reply_t *reply, bool batch, size_t index, const char *field, const char *fmt, ...)
    __attribute__ ((format (printf, 5, 6)));

static void
s_activity_error (svc_reply_t *reply, bool batch, size_t index, const char *field, const char *fmt, ...)
{
    char name [64];
    if (batch)
        snprintf (name, sizeof name, "events[%zu].%s", index, field);
    else
        snprintf (name, sizeof name, "%s", field);
    char reason [sizeof reply->errors [0].reason];
    va_list args;
    va_start (args, fmt);
    vsnprintf (reason, sizeof reason, messages_say (reply->japanese, fmt), args);
    va_end (args);
    svc_field_error_coded (reply, name, messages_code (fmt), reason);
}

static void
s_check_activity (svc_reply_t *reply, bool batch, size_t index, Kaiin__MemberAuth__Activity *activity,
                  int64_t now_ms)
{
    if (!s_valid_type (activity->type))
        s_activity_error (reply, batch, index, "type", "must be 1 to %d of a-z, 0-9, '_' and '.'", TYPE_MAX);
    if (member_chars (activity->path) > PATH_MAX_CHARS)
        s_activity_error (reply, batch, index, "path", "must be at most %d characters", PATH_MAX_CHARS);
    if (activity->occurred_at_ms == 0)
        activity->occurred_at_ms = now_ms;
    else
    if (activity->occurred_at_ms < EARLIEST_MS || activity->occurred_at_ms > now_ms + FUTURE_SKEW_MS)
        s_activity_error (reply, batch, index, "occurred_at",
                          "must be after 2000-01-01 and at most a day ahead of now");
    if (*activity->properties_json) {
        json_t *properties = NULL;
        if (strlen (activity->properties_json) > PROPERTIES_MAX)
            s_activity_error (reply, batch, index, "properties", "must be at most 8 KiB of JSON");
        else
        if (!(properties = json_loads (activity->properties_json, 0, NULL)) || !json_is_object (properties))
            s_activity_error (reply, batch, index, "properties", "must be a JSON object");
        json_decref (properties);
    }
}

int
activity_api_record (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__MemberAuth__RecordActivitiesRequest *record = (Kaiin__MemberAuth__RecordActivitiesRequest *)
        svc_unpack (request, &kaiin__member_auth__record_activities_request__descriptor, reply);
    if (!record)
        return -1;
    int rc = -1;
    int64_t now_ms = member_now (request);
    if (!member_uuid (record->member_id))
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such member");
    else
    if (record->n_activities == 0 || record->n_activities > BATCH_MAX)
        svc_field_error (reply, "events", "must hold 1 to %d events", BATCH_MAX);
    else
        for (size_t i = 0; i < record->n_activities; i++)
            s_check_activity (reply, record->batch, i, record->activities [i], now_ms);
    if (reply->status == KAIIN__STATUS__OK) {
        Kaiin__MemberAuth__RecordActivitiesReply *stored = (Kaiin__MemberAuth__RecordActivitiesReply *)
            member_message_new (&kaiin__member_auth__record_activities_reply__descriptor);
        member_rc_t done = s_record (request->db, record, now_ms, stored);
        if (done == MEMBER_NOT_FOUND)
            svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such member");
        else
        if (done != MEMBER_OK)
            svc_db_fail (reply, request->db);
        else
            rc = svc_reply_with (reply, &stored->base);
        protobuf_c_message_free_unpacked (&stored->base, NULL);
    }
    protobuf_c_message_free_unpacked (&record->base, NULL);
    return rc;
}
