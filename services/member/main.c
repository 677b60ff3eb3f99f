/* main.c - kaiin-member: the member record's service */
#include "activity.h"
#include "api_key.h"
#include "attribute.h"
#include "audit.h"
#include "billing_events.h"
#include "messaging_events.h"
#include "import_job.h"
#include "inquiry.h"
#include "inquiry_list.h"
#include "member_auth.h"
#include "member_bulk.h"
#include "member_crypt.h"
#include "member_export.h"
#include "member_http.h"
#include "member_import.h"
#include "member_messages.h"
#include "member_rank.h"
#include "member_record.h"
#include "member_search.h"
#include "member_tag.h"
#include "privacy.h"
#include "staff.h"
#include "svc.h"
#include <string.h>

static const svc_method_t s_methods [] = {
    /* honours Idempotency-Key; creates (changes, activities) that arrive together share one
       commit */
    { "Create",   member_api_create, .idempotent = true, .group_commit = true,
      .group = member_api_create_group },
    { "Get",      member_api_get, false, member_api_get_many },   /* several read together */
    { "Update",   member_api_update, .group_commit = true },
    { "Withdraw", member_api_withdraw },
    { "List",     member_api_list },
    { "StaffCreate",  staff_api_create },
    { "StaffLogin",   staff_api_login },
    { "StaffGet",     staff_api_get },
    { "StaffMe",      staff_api_me },
    { "StaffList",    staff_api_list },
    { "StaffUpdate",  staff_api_update },
    { "ApiKeyCreate", api_key_api_create },
    { "ApiKeyVerify", api_key_api_verify },
    { "ApiKeyRevoke", api_key_api_revoke },
    { "ApiKeyList",   api_key_api_list },
    /* member record: attributes, tags (methods added here) */
    { "Tag",             member_api_tag },
    { "TagMany",         member_api_tag_many },     /* one transaction for them all */
    { "AttributeList",   attribute_api_list },
    { "AttributeDefine", attribute_api_define },
    { "RankList",        attribute_api_ranks },
    { "RankCreate",      attribute_api_add_rank },
    { "RankSet",         member_api_rank_set },     /* services' automations only: no route */
    /* inquiries (methods added here) */
    { "InquiryOpen",   inquiry_api_open },
    { "InquiryGet",    inquiry_api_get },
    { "InquiryList",   inquiry_api_list },
    { "InquiryReply",  inquiry_api_reply },
    { "InquiryUpdate", inquiry_api_update },
    /* member login and history (methods added here) */
    { "MemberAuthSetPassword",      member_auth_api_set_password },
    { "MemberAuthLogin",            member_auth_api_login },
    { "MemberAuthResetRequest",     member_auth_api_reset_request },
    { "MemberAuthResetConfirm",     member_auth_api_reset_confirm },
    { "MemberAuthListLogins",       activity_api_list_logins },
    { "MemberAuthRecordActivities", activity_api_record, .group_commit = true },
    { "MemberAuthListActivities",   activity_api_list },
    /* CSV import and export, data rights, audit log (methods added here) */
    { "AuditList",    audit_api_list },
    { "Import",       member_api_import },
    { "ImportJobCreate", import_job_api_create },
    { "ImportJobGet",    import_job_api_get },
    { "ImportJobCancel", import_job_api_cancel },
    { "Export",       member_api_export },
    { "DataExport",   privacy_api_export },
    { "Erase",        privacy_api_erase },
    { NULL, NULL }
};

/* The events of other services this one follows. */
static const svc_consumer_t s_consumers [] = {
    { "billing", member_billing_apply },
    { "messaging", member_messaging_apply },
    { NULL, NULL }
};

static void
s_prepare (pg_t *db)
{
    audit_prepare (db);
    attribute_prepare (db);
    member_record_prepare (db);
    member_tag_prepare (db);
    member_search_prepare (db);
    member_bulk_prepare (db);
    privacy_prepare (db);
    staff_prepare (db);
    api_key_prepare (db);
    member_auth_prepare (db);
    activity_prepare (db);
    inquiry_prepare (db);
    inquiry_list_prepare (db);
    billing_events_prepare (db);
    import_job_prepare (db);
    member_export_prepare (db);
    member_crypt_prepare (db);
    /* each module's prepare (added here) */
}

/* Its figures in member.Prometheus (GET /metrics/member), besides the runtime's. */
static const svc_gauge_t s_gauges [] = {
    { "kaiin_members", "Members by status (free, paid, withdrawn).", "status",
      "select status, count (*) from members group by status order by status" },
    { "kaiin_inquiries", "Support inquiries by status (open, pending, resolved).", "status",
      "select status, count (*) from inquiries group by status order by status" },
    { "kaiin_member_import_jobs", "CSV import jobs by state (queued, running, succeeded, failed,"
      " canceled).", "state", "select state, count (*) from import_jobs group by state order by state" },
    { NULL, NULL, NULL, NULL }
};

/* The tick's work: rows written before encryption sealed, then the import jobs. */
static int
s_tick (pg_t *db, int64_t now_ms)
{
    int sealed = member_crypt_tick (db, now_ms);
    return sealed != 0? sealed: import_job_tick (db, now_ms);
}

int
main (int argc, char **argv)
{
    bool healthcheck = argc > 1 && strcmp (argv [1], "--healthcheck") == 0;
    if (!healthcheck)
        member_crypt_configure ();      /* no master key, no service */
    svc_def_t member = { .name = "member", .methods = s_methods, .prepare = s_prepare,
                         .consumers = s_consumers, .http = &member_http, .tick = s_tick,
                         .messages = member_messages, .gauges = s_gauges,
                         .start = member_crypt_start };
    return svc_main (&member, argc, argv);
}
