/* staff_api.c - staff accounts, their passwords and roles, and API keys */
#include "staff_api.h"
#include "clock.h"
#include "log.h"
#include "password.h"
#include "staff_store.h"
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define PASSWORD_MIN    12
#define PASSWORD_MAX    256

static const char *const s_roles [] = { "owner", "admin", "support", "marketing", "finance", "viewer", NULL };

static bool
s_is_role (const char *role, bool owner_allowed)
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

static bool
s_caller_manages_staff (svc_request_t *request)
{
    return s_caller_is (request, "owner") || s_caller_is (request, "admin");
}

static int64_t
s_now (svc_request_t *request)
{
    return request->envelope->now_ms? request->envelope->now_ms: clock_now_ms ();
}

static void
s_check_password (svc_reply_t *reply, const char *password)
{
    size_t length = strlen (password);
    if (length < PASSWORD_MIN || length > PASSWORD_MAX)
        svc_field_error (reply, "password", "must be %d to %d characters long", PASSWORD_MIN, PASSWORD_MAX);
}

static int
s_answer_staff (svc_reply_t *reply, pg_t *db, member_store_rc_t rc, Kaiin__Staff__Staff *staff)
{
    switch (rc) {
        case MEMBER_STORE_OK:
            svc_reply_with (reply, &staff->base);
            staff_store_clear (staff);
            return 0;
        case MEMBER_STORE_NOT_FOUND:
            return svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such staff account");
        case MEMBER_STORE_DUPLICATE:
            svc_field_error (reply, "email", "another staff account has this email address");
            reply->status = KAIIN__STATUS__ALREADY_EXISTS;
            snprintf (reply->message, sizeof reply->message, "a staff account with this email exists");
            return -1;
        case MEMBER_STORE_STALE:
            return svc_fail (reply, KAIIN__STATUS__ABORTED,
                             "the account changed since the version given in If-Match");
        case MEMBER_STORE_LAST_OWNER:
            return svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION,
                             "the last owner cannot be demoted or disabled");
        default:
            return svc_db_fail (reply, db);
    }
}

int
staff_api_create (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Staff__CreateRequest *create = (Kaiin__Staff__CreateRequest *)
        svc_unpack (request, &kaiin__staff__create_request__descriptor, reply);
    if (!create)
        return -1;
    int rc = -1;
    if (!s_caller_manages_staff (request))
        svc_fail (reply, KAIIN__STATUS__PERMISSION_DENIED, "only owners and admins manage staff");
    else
    if (strcmp (create->role, "owner") == 0 && !s_caller_is (request, "owner"))
        svc_fail (reply, KAIIN__STATUS__PERMISSION_DENIED, "only an owner can make another owner");
    else {
        if (!member_api_valid_email (create->email))
            svc_field_error (reply, "email", "must be a valid email address");
        if (!s_is_role (create->role, true))
            svc_field_error (reply, "role", "must be one of owner, admin, support, marketing, finance, viewer");
        s_check_password (reply, create->password);
        long name_length = member_api_text_length (create->name);
        if (name_length < 0 || name_length > 100)
            svc_field_error (reply, "name", "must be at most 100 characters, without control characters");
    }
    if (reply->status == KAIIN__STATUS__OK) {
        char *hash = password_hash (create->password);
        if (!hash)
            svc_fail (reply, KAIIN__STATUS__INTERNAL, "cannot hash the password");
        else {
            Kaiin__Staff__Staff staff;
            audit_actor_t actor = audit_actor_of (request, s_now (request));
            rc = s_answer_staff (reply, request->db,
                                 staff_store_create (request->db, create, hash, &actor, &staff), &staff);
            free (hash);
        }
    }
    protobuf_c_message_free_unpacked (&create->base, NULL);
    return rc;
}

int
staff_api_login (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Staff__LoginRequest *login = (Kaiin__Staff__LoginRequest *)
        svc_unpack (request, &kaiin__staff__login_request__descriptor, reply);
    if (!login)
        return -1;
    Kaiin__Staff__Staff staff = KAIIN__STAFF__STAFF__INIT;
    char *hash = NULL;
    member_store_rc_t found = staff_store_find_email (request->db, login->email, &staff, &hash);
    int rc = -1;
    if (found == MEMBER_STORE_ERROR) {
        protobuf_c_message_free_unpacked (&login->base, NULL);
        return svc_db_fail (reply, request->db);
    }
    bool matches = password_verify (hash, login->password);
    bool succeeded = found == MEMBER_STORE_OK && matches && !staff.disabled;
    audit_actor_t actor = audit_actor_of (request, s_now (request));
    actor.actor_id = found == MEMBER_STORE_OK? staff.id: "";
    actor.actor_role = found == MEMBER_STORE_OK? staff.role: "";
    if (staff_store_record_login (request->db, &actor, found == MEMBER_STORE_OK? staff.id: "",
                                  login->email, succeeded, login->user_agent) == -1)
        svc_db_fail (reply, request->db);
    else
    if (!succeeded)
        svc_fail (reply, KAIIN__STATUS__UNAUTHENTICATED, "the email or the password is wrong, or the account is disabled");
    else {
        staff.last_login_at_ms = actor.now_ms;
        rc = svc_reply_with (reply, &staff.base);
    }
    if (found == MEMBER_STORE_OK)
        staff_store_clear (&staff);
    free (hash);
    protobuf_c_message_free_unpacked (&login->base, NULL);
    return rc;
}

int
staff_api_get (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Staff__GetRequest *get = (Kaiin__Staff__GetRequest *)
        svc_unpack (request, &kaiin__staff__get_request__descriptor, reply);
    if (!get)
        return -1;
    int rc;
    Kaiin__Staff__Staff staff;
    bool self = strcmp (get->id, request->envelope->caller_id) == 0;
    if (!self && !s_caller_manages_staff (request))
        rc = svc_fail (reply, KAIIN__STATUS__PERMISSION_DENIED, "only owners and admins see other accounts");
    else
    if (!member_api_valid_uuid (get->id))
        rc = svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such staff account");
    else
        rc = s_answer_staff (reply, request->db, staff_store_get (request->db, get->id, &staff), &staff);
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
    if (!s_caller_manages_staff (request))
        svc_fail (reply, KAIIN__STATUS__PERMISSION_DENIED, "only owners and admins list staff");
    else {
        if (limit < 1 || limit > 100)
            svc_field_error (reply, "limit", "must be from 1 to 100");
        if (member_api_cursor_decode (list->cursor, &after_seq) == -1)
            svc_field_error (reply, "cursor", "is not a cursor this API returned");
    }
    if (reply->status == KAIIN__STATUS__OK) {
        Kaiin__Staff__ListReply page = KAIIN__STAFF__LIST_REPLY__INIT;
        int64_t last_seq;
        int more;
        char cursor [24] = "";
        if (staff_store_list (request->db, after_seq, limit, &page, &last_seq, &more) == MEMBER_STORE_OK) {
            if (more)
                snprintf (cursor, sizeof cursor, "m%llx", (unsigned long long) last_seq);
            page.next_cursor = cursor;
            rc = svc_reply_with (reply, &page.base);
            for (size_t i = 0; i < page.n_staff; i++) {
                staff_store_clear (page.staff [i]);
                free (page.staff [i]);
            }
            free (page.staff);
        }
        else
            rc = svc_db_fail (reply, request->db);
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
    if (SVC_MASKED (update, "role") && !s_is_role (update->role, true))
        svc_field_error (reply, "role", "must be one of owner, admin, support, marketing, finance, viewer");
    if (SVC_MASKED (update, "password"))
        s_check_password (reply, update->password);
    if (reply->status != KAIIN__STATUS__OK)
        return;
    Kaiin__Staff__Staff current;
    member_store_rc_t found = staff_store_get (request->db, update->id, &current);
    if (found == MEMBER_STORE_NOT_FOUND) {
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such staff account");
        return;
    }
    if (found != MEMBER_STORE_OK) {
        svc_db_fail (reply, request->db);
        return;
    }
    bool is_owner = strcmp (current.role, "owner") == 0;
    if (!s_caller_is (request, "owner")
    &&  (is_owner || (SVC_MASKED (update, "role") && strcmp (update->role, "owner") == 0)))
        svc_fail (reply, KAIIN__STATUS__PERMISSION_DENIED, "only an owner can change an owner or make one");
    staff_store_clear (&current);
}

int
staff_api_update (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Staff__UpdateRequest *update = (Kaiin__Staff__UpdateRequest *)
        svc_unpack (request, &kaiin__staff__update_request__descriptor, reply);
    if (!update)
        return -1;
    int rc = -1;
    bool self_password = strcmp (update->id, request->envelope->caller_id) == 0
                      && update->n_update_mask == 1 && SVC_MASKED (update, "password");
    if (!s_caller_manages_staff (request) && !self_password)
        svc_fail (reply, KAIIN__STATUS__PERMISSION_DENIED, "only owners and admins manage staff");
    else
    if (!member_api_valid_uuid (update->id))
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such staff account");
    else
        s_check_update (request, update, reply);
    if (reply->status == KAIIN__STATUS__OK) {
        char *hash = SVC_MASKED (update, "password")? password_hash (update->password): NULL;
        Kaiin__Staff__Staff staff;
        audit_actor_t actor = audit_actor_of (request, s_now (request));
        rc = s_answer_staff (reply, request->db,
                             staff_store_update (request->db, update, hash, &actor, &staff), &staff);
        free (hash);
    }
    protobuf_c_message_free_unpacked (&update->base, NULL);
    return rc;
}

static int
s_answer_key (svc_reply_t *reply, pg_t *db, member_store_rc_t rc, Kaiin__Staff__ApiKey *key)
{
    if (rc == MEMBER_STORE_OK) {
        svc_reply_with (reply, &key->base);
        staff_store_clear_key (key);
        return 0;
    }
    if (rc == MEMBER_STORE_NOT_FOUND)
        return svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such API key");
    return svc_db_fail (reply, db);
}

int
staff_api_key_create (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Staff__CreateApiKeyRequest *create = (Kaiin__Staff__CreateApiKeyRequest *)
        svc_unpack (request, &kaiin__staff__create_api_key_request__descriptor, reply);
    if (!create)
        return -1;
    int rc = -1;
    if (!s_caller_manages_staff (request))
        svc_fail (reply, KAIIN__STATUS__PERMISSION_DENIED, "only owners and admins manage API keys");
    else {
        long name_length = member_api_text_length (create->name);
        if (name_length <= 0 || name_length > 100)
            svc_field_error (reply, "name", "is required, at most 100 characters");
        if (!s_is_role (create->role, false))
            svc_field_error (reply, "role", "must be one of admin, support, marketing, finance, viewer");
        if (strlen (create->secret_sha256) != 64)
            svc_field_error (reply, "secret_sha256", "must be 64 hex digits");
    }
    if (reply->status == KAIIN__STATUS__OK) {
        Kaiin__Staff__ApiKey key;
        audit_actor_t actor = audit_actor_of (request, s_now (request));
        rc = s_answer_key (reply, request->db, staff_store_key_create (request->db, create, &actor, &key), &key);
    }
    protobuf_c_message_free_unpacked (&create->base, NULL);
    return rc;
}

int
staff_api_key_verify (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Staff__VerifyApiKeyRequest *verify = (Kaiin__Staff__VerifyApiKeyRequest *)
        svc_unpack (request, &kaiin__staff__verify_api_key_request__descriptor, reply);
    if (!verify)
        return -1;
    Kaiin__Staff__ApiKey key;
    member_store_rc_t found = staff_store_key_verify (request->db, verify->secret_sha256, &key);
    int rc = found == MEMBER_STORE_NOT_FOUND
        ? svc_fail (reply, KAIIN__STATUS__UNAUTHENTICATED, "no such API key, or it was revoked")
        : s_answer_key (reply, request->db, found, &key);
    protobuf_c_message_free_unpacked (&verify->base, NULL);
    return rc;
}

int
staff_api_key_revoke (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Staff__RevokeApiKeyRequest *revoke = (Kaiin__Staff__RevokeApiKeyRequest *)
        svc_unpack (request, &kaiin__staff__revoke_api_key_request__descriptor, reply);
    if (!revoke)
        return -1;
    int rc;
    Kaiin__Staff__ApiKey key;
    audit_actor_t actor = audit_actor_of (request, s_now (request));
    if (!s_caller_manages_staff (request))
        rc = svc_fail (reply, KAIIN__STATUS__PERMISSION_DENIED, "only owners and admins manage API keys");
    else
    if (!member_api_valid_uuid (revoke->id))
        rc = svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such API key");
    else
        rc = s_answer_key (reply, request->db,
                           staff_store_key_revoke (request->db, revoke->id, &actor, &key), &key);
    protobuf_c_message_free_unpacked (&revoke->base, NULL);
    return rc;
}

int
staff_api_key_list (svc_request_t *request, svc_reply_t *reply)
{
    if (!s_caller_manages_staff (request))
        return svc_fail (reply, KAIIN__STATUS__PERMISSION_DENIED, "only owners and admins manage API keys");
    Kaiin__Staff__ListApiKeysReply keys = KAIIN__STAFF__LIST_API_KEYS_REPLY__INIT;
    if (staff_store_key_list (request->db, &keys) != MEMBER_STORE_OK)
        return svc_db_fail (reply, request->db);
    svc_reply_with (reply, &keys.base);
    for (size_t i = 0; i < keys.n_keys; i++) {
        staff_store_clear_key (keys.keys [i]);
        free (keys.keys [i]);
    }
    free (keys.keys);
    return 0;
}
