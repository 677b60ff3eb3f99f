/* activity.h - what members did: the activities clients record (pages seen, purchases
   started, ...), and every attempt to sign in, as their histories */
#ifndef KAIIN_ACTIVITY_H
#define KAIIN_ACTIVITY_H
#include "member.h"

void activity_prepare (pg_t *db);

/* member.MemberAuthRecordActivities, member.MemberAuthListActivities and
   member.MemberAuthListLogins (see proto/member_auth.proto). */
svc_handler_fn activity_api_record, activity_api_list, activity_api_list_logins;

#endif
