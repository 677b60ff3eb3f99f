/* staff_api.h - staff accounts, their passwords and roles, and API keys */
#ifndef KAIIN_STAFF_API_H
#define KAIIN_STAFF_API_H
#include "member_api.h"
#include "svc.h"

/* Each serves one method of the member service (see proto/staff.proto). */
int staff_api_create (svc_request_t *request, svc_reply_t *reply);
int staff_api_login (svc_request_t *request, svc_reply_t *reply);
int staff_api_get (svc_request_t *request, svc_reply_t *reply);
int staff_api_list (svc_request_t *request, svc_reply_t *reply);
int staff_api_update (svc_request_t *request, svc_reply_t *reply);
int staff_api_key_create (svc_request_t *request, svc_reply_t *reply);
int staff_api_key_verify (svc_request_t *request, svc_reply_t *reply);
int staff_api_key_revoke (svc_request_t *request, svc_reply_t *reply);
int staff_api_key_list (svc_request_t *request, svc_reply_t *reply);

#endif
