/* member_auth_store.c - member passwords, login attempts and activities: their SQL */
#include "member_auth_store.h"
#include "outbox.h"
#include <assert.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AT(param) "to_timestamp (" param "::bigint / 1000.0)"
#define MS(column) "(extract (epoch from " column ") * 1000)::bigint"

#define LOGIN_COLUMNS \
    "seq, coalesce (member_id::text, ''), email, " MS ("at") ", ip, user_agent, succeeded, reason"

#define ACTIVITY_COLUMNS \
    "seq, id, member_id, type, coalesce (path, ''), " MS ("occurred_at") ", " MS ("received_at") \
    ", properties::text"

int
member_auth_store_prepare (pg_t *db)
{
    if (pg_prepare (db, "mauth_by_email",
            "select m.id, m.status = 'withdrawn', c.password_hash from members m"
            " left join member_credentials c on c.member_id = m.id"
            " where lower (m.email) = lower ($1)") == -1
    ||  pg_prepare (db, "mauth_by_id",
            "select m.id, m.status = 'withdrawn', c.password_hash from members m"
            " left join member_credentials c on c.member_id = m.id where m.id = $1") == -1
    ||  pg_prepare (db, "mauth_exists", "select 1 from members where id = $1") == -1
    ||  pg_prepare (db, "mauth_set_password",
            "insert into member_credentials (member_id, password_hash, updated_at)"
            " select id, $2, " AT ("$3") " from members where id = $1"
            " on conflict (member_id) do update set password_hash = excluded.password_hash,"
            "  updated_at = excluded.updated_at returning member_id") == -1
    ||  pg_prepare (db, "mauth_login_insert",
            "insert into member_logins (member_id, email, at, ip, user_agent, succeeded, reason)"
            " values (nullif ($1, '')::uuid, $2, " AT ("$3") ", $4, $5, $6, $7)") == -1
    ||  pg_prepare (db, "mauth_last_login",
            "update members set last_login_at = " AT ("$2") " where id = $1") == -1
    ||  pg_prepare (db, "mauth_logins",
            "select " LOGIN_COLUMNS " from member_logins where member_id = $1"
            " and ($2::bigint = 0 or seq < $2::bigint)"
            " and ($3::bigint = 0 or at >= " AT ("$3") ")"
            " and ($4::bigint = 0 or at < " AT ("$4") ")"
            " order by seq desc limit $5") == -1
    ||  pg_prepare (db, "mauth_activity_insert",
            "insert into member_activities (member_id, type, path, occurred_at, received_at, properties)"
            " values ($1, $2, nullif ($3, ''), " AT ("$4") ", " AT ("$5") ", coalesce (nullif ($6, '')::jsonb, '{}'))"
            " returning " ACTIVITY_COLUMNS) == -1
    ||  pg_prepare (db, "mauth_activities",
            "select " ACTIVITY_COLUMNS " from member_activities where member_id = $1"
            " and ($2 = '' or type = $2)"
            " and ($3::bigint = 0 or occurred_at >= " AT ("$3") ")"
            " and ($4::bigint = 0 or occurred_at < " AT ("$4") ")"
            " and ($6::bigint = 0 or (occurred_at, seq) < (" AT ("$5") ", $6::bigint))"
            " order by occurred_at desc, seq desc limit $7") == -1)
        return -1;
    return 0;
}

static member_store_rc_t
s_find (pg_t *db, const char *statement, const char *key, member_auth_store_account_t *account)
{
    memset (account, 0, sizeof *account);
    const char *params [] = { key };
    PGresult *result = pg_run (db, statement, 1, params);
    if (!result)
        return MEMBER_STORE_ERROR;
    member_store_rc_t rc = MEMBER_STORE_NOT_FOUND;
    if (PQntuples (result) == 1) {
        snprintf (account->id, sizeof account->id, "%s", PQgetvalue (result, 0, 0));
        account->withdrawn = PQgetvalue (result, 0, 1) [0] == 't';
        if (!PQgetisnull (result, 0, 2))
            account->password_hash = strdup (PQgetvalue (result, 0, 2));
        rc = MEMBER_STORE_OK;
    }
    PQclear (result);
    return rc;
}

member_store_rc_t
member_auth_store_find_email (pg_t *db, const char *email, member_auth_store_account_t *account)
{
    return s_find (db, "mauth_by_email", email, account);
}

member_store_rc_t
member_auth_store_find_id (pg_t *db, const char *member_id, member_auth_store_account_t *account)
{
    return s_find (db, "mauth_by_id", member_id, account);
}

void
member_auth_store_account_clear (member_auth_store_account_t *account)
{
    free (account->password_hash);
    memset (account, 0, sizeof *account);
}

int
member_auth_store_member_exists (pg_t *db, const char *member_id)
{
    const char *params [] = { member_id };
    PGresult *result = pg_run (db, "mauth_exists", 1, params);
    if (!result)
        return -1;
    int exists = PQntuples (result) == 1;
    PQclear (result);
    return exists;
}

int
member_auth_store_record_login (pg_t *db, const audit_actor_t *actor,
                                const Kaiin__MemberAuth__Login *login)
{
    char at [24];
    snprintf (at, sizeof at, "%lld", (long long) login->at_ms);
    const char *params [] = { login->member_id, login->email, at, login->ip, login->user_agent,
                              login->succeeded? "t": "f", login->reason };
    json_t *details = json_pack ("{s:s, s:s, s:s}", "email", login->email,
                                 "user_agent", login->user_agent, "reason", login->reason);
    char *text = json_dumps (details, JSON_COMPACT);
    json_decref (details);
    int rc = -1;
    PGresult *result = NULL;
    if (pg_begin (db) == -1)
        goto done;
    if (!(result = pg_run (db, "mauth_login_insert", 7, params)))
        goto done;
    PQclear (result);
    if (login->succeeded) {
        const char *last [] = { login->member_id, at };
        if (!(result = pg_run (db, "mauth_last_login", 2, last)))
            goto done;
        PQclear (result);
        Kaiin__MemberAuth__LoggedIn event = KAIIN__MEMBER_AUTH__LOGGED_IN__INIT;
        event.member_id = login->member_id;
        event.at_ms = login->at_ms;
        event.ip = login->ip;
        event.user_agent = login->user_agent;
        if (outbox_append (db, "member.logged_in", login->member_id, &event.base, login->at_ms) == -1)
            goto done;
    }
    /* Refusals by the gateway's throttle are in member_logins only: a flood of them would
       otherwise drown the audit log. */
    if (strcmp (login->reason, "locked") != 0
    &&  audit_append (db, actor, login->succeeded? "member.login": "member.login_failed",
                      "member", login->member_id, text) == -1)
        goto done;
    rc = pg_commit (db);
done:
    if (rc == -1)
        pg_rollback (db);
    free (text);
    return rc;
}

member_store_rc_t
member_auth_store_set_password (pg_t *db, const char *member_id, const char *password_hash,
                                const audit_actor_t *actor)
{
    char now [24];
    snprintf (now, sizeof now, "%lld", (long long) actor->now_ms);
    const char *params [] = { member_id, password_hash, now };
    if (pg_begin (db) == -1)
        return MEMBER_STORE_ERROR;
    member_store_rc_t rc = MEMBER_STORE_ERROR;
    PGresult *result = pg_run (db, "mauth_set_password", 3, params);
    if (!result)
        goto fail;
    int rows = PQntuples (result);
    PQclear (result);
    rc = MEMBER_STORE_NOT_FOUND;
    if (rows == 0)
        goto fail;
    rc = MEMBER_STORE_ERROR;
    if (audit_append (db, actor, "member.password_set", "member", member_id,
                      "{\"password\":[\"(hidden)\",\"(changed)\"]}") == -1
    ||  pg_commit (db) == -1)
        goto fail;
    return MEMBER_STORE_OK;
fail:
    pg_rollback (db);
    return rc;
}

member_store_rc_t
member_auth_store_list_logins (pg_t *db, const Kaiin__MemberAuth__ListLoginsRequest *request,
                               int64_t before_seq, int limit, Kaiin__MemberAuth__ListLoginsReply *reply,
                               int64_t *last_seq, int *more)
{
    char before [24], from [24], to [24], fetch [12];
    snprintf (before, sizeof before, "%lld", (long long) before_seq);
    snprintf (from, sizeof from, "%lld", (long long) request->from_ms);
    snprintf (to, sizeof to, "%lld", (long long) request->to_ms);
    snprintf (fetch, sizeof fetch, "%d", limit + 1);     /* one more tells whether more follow */
    const char *params [] = { request->member_id, before, from, to, fetch };
    PGresult *result = pg_run (db, "mauth_logins", 5, params);
    if (!result)
        return MEMBER_STORE_ERROR;
    int rows = PQntuples (result);
    *more = rows > limit;
    if (*more)
        rows = limit;
    reply->logins = calloc (rows? rows: 1, sizeof *reply->logins);
    assert (reply->logins);
    *last_seq = 0;
    for (int row = 0; row < rows; row++) {
        Kaiin__MemberAuth__Login *login = malloc (sizeof *login);
        assert (login);
        kaiin__member_auth__login__init (login);
        *last_seq = strtoll (PQgetvalue (result, row, 0), NULL, 10);
        login->member_id = strdup (PQgetvalue (result, row, 1));
        login->email = strdup (PQgetvalue (result, row, 2));
        login->at_ms = strtoll (PQgetvalue (result, row, 3), NULL, 10);
        login->ip = strdup (PQgetvalue (result, row, 4));
        login->user_agent = strdup (PQgetvalue (result, row, 5));
        login->succeeded = PQgetvalue (result, row, 6) [0] == 't';
        login->reason = strdup (PQgetvalue (result, row, 7));
        reply->logins [reply->n_logins++] = login;
    }
    PQclear (result);
    return MEMBER_STORE_OK;
}

void
member_auth_store_clear_logins (Kaiin__MemberAuth__ListLoginsReply *reply)
{
    for (size_t i = 0; i < reply->n_logins; i++) {
        Kaiin__MemberAuth__Login *login = reply->logins [i];
        free (login->member_id);
        free (login->email);
        free (login->ip);
        free (login->user_agent);
        free (login->reason);
        free (login);
    }
    free (reply->logins);
    reply->logins = NULL;
    reply->n_logins = 0;
}

/* A new activity from row of result; returns the row's seq in *seq. */
static Kaiin__MemberAuth__Activity *
s_activity_from_row (PGresult *result, int row, int64_t *seq)
{
    Kaiin__MemberAuth__Activity *activity = malloc (sizeof *activity);
    assert (activity);
    kaiin__member_auth__activity__init (activity);
    *seq = strtoll (PQgetvalue (result, row, 0), NULL, 10);
    activity->id = strdup (PQgetvalue (result, row, 1));
    activity->member_id = strdup (PQgetvalue (result, row, 2));
    activity->type = strdup (PQgetvalue (result, row, 3));
    activity->path = strdup (PQgetvalue (result, row, 4));
    activity->occurred_at_ms = strtoll (PQgetvalue (result, row, 5), NULL, 10);
    activity->received_at_ms = strtoll (PQgetvalue (result, row, 6), NULL, 10);
    activity->properties_json = strdup (PQgetvalue (result, row, 7));
    return activity;
}

void
member_auth_store_clear_activities (Kaiin__MemberAuth__Activity **activities, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        Kaiin__MemberAuth__Activity *activity = activities [i];
        free (activity->id);
        free (activity->member_id);
        free (activity->type);
        free (activity->path);
        free (activity->properties_json);
        free (activity);
    }
    free (activities);
}

member_store_rc_t
member_auth_store_record_activities (pg_t *db, const Kaiin__MemberAuth__RecordActivitiesRequest *request,
                                     int64_t now_ms, Kaiin__MemberAuth__RecordActivitiesReply *reply)
{
    size_t count = request->n_activities;
    reply->activities = calloc (count? count: 1, sizeof *reply->activities);
    assert (reply->activities);
    reply->n_activities = 0;
    if (pg_begin (db) == -1)
        return MEMBER_STORE_ERROR;
    member_store_rc_t rc = MEMBER_STORE_ERROR;
    /* An unknown member is NOT_FOUND (the foreign key would only say "violation"). */
    int exists = member_auth_store_member_exists (db, request->member_id);
    if (exists != 1) {
        rc = exists == 0? MEMBER_STORE_NOT_FOUND: MEMBER_STORE_ERROR;
        goto fail;
    }
    char now [24];
    snprintf (now, sizeof now, "%lld", (long long) now_ms);
    for (size_t i = 0; i < count; i++) {
        const Kaiin__MemberAuth__Activity *in = request->activities [i];
        char occurred [24];
        snprintf (occurred, sizeof occurred, "%lld", (long long) in->occurred_at_ms);
        const char *params [] = { request->member_id, in->type, in->path, occurred, now,
                                  in->properties_json };
        PGresult *result = pg_run (db, "mauth_activity_insert", 6, params);
        if (!result)
            goto fail;
        int64_t seq;
        Kaiin__MemberAuth__Activity *stored = s_activity_from_row (result, 0, &seq);
        PQclear (result);
        reply->activities [reply->n_activities++] = stored;
        if (outbox_append (db, "member.activity", request->member_id, &stored->base, now_ms) == -1)
            goto fail;
    }
    if (pg_commit (db) == -1)
        goto fail;
    return MEMBER_STORE_OK;
fail:
    pg_rollback (db);
    member_auth_store_clear_activities (reply->activities, reply->n_activities);
    reply->activities = NULL;
    reply->n_activities = 0;
    return rc;
}

member_store_rc_t
member_auth_store_list_activities (pg_t *db, const Kaiin__MemberAuth__ListActivitiesRequest *request,
                                   int64_t before_ms, int64_t before_seq, int limit,
                                   Kaiin__MemberAuth__ListActivitiesReply *reply,
                                   int64_t *last_ms, int64_t *last_seq, int *more)
{
    char from [24], to [24], cursor_ms [24], cursor_seq [24], fetch [12];
    snprintf (from, sizeof from, "%lld", (long long) request->from_ms);
    snprintf (to, sizeof to, "%lld", (long long) request->to_ms);
    snprintf (cursor_ms, sizeof cursor_ms, "%lld", (long long) before_ms);
    snprintf (cursor_seq, sizeof cursor_seq, "%lld", (long long) before_seq);
    snprintf (fetch, sizeof fetch, "%d", limit + 1);
    const char *params [] = { request->member_id, request->type, from, to, cursor_ms, cursor_seq,
                              fetch };
    PGresult *result = pg_run (db, "mauth_activities", 7, params);
    if (!result)
        return MEMBER_STORE_ERROR;
    int rows = PQntuples (result);
    *more = rows > limit;
    if (*more)
        rows = limit;
    reply->activities = calloc (rows? rows: 1, sizeof *reply->activities);
    assert (reply->activities);
    *last_ms = *last_seq = 0;
    for (int row = 0; row < rows; row++) {
        reply->activities [reply->n_activities] = s_activity_from_row (result, row, last_seq);
        *last_ms = reply->activities [reply->n_activities]->occurred_at_ms;
        reply->n_activities++;
    }
    PQclear (result);
    return MEMBER_STORE_OK;
}
