/* session.h - staff and member sessions, API-key cache, login throttling and the routes
   services announced, kept in Redis */
#ifndef KAIIN_SESSION_H
#define KAIIN_SESSION_H
#include <stdbool.h>
#include <sys/time.h>
#include <stddef.h>
#include <stdint.h>

#define SESSION_IDLE_S      (30 * 60)       /* idle timeout */
#define SESSION_ABSOLUTE_S  (12 * 60 * 60)  /* absolute lifetime */

/* Who is calling, once authenticated. */
typedef struct {
    char kind [12];                 /* "bootstrap", "session", "api_key", "member" */
    char id [64];                   /* staff id, API key id, "bootstrap", or a member's id */
    char role [16];
    char token_hash [65];           /* the session's key, for logout */
    char csrf [65];                 /* a session's CSRF token (docs/permissions.md), else "" */
} session_identity_t;

/* Where Redis is ("redis://host:port") and who Kaiin is there: user (an ACL user; "" for the
   default one) and password ("" for none). Connections are made per thread, on first use. */
void session_init (const char *redis_url, const char *user, const char *password);

/* A new connection to Redis, signed in, with timeout on connecting and on each command; NULL
   with the reason in why when Redis cannot be reached or refuses the password. The health
   check uses it too. Free with redisFree. */
struct redisContext *session_redis_connect (struct timeval timeout, char *why, size_t size);

/* True when given equals expected, compared in time independent of where they differ. */
bool session_token_equal (const char *given, const char *expected);

/* Writes the SHA-256 of text as 64 hex digits into hex (65 bytes). */
void session_sha256_hex (const char *text, char *hex);

/* Fills buf (at least 2 * bytes + 1) with random hex: bytes of entropy. Returns 0 or -1. */
int session_random_hex (char *buf, int bytes);

/* Makes a session for a staff account: token (at least 80 bytes) receives "kss_" and 256
   random bits in hex, csrf (65 bytes) the session's CSRF token, 256 other random bits in hex,
   kept with it. Returns 0, or -1 when Redis cannot be reached. */
int session_create (const char *staff_id, const char *role, char *token, char *csrf, int64_t now_ms);

/* Looks a session token up and slides its idle timeout. Returns 1 and fills identity when it
   is live, 0 when unknown or expired, -1 when Redis cannot be reached. */
int session_lookup (const char *token, session_identity_t *identity, int64_t now_ms);

/* Ends one session (by its hash), or every session of a staff account. Return 0 or -1. */
int session_delete (const char *token_hash);
int session_revoke_staff (const char *staff_id);

/* The API-key cache: a verified key's id and role for a minute. lookup: 1 hit, 0 miss, -1 error. */
int session_key_lookup (const char *secret_hash, session_identity_t *identity);
void session_key_remember (const char *secret_hash, const char *key_id, const char *role);
void session_key_forget (const char *key_id);

/* Login throttling: counts a failure for the account and the address (fixed one-hour windows).
   session_login_blocked says whether either has reached its limit: 1 yes, 0 no, -1 error. */
int session_login_blocked (const char *email, const char *ip);
void session_login_failed (const char *email, const char *ip);

/* --- members' own sessions and login throttling (kaiin:member-session:*, docs in README) --- */

/* Makes a session for a member: token (at least 80 bytes) receives "kms_" and 256 random bits
   in hex, csrf (65 bytes) its CSRF token. Kept as kaiin:member-session:<sha256 of the token>
   with the same idle and absolute limits as staff sessions. Returns 0, or -1 when Redis cannot
   be reached. */
int session_member_create (const char *member_id, char *token, char *csrf, int64_t now_ms);

/* Looks a member session token up and slides its idle timeout. Returns 1 and fills identity
   (kind and role "member", id the member's) when it is live, 0 when unknown or expired, -1
   when Redis cannot be reached. */
int session_member_lookup (const char *token, session_identity_t *identity, int64_t now_ms);

/* Ends one member session (by its hash). Returns 0 or -1. */
int session_member_delete (const char *token_hash);

/* Ends every session of a member but the one whose hash is keep_hash (NULL: all of them).
   Returns 0 or -1. */
int session_member_revoke (const char *member_id, const char *keep_hash);

#define SESSION_MEMBER_PAIR_MAX       10        /* failures per (account, address) ... */
#define SESSION_MEMBER_PAIR_LOCK_S    (15 * 60) /* ... then locked for 15 minutes */
#define SESSION_MEMBER_ACCOUNT_MAX    100       /* failures per account per hour, from new addresses */
#define SESSION_MEMBER_ADDRESS_MAX    100       /* failures per address per hour, on new pairs */
#define SESSION_MEMBER_KNOWN_S        (30 * 24 * 60 * 60)   /* an address stays known 30 days */

/* The throttle's name for an account: the SHA-256 (hex, 65 bytes) of the lower-cased email. */
void session_member_account_hash (const char *email, char *hash);

/* Checks an attempt against the limits and, when it may go on, counts it as a failure in
   advance, atomically (so that parallel attempts cannot all slip past the check before
   the first one fails). *known says whether the member has logged in from ip in the last 30
   days: such a pair is held only to its own limit. Returns 0 (go on), 1 (refused:
   *retry_after_s says for how long), or -1 when Redis cannot be reached. */
int session_member_login_begin (const char *account_hash, const char *ip, bool *known,
                                int *retry_after_s);

/* Settles an attempt begun with session_member_login_begin: SESSION_MEMBER_LOGIN_OK clears
   the pair's failures, takes back the advance count and makes the address known;
   SESSION_MEMBER_LOGIN_FAILED keeps the count (and starts the 15-minute lock on the tenth);
   SESSION_MEMBER_LOGIN_UNDECIDED (the service did not answer) takes the count back. */
typedef enum {
    SESSION_MEMBER_LOGIN_OK,
    SESSION_MEMBER_LOGIN_FAILED,
    SESSION_MEMBER_LOGIN_UNDECIDED
} session_member_outcome_t;
void session_member_login_end (const char *account_hash, const char *ip, bool known,
                               session_member_outcome_t outcome);

/* Keeps the latest announcement of service's routes (field service of the hash kaiin:api), so
   that a gateway started while the service is down knows its routes (and answers 503, not
   404). Best effort: a Redis error is logged. */
void session_api_keep (const char *service, const void *data, size_t size);

/* Calls fn with each kept announcement (data borrowed for the call). Returns 0, or -1 when
   Redis cannot be reached. */
int session_api_kept (void (*fn) (void *arg, const char *service, const void *data, size_t size),
                      void *arg);

#endif
