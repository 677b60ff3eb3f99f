/* member_auth.h - members' own passwords and sign-in: set, changed, checked, every attempt
   recorded */
#ifndef KAIIN_MEMBER_AUTH_H
#define KAIIN_MEMBER_AUTH_H
#include "member.h"
#include "member_auth.pb-c.h"

void member_auth_prepare (pg_t *db);

/* member.MemberAuthSetPassword (staff set one; a member changes its own, giving the current
   one), member.MemberAuthLogin (see proto/member_auth.proto). */
svc_handler_fn member_auth_api_set_password, member_auth_api_login;

/* member.MemberAuthResetRequest (a forgotten password: a reset mail's event, rate limited,
   the same answer for any address) and member.MemberAuthResetConfirm (the mail's token and a
   new password; ends the member's sessions). See proto/member_auth.proto. */
svc_handler_fn member_auth_api_reset_request, member_auth_api_reset_confirm;

#endif
