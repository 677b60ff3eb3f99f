/* member_search.h - finding members: by status, email, text (name, kana, email, phone, with
   the trigram index), rank, tags, custom attributes and dates; in creation, registration or
   kana order, a page at a time, each order with its own cursor */
#ifndef KAIIN_MEMBER_SEARCH_H
#define KAIIN_MEMBER_SEARCH_H
#include "member.h"
#include <stdbool.h>
#include <stdint.h>

/* The orders a search can walk in, each with its own cursor. */
typedef enum {
    MEMBER_SORT_SEQ = 0,            /* creation order, as the rows were inserted */
    MEMBER_SORT_CREATED,
    MEMBER_SORT_CREATED_DESC,
    MEMBER_SORT_KANA,
    MEMBER_SORT_KANA_DESC
} member_sort_t;

/* A position in a listing: the last row's sort key and seq. */
typedef struct {
    bool set;                       /* false: from the start */
    char key [320];                 /* microseconds of created_at in decimal, or name_kana */
    int64_t seq;
} member_position_t;

/* What a search looks for; every text may be "" (no filter) and every time 0. */
typedef struct {
    member_sort_t sort;
    member_position_t after;
    int limit;
    const char *status;
    const char *email;              /* exact, case-insensitive */
    const char *q;                  /* partial match over the normalised search text */
    bool q_selective;               /* q is long enough for the trigram index (3 characters) */
    char q_phone_hash [65];         /* q as a whole phone number, its keyed hash (member_crypt.h);
                                       "" when it is none, or the caller reads phones masked */
    const char *rank;
    const char *tags_array;         /* a PostgreSQL array literal of tags, "{}" for none */
    bool tags_all;                  /* every tag (else any) */
    const char *attributes;         /* a JSON object the attributes must contain, or "" */
    int64_t created_from_ms, created_to_ms, last_login_from_ms, last_login_to_ms;
} member_query_t;

/* A search checked and ready for member_search_page: release it when done. */
typedef struct {
    member_query_t query;
    char *attributes;
    char *tags;
} member_search_t;

void member_search_prepare (pg_t *db);

/* member.List: every role may read (a viewer's members masked). */
svc_handler_fn member_api_list;

/* Checks a ListRequest's filters and sort (field errors into reply) and fills prepared.
   Returns 0 or -1. */
int member_search_query (svc_request_t *request, const Kaiin__Member__ListRequest *list,
                         member_search_t *prepared, svc_reply_t *reply);
void member_search_release (member_search_t *prepared);

/* Up to query->limit members after query->after in query->sort's order: *page (the caller
   frees it; its next_cursor is left to the caller); *last is the last one's position and *more
   says whether others follow. MEMBER_OK or MEMBER_ERROR. */
member_rc_t member_search_page (pg_t *db, const member_query_t *query,
                                Kaiin__Member__ListReply **page, member_position_t *last,
                                int *more);

/* The members query's filters select (its position and limit aside) into *count: MEMBER_OK
   or MEMBER_ERROR. */
member_rc_t member_search_count (pg_t *db, const member_query_t *query, int64_t *count);

/* Writes the cursor after position in sort's order into cursor (at least 680 bytes): what
   ListRequest.cursor takes to go on from there. */
void member_search_cursor (const member_position_t *position, member_sort_t sort, char *cursor,
                           size_t size);

#endif
