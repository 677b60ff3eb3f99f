/* session.h - staff sessions, API-key cache and login throttling, kept in Redis */
#ifndef KAIIN_SESSION_H
#define KAIIN_SESSION_H
#include <stdbool.h>
#include <stdint.h>

#define SESSION_IDLE_S      (30 * 60)       /* idle timeout */
#define SESSION_ABSOLUTE_S  (12 * 60 * 60)  /* absolute lifetime */

/* Who is calling, once authenticated. */
typedef struct {
    char kind [12];                 /* "bootstrap", "session", "api_key" */
    char id [64];                   /* staff id, API key id, or "bootstrap" */
    char role [16];
    char token_hash [65];           /* the session's key, for logout */
} session_identity_t;

/* Where Redis is ("redis://host:port"). Connections are made per thread, on first use. */
void session_init (const char *redis_url);

/* Writes the SHA-256 of text as 64 hex digits into hex (65 bytes). */
void session_sha256_hex (const char *text, char *hex);

/* Fills buf (at least 2 * bytes + 1) with random hex: bytes of entropy. Returns 0 or -1. */
int session_random_hex (char *buf, int bytes);

/* Makes a session for a staff account: token (at least 80 bytes) receives "kss_" and 256
   random bits in hex. Returns 0, or -1 when Redis cannot be reached. */
int session_create (const char *staff_id, const char *role, char *token, int64_t now_ms);

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

#endif
