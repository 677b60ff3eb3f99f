/* staff_routes.c - /v1/auth, /v1/me, PATCH /v1/staff/{id} and /v1/api-keys: the staff routes
   that make, end or check sessions and keys in the gateway's store */
#include "staff_routes.h"
#include "clock.h"
#include "json_in.h"
#include "session.h"
#include "staff.pb-c.h"
#include <stdio.h>
#include <string.h>

static const char *const s_json [] = { "application/json", NULL };
static const char *const s_patch_types [] = { "application/json", "application/merge-patch+json", NULL };

static json_t *
s_staff_json (const Kaiin__Staff__Staff *staff)
{
    return json_pack ("{s:s, s:s, s:o, s:s, s:b, s:o, s:o, s:o}",
        "id", staff->id, "email", staff->email, "name", json_in_text_or_null (staff->name),
        "role", staff->role, "disabled", staff->disabled,
        "created_at", json_in_time_or_null (staff->created_at_ms),
        "updated_at", json_in_time_or_null (staff->updated_at_ms),
        "last_login_at", json_in_time_or_null (staff->last_login_at_ms));
}

static json_t *
s_key_json (const Kaiin__Staff__ApiKey *key)
{
    return json_pack ("{s:s, s:s, s:s, s:s, s:s, s:o, s:o}",
        "id", key->id, "name", key->name, "role", key->role, "prefix", key->prefix,
        "created_by", key->created_by, "created_at", json_in_time_or_null (key->created_at_ms),
        "revoked_at", json_in_time_or_null (key->revoked_at_ms));
}

/* Unpacks a Staff reply, or answers 502 and returns NULL. */
static Kaiin__Staff__Staff *
s_unpack_staff (http_request_t *request, const ProtobufCBinaryData *payload)
{
    return (Kaiin__Staff__Staff *) http_unpack (request, &kaiin__staff__staff__descriptor, payload);
}

/* --- login, logout, me ---------------------------------------------------------------- */

static void
s_on_logged_in (http_request_t *request, const ProtobufCBinaryData *payload)
{
    Kaiin__Staff__Staff *staff = s_unpack_staff (request, payload);
    if (!staff)
        return;
    char token [80];
    if (session_create (staff->id, staff->role, token, clock_now_ms ()) == -1)
        http_problem (request, 503, "the session store is not available right now", NULL, NULL);
    else
        http_respond_json (request, 200, json_pack ("{s:s, s:s, s:i, s:o}", "token", token,
                           "token_type", "Bearer", "expires_in", SESSION_IDLE_S,
                           "staff", s_staff_json (staff)));
    kaiin__staff__staff__free_unpacked (staff, NULL);
}

static void
s_on_login_refused (http_request_t *request, unsigned int status, const char *message)
{
    if (status == 401) {
        session_login_failed (request->scratch, request->client_ip);
        http_problem (request, 401, "the email or the password is wrong, or the account is disabled",
                      NULL, NULL);
    }
    else
        http_problem (request, status, message, NULL, NULL);
}

void
staff_routes_login (http_request_t *request)
{
    json_t *body = json_in_object (request, s_json, false);
    if (!body)
        return;
    static const char *const fields [] = { "email", "password", NULL };
    json_t *errors = json_array ();
    json_in_known_keys (body, fields, errors);
    bool present;
    Kaiin__Staff__LoginRequest login = KAIIN__STAFF__LOGIN_REQUEST__INIT;
    login.email = (char *) json_in_string (body, "email", false, &present, errors);
    if (!*login.email)
        json_in_error (errors, "email", "is required");
    login.password = (char *) json_in_string (body, "password", false, &present, errors);
    if (!*login.password)
        json_in_error (errors, "password", "is required");
    login.ip = request->client_ip;
    const char *agent = http_header (request, "User-Agent");
    login.user_agent = (char *) (agent? agent: "");
    if (!json_in_rejected (request, errors)) {
        int blocked = session_login_blocked (login.email, request->client_ip);
        if (blocked == 1) {
            http_problem (request, 429, "too many failed logins: try again later", NULL, NULL);
            MHD_add_response_header (request->response, "Retry-After", "3600");
        }
        else
        if (blocked == -1)
            http_problem (request, 503, "the session store is not available right now", NULL, NULL);
        else {
            snprintf (request->scratch, sizeof request->scratch, "%s", login.email);
            request->caller = (session_identity_t) { "anonymous", "", "", "" };
            request->on_error = s_on_login_refused;
            http_call (request, "member", "member.StaffLogin", &login.base, s_on_logged_in);
        }
    }
    json_decref (body);
}

void
staff_routes_logout (http_request_t *request)
{
    if (strcmp (request->caller.kind, "session") != 0)
        http_problem (request, 400, "only a session token can be logged out", NULL, NULL);
    else
    if (session_delete (request->caller.token_hash) == -1)
        http_problem (request, 503, "the session store is not available right now", NULL, NULL);
    else
        http_respond_text (request, 204, "text/plain", "", 0);
}

static void
s_on_me (http_request_t *request, const ProtobufCBinaryData *payload)
{
    Kaiin__Staff__Staff *staff = s_unpack_staff (request, payload);
    if (!staff)
        return;
    http_respond_json (request, 200, json_pack ("{s:s, s:s, s:s, s:o}", "kind", "session",
                       "id", staff->id, "role", staff->role, "staff", s_staff_json (staff)));
    kaiin__staff__staff__free_unpacked (staff, NULL);
}

void
staff_routes_me (http_request_t *request)
{
    if (strcmp (request->caller.kind, "session") == 0) {
        Kaiin__Staff__GetRequest get = KAIIN__STAFF__GET_REQUEST__INIT;
        get.id = request->caller.id;
        http_call (request, "member", "member.StaffGet", &get.base, s_on_me);
        return;
    }
    http_respond_json (request, 200, json_pack ("{s:s, s:s, s:s, s:n}", "kind", request->caller.kind,
                       "id", request->caller.id, "role", request->caller.role, "staff"));
}

/* --- staff accounts: an update may end sessions (the rest is member_http.c's) ------------ */

/* Answers a reply carrying one account, with its ETag. */
static void
s_respond_staff (http_request_t *request, const ProtobufCBinaryData *payload)
{
    Kaiin__Staff__Staff *staff = s_unpack_staff (request, payload);
    if (!staff)
        return;
    snprintf (request->etag, sizeof request->etag, "\"%lld\"", (long long) staff->version);
    http_respond_json (request, 200, s_staff_json (staff));
    kaiin__staff__staff__free_unpacked (staff, NULL);
}

static void
s_on_staff_updated (http_request_t *request, const ProtobufCBinaryData *payload)
{
    /* A new role, a disabled account or a new password ends the account's sessions, found by
       the id as the service spells it (the path's may differ in letter case). */
    Kaiin__Staff__Staff *staff = s_unpack_staff (request, payload);
    if (!staff)
        return;
    bool revoked = request->scratch [0] != 'r' || session_revoke_staff (staff->id) == 0;
    kaiin__staff__staff__free_unpacked (staff, NULL);
    if (!revoked) {
        http_problem (request, 503, "the change is saved, but its sessions could not be ended yet",
                      NULL, NULL);
        return;
    }
    s_respond_staff (request, payload);
}

void
staff_routes_update (http_request_t *request)
{
    Kaiin__Staff__UpdateRequest update = KAIIN__STAFF__UPDATE_REQUEST__INIT;
    if (http_if_match (request, &update.if_version) == -1)
        return;
    json_t *body = json_in_object (request, s_patch_types, false);
    if (!body)
        return;
    static const char *const fields [] = { "name", "role", "disabled", "password", NULL };
    json_t *errors = json_array ();
    json_in_known_keys (body, fields, errors);
    char *mask [4];
    bool present, revokes = false;
    update.name = (char *) json_in_string (body, "name", true, &present, errors);
    if (present)
        mask [update.n_update_mask++] = "name";
    update.role = (char *) json_in_string (body, "role", false, &present, errors);
    if (present)
        mask [update.n_update_mask++] = "role";
    revokes |= present;
    update.password = (char *) json_in_string (body, "password", false, &present, errors);
    if (present)
        mask [update.n_update_mask++] = "password";
    revokes |= present;
    json_t *disabled = json_object_get (body, "disabled");
    if (disabled && !json_is_boolean (disabled))
        json_in_error (errors, "disabled", "must be true or false");
    else
    if (disabled) {
        update.disabled = json_is_true (disabled);
        mask [update.n_update_mask++] = "disabled";
        revokes |= update.disabled;
    }
    update.update_mask = mask;
    update.id = request->param;
    snprintf (request->scratch, sizeof request->scratch, "%s", revokes? "revoke": "");
    if (!json_in_rejected (request, errors))
        http_call (request, "member", "member.StaffUpdate", &update.base, s_on_staff_updated);
    json_decref (body);
}

/* --- API keys ------------------------------------------------------------------------- */

static void
s_on_key_created (http_request_t *request, const ProtobufCBinaryData *payload)
{
    Kaiin__Staff__ApiKey *key = (Kaiin__Staff__ApiKey *) http_unpack (request, &kaiin__staff__api_key__descriptor, payload);
    if (!key)
        return;
    json_t *body = s_key_json (key);
    json_object_set_new (body, "secret", json_string (request->scratch));   /* shown this once */
    snprintf (request->location, sizeof request->location, "/v1/api-keys/%s", key->id);
    http_respond_json (request, 201, body);
    kaiin__staff__api_key__free_unpacked (key, NULL);
}

void
staff_routes_key_create (http_request_t *request)
{
    json_t *body = json_in_object (request, s_json, false);
    if (!body)
        return;
    static const char *const fields [] = { "name", "role", NULL };
    json_t *errors = json_array ();
    json_in_known_keys (body, fields, errors);
    Kaiin__Staff__CreateApiKeyRequest create = KAIIN__STAFF__CREATE_API_KEY_REQUEST__INIT;
    create.name = json_in_required (body, "name", errors);
    create.role = json_in_required (body, "role", errors);
    char random [65], hash [65], prefix [16];
    if (!json_in_rejected (request, errors)) {
        if (session_random_hex (random, 32) == -1)
            http_problem (request, 500, "cannot make a secret", NULL, NULL);
        else {
            snprintf (request->scratch, sizeof request->scratch, "kak_%s", random);
            session_sha256_hex (request->scratch, hash);
            snprintf (prefix, sizeof prefix, "%.12s", request->scratch);
            create.prefix = prefix;
            create.secret_sha256 = hash;
            http_call (request, "member", "member.ApiKeyCreate", &create.base, s_on_key_created);
        }
    }
    json_decref (body);
}

static void
s_on_key_list (http_request_t *request, const ProtobufCBinaryData *payload)
{
    Kaiin__Staff__ListApiKeysReply *keys = (Kaiin__Staff__ListApiKeysReply *) http_unpack (request, &kaiin__staff__list_api_keys_reply__descriptor, payload);
    if (!keys)
        return;
    json_t *data = json_array ();
    for (size_t i = 0; i < keys->n_keys; i++)
        json_array_append_new (data, s_key_json (keys->keys [i]));
    http_respond_json (request, 200, json_pack ("{s:o}", "data", data));
    kaiin__staff__list_api_keys_reply__free_unpacked (keys, NULL);
}

void
staff_routes_key_list (http_request_t *request)
{
    Kaiin__Staff__ListApiKeysRequest list = KAIIN__STAFF__LIST_API_KEYS_REQUEST__INIT;
    http_call (request, "member", "member.ApiKeyList", &list.base, s_on_key_list);
}

static void
s_on_key_revoked (http_request_t *request, const ProtobufCBinaryData *payload)
{
    Kaiin__Staff__ApiKey *key = (Kaiin__Staff__ApiKey *) http_unpack (request, &kaiin__staff__api_key__descriptor, payload);
    if (!key)
        return;
    session_key_forget (key->id);
    http_respond_json (request, 200, s_key_json (key));
    kaiin__staff__api_key__free_unpacked (key, NULL);
}

void
staff_routes_key_revoke (http_request_t *request)
{
    Kaiin__Staff__RevokeApiKeyRequest revoke = KAIIN__STAFF__REVOKE_API_KEY_REQUEST__INIT;
    revoke.id = request->param;
    http_call (request, "member", "member.ApiKeyRevoke", &revoke.base, s_on_key_revoked);
}
