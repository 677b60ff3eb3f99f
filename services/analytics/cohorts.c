/* cohorts.c - retention by the JST month members first paid: GET /v1/metrics/cohorts */
#include "cohorts.h"
#include "analytics.pb-c.h"
#include "metrics.h"
#include "pg_row.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
cohorts_prepare (pg_t *db)
{
    /* $1, $2 the starts and ends of the months from the first cohort's to the current one,
       $3 how many of them are cohorts. c: each member's new business (their first paid MRR,
       one a member) in a cohort month; m: each cohort member's MRR at the end of each month
       since. The cohort's own row has months_after -1: its size and new-business MRR. */
    pg_prepare (db, "cohorts",
        "with b as (select * from unnest ($1::bigint [], $2::bigint []) with ordinality as b (start_ms, end_ms, i)),"
        " c as (select v.member_id, b.i as ci, v.delta as nb from b join movements v"
        "   on v.plan_code = '*' and v.kind = 'new_business' and v.at_ms >= b.start_ms and v.at_ms < b.end_ms"
        "   where b.i <= $3),"
        " m as (select c.ci, b.i, c.member_id, sum (v.delta) as e from c join b on b.i >= c.ci"
        "   join movements v on v.member_id = c.member_id and v.plan_code = '*' and v.at_ms < b.end_ms"
        "   group by c.ci, b.i, c.member_id)"
        " select ci, -1 as months_after, count (*) as customers, sum (nb) as mrr from c group by ci"
        " union all"
        " select ci, i - ci, count (*) filter (where e > 0), sum (e) from m group by ci, i"
        " order by 1, 2");
    /* The same from the roll-up (migration 010): $1 .. $2 the cohorts' months, $3 the current
       one (analytics_month_t). A cell is the sums of the cohort's rows up to its month. */
    pg_prepare (db, "cohorts_rollup",
        "with r as (select *, sum (paying) over w as paying_end, sum (mrr) over w as mrr_end"
        "   from cohort_rollup where cohort between $1::int and $2::int and month <= $3::int"
        "   window w as (partition by cohort order by month)),"
        " c as (select cohort, customers, new_business from r where month = cohort and customers > 0)"
        " select cohort - $1::int + 1 as ci, -1 as months_after, customers, new_business as mrr from c"
        " union all"
        " select c.cohort - $1::int + 1, b.month - c.cohort, x.paying_end, x.mrr_end"
        " from c join generate_series ($1::int, $3::int) b (month) on b.month >= c.cohort"
        " join lateral (select paying_end, mrr_end from r where r.cohort = c.cohort and r.month <= b.month"
        "   order by r.month desc limit 1) x on true"
        " order by 1, 2");
}

int
cohorts_api_list (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Analytics__CohortRequest *query = (Kaiin__Analytics__CohortRequest *)
        svc_unpack (request, &kaiin__analytics__cohort_request__descriptor, reply);
    if (!query)
        return -1;
    int64_t now = request->envelope->now_ms;
    analytics_month_t from, to, current = analytics_month_of (now);
    if (metrics_range (reply, query->from, query->to, now, &from, &to) == 0
    &&  current - from + 1 > METRICS_MONTHS_MAX)
        svc_field_error (reply, "from", "must be at most %d months before the current month",
                         METRICS_MONTHS_MAX);
    if (reply->status != KAIIN__STATUS__OK) {
        protobuf_c_message_free_unpacked (&query->base, NULL);
        return -1;
    }
    int count = (int) (to - from + 1);
    char starts [METRICS_ARRAY_SIZE], ends [METRICS_ARRAY_SIZE], cohorts [16];
    metrics_bounds (from, current, now, starts, ends);
    snprintf (cohorts, sizeof cohorts, "%d", count);
    const char *params [] = { starts, ends, cohorts };
    char first [24], last [24], now_month [24];
    snprintf (first, sizeof first, "%lld", (long long) from);
    snprintf (last, sizeof last, "%lld", (long long) to);
    snprintf (now_month, sizeof now_month, "%lld", (long long) current);
    const char *rollup_params [] = { first, last, now_month };
    int rolled_up = metrics_rolled_up (request->db, now);
    PGresult *result = rolled_up == -1? NULL
                     : rolled_up? pg_run (request->db, "cohorts_rollup", 3, rollup_params)
                     : pg_run (request->db, "cohorts", 3, params);
    if (!result) {
        protobuf_c_message_free_unpacked (&query->base, NULL);
        return svc_db_fail (reply, request->db);
    }
    Kaiin__Analytics__CohortReply answer = KAIIN__ANALYTICS__COHORT_REPLY__INIT;
    answer.as_of_ms = now;
    answer.n_cohorts = (size_t) count;
    answer.cohorts = calloc ((size_t) count, sizeof *answer.cohorts);
    for (int i = 0; i < count; i++) {
        Kaiin__Analytics__Cohort *cohort = answer.cohorts [i] = malloc (sizeof *cohort);
        kaiin__analytics__cohort__init (cohort);
        cohort->month = malloc (16);
        analytics_month_format (from + i, cohort->month, 16);
    }
    for (int row = 0; row < PQntuples (result); row++) {
        Kaiin__Analytics__Cohort *cohort = answer.cohorts [atoi (PQgetvalue (result, row, 0)) - 1];
        Kaiin__Analytics__CohortCell *cell = (Kaiin__Analytics__CohortCell *)
            pg_row_message (result, row, &kaiin__analytics__cohort_cell__descriptor);
        if (cell->months_after < 0) {           /* the cohort itself: rows come first */
            cohort->customers = cell->customers;
            cohort->new_business = cell->mrr;
            protobuf_c_message_free_unpacked (&cell->base, NULL);
            continue;
        }
        if (cohort->customers)
            cell->customer_retention = (double) cell->customers / cohort->customers;
        if (cohort->new_business)
            cell->revenue_retention = (double) cell->mrr / (double) cohort->new_business;
        pg_row_append ((void ***) &cohort->cells, &cohort->n_cells, cell);
    }
    PQclear (result);
    int rc = svc_reply_with (reply, &answer.base);
    for (int i = 0; i < count; i++)
        protobuf_c_message_free_unpacked (&answer.cohorts [i]->base, NULL);
    free (answer.cohorts);
    protobuf_c_message_free_unpacked (&query->base, NULL);
    return rc;
}
