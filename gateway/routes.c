/* routes.c - the routing table: which handler serves which method and path, behind which auth */
#include "routes.h"
#include "health.h"
#include "log.h"
#include "member_routes.h"
#include "metrics.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (route_fn) (http_request_t *request);

typedef struct {
    const char *method;
    const char *pattern;            /* "{id}" matches one path segment */
    route_fn *handler;
    bool open;                      /* served without a bearer token */
} route_t;

static void s_healthz (http_request_t *request);
static void s_readyz (http_request_t *request);
static void s_metrics (http_request_t *request);
static void s_openapi (http_request_t *request);

static const route_t s_routes [] = {
    { "GET",   "/healthz",                   s_healthz, true },
    { "GET",   "/readyz",                    s_readyz, true },
    { "GET",   "/metrics",                   s_metrics, true },
    { "GET",   "/openapi.yaml",              s_openapi, true },
    { "POST",  "/v1/members",                member_routes_create, false },
    { "GET",   "/v1/members",                member_routes_list, false },
    { "GET",   "/v1/members/{id}",           member_routes_get, false },
    { "PATCH", "/v1/members/{id}",           member_routes_update, false },
    { "POST",  "/v1/members/{id}/withdraw",  member_routes_withdraw, false },
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

static bool
s_authenticated (http_request_t *request)
{
    const char *header = http_header (request, "Authorization");
    if (!header || strncasecmp (header, "Bearer ", 7) != 0)
        return false;
    const char *token = header + 7;
    while (*token == ' ')
        token++;
    return s_token_equal (token, s_config.admin_token);
}

void
routes_dispatch (http_request_t *request)
{
    char allow [64] = "";
    for (int i = 0; i < ROUTE_COUNT; i++) {
        char param [sizeof request->param];
        if (!s_match (s_routes [i].pattern, request->path, param, sizeof param))
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
        if (!s_routes [i].open && !s_authenticated (request)) {
            http_problem (request, 401, "a valid bearer token is required", NULL, NULL);
            return;
        }
        s_routes [i].handler (request);
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
    http_respond_json (request, 200, json_pack ("{s:s}", "status", "ok"));
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
    http_respond_text (request, 200, "application/yaml", s_openapi_text, s_openapi_size);
}
