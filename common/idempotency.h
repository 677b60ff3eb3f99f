/* idempotency.h - idempotency keys: the first OK reply to a (caller, key) is kept for a day
   and replayed to a retry of the same request, in the service's own schema */
#ifndef KAIIN_IDEMPOTENCY_H
#define KAIIN_IDEMPOTENCY_H
#include "envelope.pb-c.h"
#include "pg.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Keys are honoured, and kept, this long (by the request's logical now). */
#define IDEMPOTENCY_TTL_MS (24LL * 3600 * 1000)

/* The idempotency_keys table's migration, applied to every service's schema. */
extern const pg_migration_t idempotency_migrations [];

/* Records the statements on a worker's connection, for pg_ensure to prepare. */
void idempotency_prepare (pg_t *db);

typedef enum {
    IDEMPOTENCY_NEW,        /* first use of the key: run the handler, then idempotency_store */
    IDEMPOTENCY_REPLAY,     /* the same request was answered before: *stored is its reply */
    IDEMPOTENCY_BUSY,       /* a request with this key is in progress right now */
    IDEMPOTENCY_MISMATCH,   /* the key was used with another method or payload */
    IDEMPOTENCY_ERROR       /* a database error (pg_sqlstate says which) */
} idempotency_state_t;

/* Hex SHA-256 of method, a NUL, then payload, into hex (65 bytes). */
void idempotency_hash (const char *method, const void *payload, size_t size, char *hex);

/* Names what the client asked for: hex SHA-256 (65 bytes) of the caller, the request's
   Idempotency-Key, its method and its payload. A retry of the same request names the same
   intent, whatever happened to the first try (a crash rolls the kept key back, not what a
   payment provider did), and any other request names another. False, hex untouched, when the
   request has no Idempotency-Key: then each request is an intent of its own. */
bool idempotency_intent (const Kaiin__Request *envelope, char *hex);

/* Inside the caller's open transaction: takes the key's transaction-scoped advisory lock
   (without waiting) and looks the key up. On IDEMPOTENCY_REPLAY, *stored is the packed reply
   kept (the caller frees it) and *stored_size its size. */
idempotency_state_t idempotency_check (pg_t *db, const char *caller_id, const char *key,
                                       const char *method, const char *hash, int64_t now_ms,
                                       uint8_t **stored, size_t *stored_size);

/* Inside the same transaction: keeps reply for the key, and forgets a few expired keys.
   Returns 0 or -1 (the caller rolls back). */
int idempotency_store (pg_t *db, const char *caller_id, const char *key, const char *method,
                       const char *hash, const uint8_t *reply, size_t reply_size, int64_t now_ms);

#endif
