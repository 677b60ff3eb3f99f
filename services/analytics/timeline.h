/* timeline.h - the member-360 timeline: GET /v1/members/{id}/timeline */
#ifndef KAIIN_TIMELINE_H
#define KAIIN_TIMELINE_H
#include "svc.h"

/* Records the module's statements on a connection, for pg_ensure to prepare. */
void timeline_prepare (pg_t *db);

/* Whether analytics has seen anything of member_id (its registration, or any event about it:
   a purchase read before the registration too). Returns 0 when it has; -1 after setting reply's
   error: NOT_FOUND "member not found", or the database's. */
int timeline_member_known (svc_request_t *request, svc_reply_t *reply, const char *member_id);

/* analytics.Timeline: TimelineRequest → TimelineReply, newest first, a page of limit (1..100,
   20) entries after cursor. NOT_FOUND when analytics has seen nothing of the member;
   INVALID_ARGUMENT naming "cursor" for a cursor it did not give. The summaries carry no
   personal data, so every role that may call it reads the same entries. */
int timeline_api_list (svc_request_t *request, svc_reply_t *reply);

#endif
