/* member_routes.h - /v1/members: JSON in and out, member.proto to and from the member service */
#ifndef KAIIN_MEMBER_ROUTES_H
#define KAIIN_MEMBER_ROUTES_H
#include "http.h"

void member_routes_create (http_request_t *request);
void member_routes_get (http_request_t *request);
void member_routes_update (http_request_t *request);
void member_routes_list (http_request_t *request);
void member_routes_withdraw (http_request_t *request);

#endif
