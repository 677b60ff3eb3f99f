/* member_auth_api.c - member passwords and login, login history and activities: the methods */
#include "member_auth_api.h"
#include "password.h"
#include "clock.h"
#include "log.h"
#include "member_api.h"
#include "member_auth_store.h"
#include <ctype.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define PASSWORD_MIN        12          /* characters */
#define PASSWORD_MAX        256
#define TYPE_MAX            50
#define PATH_MAX_CHARS      2000
#define PROPERTIES_MAX      8192        /* bytes of compact JSON */
#define BATCH_MAX           500
#define LIST_DEFAULT        20
#define LIST_MAX            100
#define EARLIEST_MS         946684800000LL          /* 2000-01-01: older is a client's bug */
#define FUTURE_SKEW_MS      (24 * 3600 * 1000LL)    /* a client clock a day fast at most */

static const char *const s_login_refused =
    "the email or the password is wrong, or the member has withdrawn";

/* --- shared checks ------------------------------------------------------------------------ */

/* Counts UTF-8 code points (continuation bytes aside). */
static size_t
s_chars (const char *text)
{
    size_t count = 0;
    for (const unsigned char *c = (const unsigned char *) text; *c; c++)
        count += (*c & 0xC0) != 0x80;
    return count;
}

static int64_t
s_now (svc_request_t *request)
{
    return request->envelope->now_ms? request->envelope->now_ms: clock_now_ms ();
}

static bool
s_caller_is_member (svc_request_t *request)
{
    return strcmp (request->envelope->caller_role, "member") == 0;
}

/* The staff roles that may write members (docs/permissions.md: MEMBERS_WRITE). */
static bool
s_caller_writes_members (svc_request_t *request)
{
    const char *role = request->envelope->caller_role;
    return strcmp (role, "owner") == 0 || strcmp (role, "admin") == 0 || strcmp (role, "support") == 0;
}

/* Every staff role reads members and their history (MEMBERS_READ). */
static bool
s_caller_reads_members (svc_request_t *request)
{
    static const char *const roles [] = { "owner", "admin", "support", "marketing", "finance",
                                          "viewer", NULL };
    for (const char *const *role = roles; *role; role++)
        if (strcmp (request->envelope->caller_role, *role) == 0)
            return true;
    return false;
}

/* A member's session acts on its own member only. */
static bool
s_caller_is_self (svc_request_t *request, const char *member_id)
{
    return s_caller_is_member (request) && strcmp (request->envelope->caller_id, member_id) == 0;
}

static void
s_check_password (svc_reply_t *reply, const char *field, const char *password)
{
    size_t length = s_chars (password);
    if (length < PASSWORD_MIN || length > PASSWORD_MAX)
        svc_field_error (reply, field, "must be %d to %d characters long", PASSWORD_MIN, PASSWORD_MAX);
}

bool
member_auth_api_valid_type (const char *type)
{
    size_t length = strlen (type);
    if (length == 0 || length > TYPE_MAX)
        return false;
    for (const char *c = type; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '.'))
            return false;
    return true;
}

/* --- passwords: set ----------------------------------------------------------------------- */

int
member_auth_api_set_password (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__MemberAuth__SetPasswordRequest *set = (Kaiin__MemberAuth__SetPasswordRequest *)
        svc_unpack (request, &kaiin__member_auth__set_password_request__descriptor, reply);
    if (!set)
        return -1;
    int rc = -1;
    bool self = s_caller_is_self (request, set->member_id);
    member_auth_store_account_t account = { "" };
    if (!self && !s_caller_writes_members (request))
        svc_fail (reply, KAIIN__STATUS__PERMISSION_DENIED, "only staff who may edit members, or the member itself, set a member's password");
    else
    if (!member_api_valid_uuid (set->member_id))
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such member");
    else {
        s_check_password (reply, self? "new_password": "password", set->password);
        if (self && !*set->current_password)
            svc_field_error (reply, "current_password", "is required");
    }
    if (reply->status == KAIIN__STATUS__OK) {
        member_store_rc_t found = member_auth_store_find_id (request->db, set->member_id, &account);
        if (found == MEMBER_STORE_NOT_FOUND)
            svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such member");
        else
        if (found != MEMBER_STORE_OK)
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
        audit_actor_t actor = audit_actor_of (request, s_now (request));
        member_store_rc_t stored = hash? member_auth_store_set_password (request->db, set->member_id,
                                                                         hash, &actor)
                                       : MEMBER_STORE_ERROR;
        if (!hash)
            svc_fail (reply, KAIIN__STATUS__INTERNAL, "cannot hash the password");
        else
        if (stored == MEMBER_STORE_NOT_FOUND)
            svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such member");
        else
        if (stored != MEMBER_STORE_OK)
            svc_db_fail (reply, request->db);
        else {
            Kaiin__MemberAuth__SetPasswordReply answer = KAIIN__MEMBER_AUTH__SET_PASSWORD_REPLY__INIT;
            answer.member_id = set->member_id;
            rc = svc_reply_with (reply, &answer.base);
        }
        free (hash);
    }
    member_auth_store_account_clear (&account);
    protobuf_c_message_free_unpacked (&set->base, NULL);
    return rc;
}

/* --- login -------------------------------------------------------------------------------- */

int
member_auth_api_login (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__MemberAuth__LoginRequest *login = (Kaiin__MemberAuth__LoginRequest *)
        svc_unpack (request, &kaiin__member_auth__login_request__descriptor, reply);
    if (!login)
        return -1;
    member_auth_store_account_t account;
    member_store_rc_t found = member_auth_store_find_email (request->db, login->email, &account);
    if (found == MEMBER_STORE_ERROR) {
        protobuf_c_message_free_unpacked (&login->base, NULL);
        return svc_db_fail (reply, request->db);
    }
    Kaiin__MemberAuth__Login attempt = KAIIN__MEMBER_AUTH__LOGIN__INIT;
    attempt.member_id = account.id;
    attempt.email = login->email;
    attempt.at_ms = s_now (request);
    attempt.ip = login->ip;
    attempt.user_agent = login->user_agent;
    if (login->locked)
        attempt.reason = "locked";          /* refused by the gateway: nothing to verify */
    else {
        /* Always one hash, whatever is wrong, so that timing tells nothing. */
        bool matches = password_verify (account.password_hash, login->password);
        attempt.reason = found == MEMBER_STORE_NOT_FOUND? "unknown_email"
                       : account.withdrawn? "withdrawn"
                       : !matches? "bad_password": "ok";
    }
    attempt.succeeded = strcmp (attempt.reason, "ok") == 0;
    audit_actor_t actor = audit_actor_of (request, attempt.at_ms);
    actor.actor_id = account.id;
    actor.actor_role = "member";
    int rc = -1;
    if (member_auth_store_record_login (request->db, &actor, &attempt) == -1)
        svc_db_fail (reply, request->db);
    else
    if (login->locked) {
        Kaiin__MemberAuth__LoginReply answer = KAIIN__MEMBER_AUTH__LOGIN_REPLY__INIT;
        rc = svc_reply_with (reply, &answer.base);
    }
    else
    if (!attempt.succeeded)
        svc_fail (reply, KAIIN__STATUS__UNAUTHENTICATED, "%s", s_login_refused);
    else {
        Kaiin__MemberAuth__LoginReply answer = KAIIN__MEMBER_AUTH__LOGIN_REPLY__INIT;
        answer.member_id = account.id;
        rc = svc_reply_with (reply, &answer.base);
    }
    member_auth_store_account_clear (&account);
    protobuf_c_message_free_unpacked (&login->base, NULL);
    return rc;
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

/* Who may read a member's history: staff with MEMBERS_READ; the member exists. */
static int
s_check_history (svc_request_t *request, svc_reply_t *reply, const char *member_id)
{
    if (!s_caller_reads_members (request))
        return svc_fail (reply, KAIIN__STATUS__PERMISSION_DENIED, "only staff read a member's history");
    if (reply->status != KAIIN__STATUS__OK)
        return -1;
    int exists = member_api_valid_uuid (member_id)? member_auth_store_member_exists (request->db, member_id): 0;
    if (exists == 0)
        return svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such member");
    if (exists == -1)
        return svc_db_fail (reply, request->db);
    return 0;
}

/* --- history ------------------------------------------------------------------------------ */

int
member_auth_api_list_logins (svc_request_t *request, svc_reply_t *reply)
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
    if (s_check_history (request, reply, list->member_id) == 0) {
        Kaiin__MemberAuth__ListLoginsReply page = KAIIN__MEMBER_AUTH__LIST_LOGINS_REPLY__INIT;
        int64_t last_seq;
        int more;
        char cursor [24] = "";
        if (member_auth_store_list_logins (request->db, list, before_seq, limit, &page, &last_seq,
                                           &more) == MEMBER_STORE_OK) {
            if (more)
                snprintf (cursor, sizeof cursor, "l%llx", (unsigned long long) last_seq);
            page.next_cursor = cursor;
            rc = svc_reply_with (reply, &page.base);
            member_auth_store_clear_logins (&page);
        }
        else
            rc = svc_db_fail (reply, request->db);
    }
    protobuf_c_message_free_unpacked (&list->base, NULL);
    return rc;
}

int
member_auth_api_list_activities (svc_request_t *request, svc_reply_t *reply)
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
    if (*list->type && !member_auth_api_valid_type (list->type))
        svc_field_error (reply, "type", "must be 1 to %d of a-z, 0-9, '_' and '.'", TYPE_MAX);
    int rc = -1;
    if (s_check_history (request, reply, list->member_id) == 0) {
        Kaiin__MemberAuth__ListActivitiesReply page = KAIIN__MEMBER_AUTH__LIST_ACTIVITIES_REPLY__INIT;
        int64_t last_ms, last_seq;
        int more;
        char cursor [40] = "";
        if (member_auth_store_list_activities (request->db, list, before_ms, before_seq, limit, &page,
                                               &last_ms, &last_seq, &more) == MEMBER_STORE_OK) {
            if (more)
                snprintf (cursor, sizeof cursor, "a%llx.%llx", (unsigned long long) last_ms,
                          (unsigned long long) last_seq);
            page.next_cursor = cursor;
            rc = svc_reply_with (reply, &page.base);
            member_auth_store_clear_activities (page.activities, page.n_activities);
        }
        else
            rc = svc_db_fail (reply, request->db);
    }
    protobuf_c_message_free_unpacked (&list->base, NULL);
    return rc;
}

/* --- activities --------------------------------------------------------------------------- */

/* Names a field of the i-th activity: "type", or "events[3].type" in a batch. */
static void
s_activity_error (svc_reply_t *reply, bool batch, size_t index, const char *field, const char *reason)
{
    char name [64];
    if (batch)
        snprintf (name, sizeof name, "events[%zu].%s", index, field);
    else
        snprintf (name, sizeof name, "%s", field);
    svc_field_error (reply, name, "%s", reason);
}

static void
s_check_activity (svc_reply_t *reply, bool batch, size_t index, Kaiin__MemberAuth__Activity *activity,
                  int64_t now_ms)
{
    if (!member_auth_api_valid_type (activity->type))
        s_activity_error (reply, batch, index, "type", "must be 1 to 50 of a-z, 0-9, '_' and '.'");
    if (s_chars (activity->path) > PATH_MAX_CHARS)
        s_activity_error (reply, batch, index, "path", "must be at most 2000 characters");
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
member_auth_api_record_activities (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__MemberAuth__RecordActivitiesRequest *record = (Kaiin__MemberAuth__RecordActivitiesRequest *)
        svc_unpack (request, &kaiin__member_auth__record_activities_request__descriptor, reply);
    if (!record)
        return -1;
    int rc = -1;
    int64_t now_ms = s_now (request);
    if (!s_caller_writes_members (request) && !s_caller_is_self (request, record->member_id))
        svc_fail (reply, KAIIN__STATUS__PERMISSION_DENIED,
                  "only staff who may edit members, or the member itself, record activities");
    else
    if (!member_api_valid_uuid (record->member_id))
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such member");
    else
    if (record->n_activities == 0 || record->n_activities > BATCH_MAX)
        svc_field_error (reply, "events", "must hold 1 to %d events", BATCH_MAX);
    else
        for (size_t i = 0; i < record->n_activities; i++)
            s_check_activity (reply, record->batch, i, record->activities [i], now_ms);
    if (reply->status == KAIIN__STATUS__OK) {
        Kaiin__MemberAuth__RecordActivitiesReply stored = KAIIN__MEMBER_AUTH__RECORD_ACTIVITIES_REPLY__INIT;
        member_store_rc_t done = member_auth_store_record_activities (request->db, record, now_ms, &stored);
        if (done == MEMBER_STORE_NOT_FOUND)
            svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such member");
        else
        if (done != MEMBER_STORE_OK)
            svc_db_fail (reply, request->db);
        else {
            rc = svc_reply_with (reply, &stored.base);
            member_auth_store_clear_activities (stored.activities, stored.n_activities);
        }
    }
    protobuf_c_message_free_unpacked (&record->base, NULL);
    return rc;
}
