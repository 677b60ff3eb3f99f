/* staff_routes.h - /v1/auth, /v1/me, PATCH /v1/staff/{id} and /v1/api-keys: the staff routes
   that make, end or check sessions and keys in the gateway's store */
#ifndef KAIIN_STAFF_ROUTES_H
#define KAIIN_STAFF_ROUTES_H
#include "http.h"

void staff_routes_login (http_request_t *request);
void staff_routes_logout (http_request_t *request);
void staff_routes_me (http_request_t *request);
void staff_routes_update (http_request_t *request);
void staff_routes_key_create (http_request_t *request);
void staff_routes_key_list (http_request_t *request);
void staff_routes_key_revoke (http_request_t *request);

#endif
