/* api_key.c - API keys: made by the service and shown once, kept as their SHA-256, revoked */
#include "api_key.h"
#include "audit.h"
#include "member_check.h"
#include "staff.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define KEY_COLUMNS \
    "id, name, role, prefix, created_by, " MS ("created_at") " as created_at_ms," \
    " " MS ("revoked_at") " as revoked_at_ms"

void
api_key_prepare (pg_t *db)
{
    pg_prepare (db, "key_insert",
            "insert into api_keys (name, role, prefix, secret_sha256, created_by, created_at)"
            " values ($1, $2, $3, $4, $5, " AT ("$6") ") returning " KEY_COLUMNS);
    pg_prepare (db, "key_verify",
            "select " KEY_COLUMNS " from api_keys where secret_sha256 = $1 and revoked_at is null");
    pg_prepare (db, "key_revoke",
            "update api_keys set revoked_at = coalesce (revoked_at, " AT ("$2") ")"
            " where id = $1 returning " KEY_COLUMNS);
    pg_prepare (db, "key_list", "select " KEY_COLUMNS " from api_keys order by seq");
}

/* Runs an audited statement that answers a key's row: *key on MEMBER_OK (the caller frees it). */
static member_rc_t
s_key_write (pg_t *db, const char *statement, int count, const char *const *params,
             const audit_actor_t *actor, const char *action, const char *changes,
             Kaiin__Staff__ApiKey **key)
{
    PGresult *row = NULL;
    member_rc_t rc = audit_run (db, statement, count, params, actor, action, "api_key", NULL,
                                changes, &row);
    if (rc == MEMBER_OK) {
        *key = (Kaiin__Staff__ApiKey *) pg_row_message (row, 0, &kaiin__staff__api_key__descriptor);
        PQclear (row);
    }
    return rc;
}

/* Answers key (then freed) on MEMBER_OK, else what rc says. */
static int
s_answer_key (svc_reply_t *reply, pg_t *db, member_rc_t rc, Kaiin__Staff__ApiKey *key)
{
    if (rc == MEMBER_OK) {
        svc_reply_with (reply, &key->base);
        protobuf_c_message_free_unpacked (&key->base, NULL);
        return 0;
    }
    if (rc == MEMBER_NOT_FOUND)
        return svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such API key");
    return svc_db_fail (reply, db);
}

int
api_key_api_create (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Staff__CreateApiKeyRequest *create = (Kaiin__Staff__CreateApiKeyRequest *)
        svc_unpack (request, &kaiin__staff__create_api_key_request__descriptor, reply);
    if (!create)
        return -1;
    int rc = -1;
    long name_length = member_check_text_length (create->name);
    if (name_length <= 0 || name_length > 100)
        svc_field_error (reply, "name", "is required, at most 100 characters");
    if (!staff_role_valid (create->role, false))
        svc_field_error (reply, "role", "must be one of admin, support, marketing, finance, viewer");
    /* The secret: "kak_" and 256 random bits in hex, shown in this reply only. */
    char secret [4 + 64 + 1] = "kak_", hash [65], prefix [13];
    if (reply->status == KAIIN__STATUS__OK && member_random_hex (secret + 4) == -1)
        svc_fail (reply, KAIIN__STATUS__INTERNAL, "cannot make a secret");
    if (reply->status == KAIIN__STATUS__OK) {
        member_sha256_hex (secret, hash);
        snprintf (prefix, sizeof prefix, "%.12s", secret);
        audit_actor_t actor = audit_actor_of (request, member_now (request));
        char now [24];
        const char *params [] = { create->name, create->role, prefix, hash, actor.actor_id,
                                  NUM (now, actor.now_ms) };
        json_t *changes = json_pack ("{s:[n,s], s:[n,s]}", "name", create->name, "role", create->role);
        char *text = json_dumps (changes, JSON_COMPACT);
        json_decref (changes);
        Kaiin__Staff__ApiKey *key = NULL;
        member_rc_t made = s_key_write (request->db, "key_insert", 6, params, &actor, "api_key.create",
                                        text, &key);
        free (text);
        if (made == MEMBER_OK)
            key->secret = strdup (secret);
        rc = s_answer_key (reply, request->db, made, key);
    }
    protobuf_c_message_free_unpacked (&create->base, NULL);
    return rc;
}

int
api_key_api_verify (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__KeyCheck *check = (Kaiin__KeyCheck *) svc_unpack (request, &kaiin__key_check__descriptor, reply);
    if (!check)
        return -1;
    Kaiin__Staff__ApiKey *key = NULL;
    const char *params [] = { check->secret_sha256 };
    member_rc_t found = member_row (request->db, "key_verify", 1, params,
                                    &kaiin__staff__api_key__descriptor, (ProtobufCMessage **) &key);
    int rc;
    if (found == MEMBER_OK) {
        Kaiin__KeyIdentity identity = KAIIN__KEY_IDENTITY__INIT;
        identity.id = key->id;
        identity.role = key->role;
        rc = svc_reply_with (reply, &identity.base);
        protobuf_c_message_free_unpacked (&key->base, NULL);
    }
    else
        rc = found == MEMBER_NOT_FOUND
           ? svc_fail (reply, KAIIN__STATUS__UNAUTHENTICATED, "no such API key, or it was revoked")
           : svc_db_fail (reply, request->db);
    protobuf_c_message_free_unpacked (&check->base, NULL);
    return rc;
}

int
api_key_api_revoke (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Staff__RevokeApiKeyRequest *revoke = (Kaiin__Staff__RevokeApiKeyRequest *)
        svc_unpack (request, &kaiin__staff__revoke_api_key_request__descriptor, reply);
    if (!revoke)
        return -1;
    int rc;
    audit_actor_t actor = audit_actor_of (request, member_now (request));
    if (!member_uuid (revoke->id))
        rc = svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such API key");
    else {
        char now [24];
        const char *params [] = { revoke->id, NUM (now, actor.now_ms) };
        Kaiin__Staff__ApiKey *key = NULL;
        member_rc_t revoked = s_key_write (request->db, "key_revoke", 2, params, &actor,
                                           "api_key.revoke", NULL, &key);
        if (revoked == MEMBER_OK)
            svc_reply_session_end (reply, "api_key", key->id, false);
        rc = s_answer_key (reply, request->db, revoked, key);
    }
    protobuf_c_message_free_unpacked (&revoke->base, NULL);
    return rc;
}

int
api_key_api_list (svc_request_t *request, svc_reply_t *reply)
{
    PGresult *result = pg_run (request->db, "key_list", 0, NULL);
    if (!result)
        return svc_db_fail (reply, request->db);
    ProtobufCMessage *keys = member_message_new (&kaiin__staff__list_api_keys_reply__descriptor);
    member_rows_append (keys, "keys", result, PQntuples (result));
    PQclear (result);
    svc_reply_with (reply, keys);
    protobuf_c_message_free_unpacked (keys, NULL);
    return 0;
}
