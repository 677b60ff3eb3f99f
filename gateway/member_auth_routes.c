/* member_auth_routes.c - /v1/member-auth (members' own login and sessions), members'
   passwords, and /v1/members/{id}/logins and /activities */
#include "member_auth_routes.h"
#include "clock.h"
#include "json_in.h"
#include "member_auth.pb-c.h"
#include "member_routes.h"
#include "session.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACTIVITY_BATCH_MAX  500

static const char *const s_json [] = { "application/json", NULL };
static const char *const s_login_refused =
    "the email or the password is wrong, or the member has withdrawn";

static void
s_unreadable (http_request_t *request)
{
    http_problem (request, 502, "the member service sent a reply that cannot be read", NULL, NULL);
}

static void
s_store_unavailable (http_request_t *request)
{
    http_problem (request, 503, "the session store is not available right now", NULL, NULL);
}

/* --- login, logout, me, own password ------------------------------------------------------ */

/* What a login remembers across its call, in request->scratch: "K" or "U" (the address is
   known or not), the account's hash, and the Retry-After of a refused attempt. */
static void
s_login_note (http_request_t *request, bool known, const char *account_hash, int retry_after_s)
{
    snprintf (request->scratch, sizeof request->scratch, "%c%s %d", known? 'K': 'U', account_hash,
              retry_after_s);
}

static bool
s_login_recall (http_request_t *request, bool *known, char *account_hash, int *retry_after_s)
{
    *known = request->scratch [0] == 'K';
    return sscanf (request->scratch + 1, "%64s %d", account_hash, retry_after_s) == 2;
}

static void
s_too_many (http_request_t *request)
{
    bool known;
    char account_hash [65];
    int retry_after_s = 900;
    s_login_recall (request, &known, account_hash, &retry_after_s);
    char retry [16];
    snprintf (retry, sizeof retry, "%d", retry_after_s > 0? retry_after_s: 1);
    http_problem (request, 429, "too many failed logins: try again later", NULL, NULL);
    MHD_add_response_header (request->response, "Retry-After", retry);
}

static void
s_on_locked_recorded (http_request_t *request, const ProtobufCBinaryData *payload)
{
    (void) payload;
    s_too_many (request);
}

static void
s_on_locked_unrecorded (http_request_t *request, unsigned int status, const char *message)
{
    (void) status;
    (void) message;
    s_too_many (request);           /* the refusal stands even when it could not be recorded */
}

static void
s_on_logged_in (http_request_t *request, const ProtobufCBinaryData *payload)
{
    bool known;
    char account_hash [65], token [80];
    int retry_after_s;
    s_login_recall (request, &known, account_hash, &retry_after_s);
    Kaiin__MemberAuth__LoginReply *login =
        kaiin__member_auth__login_reply__unpack (NULL, payload->len, payload->data);
    if (!login) {
        session_member_login_end (account_hash, request->client_ip, known, SESSION_MEMBER_LOGIN_UNDECIDED);
        s_unreadable (request);
        return;
    }
    session_member_login_end (account_hash, request->client_ip, known, SESSION_MEMBER_LOGIN_OK);
    if (session_member_create (login->member_id, token, clock_now_ms ()) == -1)
        s_store_unavailable (request);
    else
        http_respond_json (request, 200, json_pack ("{s:s, s:s, s:i, s:s}", "token", token,
                           "token_type", "Bearer", "expires_in", SESSION_IDLE_S,
                           "member_id", login->member_id));
    kaiin__member_auth__login_reply__free_unpacked (login, NULL);
}

static void
s_on_login_refused (http_request_t *request, unsigned int status, const char *message)
{
    bool known;
    char account_hash [65];
    int retry_after_s;
    s_login_recall (request, &known, account_hash, &retry_after_s);
    if (status == 401) {
        session_member_login_end (account_hash, request->client_ip, known, SESSION_MEMBER_LOGIN_FAILED);
        http_problem (request, 401, s_login_refused, NULL, NULL);
    }
    else {
        session_member_login_end (account_hash, request->client_ip, known, SESSION_MEMBER_LOGIN_UNDECIDED);
        http_problem (request, status, message, NULL, NULL);
    }
}

void
member_auth_routes_login (http_request_t *request)
{
    json_t *body = json_in_object (request, s_json, false);
    if (!body)
        return;
    static const char *const fields [] = { "email", "password", NULL };
    json_t *errors = json_array ();
    json_in_known_keys (body, fields, errors);
    Kaiin__MemberAuth__LoginRequest login = KAIIN__MEMBER_AUTH__LOGIN_REQUEST__INIT;
    login.email = json_in_required (body, "email", errors);
    login.password = json_in_required (body, "password", errors);
    login.ip = request->client_ip;
    const char *agent = http_header (request, "User-Agent");
    login.user_agent = (char *) (agent? agent: "");
    if (!json_in_rejected (request, errors)) {
        /* The throttle is checked before the service spends an argon2 hash on the attempt. */
        char account_hash [65];
        bool known = false;
        int retry_after_s = 0;
        session_member_account_hash (login.email, account_hash);
        int refused = session_member_login_begin (account_hash, request->client_ip, &known,
                                                  &retry_after_s);
        s_login_note (request, known, account_hash, retry_after_s);
        request->caller = (session_identity_t) { "anonymous", "", "", "" };
        if (refused == -1)
            s_store_unavailable (request);
        else
        if (refused == 1) {
            login.locked = true;
            login.password = "";        /* never sent where it is not checked */
            request->on_error = s_on_locked_unrecorded;
            http_call (request, "member", "member.MemberAuthLogin", &login.base, s_on_locked_recorded);
        }
        else {
            request->on_error = s_on_login_refused;
            http_call (request, "member", "member.MemberAuthLogin", &login.base, s_on_logged_in);
        }
    }
    json_decref (body);
}

void
member_auth_routes_logout (http_request_t *request)
{
    if (session_member_delete (request->caller.token_hash) == -1)
        s_store_unavailable (request);
    else
        http_respond_text (request, 204, "text/plain", "", 0);
}

void
member_auth_routes_me (http_request_t *request)
{
    /* The member's own record, exactly as GET /v1/members/{id} answers it. */
    snprintf (request->param, sizeof request->param, "%s", request->caller.id);
    member_routes_get (request);
}

static void
s_on_password_changed (http_request_t *request, const ProtobufCBinaryData *payload)
{
    (void) payload;
    /* A new password ends the member's other sessions; the caller's own (if any) stays. */
    bool own = strcmp (request->caller.kind, "member") == 0;
    const char *member_id = own? request->caller.id: request->param;
    if (session_member_revoke (member_id, own? request->caller.token_hash: NULL) == -1)
        http_problem (request, 503, "the password is changed, but its sessions could not be ended yet",
                      NULL, NULL);
    else
        http_respond_text (request, 204, "text/plain", "", 0);
}

void
member_auth_routes_change_password (http_request_t *request)
{
    json_t *body = json_in_object (request, s_json, false);
    if (!body)
        return;
    static const char *const fields [] = { "current_password", "new_password", NULL };
    json_t *errors = json_array ();
    json_in_known_keys (body, fields, errors);
    Kaiin__MemberAuth__SetPasswordRequest set = KAIIN__MEMBER_AUTH__SET_PASSWORD_REQUEST__INIT;
    set.member_id = request->caller.id;
    set.current_password = json_in_required (body, "current_password", errors);
    set.password = json_in_required (body, "new_password", errors);
    if (!json_in_rejected (request, errors))
        http_call (request, "member", "member.MemberAuthSetPassword", &set.base, s_on_password_changed);
    json_decref (body);
}

void
member_auth_routes_set_password (http_request_t *request)
{
    json_t *body = json_in_object (request, s_json, false);
    if (!body)
        return;
    static const char *const fields [] = { "password", NULL };
    json_t *errors = json_array ();
    json_in_known_keys (body, fields, errors);
    Kaiin__MemberAuth__SetPasswordRequest set = KAIIN__MEMBER_AUTH__SET_PASSWORD_REQUEST__INIT;
    set.member_id = request->param;
    set.password = json_in_required (body, "password", errors);
    if (!json_in_rejected (request, errors))
        http_call (request, "member", "member.MemberAuthSetPassword", &set.base, s_on_password_changed);
    json_decref (body);
}

/* --- activities --------------------------------------------------------------------------- */

static json_t *
s_activity_json (const Kaiin__MemberAuth__Activity *activity)
{
    json_t *properties = *activity->properties_json
        ? json_loads (activity->properties_json, 0, NULL): NULL;
    if (!json_is_object (properties)) {
        json_decref (properties);
        properties = json_object ();
    }
    return json_pack ("{s:s, s:s, s:s, s:o, s:o, s:o, s:o}",
        "id", activity->id, "member_id", activity->member_id, "type", activity->type,
        "path", json_in_text_or_null (activity->path),
        "occurred_at", json_in_time_or_null (activity->occurred_at_ms),
        "received_at", json_in_time_or_null (activity->received_at_ms),
        "properties", properties);
}

static void
s_on_recorded (http_request_t *request, const ProtobufCBinaryData *payload)
{
    Kaiin__MemberAuth__RecordActivitiesReply *stored = (Kaiin__MemberAuth__RecordActivitiesReply *) http_unpack (request, &kaiin__member_auth__record_activities_reply__descriptor, payload);
    if (!stored)
        return;
    if (strcmp (request->scratch, "batch") == 0) {
        json_t *data = json_array ();
        for (size_t i = 0; i < stored->n_activities; i++)
            json_array_append_new (data, s_activity_json (stored->activities [i]));
        http_respond_json (request, 201, json_pack ("{s:o}", "data", data));
    }
    else
    if (stored->n_activities == 1)
        http_respond_json (request, 201, s_activity_json (stored->activities [0]));
    else
        s_unreadable (request);
    kaiin__member_auth__record_activities_reply__free_unpacked (stored, NULL);
}

/* Reads one event object into activity (strings borrowed from event; properties_json a new
   string the caller frees); field errors name prefix + field. */
static void
s_read_event (json_t *event, const char *prefix, Kaiin__MemberAuth__Activity *activity, json_t *errors)
{
    static const char *const fields [] = { "type", "path", "occurred_at", "properties", NULL };
    char name [64];
    json_t *local = json_array ();
    json_in_known_keys (event, fields, local);
    bool present;
    activity->type = (char *) json_in_string (event, "type", false, &present, local);
    if (!present)
        json_in_error (local, "type", "is required");
    activity->path = (char *) json_in_string (event, "path", true, &present, local);
    const char *occurred = json_in_string (event, "occurred_at", true, &present, local);
    if (*occurred && clock_parse_ms (occurred, &activity->occurred_at_ms) == -1)
        json_in_error (local, "occurred_at", "must be an RFC 3339 date-time such as 2026-11-25T08:11:10.123Z");
    json_t *properties = json_object_get (event, "properties");
    if (properties && !json_is_null (properties) && !json_is_object (properties))
        json_in_error (local, "properties", "must be a JSON object");
    else
    if (json_is_object (properties))
        activity->properties_json = json_dumps (properties, JSON_COMPACT);
    /* Each error of this event, renamed with the event's place in the batch. */
    size_t index;
    json_t *error;
    json_array_foreach (local, index, error) {
        snprintf (name, sizeof name, "%s%s", prefix,
                  json_string_value (json_object_get (error, "field")));
        json_in_error (errors, name, json_string_value (json_object_get (error, "reason")));
    }
    json_decref (local);
}

void
member_auth_routes_record_activities (http_request_t *request)
{
    json_t *body = json_in_object (request, s_json, false);
    if (!body)
        return;
    json_t *errors = json_array ();
    json_t *events = json_object_get (body, "events");
    bool batch = events != NULL;
    size_t count = 1;
    if (batch) {
        static const char *const fields [] = { "events", NULL };
        json_in_known_keys (body, fields, errors);
        count = json_is_array (events)? json_array_size (events): 0;
        if (!json_is_array (events) || count == 0 || count > ACTIVITY_BATCH_MAX) {
            json_in_error (errors, "events", "must be an array of 1 to 500 events");
            count = 0;
        }
    }
    Kaiin__MemberAuth__Activity *activities = calloc (count? count: 1, sizeof *activities);
    Kaiin__MemberAuth__Activity **pointers = calloc (count? count: 1, sizeof *pointers);
    if (!activities || !pointers) {
        free (activities);
        free (pointers);
        json_decref (errors);
        json_decref (body);
        http_problem (request, 500, "out of memory", NULL, NULL);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        kaiin__member_auth__activity__init (&activities [i]);
        pointers [i] = &activities [i];
        json_t *event = batch? json_array_get (events, i): body;
        char prefix [32] = "";
        if (batch)
            snprintf (prefix, sizeof prefix, "events[%zu].", i);
        if (!json_is_object (event)) {
            snprintf (prefix, sizeof prefix, "events[%zu]", i);
            json_in_error (errors, prefix, "must be a JSON object");
        }
        else
            s_read_event (event, prefix, &activities [i], errors);
    }
    Kaiin__MemberAuth__RecordActivitiesRequest record = KAIIN__MEMBER_AUTH__RECORD_ACTIVITIES_REQUEST__INIT;
    record.member_id = request->param;
    record.activities = pointers;
    record.n_activities = count;
    record.batch = batch;
    snprintf (request->scratch, sizeof request->scratch, "%s", batch? "batch": "single");
    if (!json_in_rejected (request, errors))
        http_call (request, "member", "member.MemberAuthRecordActivities", &record.base, s_on_recorded);
    for (size_t i = 0; i < count; i++)
        if (activities [i].properties_json != protobuf_c_empty_string)
            free (activities [i].properties_json);
    free (activities);
    free (pointers);
    json_decref (body);
}

/* --- history lists ------------------------------------------------------------------------ */

typedef struct {
    bool activities;                /* the activities list (takes "type") */
    int32_t limit;
    const char *cursor, *type;
    int64_t from_ms, to_ms;
    json_t *errors;
} history_query_t;

static enum MHD_Result
s_history_argument (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void) kind;
    history_query_t *query = cls;
    value = value? value: "";
    if (strcmp (key, "limit") == 0) {
        char *end;
        errno = 0;
        long limit = strtol (value, &end, 10);
        if (!*value || *end || errno || limit < 1 || limit > 100)
            json_in_error (query->errors, "limit", "must be an integer from 1 to 100");
        else
            query->limit = (int32_t) limit;
    }
    else
    if (strcmp (key, "cursor") == 0)
        query->cursor = value;
    else
    if (strcmp (key, "from") == 0 || strcmp (key, "to") == 0) {
        int64_t *bound = key [0] == 'f'? &query->from_ms: &query->to_ms;
        if (clock_parse_ms (value, bound) == -1 || *bound <= 0)
            json_in_error (query->errors, key, "must be an RFC 3339 date-time after 1970");
    }
    else
    if (query->activities && strcmp (key, "type") == 0)
        query->type = value;
    else
        json_in_error (query->errors, key, "is not a query parameter of this route");
    return MHD_YES;
}

static void
s_on_logins (http_request_t *request, const ProtobufCBinaryData *payload)
{
    Kaiin__MemberAuth__ListLoginsReply *page = (Kaiin__MemberAuth__ListLoginsReply *) http_unpack (request, &kaiin__member_auth__list_logins_reply__descriptor, payload);
    if (!page)
        return;
    json_t *data = json_array ();
    for (size_t i = 0; i < page->n_logins; i++) {
        const Kaiin__MemberAuth__Login *login = page->logins [i];
        json_array_append_new (data, json_pack ("{s:o, s:s, s:o, s:s, s:s, s:b, s:s}",
            "member_id", json_in_text_or_null (login->member_id), "email", login->email,
            "at", json_in_time_or_null (login->at_ms), "ip", login->ip,
            "user_agent", login->user_agent, "succeeded", login->succeeded,
            "reason", login->reason));
    }
    http_respond_json (request, 200, json_pack ("{s:o, s:o}", "data", data,
                       "next_cursor", json_in_text_or_null (page->next_cursor)));
    kaiin__member_auth__list_logins_reply__free_unpacked (page, NULL);
}

void
member_auth_routes_list_logins (http_request_t *request)
{
    history_query_t query = { false, 0, "", "", 0, 0, json_array () };
    MHD_get_connection_values (request->connection, MHD_GET_ARGUMENT_KIND, s_history_argument, &query);
    if (json_in_rejected (request, query.errors))
        return;
    Kaiin__MemberAuth__ListLoginsRequest list = KAIIN__MEMBER_AUTH__LIST_LOGINS_REQUEST__INIT;
    list.member_id = request->param;
    list.limit = query.limit;
    list.cursor = (char *) query.cursor;
    list.from_ms = query.from_ms;
    list.to_ms = query.to_ms;
    http_call (request, "member", "member.MemberAuthListLogins", &list.base, s_on_logins);
}

static void
s_on_activities (http_request_t *request, const ProtobufCBinaryData *payload)
{
    Kaiin__MemberAuth__ListActivitiesReply *page = (Kaiin__MemberAuth__ListActivitiesReply *) http_unpack (request, &kaiin__member_auth__list_activities_reply__descriptor, payload);
    if (!page)
        return;
    json_t *data = json_array ();
    for (size_t i = 0; i < page->n_activities; i++)
        json_array_append_new (data, s_activity_json (page->activities [i]));
    http_respond_json (request, 200, json_pack ("{s:o, s:o}", "data", data,
                       "next_cursor", json_in_text_or_null (page->next_cursor)));
    kaiin__member_auth__list_activities_reply__free_unpacked (page, NULL);
}

void
member_auth_routes_list_activities (http_request_t *request)
{
    history_query_t query = { true, 0, "", "", 0, 0, json_array () };
    MHD_get_connection_values (request->connection, MHD_GET_ARGUMENT_KIND, s_history_argument, &query);
    if (json_in_rejected (request, query.errors))
        return;
    Kaiin__MemberAuth__ListActivitiesRequest list = KAIIN__MEMBER_AUTH__LIST_ACTIVITIES_REQUEST__INIT;
    list.member_id = request->param;
    list.limit = query.limit;
    list.cursor = (char *) query.cursor;
    list.type = (char *) query.type;
    list.from_ms = query.from_ms;
    list.to_ms = query.to_ms;
    http_call (request, "member", "member.MemberAuthListActivities", &list.base, s_on_activities);
}
