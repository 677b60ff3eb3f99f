/* alerts.h - rules on the metrics, evaluated by the tick; the alerts they raise (alert.raised),
   listed and acknowledged; the rules read and changed by staff */
#ifndef KAIIN_ALERTS_H
#define KAIIN_ALERTS_H
#include "svc.h"

/* Records the module's statements on a connection, for pg_ensure to prepare. */
void alerts_prepare (pg_t *db);

/* Evaluates every enabled rule as of now_ms, in one transaction, and raises what is due (once
   per rule, subject and period: the JST week for spikes, the JST month for churn and MRR), with
   alert.raised in the outbox. Returns the alerts raised, or -1 on a database error. */
int alerts_evaluate (pg_t *db, int64_t now_ms);

/* analytics.AlertList: AlertListRequest → AlertList, newest first, with the open count. */
int alerts_api_list (svc_request_t *request, svc_reply_t *reply);

/* analytics.AlertAcknowledge: AlertAcknowledgeRequest → Alert. Acknowledging again changes
   nothing (the first acknowledgement is kept). NOT_FOUND for an unknown id. */
int alerts_api_acknowledge (svc_request_t *request, svc_reply_t *reply);

/* analytics.AlertRuleList: AlertRuleListRequest → AlertRuleList. */
int alerts_api_rules (svc_request_t *request, svc_reply_t *reply);

/* analytics.AlertRuleUpdate: AlertRuleUpdateRequest → AlertRule, the fields its mask names.
   NOT_FOUND for an unknown rule. */
int alerts_api_rule_update (svc_request_t *request, svc_reply_t *reply);

#endif
