/* metrics.c - subscription metrics by JST month, from the MRR movements (mrr.c), and the month
   ranges every metrics route takes.

   Every MRR number is a sum over movements: a member's MRR at a moment is the sum of its
   movements before it, so the month's MRR minus the one before is exactly the sum of the
   month's movements. The formulas are in README.md, "Metrics". */
#include "metrics.h"
#include "analytics.h"
#include "analytics.pb-c.h"
#include "settings.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LTV_MONTHS 6                /* the churn rates LTV averages: the months before */

void
metrics_prepare (pg_t *db)
{
    /* $1 plan ('*': all), $2 and $3 the months' starts and ends (arrays, in order). Per month
       and member: the MRR at its start (s) and end (e) and its movements within it. */
    pg_prepare (db, "metrics_months",
        "with b as (select * from unnest ($2::bigint [], $3::bigint []) with ordinality as b (start_ms, end_ms, i)),"
        " m as (select b.i, v.member_id,"
        "   coalesce (sum (v.delta) filter (where v.at_ms < b.start_ms), 0) as s,"
        "   sum (v.delta) as e,"
        "   coalesce (sum (v.delta) filter (where v.at_ms >= b.start_ms and v.kind = 'new_business'), 0) as nb,"
        "   coalesce (sum (v.delta) filter (where v.at_ms >= b.start_ms and v.kind = 'expansion'), 0) as ex,"
        "   coalesce (sum (v.delta) filter (where v.at_ms >= b.start_ms and v.kind = 'contraction'), 0) as co,"
        "   coalesce (sum (v.delta) filter (where v.at_ms >= b.start_ms and v.kind = 'churn'), 0) as ch,"
        "   coalesce (sum (v.delta) filter (where v.at_ms >= b.start_ms and v.kind = 'reactivation'), 0) as re"
        "   from b join movements v on v.plan_code = $1 and v.at_ms < b.end_ms"
        "   group by b.i, v.member_id)"
        " select i, sum (s), sum (e), sum (nb), sum (ex), sum (co), sum (ch), sum (re),"
        "   count (*) filter (where s > 0), count (*) filter (where e > 0),"
        "   count (*) filter (where s > 0 and e <= 0),"
        "   coalesce (sum (e) filter (where s > 0), 0), coalesce (sum (least (s, e)) filter (where s > 0), 0)"
        " from m group by i order by i");
    /* The same from the roll-up (migration 010): $1 plan, $2 .. $3 the months (analytics_month_t).
       Each month's sums are its row's; the MRR and the counts at its end are the sums of the
       rows up to it (r, the latest row at or before the month: without one, a month the plan
       has not moved in yet, zeros as above). */
    pg_prepare (db, "metrics_months_rollup",
        "with r as (select *, sum (total) over w as mrr_end, sum (subscribers) over w as subscribers_end,"
        "   sum (paying_mrr) over w as paying_end"
        "   from month_rollup where plan_code = $1 and month <= $3::int window w as (order by month))"
        " select b.month - $2::int + 1,"
        "   r.mrr_end - case when r.month = b.month then r.total else 0 end, r.mrr_end,"
        "   case when r.month = b.month then r.new_business else 0 end,"
        "   case when r.month = b.month then r.expansion else 0 end,"
        "   case when r.month = b.month then r.contraction else 0 end,"
        "   case when r.month = b.month then r.churn else 0 end,"
        "   case when r.month = b.month then r.reactivation else 0 end,"
        "   r.subscribers_end - case when r.month = b.month then r.subscribers else 0 end, r.subscribers_end,"
        "   case when r.month = b.month then r.churned else 0 end,"
        "   r.paying_end - case when r.month = b.month then r.paying_mrr - r.retained_net else 0 end,"
        "   r.paying_end - case when r.month = b.month then r.paying_mrr - r.retained_gross else 0 end"
        " from generate_series ($2::int, $3::int) b (month)"
        " join lateral (select * from r where r.month <= b.month order by r.month desc limit 1) r on true"
        " order by 1");
    /* Whether the roll-up answers as the movements would: not when the month of now ($1) holds
       movements after now ($2), which the month's end (now) leaves out. */
    pg_prepare (db, "metrics_rolled_up",
        "select not exists (select 1 from month_rollup where month = $1::int and max_at_ms > $2::bigint)");
    /* $1 the ends of months (an array, in order), $2 the inactivity window: per month, the
       members registered and not withdrawn at its end, and those of them who logged in within
       the window before it. */
    pg_prepare (db, "metrics_month_members",
        "with b as (select * from unnest ($1::bigint []) with ordinality as b (end_ms, i)),"
        /* One pass over members: h counts those registered by bucket k (width_bucket: the number
           of ends at or before the time: before the end of month i is k < i), less those
           withdrawn by the bucket they were both registered and withdrawn in. */
        " h as materialized (select width_bucket (registered_at_ms, $1::bigint []) as k, count (*) as n"
        "   from members group by 1"
        "   union all select width_bucket (greatest (registered_at_ms, withdrawn_at_ms), $1::bigint []), -count (*)"
        "   from members where withdrawn_at_ms <> 0 group by 1),"
        /* Each member who logged in within a month's window, once, then those of them counted. */
        " a as (select b.i, b.end_ms, t.member_id from b join timeline t on t.type = 'member.logged_in'"
        "   and t.occurred_at_ms >= b.end_ms - $2::bigint and t.occurred_at_ms < b.end_ms group by 1, 2, 3),"
        " active as materialized (select a.i, count (*) as n from a join members m on m.member_id = a.member_id"
        "   where m.registered_at_ms < a.end_ms and (m.withdrawn_at_ms = 0 or m.withdrawn_at_ms >= a.end_ms)"
        "   group by 1)"
        " select b.i, (select coalesce (sum (n), 0) from h where h.k < b.i),"
        "  coalesce ((select n from active where active.i = b.i), 0)"
        " from b order by b.i");
    /* The current month's ($1 its end, now + 1; $2 the window) from each member's last login
       (ingest keeps the latest) in one pass over members: those registered and not withdrawn,
       those of them whose last login is within the window, and how many logged in at or after
       the end. With none after it, a member logged in within the window exactly when their
       last login is in it, and this answers as metrics_month_members (255 ms at 100 000
       members: every login of the window grouped by member) would; with some (a clock behind
       the events read), it does not, and that one counts. */
    pg_prepare (db, "metrics_members_now",
        "select count (*) filter (where withdrawn_at_ms = 0 or withdrawn_at_ms >= $1::bigint),"
        "  count (*) filter (where (withdrawn_at_ms = 0 or withdrawn_at_ms >= $1::bigint)"
        "    and last_login_at_ms >= $1::bigint - $2::bigint and last_login_at_ms < $1::bigint),"
        "  count (*) filter (where last_login_at_ms >= $1::bigint)"
        " from members where registered_at_ms < $1::bigint");
    /* The counts kept for months that have ended (migration 011), $1 the window, $2 the ends,
       with the epoch they are read at (one row with nulls when none is kept). */
    pg_prepare (db, "metrics_members_kept",
        "select e.n, c.end_ms, c.members, c.active_members from month_members_epoch e"
        " left join month_members c on c.window_ms = $1::bigint and c.end_ms = any ($2::bigint [])");
    /* Keeps counts ($2 ends, $3 members, $4 active, arrays) when the epoch is still $5: no member
       event was applied since they were read, and none is being applied (its lock). */
    pg_prepare (db, "metrics_members_keep",
        "insert into month_members (window_ms, end_ms, members, active_members)"
        " select $1::bigint, unnest ($2::bigint []), unnest ($3::bigint []), unnest ($4::bigint [])"
        " where (select n from month_members_epoch for share skip locked) = $5::bigint"
        " on conflict do nothing");
    /* $1, $2 the months' starts and ends, $3 the plan ('*'): the trials begun in each month and
       converted since. */
    /* The months follow each other (metrics_bounds): the trials from the first start to the
       last end in one range of subscriptions_trials_begun, each in the month width_bucket finds
       among the starts; months without one are absent (zeros). */
    pg_prepare (db, "metrics_month_trials",
        "select width_bucket (s.created_at_ms, $1::bigint []), count (*), count (*) filter (where s.converted_at_ms > 0)"
        " from subscriptions s where s.trialed and s.created_at_ms >= ($1::bigint []) [1]"
        "   and s.created_at_ms < ($2::bigint []) [cardinality ($2::bigint [])] and ($3 = '*' or s.plan_code = $3)"
        " group by 1 order by 1");
}

int
metrics_range (svc_reply_t *reply, const char *from_text, const char *to_text, int64_t now,
               analytics_month_t *from, analytics_month_t *to)
{
    analytics_month_t current = analytics_month_of (now);
    *to = current;
    if (*to_text && analytics_month_parse (to_text, to) == -1)
        svc_field_error (reply, "to", "must be a month, YYYY-MM");
    else
    if (*to > current) {
        char month [16];
        svc_field_error (reply, "to", "must not be after the current month, %s",
                         analytics_month_format (current, month, sizeof month));
    }
    *from = *to - 11;
    if (*from_text && analytics_month_parse (from_text, from) == -1)
        svc_field_error (reply, "from", "must be a month, YYYY-MM");
    else
    if (*from > *to)
        svc_field_error (reply, "from", "must not be after to");
    else
    if (*to - *from + 1 > METRICS_MONTHS_MAX)
        svc_field_error (reply, "from", "must be at most %d months before to", METRICS_MONTHS_MAX);
    return reply->status == KAIIN__STATUS__OK? 0: -1;
}

bool
metrics_wants_csv (svc_reply_t *reply, const char *format, const char *accept)
{
    if (*format && strcmp (format, "csv") != 0 && strcmp (format, "json") != 0)
        svc_field_error (reply, "format", "must be json or csv");
    return strcmp (format, "csv") == 0 || strstr (accept, "text/csv");
}

/* Appends a number to a PostgreSQL array literal being built ("{" to start). */
static void
s_array_add (char *array, size_t size, int64_t value)
{
    size_t used = strlen (array);
    snprintf (array + used, size - used, "%s%lld", used > 1? ",": "", (long long) value);
}

void
metrics_bounds (analytics_month_t from, analytics_month_t to, int64_t now,
                char starts [METRICS_ARRAY_SIZE], char ends [METRICS_ARRAY_SIZE])
{
    snprintf (starts, METRICS_ARRAY_SIZE, "{");
    snprintf (ends, METRICS_ARRAY_SIZE, "{");
    for (analytics_month_t m = from; m <= to; m++) {
        int64_t end = analytics_month_start_ms (m + 1);
        s_array_add (starts, METRICS_ARRAY_SIZE, analytics_month_start_ms (m));
        s_array_add (ends, METRICS_ARRAY_SIZE, end > now + 1? now + 1: end);
    }
    strcat (starts, "}");
    strcat (ends, "}");
}

/* Appends text to a growing string. */
static void
s_append (char **text, size_t *used, size_t *size, const char *line)
{
    size_t length = strlen (line);
    if (*used + length + 1 > *size) {
        *size = (*used + length + 1) * 2;
        *text = realloc (*text, *size);
    }
    memcpy (*text + *used, line, length + 1);
    *used += length;
}

static char *
s_csv (Kaiin__Analytics__MonthMetrics *const *months, size_t count)
{
    char *text = NULL;
    size_t used = 0, size = 0;
    s_append (&text, &used, &size, "month,mrr_start,mrr,new_business,expansion,contraction,churn,"
              "reactivation,net_change,arr,subscribers_start,subscribers,arpa,churned_customers,"
              "customer_churn_rate,gross_mrr_churn_rate,net_mrr_churn_rate,gross_revenue_retention,"
              "net_revenue_retention,ltv,trials_started,trials_converted,trial_conversion_rate,"
              "members,active_members,inactive_members\r\n");
    for (size_t i = 0; i < count; i++) {
        const Kaiin__Analytics__MonthMetrics *m = months [i];
        char line [768];
        snprintf (line, sizeof line, "%s,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%d,%d,%lld,%d,"
                  "%.6f,%.6f,%.6f,%.6f,%.6f,%lld,%d,%d,%.6f,%d,%d,%d\r\n",
                  m->month, (long long) m->mrr_start, (long long) m->mrr, (long long) m->new_business,
                  (long long) m->expansion, (long long) m->contraction, (long long) m->churn,
                  (long long) m->reactivation, (long long) m->net_change, (long long) m->arr,
                  m->subscribers_start, m->subscribers, (long long) m->arpa, m->churned_customers,
                  m->customer_churn_rate, m->gross_mrr_churn_rate, m->net_mrr_churn_rate,
                  m->gross_revenue_retention, m->net_revenue_retention, (long long) m->ltv,
                  m->trials_started, m->trials_converted, m->trial_conversion_rate, m->members,
                  m->active_members, m->inactive_members);
        s_append (&text, &used, &size, line);
    }
    return text;
}

static int64_t
s_int (PGresult *result, int row, int column)
{
    return strtoll (PQgetvalue (result, row, column), NULL, 10);
}

/* Fills rows (count months) from the MRR query; retained [i] gets the net and gross MRR kept
   from the members paying at the start. */
static void
s_read_mrr (PGresult *result, Kaiin__Analytics__MonthMetrics *rows, int count, int64_t (*retained) [2])
{
    for (int row = 0; row < PQntuples (result); row++) {
        int i = (int) s_int (result, row, 0) - 1;
        if (i < 0 || i >= count)
            continue;
        Kaiin__Analytics__MonthMetrics *m = &rows [i];
        m->mrr_start = s_int (result, row, 1);
        m->mrr = s_int (result, row, 2);
        m->new_business = s_int (result, row, 3);
        m->expansion = s_int (result, row, 4);
        m->contraction = s_int (result, row, 5);
        m->churn = s_int (result, row, 6);
        m->reactivation = s_int (result, row, 7);
        m->subscribers_start = (int) s_int (result, row, 8);
        m->subscribers = (int) s_int (result, row, 9);
        m->churned_customers = (int) s_int (result, row, 10);
        retained [i] [0] = s_int (result, row, 11);
        retained [i] [1] = s_int (result, row, 12);
    }
}

static void
s_read_trials (PGresult *result, Kaiin__Analytics__MonthMetrics *rows, int count)
{
    for (int row = 0; row < PQntuples (result); row++) {
        int i = (int) s_int (result, row, 0) - 1;
        if (i < 0 || i >= count)
            continue;
        rows [i].trials_started = (int) s_int (result, row, 1);
        rows [i].trials_converted = (int) s_int (result, row, 2);
    }
}

/* Fills the members and active members of rows [0 .. to - from], the months from .. to: those
   kept for the months that have ended, the others counted, and kept when their month has
   ended. Returns 0, or -1 on a database error. */
static int
s_member_counts (pg_t *db, analytics_month_t from, analytics_month_t to, int64_t now, int64_t window_ms,
                 Kaiin__Analytics__MonthMetrics *rows)
{
    int count = (int) (to - from + 1);
    int64_t *ends = calloc ((size_t) count, sizeof *ends);
    int *todo = calloc ((size_t) count, sizeof *todo);
    char window [24], all [METRICS_ARRAY_SIZE] = "{", missing [METRICS_ARRAY_SIZE] = "{";
    char kept_ends [METRICS_ARRAY_SIZE] = "{", kept_members [METRICS_ARRAY_SIZE] = "{",
         kept_active [METRICS_ARRAY_SIZE] = "{", epoch [24] = "";
    snprintf (window, sizeof window, "%lld", (long long) window_ms);
    for (int i = 0; i < count; i++) {
        int64_t end = analytics_month_start_ms (from + i + 1);
        ends [i] = end > now + 1? now + 1: end;
        s_array_add (all, sizeof all, ends [i]);
        todo [i] = 1;
    }
    strcat (all, "}");
    const char *kept_params [] = { window, all };
    PGresult *result = pg_run (db, "metrics_members_kept", 2, kept_params);
    bool ok = result != NULL;
    for (int row = 0; ok && row < PQntuples (result); row++) {
        snprintf (epoch, sizeof epoch, "%s", PQgetvalue (result, row, 0));
        int i = 0;
        while (i < count && (PQgetisnull (result, row, 1) || ends [i] != s_int (result, row, 1)))
            i++;
        if (i < count) {
            rows [i].members = (int) s_int (result, row, 2);
            rows [i].active_members = (int) s_int (result, row, 3);
            todo [i] = 0;
        }
    }
    PQclear (result);
    if (ok && ends [count - 1] > now) {
        char end [24];
        snprintf (end, sizeof end, "%lld", (long long) ends [count - 1]);
        const char *now_params [] = { end, window };
        result = pg_run (db, "metrics_members_now", 2, now_params);
        ok = result != NULL;
        if (ok && s_int (result, 0, 2) == 0) {
            rows [count - 1].members = (int) s_int (result, 0, 0);
            rows [count - 1].active_members = (int) s_int (result, 0, 1);
            todo [count - 1] = 0;
        }
        PQclear (result);
    }
    int left = 0;
    for (int i = 0; i < count; i++)
        if (todo [i]) {
            s_array_add (missing, sizeof missing, ends [i]);
            todo [left++] = i;
        }
    strcat (missing, "}");
    const char *params [] = { missing, window };
    result = ok && left? pg_run (db, "metrics_month_members", 2, params): NULL;
    ok = ok && (result || !left);
    int ended = 0;
    for (int row = 0; result && row < PQntuples (result); row++) {
        int j = (int) s_int (result, row, 0) - 1;
        if (j < 0 || j >= left)
            continue;
        Kaiin__Analytics__MonthMetrics *m = &rows [todo [j]];
        m->members = (int) s_int (result, row, 1);
        m->active_members = (int) s_int (result, row, 2);
        if (ends [todo [j]] > now)
            continue;                   /* the current month: counted each time */
        s_array_add (kept_ends, sizeof kept_ends, ends [todo [j]]);
        s_array_add (kept_members, sizeof kept_members, m->members);
        s_array_add (kept_active, sizeof kept_active, m->active_members);
        ended++;
    }
    PQclear (result);
    if (ok && ended && *epoch) {
        strcat (kept_ends, "}");
        strcat (kept_members, "}");
        strcat (kept_active, "}");
        const char *keep [] = { window, kept_ends, kept_members, kept_active, epoch };
        result = pg_run (db, "metrics_members_keep", 5, keep);
        ok = result != NULL;
        PQclear (result);
    }
    free (todo);
    free (ends);
    return ok? 0: -1;
}

/* What follows from the sums: rates, ARPA, ARR, and LTV from the months before. */
static void
s_derive (Kaiin__Analytics__MonthMetrics *rows, int count, int64_t (*retained) [2])
{
    for (int i = 0; i < count; i++) {
        Kaiin__Analytics__MonthMetrics *m = &rows [i];
        m->net_change = m->new_business + m->expansion + m->contraction + m->churn + m->reactivation;
        m->arr = m->mrr * 12;
        m->arpa = m->subscribers? m->mrr / m->subscribers: 0;
        m->inactive_members = m->members - m->active_members;
        if (m->subscribers_start)
            m->customer_churn_rate = (double) m->churned_customers / m->subscribers_start;
        if (m->trials_started)
            m->trial_conversion_rate = (double) m->trials_converted / m->trials_started;
        if (m->mrr_start) {
            double start = (double) m->mrr_start;
            m->gross_mrr_churn_rate = (double) -(m->churn + m->contraction) / start;
            m->net_mrr_churn_rate = (double) -(m->churn + m->contraction + m->expansion + m->reactivation) / start;
            m->net_revenue_retention = (double) retained [i] [0] / start;
            m->gross_revenue_retention = (double) retained [i] [1] / start;
        }
    }
    for (int i = LTV_MONTHS; i < count; i++) {
        double sum = 0;
        int months = 0;
        for (int k = i - LTV_MONTHS; k < i; k++)
            if (rows [k].subscribers_start) {
                sum += rows [k].customer_churn_rate;
                months++;
            }
        if (sum > 0)
            rows [i].ltv = (int64_t) ((double) rows [i].arpa * months / sum + 0.5);    /* to the yen */
    }
}

int
metrics_rolled_up (pg_t *db, int64_t now)
{
    char month [24], at [24];
    snprintf (month, sizeof month, "%lld", (long long) analytics_month_of (now));
    snprintf (at, sizeof at, "%lld", (long long) now);
    const char *params [] = { month, at };
    PGresult *result = pg_run (db, "metrics_rolled_up", 2, params);
    if (!result)
        return -1;
    int rolled_up = strcmp (PQgetvalue (result, 0, 0), "t") == 0;
    PQclear (result);
    return rolled_up;
}

int
metrics_months (pg_t *db, analytics_month_t from, analytics_month_t to, int64_t now, const char *plan,
                Kaiin__Analytics__MonthMetrics *months)
{
    /* The months asked for, after the LTV_MONTHS before them that LTV needs. */
    int count = (int) (to - from + 1) + LTV_MONTHS;
    char starts [METRICS_ARRAY_SIZE], ends [METRICS_ARRAY_SIZE];
    metrics_bounds (from - LTV_MONTHS, to, now, starts, ends);
    int inactive_days, threshold;
    if (settings_numbers (db, &inactive_days, &threshold) == -1)
        return -1;
    const char *params [] = { plan, starts, ends };
    const char *trial_params [] = { starts, ends, plan };
    Kaiin__Analytics__MonthMetrics *rows = calloc ((size_t) count, sizeof *rows);
    int64_t (*retained) [2] = calloc ((size_t) count, sizeof *retained);
    for (int i = 0; i < count; i++)
        kaiin__analytics__month_metrics__init (&rows [i]);
    char first [24], last [24];
    snprintf (first, sizeof first, "%lld", (long long) (from - LTV_MONTHS));
    snprintf (last, sizeof last, "%lld", (long long) to);
    const char *rollup_params [] = { plan, first, last };
    int rolled_up = metrics_rolled_up (db, now);
    PGresult *result = rolled_up == -1? NULL
                     : rolled_up? pg_run (db, "metrics_months_rollup", 3, rollup_params)
                     : pg_run (db, "metrics_months", 3, params);
    if (result) {
        s_read_mrr (result, rows, count, retained);
        PQclear (result);
        result = pg_run (db, "metrics_month_trials", 3, trial_params);
    }
    if (result) {
        s_read_trials (result, rows, count);
        PQclear (result);
        if (s_member_counts (db, from, to, now, inactive_days * ANALYTICS_DAY_MS, rows + LTV_MONTHS) == -1)
            result = NULL;
    }
    if (result) {
        s_derive (rows, count, retained);
        memcpy (months, rows + LTV_MONTHS, (size_t) (count - LTV_MONTHS) * sizeof *rows);
    }
    free (retained);
    free (rows);
    return result? 0: -1;
}

int
metrics_api_subscriptions (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Analytics__MetricsRequest *query = (Kaiin__Analytics__MetricsRequest *)
        svc_unpack (request, &kaiin__analytics__metrics_request__descriptor, reply);
    if (!query)
        return -1;
    int64_t now = request->envelope->now_ms;
    analytics_month_t from, to;
    metrics_range (reply, query->from, query->to, now, &from, &to);
    bool csv = metrics_wants_csv (reply, query->format, query->accept);
    if (reply->status != KAIIN__STATUS__OK) {
        protobuf_c_message_free_unpacked (&query->base, NULL);
        return -1;
    }
    int shown = (int) (to - from + 1);
    Kaiin__Analytics__MonthMetrics *rows = calloc ((size_t) shown, sizeof *rows);
    if (metrics_months (request->db, from, to, now, *query->plan? query->plan: "*", rows) == -1) {
        free (rows);
        protobuf_c_message_free_unpacked (&query->base, NULL);
        return svc_db_fail (reply, request->db);
    }
    Kaiin__Analytics__MonthMetrics **items = calloc ((size_t) shown, sizeof *items);
    char (*names) [16] = calloc ((size_t) shown, sizeof *names);
    for (int i = 0; i < shown; i++) {
        items [i] = &rows [i];
        items [i]->month = analytics_month_format (from + i, names [i], sizeof names [i]);
    }
    Kaiin__Analytics__MetricsReply answer = KAIIN__ANALYTICS__METRICS_REPLY__INIT;
    answer.as_of_ms = now;
    answer.plan = query->plan;
    char *text = NULL;
    if (csv)
        answer.csv = text = s_csv (items, (size_t) shown);
    else {
        answer.months = items;
        answer.n_months = (size_t) shown;
    }
    int rc = svc_reply_with (reply, &answer.base);
    free (text);
    free (names);
    free (items);
    free (rows);
    protobuf_c_message_free_unpacked (&query->base, NULL);
    return rc;
}
