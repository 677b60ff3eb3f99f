/* api_routes.h - the routes services announce: matched, authorised by their declared
   permission and member rule, served by the service itself in JSON */
#ifndef KAIIN_API_ROUTES_H
#define KAIIN_API_ROUTES_H
#include "http.h"
#include <stdbool.h>
#include <stddef.h>

/* Reads the routes from what broker's workers announce (broker borrowed for the process). */
void api_routes_init (mdp_broker_t *broker);
void api_routes_destroy (void);

/* True when an announced route matches verb and request->path: then request->api and its
   path parameters are set. Else the verbs of routes matching the path alone are added to
   allow (a comma-separated list of allow_size bytes). */
bool api_routes_match (http_request_t *request, const char *verb, char *allow, size_t allow_size);

/* True when the matched route needs no token at all. */
bool api_routes_open (const http_request_t *request);

/* The largest body an announced route for verb and path takes, or 0 for the default. */
size_t api_routes_body_limit (const char *verb, const char *path);

/* True when the announced route for verb and path takes its body in slices (streamed). */
bool api_routes_streamed (const char *verb, const char *path);

/* The method ("member.ApiKeyVerify") a service announced for checking API keys into method
   (size bytes): kaiin.KeyCheck in, kaiin.KeyIdentity out. False when none did. */
bool api_routes_key_method (char *method, size_t size);

/* True when the announced route for verb and path starts a session (a login). */
bool api_routes_signs_in (const char *verb, const char *path);

/* The names of the permissions the services declared that role holds, each once, in the
   order they were announced: a new JSON array the caller owns. */
json_t *api_routes_permissions_of (const char *role);

/* Serves the matched route, for the authenticated caller (or anyone, for an open route):
   403 unless the caller's role holds the route's permission, or a member's session meets its
   member rule; then the service answers in JSON. */
void api_routes_serve (http_request_t *request);

/* Calls fn with the OpenAPI fragments each service announced (JSON text of its "paths" and
   "components/schemas" entries, "" when it sent none), all borrowed for the process. Returns
   what identifies the announcements they came from: it differs once any changed. */
typedef void (api_routes_openapi_fn) (void *arg, const char *service, const char *paths,
                                      const char *schemas);
const void *api_routes_openapi (api_routes_openapi_fn *fn, void *arg);

#endif
