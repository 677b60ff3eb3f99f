/* suspension.h - a company on payment terms that leaves an invoice unpaid too long: its
   subscriptions suspended (unpaid) past the settings' limit, active again once it has paid */
#ifndef KAIIN_BILLING_SUSPENSION_H
#define KAIIN_BILLING_SUSPENSION_H
#include "billing.h"

/* The end of the days an invoice of a company on terms may stay unpaid past its due date (the
   settings' terms_suspend_after_days; 0: never): a moment the scheduler steps to (scheduler.c). */
#define SUSPENSION_LIMIT(due_at) "(" due_at " + st.terms_suspend_after_days * interval '86400 seconds')"

/* An open invoice of a company on terms (its terms in force) of member past that limit at
   moment; settings as st in the enclosing query. */
#define SUSPENSION_LATE(member, moment) \
    "exists (select 1 from invoices i join payment_terms t on t.member_id = i.member_id and t.company" \
    " where i.member_id = " member " and i.status = 'open' and st.terms_suspend_after_days > 0" \
    " and i.due_at < " moment " - st.terms_suspend_after_days * interval '86400 seconds')"

void suspension_prepare (pg_t *db);

/* The scheduler's work due by now_ms, in a transaction of its own: the active subscriptions of
   each member with an invoice past the limit suspended, the suspended ones of a member with none
   made active again (paid, voided, the limit or the terms changed), each with
   subscription.updated; a batch of each at a time. Returns how many, or -1. */
int suspension_tick (pg_t *db, int64_t now_ms);

/* An invoice of member_id was paid, in the caller's transaction: its subscriptions suspended
   for an invoice on terms are active again (subscription.updated) unless another invoice of
   its is still past the limit. 0, or -1 on a database error. */
int suspension_invoice_paid (pg_t *db, const char *member_id, int64_t now_ms);

/* Whether subscription_id is suspended for an invoice on terms (the member's payments bring it
   back, not its own invoice's alone): 1, 0, or -1 on a database error. */
int suspension_held (pg_t *db, const char *subscription_id);

#endif
