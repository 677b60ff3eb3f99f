/* member_auth_routes.h - /v1/member-auth (members' own login and sessions), members'
   passwords, and /v1/members/{id}/logins and /activities */
#ifndef KAIIN_MEMBER_AUTH_ROUTES_H
#define KAIIN_MEMBER_AUTH_ROUTES_H
#include "http.h"
#include <stdint.h>

/* POST /v1/member-auth/login (open): throttled in Redis before the service checks the
   password; 200 with a "kms_" session token, 401, or 429 with Retry-After. */
void member_auth_routes_login (http_request_t *request);

/* POST /v1/member-auth/logout, GET /v1/member-auth/me, POST /v1/member-auth/password:
   a member's own session only. */
void member_auth_routes_logout (http_request_t *request);
void member_auth_routes_me (http_request_t *request);
void member_auth_routes_change_password (http_request_t *request);

/* POST /v1/members/{id}/password: staff set a member's password; ends its sessions. */
void member_auth_routes_set_password (http_request_t *request);

/* POST /v1/members/{id}/activities (one event, or {"events": [...]} of up to 500) and
   GET /v1/members/{id}/activities, GET /v1/members/{id}/logins. */
void member_auth_routes_record_activities (http_request_t *request);
void member_auth_routes_list_activities (http_request_t *request);
void member_auth_routes_list_logins (http_request_t *request);

#endif
