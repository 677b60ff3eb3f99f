/* member_routes.h - the /v1/members routes the gateway still serves itself (member_routes.c) */
#ifndef KAIIN_MEMBER_ROUTES_H
#define KAIIN_MEMBER_ROUTES_H
#include "http.h"
#include "member.pb-c.h"
#include <jansson.h>

void member_routes_get (http_request_t *request);
void member_routes_withdraw (http_request_t *request);

/* The Member JSON every route answers with (a new reference). */
json_t *member_routes_json (const Kaiin__Member__Member *member);

/* POST /v1/members/import (a CSV file) and GET /v1/members/export (a CSV file). */
void member_routes_import (http_request_t *request);
void member_routes_export (http_request_t *request);

/* GET /v1/members/{id}/data-export and POST /v1/members/{id}/erase (APPI). Erasure also ends
   the member's sessions. */
void member_routes_data_export (http_request_t *request);
void member_routes_erase (http_request_t *request);

#endif
