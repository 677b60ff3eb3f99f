/* main.c - kaiin-analytics: the member-360 timeline, subscription metrics, churn-risk scores
   and the signals messaging's automations take as triggers, all from other services' events */
#include "alerts.h"
#include "analytics.h"
#include "analytics_http.h"
#include "analytics_messages.h"
#include "churn.h"
#include "cohorts.h"
#include "ingest.h"
#include "loyalty.h"
#include "metrics.h"
#include "ranks.h"
#include "recommend.h"
#include "report.h"
#include "settings.h"
#include "signals.h"
#include "svc.h"
#include "timeline.h"

static const svc_method_t s_methods [] = {
    { "Timeline",   timeline_api_list },
    { "Metrics",    metrics_api_subscriptions },
    { "Churn",      churn_api_months },
    { "Cohorts",    cohorts_api_list },
    { "Report",     report_api_monthly },
    { "SignalList", signals_api_list },
    { "ChurnRisk",  signals_api_churn_risk },
    { "Loyalty",    loyalty_api_get },
    { "Recommendations", recommend_api_list },
    { "AlertList",        alerts_api_list },
    { "AlertAcknowledge", alerts_api_acknowledge },
    { "AlertRuleList",    alerts_api_rules },
    { "AlertRuleUpdate",  alerts_api_rule_update },
    { "SettingsGet",      settings_api_get },
    { "SettingsUpdate",   settings_api_update },
    { "RankRulesGet",     ranks_api_get },
    { "RankRulesUpdate",  ranks_api_update },
    { "RankRulesPreview", ranks_api_preview },
    { NULL, NULL }
};

static void
s_prepare (pg_t *db)
{
    ingest_prepare (db);
    timeline_prepare (db);
    metrics_prepare (db);
    churn_prepare (db);
    cohorts_prepare (db);
    loyalty_prepare (db);
    signals_prepare (db);
    alerts_prepare (db);
    settings_prepare (db);
    ranks_prepare (db);
}

/* The scheduled work: the rank changes queued, then the signals and alerts; with nothing of
   those due, a month of the report counted ahead of its first request. */
static int
s_tick (pg_t *db, int64_t now_ms)
{
    int changed = ranks_tick (db, now_ms);
    int raised = changed >= 0? signals_tick (db, now_ms): -1;
    if (raised == 0 && changed == 0 && report_warm (db, now_ms) == -1)
        return -1;
    return raised >= 0? changed + raised: -1;
}

/* Its figures in analytics.Prometheus (GET /metrics/analytics), besides the runtime's. */
static const svc_gauge_t s_gauges [] = {
    { "kaiin_alerts", "Alerts, open or acknowledged.", "status",
      "select case when acknowledged_at_ms = 0 then 'open' else 'acknowledged' end, count (*)"
      " from alerts group by 1 order by 1" },
    { NULL, NULL, NULL, NULL }
};

int
main (int argc, char **argv)
{
    svc_def_t analytics = { .name = "analytics", .methods = s_methods, .prepare = s_prepare,
                            .consumers = ingest_sources, .tick = s_tick,
                            .http = &analytics_http, .messages = analytics_messages,
                            .gauges = s_gauges };
    return svc_main (&analytics, argc, argv);
}
