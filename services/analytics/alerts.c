/* alerts.c - rules on the metrics, evaluated by the tick: a spike of inquiries or of failed
   payments, a plan's churn this month, MRR falling; each raises an alert once per rule,
   subject and period (alert.raised in analytics' outbox), listed until acknowledged.
   README.md, "Alerts", gives each rule in words. */
#include "alerts.h"
#include "analytics.h"
#include "churn.h"
#include "analytics.pb-c.h"
#include "log.h"
#include "outbox.h"
#include "pg_row.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALERT_COLUMNS "id, rule, subject, period, value, baseline, message, raised_at_ms," \
                      " acknowledged_at_ms, acknowledged_by"
#define RULE_COLUMNS  "rule, enabled, threshold, minimum, description, updated_at_ms, updated_by"
#define WEEK_MS  "(7 * 86400000::bigint)"
#define DAYS_30_MS "(30 * 86400000::bigint)"

void
alerts_prepare (pg_t *db)
{
    pg_prepare (db, "alerts_rules", "select " RULE_COLUMNS " from alert_rules order by rule");
    /* $1 now: inquiries opened and payments failed in the 7 days before it, and in the 4
       weeks before those */
    pg_prepare (db, "alerts_spikes",
            "select (select count (*) from inquiries where opened_at_ms > $1::bigint - " WEEK_MS
            "          and opened_at_ms <= $1::bigint),"
            "       (select count (*) from inquiries where opened_at_ms > $1::bigint - 5 * " WEEK_MS
            "          and opened_at_ms <= $1::bigint - " WEEK_MS "),"
            "       (select count (*) from payment_failures where failed_at_ms > $1::bigint - " WEEK_MS
            "          and failed_at_ms <= $1::bigint),"
            "       (select count (*) from payment_failures where failed_at_ms > $1::bigint - 5 * " WEEK_MS
            "          and failed_at_ms <= $1::bigint - " WEEK_MS ")");
    /* $1 now: MRR (every plan) now and 30 days before */
    pg_prepare (db, "alerts_mrr",
            "select coalesce (sum (delta) filter (where at_ms <= $1::bigint), 0),"
            "       coalesce (sum (delta) filter (where at_ms <= $1::bigint - " DAYS_30_MS "), 0)"
            " from movements where plan_code = '*'");
    pg_prepare (db, "alerts_raise",
            "insert into alerts (rule, subject, period, value, baseline, message, raised_at_ms)"
            " values ($1, $2, $3, $4, $5, $6, $7) on conflict do nothing returning " ALERT_COLUMNS);
    pg_prepare (db, "alerts_list",
            "select " ALERT_COLUMNS " from alerts"
            " where ($1 = '' or ($1 = 'open') = (acknowledged_at_ms = 0)) and id < $2::bigint"
            " order by id desc limit $3");
    pg_prepare (db, "alerts_open", "select count (*) from alerts where acknowledged_at_ms = 0");
    pg_prepare (db, "alerts_acknowledge",
            "update alerts set acknowledged_by = case when acknowledged_at_ms = 0 then $3 else acknowledged_by end,"
            " acknowledged_at_ms = case when acknowledged_at_ms = 0 then $2::bigint else acknowledged_at_ms end"
            " where id = $1 returning " ALERT_COLUMNS);
    pg_prepare (db, "alerts_rule_update",
            "update alert_rules set"
            " enabled = case when $5 then $2::boolean else enabled end,"
            " threshold = case when $6 then $3::int else threshold end,"
            " minimum = case when $7 then $4::int else minimum end,"
            " updated_at_ms = $8, updated_by = $9"
            " where rule = $1 returning " RULE_COLUMNS);
}

/* ------------------------------------------------------------------ evaluation */

typedef struct {
    pg_t *db;
    int64_t now_ms;
    char week [16], month [16];
    int raised;
} s_run_t;

/* Raises the alert (once per rule, subject and period) and appends alert.raised. Returns 0
   or -1. */
static int
s_raise (s_run_t *run, const char *rule, const char *subject, const char *period, int64_t value,
         int64_t baseline, const char *message)
{
    char value_text [24], baseline_text [24], now [24];
    snprintf (value_text, sizeof value_text, "%lld", (long long) value);
    snprintf (baseline_text, sizeof baseline_text, "%lld", (long long) baseline);
    snprintf (now, sizeof now, "%lld", (long long) run->now_ms);
    const char *params [] = { rule, subject, period, value_text, baseline_text, message, now };
    PGresult *result = pg_run (run->db, "alerts_raise", 7, params);
    if (!result)
        return -1;
    int rc = 0;
    if (PQntuples (result) == 1) {
        Kaiin__Analytics__Alert *alert = (Kaiin__Analytics__Alert *)
            pg_row_message (result, 0, &kaiin__analytics__alert__descriptor);
        char aggregate [32];
        snprintf (aggregate, sizeof aggregate, "alert-%lld", (long long) alert->id);
        rc = outbox_append (run->db, "alert.raised", aggregate, &alert->base, run->now_ms);
        log_info ("alert raised: %s", alert->message);
        protobuf_c_message_free_unpacked (&alert->base, NULL);
        run->raised++;
    }
    PQclear (result);
    return rc;
}

/* A spike: count in the last 7 days, before in the 4 weeks before them. */
static int
s_spike (s_run_t *run, const Kaiin__Analytics__AlertRule *rule, const char *what,
         int64_t count, int64_t before)
{
    if (count < rule->minimum || count * 100 * 4 <= (int64_t) rule->threshold * before)
        return 0;
    char message [256];
    snprintf (message, sizeof message, "直近7日間の%s %lld件（その前の4週間の週平均 %lld.%02lld件）",
              what, (long long) count, (long long) (before * 25 / 100), (long long) (before * 25 % 100));
    return s_raise (run, rule->rule, "", run->week, count, before, message);
}

/* Each plan's customer churn this month (as GET /v1/metrics/churn counts it). */
static int
s_plan_churn (s_run_t *run, const Kaiin__Analytics__AlertRule *rule)
{
    analytics_month_t month = analytics_month_of (run->now_ms);
    Kaiin__Analytics__ChurnMonth **months = churn_months (run->db, month, month, run->now_ms, false);
    if (!months)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < months [0]->n_plans && rc == 0; i++) {
        const Kaiin__Analytics__PlanChurn *plan = months [0]->plans [i];
        int64_t start = plan->subscribers_start, churned = plan->churned_customers;
        if (start < rule->minimum || start == 0 || churned * 100 <= (int64_t) rule->threshold * start)
            continue;
        int64_t basis_points = churned * 10000 / start;
        char message [256];
        snprintf (message, sizeof message, "プラン %s の今月の解約率 %lld.%lld%%（月初の契約者 %lld人のうち %lld人が解約）",
                  plan->plan, (long long) (basis_points / 100), (long long) (basis_points % 100 / 10),
                  (long long) start, (long long) churned);
        rc = s_raise (run, rule->rule, plan->plan, run->month, basis_points, start, message);
    }
    protobuf_c_message_free_unpacked (&months [0]->base, NULL);
    free (months);
    return rc;
}

/* MRR now against 30 days before. */
static int
s_mrr_drop (s_run_t *run, const Kaiin__Analytics__AlertRule *rule)
{
    char now [24];
    snprintf (now, sizeof now, "%lld", (long long) run->now_ms);
    const char *params [] = { now };
    PGresult *result = pg_run (run->db, "alerts_mrr", 1, params);
    if (!result)
        return -1;
    int64_t mrr = strtoll (PQgetvalue (result, 0, 0), NULL, 10);
    int64_t before = strtoll (PQgetvalue (result, 0, 1), NULL, 10);
    PQclear (result);
    if (before <= 0 || (before - mrr) * 100 <= (int64_t) rule->threshold * before)
        return 0;
    int64_t basis_points = (before - mrr) * 10000 / before;
    char message [256], from [32], to [32];
    snprintf (message, sizeof message, "MRR が30日前より %lld.%lld%% 減少（%s → %s）",
              (long long) (basis_points / 100), (long long) (basis_points % 100 / 10),
              analytics_yen (before, from, sizeof from), analytics_yen (mrr, to, sizeof to));
    return s_raise (run, rule->rule, "", run->month, mrr, before, message);
}

/* The rules, as stored. The caller frees the list. */
static Kaiin__Analytics__AlertRuleList *
s_rules (pg_t *db)
{
    PGresult *result = pg_run (db, "alerts_rules", 0, NULL);
    if (!result)
        return NULL;
    Kaiin__Analytics__AlertRuleList *list = malloc (sizeof *list);
    kaiin__analytics__alert_rule_list__init (list);
    for (int row = 0; row < PQntuples (result); row++)
        pg_row_append ((void ***) &list->rules, &list->n_rules,
                       pg_row_message (result, row, &kaiin__analytics__alert_rule__descriptor));
    PQclear (result);
    return list;
}

int
alerts_evaluate (pg_t *db, int64_t now_ms)
{
    s_run_t run = { .db = db, .now_ms = now_ms };
    analytics_week_format (now_ms, run.week, sizeof run.week);
    analytics_month_format (analytics_month_of (now_ms), run.month, sizeof run.month);
    if (pg_begin (db) == -1)
        return -1;
    Kaiin__Analytics__AlertRuleList *rules = s_rules (db);
    char now [24];
    snprintf (now, sizeof now, "%lld", (long long) now_ms);
    const char *params [] = { now };
    PGresult *spikes = rules? pg_run (db, "alerts_spikes", 1, params): NULL;
    int rc = spikes? 0: -1;
    for (size_t i = 0; rules && spikes && i < rules->n_rules && rc == 0; i++) {
        const Kaiin__Analytics__AlertRule *rule = rules->rules [i];
        int64_t counts [4];
        for (int k = 0; k < 4; k++)
            counts [k] = strtoll (PQgetvalue (spikes, 0, k), NULL, 10);
        if (!rule->enabled)
            continue;
        rc = strcmp (rule->rule, "inquiries_spike") == 0? s_spike (&run, rule, "問い合わせ", counts [0], counts [1])
           : strcmp (rule->rule, "payment_failures_spike") == 0? s_spike (&run, rule, "支払い失敗", counts [2], counts [3])
           : strcmp (rule->rule, "plan_churn") == 0? s_plan_churn (&run, rule)
           : strcmp (rule->rule, "mrr_drop") == 0? s_mrr_drop (&run, rule)
           : 0;
    }
    PQclear (spikes);
    if (rules)
        protobuf_c_message_free_unpacked (&rules->base, NULL);
    if (rc == -1 || pg_commit (db) == -1) {
        pg_rollback (db);
        return -1;
    }
    return run.raised;
}

/* ------------------------------------------------------------------ routes */

int
alerts_api_list (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Analytics__AlertListRequest *list = (Kaiin__Analytics__AlertListRequest *)
        svc_unpack (request, &kaiin__analytics__alert_list_request__descriptor, reply);
    if (!list)
        return -1;
    int size;
    char before [24], limit [16];
    if (analytics_page (reply, list->limit, list->cursor, &size, before) == -1) {
        protobuf_c_message_free_unpacked (&list->base, NULL);
        return -1;
    }
    snprintf (limit, sizeof limit, "%d", size + 1);
    const char *params [] = { list->status, before, limit };
    PGresult *result = pg_run (request->db, "alerts_list", 3, params);
    PGresult *open = result? pg_run (request->db, "alerts_open", 0, NULL): NULL;
    protobuf_c_message_free_unpacked (&list->base, NULL);
    if (!open) {
        PQclear (result);
        return svc_db_fail (reply, request->db);
    }
    Kaiin__Analytics__AlertList page = KAIIN__ANALYTICS__ALERT_LIST__INIT;
    page.open = atoi (PQgetvalue (open, 0, 0));
    PQclear (open);
    int rows = PQntuples (result);
    for (int row = 0; row < rows && row < size; row++)
        pg_row_append ((void ***) &page.alerts, &page.n_alerts,
                       pg_row_message (result, row, &kaiin__analytics__alert__descriptor));
    char next [24] = "";
    if (rows > size)
        snprintf (next, sizeof next, "%s", PQgetvalue (result, size - 1, 0));
    page.next_cursor = next;
    PQclear (result);
    int rc = svc_reply_with (reply, &page.base);
    for (size_t i = 0; i < page.n_alerts; i++)
        protobuf_c_message_free_unpacked (&page.alerts [i]->base, NULL);
    free (page.alerts);
    return rc;
}

/* Answers the one row of result as a message of descriptor, or NOT_FOUND (not_found, a sentence
   of the table of messages) when none. */
static int
s_answer_row (svc_reply_t *reply, pg_t *db, PGresult *result,
              const ProtobufCMessageDescriptor *descriptor, const char *not_found)
{
    if (!result)
        return svc_db_fail (reply, db);
    int rc = PQntuples (result) == 1
        ? 0: svc_fail_say (reply, KAIIN__STATUS__NOT_FOUND, not_found);
    if (rc == 0) {
        ProtobufCMessage *message = pg_row_message (result, 0, descriptor);
        rc = svc_reply_with (reply, message);
        protobuf_c_message_free_unpacked (message, NULL);
    }
    PQclear (result);
    return rc;
}

int
alerts_api_acknowledge (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Analytics__AlertAcknowledgeRequest *ack = (Kaiin__Analytics__AlertAcknowledgeRequest *)
        svc_unpack (request, &kaiin__analytics__alert_acknowledge_request__descriptor, reply);
    if (!ack)
        return -1;
    char id [24], now [24];
    snprintf (id, sizeof id, "%lld", (long long) ack->id);
    snprintf (now, sizeof now, "%lld", (long long) request->envelope->now_ms);
    const char *params [] = { id, now, request->envelope->caller_id };
    int rc = s_answer_row (reply, request->db, pg_run (request->db, "alerts_acknowledge", 3, params),
                           &kaiin__analytics__alert__descriptor, "no such alert");
    protobuf_c_message_free_unpacked (&ack->base, NULL);
    return rc;
}

int
alerts_api_rules (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Analytics__AlertRuleList *rules = s_rules (request->db);
    if (!rules)
        return svc_db_fail (reply, request->db);
    int rc = svc_reply_with (reply, &rules->base);
    protobuf_c_message_free_unpacked (&rules->base, NULL);
    return rc;
}

int
alerts_api_rule_update (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Analytics__AlertRuleUpdateRequest *update = (Kaiin__Analytics__AlertRuleUpdateRequest *)
        svc_unpack (request, &kaiin__analytics__alert_rule_update_request__descriptor, reply);
    if (!update)
        return -1;
    bool masked [3] = { false };
    const char *names [] = { "enabled", "threshold", "minimum" };
    for (size_t i = 0; i < update->n_update_mask; i++)
        for (int k = 0; k < 3; k++)
            masked [k] |= strcmp (update->update_mask [i], names [k]) == 0;
    Kaiin__Analytics__AlertRule empty = KAIIN__ANALYTICS__ALERT_RULE__INIT;
    const Kaiin__Analytics__AlertRule *rule = update->rule? update->rule: &empty;
    char threshold [16], minimum [16], now [24];
    snprintf (threshold, sizeof threshold, "%d", rule->threshold);
    snprintf (minimum, sizeof minimum, "%d", rule->minimum);
    snprintf (now, sizeof now, "%lld", (long long) request->envelope->now_ms);
    const char *params [] = { update->id, rule->enabled? "t": "f", threshold, minimum,
                              masked [0]? "t": "f", masked [1]? "t": "f", masked [2]? "t": "f", now,
                              request->envelope->caller_id };
    int rc = s_answer_row (reply, request->db, pg_run (request->db, "alerts_rule_update", 9, params),
                           &kaiin__analytics__alert_rule__descriptor, "no such alert rule");
    protobuf_c_message_free_unpacked (&update->base, NULL);
    return rc;
}
