/* member_http.c - member's HTTP face: its routes, who may call them, and the rules of the
   fields clients send; the gateway serves what this declares (common/svc_http.h). The member
   routes not yet here are still the gateway's own (gateway/routes.c). */
#include "member_http.h"
#include "audit.pb-c.h"
#include "inquiry.pb-c.h"
#include "member.pb-c.h"
#include "staff.pb-c.h"

#define MEMBER(name)  (&kaiin__member__##name##__descriptor)
#define INQUIRY(name) (&kaiin__inquiry__##name##__descriptor)
#define AUDIT(name)   (&kaiin__audit__##name##__descriptor)
#define STAFF(name)   (&kaiin__staff__##name##__descriptor)

static const svc_permission_t s_permissions [] = {
    { "member.read",              "owner admin support marketing finance viewer" },
    { "member.inquiries.write",   "owner admin support" },
    { "member.write",             "owner admin support" },
    { "member.tags.write",        "owner admin support marketing" },
    { "member.settings",          "owner admin" },
    { "member.audit.read",        "owner admin" },
    { "member.staff.manage",      "owner admin" },
    { NULL, NULL }
};

#define LIST_QUERY "limit cursor"
/* the keys of a member a client writes, but email and status */
#define MEMBER_KEYS "name name_kana phone birthday postal_code prefecture address rank note" \
                    " attributes marketing_consent"

static const svc_route_t s_routes [] = {
    /* members (GET /v1/members/{id}, withdrawal, CSV and data rights are the gateway's) */
    { "GET", "/v1/members", "List", MEMBER (list_request), MEMBER (list_reply), "member.read",
      .query = "status email q rank tag=tags tags_mode attr.*=attributes sort created_from created_to"
               " last_login_from last_login_to " LIST_QUERY },
    { "POST", "/v1/members", "Create", MEMBER (create_request), MEMBER (member), "member.write",
      .keys = "email! " MEMBER_KEYS, .status = 201, .location = "/v1/members/{id}" },
    { "PATCH", "/v1/members/{id}", "Update", MEMBER (update_request), MEMBER (member),
      "member.write", .keys = "email status " MEMBER_KEYS, .if_match = true },
    { "POST", "/v1/members/{id}/tags", "Tag", MEMBER (tag_request), MEMBER (member),
      "member.tags.write", .keys = "add remove", .if_match = true },
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
    /* staff accounts (PATCH ends sessions, which the gateway keeps: it serves that one) */
    { "POST", "/v1/staff", "StaffCreate", STAFF (create_request), STAFF (staff),
      "member.staff.manage", .keys = "email! name role! password!", .status = 201,
      .location = "/v1/staff/{id}" },
    { "GET", "/v1/staff", "StaffList", STAFF (list_request), STAFF (list_reply),
      "member.staff.manage", .query = LIST_QUERY },
    { "GET", "/v1/staff/{id}", "StaffGet", STAFF (get_request), STAFF (staff),
      "member.staff.manage" },
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
    { MEMBER (member), "status", SVC_FIELD_EMPTY_SHOWN },
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
    { NULL }
};

const svc_http_t member_http = { s_routes, s_permissions, s_fields };
