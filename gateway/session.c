/* session.c - staff and member sessions, API-key cache and login throttling, kept in Redis */
#include "session.h"
#include "log.h"
#include <ctype.h>
#include <hiredis.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define LOGIN_FAILURES_PER_ACCOUNT  100     /* per hour */
#define LOGIN_FAILURES_PER_ADDRESS  300     /* per hour */
#define KEY_CACHE_S                 60

static char s_host [256] = "127.0.0.1";
static int s_port = 6379;
static char s_user [64], s_password [256];
static pthread_key_t s_redis_key;         /* each thread's own connection, freed when it exits */
static pthread_once_t s_redis_once = PTHREAD_ONCE_INIT;

static void
s_redis_free (void *redis)
{
    redisFree (redis);
}

static void
s_redis_key_new (void)
{
    pthread_key_create (&s_redis_key, s_redis_free);
}

void
session_init (const char *redis_url, const char *user, const char *password)
{
    snprintf (s_user, sizeof s_user, "%s", user);
    snprintf (s_password, sizeof s_password, "%s", password);
    const char *host = strncmp (redis_url, "redis://", 8) == 0? redis_url + 8: redis_url;
    snprintf (s_host, sizeof s_host, "%s", host);
    char *colon = strrchr (s_host, ':');
    if (colon) {
        *colon = 0;
        s_port = atoi (colon + 1);
    }
}

/* This thread's connection, made or remade on demand; NULL when Redis cannot be reached. */
static redisContext *
s_connection (void)
{
    pthread_once (&s_redis_once, s_redis_key_new);
    redisContext *redis = pthread_getspecific (s_redis_key);
    if (redis && !redis->err)
        return redis;
    redisFree (redis);
    pthread_setspecific (s_redis_key, NULL);
    struct timeval timeout = { 1, 0 };         /* generous: a loaded machine stalls now and then */
    char why [256];
    redis = session_redis_connect (timeout, why, sizeof why);
    if (redis)
        pthread_setspecific (s_redis_key, redis);
    else
        log_error ("Redis at '%s:%d': %s", s_host, s_port, why);
    return redis;
}

redisContext *
session_redis_connect (struct timeval timeout, char *why, size_t size)
{
    redisContext *redis = redisConnectWithTimeout (s_host, s_port, timeout);
    if (!redis || redis->err) {
        snprintf (why, size, "not reachable");
        redisFree (redis);
        return NULL;
    }
    redisSetTimeout (redis, timeout);
    if (*s_password) {
        redisReply *reply = *s_user? redisCommand (redis, "AUTH %s %s", s_user, s_password)
                                   : redisCommand (redis, "AUTH %s", s_password);
        bool ok = reply && reply->type == REDIS_REPLY_STATUS;
        if (!ok)
            snprintf (why, size, "refused Kaiin's password (user '%s'): %s", *s_user? s_user: "default",
                      reply && reply->type == REDIS_REPLY_ERROR? reply->str: "no answer");
        freeReplyObject (reply);
        if (!ok) {
            redisFree (redis);
            return NULL;
        }
    }
    return redis;
}

/* Runs one command; returns its reply (caller frees) or NULL, dropping a broken connection. */
static redisReply *
s_command (const char *fmt, ...)
{
    redisContext *redis = s_connection ();
    if (!redis)
        return NULL;
    va_list args;
    va_start (args, fmt);
    redisReply *reply = redisvCommand (redis, fmt, args);
    va_end (args);
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        log_error ("Redis command failed: %s", reply? reply->str: redis->errstr);
        if (reply)
            freeReplyObject (reply);
        else {
            redisFree (redis);
            pthread_setspecific (s_redis_key, NULL);
        }
        return NULL;
    }
    return reply;
}

bool
session_token_equal (const char *given, const char *expected)
{
    size_t given_length = strlen (given), expected_length = strlen (expected);
    unsigned char difference = given_length != expected_length;
    for (size_t i = 0; i < given_length; i++)
        difference |= (unsigned char) given [i] ^ (unsigned char) expected [i % (expected_length? expected_length: 1)];
    return difference == 0;
}

void
session_sha256_hex (const char *text, char *hex)
{
    unsigned char digest [EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_Digest (text, strlen (text), digest, &size, EVP_sha256 (), NULL);
    for (unsigned int i = 0; i < size; i++)
        snprintf (hex + 2 * i, 3, "%02x", digest [i]);
}

int
session_random_hex (char *buf, int bytes)
{
    unsigned char random [64];
    if (bytes > (int) sizeof random || getrandom (random, bytes, 0) != bytes)
        return -1;
    for (int i = 0; i < bytes; i++)
        snprintf (buf + 2 * i, 3, "%02x", random [i]);
    return 0;
}

/* A session's CSRF token from its hash's field (absent in sessions made before it existed). */
static void
s_csrf_of (const redisReply *field, session_identity_t *identity)
{
    snprintf (identity->csrf, sizeof identity->csrf, "%s",
              field->type == REDIS_REPLY_STRING? field->str: "");
}

int
session_create (const char *staff_id, const char *role, char *token, char *csrf, int64_t now_ms)
{
    char random [65], hash [65];
    if (session_random_hex (random, 32) == -1 || session_random_hex (csrf, 32) == -1)
        return -1;
    snprintf (token, 80, "kss_%s", random);
    session_sha256_hex (token, hash);
    redisReply *reply = s_command ("HSET kaiin:session:%s staff_id %s role %s created_ms %lld csrf %s",
                                   hash, staff_id, role, (long long) now_ms, csrf);
    if (!reply)
        return -1;
    freeReplyObject (reply);
    if ((reply = s_command ("EXPIRE kaiin:session:%s %d", hash, SESSION_IDLE_S)))
        freeReplyObject (reply);
    if ((reply = s_command ("SADD kaiin:staff-sessions:%s %s", staff_id, hash)))
        freeReplyObject (reply);
    if ((reply = s_command ("EXPIRE kaiin:staff-sessions:%s %d", staff_id, SESSION_ABSOLUTE_S)))
        freeReplyObject (reply);
    return reply? 0: -1;
}

int
session_lookup (const char *token, session_identity_t *identity, int64_t now_ms)
{
    char hash [65];
    session_sha256_hex (token, hash);
    redisReply *reply = s_command ("HMGET kaiin:session:%s staff_id role created_ms csrf", hash);
    if (!reply)
        return -1;
    int found = reply->type == REDIS_REPLY_ARRAY && reply->elements == 4
             && reply->element [0]->type == REDIS_REPLY_STRING
             && reply->element [1]->type == REDIS_REPLY_STRING
             && reply->element [2]->type == REDIS_REPLY_STRING;
    if (found) {
        long long created = strtoll (reply->element [2]->str, NULL, 10);
        if (created + SESSION_ABSOLUTE_S * 1000LL < now_ms)
            found = 0;
        else {
            snprintf (identity->kind, sizeof identity->kind, "session");
            snprintf (identity->id, sizeof identity->id, "%s", reply->element [0]->str);
            snprintf (identity->role, sizeof identity->role, "%s", reply->element [1]->str);
            snprintf (identity->token_hash, sizeof identity->token_hash, "%s", hash);
            s_csrf_of (reply->element [3], identity);
        }
    }
    freeReplyObject (reply);
    reply = found? s_command ("EXPIRE kaiin:session:%s %d", hash, SESSION_IDLE_S)
                 : s_command ("DEL kaiin:session:%s", hash);
    if (reply)
        freeReplyObject (reply);
    return found;
}

int
session_delete (const char *token_hash)
{
    redisReply *reply = s_command ("DEL kaiin:session:%s", token_hash);
    if (!reply)
        return -1;
    freeReplyObject (reply);
    return 0;
}

int
session_revoke_staff (const char *staff_id)
{
    redisReply *members = s_command ("SMEMBERS kaiin:staff-sessions:%s", staff_id);
    if (!members)
        return -1;
    for (size_t i = 0; members->type == REDIS_REPLY_ARRAY && i < members->elements; i++)
        if (members->element [i]->type == REDIS_REPLY_STRING)
            session_delete (members->element [i]->str);
    freeReplyObject (members);
    redisReply *reply = s_command ("DEL kaiin:staff-sessions:%s", staff_id);
    if (!reply)
        return -1;
    freeReplyObject (reply);
    return 0;
}

int
session_key_lookup (const char *secret_hash, session_identity_t *identity)
{
    redisReply *reply = s_command ("GET kaiin:api-key:%s", secret_hash);
    if (!reply)
        return -1;
    int found = 0;
    char id [64], role [16];
    if (reply->type == REDIS_REPLY_STRING && sscanf (reply->str, "%63s %15s", id, role) == 2) {
        snprintf (identity->kind, sizeof identity->kind, "api_key");
        snprintf (identity->id, sizeof identity->id, "%s", id);
        snprintf (identity->role, sizeof identity->role, "%s", role);
        found = 1;
    }
    freeReplyObject (reply);
    return found;
}

void
session_key_remember (const char *secret_hash, const char *key_id, const char *role)
{
    redisReply *reply;
    char value [96];
    snprintf (value, sizeof value, "%s %s", key_id, role);
    if ((reply = s_command ("SET kaiin:api-key:%s %s EX %d", secret_hash, value, KEY_CACHE_S)))
        freeReplyObject (reply);
    if ((reply = s_command ("SET kaiin:api-key-of:%s %s EX %d", key_id, secret_hash, KEY_CACHE_S)))
        freeReplyObject (reply);
}

void
session_key_forget (const char *key_id)
{
    redisReply *reply = s_command ("GET kaiin:api-key-of:%s", key_id);
    if (reply && reply->type == REDIS_REPLY_STRING) {
        redisReply *deleted = s_command ("DEL kaiin:api-key:%s", reply->str);
        if (deleted)
            freeReplyObject (deleted);
    }
    if (reply)
        freeReplyObject (reply);
}

/* The throttling keys: the account by its lower-cased email, the address as given. */
static void
s_keys (const char *email, const char *ip, char *account_key, char *address_key, size_t size)
{
    char lower [256];
    size_t i = 0;
    for (; email [i] && i < sizeof lower - 1; i++)
        lower [i] = (char) tolower ((unsigned char) email [i]);
    lower [i] = 0;
    char hash [65];
    session_sha256_hex (lower, hash);
    snprintf (account_key, size, "kaiin:login-failures:account:%s", hash);
    snprintf (address_key, size, "kaiin:login-failures:ip:%s", ip);
}

int
session_login_blocked (const char *email, const char *ip)
{
    char account_key [128], address_key [128];
    s_keys (email, ip, account_key, address_key, sizeof account_key);
    redisReply *reply = s_command ("MGET %s %s", account_key, address_key);
    if (!reply)
        return -1;
    long account = 0, address = 0;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2) {
        if (reply->element [0]->type == REDIS_REPLY_STRING)
            account = atol (reply->element [0]->str);
        if (reply->element [1]->type == REDIS_REPLY_STRING)
            address = atol (reply->element [1]->str);
    }
    freeReplyObject (reply);
    return account >= LOGIN_FAILURES_PER_ACCOUNT || address >= LOGIN_FAILURES_PER_ADDRESS;
}

void
session_login_failed (const char *email, const char *ip)
{
    char account_key [128], address_key [128];
    s_keys (email, ip, account_key, address_key, sizeof account_key);
    const char *keys [] = { account_key, address_key };
    for (int i = 0; i < 2; i++) {
        redisReply *reply = s_command ("INCR %s", keys [i]);
        if (reply && reply->type == REDIS_REPLY_INTEGER && reply->integer == 1) {
            freeReplyObject (reply);
            reply = s_command ("EXPIRE %s 3600", keys [i]);
        }
        if (reply)
            freeReplyObject (reply);
    }
}

/* --- members' own sessions ------------------------------------------------------------------ */

int
session_member_create (const char *member_id, char *token, char *csrf, int64_t now_ms)
{
    char random [65], hash [65];
    if (session_random_hex (random, 32) == -1 || session_random_hex (csrf, 32) == -1)
        return -1;
    snprintf (token, 80, "kms_%s", random);
    session_sha256_hex (token, hash);
    redisReply *reply = s_command ("HSET kaiin:member-session:%s member_id %s created_ms %lld csrf %s",
                                   hash, member_id, (long long) now_ms, csrf);
    if (!reply)
        return -1;
    freeReplyObject (reply);
    if ((reply = s_command ("EXPIRE kaiin:member-session:%s %d", hash, SESSION_IDLE_S)))
        freeReplyObject (reply);
    if ((reply = s_command ("SADD kaiin:member-sessions:%s %s", member_id, hash)))
        freeReplyObject (reply);
    if ((reply = s_command ("EXPIRE kaiin:member-sessions:%s %d", member_id, SESSION_ABSOLUTE_S)))
        freeReplyObject (reply);
    return reply? 0: -1;
}

int
session_member_lookup (const char *token, session_identity_t *identity, int64_t now_ms)
{
    char hash [65];
    session_sha256_hex (token, hash);
    redisReply *reply = s_command ("HMGET kaiin:member-session:%s member_id created_ms csrf", hash);
    if (!reply)
        return -1;
    int found = reply->type == REDIS_REPLY_ARRAY && reply->elements == 3
             && reply->element [0]->type == REDIS_REPLY_STRING
             && reply->element [1]->type == REDIS_REPLY_STRING;
    if (found) {
        long long created = strtoll (reply->element [1]->str, NULL, 10);
        if (created + SESSION_ABSOLUTE_S * 1000LL < now_ms)
            found = 0;
        else {
            snprintf (identity->kind, sizeof identity->kind, "member");
            snprintf (identity->id, sizeof identity->id, "%s", reply->element [0]->str);
            snprintf (identity->role, sizeof identity->role, "member");
            snprintf (identity->token_hash, sizeof identity->token_hash, "%s", hash);
            s_csrf_of (reply->element [2], identity);
        }
    }
    freeReplyObject (reply);
    reply = found? s_command ("EXPIRE kaiin:member-session:%s %d", hash, SESSION_IDLE_S)
                 : s_command ("DEL kaiin:member-session:%s", hash);
    if (reply)
        freeReplyObject (reply);
    return found;
}

int
session_member_delete (const char *token_hash)
{
    redisReply *reply = s_command ("DEL kaiin:member-session:%s", token_hash);
    if (!reply)
        return -1;
    freeReplyObject (reply);
    return 0;
}

int
session_member_revoke (const char *member_id, const char *keep_hash)
{
    redisReply *members = s_command ("SMEMBERS kaiin:member-sessions:%s", member_id);
    if (!members)
        return -1;
    int rc = 0;
    for (size_t i = 0; members->type == REDIS_REPLY_ARRAY && i < members->elements; i++) {
        const redisReply *hash = members->element [i];
        if (hash->type != REDIS_REPLY_STRING || (keep_hash && strcmp (hash->str, keep_hash) == 0))
            continue;
        redisReply *reply = s_command ("SREM kaiin:member-sessions:%s %s", member_id, hash->str);
        if (reply)
            freeReplyObject (reply);
        if (session_member_delete (hash->str) == -1)
            rc = -1;
    }
    freeReplyObject (members);
    return rc;
}

/* --- members' login throttling ------------------------------------------------------------- */

/* KEYS: the pair's failures, the account's, the address's, the pair's "known" mark.
   ARGV: pair max, pair lock (s), account max, address max, hour (s).
   Returns { refused (0 or 1), retry after (s), known (0 or 1) }. Atomic: the check and the
   advance count are one step, so N parallel attempts give N distinct counts. */
static const char *s_begin_script =
    "local known = redis.call ('EXISTS', KEYS [4]) == 1 and 1 or 0\n"
    "local function over (key, max, window)\n"
    "  if tonumber (redis.call ('GET', key) or '0') >= tonumber (max) then\n"
    "    local ttl = redis.call ('TTL', key)\n"
    "    if ttl < 1 then ttl = tonumber (window) end\n"
    "    return ttl\n"
    "  end\n"
    "  return nil\n"
    "end\n"
    "local ttl = over (KEYS [1], ARGV [1], ARGV [2])\n"
    "if ttl then return { 1, ttl, known } end\n"
    "if known == 0 then\n"
    "  ttl = over (KEYS [2], ARGV [3], ARGV [5]) or over (KEYS [3], ARGV [4], ARGV [5])\n"
    "  if ttl then return { 1, ttl, known } end\n"
    "end\n"
    "if redis.call ('INCR', KEYS [1]) == 1 then redis.call ('EXPIRE', KEYS [1], ARGV [2]) end\n"
    "if known == 0 then\n"
    "  for i = 2, 3 do\n"
    "    if redis.call ('INCR', KEYS [i]) == 1 then redis.call ('EXPIRE', KEYS [i], ARGV [5]) end\n"
    "  end\n"
    "end\n"
    "return { 0, 0, known }\n";

/* KEYS as above. ARGV: outcome ("ok", "failed", "undo"), known (0 or 1), pair max, pair lock
   (s), known lifetime (s). A count is only ever taken back while its key still exists, so an
   expired window never turns into a negative count without expiry. */
static const char *s_end_script =
    "local function take_back (key)\n"
    "  if tonumber (redis.call ('GET', key) or '0') > 0 then redis.call ('DECR', key) end\n"
    "end\n"
    "if ARGV [1] == 'ok' then\n"
    "  redis.call ('DEL', KEYS [1])\n"
    "  redis.call ('SET', KEYS [4], '1', 'EX', ARGV [5])\n"
    "elseif ARGV [1] == 'undo' then\n"
    "  take_back (KEYS [1])\n"
    "elseif tonumber (redis.call ('GET', KEYS [1]) or '0') >= tonumber (ARGV [3]) then\n"
    "  redis.call ('EXPIRE', KEYS [1], ARGV [4])\n"
    "end\n"
    "if ARGV [1] ~= 'failed' and ARGV [2] == '0' then\n"
    "  take_back (KEYS [2])\n"
    "  take_back (KEYS [3])\n"
    "end\n"
    "return 0\n";

void
session_member_account_hash (const char *email, char *hash)
{
    size_t length = strlen (email);
    char *lower = malloc (length + 1);
    if (!lower) {
        session_sha256_hex (email, hash);
        return;
    }
    for (size_t i = 0; i <= length; i++)
        lower [i] = (char) tolower ((unsigned char) email [i]);
    session_sha256_hex (lower, hash);
    free (lower);
}

/* The four keys of an attempt. */
typedef struct {
    char pair [200], account [128], address [128], known [200];
} member_login_keys_t;

static void
s_member_keys (const char *account_hash, const char *ip, member_login_keys_t *keys)
{
    snprintf (keys->pair, sizeof keys->pair, "kaiin:member-login-failures:pair:%s:%s", account_hash, ip);
    snprintf (keys->account, sizeof keys->account, "kaiin:member-login-failures:account:%s", account_hash);
    snprintf (keys->address, sizeof keys->address, "kaiin:member-login-failures:ip:%s", ip);
    snprintf (keys->known, sizeof keys->known, "kaiin:member-login-known:%s:%s", account_hash, ip);
}

int
session_member_login_begin (const char *account_hash, const char *ip, bool *known, int *retry_after_s)
{
    member_login_keys_t keys;
    s_member_keys (account_hash, ip, &keys);
    redisReply *reply = s_command ("EVAL %s 4 %s %s %s %s %d %d %d %d %d", s_begin_script,
                                   keys.pair, keys.account, keys.address, keys.known,
                                   SESSION_MEMBER_PAIR_MAX, SESSION_MEMBER_PAIR_LOCK_S,
                                   SESSION_MEMBER_ACCOUNT_MAX, SESSION_MEMBER_ADDRESS_MAX, 3600);
    if (!reply)
        return -1;
    int rc = -1;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 3
    &&  reply->element [0]->type == REDIS_REPLY_INTEGER
    &&  reply->element [1]->type == REDIS_REPLY_INTEGER
    &&  reply->element [2]->type == REDIS_REPLY_INTEGER) {
        rc = reply->element [0]->integer? 1: 0;
        *retry_after_s = (int) reply->element [1]->integer;
        *known = reply->element [2]->integer == 1;
    }
    else
        log_error ("the member login throttle's script answered something unexpected");
    freeReplyObject (reply);
    return rc;
}

void
session_member_login_end (const char *account_hash, const char *ip, bool known,
                          session_member_outcome_t outcome)
{
    static const char *const outcomes [] = { "ok", "failed", "undo" };
    member_login_keys_t keys;
    s_member_keys (account_hash, ip, &keys);
    redisReply *reply = s_command ("EVAL %s 4 %s %s %s %s %s %d %d %d %d", s_end_script,
                                   keys.pair, keys.account, keys.address, keys.known,
                                   outcomes [outcome], known? 1: 0, SESSION_MEMBER_PAIR_MAX,
                                   SESSION_MEMBER_PAIR_LOCK_S, SESSION_MEMBER_KNOWN_S);
    if (reply)
        freeReplyObject (reply);
}

void
session_api_keep (const char *service, const void *data, size_t size)
{
    redisReply *reply = s_command ("HSET kaiin:api %s %b", service, data, size);
    if (reply)
        freeReplyObject (reply);
}

int
session_api_kept (void (*fn) (void *arg, const char *service, const void *data, size_t size),
                  void *arg)
{
    redisReply *reply = s_command ("HGETALL kaiin:api");
    if (!reply)
        return -1;
    for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i + 1 < reply->elements; i += 2)
        fn (arg, reply->element [i]->str, reply->element [i + 1]->str, reply->element [i + 1]->len);
    freeReplyObject (reply);
    return 0;
}
