/* signals.h - signals for messaging's automations: signal.inactive (N days without login) and
   signal.churn_risk (a member's churn-risk score crossing the threshold), raised by the tick
   into analytics' outbox; the churn-risk score itself */
#ifndef KAIIN_SIGNALS_H
#define KAIIN_SIGNALS_H
#include "svc.h"

/* Records the module's statements on a connection, for pg_ensure to prepare. */
void signals_prepare (pg_t *db);

/* The service's tick (svc_tick_fn). Only once analytics has applied every event its sources
   have numbered (else a login not yet read would look like inactivity), and while now_ms is
   not behind the last registration it read (a restarted process's test clock), it raises
   signal.inactive for members (not withdrawn) whose last login, or registration when they
   never logged in, is at least the settings' inactive_days before now_ms (settings.h), once per
   such spell (a new login starts another), up to 500 a call; and, at most once a minute of
   the clock, signal.churn_risk for members whose score rose to the threshold or above since
   it was last below. Returns the signals raised, 0, or -1 on a database error. */
int signals_tick (pg_t *db, int64_t now_ms);

/* analytics.SignalList: SignalListRequest → SignalList, newest first. */
int signals_api_list (svc_request_t *request, svc_reply_t *reply);

/* analytics.ChurnRisk: ChurnRiskRequest → ChurnRisk, the member's score as of the request's
   now, with its reasons. NOT_FOUND for a member analytics has not seen registered. */
int signals_api_churn_risk (svc_request_t *request, svc_reply_t *reply);

#endif
