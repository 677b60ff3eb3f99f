/* cohorts.h - retention by the JST month members first paid */
#ifndef KAIIN_COHORTS_H
#define KAIIN_COHORTS_H
#include "svc.h"

/* Records the module's statements on a connection, for pg_ensure to prepare. */
void cohorts_prepare (pg_t *db);

/* analytics.Cohorts: CohortRequest → CohortReply, one Cohort per month from `from` to `to` (as
   the subscription metrics take them; at most 120 months before the current one), each with
   a cell per month from its own to the current one. INVALID_ARGUMENT naming from or to. */
int cohorts_api_list (svc_request_t *request, svc_reply_t *reply);

#endif
