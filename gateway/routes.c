/* routes.c - the routing table: which handler serves which method and path, behind which auth */
#include "routes.h"
#include "problem.h"
#include "messages.h"
#include "api_routes.h"
#include "health.h"
#include "log.h"
#include "openapi.h"
#include "session.h"
#include "test_clock_routes.h"
#include "web.h"
#include "clock.h"
#include "cookie.h"
#include "api.pb-c.h"
#include "metrics.h"
#include "metrics.pb-c.h"
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (route_fn) (http_request_t *request);

/* What a route of the gateway's own needs; the routes services announce carry their own
   permissions, by name (api_routes.c). */
enum {
    OPEN = -1,                      /* no token at all */
    SIGNED_IN = 0,                  /* any valid token of staff (a member's session gets 403) */
    MEMBER_SESSION = 1              /* only a member session (staff get 403) */
};

typedef struct {
    const char *method;
    const char *pattern;            /* "{id}" matches one path segment */
    route_fn *handler;
    int needs;                      /* OPEN, SIGNED_IN or MEMBER_SESSION */
    bool test_only;                 /* exists only with KAIIN_TEST_MODE=1 (else 404) */
} route_t;

static void s_healthz (http_request_t *request);
static void s_readyz (http_request_t *request);
static void s_metrics (http_request_t *request);
static void s_service_metrics (http_request_t *request);
static void s_openapi (http_request_t *request);
static void s_openapi_json (http_request_t *request);
static void s_staff_logout (http_request_t *request);
static void s_member_logout (http_request_t *request);
static void s_my_permissions (http_request_t *request);
static void s_problem_page (http_request_t *request);

static const route_t s_routes [] = {
    { "GET",   "/healthz",                   s_healthz, OPEN },
    { "GET",   "/readyz",                    s_readyz, OPEN },
    { "GET",   "/metrics",                   s_metrics, OPEN },
    /* a service's own figures, its business among them: owner and admin (checked there) */
    { "GET",   "/metrics/{service}",         s_service_metrics, SIGNED_IN },
    { "GET",   "/openapi.yaml",              s_openapi, OPEN },
    { "GET",   "/openapi.json",              s_openapi_json, OPEN },
    { "GET",   "/problems/{slug}",           s_problem_page, OPEN },
    { "POST",  "/v1/auth/logout",            s_staff_logout, SIGNED_IN },
    { "GET",   "/v1/me/permissions",         s_my_permissions, SIGNED_IN },
    { "POST",  "/v1/member-auth/logout",     s_member_logout, MEMBER_SESSION },
    /* the test clock: owner and admin only (checked by the handlers), test mode only */
    { "POST",  "/v1/test/clock",             test_clock_routes_set, SIGNED_IN, true },
    { "GET",   "/v1/test/clock",             test_clock_routes_get, SIGNED_IN, true },
};
#define MAX_SERVICES 16
#define ROUTE_COUNT ((int) (sizeof s_routes / sizeof s_routes [0]))

static routes_config_t s_config;
static const char *s_route_methods [ROUTE_COUNT], *s_route_patterns [ROUTE_COUNT];

int
routes_init (const routes_config_t *config)
{
    s_config = *config;
    api_routes_init (config->broker);
    for (int i = 0; i < ROUTE_COUNT; i++) {
        s_route_methods [i] = s_routes [i].method;
        s_route_patterns [i] = s_routes [i].pattern;
    }
    metrics_init (s_route_methods, s_route_patterns, ROUTE_COUNT);
    return openapi_init (config->openapi_path);
}

void
routes_destroy (void)
{
    openapi_destroy ();
    api_routes_destroy ();
}

/* Matches path against pattern; on a match copies the {id} segment into param. */
static bool
s_match (const char *pattern, const char *path, char *param, size_t param_size)
{
    while (*pattern && *path) {
        if (*pattern == '{') {
            size_t length = strcspn (path, "/");
            if (length == 0 || length >= param_size)
                return false;
            memcpy (param, path, length);
            param [length] = 0;
            path += length;
            pattern = strchr (pattern, '}') + 1;
        }
        else
        if (*pattern++ != *path++)
            return false;
    }
    return *pattern == 0 && *path == 0;
}

/* Checks the caller may use the route, then serves it. */
static void
s_serve_as_caller (http_request_t *request)
{
    if (request->api) {
        api_routes_serve (request);
        return;
    }
    const route_t *route = &s_routes [request->route];
    bool member = strcmp (request->caller.kind, "member") == 0;
    if (member != (route->needs == MEMBER_SESSION)) {
        char detail [128];
        snprintf (detail, sizeof detail, member? "a member's session may only use its own member's routes"
                                               : "the role '%s' may not do this", request->caller.role);
        http_problem (request, 403, detail, NULL, NULL);
        return;
    }
    route->handler (request);
}

static void
s_on_key_verified (http_request_t *request, const ProtobufCBinaryData *payload)
{
    Kaiin__KeyIdentity *key = (Kaiin__KeyIdentity *) http_unpack (request, &kaiin__key_identity__descriptor, payload);
    if (!key)
        return;
    session_key_remember (request->caller.token_hash, key->id, key->role);
    snprintf (request->caller.kind, sizeof request->caller.kind, "api_key");
    snprintf (request->caller.id, sizeof request->caller.id, "%s", key->id);
    snprintf (request->caller.role, sizeof request->caller.role, "%s", key->role);
    kaiin__key_identity__free_unpacked (key, NULL);
    s_serve_as_caller (request);
}

static void
s_on_key_rejected (http_request_t *request, unsigned int status, const char *message)
{
    if (status == 401)
        http_problem (request, 401, "a valid bearer token is required", NULL, NULL);
    else
        http_problem (request, status, message, NULL, NULL);
}

/* Finds who is calling from the bearer token, or without one from the session cookie, then
   serves the route as them. */
static void
s_authenticate (http_request_t *request)
{
    const char *header = http_header (request, "Authorization");
    const char *token = header && strncasecmp (header, "Bearer ", 7) == 0? header + 7: "";
    while (*token == ' ')
        token++;
    if (!header && cookie_token (request)) {
        token = cookie_token (request);
        request->by_cookie = true;
    }
    session_identity_t *caller = &request->caller;
    if (*token && *s_config.admin_token && session_token_equal (token, s_config.admin_token)) {
        *caller = (session_identity_t) { "bootstrap", "bootstrap", "owner", "" };
        s_serve_as_caller (request);
        return;
    }
    int found = 0;
    if (strncmp (token, "kss_", 4) == 0)
        found = session_lookup (token, caller, clock_now_ms ());
    else
    if (strncmp (token, "kms_", 4) == 0)
        found = session_member_lookup (token, caller, clock_now_ms ());
    else
    if (strncmp (token, "kak_", 4) == 0) {
        session_sha256_hex (token, caller->token_hash);
        found = session_key_lookup (caller->token_hash, caller);
        char method [96];
        if (found == 0 && api_routes_key_method (method, sizeof method)) {
            /* Not cached: ask the service that keeps the keys, then go on from its answer. */
            *caller = (session_identity_t) { "gateway", "gateway", "service", "" };
            session_sha256_hex (token, caller->token_hash);
            Kaiin__KeyCheck check = KAIIN__KEY_CHECK__INIT;
            check.secret_sha256 = caller->token_hash;
            request->on_error = s_on_key_rejected;
            char service [32];
            snprintf (service, sizeof service, "%.*s", (int) strcspn (method, "."), method);
            http_call (request, service, method, &check.base, s_on_key_verified);
            return;
        }
        if (found == 0) {
            http_problem (request, 503, "no service checks API keys right now", NULL, NULL);
            return;
        }
    }
    if (found == -1)
        http_problem (request, 503, "the session store is not available right now", NULL, NULL);
    else
    if (found == 0) {
        http_problem (request, 401, "a valid bearer token is required", NULL, NULL);
        if (request->by_cookie)             /* the session is over: so is its cookie */
            cookie_clear (request, strncmp (token, "kms_", 4) == 0? "member": "staff");
    }
    else
    if (!request->by_cookie || cookie_csrf_ok (request))
        s_serve_as_caller (request);
}

size_t
routes_body_limit (const char *method, const char *path)
{
    size_t announced = api_routes_body_limit (method, path);
    return announced? announced: HTTP_MAX_BODY;
}

void
routes_before_body (http_request_t *request)
{
    /* An upload route (a CSV import: up to 32 MiB) keeps no body of a caller with no
       credential at all: answered 401 now, the body is dropped as it comes. A credential is
       checked, as on every route, once the body is in. */
    if (request->body_limit > HTTP_MAX_BODY
    &&  !http_header (request, "Authorization") && !cookie_token (request))
        http_problem (request, 401, "a valid bearer token is required", NULL, NULL);
}

void
routes_dispatch (http_request_t *request)
{
    if (web_serve (request))
        return;
    char allow [64] = "";
    for (int i = 0; i < ROUTE_COUNT; i++) {
        char param [sizeof request->param];
        if (!s_match (s_routes [i].pattern, request->path, param, sizeof param)
        ||  (s_routes [i].test_only && !clock_test_mode ()))
            continue;
        /* HEAD is GET without the body, which libmicrohttpd leaves out by itself. */
        const char *method = strcmp (request->method, "HEAD") == 0? "GET": request->method;
        if (strcmp (s_routes [i].method, method) != 0) {
            size_t used = strlen (allow);
            snprintf (allow + used, sizeof allow - used, "%s%s", used? ", ": "", s_routes [i].method);
            continue;
        }
        request->route = i;
        memcpy (request->param, param, sizeof param);
        if (s_routes [i].needs == OPEN)
            s_routes [i].handler (request);
        else
            s_authenticate (request);
        return;
    }
    const char *verb = strcmp (request->method, "HEAD") == 0? "GET": request->method;
    if (api_routes_match (request, verb, allow, sizeof allow)) {
        if (api_routes_open (request))
            api_routes_serve (request);
        else
            s_authenticate (request);
        return;
    }
    if (*allow) {
        request->allow = allow;         /* read by http_problem, before this returns */
        http_problem (request, 405, "this method is not allowed on this resource", NULL, NULL);
        request->allow = NULL;
    }
    else
        http_problem (request, 404, "no such route", NULL, NULL);
}

static void
s_healthz (http_request_t *request)
{
    static const char ok [] = "{\"status\":\"ok\"}";
    http_respond_static (request, 200, "application/json", ok, sizeof ok - 1);
}

static void
s_readyz (http_request_t *request)
{
    json_t *checks = json_object ();
    char verdict [128], missing [256] = "";
    bool ready = true;
    if (!health_postgresql (verdict, sizeof verdict)) {
        ready = false;
        snprintf (missing + strlen (missing), sizeof missing - strlen (missing), "postgresql, ");
    }
    json_object_set_new (checks, "postgresql", json_string (verdict));
    if (!health_redis (verdict, sizeof verdict)) {
        ready = false;
        snprintf (missing + strlen (missing), sizeof missing - strlen (missing), "redis, ");
    }
    json_object_set_new (checks, "redis", json_string (verdict));
    char services [MAX_SERVICES][32];
    int count = config_names (s_config.services, services, MAX_SERVICES);
    for (int i = 0; i < count; i++) {
        bool alive = mdp_broker_workers (s_config.broker, services [i]) > 0;
        json_object_set_new (checks, services [i], json_string (alive? "ok": "no live worker"));
        if (!alive) {
            ready = false;
            snprintf (missing + strlen (missing), sizeof missing - strlen (missing), "%.31s, ", services [i]);
        }
    }
    if (ready) {
        http_respond_json (request, 200, json_pack ("{s:s, s:o}", "status", "ready", "checks", checks));
        return;
    }
    missing [strlen (missing) - 2] = 0;
    char detail [300];
    snprintf (detail, sizeof detail, "not ready: %s", missing);
    http_problem (request, 503, detail, NULL, json_pack ("{s:s, s:o}", "type", "/problems/not-ready",
                                                         "checks", checks));
}

/* Logouts end the caller's own session: the gateway's store alone knows it. */
static void
s_staff_logout (http_request_t *request)
{
    if (strcmp (request->caller.kind, "session") != 0)
        http_problem (request, 400, "only a session token can be logged out", NULL, NULL);
    else
    if (session_delete (request->caller.token_hash) == -1)
        http_problem (request, 503, "the session store is not available right now", NULL, NULL);
    else {
        http_respond_text (request, 204, "text/plain", "", 0);
        cookie_clear (request, "staff");
    }
}

static void
s_member_logout (http_request_t *request)
{
    if (session_member_delete (request->caller.token_hash) == -1)
        http_problem (request, 503, "the session store is not available right now", NULL, NULL);
    else {
        http_respond_text (request, 204, "text/plain", "", 0);
        cookie_clear (request, "member");
    }
}

/* What the caller's role may do, by the permissions the services declared: the screens hide
   what it may not (the routes still check). */
static void
s_my_permissions (http_request_t *request)
{
    http_respond_json (request, 200, json_pack ("{s:s, s:o}", "role", request->caller.role,
                       "permissions", api_routes_permissions_of (request->caller.role)));
}

static void
s_metrics (http_request_t *request)
{
    char *text = metrics_render (s_config.broker, http_in_flight (), http_body_bytes ());
    http_respond_text (request, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen (text));
    free (text);
}

bool
routes_owner_or_admin (http_request_t *request)
{
    if (strcmp (request->caller.role, "owner") == 0 || strcmp (request->caller.role, "admin") == 0)
        return true;
    char detail [128];
    snprintf (detail, sizeof detail, "the role '%s' may not do this", request->caller.role);
    http_problem (request, 403, detail, NULL, NULL);
    return false;
}

static void
s_on_service_metrics (http_request_t *request, const ProtobufCBinaryData *payload)
{
    Kaiin__MetricsReply *reply = (Kaiin__MetricsReply *)
        http_unpack (request, &kaiin__metrics_reply__descriptor, payload);
    if (!reply)
        return;
    http_respond_text (request, 200, "text/plain; version=0.0.4; charset=utf-8", reply->text,
                       strlen (reply->text));
    kaiin__metrics_reply__free_unpacked (reply, NULL);
}

/* What one service counts (<service>.Prometheus, proto/metrics.proto): asked of one of its
   processes, so the counters are that process's (their "process" label says which). */
static void
s_service_metrics (http_request_t *request)
{
    if (!routes_owner_or_admin (request))
        return;
    char services [MAX_SERVICES][32];
    int count = config_names (s_config.services, services, MAX_SERVICES);
    int known = 0;
    while (known < count && strcmp (services [known], request->param) != 0)
        known++;
    if (known == count) {
        char detail [160];
        snprintf (detail, sizeof detail, "no service '%s' here", request->param);
        http_problem (request, 404, detail, NULL, NULL);
        return;
    }
    char method [96];
    snprintf (method, sizeof method, "%s.Prometheus", request->param);
    Kaiin__MetricsRequest ask = KAIIN__METRICS_REQUEST__INIT;
    http_call (request, request->param, method, &ask.base, s_on_service_metrics);
}

static void
s_openapi (http_request_t *request)
{
    openapi_serve (request, true);
}

static void
s_openapi_json (http_request_t *request)
{
    openapi_serve (request, false);
}

/* A problem's type URI: what it means and what to do (RFC 9457 asks for a page a person reads). */
static void
s_problem_page (http_request_t *request)
{
    char *page = problem_page (request->param,
                               messages_prefer_japanese (http_header (request, "Accept-Language")));
    if (!page) {
        http_problem (request, 404, "no such problem type", NULL, NULL);
        return;
    }
    http_respond_text (request, 200, "text/html; charset=utf-8", page, strlen (page));
    free (page);
    MHD_add_response_header (request->response, "Content-Security-Policy", "default-src 'none'");
    MHD_add_response_header (request->response, "Vary", "Accept-Language");
}
