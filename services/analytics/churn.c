/* churn.c - churn by plan and the reasons members gave for cancelling, by JST month:
   GET /v1/metrics/churn */
#include "churn.h"
#include "analytics.pb-c.h"
#include "metrics.h"
#include "pg_row.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
churn_prepare (pg_t *db)
{
    /* $1, $2 the months' starts and ends. Per month, plan and member: the plan's MRR at the
       start (s) and end (e), and its churn within the month; the plans with subscribers at
       the start or churn in the month. */
    pg_prepare (db, "churn_plans",
        "with b as (select * from unnest ($1::bigint [], $2::bigint []) with ordinality as b (start_ms, end_ms, i)),"
        " m as (select b.i, v.plan_code, v.member_id,"
        "   coalesce (sum (v.delta) filter (where v.at_ms < b.start_ms), 0) as s, sum (v.delta) as e,"
        "   coalesce (sum (v.delta) filter (where v.at_ms >= b.start_ms and v.kind = 'churn'), 0) as ch"
        "   from b join movements v on v.plan_code <> '*' and v.at_ms < b.end_ms"
        "   group by b.i, v.plan_code, v.member_id)"
        " select i, plan_code as plan, count (*) filter (where s > 0) as subscribers_start,"
        "   count (*) filter (where s > 0 and e <= 0) as churned_customers,"
        "   sum (s) as mrr_start, sum (ch) as churn"
        " from m group by i, plan_code"
        " having count (*) filter (where s > 0) > 0 or sum (ch) <> 0 order by i, plan_code");
    pg_prepare (db, "churn_reasons",
        "with b as (select * from unnest ($1::bigint [], $2::bigint []) with ordinality as b (start_ms, end_ms, i))"
        " select b.i, coalesce (nullif (s.cancel_reason, ''), 'unspecified') as reason, count (*) as count"
        " from b join subscriptions s on s.canceled_at_ms >= b.start_ms and s.canceled_at_ms < b.end_ms"
        " group by 1, 2 order by 1, 3 desc, 2");
}

int
churn_api_months (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Analytics__ChurnRequest *query = (Kaiin__Analytics__ChurnRequest *)
        svc_unpack (request, &kaiin__analytics__churn_request__descriptor, reply);
    if (!query)
        return -1;
    int64_t now = request->envelope->now_ms;
    analytics_month_t from, to;
    if (metrics_range (reply, query->from, query->to, now, &from, &to) == -1) {
        protobuf_c_message_free_unpacked (&query->base, NULL);
        return -1;
    }
    int count = (int) (to - from + 1);
    char starts [METRICS_ARRAY_SIZE], ends [METRICS_ARRAY_SIZE];
    metrics_bounds (from, to, now, starts, ends);
    const char *params [] = { starts, ends };
    Kaiin__Analytics__ChurnReply answer = KAIIN__ANALYTICS__CHURN_REPLY__INIT;
    answer.as_of_ms = now;
    answer.n_months = (size_t) count;
    answer.months = calloc ((size_t) count, sizeof *answer.months);
    for (int i = 0; i < count; i++) {
        Kaiin__Analytics__ChurnMonth *month = answer.months [i] = malloc (sizeof *month);
        kaiin__analytics__churn_month__init (month);
        month->month = malloc (16);
        analytics_month_format (from + i, month->month, 16);
    }
    PGresult *plans = pg_run (request->db, "churn_plans", 2, params);
    PGresult *reasons = plans? pg_run (request->db, "churn_reasons", 2, params): NULL;
    int rc = -1;
    if (reasons) {
        for (int row = 0; row < PQntuples (plans); row++) {
            Kaiin__Analytics__ChurnMonth *month = answer.months [atoi (PQgetvalue (plans, row, 0)) - 1];
            Kaiin__Analytics__PlanChurn *plan = (Kaiin__Analytics__PlanChurn *)
                pg_row_message (plans, row, &kaiin__analytics__plan_churn__descriptor);
            if (plan->subscribers_start)
                plan->customer_churn_rate = (double) plan->churned_customers / plan->subscribers_start;
            pg_row_append ((void ***) &month->plans, &month->n_plans, plan);
        }
        for (int row = 0; row < PQntuples (reasons); row++) {
            Kaiin__Analytics__ChurnMonth *month = answer.months [atoi (PQgetvalue (reasons, row, 0)) - 1];
            Kaiin__Analytics__ReasonCount *reason = (Kaiin__Analytics__ReasonCount *)
                pg_row_message (reasons, row, &kaiin__analytics__reason_count__descriptor);
            month->cancellations += reason->count;
            pg_row_append ((void ***) &month->cancel_reasons, &month->n_cancel_reasons, reason);
        }
        rc = svc_reply_with (reply, &answer.base);
    }
    else
        svc_db_fail (reply, request->db);
    PQclear (plans);
    PQclear (reasons);
    for (int i = 0; i < count; i++)
        protobuf_c_message_free_unpacked (&answer.months [i]->base, NULL);
    free (answer.months);
    protobuf_c_message_free_unpacked (&query->base, NULL);
    return rc;
}
