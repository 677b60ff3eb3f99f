/* routes.c - the routing table: which handler serves which method and path, behind which auth */
#include "routes.h"
#include "api_routes.h"
#include "health.h"
#include "log.h"
#include "member_auth_routes.h"
#include "member_routes.h"
#include "staff_routes.h"
#include "test_clock_routes.h"
#include "clock.h"
#include "staff.pb-c.h"
#include "metrics.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (route_fn) (http_request_t *request);

/* What a route needs (docs/permissions.md). */
enum {
    OPEN = -1,                      /* no token at all */
    SIGNED_IN = 0,                  /* any valid token */
    MEMBERS_READ = 1 << 0,          /* members, their history, tags, attributes, inquiries */
    MEMBERS_WRITE = 1 << 1,         /* create, edit, withdraw members; record activities */
    MEMBERS_EXPORT = 1 << 2,        /* CSV export, a member's data export */
    MEMBERS_IMPORT = 1 << 3,        /* CSV import */
    MEMBERS_ERASE = 1 << 4,         /* erase a member's personal data */
    STAFF_MANAGE = 1 << 8,          /* staff accounts and API keys */
    /* Members' own sessions ("kms_"), which no staff role holds: */
    MEMBER_OWN = 1 << 14,           /* a member session may use it too, for its own {id} only */
    MEMBER_SESSION = 1 << 15        /* only a member session (staff get 403) */
};
/* Routes services announce carry their own permissions, by name (api_routes.c). */

#define EVERYTHING (MEMBERS_READ | MEMBERS_WRITE | MEMBERS_EXPORT | MEMBERS_IMPORT | MEMBERS_ERASE \
                    | STAFF_MANAGE)

static const struct {
    const char *role;
    int permissions;
} s_roles [] = {
    { "owner",     EVERYTHING },
    { "admin",     EVERYTHING },
    { "support",   MEMBERS_READ | MEMBERS_WRITE },
    { "marketing", MEMBERS_READ | MEMBERS_EXPORT },
    { "finance",   MEMBERS_READ },
    { "viewer",    MEMBERS_READ },
};

typedef struct {
    const char *method;
    const char *pattern;            /* "{id}" matches one path segment */
    route_fn *handler;
    int needs;                      /* OPEN, SIGNED_IN or permission bits */
    size_t max_body;                /* 0: HTTP_MAX_BODY */
    bool test_only;                 /* exists only with KAIIN_TEST_MODE=1 (else 404) */
} route_t;

static void s_healthz (http_request_t *request);
static void s_readyz (http_request_t *request);
static void s_metrics (http_request_t *request);
static void s_openapi (http_request_t *request);

static const route_t s_routes [] = {
    { "GET",   "/healthz",                   s_healthz, OPEN },
    { "GET",   "/readyz",                    s_readyz, OPEN },
    { "GET",   "/metrics",                   s_metrics, OPEN },
    { "GET",   "/openapi.yaml",              s_openapi, OPEN },
    { "POST",  "/v1/auth/login",             staff_routes_login, OPEN },
    { "POST",  "/v1/auth/logout",            staff_routes_logout, SIGNED_IN },
    { "GET",   "/v1/me",                     staff_routes_me, SIGNED_IN },
    /* Literal paths before the {id} ones they would otherwise match. */
    { "POST",  "/v1/members/import",         member_routes_import, MEMBERS_IMPORT, 32 << 20 },
    { "GET",   "/v1/members/export",         member_routes_export, MEMBERS_EXPORT },
    { "GET",   "/v1/members/{id}",           member_routes_get, MEMBERS_READ | MEMBER_OWN },
    { "POST",  "/v1/members/{id}/withdraw",  member_routes_withdraw, MEMBERS_WRITE },
    { "PATCH", "/v1/staff/{id}",             staff_routes_update, STAFF_MANAGE },
    { "POST",  "/v1/api-keys",               staff_routes_key_create, STAFF_MANAGE },
    { "GET",   "/v1/api-keys",               staff_routes_key_list, STAFF_MANAGE },
    { "POST",  "/v1/api-keys/{id}/revoke",   staff_routes_key_revoke, STAFF_MANAGE },
    /* member login and history (routes added here) */
    { "POST",  "/v1/member-auth/login",      member_auth_routes_login, OPEN },
    { "POST",  "/v1/member-auth/logout",     member_auth_routes_logout, MEMBER_SESSION },
    { "GET",   "/v1/member-auth/me",         member_auth_routes_me, MEMBER_SESSION },
    { "POST",  "/v1/member-auth/password",   member_auth_routes_change_password, MEMBER_SESSION },
    { "POST",  "/v1/members/{id}/password",  member_auth_routes_set_password, MEMBERS_WRITE },
    { "POST",  "/v1/members/{id}/activities", member_auth_routes_record_activities,
               MEMBERS_WRITE | MEMBER_OWN, 6 * 1024 * 1024 },
    { "GET",   "/v1/members/{id}/activities", member_auth_routes_list_activities, MEMBERS_READ },
    { "GET",   "/v1/members/{id}/logins",    member_auth_routes_list_logins, MEMBERS_READ },
    /* CSV import and export, data rights, audit log (routes added here) */
    { "GET",   "/v1/members/{id}/data-export", member_routes_data_export, MEMBERS_EXPORT | MEMBER_OWN },
    { "POST",  "/v1/members/{id}/erase",     member_routes_erase, MEMBERS_ERASE },
    /* the test clock: owner and admin only (checked by the handlers), test mode only */
    { "POST",  "/v1/test/clock",             test_clock_routes_set, SIGNED_IN, 0, true },
    { "GET",   "/v1/test/clock",             test_clock_routes_get, SIGNED_IN, 0, true },
};
#define ROUTE_COUNT ((int) (sizeof s_routes / sizeof s_routes [0]))

static routes_config_t s_config;
static char *s_openapi_text;
static size_t s_openapi_size;
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
    FILE *file = fopen (config->openapi_path, "rb");
    if (!file)
        return log_error ("cannot open the OpenAPI document '%s'", config->openapi_path);
    fseek (file, 0, SEEK_END);
    long size = ftell (file);
    fseek (file, 0, SEEK_SET);
    s_openapi_text = malloc (size + 1);
    s_openapi_size = fread (s_openapi_text, 1, size, file);
    fclose (file);
    return 0;
}

void
routes_destroy (void)
{
    free (s_openapi_text);
    s_openapi_text = NULL;
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

/* Compares in time independent of where the strings differ. */
static bool
s_token_equal (const char *given, const char *expected)
{
    size_t given_length = strlen (given), expected_length = strlen (expected);
    unsigned char difference = given_length != expected_length;
    for (size_t i = 0; i < given_length; i++)
        difference |= (unsigned char) given [i] ^ (unsigned char) expected [i % (expected_length? expected_length: 1)];
    return difference == 0;
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
    if (strcmp (request->caller.kind, "member") == 0) {
        /* A member's session: only routes marked for members, and only its own {id}. */
        bool allowed = (route->needs & MEMBER_SESSION)
                    || ((route->needs & MEMBER_OWN) && strcmp (request->param, request->caller.id) == 0);
        if (allowed)
            route->handler (request);
        else
            http_problem (request, 403, "a member's session may only use its own member's routes",
                          NULL, NULL);
        return;
    }
    int needs = route->needs & ~MEMBER_OWN;
    int permissions = 0;
    for (size_t i = 0; i < sizeof s_roles / sizeof s_roles [0]; i++)
        if (strcmp (s_roles [i].role, request->caller.role) == 0)
            permissions = s_roles [i].permissions;
    if ((permissions & needs) != needs) {
        char detail [128];
        snprintf (detail, sizeof detail, "the role '%s' may not do this", request->caller.role);
        http_problem (request, 403, detail, NULL, NULL);
        return;
    }
    route->handler (request);
}

static void
s_on_key_verified (http_request_t *request, const ProtobufCBinaryData *payload)
{
    Kaiin__Staff__ApiKey *key = (Kaiin__Staff__ApiKey *) http_unpack (request, &kaiin__staff__api_key__descriptor, payload);
    if (!key)
        return;
    session_key_remember (request->caller.token_hash, key->id, key->role);
    snprintf (request->caller.kind, sizeof request->caller.kind, "api_key");
    snprintf (request->caller.id, sizeof request->caller.id, "%s", key->id);
    snprintf (request->caller.role, sizeof request->caller.role, "%s", key->role);
    kaiin__staff__api_key__free_unpacked (key, NULL);
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

/* Finds who is calling from the bearer token, then serves the route as them. */
static void
s_authenticate (http_request_t *request)
{
    const char *header = http_header (request, "Authorization");
    const char *token = header && strncasecmp (header, "Bearer ", 7) == 0? header + 7: "";
    while (*token == ' ')
        token++;
    session_identity_t *caller = &request->caller;
    if (*token && *s_config.admin_token && s_token_equal (token, s_config.admin_token)) {
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
        if (found == 0) {
            /* Not cached: ask the member service, then go on from its answer. */
            *caller = (session_identity_t) { "gateway", "gateway", "service", "" };
            session_sha256_hex (token, caller->token_hash);
            Kaiin__Staff__VerifyApiKeyRequest verify = KAIIN__STAFF__VERIFY_API_KEY_REQUEST__INIT;
            verify.secret_sha256 = caller->token_hash;
            request->on_error = s_on_key_rejected;
            http_call (request, "member", "member.ApiKeyVerify", &verify.base, s_on_key_verified);
            return;
        }
    }
    if (found == -1)
        http_problem (request, 503, "the session store is not available right now", NULL, NULL);
    else
    if (found == 0)
        http_problem (request, 401, "a valid bearer token is required", NULL, NULL);
    else
        s_serve_as_caller (request);
}

size_t
routes_body_limit (const char *method, const char *path)
{
    char param [64];
    for (int i = 0; i < ROUTE_COUNT; i++)
        if (strcmp (s_routes [i].method, method) == 0 && s_routes [i].max_body
        &&  s_match (s_routes [i].pattern, path, param, sizeof param))
            return s_routes [i].max_body;
    size_t announced = api_routes_body_limit (method, path);
    return announced? announced: HTTP_MAX_BODY;
}

void
routes_dispatch (http_request_t *request)
{
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
    const char *cursor = s_config.services;
    while (*cursor) {
        size_t length = strcspn (cursor, ", ");
        if (length > 0 && length < 32) {
            char service [32];
            memcpy (service, cursor, length);
            service [length] = 0;
            bool alive = mdp_broker_workers (s_config.broker, service) > 0;
            json_object_set_new (checks, service, json_string (alive? "ok": "no live worker"));
            if (!alive) {
                ready = false;
                snprintf (missing + strlen (missing), sizeof missing - strlen (missing), "%s, ", service);
            }
        }
        cursor += length;
        cursor += strspn (cursor, ", ");
    }
    if (ready) {
        http_respond_json (request, 200, json_pack ("{s:s, s:o}", "status", "ready", "checks", checks));
        return;
    }
    missing [strlen (missing) - 2] = 0;
    char detail [300];
    snprintf (detail, sizeof detail, "not ready: %s", missing);
    http_problem (request, 503, detail, NULL, json_pack ("{s:s, s:s, s:o}", "type", "/problems/not-ready",
                                                         "title", "Not ready", "checks", checks));
}

static void
s_metrics (http_request_t *request)
{
    char *text = metrics_render (s_config.broker, http_in_flight ());
    http_respond_text (request, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen (text));
    free (text);
}

static void
s_openapi (http_request_t *request)
{
    http_respond_static (request, 200, "application/yaml", s_openapi_text, s_openapi_size);
}
