/* idempotency.c - idempotency keys: the first OK reply to a (caller, key) is kept for a day
   and replayed to a retry of the same request, in the service's own schema */
#include "idempotency.h"
#include "log.h"
#include <assert.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const pg_migration_t idempotency_migrations [] = {
    { "000_idempotency_keys",
      "create table idempotency_keys ("
      "  caller_id text not null,"
      "  key text not null,"
      "  method text not null,"
      "  request_sha256 text not null,"
      "  reply bytea not null,"
      "  created_at timestamptz not null,"
      "  primary key (caller_id, key));"
      "create index idempotency_keys_created on idempotency_keys (created_at);" },
    { NULL, NULL }
};

void
idempotency_prepare (pg_t *db)
{
    pg_prepare (db, "idempotency_lock",
            "select pg_try_advisory_xact_lock (hashtextextended ($1 || chr (10) || $2, 7))");
    pg_prepare (db, "idempotency_find",
            "select method, request_sha256, encode (reply, 'hex') from idempotency_keys"
            " where caller_id = $1 and key = $2"
            "   and created_at > to_timestamp ($3::bigint / 1000.0)");
    pg_prepare (db, "idempotency_store",
            "insert into idempotency_keys (caller_id, key, method, request_sha256, reply, created_at)"
            " values ($1, $2, $3, $4, decode ($5, 'hex'), to_timestamp ($6::bigint / 1000.0))"
            " on conflict (caller_id, key) do update set method = excluded.method,"
            "   request_sha256 = excluded.request_sha256, reply = excluded.reply,"
            "   created_at = excluded.created_at");
    pg_prepare (db, "idempotency_prune",
            "delete from idempotency_keys where ctid in (select ctid from idempotency_keys"
            " where created_at < to_timestamp ($1::bigint / 1000.0) limit 100)");
}

/* Hex SHA-256 of the parts, each followed by a NUL but the last, into hex (65 bytes). */
static void
s_sha256_hex (const void *const *parts, const size_t *sizes, int count, char *hex)
{
    unsigned char digest [EVP_MAX_MD_SIZE];
    unsigned int digest_size = 0;
    EVP_MD_CTX *context = EVP_MD_CTX_new ();
    assert (context);
    EVP_DigestInit_ex (context, EVP_sha256 (), NULL);
    for (int i = 0; i < count; i++)
        EVP_DigestUpdate (context, parts [i], sizes [i] + (i < count - 1));
    EVP_DigestFinal_ex (context, digest, &digest_size);
    EVP_MD_CTX_free (context);
    for (unsigned int i = 0; i < digest_size; i++)
        snprintf (hex + 2 * i, 3, "%02x", digest [i]);
}

void
idempotency_hash (const char *method, const void *payload, size_t size, char *hex)
{
    const void *parts [] = { method, payload };
    size_t sizes [] = { strlen (method), size };
    s_sha256_hex (parts, sizes, 2, hex);
}

bool
idempotency_intent (const Kaiin__Request *envelope, char *hex)
{
    if (!envelope->idempotency_key || !*envelope->idempotency_key)
        return false;
    char request [65];
    idempotency_hash (envelope->method, envelope->payload.data, envelope->payload.len, request);
    const void *parts [] = { envelope->caller_id, envelope->idempotency_key, request };
    size_t sizes [] = { strlen (envelope->caller_id), strlen (envelope->idempotency_key), 64 };
    s_sha256_hex (parts, sizes, 3, hex);
    return true;
}

static int
s_hex_value (char c)
{
    return c <= '9'? c - '0': (c | 0x20) - 'a' + 10;
}

idempotency_state_t
idempotency_check (pg_t *db, const char *caller_id, const char *key, const char *method,
                   const char *hash, int64_t now_ms, uint8_t **stored, size_t *stored_size)
{
    *stored = NULL;
    *stored_size = 0;
    const char *lock_params [] = { caller_id, key };
    PGresult *result = pg_run (db, "idempotency_lock", 2, lock_params);
    if (!result)
        return IDEMPOTENCY_ERROR;
    bool locked = strcmp (PQgetvalue (result, 0, 0), "t") == 0;
    PQclear (result);
    if (!locked)
        return IDEMPOTENCY_BUSY;

    char since [24];
    snprintf (since, sizeof since, "%lld", (long long) (now_ms - IDEMPOTENCY_TTL_MS));
    const char *params [] = { caller_id, key, since };
    if (!(result = pg_run (db, "idempotency_find", 3, params)))
        return IDEMPOTENCY_ERROR;
    idempotency_state_t state = IDEMPOTENCY_NEW;
    if (PQntuples (result) == 1) {
        if (strcmp (PQgetvalue (result, 0, 0), method) != 0
        ||  strcmp (PQgetvalue (result, 0, 1), hash) != 0)
            state = IDEMPOTENCY_MISMATCH;
        else {
            const char *hex = PQgetvalue (result, 0, 2);
            size_t size = strlen (hex) / 2;
            *stored = malloc (size + 1);
            assert (*stored);
            for (size_t i = 0; i < size; i++)
                (*stored) [i] = (uint8_t) (s_hex_value (hex [2 * i]) << 4 | s_hex_value (hex [2 * i + 1]));
            *stored_size = size;
            state = IDEMPOTENCY_REPLAY;
        }
    }
    PQclear (result);
    return state;
}

int
idempotency_store (pg_t *db, const char *caller_id, const char *key, const char *method,
                   const char *hash, const uint8_t *reply, size_t reply_size, int64_t now_ms)
{
    char *hex = malloc (reply_size * 2 + 1);
    assert (hex);
    for (size_t i = 0; i < reply_size; i++)
        snprintf (hex + 2 * i, 3, "%02x", reply [i]);
    hex [reply_size * 2] = 0;
    char now [24], expired [24];
    snprintf (now, sizeof now, "%lld", (long long) now_ms);
    snprintf (expired, sizeof expired, "%lld", (long long) (now_ms - IDEMPOTENCY_TTL_MS));
    const char *params [] = { caller_id, key, method, hash, hex, now };
    PGresult *result = pg_run (db, "idempotency_store", 6, params);
    free (hex);
    if (!result)
        return -1;
    PQclear (result);
    const char *prune_params [] = { expired };
    if (!(result = pg_run (db, "idempotency_prune", 1, prune_params)))
        return -1;
    PQclear (result);
    return 0;
}
