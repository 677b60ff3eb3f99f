/* member_auth.c - members' own passwords and sign-in: set, changed, checked, every attempt
   recorded */
#include "member_auth.h"
#include "audit.h"
#include "config.h"
#include "member_check.h"
#include "outbox.h"
#include "password.h"
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define PASSWORD_MIN        12          /* characters */
#define PASSWORD_MAX        256
#define RESET_TTL_MS        (60 * 60 * 1000)    /* a reset token's life */
#define RESETS_PER_EMAIL    3           /* requests an hour for one address ... */
#define RESETS_PER_IP       20          /* ... and from one client address */

/* The one answer to a failed login, whatever failed (a sentence of member's table of messages). */
static const char *const s_login_refused =
    "the email or the password is wrong, or the member has withdrawn";

/* What a login needs to know about the member an email (or id) names. */
typedef struct {
    char id [40];                   /* "" when no member has the email */
    bool withdrawn;
    char *password_hash;            /* owned; NULL when the member has no password */
} account_t;

void
member_auth_prepare (pg_t *db)
{
    pg_prepare (db, "mauth_by_email",
            "select m.id, m.status = 'withdrawn', c.password_hash from members m"
            " left join member_credentials c on c.member_id = m.id"
            " where lower (m.email) = lower ($1)");
    pg_prepare (db, "mauth_by_id",
            "select m.id, m.status = 'withdrawn', c.password_hash from members m"
            " left join member_credentials c on c.member_id = m.id where m.id = $1");
    pg_prepare (db, "mauth_set_password",
            "insert into member_credentials (member_id, password_hash, updated_at)"
            " select id, $2, " AT ("$3") " from members where id = $1"
            " on conflict (member_id) do update set password_hash = excluded.password_hash,"
            "  updated_at = excluded.updated_at returning member_id");
    pg_prepare (db, "mauth_login_insert",
            "insert into member_logins (member_id, email, at, ip, user_agent, succeeded, reason)"
            " values (nullif ($1, '')::uuid, $2, " AT ("$3") ", $4, $5, $6, $7)");
    pg_prepare (db, "mauth_last_login",
            "update members set last_login_at = " AT ("$2") " where id = $1");
    /* the requests of the last hour for the address and from the client address, counted
       while no other request for the address is (the lock until the transaction's end) */
    pg_prepare (db, "mauth_reset_count",
            "select pg_advisory_xact_lock (hashtextextended ('password_reset:' || $1, 0)),"
            " (select count (*) from password_resets where email = $1"
            "  and requested_at > " AT ("$3") " - interval '1 hour'),"
            " (select count (*) from password_resets where ip = $2"
            "  and requested_at > " AT ("$3") " - interval '1 hour')");
    pg_prepare (db, "mauth_reset_insert",
            "insert into password_resets (email, ip, requested_at, member_id, token_sha256, expires_at)"
            " values ($1, $2, " AT ("$3") ", nullif ($4, '')::uuid, nullif ($5, ''),"
            " case when $5 = '' then null else " AT ("$6") " end)");
    pg_prepare (db, "mauth_reset_find",
            "select member_id from password_resets where token_sha256 = $1 and used_at is null"
            " and expires_at > " AT ("$2") " for update");
    pg_prepare (db, "mauth_reset_spend",
            "update password_resets set used_at = " AT ("$2")
            " where member_id = $1 and token_sha256 is not null and used_at is null");
}

/* A member's session acts on its own member only. */
static bool
s_caller_is_self (svc_request_t *request, const char *member_id)
{
    return strcmp (request->envelope->caller_role, "member") == 0
        && strcmp (request->envelope->caller_id, member_id) == 0;
}

static void
s_check_password (svc_reply_t *reply, const char *field, const char *password)
{
    size_t length = member_chars (password);
    if (length < PASSWORD_MIN || length > PASSWORD_MAX)
        svc_field_error (reply, field, "must be %d to %d characters long", PASSWORD_MIN, PASSWORD_MAX);
}

/* The account a statement finds by key (free its hash with s_account_clear): OK, NOT_FOUND
   (account->id left empty) or ERROR. */
static member_rc_t
s_find (pg_t *db, const char *statement, const char *key, account_t *account)
{
    memset (account, 0, sizeof *account);
    const char *params [] = { key };
    PGresult *result = pg_run (db, statement, 1, params);
    if (!result)
        return MEMBER_ERROR;
    member_rc_t rc = MEMBER_NOT_FOUND;
    if (PQntuples (result) == 1) {
        snprintf (account->id, sizeof account->id, "%s", PQgetvalue (result, 0, 0));
        account->withdrawn = PQgetvalue (result, 0, 1) [0] == 't';
        if (!PQgetisnull (result, 0, 2))
            account->password_hash = strdup (PQgetvalue (result, 0, 2));
        rc = MEMBER_OK;
    }
    PQclear (result);
    return rc;
}

static void
s_account_clear (account_t *account)
{
    free (account->password_hash);
    memset (account, 0, sizeof *account);
}

/* In one transaction: records the attempt in member_logins and the audit log, and when it
   succeeded sets the member's last_login_at and appends member.logged_in. Returns 0 or -1. */
static int
s_record_login (pg_t *db, const audit_actor_t *actor, const Kaiin__MemberAuth__Login *login)
{
    char at [24];
    const char *params [] = { login->member_id, login->email, NUM (at, login->at_ms), login->ip, login->user_agent,
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

/* Sets (or replaces) the member's password hash, with an audit entry, in one transaction.
   NOT_FOUND when the member does not exist. */
static member_rc_t
s_set_password (pg_t *db, const char *member_id, const char *password_hash,
                const audit_actor_t *actor)
{
    char now [24];
    const char *params [] = { member_id, password_hash, NUM (now, actor->now_ms) };
    if (pg_begin (db) == -1)
        return MEMBER_ERROR;
    member_rc_t rc = MEMBER_ERROR;
    PGresult *result = pg_run (db, "mauth_set_password", 3, params);
    if (!result)
        goto fail;
    int rows = PQntuples (result);
    PQclear (result);
    rc = MEMBER_NOT_FOUND;
    if (rows == 0)
        goto fail;
    rc = MEMBER_ERROR;
    if (audit_append (db, actor, "member.password_set", "member", member_id,
                      "{\"password\":[\"(hidden)\",\"(changed)\"]}") == -1
    ||  pg_commit (db) == -1)
        goto fail;
    return MEMBER_OK;
fail:
    pg_rollback (db);
    return rc;
}

int
member_auth_api_set_password (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__MemberAuth__SetPasswordRequest *set = (Kaiin__MemberAuth__SetPasswordRequest *)
        svc_unpack (request, &kaiin__member_auth__set_password_request__descriptor, reply);
    if (!set)
        return -1;
    int rc = -1;
    bool self = s_caller_is_self (request, set->member_id);
    if (*set->new_password) {           /* the member's own change names it new_password */
        char *given = set->new_password;
        set->new_password = set->password;
        set->password = given;
    }
    account_t account = { "" };
    if (!member_uuid (set->member_id))
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such member");
    else {
        s_check_password (reply, self? "new_password": "password", set->password);
        if (self && !*set->current_password)
            svc_field_error (reply, "current_password", "is required");
    }
    if (reply->status == KAIIN__STATUS__OK) {
        member_rc_t found = s_find (request->db, "mauth_by_id", set->member_id, &account);
        if (found == MEMBER_NOT_FOUND)
            svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such member");
        else
        if (found != MEMBER_OK)
            svc_db_fail (reply, request->db);
        else
        if (account.withdrawn)
            svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION, "the member has withdrawn");
        else
        if (self && !password_verify (account.password_hash, set->current_password))
            svc_field_error (reply, "current_password", "is not the member's current password");
    }
    if (reply->status == KAIIN__STATUS__OK) {
        char *hash = password_hash (set->password);
        audit_actor_t actor = audit_actor_of (request, member_now (request));
        member_rc_t stored = hash? s_set_password (request->db, set->member_id, hash, &actor)
                                 : MEMBER_ERROR;
        if (!hash)
            svc_fail (reply, KAIIN__STATUS__INTERNAL, "cannot hash the password");
        else
        if (stored == MEMBER_NOT_FOUND)
            svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such member");
        else
        if (stored != MEMBER_OK)
            svc_db_fail (reply, request->db);
        else {
            Kaiin__MemberAuth__SetPasswordReply answer = KAIIN__MEMBER_AUTH__SET_PASSWORD_REPLY__INIT;
            answer.member_id = set->member_id;
            rc = svc_reply_with (reply, &answer.base);
            /* A new password ends the member's other sessions; the caller's own stays. */
            svc_reply_session_end (reply, "member", set->member_id, true);
        }
        free (hash);
    }
    s_account_clear (&account);
    protobuf_c_message_free_unpacked (&set->base, NULL);
    return rc;
}

int
member_auth_api_login (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__MemberAuth__LoginRequest *login = (Kaiin__MemberAuth__LoginRequest *)
        svc_unpack (request, &kaiin__member_auth__login_request__descriptor, reply);
    if (!login)
        return -1;
    account_t account;
    member_rc_t found = s_find (request->db, "mauth_by_email", login->email, &account);
    if (found == MEMBER_ERROR) {
        protobuf_c_message_free_unpacked (&login->base, NULL);
        return svc_db_fail (reply, request->db);
    }
    Kaiin__MemberAuth__Login attempt = KAIIN__MEMBER_AUTH__LOGIN__INIT;
    attempt.member_id = account.id;
    attempt.email = login->email;
    attempt.at_ms = member_now (request);
    attempt.ip = *login->ip? login->ip: request->envelope->client_ip;
    attempt.user_agent = login->user_agent;
    if (login->locked)
        attempt.reason = "locked";          /* refused by the gateway: nothing to verify */
    else {
        /* Always one hash, whatever is wrong, so that timing tells nothing. */
        bool matches = password_verify (account.password_hash, login->password);
        attempt.reason = found == MEMBER_NOT_FOUND? "unknown_email"
                       : account.withdrawn? "withdrawn"
                       : !matches? "bad_password": "ok";
    }
    attempt.succeeded = strcmp (attempt.reason, "ok") == 0;
    audit_actor_t actor = audit_actor_of (request, attempt.at_ms);
    actor.actor_id = account.id;
    actor.actor_role = "member";
    int rc = -1;
    if (s_record_login (request->db, &actor, &attempt) == -1)
        svc_db_fail (reply, request->db);
    else
    if (login->locked) {
        Kaiin__MemberAuth__LoginReply answer = KAIIN__MEMBER_AUTH__LOGIN_REPLY__INIT;
        rc = svc_reply_with (reply, &answer.base);
    }
    else
    if (!attempt.succeeded)
        svc_fail_say (reply, KAIIN__STATUS__UNAUTHENTICATED, s_login_refused);
    else {
        Kaiin__MemberAuth__LoginReply answer = KAIIN__MEMBER_AUTH__LOGIN_REPLY__INIT;
        answer.member_id = account.id;
        rc = svc_reply_with (reply, &answer.base);
        svc_reply_session_start (reply, "member", account.id, NULL);
    }
    s_account_clear (&account);
    protobuf_c_message_free_unpacked (&login->base, NULL);
    return rc;
}

/* Records a reset request for email from ip in one transaction and, when the address is a
   member's who has not withdrawn and the rate limits allow, makes its token (kept as its
   hash) and appends member.password_reset_requested. Returns 0 or -1. */
static int
s_reset_request (pg_t *db, const char *email, const char *ip, int64_t now_ms)
{
    char now [24], expires [24], token [65] = "", hash [65] = "";
    const char *count_params [] = { email, ip, NUM (now, now_ms) };
    account_t account = { "" };
    if (pg_begin (db) == -1)
        return -1;
    PGresult *counted = pg_run (db, "mauth_reset_count", 3, count_params);
    if (!counted)
        goto fail;
    bool allowed = atoll (PQgetvalue (counted, 0, 1)) < RESETS_PER_EMAIL
                && atoll (PQgetvalue (counted, 0, 2)) < RESETS_PER_IP;
    PQclear (counted);
    member_rc_t found = allowed? s_find (db, "mauth_by_email", email, &account): MEMBER_NOT_FOUND;
    if (found == MEMBER_ERROR)
        goto fail;
    bool mail = found == MEMBER_OK && !account.withdrawn;
    if (mail) {
        if (member_random_hex (token) == -1)
            goto fail;
        member_sha256_hex (token, hash);
    }
    const char *params [] = { email, ip, now, mail? account.id: "", hash,
                              NUM (expires, now_ms + RESET_TTL_MS) };
    PGresult *inserted = pg_run (db, "mauth_reset_insert", 6, params);
    if (!inserted)
        goto fail;
    PQclear (inserted);
    if (mail) {
        char url [512];
        snprintf (url, sizeof url, "%s/portal/#reset=%s",
                  config_str ("MEMBER_PUBLIC_URL", "http://localhost:8080"), token);
        Kaiin__MemberAuth__PasswordResetRequested event = KAIIN__MEMBER_AUTH__PASSWORD_RESET_REQUESTED__INIT;
        event.member_id = account.id;
        event.reset_url = url;
        event.expires_at_ms = now_ms + RESET_TTL_MS;
        if (outbox_append (db, "member.password_reset_requested", account.id, &event.base, now_ms) == -1)
            goto fail;
    }
    s_account_clear (&account);
    return pg_commit (db);
fail:
    s_account_clear (&account);
    pg_rollback (db);
    return -1;
}

int
member_auth_api_reset_request (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__MemberAuth__ResetRequestRequest *asked = (Kaiin__MemberAuth__ResetRequestRequest *)
        svc_unpack (request, &kaiin__member_auth__reset_request_request__descriptor, reply);
    if (!asked)
        return -1;
    int rc = -1;
    if (!member_check_valid_email (asked->email))
        svc_field_error (reply, "email", "must be a valid email address");
    else {
        for (char *c = asked->email; *c; c++)
            *c = (char) tolower ((unsigned char) *c);
        if (s_reset_request (request->db, asked->email, request->envelope->client_ip,
                             member_now (request)) == -1)
            svc_db_fail (reply, request->db);
        else {
            Kaiin__MemberAuth__ResetRequestReply answer = KAIIN__MEMBER_AUTH__RESET_REQUEST_REPLY__INIT;
            rc = svc_reply_with (reply, &answer.base);
        }
    }
    protobuf_c_message_free_unpacked (&asked->base, NULL);
    return rc;
}

/* Spends the reset token whose hash is hash and sets the member's new password in one
   transaction. MEMBER_OK with member_id set, MEMBER_NOT_FOUND when no live token has that
   hash (or its member has withdrawn), or MEMBER_ERROR. */
static member_rc_t
s_reset_confirm (pg_t *db, const char *hash, const char *password_hash, const audit_actor_t *actor,
                 char member_id [40])
{
    char now [24];
    const char *params [] = { hash, NUM (now, actor->now_ms) };
    account_t account = { "" };
    if (pg_begin (db) == -1)
        return MEMBER_ERROR;
    PGresult *found = NULL;
    member_rc_t rc = member_one (db, "mauth_reset_find", 2, params, &found);
    if (rc != MEMBER_OK)
        goto fail;
    snprintf (member_id, 40, "%s", PQgetvalue (found, 0, 0));
    PQclear (found);
    rc = s_find (db, "mauth_by_id", member_id, &account);
    if (rc == MEMBER_OK && account.withdrawn)
        rc = MEMBER_NOT_FOUND;
    if (rc != MEMBER_OK)
        goto fail;
    const char *spend [] = { member_id, now };
    PGresult *spent = pg_run (db, "mauth_reset_spend", 2, spend);
    rc = MEMBER_ERROR;
    if (!spent)
        goto fail;
    PQclear (spent);
    audit_actor_t as_member = *actor;
    as_member.actor_id = member_id;
    as_member.actor_role = "member";
    if ((rc = s_set_password (db, member_id, password_hash, &as_member)) != MEMBER_OK)
        goto fail;
    s_account_clear (&account);
    return pg_commit (db) == 0? MEMBER_OK: MEMBER_ERROR;
fail:
    s_account_clear (&account);
    pg_rollback (db);
    return rc;
}

int
member_auth_api_reset_confirm (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__MemberAuth__ResetConfirmRequest *confirm = (Kaiin__MemberAuth__ResetConfirmRequest *)
        svc_unpack (request, &kaiin__member_auth__reset_confirm_request__descriptor, reply);
    if (!confirm)
        return -1;
    int rc = -1;
    s_check_password (reply, "new_password", confirm->new_password);
    char *hash = reply->status == KAIIN__STATUS__OK? password_hash (confirm->new_password): NULL;
    if (reply->status == KAIIN__STATUS__OK && !hash)
        svc_fail (reply, KAIIN__STATUS__INTERNAL, "cannot hash the password");
    if (hash) {
        char token_hash [65], member_id [40] = "";
        member_sha256_hex (confirm->token, token_hash);
        audit_actor_t actor = audit_actor_of (request, member_now (request));
        member_rc_t done = s_reset_confirm (request->db, token_hash, hash, &actor, member_id);
        if (done == MEMBER_NOT_FOUND)
            svc_field_error (reply, "token", "is not a reset token, or it was used or has expired");
        else
        if (done != MEMBER_OK)
            svc_db_fail (reply, request->db);
        else {
            Kaiin__MemberAuth__SetPasswordReply answer = KAIIN__MEMBER_AUTH__SET_PASSWORD_REPLY__INIT;
            answer.member_id = member_id;
            rc = svc_reply_with (reply, &answer.base);
            /* a new password by mail ends every session of the member */
            svc_reply_session_end (reply, "member", member_id, false);
        }
    }
    free (hash);
    protobuf_c_message_free_unpacked (&confirm->base, NULL);
    return rc;
}
