/* inquiry_routes.h - /v1/inquiries and /v1/members/{id}/inquiries: JSON in and out,
   inquiry.proto to and from the member service ("member.Inquiry<Verb>") */
#ifndef KAIIN_INQUIRY_ROUTES_H
#define KAIIN_INQUIRY_ROUTES_H
#include "http.h"

/* POST /v1/members/{id}/inquiries → 201 inquiry, ETag, Location. */
void inquiry_routes_open (http_request_t *request);

/* GET /v1/members/{id}/inquiries?limit=&cursor= → the member's history, newest first. */
void inquiry_routes_history (http_request_t *request);

/* GET /v1/inquiries?status=&assignee_id=&category=&channel=&q=&limit=&cursor= → search. */
void inquiry_routes_search (http_request_t *request);

/* GET /v1/inquiries/{id} → the inquiry and its thread, ETag. */
void inquiry_routes_get (http_request_t *request);

/* POST /v1/inquiries/{id}/messages → 201 message. */
void inquiry_routes_reply (http_request_t *request);

/* PATCH /v1/inquiries/{id} (If-Match) → 200 inquiry, ETag. */
void inquiry_routes_update (http_request_t *request);

#endif
