/* timeline.c - the member-360 timeline: GET /v1/members/{id}/timeline */
#include "timeline.h"
#include "analytics.h"
#include "analytics.pb-c.h"
#include "pg_row.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_DEFAULT 20
#define PAGE_MAX 100

void
timeline_prepare (pg_t *db)
{
    pg_prepare (db, "timeline_page",
            "select occurred_at_ms, type, source, summary, object_id, seq from timeline"
            " where member_id = $1 and (occurred_at_ms, source, seq) < ($2::bigint, $3, $4::bigint)"
            " order by occurred_at_ms desc, source desc, seq desc limit $5");
    pg_prepare (db, "timeline_member",
            "select exists (select 1 from members where member_id = $1)"
            " or exists (select 1 from timeline where member_id = $1)");
}

/* Reads a cursor "<occurred_at_ms>.<source>.<seq>" into its parts. Returns 0 or -1. */
static int
s_cursor_parse (const char *cursor, char at [24], char source [32], char seq [24])
{
    const char *dot1 = strchr (cursor, '.');
    const char *dot2 = dot1? strchr (dot1 + 1, '.'): NULL;
    if (!dot2 || dot1 == cursor || dot1 - cursor > 19 || dot2 - dot1 - 1 < 1 || dot2 - dot1 - 1 > 30
    ||  strlen (dot2 + 1) < 1 || strlen (dot2 + 1) > 19)
        return -1;
    for (const char *c = cursor; c < dot1; c++)
        if (!isdigit ((unsigned char) *c))
            return -1;
    for (const char *c = dot1 + 1; c < dot2; c++)
        if (!islower ((unsigned char) *c))
            return -1;
    for (const char *c = dot2 + 1; *c; c++)
        if (!isdigit ((unsigned char) *c))
            return -1;
    snprintf (at, 24, "%.*s", (int) (dot1 - cursor), cursor);
    snprintf (source, 32, "%.*s", (int) (dot2 - dot1 - 1), dot1 + 1);
    snprintf (seq, 24, "%s", dot2 + 1);
    return 0;
}

int
timeline_member_known (svc_request_t *request, svc_reply_t *reply, const char *member_id)
{
    const char *id [] = { member_id };
    PGresult *result = pg_run (request->db, "timeline_member", 1, id);
    if (!result)
        return svc_db_fail (reply, request->db);
    bool known = strcmp (PQgetvalue (result, 0, 0), "t") == 0;
    PQclear (result);
    return known? 0: svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "member not found");
}

int
timeline_api_list (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Analytics__TimelineRequest *list = (Kaiin__Analytics__TimelineRequest *)
        svc_unpack (request, &kaiin__analytics__timeline_request__descriptor, reply);
    if (!list)
        return -1;
    int rc = -1;
    PGresult *result = NULL;
    Kaiin__Analytics__TimelineReply page = KAIIN__ANALYTICS__TIMELINE_REPLY__INIT;
    char at [24] = "9223372036854775807", source [32] = "", seq [24] = "0", limit [16];
    int size = list->limit? list->limit: PAGE_DEFAULT;
    if (size < 1 || size > PAGE_MAX)
        svc_field_error (reply, "limit", "must be from 1 to %d", PAGE_MAX);
    if (*list->cursor && s_cursor_parse (list->cursor, at, source, seq) == -1)
        svc_field_error (reply, "cursor", "is not a cursor this list gave");
    if (reply->status != KAIIN__STATUS__OK)
        goto done;
    if (timeline_member_known (request, reply, list->member_id) == -1)
        goto done;
    snprintf (limit, sizeof limit, "%d", size + 1);
    const char *params [] = { list->member_id, at, source, seq, limit };
    if (!(result = pg_run (request->db, "timeline_page", 5, params))) {
        svc_db_fail (reply, request->db);
        goto done;
    }
    int rows = PQntuples (result);
    for (int row = 0; row < rows && row < size; row++)
        pg_row_append ((void ***) &page.entries, &page.n_entries,
                       pg_row_message (result, row, &kaiin__analytics__timeline_entry__descriptor));
    char next [96] = "";
    if (rows > size)
        snprintf (next, sizeof next, "%s.%s.%s", PQgetvalue (result, size - 1, 0),
                  PQgetvalue (result, size - 1, 2), PQgetvalue (result, size - 1, 5));
    page.next_cursor = next;
    rc = svc_reply_with (reply, &page.base);
    page.next_cursor = NULL;
done:
    PQclear (result);
    for (size_t i = 0; i < page.n_entries; i++)
        protobuf_c_message_free_unpacked (&page.entries [i]->base, NULL);
    free (page.entries);
    protobuf_c_message_free_unpacked (&list->base, NULL);
    return rc;
}
