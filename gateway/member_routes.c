/* member_routes.c - the /v1/members routes the gateway still serves itself: GET {id} (its read
   path is benchmarked), withdrawal and erasure (they end sessions), CSV import and export, a
   member's data export. The rest are member_http.c's. */
#include "member_routes.h"
#include "clock.h"
#include "json_in.h"
#include "session.h"
#include "member.pb-c.h"
#include "member_csv.pb-c.h"
#include "privacy.pb-c.h"
#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const s_json [] = { "application/json", NULL };

static json_t *
s_consent_json (const Kaiin__Member__Consent *consent)
{
    if (!consent)
        return json_null ();
    return json_pack ("{s:b, s:o, s:s, s:o}", "email_opt_in", consent->email_opt_in,
                      "at", json_in_time_or_null (consent->at_ms), "method", consent->method,
                      "source", json_in_text_or_null (consent->source));
}

json_t *
member_routes_json (const Kaiin__Member__Member *member)
{
    json_t *tags = json_array ();
    for (size_t i = 0; i < member->n_tags; i++)
        json_array_append_new (tags, json_string (member->tags [i]));
    json_t *attributes = json_loads (member->attributes_json, 0, NULL);
    if (!json_is_object (attributes)) {
        json_decref (attributes);
        attributes = json_object ();
    }
    json_t *body = json_pack ("{s:s, s:s, s:o, s:o, s:o, s:s, s:o, s:o, s:o, s:o}",
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
    json_object_update_new (body, json_pack ("{s:o, s:o, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:o}",
        "birthday", json_in_text_or_null (member->birthday),
        "postal_code", json_in_text_or_null (member->postal_code),
        "prefecture", json_in_text_or_null (member->prefecture),
        "address", json_in_text_or_null (member->address),
        "rank", member->rank,
        "tags", tags,
        "attributes", attributes,
        "note", json_in_text_or_null (member->note),
        "marketing_consent", s_consent_json (member->marketing_consent),
        "last_login_at", json_in_time_or_null (member->last_login_at_ms)));
    return body;
}

/* Answers a reply carrying one member, with its ETag. */
static void
s_on_member (http_request_t *request, const ProtobufCBinaryData *payload)
{
    Kaiin__Member__Member *member = (Kaiin__Member__Member *) http_unpack (request, &kaiin__member__member__descriptor, payload);
    if (!member)
        return;
    snprintf (request->etag, sizeof request->etag, "\"%lld\"", (long long) member->version);
    http_respond_json (request, 200, member_routes_json (member));
    kaiin__member__member__free_unpacked (member, NULL);
}

void
member_routes_get (http_request_t *request)
{
    Kaiin__Member__GetRequest get = KAIIN__MEMBER__GET_REQUEST__INIT;
    get.id = request->param;
    http_call (request, "member", "member.Get", &get.base, s_on_member);
}

/* A member who withdraws is signed out everywhere. */
static void
s_on_withdrawn (http_request_t *request, const ProtobufCBinaryData *payload)
{
    Kaiin__Member__Member *member = kaiin__member__member__unpack (NULL, payload->len, payload->data);
    if (member && session_member_revoke (member->id, NULL) == -1) {
        kaiin__member__member__free_unpacked (member, NULL);
        http_problem (request, 503, "the member withdrew, but their sessions could not be ended yet",
                      NULL, NULL);
        return;
    }
    if (member)
        kaiin__member__member__free_unpacked (member, NULL);
    s_on_member (request, payload);
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
        http_call (request, "member", "member.Withdraw", &withdraw.base, s_on_withdrawn);
    json_decref (body);
}

#define LIST_TAGS_MAX  20
#define LIST_ATTRS_MAX 20

typedef struct {
    Kaiin__Member__ListRequest *list;
    json_t *errors;
    char *tags [LIST_TAGS_MAX];
    Kaiin__Member__AttributeFilter filters [LIST_ATTRS_MAX];
    Kaiin__Member__AttributeFilter *filter_ptrs [LIST_ATTRS_MAX];
    char seen [16];                 /* single-valued parameters already given, by index */
    bool export;                    /* the export's parameters: no paging, and "headers" */
    bool english_headers;
} list_query_t;

/* The single-valued parameters of the listing. */
static const char *const s_list_params [] = {
    "limit", "cursor", "status", "email", "q", "rank", "tags_mode", "sort", "created_from",
    "created_to", "last_login_from", "last_login_to", NULL
};

static enum MHD_Result
s_list_argument (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void) kind;
    list_query_t *query = cls;
    Kaiin__Member__ListRequest *list = query->list;
    value = value? value: "";
    if (strcmp (key, "tag") == 0) {
        if (list->n_tags == LIST_TAGS_MAX)
            json_in_error (query->errors, "tag", "may be given at most 20 times");
        else
            query->tags [list->n_tags++] = (char *) value;
        return MHD_YES;
    }
    if (strncmp (key, "attr.", 5) == 0) {
        if (!key [5])
            json_in_error (query->errors, key, "must name an attribute: attr.<key>");
        else
        if (list->n_attributes == LIST_ATTRS_MAX)
            json_in_error (query->errors, key, "at most 20 attribute filters");
        else {
            Kaiin__Member__AttributeFilter *filter = &query->filters [list->n_attributes];
            kaiin__member__attribute_filter__init (filter);
            filter->key = (char *) key + 5;
            filter->value = (char *) value;
            query->filter_ptrs [list->n_attributes++] = filter;
        }
        return MHD_YES;
    }
    if (query->export && strcmp (key, "headers") == 0) {
        if (strcmp (value, "ja") && strcmp (value, "en"))
            json_in_error (query->errors, "headers", "must be ja (the default) or en");
        query->english_headers = strcmp (value, "en") == 0;
        return MHD_YES;
    }
    int index = 0;
    while (s_list_params [index] && strcmp (s_list_params [index], key) != 0)
        index++;
    if (!s_list_params [index] || (query->export && index <= 1)) {      /* limit, cursor */
        json_in_error (query->errors, key, "is not a query parameter of this route");
        return MHD_YES;
    }
    if (query->seen [index]++) {
        json_in_error (query->errors, key, "may be given once");
        return MHD_YES;
    }
    if (strcmp (key, "limit") == 0) {
        char *end;
        errno = 0;
        long limit = strtol (value, &end, 10);
        if (!*value || *end || errno || limit < 1 || limit > 100)
            json_in_error (query->errors, "limit", "must be an integer from 1 to 100");
        else
            list->limit = (int32_t) limit;
    }
    else
    if (strncmp (key, "created_", 8) == 0 || strncmp (key, "last_login_", 11) == 0) {
        int64_t *bound = strcmp (key, "created_from") == 0? &list->created_from_ms
                       : strcmp (key, "created_to") == 0? &list->created_to_ms
                       : strcmp (key, "last_login_from") == 0? &list->last_login_from_ms
                       : &list->last_login_to_ms;
        if (clock_parse_ms (value, bound) == -1)
            json_in_error (query->errors, key, "must be an RFC 3339 date-time, e.g. 2026-04-01T00:00:00+09:00");
    }
    else
    if (strcmp (key, "sort") == 0) {
        if (strcmp (value, "created_at") && strcmp (value, "-created_at") && strcmp (value, "name_kana")
        &&  strcmp (value, "-name_kana"))
            json_in_error (query->errors, "sort", "must be one of created_at, -created_at, name_kana, -name_kana");
        else
            list->sort = (char *) value;
    }
    else {
        char **fields [] = { NULL, &list->cursor, &list->status, &list->email, &list->q, &list->rank,
                             &list->tags_mode };
        *fields [index] = (char *) value;
    }
    return MHD_YES;
}

/* --- CSV import and export ----------------------------------------------------------------- */

static void
s_on_imported (http_request_t *request, const ProtobufCBinaryData *payload)
{
    Kaiin__MemberCsv__ImportReply *report = (Kaiin__MemberCsv__ImportReply *) http_unpack (request, &kaiin__member_csv__import_reply__descriptor, payload);
    if (!report)
        return;
    json_t *errors = json_array ();
    for (size_t i = 0; i < report->n_errors; i++)
        json_array_append_new (errors, json_pack ("{s:i, s:s, s:s}", "row", report->errors [i]->row,
                               "column", report->errors [i]->column, "reason", report->errors [i]->reason));
    json_t *body = json_pack ("{s:s, s:b, s:b, s:i, s:i, s:i, s:i, s:o}",
        "charset", report->charset, "dry_run", request->scratch [0] == 'd', "applied", report->applied,
        "rows", report->rows, "created", report->created, "updated", report->updated,
        "rejected", report->rejected, "errors", errors);
    /* Refused as a whole (all-or-nothing met a bad row, or the file itself is wrong): 422. */
    bool refused = !report->applied && request->scratch [0] != 'd' && report->n_errors > 0;
    if (refused) {
        json_t *problem = json_pack ("{s:s, s:s, s:i, s:s, s:s, s:s}",
            "type", "/problems/import-refused", "title", "The import was refused", "status", 422,
            "detail", "rows were rejected, so nothing was imported (mode=partial imports the others)",
            "instance", request->path, "request_id", request->request_id);
        json_object_update (problem, body);
        json_decref (body);
        char *text = json_dumps (problem, JSON_COMPACT);
        json_decref (problem);
        http_respond_text (request, 422, "application/problem+json", text, strlen (text));
        free (text);
    }
    else
        http_respond_json (request, 200, body);
    kaiin__member_csv__import_reply__free_unpacked (report, NULL);
}

static enum MHD_Result
s_import_argument (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void) kind;
    void **context = cls;
    Kaiin__MemberCsv__ImportRequest *import = context [0];
    json_t *errors = context [1];
    value = value? value: "";
    if (strcmp (key, "dry_run") == 0) {
        if (strcmp (value, "true") && strcmp (value, "false"))
            json_in_error (errors, "dry_run", "must be true or false");
        import->dry_run = strcmp (value, "true") == 0;
    }
    else
    if (strcmp (key, "mode") == 0) {
        if (strcmp (value, "all_or_nothing") && strcmp (value, "partial"))
            json_in_error (errors, "mode", "must be all_or_nothing (the default) or partial");
        import->partial = strcmp (value, "partial") == 0;
    }
    else
        json_in_error (errors, key, "is not a query parameter of this route");
    return MHD_YES;
}

void
member_routes_import (http_request_t *request)
{
    static const char *const types [] = { "text/csv", "application/csv", "application/vnd.ms-excel",
                                          "application/octet-stream", "text/plain", NULL };
    if (!json_in_media_type_ok (http_header (request, "Content-Type"), types)) {
        http_problem (request, 415, "send the file as text/csv", NULL, NULL);
        return;
    }
    Kaiin__MemberCsv__ImportRequest import = KAIIN__MEMBER_CSV__IMPORT_REQUEST__INIT;
    json_t *errors = json_array ();
    void *context [] = { &import, errors };
    MHD_get_connection_values (request->connection, MHD_GET_ARGUMENT_KIND, s_import_argument, context);
    if (json_in_rejected (request, errors))
        return;
    import.csv.data = (uint8_t *) request->body;
    import.csv.len = request->body_size;
    snprintf (request->scratch, sizeof request->scratch, "%s", import.dry_run? "dry": "");
    request->timeout_ms = 120 * 1000;
    http_call (request, "member", "member.Import", &import.base, s_on_imported);
}

static void
s_on_exported (http_request_t *request, const ProtobufCBinaryData *payload)
{
    Kaiin__MemberCsv__ExportReply *export = (Kaiin__MemberCsv__ExportReply *) http_unpack (request, &kaiin__member_csv__export_reply__descriptor, payload);
    if (!export)
        return;
    http_respond_text (request, 200, "text/csv; charset=utf-8", (const char *) export->csv.data,
                       export->csv.len);
    char disposition [96], stamp [40];
    clock_format_ms (clock_now_ms (), stamp, sizeof stamp);
    snprintf (disposition, sizeof disposition, "attachment; filename=\"members-%.4s%.2s%.2s.csv\"",
              stamp, stamp + 5, stamp + 8);
    MHD_add_response_header (request->response, "Content-Disposition", disposition);
    char count [16];
    snprintf (count, sizeof count, "%d", export->count);
    MHD_add_response_header (request->response, "X-Total-Count", count);
    kaiin__member_csv__export_reply__free_unpacked (export, NULL);
}

void
member_routes_export (http_request_t *request)
{
    Kaiin__Member__ListRequest list = KAIIN__MEMBER__LIST_REQUEST__INIT;
    list_query_t query = { .list = &list, .errors = json_array (), .export = true };
    list.tags = query.tags;
    list.attributes = query.filter_ptrs;
    MHD_get_connection_values (request->connection, MHD_GET_ARGUMENT_KIND, s_list_argument, &query);
    if (json_in_rejected (request, query.errors))
        return;
    Kaiin__MemberCsv__ExportRequest export = KAIIN__MEMBER_CSV__EXPORT_REQUEST__INIT;
    export.query = &list;
    export.english_headers = query.english_headers;
    request->timeout_ms = 60 * 1000;
    http_call (request, "member", "member.Export", &export.base, s_on_exported);
}

/* --- data rights (APPI) -------------------------------------------------------------------- */

static void
s_on_data_export (http_request_t *request, const ProtobufCBinaryData *payload)
{
    Kaiin__Privacy__DataExportReply *export = (Kaiin__Privacy__DataExportReply *) http_unpack (request, &kaiin__privacy__data_export_reply__descriptor, payload);
    if (!export)
        return;
    http_respond_text (request, 200, "application/json", export->json, strlen (export->json));
    kaiin__privacy__data_export_reply__free_unpacked (export, NULL);
}

void
member_routes_data_export (http_request_t *request)
{
    Kaiin__Privacy__DataExportRequest export = KAIIN__PRIVACY__DATA_EXPORT_REQUEST__INIT;
    export.id = request->param;
    http_call (request, "member", "member.DataExport", &export.base, s_on_data_export);
}

void
member_routes_erase (http_request_t *request)
{
    json_t *body = json_in_object (request, s_json, true);
    if (!body)
        return;
    static const char *const fields [] = { "reason", NULL };
    json_t *errors = json_array ();
    json_in_known_keys (body, fields, errors);
    bool present;
    Kaiin__Privacy__EraseRequest erase = KAIIN__PRIVACY__ERASE_REQUEST__INIT;
    erase.reason = (char *) json_in_string (body, "reason", true, &present, errors);
    erase.id = request->param;
    if (!json_in_rejected (request, errors))
        http_call (request, "member", "member.Erase", &erase.base, s_on_withdrawn);
    json_decref (body);
}
