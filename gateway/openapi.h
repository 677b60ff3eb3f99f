/* openapi.h - GET /openapi.yaml and /openapi.json: the gateway's own part of the document (its
   routes, problems, security) with what every service announced of its routes merged in */
#ifndef KAIIN_OPENAPI_H
#define KAIIN_OPENAPI_H
#include "http.h"
#include <stdbool.h>

/* Reads the gateway's own part, a JSON OpenAPI document (gateway/openapi.json). Returns 0, or
   -1 when it cannot be read: the error is logged. */
int openapi_init (const char *path);
void openapi_destroy (void);

/* Answers the whole document as YAML (which JSON is) or as JSON: made anew once a service
   announced something new, so a new route is in it without a restart of the gateway. */
void openapi_serve (http_request_t *request, bool yaml);

#endif
