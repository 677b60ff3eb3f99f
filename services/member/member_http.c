/* member_http.c - member's HTTP face: its routes, who may call them, and the rules of the
   fields clients send; the gateway serves what this declares (common/svc_http.h). */
#include "member_http.h"
#include "audit.pb-c.h"
#include "inquiry.pb-c.h"
#include "member.pb-c.h"
#include "member_auth.pb-c.h"
#include "member_csv.pb-c.h"
#include "privacy.pb-c.h"
#include "staff.pb-c.h"

#define MEMBER(name)  (&kaiin__member__##name##__descriptor)
#define INQUIRY(name) (&kaiin__inquiry__##name##__descriptor)
#define AUDIT(name)   (&kaiin__audit__##name##__descriptor)
#define STAFF(name)   (&kaiin__staff__##name##__descriptor)
#define MAUTH(name)   (&kaiin__member_auth__##name##__descriptor)
#define PRIVACY(name) (&kaiin__privacy__##name##__descriptor)
#define CSV(name)     (&kaiin__member_csv__##name##__descriptor)
#define OWN_ID        .member = KAIIN__MEMBER_RULE__MEMBER_OWN_ID
#define MEMBER_ONLY   .member = KAIIN__MEMBER_RULE__MEMBER_ONLY

static const svc_permission_t s_permissions [] = {
    { "member.read",              "owner admin support marketing finance viewer" },
    { "member.inquiries.write",   "owner admin support" },
    { "member.write",             "owner admin support" },
    { "member.export",            "owner admin marketing" },
    { "member.erase",             "owner admin" },
    { "member.import",            "owner admin" },
    { "member.tags.write",        "owner admin support marketing" },
    { "member.settings",          "owner admin" },
    { "member.audit.read",        "owner admin" },
    { "member.staff.manage",      "owner admin" },
    { NULL, NULL }
};

#define LIST_QUERY "limit cursor"
/* the filters of the members' list and export */
#define MEMBER_FILTERS "status email q rank tag=tags tags_mode attr.*=attributes sort created_from" \
                       " created_to last_login_from last_login_to"
/* the keys of a member a client writes, but email and status */
#define MEMBER_KEYS "name name_kana phone birthday postal_code prefecture address rank note" \
                    " attributes marketing_consent"
/* the keys of its own record a member writes (the portal) */
#define MEMBER_OWN_KEYS "name name_kana phone birthday postal_code prefecture address marketing_consent"

/* the types of a CSV file's upload */
#define CSV_TYPES "text/csv application/csv application/vnd.ms-excel application/octet-stream text/plain"

static const svc_route_t s_routes [] = {
    /* members; the literal paths before the {id} ones they would otherwise match */
    { "POST", "/v1/members/import", "Import", CSV (import_request), CSV (import_reply),
      "member.import", .raw = "csv", .query = "dry_run mode tags_mode", .max_body = 32 << 20,
      .accepts = CSV_TYPES, .timeout_ms = 120 * 1000, .problems = "422" },
    /* the import as a job: 202 at once, then its progress; imported in batches by the tick.
       Its file is streamed in (a million rows are about 150 MB), never held whole */
    { "POST", "/v1/members/import-jobs", "ImportJobCreate", CSV (import_job_create_request),
      CSV (import_job), "member.import", .raw = "csv", .query = "mode tags_mode",
      .max_body = 512 << 20, .streamed = true, .accepts = CSV_TYPES, .timeout_ms = 120 * 1000, .status = 202,
      .location = "/v1/members/import-jobs/{id}" },
    { "GET", "/v1/members/import-jobs/{id}", "ImportJobGet", CSV (import_job_get_request),
      CSV (import_job), "member.import" },
    { "POST", "/v1/members/import-jobs/{id}/cancel", "ImportJobCancel", CSV (import_job_get_request),
      CSV (import_job), "member.import" },
    /* the export, in parts of MEMBER_EXPORT_PART members sent on as they are read (paged) */
    { "GET", "/v1/members/export", "Export", CSV (export_request), CSV (export_reply),
      "member.export", .query = MEMBER_FILTERS " headers", .query_into = "query",
      .reply_body = "csv", .content_type = "text/csv; charset=utf-8", .paged = true },
    /* one tag change for many members: as /v1/members/{id}/tags for each, in one transaction */
    { "POST", "/v1/members/tags", "TagMany", MEMBER (tag_many_request), MEMBER (tag_many_reply),
      "member.tags.write", .keys = "member_ids! add remove", .timeout_ms = 60 * 1000 },
    { "GET", "/v1/members/{id}", "Get", MEMBER (get_request), MEMBER (member), "member.read", OWN_ID },
    { "GET", "/v1/members", "List", MEMBER (list_request), MEMBER (list_reply), "member.read",
      .query = MEMBER_FILTERS " " LIST_QUERY },
    { "POST", "/v1/members", "Create", MEMBER (create_request), MEMBER (member), "member.write",
      .keys = "email! " MEMBER_KEYS, .status = 201, .location = "/v1/members/{id}" },
    { "PATCH", "/v1/members/{id}", "Update", MEMBER (update_request), MEMBER (member),
      "member.write", .keys = "email status " MEMBER_KEYS, .if_match = true },
    { "POST", "/v1/members/{id}/tags", "Tag", MEMBER (tag_request), MEMBER (member),
      "member.tags.write", .keys = "add remove", .if_match = true },
    { "POST", "/v1/members/{id}/withdraw", "Withdraw", MEMBER (withdraw_request), MEMBER (member),
      "member.write", .keys = "reason", .if_match = true },
    /* data rights (APPI): everything held on a member, and erasure */
    { "GET", "/v1/members/{id}/data-export", "DataExport", PRIVACY (data_export_request),
      PRIVACY (data_export_reply), "member.export", OWN_ID, .reply_body = "json",
      .content_type = "application/json" },
    { "POST", "/v1/members/{id}/erase", "Erase", PRIVACY (erase_request), MEMBER (member),
      "member.erase", .keys = "reason" },
    /* members' own sign-in (logout is the gateway's: it holds the sessions), passwords, logins */
    { "POST", "/v1/member-auth/login", "MemberAuthLogin", MAUTH (login_request), MAUTH (login_reply),
      SVC_OPEN, .keys = "email! password!", .headers = "User-Agent=user_agent", .signs_in = "member" },
    { "GET", "/v1/member-auth/me", "Get", MEMBER (get_request), MEMBER (member), "", MEMBER_ONLY,
      .caller = "id" },
    /* the member's own record, as staff's update less what only staff write (email, rank,
       status, attributes, note): the caller's id is the only member it reaches */
    { "PATCH", "/v1/member-auth/me", "Update", MEMBER (update_request), MEMBER (member), "",
      MEMBER_ONLY, .keys = MEMBER_OWN_KEYS, .if_match = true, .caller = "id" },
    { "POST", "/v1/member-auth/password", "MemberAuthSetPassword", MAUTH (set_password_request),
      MAUTH (set_password_reply), "", MEMBER_ONLY, .keys = "current_password! new_password!",
      .caller = "member_id", .status = 204 },
    /* a forgotten password: a mail with a single-use link (the same answer for any address),
       then the link's token and a new password */
    { "POST", "/v1/member-auth/password-reset", "MemberAuthResetRequest",
      MAUTH (reset_request_request), MAUTH (reset_request_reply), SVC_OPEN, .keys = "email!",
      .status = 202 },
    { "POST", "/v1/member-auth/password-reset/confirm", "MemberAuthResetConfirm",
      MAUTH (reset_confirm_request), MAUTH (set_password_reply), SVC_OPEN,
      .keys = "token! new_password!", .status = 204 },
    /* 退会: the member's own withdrawal (a typed confirmation is the portal's) */
    { "POST", "/v1/member-auth/withdraw", "Withdraw", MEMBER (withdraw_request), MEMBER (member), "",
      MEMBER_ONLY, .keys = "reason", .if_match = true, .caller = "id" },
    { "POST", "/v1/members/{id}/password", "MemberAuthSetPassword", MAUTH (set_password_request),
      MAUTH (set_password_reply), "member.write", .keys = "password!", .path_fields = "id=member_id",
      .status = 204 },
    { "GET", "/v1/members/{id}/logins", "MemberAuthListLogins", MAUTH (list_logins_request),
      MAUTH (list_logins_reply), "member.read", .query = "from to " LIST_QUERY,
      .path_fields = "id=member_id" },
    { "POST", "/v1/members/{id}/activities", "MemberAuthRecordActivities",
      MAUTH (record_activities_request), MAUTH (record_activities_reply), "member.write", OWN_ID,
      .body = "activities", .many = "events", .keys = "type! path occurred_at properties",
      .status = 201, .path_fields = "id=member_id", .max_body = 6 << 20 },
    { "GET", "/v1/members/{id}/activities", "MemberAuthListActivities",
      MAUTH (list_activities_request), MAUTH (list_activities_reply), "member.read",
      .query = "type from to " LIST_QUERY, .path_fields = "id=member_id" },
    /* the member record's definitions: attributes and ranks */
    { "GET", "/v1/member-attributes", "AttributeList", MEMBER (attribute_list_request),
      MEMBER (attribute_list_reply), "member.settings" },
    { "POST", "/v1/member-attributes", "AttributeDefine", MEMBER (attribute_definition),
      MEMBER (attribute_definition), "member.settings",
      .keys = "key! label! type! options required", .status = 201 },
    { "GET", "/v1/member-ranks", "RankList", MEMBER (rank_list_request), MEMBER (rank_list_reply),
      "member.settings" },
    { "POST", "/v1/member-ranks", "RankCreate", MEMBER (rank), MEMBER (rank), "member.settings",
      .keys = "code! label!", .status = 201 },
    /* inquiries */
    { "POST", "/v1/members/{id}/inquiries", "InquiryOpen", INQUIRY (open_request), INQUIRY (inquiry),
      "member.inquiries.write", .keys = "subject! body! channel! category! assignee_id",
      .status = 201, .location = "/v1/inquiries/{id}", .path_fields = "id=member_id" },
    { "GET", "/v1/members/{id}/inquiries", "InquiryList", INQUIRY (list_request),
      INQUIRY (list_reply), "member.read", .query = LIST_QUERY, .path_fields = "id=member_id" },
    { "GET", "/v1/inquiries", "InquiryList", INQUIRY (list_request), INQUIRY (list_reply),
      "member.read", .query = "status assignee_id category channel q " LIST_QUERY },
    { "GET", "/v1/inquiries/{id}", "InquiryGet", INQUIRY (get_request), INQUIRY (inquiry),
      "member.read" },
    { "PATCH", "/v1/inquiries/{id}", "InquiryUpdate", INQUIRY (update_request), INQUIRY (inquiry),
      "member.inquiries.write", .keys = "status assignee_id category channel", .if_match = true },
    { "POST", "/v1/inquiries/{id}/messages", "InquiryReply", INQUIRY (reply_request),
      INQUIRY (reply_reply), "member.inquiries.write", .keys = "body! author_type status",
      .status = 201, .path_fields = "id=inquiry_id", .response = "message" },
    /* staff sign-in (logout is the gateway's: it holds the sessions) and who is calling */
    { "POST", "/v1/auth/login", "StaffLogin", STAFF (login_request), STAFF (login_reply), SVC_OPEN,
      .keys = "email! password!", .headers = "User-Agent=user_agent", .signs_in = "staff" },
    { "GET", "/v1/me", "StaffMe", STAFF (me_request), STAFF (me), "" },
    /* staff accounts; a new role or password, or disabling, ends the account's sessions */
    { "PATCH", "/v1/staff/{id}", "StaffUpdate", STAFF (update_request), STAFF (staff),
      "member.staff.manage", .keys = "name role disabled password", .if_match = true },
    { "POST", "/v1/staff", "StaffCreate", STAFF (create_request), STAFF (staff),
      "member.staff.manage", .keys = "email! name role! password!", .status = 201,
      .location = "/v1/staff/{id}" },
    { "GET", "/v1/staff", "StaffList", STAFF (list_request), STAFF (list_reply),
      "member.staff.manage", .query = LIST_QUERY },
    { "GET", "/v1/staff/{id}", "StaffGet", STAFF (get_request), STAFF (staff),
      "member.staff.manage" },
    /* API keys: the secret is made by the service and shown once; revoking one ends it at once */
    { "POST", "/v1/api-keys", "ApiKeyCreate", STAFF (create_api_key_request), STAFF (api_key),
      "member.staff.manage", .keys = "name! role!", .status = 201, .location = "/v1/api-keys/{id}" },
    { "GET", "/v1/api-keys", "ApiKeyList", STAFF (list_api_keys_request), STAFF (list_api_keys_reply),
      "member.staff.manage" },
    { "POST", "/v1/api-keys/{id}/revoke", "ApiKeyRevoke", STAFF (revoke_api_key_request),
      STAFF (api_key), "member.staff.manage" },
    /* the audit log */
    { "GET", "/v1/audit-log", "AuditList", AUDIT (list_request), AUDIT (list_reply),
      "member.audit.read", .query = "actor_id action target_type target_id from to " LIST_QUERY },
    { NULL }
};

static const svc_field_t s_fields [] = {
    /* a member as every route shows it */
    { MEMBER (member), "version", SVC_FIELD_HIDDEN },               /* the ETag */
    { MEMBER (member), "id", SVC_FIELD_EMPTY_SHOWN },
    { MEMBER (member), "email", SVC_FIELD_EMPTY_SHOWN },
    { MEMBER (member), "status", SVC_FIELD_EMPTY_SHOWN, .one_of = "free paid withdrawn" },
    { MEMBER (member), "rank", SVC_FIELD_EMPTY_SHOWN },
    { MEMBER (member), "attributes_json", SVC_FIELD_JSON, .key = "attributes" },
    { MEMBER (consent), "email_opt_in", SVC_FIELD_REQUIRED },
    { MEMBER (consent), "method", SVC_FIELD_REQUIRED | SVC_FIELD_EMPTY_SHOWN },
    { MEMBER (create_request), "attributes_json", SVC_FIELD_JSON, .key = "attributes" },
    { MEMBER (update_request), "attributes_json", SVC_FIELD_JSON, .key = "attributes" },
    { MEMBER (update_request), "email", SVC_FIELD_NOT_NULL },
    { MEMBER (update_request), "rank", SVC_FIELD_NOT_NULL },
    { MEMBER (update_request), "status", SVC_FIELD_NOT_NULL },
    { MEMBER (list_request), "limit", 0, .min = 1, .max = 100 },
    { MEMBER (list_request), "sort", 0, .one_of = "created_at -created_at name_kana -name_kana" },
    { MEMBER (list_reply), "members", .key = "data" },
    { MEMBER (attribute_list_reply), "attributes", .key = "data" },
    { MEMBER (rank_list_reply), "ranks", .key = "data" },
    { INQUIRY (list_request), "limit", 0, .min = 1, .max = 100 },
    { INQUIRY (list_reply), "inquiries", .key = "data" },
    { INQUIRY (inquiry), "version", SVC_FIELD_HIDDEN },             /* the ETag */
    { INQUIRY (message), "inquiry_id", SVC_FIELD_HIDDEN },
    /* "" or absent: the caller's own words as staff; never null */
    { INQUIRY (reply_request), "author_type", 0, .max_chars = 6, .one_of = "staff member" },
    { AUDIT (list_request), "limit", 0, .min = 1, .max = 200 },
    { AUDIT (list_reply), "entries", .key = "data" },
    /* "" (an anonymous login attempt's actor, a call without an address) is shown as "" */
    { AUDIT (entry), "actor_id", SVC_FIELD_EMPTY_SHOWN },
    { AUDIT (entry), "actor_role", SVC_FIELD_EMPTY_SHOWN },
    { AUDIT (entry), "action", SVC_FIELD_EMPTY_SHOWN },
    { AUDIT (entry), "target_type", SVC_FIELD_EMPTY_SHOWN },
    { AUDIT (entry), "target_id", SVC_FIELD_EMPTY_SHOWN },
    { AUDIT (entry), "changes_json", SVC_FIELD_JSON, .key = "changes" },
    { AUDIT (entry), "request_id", SVC_FIELD_EMPTY_SHOWN },
    { AUDIT (entry), "ip", SVC_FIELD_EMPTY_SHOWN },
    { STAFF (staff), "version", SVC_FIELD_HIDDEN },                 /* the ETag */
    { STAFF (list_request), "limit", 0, .min = 1, .max = 100 },
    { STAFF (list_reply), "staff", .key = "data" },
    { STAFF (login_request), "email", 0, .max_chars = 254 },
    { MAUTH (login_request), "email", 0, .max_chars = 254 },
    { MAUTH (login_request), "password", 0, .max_chars = 1024 },
    { MAUTH (reset_request_request), "email", 0, .max_chars = 254 },
    { MAUTH (reset_confirm_request), "token", 0, .max_chars = 64, .chars = "0-9a-f" },
    { MAUTH (list_logins_request), "limit", 0, .min = 1, .max = 100 },
    { MAUTH (list_logins_reply), "logins", .key = "data" },
    { MAUTH (login), "email", SVC_FIELD_EMPTY_SHOWN },
    { MAUTH (login), "ip", SVC_FIELD_EMPTY_SHOWN },
    { MAUTH (login), "user_agent", SVC_FIELD_EMPTY_SHOWN },
    { MAUTH (login), "reason", SVC_FIELD_EMPTY_SHOWN },
    { MAUTH (list_activities_request), "limit", 0, .min = 1, .max = 100 },
    { CSV (import_request), "mode", 0, .max_chars = 14, .one_of = "all_or_nothing partial" },
    { CSV (import_request), "tags_mode", 0, .max_chars = 7, .one_of = "replace add" },
    { CSV (import_job_create_request), "mode", 0, .max_chars = 7, .one_of = "partial" },
    { CSV (import_job_create_request), "tags_mode", 0, .max_chars = 7, .one_of = "replace add" },
    { CSV (import_job), "charset", SVC_FIELD_EMPTY_SHOWN },
    { CSV (import_job), "error", SVC_FIELD_EMPTY_SHOWN },
    { CSV (export_request), "headers", 0, .max_chars = 2, .one_of = "ja en" },
    { CSV (row_error), "column", SVC_FIELD_EMPTY_SHOWN },
    { CSV (import_reply), "charset", SVC_FIELD_EMPTY_SHOWN },
    { MAUTH (list_activities_reply), "activities", .key = "data" },
    { MAUTH (record_activities_reply), "activities", .key = "data" },
    { MAUTH (activity), "properties_json", SVC_FIELD_JSON, .key = "properties" },
    { STAFF (login_request), "password", 0, .max_chars = 1024 },
    { STAFF (api_key), "secret", SVC_FIELD_OMIT_EMPTY },
    { STAFF (api_key), "created_by", SVC_FIELD_EMPTY_SHOWN },
    { STAFF (list_api_keys_reply), "keys", .key = "data" },
    { NULL }
};

const svc_http_t member_http = { s_routes, s_permissions, s_fields, .key_method = "ApiKeyVerify" };
