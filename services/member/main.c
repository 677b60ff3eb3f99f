/* main.c - kaiin-member: the member record's service */
#include "attribute_api.h"
#include "attribute_store.h"
#include "audit.h"
#include "billing_events.h"
#include "inquiry_api.h"
#include "inquiry_store.h"
#include "member_api.h"
#include "member_csv.h"
#include "member_http.h"
#include "privacy_api.h"
#include "privacy_store.h"
#include "member_auth_api.h"
#include "member_auth_store.h"
#include "member_store.h"
#include "staff_api.h"
#include "staff_store.h"
#include "svc.h"

static const svc_method_t s_methods [] = {
    { "Create",   member_api_create, true },   /* honours Idempotency-Key */
    { "Get",      member_api_get, false, member_api_get_many },   /* several read together */
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
    { "Tag",             member_api_tag },
    { "AttributeList",   attribute_api_list },
    { "AttributeDefine", attribute_api_define },
    { "RankList",        attribute_api_ranks },
    { "RankCreate",      attribute_api_add_rank },
    /* inquiries (methods added here) */
    { "InquiryOpen",   inquiry_api_open },
    { "InquiryGet",    inquiry_api_get },
    { "InquiryList",   inquiry_api_list },
    { "InquiryReply",  inquiry_api_reply },
    { "InquiryUpdate", inquiry_api_update },
    /* member login and history (methods added here) */
    { "MemberAuthSetPassword",      member_auth_api_set_password },
    { "MemberAuthLogin",            member_auth_api_login },
    { "MemberAuthListLogins",       member_auth_api_list_logins },
    { "MemberAuthRecordActivities", member_auth_api_record_activities },
    { "MemberAuthListActivities",   member_auth_api_list_activities },
    /* CSV import and export, data rights, audit log (methods added here) */
    { "AuditList",    audit_api_list },
    { "Import",       member_csv_import },
    { "Export",       member_csv_export },
    { "DataExport",   privacy_api_export },
    { "Erase",        privacy_api_erase },
    { NULL, NULL }
};

/* The events of other services this one follows. */
static const svc_consumer_t s_consumers [] = {
    { "billing", member_billing_apply },
    { NULL, NULL }
};

static int
s_prepare (pg_t *db)
{
    return member_store_prepare (db) == 0
        && staff_store_prepare (db) == 0
        && privacy_store_prepare (db) == 0
        /* each store's prepare (added here) */
        && attribute_store_prepare (db) == 0
        && member_auth_store_prepare (db) == 0
        && inquiry_store_prepare (db) == 0
        ? 0: -1;
}

int
main (int argc, char **argv)
{
    svc_def_t member = { .name = "member", .methods = s_methods, .prepare = s_prepare,
                         .consumers = s_consumers, .http = &member_http };
    return svc_main (&member, argc, argv);
}
