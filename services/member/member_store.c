/* member_store.c - all of the member service's SQL: the members table and its events */
#include "member_store.h"
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
    ||  pg_prepare (db, "member_update",
            "update members set"
            "  email = case when $3 then $4 else email end,"
            "  name = case when $5 then $6 else name end,"
            "  name_kana = case when $7 then $8 else name_kana end,"
            "  phone = case when $9 then $10 else phone end,"
            "  version = version + 1, updated_at = " AT ("$11")
            " where id = $1 and ($2::bigint = 0 or version = $2)"
            " returning " MEMBER_COLUMNS) == -1
    ||  pg_prepare (db, "member_withdraw",
            "update members set status = 'withdrawn', withdrawn_reason = nullif ($3, ''),"
            "  withdrawn_at = " AT ("$4") ", updated_at = " AT ("$4") ", version = version + 1"
            " where id = $1 and ($2::bigint = 0 or version = $2) and status <> 'withdrawn'"
            " returning " MEMBER_COLUMNS) == -1
    ||  pg_prepare (db, "member_list",
            "select " MEMBER_COLUMNS " from members"
            " where seq > $1 and ($2 = '' or status = $2) and ($3 = '' or lower (email) = lower ($3))"
            " order by seq limit $4") == -1)
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

/* Runs a statement that writes one member and returns it, then appends event_type for it to
   the outbox, all in one transaction. A statement that matches no row gives NOT_FOUND (the
   caller tells why); a unique violation gives DUPLICATE. */
static member_store_rc_t
s_write (pg_t *db, const char *statement, int count, const char *const *params,
         const char *event_type, int64_t now_ms, Kaiin__Member__Member *member)
{
    if (pg_exec (db, "begin") == -1)
        return MEMBER_STORE_ERROR;
    member_store_rc_t rc = MEMBER_STORE_ERROR;
    PGresult *result = pg_run (db, statement, count, params);
    if (!result) {
        if (strcmp (pg_sqlstate (db), "23505") == 0)
            rc = MEMBER_STORE_DUPLICATE;
        goto fail;
    }
    if (PQntuples (result) == 0) {
        PQclear (result);
        rc = MEMBER_STORE_NOT_FOUND;
        goto fail;
    }
    s_member_from_row (result, 0, member);
    PQclear (result);
    if (outbox_append (db, event_type, member->id, &member->base, now_ms) == -1
    ||  pg_exec (db, "commit") == -1) {
        member_store_clear (member);
        goto fail;
    }
    return MEMBER_STORE_OK;
fail:
    pg_exec (db, "rollback");
    return rc;
}

member_store_rc_t
member_store_create (pg_t *db, const Kaiin__Member__CreateRequest *request, int64_t now_ms,
                     Kaiin__Member__Member *member)
{
    char now [24];
    snprintf (now, sizeof now, "%lld", (long long) now_ms);
    const char *params [] = { request->email, request->name, request->name_kana,
                              request->phone, now };
    return s_write (db, "member_insert", 5, params, "member.registered", now_ms, member);
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

/* After a conditional write matched nothing: is the member missing, stale or withdrawn? */
static member_store_rc_t
s_why_not (pg_t *db, const char *id, int64_t if_version)
{
    Kaiin__Member__Member current;
    member_store_rc_t rc = member_store_get (db, id, &current);
    if (rc != MEMBER_STORE_OK)
        return rc;
    rc = if_version && current.version != if_version? MEMBER_STORE_STALE: MEMBER_STORE_WITHDRAWN;
    member_store_clear (&current);
    return rc;
}

static bool
s_masked (const Kaiin__Member__UpdateRequest *request, const char *field)
{
    for (size_t i = 0; i < request->n_update_mask; i++)
        if (strcmp (request->update_mask [i], field) == 0)
            return true;
    return false;
}

member_store_rc_t
member_store_update (pg_t *db, const Kaiin__Member__UpdateRequest *request, int64_t now_ms,
                     Kaiin__Member__Member *member)
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
    char version [24], now [24];
    snprintf (version, sizeof version, "%lld", (long long) request->if_version);
    snprintf (now, sizeof now, "%lld", (long long) now_ms);
    const char *params [] = {
        request->id, version,
        s_masked (request, "email")? "t": "f", request->email,
        s_masked (request, "name")? "t": "f", request->name,
        s_masked (request, "name_kana")? "t": "f", request->name_kana,
        s_masked (request, "phone")? "t": "f", request->phone,
        now
    };
    member_store_rc_t rc = s_write (db, "member_update", 11, params, "member.updated", now_ms, member);
    if (rc == MEMBER_STORE_NOT_FOUND)
        rc = s_why_not (db, request->id, request->if_version);
    return rc == MEMBER_STORE_WITHDRAWN? MEMBER_STORE_STALE: rc;
}

member_store_rc_t
member_store_withdraw (pg_t *db, const Kaiin__Member__WithdrawRequest *request, int64_t now_ms,
                       Kaiin__Member__Member *member)
{
    char version [24], now [24];
    snprintf (version, sizeof version, "%lld", (long long) request->if_version);
    snprintf (now, sizeof now, "%lld", (long long) now_ms);
    const char *params [] = { request->id, version, request->reason, now };
    member_store_rc_t rc = s_write (db, "member_withdraw", 4, params, "member.withdrawn",
                                    now_ms, member);
    if (rc == MEMBER_STORE_NOT_FOUND)
        rc = s_why_not (db, request->id, request->if_version);
    return rc;
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
