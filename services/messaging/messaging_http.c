/* messaging_http.c - messaging's HTTP face: its routes, who may call them, and the rules of
   the fields clients send; the gateway serves what this declares (common/svc_http.h) */
#include "messaging_http.h"
#include "messaging.pb-c.h"

#define D(name) (&kaiin__messaging__##name##__descriptor)
#define LIST_QUERY "limit cursor"

static const svc_permission_t s_permissions [] = {
    { "messaging.read",     "owner admin support marketing viewer" },
    { "messaging.write",    "owner admin marketing" },
    { "messaging.send",     "owner admin support marketing" },
    { "messaging.campaigns", "owner admin marketing" },
    { "messaging.settings", "owner admin" },
    { NULL, NULL }
};

static const svc_route_t s_routes [] = {
    /* the sender and the legal footer */
    { "GET", "/v1/messaging/settings", "SettingsGet", D (id_request), D (settings), "messaging.read" },
    { "PATCH", "/v1/messaging/settings", "SettingsUpdate", D (settings), D (settings),
      "messaging.settings", .if_match = true,
      .keys = "from_name from_address reply_to business_name postal_address contact"
              " marketing_cap_per_week pause_failure_percent pause_after" },
    /* templates */
    { "POST", "/v1/messaging/templates", "TemplateCreate", D (template), D (template),
      "messaging.write", .keys = "name! kind! subject! html text",
      .status = 201, .location = "/v1/messaging/templates/{id}", .max_body = 512 * 1024 },
    { "GET", "/v1/messaging/templates", "TemplateList", D (list_request), D (template_list),
      "messaging.read", .query = LIST_QUERY },
    { "GET", "/v1/messaging/templates/{id}", "TemplateGet", D (id_request), D (template), "messaging.read" },
    { "PATCH", "/v1/messaging/templates/{id}", "TemplateUpdate", D (template_update_request),
      D (template), "messaging.write", .body = "template", .keys = "name kind subject html text",
      .if_match = true, .max_body = 512 * 1024 },
    { "DELETE", "/v1/messaging/templates/{id}", "TemplateDelete", D (id_request), D (template),
      "messaging.write" },
    { "POST", "/v1/messaging/templates/{id}/preview", "TemplatePreview", D (preview_request),
      D (preview), "messaging.read", .keys = "member_id!" },
    /* automations */
    { "POST", "/v1/messaging/automations", "AutomationCreate", D (automation), D (automation),
      "messaging.write", .keys = "name! source! event_type! nth active starts_at scenario template_id delay_minutes",
      .status = 201, .location = "/v1/messaging/automations/{id}" },
    { "GET", "/v1/messaging/automations", "AutomationList", D (list_request), D (automation_list),
      "messaging.read", .query = LIST_QUERY },
    { "GET", "/v1/messaging/automations/{id}", "AutomationGet", D (id_request), D (automation),
      "messaging.read" },
    { "PATCH", "/v1/messaging/automations/{id}", "AutomationUpdate", D (automation_update_request),
      D (automation), "messaging.write", .body = "automation",
      .keys = "name nth active scenario", .if_match = true },
    /* mails */
    { "POST", "/v1/messaging/mails", "MailSend", D (send_request), D (mail), "messaging.send",
      .keys = "template_id! member_id!", .status = 201, .location = "/v1/messaging/mails/{id}" },
    { "GET", "/v1/messaging/mails", "MailList", D (list_request), D (mail_list), "messaging.read",
      .query = "member_id status campaign_id " LIST_QUERY },
    { "GET", "/v1/messaging/mails/{id}", "MailGet", D (id_request), D (mail), "messaging.read" },
    /* consent, and the one-click unsubscribe of RFC 8058: no token, the link is signed */
    { "GET", "/v1/messaging/members/{id}/consent", "Consent", D (id_request), D (consent),
      "messaging.read" },
    { "POST", "/v1/messaging/unsubscribe/{token}", "Unsubscribe", D (unsubscribe_request),
      D (unsubscribe_reply), SVC_OPEN, .raw = "body", .keys = "", .max_body = 4096 },
    /* segments: saved filters, and the live count of one saved or not */
    { "POST", "/v1/messaging/segments", "SegmentCreate", D (segment), D (segment),
      "messaging.campaigns", .keys = "name! filter!", .status = 201,
      .location = "/v1/messaging/segments/{id}", .max_body = 256 * 1024 },
    { "GET", "/v1/messaging/segments", "SegmentList", D (list_request), D (segment_list),
      "messaging.read", .query = LIST_QUERY },
    { "POST", "/v1/messaging/segments/count", "SegmentCount", D (segment_count_request),
      D (segment_count), "messaging.read", .keys = "filter!", .max_body = 256 * 1024 },
    { "GET", "/v1/messaging/segments/{id}", "SegmentGet", D (id_request), D (segment), "messaging.read" },
    { "PATCH", "/v1/messaging/segments/{id}", "SegmentUpdate", D (segment_update_request),
      D (segment), "messaging.campaigns", .body = "segment", .keys = "name filter", .if_match = true,
      .max_body = 256 * 1024 },
    { "DELETE", "/v1/messaging/segments/{id}", "SegmentDelete", D (id_request), D (segment),
      "messaging.campaigns" },
    { "GET", "/v1/messaging/segments/{id}/count", "SegmentCount", D (segment_count_request),
      D (segment_count), "messaging.read" },
    { "GET", "/v1/messaging/segments/{id}/members", "SegmentMembers", D (segment_members_request),
      D (segment_members), "messaging.read", .query = LIST_QUERY },
    /* campaigns */
    { "POST", "/v1/messaging/campaigns", "CampaignCreate", D (campaign), D (campaign),
      "messaging.campaigns", .keys = "name! template_id! segment_id! rate_per_minute",
      .status = 201, .location = "/v1/messaging/campaigns/{id}" },
    { "GET", "/v1/messaging/campaigns", "CampaignList", D (list_request), D (campaign_list),
      "messaging.read", .query = LIST_QUERY },
    { "GET", "/v1/messaging/campaigns/{id}", "CampaignGet", D (id_request), D (campaign), "messaging.read" },
    { "PATCH", "/v1/messaging/campaigns/{id}", "CampaignUpdate", D (campaign_update_request),
      D (campaign), "messaging.campaigns", .body = "campaign",
      .keys = "name template_id segment_id rate_per_minute", .if_match = true },
    { "POST", "/v1/messaging/campaigns/{id}/send", "CampaignAction", D (campaign_action_request),
      D (campaign), "messaging.campaigns", .keys = "send_at", .fixed = "action=send" },
    { "POST", "/v1/messaging/campaigns/{id}/pause", "CampaignAction", D (campaign_action_request),
      D (campaign), "messaging.campaigns", .keys = "", .fixed = "action=pause" },
    { "POST", "/v1/messaging/campaigns/{id}/resume", "CampaignAction", D (campaign_action_request),
      D (campaign), "messaging.campaigns", .keys = "", .fixed = "action=resume" },
    { "POST", "/v1/messaging/campaigns/{id}/cancel", "CampaignAction", D (campaign_action_request),
      D (campaign), "messaging.campaigns", .keys = "", .fixed = "action=cancel" },
    { "POST", "/v1/messaging/campaigns/{id}/test", "CampaignTest", D (campaign_test_request),
      D (campaign_test_reply), "messaging.campaigns", .keys = "to! member_id" },
    { "GET", "/v1/messaging/campaigns/{id}/stats", "CampaignStats", D (id_request),
      D (campaign_stats), "messaging.read" },
    /* a campaign mail's tracked link: no token, the link is signed */
    { "GET", "/c/{token}", "Click", D (click_request), D (click_reply), SVC_OPEN, .status = 302,
      .reply_body = "html", .content_type = "text/html; charset=utf-8" },
    { NULL }
};

#define ID .max_chars = 64

static const svc_field_t s_fields [] = {
    { D (settings), "update_mask", SVC_FIELD_HIDDEN },
    { D (settings), "if_version", SVC_FIELD_HIDDEN },
    { D (settings), "from_name", SVC_FIELD_EMPTY_OK | SVC_FIELD_EMPTY_SHOWN, .max_chars = 100 },
    { D (settings), "from_address", SVC_FIELD_EMPTY_OK | SVC_FIELD_EMPTY_SHOWN, .max_chars = 254 },
    { D (settings), "reply_to", SVC_FIELD_EMPTY_OK | SVC_FIELD_EMPTY_SHOWN, .max_chars = 254 },
    { D (settings), "business_name", SVC_FIELD_EMPTY_OK | SVC_FIELD_EMPTY_SHOWN, .max_chars = 200 },
    { D (settings), "postal_address", SVC_FIELD_EMPTY_OK | SVC_FIELD_EMPTY_SHOWN, .max_chars = 300 },
    { D (settings), "contact", SVC_FIELD_EMPTY_OK | SVC_FIELD_EMPTY_SHOWN, .max_chars = 200 },
    { D (settings), "marketing_cap_per_week", 0, .min = 0, .max = 1000 },
    { D (settings), "pause_failure_percent", 0, .min = 0, .max = 100 },
    { D (settings), "pause_after", 0, .min = 1, .max = 1000000 },
    { D (template), "name", 0, .max_chars = 100 },
    { D (template), "kind", 0, .one_of = "transactional marketing" },
    { D (template), "subject", 0, .max_chars = 200 },
    { D (template), "html", SVC_FIELD_EMPTY_OK | SVC_FIELD_EMPTY_SHOWN, .max_chars = 100000 },
    { D (template), "text", SVC_FIELD_EMPTY_OK | SVC_FIELD_EMPTY_SHOWN, .max_chars = 100000 },
    { D (preview_request), "member_id", 0, ID },
    { D (automation), "name", 0, .max_chars = 100 },
    { D (automation), "source", 0, .max_chars = 32 },
    { D (automation), "event_type", 0, .max_chars = 64 },
    { D (automation), "nth", 0, .min = 0, .max = 100000 },
    { D (automation), "template_id", SVC_FIELD_EMPTY_OK | SVC_FIELD_OMIT_EMPTY, ID },
    { D (automation), "delay_minutes", SVC_FIELD_OMIT_EMPTY, .min = 0, .max = 366 * 24 * 60 },
    { D (automation), "scenario_json", SVC_FIELD_JSON, .key = "scenario" },
    { D (automation), "active", 0, .absent = "true" },
    { D (send_request), "template_id", 0, ID },
    { D (send_request), "member_id", 0, ID },
    { D (list_request), "limit", 0, .min = 1, .max = 100 },
    { D (list_request), "status", 0, .one_of = "queued held sent failed bounced suppressed canceled capped" },
    { D (list_request), "campaign_id", 0, ID },
    { D (unsubscribe_request), "token", 0, .max_chars = 200 },
    { D (segment), "name", 0, .max_chars = 100 },
    { D (segment), "filter_json", SVC_FIELD_JSON, .key = "filter" },
    { D (segment_count_request), "filter_json", SVC_FIELD_JSON, .key = "filter" },
    { D (segment_members_request), "limit", 0, .min = 1, .max = 100 },
    { D (segment_members_request), "cursor", 0, ID },
    { D (segment_members), "member_ids", .key = "data" },
    { D (campaign), "name", 0, .max_chars = 100 },
    { D (campaign), "template_id", 0, ID },
    { D (campaign), "segment_id", 0, ID },
    { D (campaign), "rate_per_minute", 0, .min = 0, .max = 600000 },
    { D (campaign), "paused_reason", SVC_FIELD_EMPTY_SHOWN },
    { D (campaign_test_request), "to", 0, .max_chars = 254 },
    { D (campaign_test_request), "member_id", SVC_FIELD_EMPTY_OK, ID },
    { D (click_request), "token", 0, .max_chars = 200 },
    { NULL }
};

const svc_http_t messaging_http = { s_routes, s_permissions, s_fields };
