/* member_routes.c - /v1/members: JSON in and out, member.proto to and from the member service */
#include "member_routes.h"
#include "clock.h"
#include "json_in.h"
#include "member.pb-c.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_json [] = { "application/json", NULL };
static const char *const s_patch_types [] = { "application/json", "application/merge-patch+json", NULL };
static const char *const s_profile_fields [] = { "email", "name", "name_kana", "phone", NULL };

static json_t *
s_member_json (const Kaiin__Member__Member *member)
{
    return json_pack ("{s:s, s:s, s:o, s:o, s:o, s:s, s:o, s:o, s:o, s:o}",
        "id", member->id,
        "email", member->email,
        "name", json_in_text_or_null (member->name),
        "name_kana", json_in_text_or_null (member->name_kana),
        "phone", json_in_text_or_null (member->phone),
        "status", member->status,
        "created_at", json_in_time_or_null (member->created_at_ms),
        "updated_at", json_in_time_or_null (member->updated_at_ms),
        "withdrawn_at", json_in_time_or_null (member->withdrawn_at_ms),
        "withdrawn_reason", json_in_text_or_null (member->withdrawn_reason));
}

/* Answers a reply carrying one member, with its ETag. */
static void
s_respond_member (http_request_t *request, const ProtobufCBinaryData *payload, unsigned int status)
{
    Kaiin__Member__Member *member = kaiin__member__member__unpack (NULL, payload->len, payload->data);
    if (!member) {
        http_problem (request, 502, "the member service sent a reply that cannot be read", NULL, NULL);
        return;
    }
    snprintf (request->etag, sizeof request->etag, "\"%lld\"", (long long) member->version);
    if (status == 201)
        snprintf (request->location, sizeof request->location, "/v1/members/%s", member->id);
    http_respond_json (request, status, s_member_json (member));
    kaiin__member__member__free_unpacked (member, NULL);
}

static void
s_on_created (http_request_t *request, const ProtobufCBinaryData *payload)
{
    s_respond_member (request, payload, 201);
}

static void
s_on_member (http_request_t *request, const ProtobufCBinaryData *payload)
{
    s_respond_member (request, payload, 200);
}

void
member_routes_create (http_request_t *request)
{
    json_t *body = json_in_object (request, s_json, false);
    if (!body)
        return;
    json_t *errors = json_array ();
    json_in_known_keys (body, s_profile_fields, errors);
    bool present;
    Kaiin__Member__CreateRequest create = KAIIN__MEMBER__CREATE_REQUEST__INIT;
    create.email = (char *) json_in_string (body, "email", false, &present, errors);
    if (!present)
        json_in_error (errors, "email", "is required");
    create.name = (char *) json_in_string (body, "name", true, &present, errors);
    create.name_kana = (char *) json_in_string (body, "name_kana", true, &present, errors);
    create.phone = (char *) json_in_string (body, "phone", true, &present, errors);
    if (!json_in_rejected (request, errors))
        http_call (request, "member", "member.Create", &create.base, s_on_created);
    json_decref (body);
}

void
member_routes_get (http_request_t *request)
{
    Kaiin__Member__GetRequest get = KAIIN__MEMBER__GET_REQUEST__INIT;
    get.id = request->param;
    http_call (request, "member", "member.Get", &get.base, s_on_member);
}

void
member_routes_update (http_request_t *request)
{
    Kaiin__Member__UpdateRequest update = KAIIN__MEMBER__UPDATE_REQUEST__INIT;
    if (http_if_match (request, &update.if_version) == -1)
        return;
    json_t *body = json_in_object (request, s_patch_types, false);
    if (!body)
        return;
    json_t *errors = json_array ();
    json_in_known_keys (body, s_profile_fields, errors);
    char *mask [4];
    char **values [] = { &update.email, &update.name, &update.name_kana, &update.phone };
    for (int i = 0; i < 4; i++) {
        bool present;
        *values [i] = (char *) json_in_string (body, s_profile_fields [i], i > 0, &present, errors);
        if (present)
            mask [update.n_update_mask++] = (char *) s_profile_fields [i];
    }
    update.update_mask = mask;
    update.id = request->param;
    if (!json_in_rejected (request, errors))
        http_call (request, "member", "member.Update", &update.base, s_on_member);
    json_decref (body);
}

void
member_routes_withdraw (http_request_t *request)
{
    Kaiin__Member__WithdrawRequest withdraw = KAIIN__MEMBER__WITHDRAW_REQUEST__INIT;
    if (http_if_match (request, &withdraw.if_version) == -1)
        return;
    json_t *body = json_in_object (request, s_json, true);
    if (!body)
        return;
    static const char *const fields [] = { "reason", NULL };
    json_t *errors = json_array ();
    json_in_known_keys (body, fields, errors);
    bool present;
    withdraw.reason = (char *) json_in_string (body, "reason", true, &present, errors);
    withdraw.id = request->param;
    if (!json_in_rejected (request, errors))
        http_call (request, "member", "member.Withdraw", &withdraw.base, s_on_member);
    json_decref (body);
}

static void
s_on_list (http_request_t *request, const ProtobufCBinaryData *payload)
{
    Kaiin__Member__ListReply *page = kaiin__member__list_reply__unpack (NULL, payload->len, payload->data);
    if (!page) {
        http_problem (request, 502, "the member service sent a reply that cannot be read", NULL, NULL);
        return;
    }
    json_t *data = json_array ();
    for (size_t i = 0; i < page->n_members; i++)
        json_array_append_new (data, s_member_json (page->members [i]));
    http_respond_json (request, 200, json_pack ("{s:o, s:o}", "data", data,
                                                "next_cursor", json_in_text_or_null (page->next_cursor)));
    kaiin__member__list_reply__free_unpacked (page, NULL);
}

typedef struct {
    Kaiin__Member__ListRequest *list;
    json_t *errors;
} list_query_t;

static enum MHD_Result
s_list_argument (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void) kind;
    list_query_t *query = cls;
    value = value? value: "";
    if (strcmp (key, "limit") == 0) {
        char *end;
        errno = 0;
        long limit = strtol (value, &end, 10);
        if (!*value || *end || errno || limit < 1 || limit > 100)
            json_in_error (query->errors, "limit", "must be an integer from 1 to 100");
        else
            query->list->limit = (int32_t) limit;
    }
    else
    if (strcmp (key, "cursor") == 0)
        query->list->cursor = (char *) value;
    else
    if (strcmp (key, "status") == 0)
        query->list->status = (char *) value;
    else
    if (strcmp (key, "email") == 0)
        query->list->email = (char *) value;
    else
        json_in_error (query->errors, key, "is not a query parameter of this route");
    return MHD_YES;
}

void
member_routes_list (http_request_t *request)
{
    Kaiin__Member__ListRequest list = KAIIN__MEMBER__LIST_REQUEST__INIT;
    list_query_t query = { &list, json_array () };
    MHD_get_connection_values (request->connection, MHD_GET_ARGUMENT_KIND, s_list_argument, &query);
    if (!json_in_rejected (request, query.errors))
        http_call (request, "member", "member.List", &list.base, s_on_list);
}
