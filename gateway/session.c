/* session.c - staff sessions, API-key cache and login throttling, kept in Redis */
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
session_init (const char *redis_url)
{
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
    struct timeval timeout = { 0, 250 * 1000 };
    redis = redisConnectWithTimeout (s_host, s_port, timeout);
    if (!redis || redis->err) {
        log_error ("cannot connect to Redis at '%s:%d'", s_host, s_port);
        redisFree (redis);
        return NULL;
    }
    redisSetTimeout (redis, timeout);
    pthread_setspecific (s_redis_key, redis);
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

int
session_create (const char *staff_id, const char *role, char *token, int64_t now_ms)
{
    char random [65], hash [65];
    if (session_random_hex (random, 32) == -1)
        return -1;
    snprintf (token, 80, "kss_%s", random);
    session_sha256_hex (token, hash);
    redisReply *reply = s_command ("HSET kaiin:session:%s staff_id %s role %s created_ms %lld",
                                   hash, staff_id, role, (long long) now_ms);
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
    redisReply *reply = s_command ("HMGET kaiin:session:%s staff_id role created_ms", hash);
    if (!reply)
        return -1;
    int found = reply->type == REDIS_REPLY_ARRAY && reply->elements == 3
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
