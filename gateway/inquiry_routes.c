/* inquiry_routes.c - /v1/inquiries and /v1/members/{id}/inquiries: JSON in and out,
   inquiry.proto to and from the member service ("member.Inquiry<Verb>") */
#include "inquiry_routes.h"
#include "inquiry.pb-c.h"
#include "json_in.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_json [] = { "application/json", NULL };
static const char *const s_patch_types [] = { "application/json", "application/merge-patch+json", NULL };

static json_t *
s_message_json (const Kaiin__Inquiry__Message *message)
{
    return json_pack ("{s:s, s:s, s:s, s:s, s:o}",
        "id", message->id,
        "author_type", message->author_type,
        "author_id", message->author_id,
        "body", message->body,
        "created_at", json_in_time_or_null (message->created_at_ms));
}

static json_t *
s_inquiry_json (const Kaiin__Inquiry__Inquiry *inquiry)
{
    json_t *messages = json_array ();
    for (size_t i = 0; i < inquiry->n_messages; i++)
        json_array_append_new (messages, s_message_json (inquiry->messages [i]));
    return json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:o}",
        "id", inquiry->id,
        "member_id", inquiry->member_id,
        "subject", inquiry->subject,
        "status", inquiry->status,
        "channel", inquiry->channel,
        "category", inquiry->category,
        "assignee_id", json_in_text_or_null (inquiry->assignee_id),
        "opened_by", inquiry->opened_by,
        "created_at", json_in_time_or_null (inquiry->created_at_ms),
        "updated_at", json_in_time_or_null (inquiry->updated_at_ms),
        "resolved_at", json_in_time_or_null (inquiry->resolved_at_ms),
        "messages", messages);
}

static void
s_unreadable (http_request_t *request)
{
    http_problem (request, 502, "the member service sent a reply that cannot be read", NULL, NULL);
}

/* Answers a reply carrying one inquiry, with its ETag. */
static void
s_respond_inquiry (http_request_t *request, const ProtobufCBinaryData *payload, unsigned int status)
{
    Kaiin__Inquiry__Inquiry *inquiry = (Kaiin__Inquiry__Inquiry *) http_unpack (request, &kaiin__inquiry__inquiry__descriptor, payload);
    if (!inquiry)
        return;
    snprintf (request->etag, sizeof request->etag, "\"%lld\"", (long long) inquiry->version);
    if (status == 201)
        snprintf (request->location, sizeof request->location, "/v1/inquiries/%s", inquiry->id);
    http_respond_json (request, status, s_inquiry_json (inquiry));
    kaiin__inquiry__inquiry__free_unpacked (inquiry, NULL);
}

static void
s_on_opened (http_request_t *request, const ProtobufCBinaryData *payload)
{
    s_respond_inquiry (request, payload, 201);
}

static void
s_on_inquiry (http_request_t *request, const ProtobufCBinaryData *payload)
{
    s_respond_inquiry (request, payload, 200);
}

void
inquiry_routes_open (http_request_t *request)
{
    json_t *body = json_in_object (request, s_json, false);
    if (!body)
        return;
    static const char *const fields [] = { "subject", "body", "channel", "category", "assignee_id", NULL };
    json_t *errors = json_array ();
    json_in_known_keys (body, fields, errors);
    Kaiin__Inquiry__OpenRequest open = KAIIN__INQUIRY__OPEN_REQUEST__INIT;
    open.member_id = request->param;
    open.subject = json_in_required (body, "subject", errors);
    open.body = json_in_required (body, "body", errors);
    open.channel = json_in_required (body, "channel", errors);
    open.category = json_in_required (body, "category", errors);
    bool present;
    open.assignee_id = (char *) json_in_string (body, "assignee_id", true, &present, errors);
    if (!json_in_rejected (request, errors))
        http_call (request, "member", "member.InquiryOpen", &open.base, s_on_opened);
    json_decref (body);
}

void
inquiry_routes_get (http_request_t *request)
{
    Kaiin__Inquiry__GetRequest get = KAIIN__INQUIRY__GET_REQUEST__INIT;
    get.id = request->param;
    http_call (request, "member", "member.InquiryGet", &get.base, s_on_inquiry);
}

static void
s_on_list (http_request_t *request, const ProtobufCBinaryData *payload)
{
    Kaiin__Inquiry__ListReply *page = (Kaiin__Inquiry__ListReply *) http_unpack (request, &kaiin__inquiry__list_reply__descriptor, payload);
    if (!page)
        return;
    json_t *data = json_array ();
    for (size_t i = 0; i < page->n_inquiries; i++)
        json_array_append_new (data, s_inquiry_json (page->inquiries [i]));
    http_respond_json (request, 200, json_pack ("{s:o, s:o}", "data", data,
                                                "next_cursor", json_in_text_or_null (page->next_cursor)));
    kaiin__inquiry__list_reply__free_unpacked (page, NULL);
}

/* The query of a list route: which parameters it takes, read into the request message. */
typedef struct {
    Kaiin__Inquiry__ListRequest *list;
    bool filters;                   /* status, assignee_id, category, channel, q allowed */
    json_t *errors;
} list_query_t;

static enum MHD_Result
s_list_argument (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void) kind;
    list_query_t *query = cls;
    Kaiin__Inquiry__ListRequest *list = query->list;
    value = value? value: "";
    char **filters [] = { &list->status, &list->assignee_id, &list->category, &list->channel, &list->q };
    static const char *const names [] = { "status", "assignee_id", "category", "channel", "q" };
    if (strcmp (key, "limit") == 0) {
        char *end;
        errno = 0;
        long limit = strtol (value, &end, 10);
        if (!*value || *end || errno || limit < 1 || limit > 100)
            json_in_error (query->errors, "limit", "must be an integer from 1 to 100");
        else
            list->limit = (int32_t) limit;
        return MHD_YES;
    }
    if (strcmp (key, "cursor") == 0) {
        list->cursor = (char *) value;
        return MHD_YES;
    }
    for (size_t i = 0; query->filters && i < sizeof names / sizeof names [0]; i++)
        if (strcmp (key, names [i]) == 0) {
            *filters [i] = (char *) value;
            return MHD_YES;
        }
    json_in_error (query->errors, key, "is not a query parameter of this route");
    return MHD_YES;
}

static void
s_list (http_request_t *request, const char *member_id, bool filters)
{
    Kaiin__Inquiry__ListRequest list = KAIIN__INQUIRY__LIST_REQUEST__INIT;
    list.member_id = (char *) member_id;
    list_query_t query = { &list, filters, json_array () };
    MHD_get_connection_values (request->connection, MHD_GET_ARGUMENT_KIND, s_list_argument, &query);
    if (!json_in_rejected (request, query.errors))
        http_call (request, "member", "member.InquiryList", &list.base, s_on_list);
}

void
inquiry_routes_history (http_request_t *request)
{
    s_list (request, request->param, false);
}

void
inquiry_routes_search (http_request_t *request)
{
    s_list (request, "", true);
}

static void
s_on_replied (http_request_t *request, const ProtobufCBinaryData *payload)
{
    Kaiin__Inquiry__ReplyReply *result = kaiin__inquiry__reply_reply__unpack (NULL, payload->len, payload->data);
    if (!result || !result->message) {
        if (result)
            kaiin__inquiry__reply_reply__free_unpacked (result, NULL);
        s_unreadable (request);
        return;
    }
    http_respond_json (request, 201, s_message_json (result->message));
    kaiin__inquiry__reply_reply__free_unpacked (result, NULL);
}

void
inquiry_routes_reply (http_request_t *request)
{
    json_t *body = json_in_object (request, s_json, false);
    if (!body)
        return;
    static const char *const fields [] = { "body", "author_type", "status", NULL };
    json_t *errors = json_array ();
    json_in_known_keys (body, fields, errors);
    Kaiin__Inquiry__ReplyRequest answer = KAIIN__INQUIRY__REPLY_REQUEST__INIT;
    answer.inquiry_id = request->param;
    answer.body = json_in_required (body, "body", errors);
    bool present;
    answer.author_type = (char *) json_in_string (body, "author_type", false, &present, errors);
    answer.status = (char *) json_in_string (body, "status", false, &present, errors);
    if (!json_in_rejected (request, errors))
        http_call (request, "member", "member.InquiryReply", &answer.base, s_on_replied);
    json_decref (body);
}

void
inquiry_routes_update (http_request_t *request)
{
    Kaiin__Inquiry__UpdateRequest update = KAIIN__INQUIRY__UPDATE_REQUEST__INIT;
    if (http_if_match (request, &update.if_version) == -1)
        return;
    json_t *body = json_in_object (request, s_patch_types, false);
    if (!body)
        return;
    static const char *const fields [] = { "status", "assignee_id", "category", "channel", NULL };
    json_t *errors = json_array ();
    json_in_known_keys (body, fields, errors);
    char *mask [4];
    char **values [] = { &update.status, &update.assignee_id, &update.category, &update.channel };
    for (int i = 0; i < 4; i++) {
        bool present;
        /* Only the assignee can be null (unassigned). */
        *values [i] = (char *) json_in_string (body, fields [i], i == 1, &present, errors);
        if (present)
            mask [update.n_update_mask++] = (char *) fields [i];
    }
    update.update_mask = mask;
    update.id = request->param;
    if (!json_in_rejected (request, errors))
        http_call (request, "member", "member.InquiryUpdate", &update.base, s_on_inquiry);
    json_decref (body);
}
