/* mrr.h - each subscription's MRR from billing's subscription events, and the movements of
   each member's MRR (new business, expansion, contraction, churn, reactivation) */
#ifndef KAIIN_MRR_H
#define KAIIN_MRR_H
#include "billing.pb-c.h"
#include "pg.h"
#include <stdint.h>

/* Records the module's statements on a connection, for pg_ensure to prepare. */
void mrr_prepare (pg_t *db);

/* The subscription's MRR in yen: the plan's price less a forever or repeating coupon's
   discount (repeating: while the period starts within its months), excluding tax, per month
   (÷ interval_count, or ÷ 12 × interval_count for yearly plans), rounded down; 0 unless the
   subscription is active or past_due. Plans and coupons are asked of billing once
   (billing.PlanGet, billing.CouponGet) and kept. Returns the MRR, or -1 when billing could
   not answer or on a database error (the caller retries the event later). */
int64_t mrr_of (pg_t *db, const Kaiin__Billing__Subscription *subscription);

/* Before a batch's events: reads the subscriptions with the ids given (count of them) at
   once, locked, and their members' MRR per plan (members, one per id), so that mrr_apply
   waits for no read of theirs. Returns 0 or -1. */
int mrr_batch_begin (pg_t *db, const char *const *ids, const char *const *members, size_t count);
/* At the batch's end, before its position: writes the subscriptions' rows, the MRR per
   member and plan it changed and its movements, one statement each, without waiting.
   Returns 0 or -1. */
int mrr_batch_write (pg_t *db);
/* After a batch, applied or rolled back: forgets the plans, coupons and subscriptions the
   thread read in it. */
void mrr_batch_end (void);

/* Applies a subscription event inside the consumer's transaction: stores the subscription's
   MRR, trial, conversion and cancellation (one statement), and writes the movements it
   makes, for the member ('*') and per plan, at at_ms (the event's time).
   *before_plan is set to the plan code it had before ("" when new), into a buffer of 72.
   Returns 0, or -1 to retry the event later. */
int mrr_apply (pg_t *db, const Kaiin__Billing__Subscription *subscription, int64_t at_ms,
               char before_plan [72]);

#endif
