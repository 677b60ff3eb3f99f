/* inquiry.c - support inquiries (問い合わせ履歴) and their threads: opened, read, answered,
   changed, with their SQL, events and audit entries */
#include "inquiry.h"
#include "audit.h"
#include "outbox.h"
#include <assert.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define SUBJECT_MAX_CHARS   200
#define BODY_MAX_CHARS      10000

const char *const inquiry_statuses [] = { "open", "pending", "resolved", NULL };
const char *const inquiry_channels [] = { "email", "phone", "web_form", "chat", "in_person", "other", NULL };
const char *const inquiry_categories [] = { "billing", "account", "content", "technical",
                                            "cancellation", "other", NULL };

void
inquiry_prepare (pg_t *db)
{
    pg_prepare (db, "inquiry_member", "select 1 from members where id = $1 for key share");
    pg_prepare (db, "inquiry_assignee", "select disabled from staff where id = $1 for share");
    pg_prepare (db, "inquiry_insert",
            "insert into inquiries (member_id, subject, channel, category, assignee_id, opened_by,"
            " created_at, updated_at) values ($1, $2, $3, $4, nullif ($5, '')::uuid, $6, "
            AT ("$7") ", " AT ("$7") ") returning " INQUIRY_COLUMNS);
    pg_prepare (db, "inquiry_message_insert",
            "insert into inquiry_messages (inquiry_id, author_type, author_id, body, created_at)"
            " values ($1, $2, $3, $4, " AT ("$5") ") returning " INQUIRY_MESSAGE_COLUMNS);
    pg_prepare (db, "inquiry_get", "select " INQUIRY_COLUMNS " from inquiries where id = $1");
    pg_prepare (db, "inquiry_lock",
            "select " INQUIRY_COLUMNS " from inquiries where id = $1 for update");
    pg_prepare (db, "inquiry_thread",
            "select " INQUIRY_MESSAGE_COLUMNS " from inquiry_messages where inquiry_id = $1 order by seq");
    pg_prepare (db, "inquiry_update",
            "update inquiries set status = $2, assignee_id = nullif ($3, '')::uuid, category = $4,"
            "  channel = $5, resolved_at = case when $2 = 'resolved'"
            "    then coalesce (resolved_at, " AT ("$6") ") end,"
            "  version = version + 1, updated_at = " AT ("$6")
            " where id = $1 returning " INQUIRY_COLUMNS);
}

/* --- checks ------------------------------------------------------------------------------- */

static bool
s_one_of (const char *value, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (strcmp (value, *allowed) == 0)
            return true;
    return false;
}

void
inquiry_check_enum (svc_reply_t *reply, const char *field, const char *value,
                    const char *const *allowed, bool required)
{
    if (!*value && !required)
        return;
    if (s_one_of (value, allowed))
        return;
    char list [160] = "";
    for (size_t used = 0; *allowed; allowed++, used = strlen (list))
        snprintf (list + used, sizeof list - used, "%s%s", used? ", ": "", *allowed);
    svc_field_error (reply, field, "must be one of %s", list);
}

long
inquiry_text_length (const char *text, bool multiline)
{
    const unsigned char *s = (const unsigned char *) text;
    long count = 0;
    while (*s) {
        int extra = s [0] < 0x80? 0: (s [0] & 0xE0) == 0xC0? 1: (s [0] & 0xF0) == 0xE0? 2
                  : (s [0] & 0xF8) == 0xF0? 3: -1;
        if (extra < 0)
            return -1;
        for (int i = 1; i <= extra; i++)
            if ((s [i] & 0xC0) != 0x80)
                return -1;
        if (extra == 0 && (s [0] < 0x20 || s [0] == 0x7F)
        &&  !(multiline && (s [0] == '\n' || s [0] == '\r' || s [0] == '\t')))
            return -1;
        s += extra + 1;
        count++;
    }
    return count;
}

static void
s_check_text (svc_reply_t *reply, const char *field, const char *value, long max_chars,
              bool multiline)
{
    long length = inquiry_text_length (value, multiline);
    if (length < 0)
        svc_field_error (reply, field, "must be UTF-8 text without control characters");
    else
    if (length == 0 || length > max_chars)
        svc_field_error (reply, field, "must be 1 to %ld characters", max_chars);
}

static void
s_check_assignee_id (svc_reply_t *reply, const char *assignee_id)
{
    if (*assignee_id && !member_uuid (assignee_id))
        svc_field_error (reply, "assignee_id", "must be the id of an enabled staff account");
}

/* --- reads and writes ---------------------------------------------------------------------- */

/* Runs a statement that answers one row of inquiry columns into *inquiry (without its thread;
   the caller frees it). */
static member_rc_t
s_inquiry_row (pg_t *db, const char *statement, int count, const char *const *params,
               Kaiin__Inquiry__Inquiry **inquiry)
{
    return member_row (db, statement, count, params, &kaiin__inquiry__inquiry__descriptor,
                       (ProtobufCMessage **) inquiry);
}

/* Reads inquiry's whole thread into it. Returns 0 or -1. */
static int
s_load_thread (pg_t *db, Kaiin__Inquiry__Inquiry *inquiry)
{
    const char *params [] = { inquiry->id };
    PGresult *result = pg_run (db, "inquiry_thread", 1, params);
    if (!result)
        return -1;
    member_rows_append (&inquiry->base, "messages", result, PQntuples (result));
    PQclear (result);
    return 0;
}

/* Reads one inquiry with its whole thread (the caller frees it). */
static member_rc_t
s_get (pg_t *db, const char *id, Kaiin__Inquiry__Inquiry **inquiry)
{
    const char *params [] = { id };
    member_rc_t rc = s_inquiry_row (db, "inquiry_get", 1, params, inquiry);
    if (rc == MEMBER_OK && s_load_thread (db, *inquiry) == -1) {
        protobuf_c_message_free_unpacked (&(*inquiry)->base, NULL);
        rc = MEMBER_ERROR;
    }
    return rc;
}

/* OK when statement finds a row for key, NOT_FOUND when not, ERROR. */
static member_rc_t
s_exists (pg_t *db, const char *statement, const char *key)
{
    const char *params [] = { key };
    PGresult *result = pg_run (db, statement, 1, params);
    if (!result)
        return MEMBER_ERROR;
    member_rc_t rc = PQntuples (result) == 1? MEMBER_OK: MEMBER_NOT_FOUND;
    PQclear (result);
    return rc;
}

/* OK when staff_id names an enabled staff account (kept so until the transaction ends),
   BAD_ASSIGNEE when not, ERROR. */
static member_rc_t
s_check_assignee (pg_t *db, const char *staff_id)
{
    const char *params [] = { staff_id };
    PGresult *result = pg_run (db, "inquiry_assignee", 1, params);
    if (!result)
        return MEMBER_ERROR;
    bool enabled = PQntuples (result) == 1 && PQgetvalue (result, 0, 0) [0] == 'f';
    PQclear (result);
    return enabled? MEMBER_OK: MEMBER_BAD_ASSIGNEE;
}

/* Adds a message to inquiry_id's thread: *message (the caller frees it). Returns 0 or -1. */
static int
s_add_message (pg_t *db, const char *inquiry_id, const char *author_type, const char *author_id,
               const char *body, const char *now, Kaiin__Inquiry__Message **message)
{
    const char *params [] = { inquiry_id, author_type, author_id, body, now };
    return member_row (db, "inquiry_message_insert", 5, params, &kaiin__inquiry__message__descriptor,
                       (ProtobufCMessage **) message) == MEMBER_OK? 0: -1;
}

/* Adds {"field": [before, after]} to changes when they differ; "" and NULL are JSON null. */
static void
s_diff (json_t *changes, const char *field, const char *before, const char *after)
{
    before = before && *before? before: NULL;
    after = after && *after? after: NULL;
    if ((!before && !after) || (before && after && strcmp (before, after) == 0))
        return;
    json_object_set_new (changes, field, json_pack ("[s?, s?]", before, after));
}

/* Appends the audit entry with changes (stolen), then the event when event_type is not NULL.
   Returns 0 or -1. */
static int
s_record (pg_t *db, const audit_actor_t *actor, const char *action, json_t *changes,
          const char *event_type, const Kaiin__Inquiry__Inquiry *inquiry)
{
    char *text = json_dumps (changes, JSON_COMPACT);
    json_decref (changes);
    int rc = text && audit_append (db, actor, action, "inquiry", inquiry->id, text) == 0? 0: -1;
    free (text);
    if (rc == 0 && event_type)
        rc = outbox_append (db, event_type, inquiry->id, &inquiry->base, actor->now_ms);
    return rc;
}

/* Opens an inquiry for a member, with request->body as its first message written by the
   actor, its inquiry.opened event and audit entry. NOT_FOUND when the member does not exist,
   BAD_ASSIGNEE when request->assignee_id is not an enabled staff account. */
static member_rc_t
s_open (pg_t *db, const Kaiin__Inquiry__OpenRequest *request, const audit_actor_t *actor,
        Kaiin__Inquiry__Inquiry **inquiry)
{
    if (pg_begin (db) == -1)
        return MEMBER_ERROR;
    *inquiry = NULL;
    Kaiin__Inquiry__Message *message = NULL;
    member_rc_t rc = s_exists (db, "inquiry_member", request->member_id);
    if (rc != MEMBER_OK)
        goto fail;
    if (*request->assignee_id && (rc = s_check_assignee (db, request->assignee_id)) != MEMBER_OK)
        goto fail;
    rc = MEMBER_ERROR;
    char now [24];
    const char *params [] = { request->member_id, request->subject, request->channel,
                              request->category, request->assignee_id, actor->actor_id,
                              NUM (now, actor->now_ms) };
    if (s_inquiry_row (db, "inquiry_insert", 7, params, inquiry) != MEMBER_OK)
        goto fail;
    if (s_add_message (db, (*inquiry)->id, "staff", actor->actor_id, request->body, now, &message) == -1)
        goto fail;
    pg_row_append ((void ***) &(*inquiry)->messages, &(*inquiry)->n_messages, message);
    json_t *changes = json_object ();
    s_diff (changes, "member_id", NULL, (*inquiry)->member_id);
    s_diff (changes, "subject", NULL, (*inquiry)->subject);
    s_diff (changes, "status", NULL, (*inquiry)->status);
    s_diff (changes, "channel", NULL, (*inquiry)->channel);
    s_diff (changes, "category", NULL, (*inquiry)->category);
    s_diff (changes, "assignee_id", NULL, (*inquiry)->assignee_id);
    s_diff (changes, "message_id", NULL, message->id);
    if (s_record (db, actor, "inquiry.opened", changes, "inquiry.opened", *inquiry) == -1
    ||  pg_commit (db) == -1)
        goto fail;
    return MEMBER_OK;
fail:
    if (*inquiry)
        protobuf_c_message_free_unpacked (&(*inquiry)->base, NULL);
    *inquiry = NULL;
    pg_rollback (db);
    return rc;
}

/* Adds a message by author_type/author_id (NULL: the inquiry's member); request->status
   "pending" also moves an open inquiry to pending (NOT_OPEN when it is resolved). Bumps the
   inquiry's version. Fills *message and *inquiry (without its thread): the caller frees them. */
static member_rc_t
s_reply (pg_t *db, const Kaiin__Inquiry__ReplyRequest *request, const char *author_type,
         const char *author_id, const audit_actor_t *actor, Kaiin__Inquiry__Message **message,
         Kaiin__Inquiry__Inquiry **inquiry)
{
    if (pg_begin (db) == -1)
        return MEMBER_ERROR;
    Kaiin__Inquiry__Inquiry *before = NULL;
    *inquiry = NULL;
    *message = NULL;
    const char *key [] = { request->inquiry_id };
    member_rc_t rc = s_inquiry_row (db, "inquiry_lock", 1, key, &before);
    if (rc != MEMBER_OK)
        goto fail;
    const char *status = before->status;
    if (strcmp (request->status, "pending") == 0) {
        rc = MEMBER_NOT_OPEN;
        if (strcmp (before->status, "resolved") == 0)
            goto fail;
        status = "pending";
    }
    rc = MEMBER_ERROR;
    char now [24];
    if (s_add_message (db, before->id, author_type, author_id? author_id: before->member_id,
                       request->body, NUM (now, actor->now_ms), message) == -1)
        goto fail;
    const char *params [] = { before->id, status, before->assignee_id, before->category,
                              before->channel, now };
    if (s_inquiry_row (db, "inquiry_update", 6, params, inquiry) != MEMBER_OK)
        goto fail;
    json_t *changes = json_object ();
    s_diff (changes, "message_id", NULL, (*message)->id);
    s_diff (changes, "author_type", NULL, (*message)->author_type);
    s_diff (changes, "status", before->status, (*inquiry)->status);
    if (s_record (db, actor, "inquiry.replied", changes, NULL, *inquiry) == -1
    ||  pg_commit (db) == -1)
        goto fail;
    protobuf_c_message_free_unpacked (&before->base, NULL);
    return MEMBER_OK;
fail:
    if (before)
        protobuf_c_message_free_unpacked (&before->base, NULL);
    if (*inquiry)
        protobuf_c_message_free_unpacked (&(*inquiry)->base, NULL);
    if (*message)
        protobuf_c_message_free_unpacked (&(*message)->base, NULL);
    *inquiry = NULL;
    *message = NULL;
    pg_rollback (db);
    return rc;
}

/* Changes the masked fields (status, assignee_id, category, channel) under the precondition.
   Resolving sets resolved_at and appends inquiry.resolved; reopening clears it. Fills
   *inquiry with its thread. An empty mask changes nothing and answers the current state. */
static member_rc_t
s_update (pg_t *db, const Kaiin__Inquiry__UpdateRequest *request, const audit_actor_t *actor,
          Kaiin__Inquiry__Inquiry **inquiry)
{
    *inquiry = NULL;
    if (request->n_update_mask == 0) {
        /* Nothing to change: answer the current state, still honouring the precondition. */
        member_rc_t rc = s_get (db, request->id, inquiry);
        if (rc == MEMBER_OK && request->if_version && (*inquiry)->version != request->if_version) {
            protobuf_c_message_free_unpacked (&(*inquiry)->base, NULL);
            *inquiry = NULL;
            rc = MEMBER_STALE;
        }
        return rc;
    }
    if (pg_begin (db) == -1)
        return MEMBER_ERROR;
    Kaiin__Inquiry__Inquiry *before = NULL;
    const char *key [] = { request->id };
    member_rc_t rc = s_inquiry_row (db, "inquiry_lock", 1, key, &before);
    if (rc != MEMBER_OK)
        goto fail;
    rc = MEMBER_STALE;
    if (request->if_version && before->version != request->if_version)
        goto fail;
    bool assigning = SVC_MASKED (request, "assignee_id") && *request->assignee_id
                  && strcmp (request->assignee_id, before->assignee_id) != 0;
    if (assigning && (rc = s_check_assignee (db, request->assignee_id)) != MEMBER_OK)
        goto fail;
    rc = MEMBER_ERROR;
    char now [24];
    const char *params [] = {
        before->id,
        SVC_MASKED (request, "status")? request->status: before->status,
        SVC_MASKED (request, "assignee_id")? request->assignee_id: before->assignee_id,
        SVC_MASKED (request, "category")? request->category: before->category,
        SVC_MASKED (request, "channel")? request->channel: before->channel,
        NUM (now, actor->now_ms)
    };
    if (s_inquiry_row (db, "inquiry_update", 6, params, inquiry) != MEMBER_OK
    ||  s_load_thread (db, *inquiry) == -1)
        goto fail;
    bool resolving = strcmp ((*inquiry)->status, "resolved") == 0 && strcmp (before->status, "resolved") != 0;
    json_t *changes = json_object ();
    s_diff (changes, "status", before->status, (*inquiry)->status);
    s_diff (changes, "assignee_id", before->assignee_id, (*inquiry)->assignee_id);
    s_diff (changes, "category", before->category, (*inquiry)->category);
    s_diff (changes, "channel", before->channel, (*inquiry)->channel);
    if (s_record (db, actor, resolving? "inquiry.resolved": "inquiry.updated", changes,
                  resolving? "inquiry.resolved": NULL, *inquiry) == -1
    ||  pg_commit (db) == -1)
        goto fail;
    protobuf_c_message_free_unpacked (&before->base, NULL);
    return MEMBER_OK;
fail:
    if (before)
        protobuf_c_message_free_unpacked (&before->base, NULL);
    if (*inquiry)
        protobuf_c_message_free_unpacked (&(*inquiry)->base, NULL);
    *inquiry = NULL;
    pg_rollback (db);
    return rc;
}

/* --- the methods --------------------------------------------------------------------------- */

/* Turns an outcome other than OK into the reply. Returns -1. */
static int
s_fail (svc_request_t *request, svc_reply_t *reply, member_rc_t rc, const char *missing)
{
    switch (rc) {
        case MEMBER_NOT_FOUND:
            return svc_fail_say (reply, KAIIN__STATUS__NOT_FOUND, missing);
        case MEMBER_BAD_ASSIGNEE:
            svc_field_error (reply, "assignee_id", "must be the id of an enabled staff account");
            return -1;
        case MEMBER_STALE:
            return svc_fail (reply, KAIIN__STATUS__ABORTED,
                             "the inquiry changed since the version given in If-Match");
        case MEMBER_NOT_OPEN:
            return svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION,
                             "only an open inquiry moves to pending with a reply; this one is resolved");
        default:
            return svc_db_fail (reply, request->db);
    }
}

/* Replies with inquiry (then freed) on OK, else the failure. */
static int
s_answer (svc_request_t *request, svc_reply_t *reply, member_rc_t rc,
          Kaiin__Inquiry__Inquiry *inquiry, const char *missing)
{
    if (rc != MEMBER_OK)
        return s_fail (request, reply, rc, missing);
    svc_reply_with (reply, &inquiry->base);
    protobuf_c_message_free_unpacked (&inquiry->base, NULL);
    return 0;
}

int
inquiry_api_open (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Inquiry__OpenRequest *open = (Kaiin__Inquiry__OpenRequest *)
        svc_unpack (request, &kaiin__inquiry__open_request__descriptor, reply);
    if (!open)
        return -1;
    int rc = -1;
    if (reply->status == KAIIN__STATUS__OK) {
        s_check_text (reply, "subject", open->subject, SUBJECT_MAX_CHARS, false);
        s_check_text (reply, "body", open->body, BODY_MAX_CHARS, true);
        inquiry_check_enum (reply, "channel", open->channel, inquiry_channels, true);
        inquiry_check_enum (reply, "category", open->category, inquiry_categories, true);
        s_check_assignee_id (reply, open->assignee_id);
    }
    if (member_id_ok (reply, open->member_id, "no such member")) {
        Kaiin__Inquiry__Inquiry *inquiry;
        audit_actor_t actor = audit_actor_of (request, member_now (request));
        member_rc_t opened = s_open (request->db, open, &actor, &inquiry);
        rc = s_answer (request, reply, opened, inquiry, "no such member");
    }
    protobuf_c_message_free_unpacked (&open->base, NULL);
    return rc;
}

int
inquiry_api_get (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Inquiry__GetRequest *get = (Kaiin__Inquiry__GetRequest *)
        svc_unpack (request, &kaiin__inquiry__get_request__descriptor, reply);
    if (!get)
        return -1;
    int rc = -1;
    if (member_id_ok (reply, get->id, "no such inquiry")) {
        Kaiin__Inquiry__Inquiry *inquiry = NULL;
        member_rc_t found = s_get (request->db, get->id, &inquiry);
        rc = s_answer (request, reply, found, inquiry, "no such inquiry");
    }
    protobuf_c_message_free_unpacked (&get->base, NULL);
    return rc;
}

int
inquiry_api_reply (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Inquiry__ReplyRequest *answer = (Kaiin__Inquiry__ReplyRequest *)
        svc_unpack (request, &kaiin__inquiry__reply_request__descriptor, reply);
    if (!answer)
        return -1;
    int rc = -1;
    const char *author_type = *answer->author_type? answer->author_type: "staff";
    if (reply->status == KAIIN__STATUS__OK) {
        s_check_text (reply, "body", answer->body, BODY_MAX_CHARS, true);
        static const char *const authors [] = { "staff", "member", NULL };
        inquiry_check_enum (reply, "author_type", author_type, authors, true);
        if (*answer->status && strcmp (answer->status, "pending") != 0)
            svc_field_error (reply, "status", "a reply can only move an inquiry to pending");
        else
        if (*answer->status && strcmp (author_type, "staff") != 0)
            svc_field_error (reply, "status", "only a staff reply moves an inquiry to pending");
    }
    if (member_id_ok (reply, answer->inquiry_id, "no such inquiry")) {
        Kaiin__Inquiry__Message *message;
        Kaiin__Inquiry__Inquiry *inquiry;
        audit_actor_t actor = audit_actor_of (request, member_now (request));
        const char *author_id = strcmp (author_type, "staff") == 0? request->envelope->caller_id: NULL;
        member_rc_t done = s_reply (request->db, answer, author_type, author_id, &actor, &message,
                                     &inquiry);
        if (done != MEMBER_OK)
            s_fail (request, reply, done, "no such inquiry");
        else {
            Kaiin__Inquiry__ReplyReply result = KAIIN__INQUIRY__REPLY_REPLY__INIT;
            result.message = message;
            result.inquiry = inquiry;
            rc = svc_reply_with (reply, &result.base);
            protobuf_c_message_free_unpacked (&message->base, NULL);
            protobuf_c_message_free_unpacked (&inquiry->base, NULL);
        }
    }
    protobuf_c_message_free_unpacked (&answer->base, NULL);
    return rc;
}

int
inquiry_api_update (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Inquiry__UpdateRequest *update = (Kaiin__Inquiry__UpdateRequest *)
        svc_unpack (request, &kaiin__inquiry__update_request__descriptor, reply);
    if (!update)
        return -1;
    int rc = -1;
    if (reply->status == KAIIN__STATUS__OK) {
        static const char *const fields [] = { "status", "assignee_id", "category", "channel", NULL };
        for (size_t i = 0; i < update->n_update_mask; i++)
            if (!s_one_of (update->update_mask [i], fields))
                svc_field_error (reply, update->update_mask [i], "is not a field that can be changed");
        if (SVC_MASKED (update, "status"))
            inquiry_check_enum (reply, "status", update->status, inquiry_statuses, true);
        if (SVC_MASKED (update, "category"))
            inquiry_check_enum (reply, "category", update->category, inquiry_categories, true);
        if (SVC_MASKED (update, "channel"))
            inquiry_check_enum (reply, "channel", update->channel, inquiry_channels, true);
        if (SVC_MASKED (update, "assignee_id"))
            s_check_assignee_id (reply, update->assignee_id);
    }
    if (member_id_ok (reply, update->id, "no such inquiry")) {
        Kaiin__Inquiry__Inquiry *inquiry;
        audit_actor_t actor = audit_actor_of (request, member_now (request));
        member_rc_t updated = s_update (request->db, update, &actor, &inquiry);
        rc = s_answer (request, reply, updated, inquiry, "no such inquiry");
    }
    protobuf_c_message_free_unpacked (&update->base, NULL);
    return rc;
}
