/* inquiry_store.c - support inquiries and their threads: their SQL, events and audit entries */
#include "inquiry_store.h"
#include "outbox.h"
#include <assert.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS(column) "(extract (epoch from " column ") * 1000)::bigint"
#define AT(param) "to_timestamp (" param "::bigint / 1000.0)"

#define INQUIRY_COLUMNS \
    "id, member_id, subject, status, channel, category, coalesce (assignee_id::text, '')," \
    " opened_by, version, " MS ("created_at") ", " MS ("updated_at") "," \
    " coalesce (" MS ("resolved_at") ", 0), seq"

#define MESSAGE_COLUMNS "id, inquiry_id, author_type, author_id, body, " MS ("created_at")

/* The list's filters, $2..$6 (NULL: any); $1 the position to go below, $7 how many. */
#define LIST_WHERE \
    " where seq < $1 and ($2::uuid is null or member_id = $2::uuid)" \
    " and ($3::text is null or status = $3) and ($4::uuid is null or assignee_id = $4::uuid)" \
    " and ($5::text is null or category = $5) and ($6::text is null or channel = $6)"

int
inquiry_store_prepare (pg_t *db)
{
    if (pg_prepare (db, "inquiry_member", "select 1 from members where id = $1 for key share") == -1
    ||  pg_prepare (db, "inquiry_member_get", "select 1 from members where id = $1") == -1
    ||  pg_prepare (db, "inquiry_assignee", "select disabled from staff where id = $1 for share") == -1
    ||  pg_prepare (db, "inquiry_insert",
            "insert into inquiries (member_id, subject, channel, category, assignee_id, opened_by,"
            " created_at, updated_at) values ($1, $2, $3, $4, nullif ($5, '')::uuid, $6, "
            AT ("$7") ", " AT ("$7") ") returning " INQUIRY_COLUMNS) == -1
    ||  pg_prepare (db, "inquiry_message_insert",
            "insert into inquiry_messages (inquiry_id, author_type, author_id, body, created_at)"
            " values ($1, $2, $3, $4, " AT ("$5") ") returning " MESSAGE_COLUMNS) == -1
    ||  pg_prepare (db, "inquiry_get", "select " INQUIRY_COLUMNS " from inquiries where id = $1") == -1
    ||  pg_prepare (db, "inquiry_lock",
            "select " INQUIRY_COLUMNS " from inquiries where id = $1 for update") == -1
    ||  pg_prepare (db, "inquiry_thread",
            "select " MESSAGE_COLUMNS " from inquiry_messages where inquiry_id = $1 order by seq") == -1
    ||  pg_prepare (db, "inquiry_threads",
            "select " MESSAGE_COLUMNS " from inquiry_messages where inquiry_id = any ($1::uuid [])"
            " order by inquiry_id, seq") == -1
    ||  pg_prepare (db, "inquiry_update",
            "update inquiries set status = $2, assignee_id = nullif ($3, '')::uuid, category = $4,"
            "  channel = $5, resolved_at = case when $2 = 'resolved'"
            "    then coalesce (resolved_at, " AT ("$6") ") end,"
            "  version = version + 1, updated_at = " AT ("$6")
            " where id = $1 returning " INQUIRY_COLUMNS) == -1
    ||  pg_prepare (db, "inquiry_list",
            "select " INQUIRY_COLUMNS " from inquiries" LIST_WHERE " order by seq desc limit $7") == -1
        /* With q ($8, an ILIKE pattern): the inquiries whose subject or any message matches. */
    ||  pg_prepare (db, "inquiry_search",
            "select " INQUIRY_COLUMNS " from inquiries" LIST_WHERE
            " and seq in (select seq from inquiries where subject ilike $8"
            "             union select i.seq from inquiry_messages m join inquiries i on i.id = m.inquiry_id"
            "             where m.body ilike $8)"
            " order by seq desc limit $7") == -1)
        return -1;
    return 0;
}

/* Fills inquiry (without its thread) from row of result; returns the row's seq. */
static int64_t
s_inquiry_from_row (PGresult *result, int row, Kaiin__Inquiry__Inquiry *inquiry)
{
    kaiin__inquiry__inquiry__init (inquiry);
    inquiry->id = strdup (PQgetvalue (result, row, 0));
    inquiry->member_id = strdup (PQgetvalue (result, row, 1));
    inquiry->subject = strdup (PQgetvalue (result, row, 2));
    inquiry->status = strdup (PQgetvalue (result, row, 3));
    inquiry->channel = strdup (PQgetvalue (result, row, 4));
    inquiry->category = strdup (PQgetvalue (result, row, 5));
    inquiry->assignee_id = strdup (PQgetvalue (result, row, 6));
    inquiry->opened_by = strdup (PQgetvalue (result, row, 7));
    inquiry->version = strtoll (PQgetvalue (result, row, 8), NULL, 10);
    inquiry->created_at_ms = strtoll (PQgetvalue (result, row, 9), NULL, 10);
    inquiry->updated_at_ms = strtoll (PQgetvalue (result, row, 10), NULL, 10);
    inquiry->resolved_at_ms = strtoll (PQgetvalue (result, row, 11), NULL, 10);
    return strtoll (PQgetvalue (result, row, 12), NULL, 10);
}

static void
s_message_from_row (PGresult *result, int row, Kaiin__Inquiry__Message *message)
{
    kaiin__inquiry__message__init (message);
    message->id = strdup (PQgetvalue (result, row, 0));
    message->inquiry_id = strdup (PQgetvalue (result, row, 1));
    message->author_type = strdup (PQgetvalue (result, row, 2));
    message->author_id = strdup (PQgetvalue (result, row, 3));
    message->body = strdup (PQgetvalue (result, row, 4));
    message->created_at_ms = strtoll (PQgetvalue (result, row, 5), NULL, 10);
}

/* Appends a copy of row's message to inquiry's thread. */
static void
s_thread_append (Kaiin__Inquiry__Inquiry *inquiry, PGresult *result, int row)
{
    size_t count = inquiry->n_messages;
    if ((count & (count - 1)) == 0) {          /* 0, 1, 2, 4, ...: grow to the next power */
        inquiry->messages = realloc (inquiry->messages, (count? count * 2: 1) * sizeof *inquiry->messages);
        assert (inquiry->messages);
    }
    Kaiin__Inquiry__Message *message = malloc (sizeof *message);
    assert (message);
    s_message_from_row (result, row, message);
    inquiry->messages [inquiry->n_messages++] = message;
}

/* Frees a string field unless it is protobuf-c's shared empty default (an initialised field). */
static void
s_free_text (char *text)
{
    if (text != protobuf_c_empty_string)
        free (text);
}

void
inquiry_store_clear_message (Kaiin__Inquiry__Message *message)
{
    s_free_text (message->id);
    s_free_text (message->inquiry_id);
    s_free_text (message->author_type);
    s_free_text (message->author_id);
    s_free_text (message->body);
    kaiin__inquiry__message__init (message);
}

void
inquiry_store_clear (Kaiin__Inquiry__Inquiry *inquiry)
{
    s_free_text (inquiry->id);
    s_free_text (inquiry->member_id);
    s_free_text (inquiry->subject);
    s_free_text (inquiry->status);
    s_free_text (inquiry->channel);
    s_free_text (inquiry->category);
    s_free_text (inquiry->assignee_id);
    s_free_text (inquiry->opened_by);
    for (size_t i = 0; i < inquiry->n_messages; i++) {
        inquiry_store_clear_message (inquiry->messages [i]);
        free (inquiry->messages [i]);
    }
    free (inquiry->messages);
    kaiin__inquiry__inquiry__init (inquiry);
}

void
inquiry_store_clear_list (Kaiin__Inquiry__ListReply *reply)
{
    for (size_t i = 0; i < reply->n_inquiries; i++) {
        inquiry_store_clear (reply->inquiries [i]);
        free (reply->inquiries [i]);
    }
    free (reply->inquiries);
    reply->inquiries = NULL;
    reply->n_inquiries = 0;
}

/* Reads inquiry's whole thread into it. Returns 0 or -1. */
static int
s_load_thread (pg_t *db, Kaiin__Inquiry__Inquiry *inquiry)
{
    const char *params [] = { inquiry->id };
    PGresult *result = pg_run (db, "inquiry_thread", 1, params);
    if (!result)
        return -1;
    for (int row = 0; row < PQntuples (result); row++)
        s_thread_append (inquiry, result, row);
    PQclear (result);
    return 0;
}

/* Runs a statement expected to answer one row of inquiry columns into *inquiry.
   Returns OK, NOT_FOUND or ERROR. */
static inquiry_store_rc_t
s_run_one (pg_t *db, const char *statement, int count, const char *const *params,
           Kaiin__Inquiry__Inquiry *inquiry)
{
    PGresult *result = pg_run (db, statement, count, params);
    if (!result)
        return INQUIRY_STORE_ERROR;
    inquiry_store_rc_t rc = INQUIRY_STORE_NOT_FOUND;
    if (PQntuples (result) == 1) {
        s_inquiry_from_row (result, 0, inquiry);
        rc = INQUIRY_STORE_OK;
    }
    PQclear (result);
    return rc;
}

/* OK when statement finds a row for key, NOT_FOUND when not, ERROR. */
static inquiry_store_rc_t
s_exists (pg_t *db, const char *statement, const char *key)
{
    const char *params [] = { key };
    PGresult *result = pg_run (db, statement, 1, params);
    if (!result)
        return INQUIRY_STORE_ERROR;
    inquiry_store_rc_t rc = PQntuples (result) == 1? INQUIRY_STORE_OK: INQUIRY_STORE_NOT_FOUND;
    PQclear (result);
    return rc;
}

/* OK when staff_id names an enabled staff account (kept so until the transaction ends),
   BAD_ASSIGNEE when not, ERROR. */
static inquiry_store_rc_t
s_check_assignee (pg_t *db, const char *staff_id)
{
    const char *params [] = { staff_id };
    PGresult *result = pg_run (db, "inquiry_assignee", 1, params);
    if (!result)
        return INQUIRY_STORE_ERROR;
    bool enabled = PQntuples (result) == 1 && PQgetvalue (result, 0, 0) [0] == 'f';
    PQclear (result);
    return enabled? INQUIRY_STORE_OK: INQUIRY_STORE_BAD_ASSIGNEE;
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

inquiry_store_rc_t
inquiry_store_open (pg_t *db, const Kaiin__Inquiry__OpenRequest *request,
                    const audit_actor_t *actor, Kaiin__Inquiry__Inquiry *inquiry)
{
    if (pg_begin (db) == -1)
        return INQUIRY_STORE_ERROR;
    kaiin__inquiry__inquiry__init (inquiry);
    PGresult *result = NULL;
    inquiry_store_rc_t rc = s_exists (db, "inquiry_member", request->member_id);
    if (rc != INQUIRY_STORE_OK)
        goto fail;
    if (*request->assignee_id && (rc = s_check_assignee (db, request->assignee_id)) != INQUIRY_STORE_OK)
        goto fail;
    rc = INQUIRY_STORE_ERROR;
    char now [24];
    snprintf (now, sizeof now, "%lld", (long long) actor->now_ms);
    const char *params [] = { request->member_id, request->subject, request->channel,
                              request->category, request->assignee_id, actor->actor_id, now };
    if (s_run_one (db, "inquiry_insert", 7, params, inquiry) != INQUIRY_STORE_OK)
        goto fail;
    const char *message_params [] = { inquiry->id, "staff", actor->actor_id, request->body, now };
    if (!(result = pg_run (db, "inquiry_message_insert", 5, message_params)))
        goto fail;
    s_thread_append (inquiry, result, 0);
    PQclear (result);
    result = NULL;
    json_t *changes = json_object ();
    s_diff (changes, "member_id", NULL, inquiry->member_id);
    s_diff (changes, "subject", NULL, inquiry->subject);
    s_diff (changes, "status", NULL, inquiry->status);
    s_diff (changes, "channel", NULL, inquiry->channel);
    s_diff (changes, "category", NULL, inquiry->category);
    s_diff (changes, "assignee_id", NULL, inquiry->assignee_id);
    s_diff (changes, "message_id", NULL, inquiry->messages [0]->id);
    if (s_record (db, actor, "inquiry.opened", changes, "inquiry.opened", inquiry) == -1
    ||  pg_commit (db) == -1)
        goto fail;
    return INQUIRY_STORE_OK;
fail:
    PQclear (result);
    inquiry_store_clear (inquiry);
    pg_rollback (db);
    return rc;
}

inquiry_store_rc_t
inquiry_store_get (pg_t *db, const char *id, Kaiin__Inquiry__Inquiry *inquiry)
{
    const char *params [] = { id };
    inquiry_store_rc_t rc = s_run_one (db, "inquiry_get", 1, params, inquiry);
    if (rc == INQUIRY_STORE_OK && s_load_thread (db, inquiry) == -1) {
        inquiry_store_clear (inquiry);
        rc = INQUIRY_STORE_ERROR;
    }
    return rc;
}

inquiry_store_rc_t
inquiry_store_member_exists (pg_t *db, const char *member_id)
{
    return s_exists (db, "inquiry_member_get", member_id);
}

/* Returns a new ILIKE pattern matching text anywhere: its %, _ and \ taken literally. */
static char *
s_like_pattern (const char *text)
{
    char *pattern = malloc (strlen (text) * 2 + 3);
    assert (pattern);
    char *out = pattern;
    *out++ = '%';
    for (const char *c = text; *c; c++) {
        if (*c == '%' || *c == '_' || *c == '\\')
            *out++ = '\\';
        *out++ = *c;
    }
    *out++ = '%';
    *out = 0;
    return pattern;
}

/* Loads the threads of every inquiry of the page with one query. Returns 0 or -1. */
static int
s_load_threads (pg_t *db, Kaiin__Inquiry__ListReply *reply)
{
    if (reply->n_inquiries == 0)
        return 0;
    size_t size = reply->n_inquiries * 37 + 3;
    char *ids = malloc (size);
    assert (ids);
    size_t used = 0;
    ids [used++] = '{';
    for (size_t i = 0; i < reply->n_inquiries; i++)
        used += snprintf (ids + used, size - used, "%s%s", i? ",": "", reply->inquiries [i]->id);
    snprintf (ids + used, size - used, "}");
    const char *params [] = { ids };
    PGresult *result = pg_run (db, "inquiry_threads", 1, params);
    free (ids);
    if (!result)
        return -1;
    Kaiin__Inquiry__Inquiry *current = NULL;
    for (int row = 0; row < PQntuples (result); row++) {
        const char *inquiry_id = PQgetvalue (result, row, 1);
        if (!current || strcmp (current->id, inquiry_id) != 0) {
            current = NULL;
            for (size_t i = 0; i < reply->n_inquiries && !current; i++)
                if (strcmp (reply->inquiries [i]->id, inquiry_id) == 0)
                    current = reply->inquiries [i];
            assert (current);
        }
        s_thread_append (current, result, row);
    }
    PQclear (result);
    return 0;
}

inquiry_store_rc_t
inquiry_store_list (pg_t *db, const inquiry_filter_t *filter, int64_t before_seq, int limit,
                    Kaiin__Inquiry__ListReply *reply, int64_t *last_seq, int *more)
{
    char before [24], fetch [12];
    snprintf (before, sizeof before, "%lld", (long long) (before_seq? before_seq: INT64_MAX));
    snprintf (fetch, sizeof fetch, "%d", limit + 1);     /* one more tells whether more follow */
    char *pattern = filter->q? s_like_pattern (filter->q): NULL;
    const char *params [] = { before, filter->member_id, filter->status, filter->assignee_id,
                              filter->category, filter->channel, fetch, pattern };
    PGresult *result = pattern? pg_run (db, "inquiry_search", 8, params)
                              : pg_run (db, "inquiry_list", 7, params);
    free (pattern);
    if (!result)
        return INQUIRY_STORE_ERROR;
    int rows = PQntuples (result);
    *more = rows > limit;
    if (*more)
        rows = limit;
    reply->inquiries = calloc (rows? rows: 1, sizeof *reply->inquiries);
    assert (reply->inquiries);
    *last_seq = 0;
    for (int row = 0; row < rows; row++) {
        Kaiin__Inquiry__Inquiry *inquiry = malloc (sizeof *inquiry);
        assert (inquiry);
        *last_seq = s_inquiry_from_row (result, row, inquiry);
        reply->inquiries [reply->n_inquiries++] = inquiry;
    }
    PQclear (result);
    if (s_load_threads (db, reply) == -1) {
        inquiry_store_clear_list (reply);
        return INQUIRY_STORE_ERROR;
    }
    return INQUIRY_STORE_OK;
}

inquiry_store_rc_t
inquiry_store_reply (pg_t *db, const Kaiin__Inquiry__ReplyRequest *request,
                     const char *author_type, const char *author_id,
                     const audit_actor_t *actor, Kaiin__Inquiry__Message *message,
                     Kaiin__Inquiry__Inquiry *inquiry)
{
    if (pg_begin (db) == -1)
        return INQUIRY_STORE_ERROR;
    Kaiin__Inquiry__Inquiry before = KAIIN__INQUIRY__INQUIRY__INIT;
    kaiin__inquiry__inquiry__init (inquiry);
    kaiin__inquiry__message__init (message);
    PGresult *result = NULL;
    const char *key [] = { request->inquiry_id };
    inquiry_store_rc_t rc = s_run_one (db, "inquiry_lock", 1, key, &before);
    if (rc != INQUIRY_STORE_OK)
        goto fail;
    const char *status = before.status;
    if (strcmp (request->status, "pending") == 0) {
        rc = INQUIRY_STORE_NOT_OPEN;
        if (strcmp (before.status, "resolved") == 0)
            goto fail;
        status = "pending";
    }
    rc = INQUIRY_STORE_ERROR;
    char now [24];
    snprintf (now, sizeof now, "%lld", (long long) actor->now_ms);
    const char *message_params [] = { before.id, author_type, author_id? author_id: before.member_id,
                                      request->body, now };
    if (!(result = pg_run (db, "inquiry_message_insert", 5, message_params)))
        goto fail;
    s_message_from_row (result, 0, message);
    PQclear (result);
    result = NULL;
    const char *params [] = { before.id, status, before.assignee_id, before.category,
                              before.channel, now };
    if (s_run_one (db, "inquiry_update", 6, params, inquiry) != INQUIRY_STORE_OK)
        goto fail;
    json_t *changes = json_object ();
    s_diff (changes, "message_id", NULL, message->id);
    s_diff (changes, "author_type", NULL, message->author_type);
    s_diff (changes, "status", before.status, inquiry->status);
    if (s_record (db, actor, "inquiry.replied", changes, NULL, inquiry) == -1
    ||  pg_commit (db) == -1)
        goto fail;
    inquiry_store_clear (&before);
    return INQUIRY_STORE_OK;
fail:
    PQclear (result);
    inquiry_store_clear (&before);
    inquiry_store_clear (inquiry);
    inquiry_store_clear_message (message);
    pg_rollback (db);
    return rc;
}

inquiry_store_rc_t
inquiry_store_update (pg_t *db, const Kaiin__Inquiry__UpdateRequest *request,
                      const audit_actor_t *actor, Kaiin__Inquiry__Inquiry *inquiry)
{
    if (request->n_update_mask == 0) {
        /* Nothing to change: answer the current state, still honouring the precondition. */
        inquiry_store_rc_t rc = inquiry_store_get (db, request->id, inquiry);
        if (rc == INQUIRY_STORE_OK && request->if_version && inquiry->version != request->if_version) {
            inquiry_store_clear (inquiry);
            rc = INQUIRY_STORE_STALE;
        }
        return rc;
    }
    if (pg_begin (db) == -1)
        return INQUIRY_STORE_ERROR;
    Kaiin__Inquiry__Inquiry before = KAIIN__INQUIRY__INQUIRY__INIT;
    kaiin__inquiry__inquiry__init (inquiry);
    const char *key [] = { request->id };
    inquiry_store_rc_t rc = s_run_one (db, "inquiry_lock", 1, key, &before);
    if (rc != INQUIRY_STORE_OK)
        goto fail;
    rc = INQUIRY_STORE_STALE;
    if (request->if_version && before.version != request->if_version)
        goto fail;
    bool assigning = SVC_MASKED (request, "assignee_id") && *request->assignee_id
                  && strcmp (request->assignee_id, before.assignee_id) != 0;
    if (assigning && (rc = s_check_assignee (db, request->assignee_id)) != INQUIRY_STORE_OK)
        goto fail;
    rc = INQUIRY_STORE_ERROR;
    char now [24];
    snprintf (now, sizeof now, "%lld", (long long) actor->now_ms);
    const char *params [] = {
        before.id,
        SVC_MASKED (request, "status")? request->status: before.status,
        SVC_MASKED (request, "assignee_id")? request->assignee_id: before.assignee_id,
        SVC_MASKED (request, "category")? request->category: before.category,
        SVC_MASKED (request, "channel")? request->channel: before.channel,
        now
    };
    if (s_run_one (db, "inquiry_update", 6, params, inquiry) != INQUIRY_STORE_OK
    ||  s_load_thread (db, inquiry) == -1)
        goto fail;
    bool resolving = strcmp (inquiry->status, "resolved") == 0 && strcmp (before.status, "resolved") != 0;
    json_t *changes = json_object ();
    s_diff (changes, "status", before.status, inquiry->status);
    s_diff (changes, "assignee_id", before.assignee_id, inquiry->assignee_id);
    s_diff (changes, "category", before.category, inquiry->category);
    s_diff (changes, "channel", before.channel, inquiry->channel);
    if (s_record (db, actor, resolving? "inquiry.resolved": "inquiry.updated", changes,
                  resolving? "inquiry.resolved": NULL, inquiry) == -1
    ||  pg_commit (db) == -1)
        goto fail;
    inquiry_store_clear (&before);
    return INQUIRY_STORE_OK;
fail:
    inquiry_store_clear (&before);
    inquiry_store_clear (inquiry);
    pg_rollback (db);
    return rc;
}
