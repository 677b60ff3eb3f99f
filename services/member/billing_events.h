/* billing_events.h - billing's subscription events set a member's status (paid or free) and
   the rank of the plan they pay for */
#ifndef KAIIN_BILLING_EVENTS_H
#define KAIIN_BILLING_EVENTS_H
#include "svc.h"

/* The consumer of "billing" (svc_consumer_t.apply): for a "subscription.*" event, inside the
   consumer's transaction, sets the member's status to paid or free from member_paid and the
   rank to member_rank while paid (when it is a known rank); when no longer paid, puts the rank
   back to 'basic' if billing had set it. A change appends member.updated and an audit entry
   by actor "billing". Withdrawn, erased and unknown members are skipped (logged), as are
   other events. Returns 0, or -1 on a database error (the batch is retried). */
int member_billing_apply (pg_t *db, const Kaiin__Event *event, int64_t now_ms);

void billing_events_prepare (pg_t *db);

#endif
