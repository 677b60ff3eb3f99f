/* loyalty.h - what members paid: loyalty by RFM, and the purchase milestones */
#ifndef KAIIN_LOYALTY_H
#define KAIIN_LOYALTY_H
#include "analytics.pb-c.h"
#include "billing.pb-c.h"
#include "svc.h"
#include <stdbool.h>

#define LOYALTY_YEAR "31536000000"      /* 365 days in milliseconds, for the SQL */

/* SQL columns: RFM's facts of the member whose id is the expression member at the time now
   (an expression of milliseconds): frequency (paid invoices in the 365 days before now),
   monetary (their totals less refunds) and last_paid_ms (0: never). */
#define LOYALTY_FACTS(member, now) \
    " (select count (*) from paid_invoices where member_id = " member \
    "   and paid_at_ms > " now " - " LOYALTY_YEAR " and paid_at_ms <= " now ") as frequency," \
    " (select coalesce (sum (total), 0) from paid_invoices where member_id = " member \
    "   and paid_at_ms > " now " - " LOYALTY_YEAR " and paid_at_ms <= " now ")" \
    " - (select coalesce (sum (amount), 0) from refunds where member_id = " member \
    "   and at_ms > " now " - " LOYALTY_YEAR " and at_ms <= " now ") as monetary," \
    " (select coalesce (max (paid_at_ms), 0) from paid_invoices where member_id = " member \
    "   and paid_at_ms <= " now ") as last_paid_ms"

/* Records the module's statements on a connection, for pg_ensure to prepare. */
void loyalty_prepare (pg_t *db);

/* invoice.paid: keeps the paid invoice, raises the milestones its member newly reached
   (signal.purchase_milestone) and queues the member's rank change when the rank rules now
   raise them (ranks.h), in the caller's transaction. Returns 0 or -1. */
int loyalty_paid (pg_t *db, const Kaiin__Billing__Invoice *invoice, int64_t at_ms);

/* Before a batch's events: reads at once the figures of the members (member_ids) who paid
   the invoices (invoice_ids, count of both) in it, so that loyalty_paid waits for no read of
   them. Returns 0 or -1. */
int loyalty_batch_begin (pg_t *db, const char *const *member_ids, const char *const *invoice_ids,
                         size_t count);
/* After a batch, applied or rolled back: forgets the settings and figures the thread read in it. */
void loyalty_batch_end (void);

/* payment.reversed: the invoice it paid is open again, so not paid (it leaves frequency and
   spend until it is paid again). Returns 0 or -1. */
int loyalty_reversed (pg_t *db, const Kaiin__Billing__Payment *payment);

/* refund.created: keeps the refund (it lowers the spend). Returns 0 or -1. */
int loyalty_refunded (pg_t *db, const Kaiin__Billing__Refund *refund, int64_t at_ms);

/* Sets loyalty's r, f, m (1..5) and segment from its recency_days, frequency and monetary;
   a member who never paid has 0s and the segment "none". */
void loyalty_score (Kaiin__Analytics__Loyalty *loyalty, bool ever_paid);

#define LOYALTY_SEGMENTS 6              /* those a paying member can be in */

/* The segment (0 .. LOYALTY_SEGMENTS - 1, or LOYALTY_SEGMENTS, "none", with no payment) of a
   member who paid frequency invoices for monetary yen in the 365 days before at_ms, the last
   at last_paid_ms (0: never). */
int loyalty_segment_of (int frequency, int64_t monetary, int64_t last_paid_ms, int64_t at_ms);

/* The code ("champions") and Japanese name (優良) of segment 0 .. LOYALTY_SEGMENTS ("none"). */
void loyalty_segment_name (int segment, const char **code, const char **name);

/* The members in each segment at at_ms: those who paid by then and had not withdrawn, scored
   by their payments in the 365 days before it. ended: at_ms is the last moment of a month that
   has ended, whose counts are kept once made (month_segments, migration 012). Returns 0 or -1. */
int loyalty_segments (pg_t *db, int64_t at_ms, bool ended, int32_t members [LOYALTY_SEGMENTS]);

/* The latest of ats (an array literal of months' last moments) whose segments are not kept:
   its moment, 0 when all are, -1 on an error. */
int64_t loyalty_unkept (pg_t *db, const char *ats);

/* Counts and keeps the segments of the ended month whose last moment is at_ms, unless a batch
   changing them or another count holds the lock (then nothing is done). Returns 1 when kept,
   0 when not, -1 on an error. */
int loyalty_keep (pg_t *db, int64_t at_ms);

/* An event of the batch being applied changes what the segments were from at_ms on (a
   payment, a refund, a withdrawal then; 1: from any moment): the months ending after the
   earliest such moment are forgotten by loyalty_batch_write. */
void loyalty_changed (int64_t at_ms);

/* At the batch's end, before its commit: forgets the segments kept for the months its events
   changed (loyalty_changed). Returns 0 or -1. */
int loyalty_batch_write (pg_t *db);

/* analytics.Loyalty: LoyaltyRequest → Loyalty, as of the request's now. NOT_FOUND for a member
   analytics never heard of. */
int loyalty_api_get (svc_request_t *request, svc_reply_t *reply);

#endif
