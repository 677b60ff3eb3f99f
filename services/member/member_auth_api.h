/* member_auth_api.h - member passwords and login, login history and activities: the methods */
#ifndef KAIIN_MEMBER_AUTH_API_H
#define KAIIN_MEMBER_AUTH_API_H
#include "svc.h"
#include <stdbool.h>

/* Each serves one method of the member service (see proto/member_auth.proto):
   member.MemberAuthSetPassword, MemberAuthLogin, MemberAuthListLogins,
   MemberAuthRecordActivities, MemberAuthListActivities. */
int member_auth_api_set_password (svc_request_t *request, svc_reply_t *reply);
int member_auth_api_login (svc_request_t *request, svc_reply_t *reply);
int member_auth_api_list_logins (svc_request_t *request, svc_reply_t *reply);
int member_auth_api_record_activities (svc_request_t *request, svc_reply_t *reply);
int member_auth_api_list_activities (svc_request_t *request, svc_reply_t *reply);

/* An activity's type: 1 to 50 of [a-z0-9_.]. */
bool member_auth_api_valid_type (const char *type);

#endif
