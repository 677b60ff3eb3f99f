/* trigger.h - the events messaging consumes (member's, billing's, analytics'): the members'
   projection, each member's count of each event type, and the automations they fire */
#ifndef KAIIN_MESSAGING_TRIGGER_H
#define KAIIN_MESSAGING_TRIGGER_H
#include "messaging.h"

/* The sources read, one consumer each (svc_def_t.consumers): adding a source is one line in
   trigger.c. */
extern const svc_consumer_t trigger_consumers [];

/* True when source is one of trigger_consumers'. */
bool trigger_source_known (const char *source);

void trigger_prepare (pg_t *db);

/* True when type looks like an event type: "member.registered" (at most 64 characters of a-z,
   0-9, _ and ., a dot between two parts). */
bool trigger_event_type_valid (const char *type);

#endif
