/* behaviour.h - what members do, as billing's and analytics' events tell it: paid purchases,
   their subscriptions' plans and churn-risk scores (segments filter on them), and the purchases
   that convert a campaign's click */
#ifndef KAIIN_MESSAGING_BEHAVIOUR_H
#define KAIIN_MESSAGING_BEHAVIOUR_H
#include "messaging.h"

#define CONVERSION_WINDOW_MS (7 * 24 * 3600 * 1000LL)   /* a purchase this long after a click */

void behaviour_prepare (pg_t *db);

/* Applies a billing or analytics event's payload (borrowed) for member_id inside the consumer's
   transaction: purchase.completed counts a purchase and its invoice's total, and converts the
   member's campaign mails clicked within CONVERSION_WINDOW_MS before it; subscription.* keeps
   the subscription's plan and status; signal.churn_risk the score. Other events change nothing.
   Returns 0 or -1 (database error). */
int behaviour_apply (pg_t *db, const Kaiin__Event *event, const ProtobufCMessage *payload,
                     const char *member_id);

#endif
