/* member_events.h - the member events billing follows: a member who leaves is charged no more */
#ifndef KAIIN_BILLING_MEMBER_EVENTS_H
#define KAIIN_BILLING_MEMBER_EVENTS_H
#include "svc.h"

/* The consumer of "member" (svc_consumer_t.apply): for "member.withdrawn" and "member.erased",
   inside the consumer's transaction, ends each of the member's subscriptions that is not
   canceled yet, at once (reason "other", the comment saying why; its open invoices voided,
   subscription.canceled emitted, as subscription_end does). Other events are skipped. Returns
   0, or -1 on a database error (the batch is retried). */
int member_events_apply (pg_t *db, const Kaiin__Event *event, int64_t now_ms);

void member_events_prepare (pg_t *db);

#endif
