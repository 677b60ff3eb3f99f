/* cookie.h - sessions in cookies for the screens: set at login, read when a request has no
   bearer token, cleared at logout; and the CSRF token a cookie's unsafe request must carry */
#ifndef KAIIN_COOKIE_H
#define KAIIN_COOKIE_H
#include "http.h"
#include <stdbool.h>

#define COOKIE_STAFF        "kaiin_session"         /* a staff session's token */
#define COOKIE_MEMBER       "kaiin_member_session"  /* a member session's token */

/* secure: every cookie is Secure (KAIIN_COOKIE_SECURE=1); else only those set on a request
   that came through TLS (the gateway's own, or X-Forwarded-Proto: https: http_behind_tls). */
void cookie_init (bool secure);

/* The session token of the request's cookies (borrowed), or NULL: the staff cookie, or the
   member's when the request prefers it (X-Kaiin-Session: member, as the portal sends) or has
   no staff cookie. Only a session token's form (kss_, kms_) is taken from a cookie. */
const char *cookie_token (http_request_t *request);

/* Adds to the request's response the cookie holding a new session's token (kind "staff" or
   "member", as the reply's session names it) and its CSRF token as HTTP_CSRF_HEADER. */
void cookie_set (http_request_t *request, const char *kind, const char *token, const char *csrf);

/* Adds to the request's response a cookie of kind ("staff" or "member") that ends it. */
void cookie_clear (http_request_t *request, const char *kind);

/* True when a request the cookie authenticated may go on: a safe method (GET, HEAD, OPTIONS),
   or X-CSRF-Token equal to the session's token. Otherwise answers 403 (/problems/csrf) and
   returns false. */
bool cookie_csrf_ok (http_request_t *request);

#endif
