/* notice.h - mails to the business's owners, not to members: an analytics alert (alert.raised)
   is queued as a notice in the consumer's transaction, once per event, and the tick sends it
   to each owner (member.StaffList), one address per transaction */
#ifndef KAIIN_MESSAGING_NOTICE_H
#define KAIIN_MESSAGING_NOTICE_H
#include "messaging.h"
#include "analytics.pb-c.h"

void notice_prepare (pg_t *db);

/* Queues the notice of alert, raised by event, inside the consumer's transaction (a second
   delivery of the event queues nothing). Returns 0 or -1. */
int notice_alert (pg_t *db, const Kaiin__Event *event, const Kaiin__Analytics__Alert *alert,
                  int64_t now_ms);

/* Sends one owner one due notice (svc_tick_fn): reads the owners' addresses when the notice is
   first sent (member.StaffList, outside any transaction), marks the address, sends, commits; the relay or the member service away puts the
   notice back for a later attempt. Returns 1 when it handled one, 0 when none is due, -1 on a
   database error. */
int notice_tick (pg_t *db, int64_t now_ms);

#endif
