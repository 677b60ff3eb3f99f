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
       the start or churn in the month, and with $3 those with subscribers at the end too. */
    pg_prepare (db, "churn_plans",
        "with b as (select * from unnest ($1::bigint [], $2::bigint []) with ordinality as b (start_ms, end_ms, i)),"
        " m as (select b.i, v.plan_code, v.member_id,"
        "   coalesce (sum (v.delta) filter (where v.at_ms < b.start_ms), 0) as s, sum (v.delta) as e,"
        "   coalesce (sum (v.delta) filter (where v.at_ms >= b.start_ms and v.kind = 'churn'), 0) as ch"
        "   from b join movements v on v.plan_code <> '*' and v.at_ms < b.end_ms"
        "   group by b.i, v.plan_code, v.member_id)"
        " select i, plan_code as plan, count (*) filter (where s > 0) as subscribers_start,"
        "   count (*) filter (where s > 0 and e <= 0) as churned_customers,"
        "   sum (s) as mrr_start, sum (ch) as churn,"
        "   count (*) filter (where e > 0) as subscribers, coalesce (sum (e) filter (where e > 0), 0) as mrr"
        " from m group by i, plan_code"
        " having count (*) filter (where s > 0) > 0 or sum (ch) <> 0"
        "   or ($3 and count (*) filter (where e > 0) > 0) order by i, plan_code");
    /* The same from the roll-up (metrics.c's metrics_months_rollup, per plan): $1 .. $2 the
       months (analytics_month_t), $3 as above. */
    pg_prepare (db, "churn_plans_rollup",
        "with r as (select *, sum (total) over w as mrr_end, sum (subscribers) over w as subscribers_end,"
        "   sum (paying_mrr) over w as paying_end"
        "   from month_rollup where plan_code <> '*' and month <= $2::int"
        "   window w as (partition by plan_code order by month)),"
        " p as (select b.month - $1::int + 1 as i, r.plan_code as plan,"
        "   r.subscribers_end - case when r.month = b.month then r.subscribers else 0 end as subscribers_start,"
        "   case when r.month = b.month then r.churned else 0 end as churned_customers,"
        "   r.mrr_end - case when r.month = b.month then r.total else 0 end as mrr_start,"
        "   case when r.month = b.month then r.churn else 0 end as churn,"
        "   r.subscribers_end as subscribers, r.paying_end as mrr"
        "   from generate_series ($1::int, $2::int) b (month)"
        "   cross join (select distinct plan_code from r) c"
        "   join lateral (select * from r where r.plan_code = c.plan_code and r.month <= b.month"
        "     order by r.month desc limit 1) r on true)"
        " select * from p where subscribers_start > 0 or churn <> 0 or ($3 and subscribers > 0)"
        " order by i, plan");
    /* The months follow each other (metrics_bounds): the cancellations from the first start
       to the last end in one range of subscriptions_canceled_reason, each in the month
       width_bucket finds among the starts (a join per month scanned every cancellation once
       a month: 96 ms for 12 months at 100 000 members). */
    pg_prepare (db, "churn_reasons",
        "select width_bucket (s.canceled_at_ms, $1::bigint []) as i,"
        "   coalesce (nullif (s.cancel_reason, ''), 'unspecified') as reason, count (*) as count"
        " from subscriptions s where s.canceled_at_ms > 0 and s.canceled_at_ms >= ($1::bigint []) [1]"
        "   and s.canceled_at_ms < ($2::bigint []) [cardinality ($2::bigint [])]"
        " group by 1, 2 order by 1, 3 desc, 2");
}

Kaiin__Analytics__ChurnMonth **
churn_months (pg_t *db, analytics_month_t from, analytics_month_t to, int64_t now, bool every_plan)
{
    int count = (int) (to - from + 1);
    char starts [METRICS_ARRAY_SIZE], ends [METRICS_ARRAY_SIZE];
    metrics_bounds (from, to, now, starts, ends);
    const char *params [] = { starts, ends, every_plan? "true": "false" };
    char first [24], last [24];
    snprintf (first, sizeof first, "%lld", (long long) from);
    snprintf (last, sizeof last, "%lld", (long long) to);
    const char *rollup_params [] = { first, last, params [2] };
    int rolled_up = metrics_rolled_up (db, now);
    PGresult *plans = rolled_up == -1? NULL
                    : rolled_up? pg_run (db, "churn_plans_rollup", 3, rollup_params)
                    : pg_run (db, "churn_plans", 3, params);
    PGresult *reasons = plans? pg_run (db, "churn_reasons", 2, params): NULL;
    Kaiin__Analytics__ChurnMonth **months = NULL;
    if (reasons) {
        months = calloc ((size_t) count, sizeof *months);
        for (int i = 0; i < count; i++) {
            Kaiin__Analytics__ChurnMonth *month = months [i] = malloc (sizeof *month);
            kaiin__analytics__churn_month__init (month);
            month->month = malloc (16);
            analytics_month_format (from + i, month->month, 16);
        }
        for (int row = 0; row < PQntuples (plans); row++) {
            Kaiin__Analytics__ChurnMonth *month = months [atoi (PQgetvalue (plans, row, 0)) - 1];
            Kaiin__Analytics__PlanChurn *plan = (Kaiin__Analytics__PlanChurn *)
                pg_row_message (plans, row, &kaiin__analytics__plan_churn__descriptor);
            if (plan->subscribers_start)
                plan->customer_churn_rate = (double) plan->churned_customers / plan->subscribers_start;
            pg_row_append ((void ***) &month->plans, &month->n_plans, plan);
        }
        for (int row = 0; row < PQntuples (reasons); row++) {
            Kaiin__Analytics__ChurnMonth *month = months [atoi (PQgetvalue (reasons, row, 0)) - 1];
            Kaiin__Analytics__ReasonCount *reason = (Kaiin__Analytics__ReasonCount *)
                pg_row_message (reasons, row, &kaiin__analytics__reason_count__descriptor);
            month->cancellations += reason->count;
            pg_row_append ((void ***) &month->cancel_reasons, &month->n_cancel_reasons, reason);
        }
    }
    PQclear (plans);
    PQclear (reasons);
    return months;
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
    Kaiin__Analytics__ChurnMonth **months = NULL;
    int rc = -1;
    if (metrics_range (reply, query->from, query->to, now, &from, &to) == 0
    &&  !(months = churn_months (request->db, from, to, now, false)))
        svc_db_fail (reply, request->db);
    else
    if (months) {
        Kaiin__Analytics__ChurnReply answer = KAIIN__ANALYTICS__CHURN_REPLY__INIT;
        answer.as_of_ms = now;
        answer.n_months = (size_t) (to - from + 1);
        answer.months = months;
        rc = svc_reply_with (reply, &answer.base);
        for (size_t i = 0; i < answer.n_months; i++)
            protobuf_c_message_free_unpacked (&months [i]->base, NULL);
        free (months);
    }
    protobuf_c_message_free_unpacked (&query->base, NULL);
    return rc;
}
