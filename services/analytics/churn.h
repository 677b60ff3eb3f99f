/* churn.h - churn by plan and the reasons members gave for cancelling, by JST month */
#ifndef KAIIN_CHURN_H
#define KAIIN_CHURN_H
#include "svc.h"

/* Records the module's statements on a connection, for pg_ensure to prepare. */
void churn_prepare (pg_t *db);

/* analytics.Churn: ChurnRequest → ChurnReply, one ChurnMonth per month from `from` to `to`
   (as the subscription metrics take them), as of the request's now. INVALID_ARGUMENT naming
   from or to. */
int churn_api_months (svc_request_t *request, svc_reply_t *reply);

#endif
