/* signals.c - signals for messaging's automations: signal.inactive (N days without login),
   signal.churn_risk (a member's churn-risk score crossing the threshold) and score.changed (a
   member's score or loyalty segment changed: messaging's segments filter on both), raised by
   the tick into analytics' outbox; the churn-risk score itself.

   The churn-risk score is a sum of points, each with its reason in words (README.md,
   "Churn-risk score"): days without login, open inquiries, failed payments in the last 30 days,
   a downgrade in the last 30 days; capped at 100. */
#include "signals.h"
#include "alerts.h"
#include "analytics.h"
#include "analytics.pb-c.h"
#include "clock.h"
#include "ingest.h"
#include "log.h"
#include "loyalty.h"
#include "outbox.h"
#include "pg_row.h"
#include "settings.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INACTIVE_BATCH 500
/* The members inactive since at least $2 days before $1 with no signal for that spell yet. */
#define INACTIVE_DUE \
    " from members m where status <> 'withdrawn'" \
    "   and greatest (registered_at_ms, last_login_at_ms) <= $1::bigint - $2::bigint * 86400000" \
    "   and not exists (select 1 from signals s where s.member_id = m.member_id" \
    "     and s.kind = 'inactive' and s.spell_ms = greatest (m.registered_at_ms, m.last_login_at_ms))"
#define RISK_EVERY_MS 60000             /* the churn-risk scores are evaluated once a minute */
#define RISK_WINDOW_DAYS 30            /* failed payments and downgrades count this long */
#define HABIT_DAYS 180                 /* a member's logins this long before now are their habit */
#define HABIT_LOGINS 3                 /* ... when there are this many */
#define HABIT_MIN_DAYS 7               /* a habit is at least a week: the thresholds without one */
/* Members are scored a page at a time, in one transaction: the memory a whole evaluation holds
   (the page's rows, its held events and the answers of its deferred writes) does not grow with
   the members (all of them at once held 128 MB at 100 000 members). */
#define RISK_PAGE 2000

/* The churn-risk factors of members: $1 now; the last activity (login, else registration),
   open inquiries, payments failed and whether MRR contracted in the 30 days before now, and
   the member's habit: the mean gap between their logins in the HABIT_DAYS before now (0 with
   fewer than HABIT_LOGINS). */
#define RISK_FACTORS \
    "select m.member_id, greatest (m.registered_at_ms, m.last_login_at_ms) as last_active," \
    " (select count (*) from inquiries i where i.member_id = m.member_id and i.open) as open_inquiries," \
    " (select count (*) from payment_failures f where f.member_id = m.member_id" \
    "   and f.failed_at_ms > $1::bigint - " STR (RISK_WINDOW_DAYS) " * 86400000::bigint and f.failed_at_ms <= $1::bigint) as failed," \
    " exists (select 1 from movements v where v.member_id = m.member_id and v.plan_code = '*'" \
    "   and v.kind = 'contraction' and v.at_ms > $1::bigint - " STR (RISK_WINDOW_DAYS) " * 86400000::bigint" \
    "   and v.at_ms <= $1::bigint) as downgraded," \
    " coalesce (r.above, false) as above," \
    " coalesce ((select (max (t.occurred_at_ms) - min (t.occurred_at_ms)) / (count (*) - 1) from timeline t" \
    "   where t.member_id = m.member_id and t.type = 'member.logged_in'" \
    "   and t.occurred_at_ms > $1::bigint - " STR (HABIT_DAYS) " * 86400000::bigint and t.occurred_at_ms <= $1::bigint" \
    "   having count (*) >= " STR (HABIT_LOGINS) "), 0) as habit_ms," \
    LOYALTY_FACTS ("m.member_id", "$1::bigint") "," \
    " coalesce (r.score, -1) as published_score, coalesce (r.segment, '') as published_segment" \
    " from members m left join risk_state r on r.member_id = m.member_id"
#define STR_(x) #x
#define STR(x) STR_ (x)

static int64_t s_risk_evaluated_ms;     /* the clock of the last evaluation (process-wide) */

void
signals_prepare (pg_t *db)
{
    pg_prepare (db, "signals_inactive_due", "select exists (select 1" INACTIVE_DUE ")");
    pg_prepare (db, "signals_latest", "select coalesce (max (registered_at_ms), 0) from members");
    pg_prepare (db, "signals_inactive",
            "insert into signals (member_id, kind, spell_ms, days, last_login_at_ms, at_ms)"
            " select member_id, 'inactive', greatest (registered_at_ms, last_login_at_ms), $2::int,"
            "   last_login_at_ms, $1::bigint" INACTIVE_DUE
            " order by member_id limit " STR (INACTIVE_BATCH)
            " on conflict do nothing"
            " returning member_id, kind, days, last_login_at_ms, at_ms");
    pg_prepare (db, "signals_risk_lock",
            "select pg_try_advisory_xact_lock (hashtext ('analytics.churn_risk'))");
    /* A page of members after $2 (by id), RISK_PAGE at a time. */
    pg_prepare (db, "signals_risk_page", RISK_FACTORS " where m.status <> 'withdrawn' and m.member_id > $2"
                " order by m.member_id limit " STR (RISK_PAGE));
    pg_prepare (db, "signals_risk_one", RISK_FACTORS " where m.member_id = $2");
    pg_prepare (db, "signals_risk_raise",
            "insert into signals (member_id, kind, spell_ms, score, last_login_at_ms, at_ms)"
            " values ($1, 'churn_risk', $2, $3, $4, $2) on conflict do nothing");
    pg_prepare (db, "signals_risk_state",
            "insert into risk_state (member_id, above, score, segment) values ($1, $2, $3, $4)"
            " on conflict (member_id) do update set above = excluded.above, score = excluded.score,"
            " segment = excluded.segment");
    pg_prepare (db, "signals_list",
            "select member_id, kind, days, last_login_at_ms, score, at_ms, milestone, purchases,"
            " spend, id from signals"
            " where ($1 = '' or member_id = $1) and ($2 = '' or kind = $2) and id < $3::bigint"
            " order by id desc limit $4");
}

/* ------------------------------------------------------------------ the score */

typedef struct {
    int64_t idle_days;
    int64_t habit_days;                 /* the mean days between logins; 0: no habit yet */
    int open_inquiries;
    int failed_payments;
    bool downgraded;
} s_factors_t;

typedef struct {
    int count;
    struct { const char *code; int points; char text [96]; } items [4];
} s_reasons_t;

static void
s_reason (s_reasons_t *reasons, const char *code, int points, const char *text)
{
    if (points <= 0)
        return;
    reasons->items [reasons->count].code = code;
    reasons->items [reasons->count].points = points;
    snprintf (reasons->items [reasons->count].text, sizeof reasons->items [0].text, "%s", text);
    reasons->count++;
}

/* The score of factors, 0..100, and its reasons. */
static int
s_score (const s_factors_t *factors, s_reasons_t *reasons)
{
    char text [96];
    reasons->count = 0;
    /* Days without login weigh against the member's own habit (a member who comes monthly is
       not leaving after two weeks): past it 15, twice it 30, four times it and 30 days 40. */
    int64_t idle = factors->idle_days;
    int64_t habit = factors->habit_days > HABIT_MIN_DAYS? factors->habit_days: HABIT_MIN_DAYS;
    int points = idle >= 4 * habit && idle >= 30? 40: idle >= 2 * habit? 30: idle >= habit? 15: 0;
    if (factors->habit_days)
        snprintf (text, sizeof text, "%lld日間ログインなし（普段は約%lld日ごと）", (long long) idle,
                  (long long) factors->habit_days);
    else
        snprintf (text, sizeof text, "%lld日間ログインなし", (long long) idle);
    s_reason (reasons, "inactive", points, text);
    int inquiries = factors->open_inquiries * 10 > 30? 30: factors->open_inquiries * 10;
    snprintf (text, sizeof text, "未解決の問い合わせ%d件", factors->open_inquiries);
    s_reason (reasons, "open_inquiries", inquiries, text);
    int failed = factors->failed_payments * 20 > 40? 40: factors->failed_payments * 20;
    snprintf (text, sizeof text, "30日以内の支払い失敗%d回", factors->failed_payments);
    s_reason (reasons, "failed_payments", failed, text);
    s_reason (reasons, "downgraded", factors->downgraded? 15: 0, "30日以内にダウングレード");
    int score = 0;
    for (int i = 0; i < reasons->count; i++)
        score += reasons->items [i].points;
    return score > 100? 100: score;
}

/* Reads the factors of a row of RISK_FACTORS. */
static void
s_factors (PGresult *result, int row, int64_t now_ms, s_factors_t *factors)
{
    int64_t last_active = strtoll (PQgetvalue (result, row, 1), NULL, 10);
    factors->idle_days = now_ms > last_active? (now_ms - last_active) / ANALYTICS_DAY_MS: 0;
    factors->open_inquiries = atoi (PQgetvalue (result, row, 2));
    factors->failed_payments = atoi (PQgetvalue (result, row, 3));
    factors->downgraded = strcmp (PQgetvalue (result, row, 4), "t") == 0;
    int64_t habit_ms = strtoll (PQgetvalue (result, row, 6), NULL, 10);
    factors->habit_days = habit_ms? (habit_ms + ANALYTICS_DAY_MS / 2) / ANALYTICS_DAY_MS: 0;
    if (habit_ms && !factors->habit_days)
        factors->habit_days = 1;                            /* several logins a day */
}

/* ------------------------------------------------------------------ the tick */

/* Appends a signal event to analytics' outbox. Returns 0 or -1. */
static int
s_emit (pg_t *db, const char *type, Kaiin__Analytics__Signal *signal, int64_t now_ms)
{
    return outbox_append (db, type, signal->member_id, &signal->base, now_ms);
}

/* Runs an INACTIVE_DUE statement for now_ms and inactive_days. As pg_run. */
static PGresult *
s_run_inactive (pg_t *db, const char *statement, int64_t now_ms, int inactive_days)
{
    char now [24], days [16];
    snprintf (now, sizeof now, "%lld", (long long) now_ms);
    snprintf (days, sizeof days, "%d", inactive_days);
    const char *params [] = { now, days };
    return pg_run (db, statement, 2, params);
}

/* One batch of signal.inactive. Returns how many were raised, or -1. */
static int
s_inactive (pg_t *db, int64_t now_ms, int inactive_days)
{
    if (pg_begin (db) == -1)
        return -1;
    PGresult *result = s_run_inactive (db, "signals_inactive", now_ms, inactive_days);
    if (!result)
        goto fail;
    int raised = PQntuples (result);
    for (int row = 0; row < raised; row++) {
        Kaiin__Analytics__Signal *signal = (Kaiin__Analytics__Signal *)
            pg_row_message (result, row, &kaiin__analytics__signal__descriptor);
        int rc = s_emit (db, "signal.inactive", signal, now_ms);
        protobuf_c_message_free_unpacked (&signal->base, NULL);
        if (rc == -1)
            goto fail;
    }
    PQclear (result);
    if (pg_commit (db) == -1) {
        pg_rollback (db);
        return -1;
    }
    if (raised)
        log_info ("signal.inactive raised for %d members", raised);
    return raised;
fail:
    PQclear (result);
    pg_rollback (db);
    return -1;
}

/* Scores one page of members (rows of RISK_FACTORS): writes each changed state, its
   score.changed and, for each that crossed the threshold upwards, signal.churn_risk. The
   writes are sent without waiting and the events held for one statement per page: the first
   evaluation of 100 000 members changes every one, and a round trip each would be most of its
   time. Returns how many crossed, or -1. */
static int
s_risk_page (pg_t *db, PGresult *result, int64_t now_ms, int threshold)
{
    char now [24];
    snprintf (now, sizeof now, "%lld", (long long) now_ms);
    int raised = 0;
    for (int row = 0; row < PQntuples (result); row++) {
        s_factors_t factors;
        s_reasons_t reasons;
        s_factors (result, row, now_ms, &factors);
        int score = s_score (&factors, &reasons);
        const char *segment, *segment_name;
        loyalty_segment_name (loyalty_segment_of (atoi (PQgetvalue (result, row, 7)),
                                                  strtoll (PQgetvalue (result, row, 8), NULL, 10),
                                                  strtoll (PQgetvalue (result, row, 9), NULL, 10), now_ms),
                              &segment, &segment_name);
        bool above = strcmp (PQgetvalue (result, row, 5), "t") == 0;
        bool now_above = score >= threshold;
        int published = atoi (PQgetvalue (result, row, 10));
        const char *was = PQgetvalue (result, row, 11);
        bool changed = published != score || strcmp (was, segment) != 0;
        if (above == now_above && !changed)
            continue;
        const char *member_id = PQgetvalue (result, row, 0);
        char score_text [16];
        snprintf (score_text, sizeof score_text, "%d", score);
        const char *state [] = { member_id, now_above? "t": "f", score_text, segment };
        if (pg_defer (db, "signals_risk_state", 4, state) == -1)
            return -1;
        if (changed) {
            Kaiin__Analytics__Scores scores = KAIIN__ANALYTICS__SCORES__INIT;
            scores.member_id = (char *) member_id;
            scores.churn_risk = score;
            scores.segment = (char *) segment;
            scores.segment_name = (char *) segment_name;
            scores.previous_churn_risk = published;
            scores.previous_segment = (char *) was;
            scores.at_ms = now_ms;
            if (outbox_append (db, "score.changed", member_id, &scores.base, now_ms) == -1)
                return -1;
        }
        if (above == now_above || !now_above)
            continue;
        const char *raise [] = { member_id, now, score_text, "0" };
        if (pg_defer (db, "signals_risk_raise", 4, raise) == -1)
            return -1;
        Kaiin__Analytics__Signal signal = KAIIN__ANALYTICS__SIGNAL__INIT;
        signal.member_id = (char *) member_id;
        signal.kind = "churn_risk";
        signal.score = score;
        signal.at_ms = now_ms;
        if (s_emit (db, "signal.churn_risk", &signal, now_ms) == -1)
            return -1;
        raised++;
    }
    return outbox_flush (db) == -1? -1: raised;
}

/* Evaluates every member's churn-risk score (one tick thread or process at a time, in one
   transaction, RISK_PAGE members at a time) and raises signal.churn_risk for each that
   crossed the threshold upwards. Returns how many, or -1. */
static int
s_churn_risk (pg_t *db, int64_t now_ms, int threshold)
{
    char now [24], *after = strdup ("");
    snprintf (now, sizeof now, "%lld", (long long) now_ms);
    PGresult *result = NULL;
    int raised = 0, members = 0;
    int64_t started_us = clock_mono_us ();
    if (pg_begin (db) == -1)
        return -1;
    if (!(result = pg_run (db, "signals_risk_lock", 0, NULL)))
        goto fail;
    bool locked = strcmp (PQgetvalue (result, 0, 0), "t") == 0;
    PQclear (result);
    result = NULL;
    if (!locked) {
        free (after);
        pg_rollback (db);
        return 0;
    }
    outbox_defer (true);
    for (;;) {
        const char *params [] = { now, after };
        if (!(result = pg_run (db, "signals_risk_page", 2, params)))
            goto fail;
        int rows = PQntuples (result), page = rows? s_risk_page (db, result, now_ms, threshold): 0;
        if (page == -1)
            goto fail;
        raised += page;
        members += rows;
        if (rows < RISK_PAGE)
            break;
        free (after);
        after = strdup (PQgetvalue (result, rows - 1, 0));
        PQclear (result);
    }
    PQclear (result);
    result = NULL;
    if (pg_commit (db) == -1)
        goto fail;
    outbox_defer (false);
    free (after);
    /* How long a whole evaluation takes (make bench reads it: issue 11's figure). */
    log_info ("churn-risk scores of %d members evaluated in %.3f s, signal.churn_risk raised for %d",
              members, (double) (clock_mono_us () - started_us) / 1e6, raised);
    return raised;
fail:
    outbox_defer (false);
    free (after);
    PQclear (result);
    pg_rollback (db);
    return -1;
}

/* True when now_ms is not behind the last registration read: in test mode a process that has
   just started has its clock at the wall's until a request tells it the test clock's now, and
   a score taken then (payments "in the future" left out) would re-arm its signal. */
static bool
s_clock_trusted (pg_t *db, int64_t now_ms)
{
    PGresult *result = pg_run (db, "signals_latest", 0, NULL);
    bool trusted = result && strtoll (PQgetvalue (result, 0, 0), NULL, 10) <= now_ms;
    PQclear (result);
    return trusted;
}

/* True when some member looks due for signal.inactive by what analytics has read so far. */
static bool
s_inactive_due (pg_t *db, int64_t now_ms, int inactive_days)
{
    PGresult *result = s_run_inactive (db, "signals_inactive_due", now_ms, inactive_days);
    bool due = result && strcmp (PQgetvalue (result, 0, 0), "t") == 0;
    PQclear (result);
    return due;
}

int
signals_tick (pg_t *db, int64_t now_ms)
{
    /* Nothing looks due: no need to ask the sources how far they are (two calls a second). */
    int64_t last = __atomic_load_n (&s_risk_evaluated_ms, __ATOMIC_RELAXED);
    bool risk_due = now_ms < last || now_ms - last >= RISK_EVERY_MS;
    /* What staff set (the settings table), read once a tick: a change holds from the next. */
    int inactive_days, threshold;
    if (settings_numbers (db, &inactive_days, &threshold) == -1)
        return -1;
    if (!risk_due && !s_inactive_due (db, now_ms, inactive_days))
        return 0;
    if (!ingest_caught_up (db) || !s_clock_trusted (db, now_ms))
        return 0;
    int raised = s_inactive (db, now_ms, inactive_days);
    if (raised != 0 || !risk_due)
        return raised;
    int risky = s_churn_risk (db, now_ms, threshold);
    int alerts = risky >= 0? alerts_evaluate (db, now_ms): -1;
    if (alerts >= 0)
        __atomic_store_n (&s_risk_evaluated_ms, now_ms, __ATOMIC_RELAXED);
    return alerts >= 0? risky + alerts: -1;
}

/* ------------------------------------------------------------------ routes */

int
signals_api_list (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Analytics__SignalListRequest *list = (Kaiin__Analytics__SignalListRequest *)
        svc_unpack (request, &kaiin__analytics__signal_list_request__descriptor, reply);
    if (!list)
        return -1;
    int size;
    char before [24], limit [16];
    if (analytics_page (reply, list->limit, list->cursor, &size, before) == -1) {
        protobuf_c_message_free_unpacked (&list->base, NULL);
        return -1;
    }
    snprintf (limit, sizeof limit, "%d", size + 1);
    const char *params [] = { list->member_id, list->kind, before, limit };
    PGresult *result = pg_run (request->db, "signals_list", 4, params);
    protobuf_c_message_free_unpacked (&list->base, NULL);
    if (!result)
        return svc_db_fail (reply, request->db);
    Kaiin__Analytics__SignalList page = KAIIN__ANALYTICS__SIGNAL_LIST__INIT;
    int rows = PQntuples (result);
    for (int row = 0; row < rows && row < size; row++)
        pg_row_append ((void ***) &page.signals, &page.n_signals,
                       pg_row_message (result, row, &kaiin__analytics__signal__descriptor));
    char next [24] = "";
    if (rows > size)
        snprintf (next, sizeof next, "%s", PQgetvalue (result, size - 1, PQfnumber (result, "id")));
    page.next_cursor = next;
    PQclear (result);
    int rc = svc_reply_with (reply, &page.base);
    for (size_t i = 0; i < page.n_signals; i++)
        protobuf_c_message_free_unpacked (&page.signals [i]->base, NULL);
    free (page.signals);
    return rc;
}

int
signals_api_churn_risk (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Analytics__ChurnRiskRequest *get = (Kaiin__Analytics__ChurnRiskRequest *)
        svc_unpack (request, &kaiin__analytics__churn_risk_request__descriptor, reply);
    if (!get)
        return -1;
    int rc = -1;
    PGresult *result = NULL;
    int64_t now_ms = request->envelope->now_ms;
    char now [24];
    snprintf (now, sizeof now, "%lld", (long long) now_ms);
    const char *params [] = { now, get->member_id };
    int inactive_days, threshold;
    if (settings_numbers (request->db, &inactive_days, &threshold) == -1
    ||  !(result = pg_run (request->db, "signals_risk_one", 2, params))) {
        svc_db_fail (reply, request->db);
        goto done;
    }
    if (PQntuples (result) == 0) {
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "member not found");
        goto done;
    }
    s_factors_t factors;
    s_reasons_t reasons;
    s_factors (result, 0, now_ms, &factors);
    Kaiin__Analytics__ChurnRisk risk = KAIIN__ANALYTICS__CHURN_RISK__INIT;
    Kaiin__Analytics__RiskReason items [4], *pointers [4];
    risk.member_id = get->member_id;
    risk.score = s_score (&factors, &reasons);
    risk.threshold = threshold;
    risk.as_of_ms = now_ms;
    for (int i = 0; i < reasons.count; i++) {
        kaiin__analytics__risk_reason__init (&items [i]);
        items [i].code = (char *) reasons.items [i].code;
        items [i].points = reasons.items [i].points;
        items [i].text = reasons.items [i].text;
        pointers [i] = &items [i];
    }
    risk.reasons = pointers;
    risk.n_reasons = (size_t) reasons.count;
    rc = svc_reply_with (reply, &risk.base);
done:
    PQclear (result);
    protobuf_c_message_free_unpacked (&get->base, NULL);
    return rc;
}
