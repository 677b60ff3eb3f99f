/* audit_routes.c - GET /v1/audit-log */
#include "audit_routes.h"
#include "audit.pb-c.h"
#include "json_in.h"
#include "clock.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void
s_on_list (http_request_t *request, const ProtobufCBinaryData *payload)
{
    Kaiin__Audit__ListReply *page = (Kaiin__Audit__ListReply *) http_unpack (request, &kaiin__audit__list_reply__descriptor, payload);
    if (!page)
        return;
    json_t *data = json_array ();
    for (size_t i = 0; i < page->n_entries; i++) {
        const Kaiin__Audit__Entry *entry = page->entries [i];
        json_t *changes = json_loads (entry->changes_json, 0, NULL);
        json_array_append_new (data, json_pack ("{s:I, s:o, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s}",
            "seq", (json_int_t) entry->seq, "at", json_in_time_or_null (entry->at_ms),
            "actor_id", entry->actor_id, "actor_role", entry->actor_role, "action", entry->action,
            "target_type", entry->target_type, "target_id", entry->target_id,
            "changes", changes? changes: json_object (), "request_id", entry->request_id,
            "ip", entry->ip));
    }
    http_respond_json (request, 200, json_pack ("{s:o, s:o}", "data", data,
                       "next_cursor", json_in_text_or_null (page->next_cursor)));
    kaiin__audit__list_reply__free_unpacked (page, NULL);
}

typedef struct {
    Kaiin__Audit__ListRequest *list;
    json_t *errors;
} query_t;

static enum MHD_Result
s_argument (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void) kind;
    query_t *query = cls;
    Kaiin__Audit__ListRequest *list = query->list;
    value = value? value: "";
    if (strcmp (key, "limit") == 0) {
        char *end;
        errno = 0;
        long limit = strtol (value, &end, 10);
        if (!*value || *end || errno || limit < 1 || limit > 200)
            json_in_error (query->errors, "limit", "must be an integer from 1 to 200");
        else
            list->limit = (int32_t) limit;
    }
    else
    if (strcmp (key, "from") == 0 || strcmp (key, "to") == 0) {
        int64_t *bound = key [0] == 'f'? &list->from_ms: &list->to_ms;
        if (clock_parse_ms (value, bound) == -1)
            json_in_error (query->errors, key, "must be an RFC 3339 time such as 2026-11-25T09:00:00+09:00");
    }
    else
    if (strcmp (key, "cursor") == 0)
        list->cursor = (char *) value;
    else
    if (strcmp (key, "actor_id") == 0)
        list->actor_id = (char *) value;
    else
    if (strcmp (key, "action") == 0)
        list->action = (char *) value;
    else
    if (strcmp (key, "target_type") == 0)
        list->target_type = (char *) value;
    else
    if (strcmp (key, "target_id") == 0)
        list->target_id = (char *) value;
    else
        json_in_error (query->errors, key, "is not a query parameter of this route");
    return MHD_YES;
}

void
audit_routes_list (http_request_t *request)
{
    Kaiin__Audit__ListRequest list = KAIIN__AUDIT__LIST_REQUEST__INIT;
    query_t query = { &list, json_array () };
    MHD_get_connection_values (request->connection, MHD_GET_ARGUMENT_KIND, s_argument, &query);
    if (!json_in_rejected (request, query.errors))
        http_call (request, "member", "member.AuditList", &list.base, s_on_list);
}
