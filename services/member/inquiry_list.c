/* inquiry_list.c - finding inquiries: by member, status, assignee, category and channel, by
   text in their subjects and messages; newest first, a page with its threads */
#include "inquiry_list.h"
#include "inquiry.h"
#include "member_record.h"
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define QUERY_MAX_CHARS     200
#define LIST_DEFAULT        20
#define LIST_MAX            100

/* The list's filters, $2..$6 (NULL: any); $1 the position to go below, $7 how many. */
#define LIST_WHERE \
    " where seq < $1 and ($2::uuid is null or member_id = $2::uuid)" \
    " and ($3::text is null or status = $3) and ($4::uuid is null or assignee_id = $4::uuid)" \
    " and ($5::text is null or category = $5) and ($6::text is null or channel = $6)"

void
inquiry_list_prepare (pg_t *db)
{
    pg_prepare (db, "inquiry_threads",
            "select " INQUIRY_MESSAGE_COLUMNS " from inquiry_messages where inquiry_id = any ($1::uuid [])"
            " order by inquiry_id, seq");
    pg_prepare (db, "inquiry_list",
            "select " INQUIRY_COLUMNS " from inquiries" LIST_WHERE " order by seq desc limit $7");
    /* With q ($8, an ILIKE pattern): the inquiries whose subject or any message matches. */
    pg_prepare (db, "inquiry_search",
            "select " INQUIRY_COLUMNS " from inquiries" LIST_WHERE
            " and seq in (select seq from inquiries where subject ilike $8"
            "             union select i.seq from inquiry_messages m join inquiries i on i.id = m.inquiry_id"
            "             where m.body ilike $8)"
            " order by seq desc limit $7");
}

/* Cursors are "i" and the last position in hex: opaque to clients, checked strictly here.
   Returns 0 (*before_seq 0 for the first page) or -1. */
static int
s_cursor_decode (const char *cursor, int64_t *before_seq)
{
    *before_seq = 0;
    if (!*cursor)
        return 0;
    size_t length = strlen (cursor);
    if (cursor [0] != 'i' || length < 2 || length > 16
    ||  strspn (cursor + 1, "0123456789abcdef") != length - 1)
        return -1;
    *before_seq = (int64_t) strtoull (cursor + 1, NULL, 16);
    return *before_seq > 0? 0: -1;
}

/* An empty filter matches everything: NULL for the statement. */
static const char *
s_filter (const char *value)
{
    return *value? value: NULL;
}

/* Returns a new ILIKE pattern matching text anywhere: its %, _ and \ taken literally. */
static char *
s_like_pattern (const char *text)
{
    char *pattern = malloc (strlen (text) * 2 + 3);
    assert (pattern);
    char *out = pattern;
    *out++ = '%';
    for (const char *c = text; *c; c++) {
        if (*c == '%' || *c == '_' || *c == '\\')
            *out++ = '\\';
        *out++ = *c;
    }
    *out++ = '%';
    *out = 0;
    return pattern;
}

/* Loads the threads of every inquiry of the page with one query. Returns 0 or -1. */
static int
s_load_threads (pg_t *db, Kaiin__Inquiry__ListReply *page)
{
    if (page->n_inquiries == 0)
        return 0;
    size_t size = page->n_inquiries * 37 + 3;
    char *ids = malloc (size);
    assert (ids);
    size_t used = 0;
    ids [used++] = '{';
    for (size_t i = 0; i < page->n_inquiries; i++)
        used += snprintf (ids + used, size - used, "%s%s", i? ",": "", page->inquiries [i]->id);
    snprintf (ids + used, size - used, "}");
    const char *params [] = { ids };
    PGresult *result = pg_run (db, "inquiry_threads", 1, params);
    free (ids);
    if (!result)
        return -1;
    Kaiin__Inquiry__Inquiry *current = NULL;
    for (int row = 0; row < PQntuples (result); row++) {
        Kaiin__Inquiry__Message *message = (Kaiin__Inquiry__Message *)
            pg_row_message (result, row, &kaiin__inquiry__message__descriptor);
        if (!current || strcmp (current->id, message->inquiry_id) != 0) {
            current = NULL;
            for (size_t i = 0; i < page->n_inquiries && !current; i++)
                if (strcmp (page->inquiries [i]->id, message->inquiry_id) == 0)
                    current = page->inquiries [i];
            assert (current);
        }
        pg_row_append ((void ***) &current->messages, &current->n_messages, message);
    }
    PQclear (result);
    return 0;
}

/* A page of up to limit inquiries matching the list's filters (q the raw search text), newest
   first, each with its thread, from before the position before_seq (0: from the newest), and
   its next cursor: *page, which the caller frees also when the threads could not be read. */
static member_rc_t
s_list (pg_t *db, const Kaiin__Inquiry__ListRequest *list, int64_t before_seq, int limit,
        Kaiin__Inquiry__ListReply **page)
{
    char before [24], fetch [24];
    char *pattern = *list->q? s_like_pattern (list->q): NULL;
    const char *params [] = { NUM (before, before_seq? before_seq: INT64_MAX), s_filter (list->member_id),
                              s_filter (list->status), s_filter (list->assignee_id),
                              s_filter (list->category), s_filter (list->channel),
                              NUM (fetch, limit + 1), pattern };   /* one more: are there more? */
    PGresult *result = pattern? pg_run (db, "inquiry_search", 8, params)
                              : pg_run (db, "inquiry_list", 7, params);
    free (pattern);
    if (!result)
        return MEMBER_ERROR;
    *page = (Kaiin__Inquiry__ListReply *)
        member_page (result, limit, &kaiin__inquiry__list_reply__descriptor, "inquiries", 'i');
    PQclear (result);
    return s_load_threads (db, *page) == 0? MEMBER_OK: MEMBER_ERROR;
}

int
inquiry_api_list (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Inquiry__ListRequest *list = (Kaiin__Inquiry__ListRequest *)
        svc_unpack (request, &kaiin__inquiry__list_request__descriptor, reply);
    if (!list)
        return -1;
    int64_t before_seq;
    int limit = list->limit? list->limit: LIST_DEFAULT;
    if (limit < 1 || limit > LIST_MAX)
        svc_field_error (reply, "limit", "must be from 1 to %d", LIST_MAX);
    if (s_cursor_decode (list->cursor, &before_seq) == -1)
        svc_field_error (reply, "cursor", "is not a cursor this API returned");
    inquiry_check_enum (reply, "status", list->status, inquiry_statuses, false);
    inquiry_check_enum (reply, "category", list->category, inquiry_categories, false);
    inquiry_check_enum (reply, "channel", list->channel, inquiry_channels, false);
    if (*list->assignee_id && !member_uuid (list->assignee_id))
        svc_field_error (reply, "assignee_id", "must be a staff id");
    if (*list->q) {
        long length = inquiry_text_length (list->q, false);
        if (length < 0 || length > QUERY_MAX_CHARS)
            svc_field_error (reply, "q", "must be 1 to %d characters of text", QUERY_MAX_CHARS);
    }
    int rc = -1;
    if (reply->status != KAIIN__STATUS__OK)
        ;
    else
    if (*list->member_id && member_record_require (request, reply, list->member_id) == -1)
        ;
    else {
        Kaiin__Inquiry__ListReply *page = NULL;
        member_rc_t found = s_list (request->db, list, before_seq, limit, &page);
        if (found == MEMBER_OK)
            rc = svc_reply_with (reply, &page->base);
        else
            svc_db_fail (reply, request->db);
        if (page)
            protobuf_c_message_free_unpacked (&page->base, NULL);
    }
    protobuf_c_message_free_unpacked (&list->base, NULL);
    return rc;
}

