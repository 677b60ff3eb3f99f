/* staff.h - staff accounts: their passwords and roles, signing in, who is calling */
#ifndef KAIIN_STAFF_H
#define KAIIN_STAFF_H
#include "member.h"
#include "staff.pb-c.h"
#include <stdbool.h>

void staff_prepare (pg_t *db);

/* Each serves one method of the member service (see proto/staff.proto): member.StaffCreate,
   StaffLogin, StaffMe, StaffGet, StaffList, StaffUpdate. */
svc_handler_fn staff_api_create, staff_api_login, staff_api_me, staff_api_get, staff_api_list,
               staff_api_update;

/* True when role is one of the staff roles; "owner" only when owner_allowed. */
bool staff_role_valid (const char *role, bool owner_allowed);

#endif
