/* outbox.h - domain events, appended in the caller's transaction and read back by sequence */
#ifndef KAIIN_OUTBOX_H
#define KAIIN_OUTBOX_H
#include "pg.h"
#include "event.pb-c.h"
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>

/* The outbox table's migration, applied to every service's schema before its own. */
extern const pg_migration_t outbox_migrations [];

/* Records the outbox statements on a worker's connection, for pg_ensure to prepare. */
void outbox_prepare (pg_t *db);

/* Appends one event inside the caller's open transaction: payload is packed as the event's
   body. Sent without waiting (pg_defer): a failure shows at the transaction's next statement
   or its commit (or pg_part_end). Returns 0 or -1 (the caller rolls back). */
int outbox_append (pg_t *db, const char *type, const char *aggregate_id,
                   const ProtobufCMessage *payload, int64_t now_ms);

/* payload packed, as the hex text outbox_append writes into the payload column: a new string
   the caller frees. For a statement that writes its own event beside its change. */
char *outbox_hex (const ProtobufCMessage *payload);

/* Holds this thread's next outbox_append calls back (on) until outbox_flush writes them in
   one statement, for a batch of changes in one transaction; off forgets what is held. The
   caller must flush before its commit. */
void outbox_defer (bool on);

/* Writes the held events in the caller's open transaction. Returns 0 or -1. */
int outbox_flush (pg_t *db);

/* Merges patches [i] into the payload of each event of type_prefix ("invoice.") about
   aggregate_ids [i] appended in the caller's open transaction (not numbered yet): a packed
   message followed by another is their merge, the later value of a field winning, so a field
   known only as the transaction commits (an invoice's number) reaches the events written before
   it. Sent without waiting (pg_defer): a failure shows at the next statement or the commit.
   Returns 0 or -1. */
int outbox_amend (pg_t *db, const char *type_prefix, size_t count, const char *const *aggregate_ids,
                  const ProtobufCMessage *const *patches);

/* Numbers the committed events not yet numbered, then fills reply with up to request->max
   events after request->after_seq, waiting up to request->wait_ms for a first one.
   source names the service. The caller frees reply's events with outbox_reply_clear.
   Returns 0 or -1 (database error). */
int outbox_since (pg_t *db, const char *source, const Kaiin__EventsSinceRequest *request,
                  Kaiin__EventsSinceReply *reply);

/* Frees what outbox_since put into reply. */
void outbox_reply_clear (Kaiin__EventsSinceReply *reply);

#endif
