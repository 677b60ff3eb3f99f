/* main.c - kaiin-member: the member record's service */
#include "audit.h"
#include "member_api.h"
#include "member_store.h"
#include "staff_api.h"
#include "staff_store.h"
#include "svc.h"

static const svc_method_t s_methods [] = {
    { "Create",   member_api_create },
    { "Get",      member_api_get },
    { "Update",   member_api_update },
    { "Withdraw", member_api_withdraw },
    { "List",     member_api_list },
    { "StaffCreate",  staff_api_create },
    { "StaffLogin",   staff_api_login },
    { "StaffGet",     staff_api_get },
    { "StaffList",    staff_api_list },
    { "StaffUpdate",  staff_api_update },
    { "ApiKeyCreate", staff_api_key_create },
    { "ApiKeyVerify", staff_api_key_verify },
    { "ApiKeyRevoke", staff_api_key_revoke },
    { "ApiKeyList",   staff_api_key_list },
    /* member record: attributes, tags (methods added here) */
    /* inquiries (methods added here) */
    /* member login and history (methods added here) */
    /* CSV import and export, data rights, audit log (methods added here) */
    { "AuditList",    audit_api_list },
    { NULL, NULL }
};

static int
s_prepare (pg_t *db)
{
    return member_store_prepare (db) == 0
        && staff_store_prepare (db) == 0
        /* each store's prepare (added here) */
        ? 0: -1;
}

int
main (int argc, char **argv)
{
    svc_def_t member = { .name = "member", .methods = s_methods, .prepare = s_prepare };
    return svc_main (&member, argc, argv);
}
