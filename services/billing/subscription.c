/* subscription.c - subscriptions: trial, renewal, cancel, plan change with proration,
   dunning, and the member's entitlement carried in their events */
#include "subscription.h"
#include "coupon.h"
#include "invoice.h"
#include "member_ref.h"
#include "outbox.h"
#include "payment.h"
#include "payment_method.h"
#include "plan.h"
#include "settings.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LIVE "('trialing', 'active', 'past_due')"
#define SUB_COLUMNS "s.id, s.member_id, s.plan_id, p.code as plan_code, s.status," \
    " coalesce (s.payment_method_id::text, '') as payment_method_id," \
    " coalesce ((select c.code from coupons c where c.id = s.coupon_id), '') as coupon_code," \
    " " MS ("s.trial_end") " as trial_end_ms, " MS ("s.current_period_start") " as current_period_start_ms," \
    " " MS ("s.current_period_end") " as current_period_end_ms, s.cancel_at_period_end, s.cancel_reason," \
    " s.cancel_comment, " MS ("s.canceled_at") " as canceled_at_ms, " MS ("s.ended_at") " as ended_at_ms," \
    " coalesce (s.latest_invoice_id::text, '') as latest_invoice_id, s.retry_count," \
    " " MS ("s.next_retry_at") " as next_retry_at_ms, " MS ("s.created_at") " as created_at_ms," \
    " " MS ("s.updated_at") " as updated_at_ms, s.version, p.rank as plan_rank, s.seq," \
    " s.coupon_id, s.coupon_periods_left, s.credit_balance, s.anchor_day"
#define ENTITLEMENT \
    " exists (select 1 from subscriptions x where x.member_id = s.member_id and x.status in " LIVE ") as member_paid," \
    " coalesce ((select q.rank from subscriptions x join plans q on q.id = x.plan_id" \
    "  where x.member_id = s.member_id and x.status in " LIVE " order by q.amount desc, x.seq limit 1), '') as member_rank"
#define BATCH "500"
/* The payment method a scheduled charge uses: the subscription's own, else the member's
   default (joined as columns method_*). Lateral, so that each is found by its index: a plain
   join on a computed id hashes the whole table. */
#define METHOD_OF_SUB \
    " left join lateral (select x.* from payment_methods x where x.status = 'active'" \
    "  and (x.id = s.payment_method_id or (x.member_id = s.member_id and x.is_default))" \
    "  order by x.id = s.payment_method_id desc limit 1) m on true"
#define METHOD_COLUMNS " m.id as method_id, m.type as method_type, m.provider as method_provider," \
    " m.token as method_token, m.exp_month as method_exp_month, m.exp_year as method_exp_year"

static const char *const s_reasons [] = { "too_expensive", "missing_features", "switched_service",
                                          "unused", "other", NULL };
static const char *const s_statuses [] = { "trialing", "active", "past_due", "unpaid", "canceled",
                                           "incomplete", NULL };

/* A subscription as the scheduler and handlers work on it: the message and what it lacks. */
typedef struct {
    Kaiin__Billing__Subscription *sub;
    char coupon_id [37];
    int coupon_periods_left;        /* -1: forever or none */
    int64_t credit_balance;
    int anchor_day;
} s_row_t;

int
subscription_prepare (pg_t *db)
{
    return pg_prepare (db, "sub_get",
            "select " SUB_COLUMNS ", " ENTITLEMENT " from subscriptions s join plans p on p.id = s.plan_id"
            " where s.id = $1") == -1
        || pg_prepare (db, "sub_lock",
            "select " SUB_COLUMNS " from subscriptions s join plans p on p.id = s.plan_id"
            " where s.id = $1 for update of s") == -1
        || pg_prepare (db, "sub_list",
            "select " SUB_COLUMNS " from subscriptions s join plans p on p.id = s.plan_id"
            " where s.seq < $1 and ($2 = '' or s.member_id = $2::text::uuid) and ($3 = '' or s.status = $3)"
            " order by s.seq desc limit $4") == -1
        || pg_prepare (db, "sub_member_lock",
            "select pg_advisory_xact_lock (hashtext ('subscriptions:' || $1))") == -1
        || pg_prepare (db, "sub_same_plan",
            "select 1 from subscriptions where member_id = $1 and plan_id = $2"
            " and status in ('trialing', 'active', 'past_due', 'unpaid', 'incomplete')") == -1
        || pg_prepare (db, "sub_insert",
            "insert into subscriptions (member_id, plan_id, status, payment_method_id, coupon_id,"
            " coupon_periods_left, anchor_day, trial_end, current_period_start, current_period_end,"
            " created_at, updated_at) values ($1, $2, $3, nullif ($4, '')::uuid, nullif ($5, '')::uuid,"
            " $6, $7, " AT ("$8") ", " AT ("$9") ", " AT ("$10") ", " AT ("$9") ", " AT ("$9") ") returning id") == -1
        || pg_prepare (db, "sub_write",
            "update subscriptions set status = $2, plan_id = $3, current_period_start = " AT ("$4") ","
            " current_period_end = " AT ("$5") ", coupon_periods_left = $6, credit_balance = $7,"
            " latest_invoice_id = nullif ($8, '')::uuid, cancel_at_period_end = $9, cancel_reason = $10,"
            " cancel_comment = $11, canceled_at = " AT ("$12") ", ended_at = " AT ("$13") ","
            " retry_count = $14, next_retry_at = " AT ("$15") ", updated_at = " AT ("$16") ","
            " version = version + 1 where id = $1") == -1
        || pg_prepare (db, "sub_write_many",
            "update subscriptions s set status = w.status, current_period_start = " AT ("w.period_start") ","
            " current_period_end = " AT ("w.period_end") ", coupon_periods_left = w.periods,"
            " credit_balance = w.credit, latest_invoice_id = w.invoice, retry_count = w.retries,"
            " next_retry_at = " AT ("w.retry_at") ", updated_at = " AT ("$10") ", version = s.version + 1"
            " from unnest ($1::uuid [], $2::text [], $3::bigint [], $4::bigint [], $5::int [], $6::bigint [],"
            " $7::uuid [], $8::int [], $9::bigint []) as w (id, status, period_start, period_end, periods,"
            " credit, invoice, retries, retry_at) where s.id = w.id") == -1
        /* The scheduler's batches: the due subscriptions themselves, locked, each with the
           payment method it is charged with (its own, else the member's default). */
        || pg_prepare (db, "sub_due",
            "with due as (select id from subscriptions where status in ('trialing', 'active')"
            "  and current_period_end <= " AT ("$1") " order by current_period_end limit " BATCH
            "  for update skip locked)"
            " select " SUB_COLUMNS ", " METHOD_COLUMNS ", " ENTITLEMENT " from due join subscriptions s on s.id = due.id"
            " join plans p on p.id = s.plan_id" METHOD_OF_SUB) == -1
        || pg_prepare (db, "sub_retry_due",
            "with due as (select id from subscriptions where status = 'past_due'"
            "  and next_retry_at <= " AT ("$1") " order by next_retry_at limit " BATCH " for update skip locked)"
            " select " SUB_COLUMNS ", " METHOD_COLUMNS " from due join subscriptions s on s.id = due.id"
            " join plans p on p.id = s.plan_id" METHOD_OF_SUB) == -1
        || pg_prepare (db, "sub_incomplete_due",
            "with due as (select x.id from subscriptions x where x.status = 'incomplete' and x.created_at <= " AT ("$1")
            "  and not exists (select 1 from payments y where y.invoice_id = x.latest_invoice_id and y.status = 'pending')"
            "  order by x.created_at limit " BATCH " for update skip locked)"
            " select " SUB_COLUMNS " from due join subscriptions s on s.id = due.id join plans p on p.id = s.plan_id") == -1
        /* Due rows at all, locked by another thread's batch or not: see s_batch. */
        || pg_prepare (db, "sub_due_any",
            "select 1 from subscriptions where status in ('trialing', 'active')"
            " and current_period_end <= " AT ("$1") " limit 1") == -1
        || pg_prepare (db, "sub_retry_due_any",
            "select 1 from subscriptions where status = 'past_due' and next_retry_at <= " AT ("$1") " limit 1") == -1
        || pg_prepare (db, "sub_incomplete_due_any",
            "select 1 from subscriptions s where s.status = 'incomplete' and s.created_at <= " AT ("$1")
            " and not exists (select 1 from payments y where y.invoice_id = s.latest_invoice_id and y.status = 'pending')"
            " limit 1") == -1
        || pg_prepare (db, "sub_coupon",
            "select id, code, percent_off, amount_off, duration, duration_in_months from coupons where id = $1") == -1
        || pg_prepare (db, "sub_open_invoices",
            "update invoices set status = $2, voided_at = case when $2 = 'void' then " AT ("$3") " end,"
            " version = version + 1 where subscription_id = $1 and status = 'open'") == -1
        ? -1: 0;
}

static void
s_row_free (s_row_t *row)
{
    if (row->sub)
        protobuf_c_message_free_unpacked (&row->sub->base, NULL);
    row->sub = NULL;
}

/* Fills row from a result row of SUB_COLUMNS. */
static void
s_row_from (PGresult *result, int index, s_row_t *row)
{
    row->sub = (Kaiin__Billing__Subscription *) pg_row_message (result, index, &kaiin__billing__subscription__descriptor);
    int column = PQfnumber (result, "coupon_id");
    snprintf (row->coupon_id, sizeof row->coupon_id, "%s", PQgetvalue (result, index, column));
    column = PQfnumber (result, "coupon_periods_left");
    row->coupon_periods_left = PQgetisnull (result, index, column)? -1: atoi (PQgetvalue (result, index, column));
    row->credit_balance = strtoll (PQgetvalue (result, index, PQfnumber (result, "credit_balance")), NULL, 10);
    row->anchor_day = atoi (PQgetvalue (result, index, PQfnumber (result, "anchor_day")));
}

/* Loads (and locks) a subscription. 1 found, 0 not, -1 database error. */
static int
s_row_load (pg_t *db, const char *id, s_row_t *row)
{
    const char *params [] = { id };
    PGresult *result = pg_run (db, "sub_lock", 1, params);
    if (!result)
        return -1;
    int found = PQntuples (result) == 1;
    if (found)
        s_row_from (result, 0, row);
    PQclear (result);
    return found;
}

/* The payment method a scheduler row carries (columns method_*), or NULL when it has none. */
static Kaiin__Billing__PaymentMethod *
s_row_method (PGresult *result, int index)
{
    int column = PQfnumber (result, "method_id");
    if (column < 0 || PQgetisnull (result, index, column))
        return NULL;
    Kaiin__Billing__PaymentMethod *method = malloc (sizeof *method);
    assert (method);
    kaiin__billing__payment_method__init (method);
    method->id = strdup (PQgetvalue (result, index, column));
    method->type = strdup (PQgetvalue (result, index, PQfnumber (result, "method_type")));
    method->provider = strdup (PQgetvalue (result, index, PQfnumber (result, "method_provider")));
    method->token = strdup (PQgetvalue (result, index, PQfnumber (result, "method_token")));
    method->exp_month = atoi (PQgetvalue (result, index, PQfnumber (result, "method_exp_month")));
    method->exp_year = atoi (PQgetvalue (result, index, PQfnumber (result, "method_exp_year")));
    return method;
}

/* Writes the row back (caller's transaction). 0 or -1. */
static int
s_row_write (pg_t *db, const s_row_t *row, int64_t now_ms)
{
    const Kaiin__Billing__Subscription *sub = row->sub;
    char start [24], end [24], periods [24], credit [24], canceled [24], ended [24], retries [24],
         retry_at [24], now [24];
    const char *params [] = { sub->id, sub->status, sub->plan_id, NUM (start, sub->current_period_start_ms),
        NUM (end, sub->current_period_end_ms), row->coupon_periods_left < 0? NULL: NUM (periods, row->coupon_periods_left),
        NUM (credit, row->credit_balance), sub->latest_invoice_id, sub->cancel_at_period_end? "t": "f",
        sub->cancel_reason, sub->cancel_comment, NUM (canceled, sub->canceled_at_ms), NUM (ended, sub->ended_at_ms),
        NUM (retries, sub->retry_count), NUM (retry_at, sub->next_retry_at_ms), NUM (now, now_ms) };
    PGresult *result = pg_run (db, "sub_write", 16, params);
    PQclear (result);
    return result? 0: -1;
}

static void
s_set (char **field, const char *value)
{
    if (*field != protobuf_c_empty_string)
        free (*field);
    *field = strdup (value);
}

/* Appends the subscription's event with the member's entitlement. 0 or -1. */
static int
s_event (pg_t *db, const char *id, const char *type, int64_t now_ms)
{
    const char *params [] = { id };
    PGresult *result = pg_run (db, "sub_get", 1, params);
    if (!result || PQntuples (result) == 0) {
        PQclear (result);
        return -1;
    }
    ProtobufCMessage *sub = pg_row_message (result, 0, &kaiin__billing__subscription__descriptor);
    int rc = outbox_append (db, type, id, sub, now_ms);
    protobuf_c_message_free_unpacked (sub, NULL);
    PQclear (result);
    return rc;
}

static int
s_reply_sub (svc_request_t *request, svc_reply_t *reply, const char *id)
{
    const char *params [] = { id };
    ProtobufCMessage *sub = billing_get (request, reply, "sub_get", 1, params,
                                         &kaiin__billing__subscription__descriptor, "subscription");
    if (!sub)
        return -1;
    if (!billing_caller_may_see (request, ((Kaiin__Billing__Subscription *) sub)->member_id)) {
        protobuf_c_message_free_unpacked (sub, NULL);
        return svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "subscription not found");
    }
    svc_reply_with (reply, sub);
    protobuf_c_message_free_unpacked (sub, NULL);
    return 0;
}

/* A price including tax: what a tax-exclusive amount comes to at rate (rounded down, as an
   invoice of that one line would be), or the amount itself when it includes tax already. */
static int64_t
s_with_tax (int64_t amount, const char *tax_mode, int rate)
{
    return strcmp (tax_mode, "inclusive") == 0? amount: amount + amount * rate / 100;
}

/* A plan's price including tax, for proration across tax modes. */
static int64_t
s_gross (const Kaiin__Billing__Plan *plan)
{
    return s_with_tax (plan->amount, plan->tax_mode, plan->tax_rate);
}

/* The price line of a period: the plan's amount, less the coupon's discount and any credit.
   Returns the invoice's tax mode. A credit is an amount including tax (it was worked out from
   prices including tax), so it comes off the price including tax: a tax-exclusive plan's line
   with a credit is written at its price including tax, and its invoice is tax-inclusive, the
   tax of what is left worked out once from that (適格請求書: one rounding per rate). */
static const char *
s_period_line (Kaiin__Billing__InvoiceLine *line, const Kaiin__Billing__Plan *plan,
               const Kaiin__Billing__Coupon *coupon, int64_t *credit, int64_t start_ms, int64_t end_ms,
               char description [160])
{
    kaiin__billing__invoice_line__init (line);
    snprintf (description, 160, "%s", plan->name);
    line->description = description;
    line->sku = plan->code;
    line->quantity = 1;
    line->unit_amount = plan->amount;
    line->tax_rate = plan->tax_rate;
    line->discount_amount = coupon? coupon_discount (coupon, plan->amount): 0;
    line->amount = plan->amount - line->discount_amount;
    line->period_start_ms = start_ms;
    line->period_end_ms = end_ms;
    if (*credit <= 0 || line->amount == 0)
        return plan->tax_mode;
    int64_t due = s_with_tax (line->amount, plan->tax_mode, plan->tax_rate);
    int64_t used = *credit < due? *credit: due;
    *credit -= used;
    line->unit_amount = s_gross (plan);
    line->amount = due - used;
    line->discount_amount = line->unit_amount - line->amount;
    return "inclusive";
}

/* Loads the coupon a subscription still gets a discount from, or NULL. */
static Kaiin__Billing__Coupon *
s_active_coupon (svc_request_t *request, const s_row_t *row)
{
    if (!*row->coupon_id || row->coupon_periods_left == 0)
        return NULL;
    const char *params [] = { row->coupon_id };
    PGresult *result = pg_run (request->db, "sub_coupon", 1, params);
    Kaiin__Billing__Coupon *coupon = result && PQntuples (result) == 1
        ? (Kaiin__Billing__Coupon *) pg_row_message (result, 0, &kaiin__billing__coupon__descriptor): NULL;
    PQclear (result);
    return coupon;
}

/* ---- the member's requests ---- */

int
subscription_api_create (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__SubscriptionCreateRequest *create = (Kaiin__Billing__SubscriptionCreateRequest *)
        svc_unpack (request, &kaiin__billing__subscription_create_request__descriptor, reply);
    if (!create)
        return -1;
    pg_t *db = request->db;
    int64_t now = billing_now (request);
    char rank [33], member_status [16];
    Kaiin__Billing__Plan *plan = NULL;
    Kaiin__Billing__PaymentMethod *method = NULL;
    Kaiin__Billing__Coupon *coupon = NULL;
    Kaiin__Billing__Invoice *invoice = NULL;
    Kaiin__Billing__Payment *payment = NULL;
    if (create->trial_days < -1 || create->trial_days > 365)
        svc_field_error (reply, "trial_days", "must be from 0 to 365");
    if (!*create->plan)
        svc_field_error (reply, "plan", "is required");
    int rc = -1;
    char id [37] = "";
    if (reply->status != KAIIN__STATUS__OK
    ||  member_ref_lookup (reply, create->member_id, "member_id", true, rank, member_status) == -1
    ||  !(plan = plan_find (request, reply, create->plan, "plan")))
        goto done;
    if (strcmp (plan->status, "active") != 0) {
        svc_field_error (reply, "plan", "is archived: new subscriptions cannot start on it");
        goto done;
    }
    int trial = create->trial_days < 0? plan->trial_days: create->trial_days;
    if ((*create->payment_method_id || trial == 0)
    &&  !(method = payment_method_find (request, reply, create->member_id, create->payment_method_id,
                                        "payment_method_id")))
        goto done;
    coupon = coupon_pick (request, reply, create->coupon_code, create->member_id, rank, plan->code, "subscriptions");
    if (reply->status != KAIIN__STATUS__OK || billing_begin (db) == -1)
        goto done;
    const char *member [] = { create->member_id };
    const char *same [] = { create->member_id, plan->id };
    PGresult *result = pg_run (db, "sub_member_lock", 1, member);
    bool locked = result != NULL;
    PQclear (result);
    if (!locked || !(result = pg_run (db, "sub_same_plan", 2, same)))
        goto done;
    int taken = PQntuples (result);
    PQclear (result);
    if (taken) {
        svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION, "the member already has a subscription to this plan");
        svc_field_error (reply, "plan", "already subscribed by this member");
        goto done;
    }
    int64_t trial_end = trial? now + trial * DAY_MS: 0;
    int64_t start = now;
    int64_t end = trial? trial_end: billing_period_end (now, plan->interval, plan->interval_count,
                                                        billing_day_of_month (now));
    int periods = !coupon? -1: strcmp (coupon->duration, "once") == 0? 1
                : strcmp (coupon->duration, "repeating") == 0? coupon->duration_in_months: -1;
    char periods_text [24], anchor [24], trial_text [24], start_text [24], end_text [24];
    const char *insert [] = { create->member_id, plan->id, trial? "trialing": "incomplete",
        method? method->id: "", coupon? coupon->id: "", periods < 0? NULL: NUM (periods_text, periods),
        NUM (anchor, billing_day_of_month (trial? trial_end: now)), NUM (trial_text, trial_end),
        NUM (start_text, start), NUM (end_text, end) };
    if (!(result = pg_run (db, "sub_insert", 10, insert)))
        goto done;
    snprintf (id, sizeof id, "%s", PQgetvalue (result, 0, 0));
    PQclear (result);
    if (coupon) {
        int redeemed = coupon_redeem (db, coupon, create->member_id, id, "", now);
        if (redeemed == 1) {
            svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION, "the coupon has no redemptions left");
            svc_field_error (reply, "coupon_code", "has no redemptions left");
        }
        if (redeemed != 0)
            goto done;
    }
    if (s_event (db, id, "subscription.created", now) == -1)
        goto done;
    if (trial) {
        if (s_event (db, id, "subscription.started", now) == -1)
            goto done;
    }
    else {
        Kaiin__Billing__InvoiceLine line, *lines [] = { &line };
        int64_t credit = 0;
        char description [160];
        const char *tax_mode = s_period_line (&line, plan, coupon, &credit, start, end, description);
        invoice_spec_t spec = { create->member_id, id, "", "subscription_create", tax_mode, lines, 1,
                                start, end, 0, true, true };
        char key [128], status [16];
        billing_provider_key (request, "subscription", id, key, sizeof key);
        s_row_t row = { NULL, "", 0, 0, 0 };
        if (!(invoice = invoice_insert (db, &spec, now)) || s_row_load (db, id, &row) != 1)
            goto done;
        if (periods > 0)
            row.coupon_periods_left = periods - 1;
        s_set (&row.sub->latest_invoice_id, invoice->id);
        int written = s_row_write (db, &row, now);
        s_row_free (&row);
        if (written == -1)
            goto done;
        payment = payment_collect (db, invoice, method, key, now, status);
        if (!payment && strcmp (status, "paid") != 0)
            goto done;
    }
    if (billing_commit (db) == 0)
        rc = s_reply_sub (request, reply, id);
done:
    if (rc == -1) {
        pg_rollback (db);
        if (reply->status == KAIIN__STATUS__OK)
            svc_db_fail (reply, db);
    }
    if (payment)
        protobuf_c_message_free_unpacked (&payment->base, NULL);
    if (invoice)
        protobuf_c_message_free_unpacked (&invoice->base, NULL);
    if (coupon)
        protobuf_c_message_free_unpacked (&coupon->base, NULL);
    if (method)
        protobuf_c_message_free_unpacked (&method->base, NULL);
    if (plan)
        protobuf_c_message_free_unpacked (&plan->base, NULL);
    protobuf_c_message_free_unpacked (&create->base, NULL);
    return rc;
}

int
subscription_api_get (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__IdRequest *get = (Kaiin__Billing__IdRequest *)
        svc_unpack (request, &kaiin__billing__id_request__descriptor, reply);
    if (!get)
        return -1;
    int rc = billing_uuid (get->id)? s_reply_sub (request, reply, get->id)
                                   : svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "subscription not found");
    protobuf_c_message_free_unpacked (&get->base, NULL);
    return rc;
}

int
subscription_api_list (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__ListRequest *list = (Kaiin__Billing__ListRequest *)
        svc_unpack (request, &kaiin__billing__list_request__descriptor, reply);
    if (!list)
        return -1;
    char before [24], limit [24];
    billing_page (reply, list, before, limit);
    billing_check_enum (reply, "status", list->status, s_statuses, false);
    int rc = -1;
    if (reply->status == KAIIN__STATUS__OK) {
        const char *params [] = { before, list->member_id, list->status, limit };
        PGresult *result = billing_run (request, reply, "sub_list", 4, params);
        if (result)
            rc = billing_reply_rows (reply, result, atoi (limit), &kaiin__billing__subscription_list__descriptor);
        PQclear (result);
    }
    protobuf_c_message_free_unpacked (&list->base, NULL);
    return rc;
}

/* Ends a subscription now (caller's transaction): open invoices are voided. */
static int
s_end (pg_t *db, s_row_t *row, int64_t now_ms)
{
    s_set (&row->sub->status, "canceled");
    row->sub->ended_at_ms = now_ms;
    if (!row->sub->canceled_at_ms)
        row->sub->canceled_at_ms = now_ms;
    row->sub->next_retry_at_ms = 0;
    char now [24];
    const char *params [] = { row->sub->id, "void", NUM (now, now_ms) };
    PGresult *result = pg_run (db, "sub_open_invoices", 3, params);
    PQclear (result);
    return result && s_row_write (db, row, now_ms) == 0
        && s_event (db, row->sub->id, "subscription.canceled", now_ms) == 0? 0: -1;
}

int
subscription_api_cancel (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__SubscriptionCancelRequest *cancel = (Kaiin__Billing__SubscriptionCancelRequest *)
        svc_unpack (request, &kaiin__billing__subscription_cancel_request__descriptor, reply);
    if (!cancel)
        return -1;
    billing_check_enum (reply, "reason", cancel->reason, s_reasons, true);
    if (*cancel->comment)
        billing_check_text (reply, "comment", cancel->comment, 1000);
    pg_t *db = request->db;
    int64_t now = billing_now (request);
    s_row_t row = { NULL, "", 0, 0, 0 };
    int rc = -1, found = 0;
    if (reply->status != KAIIN__STATUS__OK)
        ;
    else
    if (!billing_uuid (cancel->id) || billing_begin (db) == -1
    ||  (found = s_row_load (db, cancel->id, &row)) != 1) {
        if (found == -1 || *pg_sqlstate (db))
            svc_db_fail (reply, db);
        else
            svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "subscription not found");
    }
    else
    if (cancel->if_version && cancel->if_version != row.sub->version)
        svc_fail (reply, KAIIN__STATUS__ABORTED, "the subscription was changed meanwhile");
    else
    if (strcmp (row.sub->status, "canceled") == 0)
        svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION, "the subscription is canceled already");
    else {
        s_set (&row.sub->cancel_reason, cancel->reason);
        s_set (&row.sub->cancel_comment, cancel->comment);
        row.sub->canceled_at_ms = now;
        bool later = cancel->at_period_end && billing_one_of (row.sub->status,
            (const char *const []) { "trialing", "active", "past_due", NULL });
        int done = later
            ? (row.sub->cancel_at_period_end = true,
               s_row_write (db, &row, now) == 0 && s_event (db, row.sub->id, "subscription.updated", now) == 0? 0: -1)
            : s_end (db, &row, now);
        if (done == 0 && billing_commit (db) == 0)
            rc = s_reply_sub (request, reply, row.sub->id);
    }
    if (rc == -1) {
        pg_rollback (db);
        if (reply->status == KAIIN__STATUS__OK)
            svc_db_fail (reply, db);
    }
    s_row_free (&row);
    protobuf_c_message_free_unpacked (&cancel->base, NULL);
    return rc;
}

int
subscription_api_change_plan (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__SubscriptionChangePlanRequest *change = (Kaiin__Billing__SubscriptionChangePlanRequest *)
        svc_unpack (request, &kaiin__billing__subscription_change_plan_request__descriptor, reply);
    if (!change)
        return -1;
    pg_t *db = request->db;
    int64_t now = billing_now (request);
    s_row_t row = { NULL, "", 0, 0, 0 };
    Kaiin__Billing__Plan *old_plan = NULL, *new_plan = NULL;
    Kaiin__Billing__PaymentMethod *method = NULL;
    Kaiin__Billing__Invoice *invoice = NULL;
    Kaiin__Billing__Payment *payment = NULL;
    int rc = -1, found = 0;
    if (!*change->plan)
        svc_field_error (reply, "plan", "is required");
    if (reply->status != KAIIN__STATUS__OK)
        goto done;
    if (!billing_uuid (change->id) || billing_begin (db) == -1 || (found = s_row_load (db, change->id, &row)) != 1) {
        if (found == -1 || *pg_sqlstate (db))
            svc_db_fail (reply, db);
        else
            svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "subscription not found");
        goto done;
    }
    if (change->if_version && change->if_version != row.sub->version) {
        svc_fail (reply, KAIIN__STATUS__ABORTED, "the subscription was changed meanwhile");
        goto done;
    }
    if (!billing_one_of (row.sub->status, (const char *const []) { "trialing", "active", NULL })) {
        svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION, "only a trialing or active subscription can change plan");
        goto done;
    }
    if (!(old_plan = plan_find (request, reply, row.sub->plan_id, NULL))
    ||  !(new_plan = plan_find (request, reply, change->plan, "plan")))
        goto done;
    if (strcmp (new_plan->status, "active") != 0 || strcmp (new_plan->id, old_plan->id) == 0) {
        svc_field_error (reply, "plan", "must be another active plan");
        goto done;
    }
    s_set (&row.sub->plan_id, new_plan->id);
    int64_t charge = 0;
    bool same_cycle = strcmp (old_plan->interval, new_plan->interval) == 0
                   && old_plan->interval_count == new_plan->interval_count;
    if (strcmp (row.sub->status, "active") == 0 && !change->no_proration) {
        /* 日割: the unused days of the old plan are credited, the new plan's charged. */
        int64_t start = row.sub->current_period_start_ms, end = row.sub->current_period_end_ms;
        int64_t period_days = (end - start) / DAY_MS;
        int64_t remaining = (end - now + DAY_MS - 1) / DAY_MS;
        if (period_days < 1)
            period_days = 1;
        if (remaining > period_days)
            remaining = period_days;
        int64_t credit = s_gross (old_plan) * remaining / period_days;
        if (same_cycle)
            charge = s_gross (new_plan) * remaining / period_days - credit;
        else {
            charge = s_gross (new_plan) - credit;
            row.sub->current_period_start_ms = now;
            row.sub->current_period_end_ms = billing_period_end (now, new_plan->interval,
                new_plan->interval_count, billing_day_of_month (now));
            row.anchor_day = billing_day_of_month (now);
        }
        if (charge < 0) {
            row.credit_balance += -charge;
            charge = 0;
        }
    }
    if (charge > 0) {
        /* The difference is charged at once, at the new plan's rate, tax included. */
        Kaiin__Billing__InvoiceLine line = KAIIN__BILLING__INVOICE_LINE__INIT, *lines [] = { &line };
        char description [200];
        snprintf (description, sizeof description, "%s → %s (日割)", old_plan->name, new_plan->name);
        line.description = description;
        line.sku = new_plan->code;
        line.quantity = 1;
        line.unit_amount = line.amount = charge;
        line.tax_rate = new_plan->tax_rate;
        line.period_start_ms = now;
        line.period_end_ms = row.sub->current_period_end_ms;
        invoice_spec_t spec = { row.sub->member_id, row.sub->id, "", "subscription_update", "inclusive",
                                lines, 1, now, row.sub->current_period_end_ms, 0, true, true };
        char key [128], status [16], version [80];
        snprintf (version, sizeof version, "%s:%lld", row.sub->id, (long long) row.sub->version);
        billing_provider_key (request, "change", version, key, sizeof key);
        if (!(method = payment_method_find (request, reply, row.sub->member_id, row.sub->payment_method_id,
                                            "payment_method_id"))
        ||  !(invoice = invoice_insert (db, &spec, now)))
            goto done;
        payment = payment_collect (db, invoice, method, key, now, status);
        if (!payment && strcmp (status, "paid") != 0)
            goto done;
        if (strcmp (status, "succeeded") != 0 && strcmp (status, "paid") != 0) {
            svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION, "the prorated charge of %lld yen was not paid (%s): the plan is unchanged",
                      (long long) charge, payment && *payment->failure_code? payment->failure_code: status);
            goto done;
        }
    }
    if (s_row_write (db, &row, now) == 0 && s_event (db, row.sub->id, "subscription.updated", now) == 0
    &&  billing_commit (db) == 0)
        rc = s_reply_sub (request, reply, row.sub->id);
done:
    if (rc == -1) {
        pg_rollback (db);
        if (reply->status == KAIIN__STATUS__OK)
            svc_db_fail (reply, db);
    }
    if (payment)
        protobuf_c_message_free_unpacked (&payment->base, NULL);
    if (invoice)
        protobuf_c_message_free_unpacked (&invoice->base, NULL);
    if (method)
        protobuf_c_message_free_unpacked (&method->base, NULL);
    if (old_plan)
        protobuf_c_message_free_unpacked (&old_plan->base, NULL);
    if (new_plan)
        protobuf_c_message_free_unpacked (&new_plan->base, NULL);
    s_row_free (&row);
    protobuf_c_message_free_unpacked (&change->base, NULL);
    return rc;
}

/* ---- what payments tell subscriptions ---- */

int
subscription_invoice_paid (pg_t *db, const char *subscription_id, int64_t now_ms)
{
    s_row_t row = { NULL, "", 0, 0, 0 };
    int found = s_row_load (db, subscription_id, &row);
    if (found != 1)
        return found;
    int rc = 0;
    const char *status = row.sub->status;
    if (billing_one_of (status, (const char *const []) { "incomplete", "past_due", "unpaid", NULL })) {
        const char *type = strcmp (status, "incomplete") == 0? "subscription.started": "subscription.updated";
        s_set (&row.sub->status, "active");
        row.sub->retry_count = 0;
        row.sub->next_retry_at_ms = 0;
        rc = s_row_write (db, &row, now_ms) == 0 && s_event (db, subscription_id, type, now_ms) == 0? 0: -1;
    }
    s_row_free (&row);
    return rc;
}

int
subscription_payment_failed (pg_t *db, const char *subscription_id, const char *invoice_id,
                             int64_t now_ms)
{
    s_row_t row = { NULL, "", 0, 0, 0 };
    int found = s_row_load (db, subscription_id, &row);
    if (found != 1)
        return found;
    Kaiin__Billing__Settings *settings = settings_load (db);
    Kaiin__Billing__Invoice *invoice = invoice_load (db, invoice_id, false);
    int rc = -1;
    const char *status = row.sub->status;
    if (!settings || !invoice)
        ;
    else
    if (strcmp (status, "incomplete") == 0 || strcmp (status, "canceled") == 0 || strcmp (status, "unpaid") == 0)
        rc = 0;                     /* incomplete expires by itself; nothing else retries */
    else {
        int attempt = strcmp (status, "past_due") == 0? row.sub->retry_count + 1: 0;
        row.sub->retry_count = attempt;
        if ((size_t) attempt >= settings->n_retry_days) {
            if (strcmp (settings->final_action, "unpaid") == 0) {
                s_set (&row.sub->status, "unpaid");
                row.sub->next_retry_at_ms = 0;
                rc = s_row_write (db, &row, now_ms) == 0
                  && s_event (db, subscription_id, "subscription.updated", now_ms) == 0? 0: -1;
            }
            else
                rc = invoice_set_status (db, invoice_id, "uncollectible", now_ms) == 0
                  && s_end (db, &row, now_ms) == 0? 0: -1;
        }
        else {
            /* Retries count from the invoice's issue: +1, +3, +7 days by default. */
            s_set (&row.sub->status, "past_due");
            row.sub->next_retry_at_ms = invoice->issued_at_ms + settings->retry_days [attempt] * DAY_MS;
            if (row.sub->next_retry_at_ms <= now_ms)
                row.sub->next_retry_at_ms = now_ms + DAY_MS;
            rc = s_row_write (db, &row, now_ms) == 0
              && (attempt > 0 || s_event (db, subscription_id, "subscription.updated", now_ms) == 0)? 0: -1;
        }
    }
    if (invoice)
        protobuf_c_message_free_unpacked (&invoice->base, NULL);
    if (settings)
        protobuf_c_message_free_unpacked (&settings->base, NULL);
    s_row_free (&row);
    return rc;
}

/* ---- the scheduler ---- */

/* Subscriptions a scheduler batch has renewed, written in one statement before it commits:
   their columns as array literals. */
enum { W_ID, W_STATUS, W_START, W_END, W_PERIODS, W_CREDIT, W_INVOICE, W_RETRIES, W_RETRY_AT, W_COLUMNS };
static __thread struct {
    size_t count;
    pg_buffer_t columns [W_COLUMNS];
} s_writes;

static void
s_writes_clear (void)
{
    for (int i = 0; i < W_COLUMNS; i++) {
        free (s_writes.columns [i].text);
        memset (&s_writes.columns [i], 0, sizeof s_writes.columns [i]);
    }
    s_writes.count = 0;
}

static void
s_write_column (int column, const char *text)
{
    pg_buffer_t *buffer = &s_writes.columns [column];
    pg_buffer_append (buffer, buffer->used? ",": "{", 1);
    pg_buffer_append (buffer, text, strlen (text));
}

/* Holds the row's write for the batch (only what a renewal changes). Returns 0. */
static int
s_row_defer (const s_row_t *row)
{
    const Kaiin__Billing__Subscription *sub = row->sub;
    char number [24];
    s_write_column (W_ID, sub->id);
    s_write_column (W_STATUS, sub->status);
    s_write_column (W_START, NUM (number, sub->current_period_start_ms));
    s_write_column (W_END, NUM (number, sub->current_period_end_ms));
    s_write_column (W_PERIODS, row->coupon_periods_left < 0? "NULL": NUM (number, row->coupon_periods_left));
    s_write_column (W_CREDIT, NUM (number, row->credit_balance));
    s_write_column (W_INVOICE, sub->latest_invoice_id);
    s_write_column (W_RETRIES, NUM (number, sub->retry_count));
    s_write_column (W_RETRY_AT, NUM (number, sub->next_retry_at_ms));
    s_writes.count++;
    return 0;
}

/* Writes the batch's held rows. 0 or -1. */
static int
s_writes_flush (pg_t *db, int64_t now_ms)
{
    if (s_writes.count == 0)
        return 0;
    for (int i = 0; i < W_COLUMNS; i++)
        pg_buffer_append (&s_writes.columns [i], "}", 2);      /* with the NUL */
    char now [24];
    const char *params [W_COLUMNS + 1];
    for (int i = 0; i < W_COLUMNS; i++)
        params [i] = s_writes.columns [i].text;
    params [W_COLUMNS] = NUM (now, now_ms);
    PGresult *result = pg_run (db, "sub_write_many", W_COLUMNS + 1, params);
    s_writes_clear ();
    PQclear (result);
    return result? 0: -1;
}

/* Collects a subscription's invoice with its method; a failure goes to dunning. With
   write_row, the row is written first on a failure, and with its batch otherwise (a renewal);
   without, the caller wrote it before (a retry, whose success the invoice's payment applies). */
static int
s_collect (svc_request_t *request, s_row_t *row, const Kaiin__Billing__Invoice *invoice,
           Kaiin__Billing__PaymentMethod *method, const char *key, int64_t now_ms, bool write_row,
           char status [16])
{
    Kaiin__Billing__Payment *payment = NULL;
    snprintf (status, 16, "failed");
    if (method)
        payment = payment_collect (request->db, invoice, method, key, now_ms, status);
    else
    if (invoice_announce (request->db, invoice, now_ms) == -1)
        return -1;
    int rc = 0;
    if (method && !payment && strcmp (status, "paid") != 0)
        rc = -1;
    else
    if (strcmp (status, "failed") == 0)
        rc = (!write_row || s_row_write (request->db, row, now_ms) == 0)
          && subscription_payment_failed (request->db, row->sub->id, invoice->id, now_ms) == 0? 0: -1;
    else
    if (write_row)
        rc = s_row_defer (row);
    if (payment)
        protobuf_c_message_free_unpacked (&payment->base, NULL);
    return rc;
}

/* The plans a scheduler batch renews to, loaded once per batch. */
static __thread struct {
    Kaiin__Billing__Plan *plans [8];
    int count;
} s_plans;

static void
s_plans_clear (void)
{
    for (int i = 0; i < s_plans.count; i++)
        protobuf_c_message_free_unpacked (&s_plans.plans [i]->base, NULL);
    s_plans.count = 0;
}

/* The plan, from the batch's cache (borrowed) or loaded into it; NULL on an error. */
static const Kaiin__Billing__Plan *
s_plan (svc_request_t *request, svc_reply_t *reply, const char *id)
{
    for (int i = 0; i < s_plans.count; i++)
        if (strcmp (s_plans.plans [i]->id, id) == 0)
            return s_plans.plans [i];
    Kaiin__Billing__Plan *plan = plan_find (request, reply, id, NULL);
    if (plan && s_plans.count == (int) (sizeof s_plans.plans / sizeof s_plans.plans [0]))
        s_plans_clear ();
    if (plan)
        s_plans.plans [s_plans.count++] = plan;
    return plan;
}

/* Ends the period of a locked subscription: cancels it, or invoices and charges the next. */
static int
s_renew (svc_request_t *request, PGresult *due, int index, int64_t now_ms)
{
    pg_t *db = request->db;
    s_row_t row = { NULL, "", 0, 0, 0 };
    s_row_from (due, index, &row);
    Kaiin__Billing__PaymentMethod *method = s_row_method (due, index);
    int rc = -1;
    const Kaiin__Billing__Plan *plan = NULL;
    Kaiin__Billing__Coupon *coupon = NULL;
    Kaiin__Billing__Invoice *invoice = NULL;
    svc_reply_t reply;
    memset (&reply, 0, sizeof reply);
    if (row.sub->cancel_at_period_end) {
        int64_t end = row.sub->current_period_end_ms;
        rc = s_end (db, &row, end);
        goto done;
    }
    if (!(plan = s_plan (request, &reply, row.sub->plan_id)))
        goto done;
    bool from_trial = strcmp (row.sub->status, "trialing") == 0;
    int64_t start = row.sub->current_period_end_ms;
    int64_t end = billing_period_end (start, plan->interval, plan->interval_count, row.anchor_day);
    coupon = s_active_coupon (request, &row);
    Kaiin__Billing__InvoiceLine line, *lines [] = { &line };
    char description [160];
    const char *tax_mode = s_period_line (&line, plan, coupon, &row.credit_balance, start, end, description);
    invoice_spec_t spec = { row.sub->member_id, row.sub->id, "", from_trial? "subscription_create": "subscription_cycle",
                            tax_mode, lines, 1, start, end, 0, true, true, NULL };
    char key [96], status [16];
    snprintf (key, sizeof key, "renewal:%s:%lld", row.sub->id, (long long) start);
    /* A card is charged first: paid, the invoice and its payment are written in one statement.
       Anything else (declined, konbini, nothing due) is invoiced open and collected below, the
       provider answering the same key with the same outcome. */
    provider_charge_t charge;
    invoice_paid_by_t paid_by;
    int64_t total = invoice_total (lines, 1, tax_mode);
    if (method && strcmp (method->type, "card") == 0 && total > 0) {
        if (payment_charge (db, method, total, key, now_ms, false, &charge) == -1)
            goto done;
        if (strcmp (charge.status, "succeeded") == 0) {
            paid_by = (invoice_paid_by_t) { method->id, method->type, method->provider, charge.provider_ref, "" };
            spec.paid_by = &paid_by;
        }
    }
    if (!(invoice = invoice_insert (db, &spec, now_ms)))
        goto done;
    if (coupon && row.coupon_periods_left > 0)
        row.coupon_periods_left--;
    s_set (&row.sub->status, "active");
    s_set (&row.sub->latest_invoice_id, invoice->id);
    row.sub->current_period_start_ms = start;
    row.sub->current_period_end_ms = end;
    row.sub->retry_count = 0;
    row.sub->next_retry_at_ms = 0;
    if (spec.paid_by) {
        snprintf (status, sizeof status, "succeeded");
        if (payment_paid_event (db, invoice, method, &charge, paid_by.payment_id, now_ms) == -1
        ||  s_row_defer (&row) == -1)
            goto done;
    }
    else
    if (s_collect (request, &row, invoice, method, key, now_ms, true, status) == -1)
        goto done;
    /* The row as written, with the member's entitlement read with it: a renewal leaves the
       subscription live, so the entitlement is what it was (a failure's event is
       subscription_payment_failed's). */
    row.sub->version++;
    row.sub->updated_at_ms = now_ms;
    rc = strcmp (status, "failed") == 0? 0
       : outbox_append (db, from_trial? "subscription.started": "subscription.renewed", row.sub->id,
                        &row.sub->base, now_ms);
done:
    if (invoice)
        protobuf_c_message_free_unpacked (&invoice->base, NULL);
    if (coupon)
        protobuf_c_message_free_unpacked (&coupon->base, NULL);
    if (method)
        protobuf_c_message_free_unpacked (&method->base, NULL);
    s_row_free (&row);
    return rc;
}

/* A dunning retry of a past_due subscription's open invoice. */
static int
s_retry (svc_request_t *request, PGresult *due, int index, int64_t now_ms)
{
    pg_t *db = request->db;
    s_row_t row = { NULL, "", 0, 0, 0 };
    s_row_from (due, index, &row);
    const char *id = row.sub->id;
    Kaiin__Billing__PaymentMethod *method = s_row_method (due, index);
    Kaiin__Billing__Invoice *invoice = invoice_load (db, row.sub->latest_invoice_id, true);
    int rc = -1;
    char key [128], status [16];
    if (invoice && strcmp (invoice->status, "open") != 0)
        rc = subscription_invoice_paid (db, id, now_ms);
    else
    if (invoice) {
        /* Pending (konbini) payments are not retried: their expiry comes back here. */
        row.sub->next_retry_at_ms = 0;
        snprintf (key, sizeof key, "renewal:%s:%lld:%d", row.sub->id,
                  (long long) row.sub->current_period_start_ms, row.sub->retry_count + 1);
        rc = s_row_write (db, &row, now_ms) == 0? s_collect (request, &row, invoice, method, key, now_ms, false, status): -1;
    }
    if (invoice)
        protobuf_c_message_free_unpacked (&invoice->base, NULL);
    if (method)
        protobuf_c_message_free_unpacked (&method->base, NULL);
    s_row_free (&row);
    return rc;
}

static int
s_expire_incomplete (svc_request_t *request, PGresult *due, int index, int64_t now_ms)
{
    s_row_t row = { NULL, "", 0, 0, 0 };
    s_row_from (due, index, &row);
    int rc = s_end (request->db, &row, now_ms);
    s_row_free (&row);
    return rc;
}

typedef int (s_step_fn) (svc_request_t *request, PGresult *due, int index, int64_t now_ms);

/* One batch of due subscriptions from statement, each stepped, in one transaction. When none
   is free but some are locked by another thread's (or a dead process's) batch, it waits a
   moment and answers 1, so that whoever waits for all due work (the test clock) waits for
   that batch too. */
static int
s_batch (pg_t *db, const char *statement, int64_t due_ms, s_step_fn *step, int64_t now_ms)
{
    Kaiin__Request envelope = KAIIN__REQUEST__INIT;
    envelope.now_ms = now_ms;
    envelope.request_id = "scheduler";
    svc_request_t request = { &envelope, db };
    char due [24];
    const char *params [] = { NUM (due, due_ms) };
    if (billing_begin (db) == -1)
        return -1;
    /* The batch runs the same statements hundreds of times with like parameters: planning
       each (PostgreSQL's custom plans) cost a fifth of a renewal run. */
    if (pg_exec (db, "set local plan_cache_mode = force_generic_plan") == -1) {
        pg_rollback (db);
        return -1;
    }
    outbox_defer (true);                /* the batch's events go in one statement */
    s_writes_clear ();
    PGresult *result = pg_run (db, statement, 1, params);
    int done = result? PQntuples (result): -1;
    for (int row = 0; row < done; row++)
        if (step (&request, result, row, now_ms) == -1)
            done = -1;
    PQclear (result);
    s_plans_clear ();
    if (done >= 0 && (s_writes_flush (db, now_ms) == -1 || outbox_flush (db) == -1))
        done = -1;
    s_writes_clear ();
    if (done == 0) {
        char any [48];
        snprintf (any, sizeof any, "%s_any", statement);
        PGresult *locked = pg_run (db, any, 1, params);
        if (!locked)
            done = -1;
        else
        if (PQntuples (locked) > 0) {
            usleep (20 * 1000);
            done = 1;
        }
        PQclear (locked);
    }
    outbox_defer (false);
    if (done < 0 || billing_commit (db) == -1) {
        pg_rollback (db);
        return -1;
    }
    return done;
}

int
subscription_tick (pg_t *db, int64_t now_ms)
{
    int renewed = s_batch (db, "sub_due", now_ms, s_renew, now_ms);
    int retried = renewed < 0? -1: s_batch (db, "sub_retry_due", now_ms, s_retry, now_ms);
    int expired = retried < 0? -1: s_batch (db, "sub_incomplete_due", now_ms - SUBSCRIPTION_INCOMPLETE_MS, s_expire_incomplete, now_ms);
    return expired < 0? -1: renewed + retried + expired;
}
