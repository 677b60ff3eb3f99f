/* cookie.c - sessions in cookies for the screens: set at login, read when a request has no
   bearer token, cleared at logout; and the CSRF token a cookie's unsafe request must carry */
#include "cookie.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool s_secure;

void
cookie_init (bool secure)
{
    s_secure = secure;
}

static const char *
s_name_of (const char *kind)
{
    return strcmp (kind, "member") == 0? COOKIE_MEMBER: COOKIE_STAFF;
}

/* The named cookie's value when it has a session token's form, else NULL. */
static const char *
s_session_cookie (http_request_t *request, const char *name, const char *prefix)
{
    const char *value = MHD_lookup_connection_value (request->connection, MHD_COOKIE_KIND, name);
    return value && strncmp (value, prefix, 4) == 0? value: NULL;
}

const char *
cookie_token (http_request_t *request)
{
    const char *staff = s_session_cookie (request, COOKIE_STAFF, "kss_");
    const char *member = s_session_cookie (request, COOKIE_MEMBER, "kms_");
    const char *prefers = http_header (request, "X-Kaiin-Session");
    if (member && (!staff || (prefers && strcasecmp (prefers, "member") == 0)))
        return member;
    return staff;
}

static bool
s_behind_tls (http_request_t *request)
{
    return s_secure || http_behind_tls (request);
}

/* Adds a Set-Cookie of name with value; max_age_s < 0: a browser-session cookie (the session's
   own idle and absolute limits end it sooner). */
static void
s_set (http_request_t *request, const char *name, const char *value, int max_age_s)
{
    char cookie [256], age [32] = "";
    if (max_age_s >= 0)
        snprintf (age, sizeof age, "; Max-Age=%d", max_age_s);
    snprintf (cookie, sizeof cookie, "%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s", name, value,
              s_behind_tls (request)? "; Secure": "", age);
    MHD_add_response_header (request->response, "Set-Cookie", cookie);
}

void
cookie_set (http_request_t *request, const char *kind, const char *token, const char *csrf)
{
    s_set (request, s_name_of (kind), token, -1);
    MHD_add_response_header (request->response, HTTP_CSRF_HEADER, csrf);
}

void
cookie_clear (http_request_t *request, const char *kind)
{
    s_set (request, s_name_of (kind), "", 0);
}

bool
cookie_csrf_ok (http_request_t *request)
{
    const char *method = request->method;
    if (strcmp (method, "GET") == 0 || strcmp (method, "HEAD") == 0 || strcmp (method, "OPTIONS") == 0)
        return true;
    const char *given = http_header (request, HTTP_CSRF_HEADER);
    if (given && *request->caller.csrf && session_token_equal (given, request->caller.csrf))
        return true;
    *request->caller.csrf = 0;          /* a refused write does not learn the token either */
    http_problem (request, 403, given? "the X-CSRF-Token header does not match this session"
                                     : "a write signed in by cookie needs the X-CSRF-Token header",
                  NULL, json_pack ("{s:s}", "type", "/problems/csrf"));
    return false;
}
