/* segment.c - segments: saved, named filters over the members messaging knows (filter.h), their
   live counts, and the members a campaign sends to */
#include "segment.h"
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define SEGMENT_COLUMNS "id, name, filter::text as filter_json, created_at_ms, updated_at_ms, version, seq"

void
segment_prepare (pg_t *db)
{
    pg_prepare (db, "segment_insert",
            "insert into segments (name, filter, created_at_ms, updated_at_ms)"
            " values ($1, $2::jsonb, $3, $3) returning " SEGMENT_COLUMNS);
    pg_prepare (db, "segment_get",
            "select " SEGMENT_COLUMNS " from segments where id = $1 and not deleted");
    pg_prepare (db, "segment_list",
            "select " SEGMENT_COLUMNS " from segments where not deleted and seq < $1"
            " order by seq desc limit $2");
    pg_prepare (db, "segment_update",
            "update segments set name = $2, filter = $3::jsonb, updated_at_ms = $4, version = version + 1"
            " where id = $1 and not deleted and ($5::bigint = 0 or version = $5)"
            " returning " SEGMENT_COLUMNS);
    pg_prepare (db, "segment_in_use",
            "select 1 from campaigns where segment_id = $1"
            " and status in ('draft', 'scheduled', 'sending', 'paused') limit 1");
    pg_prepare (db, "segment_delete",
            "update segments set deleted = true, updated_at_ms = $2, version = version + 1"
            " where id = $1 and not deleted returning " SEGMENT_COLUMNS);
    pg_prepare (db, "segment_count",
            "select count(*) from segment_members ($1, $2::jsonb)");
    pg_prepare (db, "segment_member_page",
            "select s.id::text from segment_members ($1, $2::jsonb) as s (id)"
            " where $3 = '' or s.id > $3::uuid order by s.id limit $4");
}

/* filter_json compiled into out; else its errors on reply (field "filter", or the bad node's
   path). Returns 0 or -1. */
static int
s_compile (svc_reply_t *reply, const char *filter_json, int64_t now_ms, filter_sql_t *out)
{
    json_t *filter = json_loads (filter_json, 0, NULL);
    pb_json_errors_t errors;
    int rc = 0;
    if (!json_is_object (filter)) {
        svc_field_error (reply, "filter", "must be a JSON object");
        rc = -1;
    }
    else
    if (filter_compile (filter, now_ms, out, &errors, reply->japanese) == -1) {
        for (size_t i = 0; i < errors.count; i++)
            svc_field_error_coded (reply, errors.list [i].field, errors.list [i].code, errors.list [i].reason);
        rc = -1;
    }
    json_decref (filter);
    return rc;
}

/* Field errors for a segment as it would be saved. */
static void
s_check (svc_reply_t *reply, const Kaiin__Messaging__Segment *segment, int64_t now_ms)
{
    messaging_check_text (reply, "name", segment->name, 100, false);
    filter_sql_t compiled;
    if (s_compile (reply, segment->filter_json, now_ms, &compiled) == 0)
        filter_sql_clear (&compiled);
}

static int
s_reply (svc_request_t *request, svc_reply_t *reply, const char *name, int count, const char *const *params)
{
    return messaging_reply_row (request, reply, name, count, params,
                                &kaiin__messaging__segment__descriptor, "segment not found");
}

int
segment_api_create (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__Segment *segment = (Kaiin__Messaging__Segment *)
        svc_unpack (request, &kaiin__messaging__segment__descriptor, reply);
    if (!segment)
        return -1;
    int64_t now_ms = messaging_now (request);
    s_check (reply, segment, now_ms);
    int rc = -1;
    if (reply->status == KAIIN__STATUS__OK) {
        char now [24];
        const char *params [] = { segment->name, segment->filter_json, NUM (now, now_ms) };
        rc = s_reply (request, reply, "segment_insert", 3, params);
    }
    protobuf_c_message_free_unpacked (&segment->base, NULL);
    return rc;
}

int
segment_api_get (svc_request_t *request, svc_reply_t *reply)
{
    return messaging_reply_by_id (request, reply, "segment_get", &kaiin__messaging__segment__descriptor,
                                  "segment not found");
}

int
segment_api_list (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__ListRequest *list = (Kaiin__Messaging__ListRequest *)
        svc_unpack (request, &kaiin__messaging__list_request__descriptor, reply);
    if (!list)
        return -1;
    const char *params [2];
    int rc = messaging_reply_list (request, reply, "segment_list", 2, params, list,
                                   &kaiin__messaging__segment_list__descriptor);
    protobuf_c_message_free_unpacked (&list->base, NULL);
    return rc;
}

/* The segment id as it is, or NULL with NOT_FOUND (or a database error) on reply. The caller
   frees it. */
static Kaiin__Messaging__Segment *
s_load (svc_request_t *request, svc_reply_t *reply, const char *id)
{
    const char *params [] = { id };
    PGresult *result = messaging_uuid (id)? messaging_run (request, reply, "segment_get", 1, params): NULL;
    Kaiin__Messaging__Segment *segment = result && PQntuples (result)
        ? (Kaiin__Messaging__Segment *) pg_row_message (result, 0, &kaiin__messaging__segment__descriptor)
        : NULL;
    if (!segment && reply->status == KAIIN__STATUS__OK)
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "segment not found");
    PQclear (result);
    return segment;
}

int
segment_api_update (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__SegmentUpdateRequest *update = (Kaiin__Messaging__SegmentUpdateRequest *)
        svc_unpack (request, &kaiin__messaging__segment_update_request__descriptor, reply);
    if (!update)
        return -1;
    Kaiin__Messaging__Segment *now = s_load (request, reply, update->id);
    int rc = -1;
    if (now) {
        Kaiin__Messaging__Segment merged = *now;
        const Kaiin__Messaging__Segment *change = update->segment;
        if (change) {
            if (SVC_MASKED (update, "name")) merged.name = change->name;
            if (SVC_MASKED (update, "filter")) merged.filter_json = change->filter_json;
        }
        int64_t now_ms = messaging_now (request);
        s_check (reply, &merged, now_ms);
        if (reply->status == KAIIN__STATUS__OK) {
            char at [24], version [24];
            const char *params [] = { update->id, merged.name, merged.filter_json, NUM (at, now_ms),
                                      NUM (version, update->if_version) };
            rc = messaging_reply_changed (request, reply, "segment_update", 5, params,
                                          &kaiin__messaging__segment__descriptor,
                                          "the segment was changed meanwhile");
        }
        protobuf_c_message_free_unpacked (&now->base, NULL);
    }
    protobuf_c_message_free_unpacked (&update->base, NULL);
    return rc;
}

int
segment_api_delete (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__IdRequest *get = (Kaiin__Messaging__IdRequest *)
        svc_unpack (request, &kaiin__messaging__id_request__descriptor, reply);
    if (!get)
        return -1;
    int rc = -1;
    const char *params [] = { get->id };
    PGresult *used = messaging_uuid (get->id)? messaging_run (request, reply, "segment_in_use", 1, params): NULL;
    if (!messaging_uuid (get->id))
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "segment not found");
    else
    if (used && PQntuples (used))
        svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION,
                  "a campaign not yet sent or canceled sends to this segment");
    else
    if (used) {
        char now [24];
        const char *deleted [] = { get->id, NUM (now, messaging_now (request)) };
        rc = s_reply (request, reply, "segment_delete", 2, deleted);
    }
    PQclear (used);
    protobuf_c_message_free_unpacked (&get->base, NULL);
    return rc;
}

int
segment_usable (pg_t *db, const char *id)
{
    return messaging_exists (db, "segment_get", id);
}

int
segment_compiled (pg_t *db, const char *id, int64_t now_ms, filter_sql_t *out)
{
    memset (out, 0, sizeof *out);
    if (!messaging_uuid (id))
        return 1;
    const char *params [] = { id };
    PGresult *result = pg_run (db, "segment_get", 1, params);
    if (!result)
        return -1;
    int rc = 1;
    json_t *filter = PQntuples (result)
        ? json_loads (PQgetvalue (result, 0, PQfnumber (result, "filter_json")), 0, NULL): NULL;
    pb_json_errors_t errors;
    if (filter)                         /* it passed when it was saved */
        rc = filter_compile (filter, now_ms, out, &errors, false) == 0? 0: 1;
    json_decref (filter);
    PQclear (result);
    return rc;
}

int
segment_api_count (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__SegmentCountRequest *count = (Kaiin__Messaging__SegmentCountRequest *)
        svc_unpack (request, &kaiin__messaging__segment_count_request__descriptor, reply);
    if (!count)
        return -1;
    int64_t now_ms = messaging_now (request);
    filter_sql_t compiled = { NULL, NULL };
    int rc = -1;
    if (*count->id) {
        int found = segment_compiled (request->db, count->id, now_ms, &compiled);
        if (found == -1)
            svc_db_fail (reply, request->db);
        else
        if (found == 1)
            svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "segment not found");
    }
    else
        s_compile (reply, count->filter_json, now_ms, &compiled);
    if (reply->status == KAIIN__STATUS__OK) {
        const char *params [] = { compiled.sql, compiled.params };
        PGresult *result = messaging_run (request, reply, "segment_count", 2, params);
        if (result) {
            Kaiin__Messaging__SegmentCount answer = KAIIN__MESSAGING__SEGMENT_COUNT__INIT;
            answer.count = atoll (PQgetvalue (result, 0, 0));
            answer.at_ms = now_ms;
            rc = svc_reply_with (reply, &answer.base);
        }
        PQclear (result);
    }
    filter_sql_clear (&compiled);
    protobuf_c_message_free_unpacked (&count->base, NULL);
    return rc;
}

int
segment_api_members (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__SegmentMembersRequest *page = (Kaiin__Messaging__SegmentMembersRequest *)
        svc_unpack (request, &kaiin__messaging__segment_members_request__descriptor, reply);
    if (!page)
        return -1;
    int64_t now_ms = messaging_now (request);
    int limit = page->limit? page->limit: 20;
    filter_sql_t compiled = { NULL, NULL };
    int rc = -1;
    if (*page->cursor && !messaging_uuid (page->cursor))
        svc_field_error (reply, "cursor", "must be a next_cursor this route returned");
    else {
        int found = segment_compiled (request->db, page->id, now_ms, &compiled);
        if (found == -1)
            svc_db_fail (reply, request->db);
        else
        if (found == 1)
            svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "segment not found");
    }
    if (reply->status == KAIIN__STATUS__OK) {
        char one_more [24];
        const char *params [] = { compiled.sql, compiled.params, page->cursor, NUM (one_more, limit + 1) };
        PGresult *result = messaging_run (request, reply, "segment_member_page", 4, params);
        if (result) {
            int rows = PQntuples (result);
            int shown = rows > limit? limit: rows;
            char **ids = calloc ((size_t) shown + 1, sizeof *ids);
            assert (ids);
            for (int i = 0; i < shown; i++)
                ids [i] = PQgetvalue (result, i, 0);
            Kaiin__Messaging__SegmentMembers answer = KAIIN__MESSAGING__SEGMENT_MEMBERS__INIT;
            answer.member_ids = ids;
            answer.n_member_ids = (size_t) shown;
            answer.next_cursor = rows > limit? ids [shown - 1]: "";
            answer.at_ms = now_ms;
            rc = svc_reply_with (reply, &answer.base);
            free (ids);
        }
        PQclear (result);
    }
    filter_sql_clear (&compiled);
    protobuf_c_message_free_unpacked (&page->base, NULL);
    return rc;
}
