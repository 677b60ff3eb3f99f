/* subscription.h - subscriptions: start (trial or first payment), cancel, plan
   change, the row and its SQL, and the member's entitlement carried in their events
   (proration.c prices a change, dunning.c and renewal.c do the rest of their life) */
#ifndef KAIIN_BILLING_SUBSCRIPTION_H
#define KAIIN_BILLING_SUBSCRIPTION_H
#include "billing.h"

/* The columns of a subscription row (from subscriptions s join plans p), named as
   Subscription's fields, with what the message lacks (coupon_id, coupon_periods_left,
   credit_balance, anchor_day): subscription_row_from reads them. terms_suspended_at keeps the
   last moment of the limit, suspended_at_ms the first past it. */
#define SUBSCRIPTION_LIVE "('trialing', 'active', 'past_due')"
#define SUBSCRIPTION_COLUMNS "s.id, s.member_id, s.plan_id, p.code as plan_code, s.status," \
    " coalesce (s.payment_method_id::text, '') as payment_method_id," \
    " coalesce ((select c.code from coupons c where c.id = s.coupon_id), '') as coupon_code," \
    " " MS ("s.trial_end") " as trial_end_ms, " MS ("s.current_period_start") " as current_period_start_ms," \
    " " MS ("s.current_period_end") " as current_period_end_ms, s.cancel_at_period_end, s.cancel_reason," \
    " s.cancel_comment, " MS ("s.canceled_at") " as canceled_at_ms, " MS ("s.ended_at") " as ended_at_ms," \
    " coalesce (s.latest_invoice_id::text, '') as latest_invoice_id, s.retry_count," \
    " " MS ("s.next_retry_at") " as next_retry_at_ms, " MS ("s.created_at") " as created_at_ms," \
    " " MS ("s.updated_at") " as updated_at_ms, s.version, p.rank as plan_rank, s.seq," \
    " s.coupon_id, s.coupon_periods_left, s.credit_balance, s.anchor_day," \
    " coalesce ((extract (epoch from s.terms_suspended_at) * 1000)::bigint + 1, 0) as suspended_at_ms"
/* member_paid and member_rank: the member's entitlement over all their subscriptions. */
#define SUBSCRIPTION_ENTITLEMENT \
    " exists (select 1 from subscriptions x where x.member_id = s.member_id" \
    " and x.status in " SUBSCRIPTION_LIVE ") as member_paid," \
    " coalesce ((select q.rank from subscriptions x join plans q on q.id = x.plan_id" \
    "  where x.member_id = s.member_id and x.status in " SUBSCRIPTION_LIVE \
    " order by q.amount desc, x.seq limit 1), '') as member_rank"

/* A subscription as the handlers, dunning and renewals work on it: the message and what it
   lacks. */
typedef struct {
    Kaiin__Billing__Subscription *sub;
    char coupon_id [37];
    int coupon_periods_left;        /* -1: forever or none */
    int64_t credit_balance;
    int anchor_day;
} subscription_row_t;

void subscription_prepare (pg_t *db);

/* Fills row from a result row of SUBSCRIPTION_COLUMNS; row->sub is owned by row. */
void subscription_row_from (PGresult *result, int index, subscription_row_t *row);

/* Loads (and locks) a subscription. 1 found, 0 not, -1 database error. */
int subscription_row_load (pg_t *db, const char *id, subscription_row_t *row);

/* Writes the row back (caller's transaction). 0 or -1. */
int subscription_row_write (pg_t *db, const subscription_row_t *row, int64_t now_ms);

/* Frees row->sub; nothing when it is NULL. */
void subscription_row_free (subscription_row_t *row);

/* Appends the subscription's event with the member's entitlement. 0 or -1. */
int subscription_event (pg_t *db, const char *id, const char *type, int64_t now_ms);

/* Ends a subscription now (caller's transaction): open invoices are voided, the row written
   canceled, subscription.canceled emitted. 0 or -1. */
int subscription_end (pg_t *db, subscription_row_t *row, int64_t now_ms);

svc_handler_fn subscription_api_create, subscription_api_get, subscription_api_list,
               subscription_api_cancel, subscription_api_change_plan;

/* SubscriptionResume: a subscription set to cancel at its period's end goes on (409 when it
   is not set so). SubscriptionChangePlanPreview: what SubscriptionChangePlan would charge or
   credit now (PlanChangePreview), nothing changed. Both, as cancel and change-plan, answer
   404 for a subscription a member's session may not see. */
svc_handler_fn subscription_api_resume, subscription_api_change_plan_preview;

#endif
