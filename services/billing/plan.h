/* plan.h - plans: price, tax, interval, trial, the rank subscribers get */
#ifndef KAIIN_BILLING_PLAN_H
#define KAIIN_BILLING_PLAN_H
#include "billing.h"

void plan_prepare (pg_t *db);

/* The plan with this id or code; NULL with the reply's error set (404, database). */
Kaiin__Billing__Plan *plan_find (svc_request_t *request, svc_reply_t *reply, const char *id_or_code,
                                 const char *field);

svc_handler_fn plan_api_create, plan_api_get, plan_api_list, plan_api_update;

#endif
