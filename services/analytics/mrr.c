/* mrr.c - each subscription's MRR from billing's subscription events, and the movements of
   each member's MRR (new business, expansion, contraction, churn, reactivation) */
#include "mrr.h"
#include "analytics.h"
#include "log.h"
#include "pg_row.h"
#include "svc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CALL_TIMEOUT_MS 5000

void
mrr_prepare (pg_t *db)
{
    pg_prepare (db, "mrr_plan",
            "select code, amount, tax_mode, tax_rate, interval, interval_count from plans"
            " where plan_id = $1");
    pg_prepare (db, "mrr_plan_keep",
            "insert into plans (plan_id, code, amount, tax_mode, tax_rate, interval, interval_count)"
            " values ($1, $2, $3, $4, $5, $6, $7) on conflict do nothing");
    pg_prepare (db, "mrr_coupon",
            "select percent_off, amount_off, duration, duration_in_months from coupons"
            " where code = $1");
    pg_prepare (db, "mrr_coupon_keep",
            "insert into coupons (code, percent_off, amount_off, duration, duration_in_months)"
            " values ($1, $2, $3, $4, $5) on conflict do nothing");
    pg_prepare (db, "mrr_subscription",
            "select plan_code, mrr from subscriptions where subscription_id = $1 for update");
    /* The batch's subscriptions ($1), read at once before its events (mrr_batch_begin). */
    pg_prepare (db, "mrr_subscriptions",
            "select subscription_id, plan_code, mrr, created_at_ms, trialed, converted_at_ms from subscriptions"
            " where subscription_id = any ($1::text[]) for update");
    /* At the batch's end: the rows of its subscriptions as its events left them (computed as
       mrr_subscription_keep computes them, one event after another). */
    pg_prepare (db, "mrr_subscriptions_keep",
            "insert into subscriptions as s (subscription_id, member_id, plan_code, status, mrr,"
            "   created_at_ms, trialed, converted_at_ms, canceled_at_ms, cancel_reason)"
            " select * from unnest ($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[],"
            "   $6::bigint[], $7::boolean[], $8::bigint[], $9::bigint[], $10::text[])"
            " on conflict (subscription_id) do update"
            " set plan_code = excluded.plan_code, status = excluded.status, mrr = excluded.mrr,"
            " created_at_ms = excluded.created_at_ms, trialed = excluded.trialed,"
            " converted_at_ms = excluded.converted_at_ms, canceled_at_ms = excluded.canceled_at_ms,"
            " cancel_reason = excluded.cancel_reason");
    /* A subscription's row as its event left it: plan, status and MRR; its trial, conversion
       ($7 the event's time) and cancellation, where the payload's status and cancellation are
       the present and the first times stay. For a subscription the batch does not keep (an
       id too long); the others are computed the same way in memory and written once at the
       batch's end (mrr_subscriptions_keep). */
    pg_prepare (db, "mrr_subscription_keep",
            "insert into subscriptions as s (subscription_id, member_id, plan_code, status, mrr,"
            "   created_at_ms, trialed, converted_at_ms, canceled_at_ms, cancel_reason)"
            " values ($1, $2, $3, $4, $5, $6::bigint, $4 = 'trialing', 0, $8::bigint, $9)"
            " on conflict (subscription_id) do update"
            " set plan_code = excluded.plan_code, status = excluded.status, mrr = excluded.mrr,"
            " created_at_ms = case when s.created_at_ms = 0 then excluded.created_at_ms else s.created_at_ms end,"
            " trialed = s.trialed or excluded.trialed,"
            " converted_at_ms = case when s.converted_at_ms = 0 and (s.trialed or excluded.trialed)"
            "   and excluded.status in ('active', 'past_due') then $7::bigint else s.converted_at_ms end,"
            " canceled_at_ms = excluded.canceled_at_ms, cancel_reason = excluded.cancel_reason");
    /* The batch's members' MRR per plan, read at once before its events (mrr_batch_begin). */
    pg_prepare (db, "mrr_states",
            "select member_id, plan_code, mrr, ever_paid from mrr_state where member_id = any ($1::text[])");
    /* At the batch's end (mrr_batch_write): the MRR per member and plan it left, and its
       movements in the order the events made them (the trigger of migration 010 rolls each
       up in that order, as when each was inserted alone). */
    pg_prepare (db, "mrr_states_keep",
            "insert into mrr_state as s (member_id, plan_code, mrr, ever_paid)"
            " select * from unnest ($1::text[], $2::text[], $3::bigint[], $4::boolean[])"
            " on conflict (member_id, plan_code) do update set mrr = excluded.mrr, ever_paid = excluded.ever_paid");
    pg_prepare (db, "mrr_moves",
            "insert into movements (member_id, plan_code, at_ms, kind, delta)"
            " select member_id, plan_code, at_ms, kind, delta"
            " from unnest ($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[]) with ordinality"
            "   as m (member_id, plan_code, at_ms, kind, delta, n) order by n");
    /* One movement alone, for a member whose MRR the batch does not keep: moves the member's
       MRR on a plan by $3 and writes the movement, classified from the row as the statement
       found it (ever_before: a new row has none, never paid). */
    pg_prepare (db, "mrr_move",
            "with s as (insert into mrr_state as s (member_id, plan_code, mrr, ever_paid)"
            "   values ($1, $2, $3::bigint, $3::bigint > 0)"
            "   on conflict (member_id, plan_code) do update set mrr = s.mrr + excluded.mrr,"
            "   ever_paid = s.ever_paid or s.mrr + excluded.mrr > 0"
            "   returning mrr - $3::bigint as before, (select ever_paid from mrr_state"
            "     where member_id = $1 and plan_code = $2) as ever_before)"
            " insert into movements (member_id, plan_code, at_ms, kind, delta)"
            " select $1::text, $2::text, $4::bigint,"
            "   case when before <= 0 then case when ever_before then 'reactivation' else 'new_business' end"
            "   when before + $3::bigint <= 0 then 'churn'"
            "   when $3::bigint > 0 then 'expansion' else 'contraction' end, $3::bigint from s");
}

/* Asks billing for a plan or a coupon by id or code. Returns the message (freed by the
   caller), or NULL: then *missing says whether billing answered NOT_FOUND. */
static ProtobufCMessage *
s_ask_billing (const char *method, const char *id, const ProtobufCMessageDescriptor *descriptor,
               bool *missing)
{
    Kaiin__Billing__IdRequest request = KAIIN__BILLING__ID_REQUEST__INIT;
    request.id = (char *) id;
    ProtobufCMessage *answer = NULL;
    Kaiin__Status status = svc_call (method, &request.base, descriptor, &answer, CALL_TIMEOUT_MS);
    *missing = status == KAIIN__STATUS__NOT_FOUND;
    if (status != KAIIN__STATUS__OK) {
        if (!*missing)
            log_warn ("cannot ask '%s' for '%s' (status %d): the event is retried later", method,
                      id, (int) status);
        return NULL;
    }
    return answer;
}

typedef struct {
    char code [72];
    int64_t amount;
    bool inclusive;
    int tax_rate;
    bool yearly;
    int interval_count;
} s_plan_t;

/* The plans read in the batch being applied (mrr_batch_end forgets them, so that a batch
   rolled back asks again). Plans never change: a batch reads each once. */
#define PLANS_KEPT 16
static __thread struct {
    char id [64];
    s_plan_t plan;
} s_plans [PLANS_KEPT];
static __thread int s_plans_count;

/* The batch's subscriptions: each one's plan and MRR as the batch's events left it so far,
   read at once by mrr_batch_begin and kept up to date by mrr_apply (the only writer of
   these two columns), so that an event waits for no read. An id not among them is read
   alone, as before. */
typedef struct {
    char id [64];
    bool known;                     /* a row exists */
    char plan_code [72];
    int64_t mrr;
    /* The rest of the row, kept the same way and written once at the batch's end (changed):
       its trial, conversion and cancellation, and the texts of the last event's payload. */
    bool changed;
    int64_t created_at_ms, converted_at_ms, canceled_at_ms;
    bool trialed;
    char *member_id, *plan, *status, *cancel_reason;
} s_subscription_t;

static __thread struct {
    s_subscription_t *items;
    size_t used;
} s_subscriptions;

/* The batch's members' MRR per plan ('*': every plan) and whether it was ever above 0, read
   at once by mrr_batch_begin and moved in memory by each movement (mrr.c is their only
   writer), which is classified from them; the rows changed and the movements are written
   once, at the batch's end (mrr_batch_write). A member not among them (an id too long to
   keep) moves alone, one statement a movement, as before. */
typedef struct {
    char member_id [40];
    char plan_code [72];
    int64_t mrr;
    bool ever_paid;
    bool changed;
} s_state_t;

static __thread struct {
    char (*members) [40];           /* the members whose every plan is kept */
    size_t members_used;
    s_state_t *items;
    size_t used, size;
    pg_buffer_t moves [5];          /* the movements: member, plan, at, kind, delta */
    size_t moves_used;
} s_states;

/* The coupons read in the batch (they never change either), forgotten with the plans. */
#define COUPONS_KEPT 16
static __thread struct {
    char code [64];
    int64_t percent, off;
    char duration [16];
    int months;
} s_coupons [COUPONS_KEPT];
static __thread int s_coupons_count;

void
mrr_batch_end (void)
{
    s_plans_count = 0;
    s_coupons_count = 0;
    for (size_t i = 0; i < s_subscriptions.used; i++) {
        s_subscription_t *item = &s_subscriptions.items [i];
        free (item->member_id);
        free (item->plan);
        free (item->status);
        free (item->cancel_reason);
    }
    free (s_subscriptions.items);
    memset (&s_subscriptions, 0, sizeof s_subscriptions);
    free (s_states.members);
    free (s_states.items);
    for (int i = 0; i < 5; i++)
        free (s_states.moves [i].text);
    memset (&s_states, 0, sizeof s_states);
}

static bool
s_member_kept (const char *member_id)
{
    for (size_t i = 0; i < s_states.members_used; i++)
        if (strcmp (s_states.members [i], member_id) == 0)
            return true;
    return false;
}

/* Makes room for one more state. Returns 0 or -1. */
static int
s_state_grow (void)
{
    if (s_states.used < s_states.size)
        return 0;
    size_t size = s_states.size? s_states.size * 2: 256;
    s_state_t *items = realloc (s_states.items, size * sizeof *items);
    if (!items)
        return -1;
    s_states.items = items;
    s_states.size = size;
    return 0;
}

/* Reads the MRR per plan of the batch's members (count of them, repeated or not). */
static int
s_states_read (pg_t *db, const char *const *members, size_t count)
{
    s_states.members = calloc (count, sizeof *s_states.members);
    if (!s_states.members)
        return -1;
    pg_buffer_t array = { NULL, 0, 0 };
    for (size_t i = 0; i < count; i++) {
        if (strlen (members [i]) >= sizeof s_states.members [0] || s_member_kept (members [i]))
            continue;
        snprintf (s_states.members [s_states.members_used++], sizeof s_states.members [0], "%s", members [i]);
        pg_array_add (&array, members [i], true);
    }
    if (!s_states.members_used)
        return 0;
    PGresult *result = pg_run_arrays (db, "mrr_states", &array, 1, NULL);
    if (!result)
        return -1;
    for (int row = 0; row < PQntuples (result); row++) {
        if (strlen (PQgetvalue (result, row, 1)) >= sizeof s_states.items [0].plan_code)
            continue;                   /* moves alone (s_state) */
        if (s_state_grow () == -1) {
            PQclear (result);
            return -1;
        }
        s_state_t *state = &s_states.items [s_states.used++];
        snprintf (state->member_id, sizeof state->member_id, "%s", PQgetvalue (result, row, 0));
        snprintf (state->plan_code, sizeof state->plan_code, "%s", PQgetvalue (result, row, 1));
        state->mrr = strtoll (PQgetvalue (result, row, 2), NULL, 10);
        state->ever_paid = strcmp (PQgetvalue (result, row, 3), "t") == 0;
        state->changed = false;
    }
    PQclear (result);
    return 0;
}

/* The kept MRR of member_id on plan_code (a new one at 0, never paid, when the member has
   no row for it), or NULL when the batch does not keep the member's (it moves alone). */
static s_state_t *
s_state (const char *member_id, const char *plan_code)
{
    if (strlen (plan_code) >= sizeof s_states.items [0].plan_code || !s_member_kept (member_id))
        return NULL;
    for (size_t i = 0; i < s_states.used; i++)
        if (strcmp (s_states.items [i].plan_code, plan_code) == 0
        &&  strcmp (s_states.items [i].member_id, member_id) == 0)
            return &s_states.items [i];
    if (s_state_grow () == -1)
        return NULL;
    s_state_t *state = &s_states.items [s_states.used++];
    memset (state, 0, sizeof *state);
    snprintf (state->member_id, sizeof state->member_id, "%s", member_id);
    snprintf (state->plan_code, sizeof state->plan_code, "%s", plan_code);
    return state;
}

/* Replaces *text with a copy of value. Returns 0 or -1. */
static int
s_keep_text (char **text, const char *value)
{
    free (*text);
    *text = strdup (value);
    return *text? 0: -1;
}

/* The batch's subscriptions changed, one row each, in one statement. Returns 0 or -1. */
static int
s_subscriptions_write (pg_t *db)
{
    pg_buffer_t rows [10];
    memset (rows, 0, sizeof rows);
    size_t written = 0;
    for (size_t i = 0; i < s_subscriptions.used; i++) {
        const s_subscription_t *item = &s_subscriptions.items [i];
        if (!item->changed)
            continue;
        char mrr [24], created [24], converted [24], canceled [24];
        snprintf (mrr, sizeof mrr, "%lld", (long long) item->mrr);
        snprintf (created, sizeof created, "%lld", (long long) item->created_at_ms);
        snprintf (converted, sizeof converted, "%lld", (long long) item->converted_at_ms);
        snprintf (canceled, sizeof canceled, "%lld", (long long) item->canceled_at_ms);
        pg_array_add (&rows [0], item->id, true);
        pg_array_add (&rows [1], item->member_id, true);
        pg_array_add (&rows [2], item->plan, true);
        pg_array_add (&rows [3], item->status, true);
        pg_array_add (&rows [4], mrr, false);
        pg_array_add (&rows [5], created, false);
        pg_array_add (&rows [6], item->trialed? "t": "f", false);
        pg_array_add (&rows [7], converted, false);
        pg_array_add (&rows [8], canceled, false);
        pg_array_add (&rows [9], item->cancel_reason, true);
        written++;
    }
    const char *params [10];
    for (int i = 0; i < 10; i++) {
        pg_array_close (&rows [i]);
        params [i] = rows [i].text;
    }
    int rc = written? pg_defer (db, "mrr_subscriptions_keep", 10, params): 0;
    for (int i = 0; i < 10; i++)
        free (rows [i].text);
    return rc;
}

int
mrr_batch_write (pg_t *db)
{
    if (s_subscriptions_write (db) == -1)
        return -1;
    if (!s_states.moves_used)
        return 0;
    pg_buffer_t rows [4];
    memset (rows, 0, sizeof rows);
    for (size_t i = 0; i < s_states.used; i++) {
        const s_state_t *state = &s_states.items [i];
        if (!state->changed)
            continue;
        char mrr [24];
        snprintf (mrr, sizeof mrr, "%lld", (long long) state->mrr);
        pg_array_add (&rows [0], state->member_id, true);
        pg_array_add (&rows [1], state->plan_code, true);
        pg_array_add (&rows [2], mrr, false);
        pg_array_add (&rows [3], state->ever_paid? "t": "f", false);
    }
    const char *params [5];
    for (int i = 0; i < 4; i++) {
        pg_array_close (&rows [i]);
        params [i] = rows [i].text;
    }
    int rc = pg_defer (db, "mrr_states_keep", 4, params);
    for (int i = 0; i < 4; i++)
        free (rows [i].text);
    for (int i = 0; i < 5; i++) {
        pg_array_close (&s_states.moves [i]);
        params [i] = s_states.moves [i].text;
    }
    if (rc == 0)
        rc = pg_defer (db, "mrr_moves", 5, params);
    for (int i = 0; i < 5; i++)
        free (s_states.moves [i].text);
    memset (s_states.moves, 0, sizeof s_states.moves);
    s_states.moves_used = 0;
    return rc;
}

int
mrr_batch_begin (pg_t *db, const char *const *ids, const char *const *members, size_t count)
{
    if (!count)
        return 0;
    if (s_states_read (db, members, count) == -1)
        return -1;
    s_subscriptions.items = calloc (count, sizeof *s_subscriptions.items);
    if (!s_subscriptions.items)
        return -1;
    pg_buffer_t array = { NULL, 0, 0 };
    for (size_t i = 0; i < count; i++) {
        if (strlen (ids [i]) >= sizeof s_subscriptions.items [0].id)
            continue;                   /* read alone by mrr_apply */
        pg_array_add (&array, ids [i], true);
        snprintf (s_subscriptions.items [s_subscriptions.used++].id, sizeof s_subscriptions.items [0].id,
                  "%s", ids [i]);
    }
    PGresult *result = pg_run_arrays (db, "mrr_subscriptions", &array, 1, NULL);
    free (array.text);
    if (!result)
        return -1;
    for (int row = 0; row < PQntuples (result); row++)
        for (size_t i = 0; i < s_subscriptions.used; i++) {
            s_subscription_t *item = &s_subscriptions.items [i];
            if (strcmp (item->id, PQgetvalue (result, row, 0)) != 0)
                continue;
            item->known = true;
            snprintf (item->plan_code, sizeof item->plan_code, "%s", PQgetvalue (result, row, 1));
            item->mrr = strtoll (PQgetvalue (result, row, 2), NULL, 10);
            item->created_at_ms = strtoll (PQgetvalue (result, row, 3), NULL, 10);
            item->trialed = strcmp (PQgetvalue (result, row, 4), "t") == 0;
            item->converted_at_ms = strtoll (PQgetvalue (result, row, 5), NULL, 10);
        }
    PQclear (result);
    return 0;
}

static s_subscription_t *
s_subscription_kept (const char *id)
{
    for (size_t i = 0; i < s_subscriptions.used; i++)
        if (strcmp (s_subscriptions.items [i].id, id) == 0)
            return &s_subscriptions.items [i];
    return NULL;
}

static int s_plan_read (pg_t *db, const char *plan_id, s_plan_t *plan);

/* Finds the plan in the batch's, or in analytics' copy, or asks billing and keeps it.
   Returns 1, 0 when billing knows no such plan, -1 on error. */
static int
s_plan (pg_t *db, const char *plan_id, s_plan_t *plan)
{
    for (int i = 0; i < s_plans_count; i++)
        if (strcmp (s_plans [i].id, plan_id) == 0) {
            *plan = s_plans [i].plan;
            return 1;
        }
    int found = s_plan_read (db, plan_id, plan);
    if (found == 1 && s_plans_count < PLANS_KEPT && strlen (plan_id) < sizeof s_plans [0].id) {
        snprintf (s_plans [s_plans_count].id, sizeof s_plans [0].id, "%s", plan_id);
        s_plans [s_plans_count++].plan = *plan;
    }
    return found;
}

static int
s_plan_read (pg_t *db, const char *plan_id, s_plan_t *plan)
{
    const char *params [] = { plan_id };
    PGresult *result = pg_run (db, "mrr_plan", 1, params);
    if (!result)
        return -1;
    if (PQntuples (result) == 0) {
        PQclear (result);
        bool missing;
        Kaiin__Billing__Plan *asked = (Kaiin__Billing__Plan *)
            s_ask_billing ("billing.PlanGet", plan_id, &kaiin__billing__plan__descriptor, &missing);
        if (!asked)
            return missing? 0: -1;
        char amount [24], rate [16], count [16];
        snprintf (amount, sizeof amount, "%lld", (long long) asked->amount);
        snprintf (rate, sizeof rate, "%d", asked->tax_rate);
        snprintf (count, sizeof count, "%d", asked->interval_count);
        const char *keep [] = { plan_id, asked->code, amount, asked->tax_mode, rate, asked->interval, count };
        result = pg_run (db, "mrr_plan_keep", 7, keep);
        protobuf_c_message_free_unpacked (&asked->base, NULL);
        if (!result)
            return -1;
        PQclear (result);
        if (!(result = pg_run (db, "mrr_plan", 1, params)))
            return -1;
    }
    snprintf (plan->code, sizeof plan->code, "%s", PQgetvalue (result, 0, 0));
    plan->amount = strtoll (PQgetvalue (result, 0, 1), NULL, 10);
    plan->inclusive = strcmp (PQgetvalue (result, 0, 2), "inclusive") == 0;
    plan->tax_rate = atoi (PQgetvalue (result, 0, 3));
    plan->yearly = strcmp (PQgetvalue (result, 0, 4), "year") == 0;
    plan->interval_count = atoi (PQgetvalue (result, 0, 5));
    if (plan->interval_count < 1)
        plan->interval_count = 1;
    PQclear (result);
    return 1;
}

/* Finds the coupon in the batch's, or in analytics' copy, or asks billing and keeps it.
   Returns its place in s_coupons, COUPONS_KEPT when billing knows no such coupon, -1 on
   error. */
static int
s_coupon (pg_t *db, const char *code)
{
    for (int i = 0; i < s_coupons_count; i++)
        if (strcmp (s_coupons [i].code, code) == 0)
            return i;
    if (s_coupons_count == COUPONS_KEPT || strlen (code) >= sizeof s_coupons [0].code)
        s_coupons_count = 0;            /* forgets the others: each is read again when met */
    const char *params [] = { code };
    PGresult *result = pg_run (db, "mrr_coupon", 1, params);
    if (!result)
        return -1;
    if (PQntuples (result) == 0) {
        PQclear (result);
        bool missing;
        Kaiin__Billing__Coupon *asked = (Kaiin__Billing__Coupon *) s_ask_billing ("billing.CouponGet",
            code, &kaiin__billing__coupon__descriptor, &missing);
        if (!asked)
            return missing? COUPONS_KEPT: -1;
        char percent [16], off [24], months [16];
        snprintf (percent, sizeof percent, "%d", asked->percent_off);
        snprintf (off, sizeof off, "%lld", (long long) asked->amount_off);
        snprintf (months, sizeof months, "%d", asked->duration_in_months);
        const char *keep [] = { code, percent, off, asked->duration, months };
        result = pg_run (db, "mrr_coupon_keep", 5, keep);
        protobuf_c_message_free_unpacked (&asked->base, NULL);
        if (!result)
            return -1;
        PQclear (result);
        if (!(result = pg_run (db, "mrr_coupon", 1, params)))
            return -1;
    }
    int i = s_coupons_count++;
    snprintf (s_coupons [i].code, sizeof s_coupons [i].code, "%s", code);
    s_coupons [i].percent = atoi (PQgetvalue (result, 0, 0));
    s_coupons [i].off = strtoll (PQgetvalue (result, 0, 1), NULL, 10);
    snprintf (s_coupons [i].duration, sizeof s_coupons [i].duration, "%s", PQgetvalue (result, 0, 2));
    s_coupons [i].months = atoi (PQgetvalue (result, 0, 3));
    PQclear (result);
    return i;
}

/* The discount the coupon gives on amount for the subscription's current period: billing's
   rule (a percentage rounded down, or an amount up to the price), for forever coupons and
   repeating ones within their months. Returns the discount, or -1 on error. */
static int64_t
s_discount (pg_t *db, const Kaiin__Billing__Subscription *subscription, int64_t amount)
{
    if (!*subscription->coupon_code)
        return 0;
    int kept = s_coupon (db, subscription->coupon_code);
    if (kept < 0)
        return -1;
    if (kept == COUPONS_KEPT)
        return 0;
    int64_t percent = s_coupons [kept].percent;
    int64_t off = s_coupons [kept].off;
    const char *duration = s_coupons [kept].duration;
    int months = s_coupons [kept].months;
    bool applies = strcmp (duration, "forever") == 0;
    if (strcmp (duration, "repeating") == 0) {
        int64_t start = subscription->current_period_start_ms? subscription->current_period_start_ms
                                                             : subscription->created_at_ms;
        applies = analytics_month_of (start) - analytics_month_of (subscription->created_at_ms) < months;
    }
    if (!applies)
        return 0;
    if (percent)
        return amount / 100 * percent + amount % 100 * percent / 100;
    return off < amount? off: amount;
}

int64_t
mrr_of (pg_t *db, const Kaiin__Billing__Subscription *subscription)
{
    if (strcmp (subscription->status, "active") != 0 && strcmp (subscription->status, "past_due") != 0)
        return 0;
    s_plan_t plan;
    int found = s_plan (db, subscription->plan_id, &plan);
    if (found <= 0) {
        if (found == 0)
            log_warn ("subscription '%s': billing knows no plan '%s'; its MRR is 0",
                      subscription->id, subscription->plan_id);
        return found;
    }
    int64_t discount = s_discount (db, subscription, plan.amount);
    if (discount < 0)
        return -1;
    int64_t price = plan.amount - discount;
    /* Excluding tax as billing's invoices count it (rounded down once per rate). */
    if (plan.inclusive)
        price -= price * plan.tax_rate / (100 + plan.tax_rate);
    return price / (plan.yearly? 12 * plan.interval_count: plan.interval_count);
}

/* Moves the member's MRR on plan_code ('*': every plan) by delta, and writes the movement.
   Returns 0 or -1. */
static int
s_move (pg_t *db, const char *member_id, const char *plan_code, int64_t delta, int64_t at_ms)
{
    if (delta == 0)
        return 0;
    char delta_text [24], at [24];
    snprintf (delta_text, sizeof delta_text, "%lld", (long long) delta);
    snprintf (at, sizeof at, "%lld", (long long) at_ms);
    s_state_t *state = s_state (member_id, plan_code);
    if (!state && s_member_kept (member_id) && strlen (plan_code) < sizeof state->plan_code)
        return -1;                      /* no memory for it */
    if (!state) {
        const char *params [] = { member_id, plan_code, delta_text, at };
        return pg_defer (db, "mrr_move", 4, params);
    }
    /* As mrr_move classifies it: a member at 0 who paid before reactivates; one who never
       paid is new business. */
    const char *kind = state->mrr <= 0? (state->ever_paid? "reactivation": "new_business")
                     : state->mrr + delta <= 0? "churn"
                     : delta > 0? "expansion": "contraction";
    state->mrr += delta;
    state->ever_paid = state->ever_paid || state->mrr > 0;
    state->changed = true;
    pg_array_add (&s_states.moves [0], member_id, true);
    pg_array_add (&s_states.moves [1], plan_code, true);
    pg_array_add (&s_states.moves [2], at, false);
    pg_array_add (&s_states.moves [3], kind, true);
    pg_array_add (&s_states.moves [4], delta_text, false);
    s_states.moves_used++;
    return 0;
}

int
mrr_apply (pg_t *db, const Kaiin__Billing__Subscription *subscription, int64_t at_ms,
           char before_plan [72])
{
    int64_t mrr = mrr_of (db, subscription);
    if (mrr < 0)
        return -1;
    int64_t before = 0;
    before_plan [0] = 0;
    s_subscription_t *kept = s_subscription_kept (subscription->id);
    if (kept && kept->known) {
        snprintf (before_plan, 72, "%s", kept->plan_code);
        before = kept->mrr;
    }
    else
    if (!kept) {
        const char *params [] = { subscription->id };
        PGresult *result = pg_run (db, "mrr_subscription", 1, params);
        if (!result)
            return -1;
        if (PQntuples (result) == 1) {
            snprintf (before_plan, 72, "%s", PQgetvalue (result, 0, 0));
            before = strtoll (PQgetvalue (result, 0, 1), NULL, 10);
        }
        PQclear (result);
    }
    if (kept) {
        /* As mrr_subscription_keep does to the row (a new one: 0, not trialed, not converted). */
        bool trialing = strcmp (subscription->status, "trialing") == 0;
        if (!kept->known)
            kept->created_at_ms = kept->converted_at_ms = 0, kept->trialed = false;
        if (!kept->created_at_ms)
            kept->created_at_ms = subscription->created_at_ms? subscription->created_at_ms: at_ms;
        if (!kept->converted_at_ms && (kept->trialed || trialing)
        &&  (strcmp (subscription->status, "active") == 0 || strcmp (subscription->status, "past_due") == 0))
            kept->converted_at_ms = at_ms;
        kept->trialed = kept->trialed || trialing;
        kept->canceled_at_ms = subscription->canceled_at_ms;
        if ((!kept->member_id && s_keep_text (&kept->member_id, subscription->member_id) == -1)
        ||  s_keep_text (&kept->plan, subscription->plan_code) == -1
        ||  s_keep_text (&kept->status, subscription->status) == -1
        ||  s_keep_text (&kept->cancel_reason, subscription->cancel_reason) == -1)
            return -1;
        kept->known = kept->changed = true;
        snprintf (kept->plan_code, sizeof kept->plan_code, "%s", subscription->plan_code);
        kept->mrr = mrr;
    }
    char mrr_text [24], created [24], at [24], canceled [24];
    snprintf (mrr_text, sizeof mrr_text, "%lld", (long long) mrr);
    snprintf (created, sizeof created, "%lld", (long long) (subscription->created_at_ms? subscription->created_at_ms
                                                                                        : at_ms));
    snprintf (at, sizeof at, "%lld", (long long) at_ms);
    snprintf (canceled, sizeof canceled, "%lld", (long long) subscription->canceled_at_ms);
    const char *keep [] = { subscription->id, subscription->member_id, subscription->plan_code,
                            subscription->status, mrr_text, created, at, canceled,
                            subscription->cancel_reason };
    if (!kept && pg_defer (db, "mrr_subscription_keep", 9, keep) == -1)
        return -1;
    const char *member = subscription->member_id;
    const char *plan = subscription->plan_code;
    if (s_move (db, member, "*", mrr - before, at_ms) == -1)
        return -1;
    if (!*before_plan || strcmp (before_plan, plan) == 0)
        return s_move (db, member, plan, mrr - before, at_ms);
    return s_move (db, member, before_plan, -before, at_ms) == 0
        && s_move (db, member, plan, mrr, at_ms) == 0? 0: -1;
}
