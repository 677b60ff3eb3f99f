/* routes.h - the routing table: which handler serves which method and path, behind which auth */
#ifndef KAIIN_ROUTES_H
#define KAIIN_ROUTES_H
#include "http.h"

typedef struct {
    mdp_broker_t *broker;
    const char *admin_token;
    const char *services;           /* comma-separated, required by /readyz */
    const char *openapi_path;
} routes_config_t;

/* Keeps config (borrowed for the process's life), loads the OpenAPI document, names the
   routes for the metrics. Returns 0 or -1. */
int routes_init (const routes_config_t *config);
void routes_destroy (void);

/* The largest body the route for method and path accepts. */
size_t routes_body_limit (const char *method, const char *path);

/* Answers 401, before the body is read (which http.c then drops), when a route that takes
   more than HTTP_MAX_BODY is called with no credential at all (http_config_t.before_body). */
void routes_before_body (http_request_t *request);

/* Routes a complete request: 404, 405 and 401 are answered here. */
void routes_dispatch (http_request_t *request);

/* True when the caller is an owner or an admin (the gateway's own routes for them: the test
   clock, a service's metrics); else answers 403 naming the role and returns false. */
bool routes_owner_or_admin (http_request_t *request);

#endif
