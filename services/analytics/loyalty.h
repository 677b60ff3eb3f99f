/* loyalty.h - what members paid: loyalty by RFM, and the purchase milestones */
#ifndef KAIIN_LOYALTY_H
#define KAIIN_LOYALTY_H
#include "analytics.pb-c.h"
#include "billing.pb-c.h"
#include "svc.h"
#include <stdbool.h>

/* Records the module's statements on a connection, for pg_ensure to prepare. */
void loyalty_prepare (pg_t *db);

/* invoice.paid: keeps the paid invoice, raises the milestones its member newly reached
   (signal.purchase_milestone) and queues the member's rank change when the rank rules now
   raise them (ranks.h), in the caller's transaction. Returns 0 or -1. */
int loyalty_paid (pg_t *db, const Kaiin__Billing__Invoice *invoice, int64_t at_ms);

/* payment.reversed: the invoice it paid is open again, so not paid (it leaves frequency and
   spend until it is paid again). Returns 0 or -1. */
int loyalty_reversed (pg_t *db, const Kaiin__Billing__Payment *payment);

/* refund.created: keeps the refund (it lowers the spend). Returns 0 or -1. */
int loyalty_refunded (pg_t *db, const Kaiin__Billing__Refund *refund, int64_t at_ms);

/* Sets loyalty's r, f, m (1..5) and segment from its recency_days, frequency and monetary;
   a member who never paid has 0s and the segment "none". */
void loyalty_score (Kaiin__Analytics__Loyalty *loyalty, bool ever_paid);

#define LOYALTY_SEGMENTS 6              /* those a paying member can be in */

/* The code ("champions") and Japanese name (優良) of segment 0 .. LOYALTY_SEGMENTS - 1. */
void loyalty_segment_name (int segment, const char **code, const char **name);

/* The members in each segment at at_ms: those who paid by then and had not withdrawn, scored
   by their payments in the 365 days before it. Returns 0 or -1. */
int loyalty_segments (pg_t *db, int64_t at_ms, int32_t members [LOYALTY_SEGMENTS]);

/* analytics.Loyalty: LoyaltyRequest → Loyalty, as of the request's now. NOT_FOUND for a member
   analytics never heard of. */
int loyalty_api_get (svc_request_t *request, svc_reply_t *reply);

#endif
