/* audit_routes.h - GET /v1/audit-log */
#ifndef KAIIN_AUDIT_ROUTES_H
#define KAIIN_AUDIT_ROUTES_H
#include "http.h"

void audit_routes_list (http_request_t *request);

#endif
