/* webhook.h - integrators' webhooks: endpoints registered by staff, a delivery of each event
   an endpoint asks for, sent signed by the tick, retried with back-off, logged */
#ifndef KAIIN_MESSAGING_WEBHOOK_H
#define KAIIN_MESSAGING_WEBHOOK_H
#include "messaging.h"

/* Reads MESSAGING_WEBHOOK_ALLOW (CIDRs the address checks let through, comma-separated) and
   MESSAGING_WEBHOOK_ALLOW_HTTP (1: http URLs too); a CIDR that cannot be read stops start-up. */
void webhook_configure (void);

void webhook_prepare (pg_t *db);

/* Writes a delivery of event (its payload unpacked, or NULL when messaging cannot read it) to
   each enabled endpoint that asks for its type, inside the consumer's transaction, at most one
   per endpoint and event. Whether any endpoint asks for a type is read once a batch of events
   (until webhook_batch_end). Returns 0 or -1. */
/* Forgets which event types the endpoints asked for, at the end of a batch of events. */
void webhook_batch_end (void);

int webhook_enqueue (pg_t *db, const Kaiin__Event *event, const ProtobufCMessage *payload,
                     int64_t now_ms);

/* Sends one due delivery (svc_tick_fn): locks it, POSTs it, marks it and commits; a delivery
   out of time fails, and its endpoint, when nothing succeeded for as long, is disabled (event
   webhook.disabled). Returns 1 when it handled one, 0 when none is due, -1 on a database
   error. */
int webhook_tick (pg_t *db, int64_t now_ms);

svc_handler_fn webhook_api_create, webhook_api_get, webhook_api_list, webhook_api_update,
               webhook_api_delete, webhook_api_deliveries, webhook_api_redeliver,
    webhook_api_rotate_secret;

#endif
