/* subscription.h - subscriptions: trial, renewal, cancel, plan change with proration,
   dunning, and the member's entitlement carried in their events */
#ifndef KAIIN_BILLING_SUBSCRIPTION_H
#define KAIIN_BILLING_SUBSCRIPTION_H
#include "billing.h"

/* How long an incomplete subscription waits for its first invoice to be paid (a konbini
   payment: until its expiry). */
#define SUBSCRIPTION_INCOMPLETE_MS (23 * 3600 * 1000LL)

int subscription_prepare (pg_t *db);

/* The invoice of a subscription was paid in full (caller's transaction): an incomplete,
   past_due or unpaid subscription becomes active. 0 or -1. */
int subscription_invoice_paid (pg_t *db, const char *subscription_id, int64_t now_ms);

/* An attempt to pay a subscription's invoice failed or expired (caller's transaction): the
   first invoice leaves it incomplete; a renewal's starts or continues dunning. 0 or -1. */
int subscription_payment_failed (pg_t *db, const char *subscription_id, const char *invoice_id,
                                 int64_t now_ms);

svc_handler_fn subscription_api_create, subscription_api_get, subscription_api_list,
               subscription_api_cancel, subscription_api_change_plan;

/* Tick: renewals and cancellations at period end, dunning retries, incomplete expiry. */
int subscription_tick (pg_t *db, int64_t now_ms);

#endif
