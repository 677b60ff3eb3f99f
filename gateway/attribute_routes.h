/* attribute_routes.h - /v1/member-attributes and /v1/member-ranks: what the business defines
   for its member record */
#ifndef KAIIN_ATTRIBUTE_ROUTES_H
#define KAIIN_ATTRIBUTE_ROUTES_H
#include "http.h"

/* GET /v1/member-attributes → {"data": [definition]} */
void attribute_routes_list (http_request_t *request);
/* POST /v1/member-attributes {key, label, type, options?, required?} → 201 definition */
void attribute_routes_define (http_request_t *request);
/* GET /v1/member-ranks → {"data": [rank]} */
void attribute_routes_ranks (http_request_t *request);
/* POST /v1/member-ranks {code, label} → 201 rank */
void attribute_routes_add_rank (http_request_t *request);

#endif
