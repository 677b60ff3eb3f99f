/* staff.c - staff accounts: their passwords and roles, signing in, who is calling */
#include "staff.h"
#include "audit.h"
#include "member_check.h"
#include "password.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define PASSWORD_MIN    12
#define PASSWORD_MAX    256

#define STAFF_COLUMNS \
    "id, email, name, role, disabled, version, " MS ("created_at") " as created_at_ms," \
    " " MS ("updated_at") " as updated_at_ms, " MS ("last_login_at") " as last_login_at_ms, seq"

static const char *const s_roles [] = { "owner", "admin", "support", "marketing", "finance", "viewer", NULL };

void
staff_prepare (pg_t *db)
{
    pg_prepare (db, "staff_insert",
            "insert into staff (email, name, role, password_hash, created_at, updated_at)"
            " values ($1, $2, $3, $4, " AT ("$5") ", " AT ("$5") ") returning " STAFF_COLUMNS);
    pg_prepare (db, "staff_get", "select " STAFF_COLUMNS " from staff where id = $1");
    pg_prepare (db, "staff_lock", "select " STAFF_COLUMNS " from staff where id = $1 for update");
    pg_prepare (db, "staff_by_email",
            "select " STAFF_COLUMNS ", password_hash from staff where lower (email) = lower ($1)");
    pg_prepare (db, "staff_logged_in", "update staff set last_login_at = " AT ("$2") " where id = $1");
    pg_prepare (db, "staff_update",
            "update staff set"
            "  name = case when $2 then $3 else name end,"
            "  role = case when $4 then $5 else role end,"
            "  disabled = case when $6 then $7::boolean else disabled end,"
            "  password_hash = coalesce ($8, password_hash),"
            "  version = version + 1, updated_at = " AT ("$9")
            " where id = $1 returning " STAFF_COLUMNS);
    pg_prepare (db, "staff_owners", "select count (*) from staff where role = 'owner' and not disabled");
    pg_prepare (db, "staff_serialize", "select pg_advisory_xact_lock (hashtext ('kaiin.staff.update'))");
    pg_prepare (db, "staff_list", "select " STAFF_COLUMNS " from staff where seq > $1 order by seq limit $2");
}

bool
staff_role_valid (const char *role, bool owner_allowed)
{
    for (const char *const *known = s_roles; *known; known++)
        if (strcmp (role, *known) == 0)
            return owner_allowed || strcmp (role, "owner") != 0;
    return false;
}

static bool
s_caller_is (svc_request_t *request, const char *role)
{
    return strcmp (request->envelope->caller_role, role) == 0;
}

static void
s_check_password (svc_reply_t *reply, const char *password)
{
    size_t length = strlen (password);
    if (length < PASSWORD_MIN || length > PASSWORD_MAX)
        svc_field_error (reply, "password", "must be %d to %d characters long", PASSWORD_MIN, PASSWORD_MAX);
}

/* The account by id (NULL: by email, in any letter case, with its password hash in
   *password_hash, which the caller frees). *staff is the caller's to free on MEMBER_OK. */
static member_rc_t
s_find (pg_t *db, const char *id, const char *email, Kaiin__Staff__Staff **staff, char **password_hash)
{
    const char *params [] = { id? id: email };
    if (id)
        return member_row (db, "staff_get", 1, params, &kaiin__staff__staff__descriptor,
                           (ProtobufCMessage **) staff);
    PGresult *result;
    member_rc_t rc = member_one (db, "staff_by_email", 1, params, &result);
    if (rc == MEMBER_OK) {
        *staff = (Kaiin__Staff__Staff *) pg_row_message (result, 0, &kaiin__staff__staff__descriptor);
        *password_hash = strdup (PQgetvalue (result, 0, PQfnumber (result, "password_hash")));
        PQclear (result);
    }
    return rc;
}

/* Answers staff (then freed) on MEMBER_OK, else what rc says. */
static int
s_answer_staff (svc_reply_t *reply, pg_t *db, member_rc_t rc, Kaiin__Staff__Staff *staff)
{
    switch (rc) {
        case MEMBER_OK:
            svc_reply_with (reply, &staff->base);
            protobuf_c_message_free_unpacked (&staff->base, NULL);
            return 0;
        case MEMBER_NOT_FOUND:
            return svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such staff account");
        case MEMBER_DUPLICATE:
            svc_field_error (reply, "email", "another staff account has this email address");
            return svc_fail (reply, KAIIN__STATUS__ALREADY_EXISTS, "a staff account with this email exists");
        case MEMBER_STALE:
            return svc_fail (reply, KAIIN__STATUS__ABORTED,
                             "the account changed since the version given in If-Match");
        case MEMBER_LAST_OWNER:
            return svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION,
                             "the last owner cannot be demoted or disabled");
        default:
            return svc_db_fail (reply, db);
    }
}

/* Inserts an account with its password hash and its audit entry; DUPLICATE when the email is
   taken. */
static member_rc_t
s_create (pg_t *db, const Kaiin__Staff__CreateRequest *request, const char *password_hash,
          const audit_actor_t *actor, Kaiin__Staff__Staff **staff)
{
    char now [24];
    const char *params [] = { request->email, request->name, request->role, password_hash,
                              NUM (now, actor->now_ms) };
    json_t *changes = json_pack ("{s:[n,s], s:[n,s], s:[n,s]}", "email", request->email,
                                 "name", request->name, "role", request->role);
    char *text = json_dumps (changes, JSON_COMPACT);
    json_decref (changes);
    PGresult *row = NULL;
    member_rc_t rc = audit_run (db, "staff_insert", 5, params, actor, "staff.create", "staff",
                                NULL, text, &row);
    free (text);
    if (rc == MEMBER_OK) {
        *staff = (Kaiin__Staff__Staff *) pg_row_message (row, 0, &kaiin__staff__staff__descriptor);
        PQclear (row);
    }
    return rc;
}

int
staff_api_create (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Staff__CreateRequest *create = (Kaiin__Staff__CreateRequest *)
        svc_unpack (request, &kaiin__staff__create_request__descriptor, reply);
    if (!create)
        return -1;
    int rc = -1;
    if (strcmp (create->role, "owner") == 0 && !s_caller_is (request, "owner"))
        svc_fail (reply, KAIIN__STATUS__PERMISSION_DENIED, "only an owner can make another owner");
    else {
        if (!member_check_valid_email (create->email))
            svc_field_error (reply, "email", "must be a valid email address");
        if (!staff_role_valid (create->role, true))
            svc_field_error (reply, "role", "must be one of owner, admin, support, marketing, finance, viewer");
        s_check_password (reply, create->password);
        long name_length = member_check_text_length (create->name);
        if (name_length < 0 || name_length > 100)
            svc_field_error (reply, "name", "must be at most 100 characters, without control characters");
    }
    if (reply->status == KAIIN__STATUS__OK) {
        char *hash = password_hash (create->password);
        if (!hash)
            svc_fail (reply, KAIIN__STATUS__INTERNAL, "cannot hash the password");
        else {
            Kaiin__Staff__Staff *staff = NULL;
            audit_actor_t actor = audit_actor_of (request, member_now (request));
            member_rc_t created = s_create (request->db, create, hash, &actor, &staff);
            rc = s_answer_staff (reply, request->db, created, staff);
            free (hash);
        }
    }
    protobuf_c_message_free_unpacked (&create->base, NULL);
    return rc;
}

/* Records a login attempt in the audit log (and the account's last login when it succeeded). */
static int
s_record_login (pg_t *db, const audit_actor_t *actor, const char *staff_id, const char *email,
                bool succeeded, const char *user_agent)
{
    json_t *details = json_pack ("{s:s, s:s}", "email", email, "user_agent", user_agent);
    char *text = json_dumps (details, JSON_COMPACT);
    json_decref (details);
    int rc = -1;
    if (pg_begin (db) == -1)
        goto done;
    if (succeeded) {
        char now [24];
        const char *params [] = { staff_id, NUM (now, actor->now_ms) };
        PGresult *result = pg_run (db, "staff_logged_in", 2, params);
        if (!result)
            goto done;
        PQclear (result);
    }
    if (audit_append (db, actor, succeeded? "staff.login": "staff.login_failed", "staff",
                      staff_id, text) == -1)
        goto done;
    rc = pg_commit (db);
done:
    if (rc == -1)
        pg_rollback (db);
    free (text);
    return rc;
}

int
staff_api_login (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Staff__LoginRequest *login = (Kaiin__Staff__LoginRequest *)
        svc_unpack (request, &kaiin__staff__login_request__descriptor, reply);
    if (!login)
        return -1;
    Kaiin__Staff__Staff *staff = NULL;
    char *hash = NULL;
    member_rc_t found = s_find (request->db, NULL, login->email, &staff, &hash);
    int rc = -1;
    if (found == MEMBER_ERROR) {
        protobuf_c_message_free_unpacked (&login->base, NULL);
        return svc_db_fail (reply, request->db);
    }
    bool matches = password_verify (hash, login->password);
    bool succeeded = found == MEMBER_OK && matches && !staff->disabled;
    audit_actor_t actor = audit_actor_of (request, member_now (request));
    actor.actor_id = found == MEMBER_OK? staff->id: "";
    actor.actor_role = found == MEMBER_OK? staff->role: "";
    if (s_record_login (request->db, &actor, found == MEMBER_OK? staff->id: "", login->email,
                        succeeded, login->user_agent) == -1)
        svc_db_fail (reply, request->db);
    else
    if (!succeeded)
        svc_fail (reply, KAIIN__STATUS__UNAUTHENTICATED, "the email or the password is wrong, or the account is disabled");
    else {
        staff->last_login_at_ms = actor.now_ms;
        Kaiin__Staff__LoginReply signed_in = KAIIN__STAFF__LOGIN_REPLY__INIT;
        signed_in.staff = staff;
        rc = svc_reply_with (reply, &signed_in.base);
        svc_reply_session_start (reply, "staff", staff->id, staff->role);
    }
    if (staff)
        protobuf_c_message_free_unpacked (&staff->base, NULL);
    free (hash);
    protobuf_c_message_free_unpacked (&login->base, NULL);
    return rc;
}

int
staff_api_me (svc_request_t *request, svc_reply_t *reply)
{
    const Kaiin__Request *envelope = request->envelope;
    Kaiin__Staff__Me me = KAIIN__STAFF__ME__INIT;
    me.kind = envelope->caller_kind;
    me.id = envelope->caller_id;
    me.role = envelope->caller_role;
    if (strcmp (envelope->caller_kind, "session") != 0)
        return svc_reply_with (reply, &me.base);
    Kaiin__Staff__Staff *staff = NULL;
    member_rc_t found = s_find (request->db, envelope->caller_id, NULL, &staff, NULL);
    if (found != MEMBER_OK)
        return found == MEMBER_NOT_FOUND
             ? svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such staff account")
             : svc_db_fail (reply, request->db);
    me.staff = staff;
    svc_reply_with (reply, &me.base);
    protobuf_c_message_free_unpacked (&staff->base, NULL);
    return 0;
}

int
staff_api_get (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Staff__GetRequest *get = (Kaiin__Staff__GetRequest *)
        svc_unpack (request, &kaiin__staff__get_request__descriptor, reply);
    if (!get)
        return -1;
    int rc;
    Kaiin__Staff__Staff *staff = NULL;
    if (!member_uuid (get->id))
        rc = svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such staff account");
    else {
        member_rc_t found = s_find (request->db, get->id, NULL, &staff, NULL);
        rc = s_answer_staff (reply, request->db, found, staff);
    }
    protobuf_c_message_free_unpacked (&get->base, NULL);
    return rc;
}

int
staff_api_list (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Staff__ListRequest *list = (Kaiin__Staff__ListRequest *)
        svc_unpack (request, &kaiin__staff__list_request__descriptor, reply);
    if (!list)
        return -1;
    int rc = -1;
    int limit = list->limit? list->limit: 50;
    int64_t after_seq;
    if (limit < 1 || limit > 100)
        svc_field_error (reply, "limit", "must be from 1 to 100");
    if (member_cursor_decode (list->cursor, &after_seq) == -1)
        svc_field_error (reply, "cursor", "is not a cursor this API returned");
    PGresult *result = NULL;
    if (reply->status == KAIIN__STATUS__OK) {
        char after [24], fetch [24];
        const char *params [] = { NUM (after, after_seq), NUM (fetch, limit + 1) };
        if (!(result = pg_run (request->db, "staff_list", 2, params)))   /* one more: are there more? */
            rc = svc_db_fail (reply, request->db);
    }
    if (result) {
        ProtobufCMessage *page = member_page (result, limit, &kaiin__staff__list_reply__descriptor,
                                              "staff", 'm');
        rc = svc_reply_with (reply, page);
        protobuf_c_message_free_unpacked (page, NULL);
        PQclear (result);
    }
    protobuf_c_message_free_unpacked (&list->base, NULL);
    return rc;
}

/* The rules an update must keep: admins leave owners alone, and an owner always remains. */
static void
s_check_update (svc_request_t *request, const Kaiin__Staff__UpdateRequest *update, svc_reply_t *reply)
{
    for (size_t i = 0; i < update->n_update_mask; i++) {
        const char *field = update->update_mask [i];
        if (strcmp (field, "name") && strcmp (field, "role") && strcmp (field, "disabled")
        &&  strcmp (field, "password"))
            svc_field_error (reply, field, "is not a field that can be changed");
    }
    if (SVC_MASKED (update, "role") && !staff_role_valid (update->role, true))
        svc_field_error (reply, "role", "must be one of owner, admin, support, marketing, finance, viewer");
    if (SVC_MASKED (update, "password"))
        s_check_password (reply, update->password);
    if (reply->status != KAIIN__STATUS__OK)
        return;
    Kaiin__Staff__Staff *current = NULL;
    member_rc_t found = s_find (request->db, update->id, NULL, &current, NULL);
    if (found == MEMBER_NOT_FOUND) {
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such staff account");
        return;
    }
    if (found != MEMBER_OK) {
        svc_db_fail (reply, request->db);
        return;
    }
    bool is_owner = strcmp (current->role, "owner") == 0;
    if (!s_caller_is (request, "owner")
    &&  (is_owner || (SVC_MASKED (update, "role") && strcmp (update->role, "owner") == 0)))
        svc_fail (reply, KAIIN__STATUS__PERMISSION_DENIED, "only an owner can change an owner or make one");
    protobuf_c_message_free_unpacked (&current->base, NULL);
}

/* The enabled owners, or -1. */
static int
s_owner_count (pg_t *db)
{
    PGresult *result = pg_run (db, "staff_owners", 0, NULL);
    if (!result)
        return -1;
    int count = atoi (PQgetvalue (result, 0, 0));
    PQclear (result);
    return count;
}

/* The audit entry's changes between two states of an account: a new string the caller frees. */
static char *
s_changes (const Kaiin__Staff__Staff *before, const Kaiin__Staff__Staff *after, bool password)
{
    json_t *changes = json_object ();
    if (strcmp (before->name, after->name))
        json_object_set_new (changes, "name", json_pack ("[s, s]", before->name, after->name));
    if (strcmp (before->role, after->role))
        json_object_set_new (changes, "role", json_pack ("[s, s]", before->role, after->role));
    if (before->disabled != after->disabled)
        json_object_set_new (changes, "disabled", json_pack ("[b, b]", before->disabled, after->disabled));
    if (password)
        json_object_set_new (changes, "password", json_pack ("[s, s]", "(hidden)", "(changed)"));
    char *text = json_dumps (changes, JSON_COMPACT);
    json_decref (changes);
    return text;
}

/* Changes the masked fields (password_hash replaces the hash when not NULL), with the audit
   entry, in one transaction. */
static member_rc_t
s_update (pg_t *db, const Kaiin__Staff__UpdateRequest *request, const char *password_hash,
          const audit_actor_t *actor, Kaiin__Staff__Staff **staff)
{
    if (pg_begin (db) == -1)
        return MEMBER_ERROR;
    member_rc_t rc = MEMBER_ERROR;
    Kaiin__Staff__Staff *before = NULL;
    *staff = NULL;
    /* Staff changes are rare: taking them one at a time makes "an enabled owner remains"
       hold under concurrent demotions. */
    PGresult *result = pg_run (db, "staff_serialize", 0, NULL);
    if (!result)
        goto fail;
    PQclear (result);
    const char *key [] = { request->id };
    rc = member_row (db, "staff_lock", 1, key, &kaiin__staff__staff__descriptor,
                     (ProtobufCMessage **) &before);
    if (rc != MEMBER_OK)
        goto fail;
    rc = MEMBER_STALE;
    if (request->if_version && before->version != request->if_version)
        goto fail;
    bool demoting = SVC_MASKED (request, "role") && strcmp (request->role, "owner") != 0;
    bool disabling = SVC_MASKED (request, "disabled") && request->disabled;
    if (strcmp (before->role, "owner") == 0 && !before->disabled && (demoting || disabling)) {
        rc = MEMBER_ERROR;
        int owners = s_owner_count (db);
        if (owners == -1)
            goto fail;
        rc = MEMBER_LAST_OWNER;
        if (owners <= 1)
            goto fail;
    }
    char now [24];
    const char *params [] = {
        request->id,
        SVC_MASKED (request, "name")? "t": "f", request->name,
        SVC_MASKED (request, "role")? "t": "f", request->role,
        SVC_MASKED (request, "disabled")? "t": "f", request->disabled? "t": "f",
        password_hash, NUM (now, actor->now_ms)
    };
    rc = MEMBER_ERROR;
    if (member_row (db, "staff_update", 9, params, &kaiin__staff__staff__descriptor,
                    (ProtobufCMessage **) staff) != MEMBER_OK)
        goto fail;
    char *text = s_changes (before, *staff, password_hash != NULL);
    int appended = audit_append (db, actor, "staff.update", "staff", (*staff)->id, text);
    free (text);
    if (appended == -1 || pg_commit (db) == -1)
        goto fail;
    protobuf_c_message_free_unpacked (&before->base, NULL);
    return MEMBER_OK;
fail:
    if (before)
        protobuf_c_message_free_unpacked (&before->base, NULL);
    if (*staff)
        protobuf_c_message_free_unpacked (&(*staff)->base, NULL);
    *staff = NULL;
    pg_rollback (db);
    return rc;
}

int
staff_api_update (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Staff__UpdateRequest *update = (Kaiin__Staff__UpdateRequest *)
        svc_unpack (request, &kaiin__staff__update_request__descriptor, reply);
    if (!update)
        return -1;
    int rc = -1;
    if (!member_uuid (update->id))
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such staff account");
    else
        s_check_update (request, update, reply);
    if (reply->status == KAIIN__STATUS__OK) {
        char *hash = SVC_MASKED (update, "password")? password_hash (update->password): NULL;
        Kaiin__Staff__Staff *staff = NULL;
        audit_actor_t actor = audit_actor_of (request, member_now (request));
        member_rc_t updated = s_update (request->db, update, hash, &actor, &staff);
        /* A new role, a new password or a disabled account ends the account's sessions, named
           by the id as the table spells it (the path's may differ in letter case). */
        bool ends = SVC_MASKED (update, "role") || SVC_MASKED (update, "password")
                 || (SVC_MASKED (update, "disabled") && update->disabled);
        if (updated == MEMBER_OK && ends)
            svc_reply_session_end (reply, "staff", staff->id, false);
        rc = s_answer_staff (reply, request->db, updated, staff);
        free (hash);
    }
    protobuf_c_message_free_unpacked (&update->base, NULL);
    return rc;
}
