/* churn.h - churn by plan and the reasons members gave for cancelling, by JST month */
#ifndef KAIIN_CHURN_H
#define KAIIN_CHURN_H
#include "analytics.h"
#include "analytics.pb-c.h"
#include "svc.h"

/* Records the module's statements on a connection, for pg_ensure to prepare. */
void churn_prepare (pg_t *db);

/* One ChurnMonth per month from .. to as of now (new, the caller frees each and the array),
   or NULL on a database error. Its plans: those with subscribers at the month's start or
   churn within it, and with every_plan those with subscribers at its end too. */
Kaiin__Analytics__ChurnMonth **churn_months (pg_t *db, analytics_month_t from, analytics_month_t to,
                                             int64_t now, bool every_plan);

/* analytics.Churn: ChurnRequest → ChurnReply, one ChurnMonth per month from `from` to `to`
   (as the subscription metrics take them), as of the request's now. INVALID_ARGUMENT naming
   from or to. */
int churn_api_months (svc_request_t *request, svc_reply_t *reply);

#endif
