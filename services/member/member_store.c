/* member_store.c - all of the member service's SQL: the members table and its events */
#include "member_store.h"
#include "audit.h"
#include "outbox.h"
#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMBER_COLUMNS \
    "id, email, name, name_kana, phone, status, version," \
    " (extract (epoch from created_at) * 1000)::bigint," \
    " (extract (epoch from updated_at) * 1000)::bigint," \
    " coalesce ((extract (epoch from withdrawn_at) * 1000)::bigint, 0)," \
    " coalesce (withdrawn_reason, ''), seq"

#define AT(param) "to_timestamp (" param "::bigint / 1000.0)"

int
member_store_prepare (pg_t *db)
{
    if (pg_prepare (db, "member_insert",
            "insert into members (email, name, name_kana, phone, created_at, updated_at)"
            " values ($1, $2, $3, $4, " AT ("$5") ", " AT ("$5") ") returning " MEMBER_COLUMNS) == -1
    ||  pg_prepare (db, "member_get", "select " MEMBER_COLUMNS " from members where id = $1") == -1
    ||  pg_prepare (db, "member_lock", "select " MEMBER_COLUMNS " from members where id = $1 for update") == -1
    ||  pg_prepare (db, "member_update",
            "update members set"
            "  email = case when $2 then $3 else email end,"
            "  name = case when $4 then $5 else name end,"
            "  name_kana = case when $6 then $7 else name_kana end,"
            "  phone = case when $8 then $9 else phone end,"
            "  version = version + 1, updated_at = " AT ("$10")
            " where id = $1 returning " MEMBER_COLUMNS) == -1
    ||  pg_prepare (db, "member_withdraw",
            "update members set status = 'withdrawn', withdrawn_reason = nullif ($2, ''),"
            "  withdrawn_at = " AT ("$3") ", updated_at = " AT ("$3") ", version = version + 1"
            " where id = $1 returning " MEMBER_COLUMNS) == -1
    ||  pg_prepare (db, "member_list",
            "select " MEMBER_COLUMNS " from members"
            " where seq > $1 and ($2 = '' or status = $2) and ($3 = '' or lower (email) = lower ($3))"
            " order by seq limit $4") == -1
    ||  audit_prepare (db) == -1)
        return -1;
    return 0;
}

/* Fills member from row of result; returns the row's seq. */
static int64_t
s_member_from_row (PGresult *result, int row, Kaiin__Member__Member *member)
{
    kaiin__member__member__init (member);
    member->id = strdup (PQgetvalue (result, row, 0));
    member->email = strdup (PQgetvalue (result, row, 1));
    member->name = strdup (PQgetvalue (result, row, 2));
    member->name_kana = strdup (PQgetvalue (result, row, 3));
    member->phone = strdup (PQgetvalue (result, row, 4));
    member->status = strdup (PQgetvalue (result, row, 5));
    member->version = strtoll (PQgetvalue (result, row, 6), NULL, 10);
    member->created_at_ms = strtoll (PQgetvalue (result, row, 7), NULL, 10);
    member->updated_at_ms = strtoll (PQgetvalue (result, row, 8), NULL, 10);
    member->withdrawn_at_ms = strtoll (PQgetvalue (result, row, 9), NULL, 10);
    member->withdrawn_reason = strdup (PQgetvalue (result, row, 10));
    return strtoll (PQgetvalue (result, row, 11), NULL, 10);
}

void
member_store_clear (Kaiin__Member__Member *member)
{
    free (member->id);
    free (member->email);
    free (member->name);
    free (member->name_kana);
    free (member->phone);
    free (member->status);
    free (member->withdrawn_reason);
    kaiin__member__member__init (member);
}

/* In one transaction: locks the member's row and reads it (unless creating), checks the
   precondition, runs the statement that writes it, and appends its event and audit entry. */
static member_store_rc_t
s_write (pg_t *db, const char *id, int64_t if_version, bool withdrawing, const char *statement,
         int count, const char *const *params, const char *event_type, const audit_actor_t *actor,
         Kaiin__Member__Member *member)
{
    if (pg_exec (db, "begin") == -1)
        return MEMBER_STORE_ERROR;
    member_store_rc_t rc = MEMBER_STORE_ERROR;
    Kaiin__Member__Member before = KAIIN__MEMBER__MEMBER__INIT;
    bool have_before = false;
    PGresult *result = NULL;
    if (id) {
        const char *key [] = { id };
        if (!(result = pg_run (db, "member_lock", 1, key)))
            goto fail;
        rc = MEMBER_STORE_NOT_FOUND;
        if (PQntuples (result) == 0)
            goto fail;
        s_member_from_row (result, 0, &before);
        have_before = true;
        PQclear (result);
        result = NULL;
        rc = MEMBER_STORE_STALE;
        if (if_version && before.version != if_version)
            goto fail;
        rc = MEMBER_STORE_WITHDRAWN;
        if (withdrawing && strcmp (before.status, "withdrawn") == 0)
            goto fail;
        rc = MEMBER_STORE_ERROR;
    }
    if (!(result = pg_run (db, statement, count, params))) {
        if (strcmp (pg_sqlstate (db), "23505") == 0)
            rc = MEMBER_STORE_DUPLICATE;
        goto fail;
    }
    s_member_from_row (result, 0, member);
    PQclear (result);
    result = NULL;
    char *changes = audit_member_changes (have_before? &before: NULL, member);
    const char *action = strchr (event_type, '.') + 1;
    char audit_action [48];
    snprintf (audit_action, sizeof audit_action, "member.%s", action);
    int appended = outbox_append (db, event_type, member->id, &member->base, actor->now_ms) == 0
                && audit_append (db, actor, audit_action, "member", member->id, changes) == 0;
    free (changes);
    if (!appended || pg_exec (db, "commit") == -1) {
        member_store_clear (member);
        goto fail;
    }
    if (have_before)
        member_store_clear (&before);
    return MEMBER_STORE_OK;
fail:
    PQclear (result);
    if (have_before)
        member_store_clear (&before);
    pg_exec (db, "rollback");
    return rc;
}

member_store_rc_t
member_store_create (pg_t *db, const Kaiin__Member__CreateRequest *request,
                     const audit_actor_t *actor, Kaiin__Member__Member *member)
{
    char now [24];
    snprintf (now, sizeof now, "%lld", (long long) actor->now_ms);
    const char *params [] = { request->email, request->name, request->name_kana,
                              request->phone, now };
    return s_write (db, NULL, 0, false, "member_insert", 5, params, "member.registered", actor, member);
}

member_store_rc_t
member_store_get (pg_t *db, const char *id, Kaiin__Member__Member *member)
{
    const char *params [] = { id };
    PGresult *result = pg_run (db, "member_get", 1, params);
    if (!result)
        return MEMBER_STORE_ERROR;
    member_store_rc_t rc = MEMBER_STORE_NOT_FOUND;
    if (PQntuples (result) == 1) {
        s_member_from_row (result, 0, member);
        rc = MEMBER_STORE_OK;
    }
    PQclear (result);
    return rc;
}

member_store_rc_t
member_store_update (pg_t *db, const Kaiin__Member__UpdateRequest *request,
                     const audit_actor_t *actor, Kaiin__Member__Member *member)
{
    if (request->n_update_mask == 0) {
        /* Nothing to change: answer the current state, still honouring the precondition. */
        member_store_rc_t rc = member_store_get (db, request->id, member);
        if (rc == MEMBER_STORE_OK && request->if_version && member->version != request->if_version) {
            member_store_clear (member);
            rc = MEMBER_STORE_STALE;
        }
        return rc;
    }
    char now [24];
    snprintf (now, sizeof now, "%lld", (long long) actor->now_ms);
    const char *params [] = {
        request->id,
        SVC_MASKED (request, "email")? "t": "f", request->email,
        SVC_MASKED (request, "name")? "t": "f", request->name,
        SVC_MASKED (request, "name_kana")? "t": "f", request->name_kana,
        SVC_MASKED (request, "phone")? "t": "f", request->phone,
        now
    };
    return s_write (db, request->id, request->if_version, false, "member_update", 10, params,
                    "member.updated", actor, member);
}

member_store_rc_t
member_store_withdraw (pg_t *db, const Kaiin__Member__WithdrawRequest *request,
                       const audit_actor_t *actor, Kaiin__Member__Member *member)
{
    char now [24];
    snprintf (now, sizeof now, "%lld", (long long) actor->now_ms);
    const char *params [] = { request->id, request->reason, now };
    return s_write (db, request->id, request->if_version, true, "member_withdraw", 3, params,
                    "member.withdrawn", actor, member);
}

member_store_rc_t
member_store_list (pg_t *db, int64_t after_seq, int limit, const char *status, const char *email,
                   Kaiin__Member__ListReply *reply, int64_t *last_seq, int *more)
{
    char after [24], fetch [12];
    snprintf (after, sizeof after, "%lld", (long long) after_seq);
    snprintf (fetch, sizeof fetch, "%d", limit + 1);     /* one more tells whether more follow */
    const char *params [] = { after, status, email, fetch };
    PGresult *result = pg_run (db, "member_list", 4, params);
    if (!result)
        return MEMBER_STORE_ERROR;
    int rows = PQntuples (result);
    *more = rows > limit;
    if (*more)
        rows = limit;
    reply->members = calloc (rows? rows: 1, sizeof *reply->members);
    assert (reply->members);
    *last_seq = 0;
    for (int row = 0; row < rows; row++) {
        Kaiin__Member__Member *member = malloc (sizeof *member);
        assert (member);
        *last_seq = s_member_from_row (result, row, member);
        reply->members [reply->n_members++] = member;
    }
    PQclear (result);
    return MEMBER_STORE_OK;
}

void
member_store_clear_list (Kaiin__Member__ListReply *reply)
{
    for (size_t i = 0; i < reply->n_members; i++) {
        member_store_clear (reply->members [i]);
        free (reply->members [i]);
    }
    free (reply->members);
    reply->members = NULL;
    reply->n_members = 0;
}
