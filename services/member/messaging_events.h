/* messaging_events.h - messaging's member.unsubscribed: the member record's marketing consent
   follows a one-click unsubscribe */
#ifndef KAIIN_MEMBER_MESSAGING_EVENTS_H
#define KAIIN_MEMBER_MESSAGING_EVENTS_H
#include "svc.h"

/* The consumer of "messaging" (svc_consumer_t.apply): for member.unsubscribed, inside the
   consumer's transaction, records the member's marketing consent as withdrawn (email_opt_in
   false, at the unsubscribe's time, method "web_form", source "one-click unsubscribe, mail
   <id>"), which appends member.updated and an audit entry by actor "messaging". A consent
   recorded at or after the unsubscribe's time is kept (a later opt-in wins; the same event
   applied again changes nothing). Unknown members are skipped (logged), as are other events.
   Returns 0, or -1 on a database error (the batch is retried). */
int member_messaging_apply (pg_t *db, const Kaiin__Event *event, int64_t now_ms);

#endif
