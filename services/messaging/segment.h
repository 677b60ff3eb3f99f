/* segment.h - segments: saved, named filters over the members messaging knows (filter.h), their
   live counts, and the members a campaign sends to */
#ifndef KAIIN_MESSAGING_SEGMENT_H
#define KAIIN_MESSAGING_SEGMENT_H
#include "filter.h"
#include "messaging.h"

void segment_prepare (pg_t *db);

/* 1 when segment id exists and is not deleted, 0 when not, -1 on a database error. */
int segment_usable (pg_t *db, const char *id);

/* Segment id's filter compiled against now_ms into out (the caller calls filter_sql_clear).
   Returns 0, 1 when there is no such segment (or it was deleted), -1 on a database error. */
int segment_compiled (pg_t *db, const char *id, int64_t now_ms, filter_sql_t *out);

svc_handler_fn segment_api_create, segment_api_get, segment_api_list, segment_api_update,
               segment_api_delete, segment_api_count;

/* messaging.SegmentMembers: a saved segment's members now, a page at a time in id order
   (the cursor is the last id of the page before). NOT_FOUND for no such segment. */
svc_handler_fn segment_api_members;

#endif
