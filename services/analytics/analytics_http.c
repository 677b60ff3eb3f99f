/* analytics_http.c - analytics' HTTP face: its routes, who may call them, and the rules of
   the fields clients send; the gateway serves what this declares (common/svc_http.h) */
#include "analytics_http.h"
#include "analytics.pb-c.h"
#include "ranks.h"
#include "settings.h"

#define D(name) (&kaiin__analytics__##name##__descriptor)

/* The timeline shows billing's and member's facts together: the roles that may read both
   (member.read and billing.read). Metrics and signals are read by marketing too. */
static const svc_permission_t s_permissions [] = {
    { "analytics.timeline.read", "owner admin support finance viewer" },
    { "analytics.read",          "owner admin support marketing finance viewer" },
    { "analytics.alerts.manage", "owner admin" },
    { "analytics.settings",      "owner admin" },
    { "analytics.ranks.manage",  "owner admin" },
    { NULL, NULL }
};

#define LIST_QUERY "limit cursor"
#define MONTH      .max_chars = 7, .chars = "0-9-"

static const svc_route_t s_routes [] = {
    { "GET", "/v1/members/{id}/timeline", "Timeline", D (timeline_request), D (timeline_reply),
      "analytics.timeline.read", .query = LIST_QUERY, .path_fields = "id=member_id" },
    { "GET", "/v1/members/{id}/churn-risk", "ChurnRisk", D (churn_risk_request), D (churn_risk),
      "analytics.read", .path_fields = "id=member_id" },
    { "GET", "/v1/members/{id}/loyalty", "Loyalty", D (loyalty_request), D (loyalty), "analytics.read",
      .path_fields = "id=member_id" },
    { "GET", "/v1/members/{id}/recommendations", "Recommendations", D (recommendations_request),
      D (recommendations), "analytics.read", .query = "limit", .path_fields = "id=member_id" },
    { "GET", "/v1/metrics/subscriptions", "Metrics", D (metrics_request), D (metrics_reply),
      "analytics.read", .query = "from to plan format", .headers = "Accept=accept",
      .text = "csv text/csv; charset=utf-8" },
    { "GET", "/v1/metrics/churn", "Churn", D (churn_request), D (churn_reply), "analytics.read",
      .query = "from to" },
    { "GET", "/v1/metrics/cohorts", "Cohorts", D (cohort_request), D (cohort_reply), "analytics.read",
      .query = "from to" },
    { "GET", "/v1/reports/monthly", "Report", D (report_request), D (report), "analytics.read",
      .query = "month format", .headers = "Accept=accept", .text = "csv text/csv; charset=utf-8" },
    { "GET", "/v1/analytics/signals", "SignalList", D (signal_list_request), D (signal_list),
      "analytics.read", .query = "member_id kind " LIST_QUERY },
    { "GET", "/v1/analytics/alerts", "AlertList", D (alert_list_request), D (alert_list),
      "analytics.read", .query = "status " LIST_QUERY },
    { "POST", "/v1/analytics/alerts/{id}/acknowledge", "AlertAcknowledge",
      D (alert_acknowledge_request), D (alert), "analytics.alerts.manage" },
    { "GET", "/v1/analytics/alert-rules", "AlertRuleList", D (alert_rule_list_request),
      D (alert_rule_list), "analytics.read" },
    { "PATCH", "/v1/analytics/alert-rules/{id}", "AlertRuleUpdate", D (alert_rule_update_request),
      D (alert_rule), "analytics.alerts.manage", .body = "rule", .keys = "enabled threshold minimum" },
    { "GET", "/v1/analytics/settings", "SettingsGet", D (settings_request), D (settings), "analytics.read" },
    { "PATCH", "/v1/analytics/settings", "SettingsUpdate", D (settings), D (settings),
      "analytics.settings", .if_match = true,
      .keys = "inactive_days churn_risk_threshold purchase_milestones spend_milestones" },
    { "GET", "/v1/analytics/rank-rules", "RankRulesGet", D (rank_rules_request), D (rank_rules),
      "analytics.read" },
    { "PUT", "/v1/analytics/rank-rules", "RankRulesUpdate", D (rank_rules), D (rank_rules),
      "analytics.ranks.manage", .keys = "rules!" },
    { "POST", "/v1/analytics/rank-rules/preview", "RankRulesPreview", D (rank_rules), D (rank_preview),
      "analytics.ranks.manage", .keys = "rules!" },
    { NULL }
};

static const svc_field_t s_fields [] = {
    { D (settings), "update_mask", SVC_FIELD_HIDDEN },
    { D (settings), "if_version", SVC_FIELD_HIDDEN },
    { D (settings), "inactive_days", 0, .min = 1, .max = 365 },
    { D (settings), "churn_risk_threshold", 0, .min = 1, .max = 100 },
    { D (settings), "purchase_milestones", 0, .min = 1, .max = SETTINGS_PURCHASES_MAX },
    { D (settings), "spend_milestones", 0, .min = 1, .max = SETTINGS_SPEND_MAX },
    { D (timeline_request), "limit", 0, .min = 1, .max = 100 },
    { D (timeline_reply), "entries", .key = "data" },
    { D (timeline_entry), "object_id", SVC_FIELD_EMPTY_SHOWN },
    { D (metrics_request), "from", 0, MONTH },
    { D (metrics_request), "to", 0, MONTH },
    { D (metrics_request), "plan", 0, .max_chars = 64, .chars = "a-z0-9_-" },
    { D (metrics_request), "format", 0, .one_of = "json csv" },
    { D (metrics_request), "accept", SVC_FIELD_EMPTY_OK, .max_chars = 1000 },
    { D (metrics_reply), "plan", SVC_FIELD_EMPTY_SHOWN },
    { D (churn_request), "from", 0, MONTH },
    { D (churn_request), "to", 0, MONTH },
    { D (cohort_request), "from", 0, MONTH },
    { D (cohort_request), "to", 0, MONTH },
    { D (metrics_reply), "csv", SVC_FIELD_HIDDEN },
    { D (report_request), "month", 0, MONTH },
    { D (report_request), "format", 0, .one_of = "json csv" },
    { D (report_request), "accept", SVC_FIELD_EMPTY_OK, .max_chars = 1000 },
    { D (report), "csv", SVC_FIELD_HIDDEN },
    { D (signal_list_request), "limit", 0, .min = 1, .max = 100 },
    { D (signal_list_request), "kind", 0,
      .one_of = "inactive churn_risk purchase_milestone spend_milestone" },
    { D (signal_list), "signals", .key = "data" },
    { D (signal), "last_login_at_ms", SVC_FIELD_ZERO_NULL },        /* never logged in */
    { D (loyalty), "last_paid_at_ms", SVC_FIELD_ZERO_NULL },         /* never paid */
    { D (recommendations_request), "limit", 0, .min = 1, .max = 20 },
    { D (alert_list_request), "limit", 0, .min = 1, .max = 100 },
    { D (alert_list_request), "status", 0, .one_of = "open acknowledged" },
    { D (alert_list), "alerts", .key = "data" },
    { D (alert), "subject", SVC_FIELD_EMPTY_SHOWN },
    { D (alert), "acknowledged_at_ms", SVC_FIELD_ZERO_NULL },       /* open */
    { D (alert), "acknowledged_by", SVC_FIELD_EMPTY_SHOWN },
    { D (alert_rule), "threshold", 0, .min = 1, .max = 10000 },
    { D (alert_rule), "minimum", 0, .min = 0, .max = 1000000 },
    { D (alert_rule), "updated_at_ms", SVC_FIELD_ZERO_NULL },       /* never changed */
    { D (alert_rule), "updated_by", SVC_FIELD_EMPTY_SHOWN },
    { D (alert_rule_list), "rules", .key = "data" },
    { D (rank_rule), "rank", SVC_FIELD_REQUIRED, .max_chars = 32, .chars = "a-z0-9_" },
    { D (rank_rule), "metric", SVC_FIELD_REQUIRED, .one_of = "cumulative_spend purchase_count" },
    { D (rank_rule), "threshold", SVC_FIELD_REQUIRED, .min = 0, .max = RANKS_THRESHOLD_MAX },
    { D (rank_rules), "updated_at_ms", SVC_FIELD_ZERO_NULL },       /* never saved */
    { D (rank_rules), "updated_by", SVC_FIELD_EMPTY_SHOWN },
    { D (rank_preview), "ranks", .key = "data" },
    { NULL }
};

const svc_http_t analytics_http = { s_routes, s_permissions, s_fields };
