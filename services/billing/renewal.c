/* renewal.c - the scheduled work on subscriptions, in batches: renewals and cancellations at
   period end, dunning retries, incomplete subscriptions that expire */
#include "renewal.h"
#include "billing_txn.h"
#include "dunning.h"
#include "invoice.h"
#include "log.h"
#include "outbox.h"
#include "payment.h"
#include "plan.h"
#include "proration.h"
#include "subscription.h"
#include "terms.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH "500"
/* The payment method a scheduled charge uses: the subscription's own, else the member's
   default (joined as columns method_*). Lateral, so that each is found by its index: a plain
   join on a computed id hashes the whole table. */
#define METHOD_OF_SUB \
    " left join lateral (select x.* from payment_methods x where x.status = 'active'" \
    "  and (x.id = s.payment_method_id or (x.member_id = s.member_id and x.is_default))" \
    "  order by x.id = s.payment_method_id desc limit 1) m on true"
/* A company's payment terms in force (terms.c), as columns terms_*: 0 when it has none. */
#define TERMS_OF_SUB " left join payment_terms t on t.member_id = s.member_id and t.company"
#define TERMS_COLUMNS " coalesce (t.closing_day, 0) as terms_closing_day, coalesce (t.due_months, 0) as terms_due_months," \
    " coalesce (t.due_day, 0) as terms_due_day, coalesce (t.due_days, 0) as terms_due_days," \
    " coalesce (t.consolidate, false) as terms_consolidate"
#define METHOD_COLUMNS " m.id as method_id, m.type as method_type, m.provider as method_provider," \
    " m.token as method_token, m.exp_month as method_exp_month, m.exp_year as method_exp_year," \
    " m.member_id as method_member_id, m.customer_ref as method_customer_ref"

/* A charge of subscription x's period starting at start that another live backend is making
   now: an intent it created and has not answered (a crashed backend's is taken over). */
#define INTENT_HELD_ELSEWHERE(start) \
    "select 1 from payment_intents i where i.subscription_id = x.id and i.period_start = " start \
    " and i.state = 'created' and i.claimed_by <> pg_backend_pid ()" \
    " and exists (select 1 from pg_stat_activity a where a.pid = i.claimed_by)"

void
renewal_prepare (pg_t *db)
{
    pg_prepare (db, "sub_write_many",
            "update subscriptions s set status = w.status, current_period_start = " AT ("w.period_start") ","
            " current_period_end = " AT ("w.period_end") ", coupon_periods_left = w.periods,"
            " credit_balance = w.credit, latest_invoice_id = w.invoice, retry_count = w.retries,"
            " next_retry_at = " AT ("w.retry_at") ", updated_at = " AT ("$10") ", version = s.version + 1"
            " from unnest ($1::uuid [], $2::text [], $3::bigint [], $4::bigint [], $5::int [], $6::bigint [],"
            " $7::uuid [], $8::int [], $9::bigint []) as w (id, status, period_start, period_end, periods,"
            " credit, invoice, retries, retry_at) where s.id = w.id");
    /* The scheduler's batches: the due subscriptions themselves, locked, each with the
       payment method it is charged with (its own, else the member's default). */
    /* A retry batch claimed to be charged ahead, as sub_due_claim below, with what the
       subscription's open invoice still owes; then the same rows, by id, retried. */
    pg_prepare (db, "sub_retry_claim",
            "with due as (select x.id from subscriptions x where x.status = 'past_due'"
            "  and x.next_retry_at <= " AT ("$1") " and not exists (" INTENT_HELD_ELSEWHERE ("x.current_period_start") ")"
            "  order by x.next_retry_at limit " BATCH " for update skip locked)"
            " select " SUBSCRIPTION_COLUMNS ", " METHOD_COLUMNS ", v.status as invoice_status,"
            " v.total - v.amount_paid as invoice_due from due join subscriptions s on s.id = due.id"
            " join plans p on p.id = s.plan_id" METHOD_OF_SUB " left join invoices v on v.id = s.latest_invoice_id");
    pg_prepare (db, "sub_retry_ids",
            "with due as (select id from subscriptions where id = any ($2::uuid []) and status = 'past_due'"
            "  and next_retry_at <= " AT ("$1") " order by next_retry_at, id for update)"
            " select " SUBSCRIPTION_COLUMNS ", " METHOD_COLUMNS " from due join subscriptions s on s.id = due.id"
            " join plans p on p.id = s.plan_id" METHOD_OF_SUB);
    pg_prepare (db, "sub_incomplete_due",
            "with due as (select x.id from subscriptions x where x.status = 'incomplete' and x.created_at <= " AT ("$1")
            "  and not exists (select 1 from payments y where y.invoice_id = x.latest_invoice_id and y.status = 'pending')"
            "  order by x.created_at limit " BATCH " for update skip locked)"
            " select " SUBSCRIPTION_COLUMNS " from due join subscriptions s on s.id = due.id join plans p on p.id = s.plan_id");
    /* A batch claimed to be charged ahead (s_charge_ahead): due subscriptions, locked, but
       not those whose charge another live backend holds (claimed and not answered yet: it is
       calling the provider for them now). Then the same rows, by id, renewed. */
    pg_prepare (db, "sub_due_claim",
            "with due as (select x.id from subscriptions x where x.status in ('trialing', 'active')"
            "  and x.current_period_end <= " AT ("$1")
            "  and not exists (" INTENT_HELD_ELSEWHERE ("x.current_period_end") ")"
            "  order by x.current_period_end limit " BATCH " for update skip locked)"
            " select " SUBSCRIPTION_COLUMNS ", " METHOD_COLUMNS ", " TERMS_COLUMNS
            " from due join subscriptions s on s.id = due.id"
            " join plans p on p.id = s.plan_id" METHOD_OF_SUB TERMS_OF_SUB);
    pg_prepare (db, "sub_due_ids",
            "with due as (select id from subscriptions where id = any ($2::uuid []) and status in ('trialing', 'active')"
            "  and current_period_end <= " AT ("$1") " order by current_period_end, id for update)"
            " select " SUBSCRIPTION_COLUMNS ", " METHOD_COLUMNS ", " TERMS_COLUMNS ", " SUBSCRIPTION_ENTITLEMENT
            " from due join subscriptions s on s.id = due.id"
            " join plans p on p.id = s.plan_id" METHOD_OF_SUB TERMS_OF_SUB);
    /* Due rows at all, locked by another thread's batch or not: see s_batch. */
    pg_prepare (db, "sub_due_ids_any",
            "select 1 from subscriptions where status in ('trialing', 'active')"
            " and current_period_end <= " AT ("$1") " limit 1");
    pg_prepare (db, "sub_retry_ids_any",
            "select 1 from subscriptions where status = 'past_due' and next_retry_at <= " AT ("$1") " limit 1");
    pg_prepare (db, "sub_incomplete_due_any",
            "select 1 from subscriptions s where s.status = 'incomplete' and s.created_at <= " AT ("$1")
            " and not exists (select 1 from payments y where y.invoice_id = s.latest_invoice_id and y.status = 'pending')"
            " limit 1");
    pg_prepare (db, "sub_coupon",
            "select id, code, percent_off, amount_off, duration, duration_in_months from coupons where id = $1");
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
    method->member_id = strdup (PQgetvalue (result, index, PQfnumber (result, "method_member_id")));
    method->customer_ref = strdup (PQgetvalue (result, index, PQfnumber (result, "method_customer_ref")));
    return method;
}

/* The company's payment terms a scheduler row carries (columns terms_*): closing_day 0 when none. */
static void
s_row_terms (PGresult *result, int index, terms_t *terms)
{
    terms->closing_day = atoi (PQgetvalue (result, index, PQfnumber (result, "terms_closing_day")));
    terms->due_months = atoi (PQgetvalue (result, index, PQfnumber (result, "terms_due_months")));
    terms->due_day = atoi (PQgetvalue (result, index, PQfnumber (result, "terms_due_day")));
    terms->due_days = atoi (PQgetvalue (result, index, PQfnumber (result, "terms_due_days")));
    terms->consolidate = strcmp (PQgetvalue (result, index, PQfnumber (result, "terms_consolidate")), "t") == 0;
}

/* Loads the coupon a subscription still gets a discount from, or NULL. */
static Kaiin__Billing__Coupon *
s_active_coupon (svc_request_t *request, const subscription_row_t *row)
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
    pg_array_add (&s_writes.columns [column], text, false);
}

/* Holds the row's write for the batch (only what a renewal changes). Returns 0. */
static int
s_row_defer (const subscription_row_t *row)
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
    char now [24];
    PGresult *result = pg_run_arrays (db, "sub_write_many", s_writes.columns, W_COLUMNS, NUM (now, now_ms));
    s_writes_clear ();
    PQclear (result);
    return result? 0: -1;
}

/* Collects a subscription's invoice with its method; a failure goes to dunning. With
   write_row, the row is written first on a failure, and with its batch otherwise (a renewal);
   without, the caller wrote it before (a retry, whose success the invoice's payment applies). */
static int
s_collect (svc_request_t *request, subscription_row_t *row, const Kaiin__Billing__Invoice *invoice,
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
        rc = (!write_row || subscription_row_write (request->db, row, now_ms) == 0)
          && dunning_payment_failed (request->db, row->sub->id, invoice->id, now_ms) == 0? 0: -1;
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

/* The next period of a due subscription row: its plan, line and total, and the key its
   charge is made with (the same on every run). */
typedef struct {
    const Kaiin__Billing__Plan *plan;       /* borrowed from the batch's cache */
    Kaiin__Billing__Coupon *coupon;         /* owned: s_period_free */
    Kaiin__Billing__InvoiceLine line;
    char description [160];
    const char *tax_mode;
    int64_t start, end, total;
    char key [96];
} s_period_t;

/* Works out row's next period; the row's credit balance is what is left after it. 0 or -1. */
static int
s_period (svc_request_t *request, subscription_row_t *row, s_period_t *period)
{
    svc_reply_t reply;
    memset (&reply, 0, sizeof reply);
    memset (period, 0, sizeof *period);
    if (!(period->plan = s_plan (request, &reply, row->sub->plan_id)))
        return -1;
    period->start = row->sub->current_period_end_ms;
    period->end = billing_period_end (period->start, period->plan->interval, period->plan->interval_count,
                                      row->anchor_day);
    period->coupon = s_active_coupon (request, row);
    Kaiin__Billing__InvoiceLine *lines [] = { &period->line };
    period->tax_mode = proration_period_line (&period->line, period->plan, period->coupon, &row->credit_balance,
                                              period->start, period->end, period->description);
    period->total = invoice_total (lines, 1, period->tax_mode);
    snprintf (period->key, sizeof period->key, "renewal:%s:%lld", row->sub->id, (long long) period->start);
    return 0;
}

static void
s_period_free (s_period_t *period)
{
    if (period->coupon)
        protobuf_c_message_free_unpacked (&period->coupon->base, NULL);
    period->coupon = NULL;
}

/* Whether the renewal is charged to a card at once: a card, something due, no payment terms. */
static bool
s_charged_at_once (const Kaiin__Billing__PaymentMethod *method, const terms_t *terms, int64_t total)
{
    return method && strcmp (method->type, "card") == 0 && total > 0 && !terms->closing_day;
}

/* Ends the period of a locked subscription: cancels it, or invoices and charges the next. Its
   charge (a card's, or a konbini's or bank transfer's slip) was made before the batch's
   transaction, as a payment intent (s_charge_ahead): payment_charge answers its outcome
   without calling the provider. */
static int
s_renew (svc_request_t *request, PGresult *due, int index, int64_t now_ms)
{
    pg_t *db = request->db;
    subscription_row_t row = { NULL, "", 0, 0, 0 };
    subscription_row_from (due, index, &row);
    Kaiin__Billing__PaymentMethod *method = s_row_method (due, index);
    int rc = -1;
    s_period_t period = { 0 };
    Kaiin__Billing__Invoice *invoice = NULL;
    if (row.sub->cancel_at_period_end) {
        int64_t end = row.sub->current_period_end_ms;
        rc = subscription_end (db, &row, end);
        goto done;
    }
    if (s_period (request, &row, &period) == -1)
        goto done;
    bool from_trial = strcmp (row.sub->status, "trialing") == 0;
    Kaiin__Billing__InvoiceLine *lines [] = { &period.line };
    invoice_spec_t spec = { row.sub->member_id, row.sub->id, "", from_trial? "subscription_create": "subscription_cycle",
                            period.tax_mode, lines, 1, period.start, period.end, 0, true, true, NULL };
    char status [16];
    /* A card is charged first: paid, the invoice and its payment are written in one statement.
       Anything else (declined, konbini, nothing due) is invoiced open and collected below, the
       provider answering the same key with the same outcome. */
    provider_charge_t charge;
    invoice_paid_by_t paid_by;
    /* A company on payment terms is invoiced, due on its terms and paid by bank transfer:
       nothing is charged, the invoice is announced open and the period renewed. */
    terms_t terms;
    s_row_terms (due, index, &terms);
    if (terms.closing_day) {
        /* gathered (合算請求) by the period it falls due in, however late the tick runs */
        spec.closing_ms = terms_gather_ms (&terms, period.start);
        spec.due_at_ms = terms_due_ms (&terms, spec.closing_ms? period.start: now_ms, NULL);
        spec.collect_now = false;
    }
    else
    if (s_charged_at_once (method, &terms, period.total)) {
        if (payment_charge (db, method, period.total, period.key, now_ms, false, &charge) == -1)
            goto done;
        if (strcmp (charge.status, "succeeded") == 0) {
            paid_by = (invoice_paid_by_t) { method->id, method->type, method->provider, charge.provider_ref, "" };
            spec.paid_by = &paid_by;
        }
    }
    if (!(invoice = invoice_insert (db, &spec, now_ms)))
        goto done;
    if (period.coupon && row.coupon_periods_left > 0)
        row.coupon_periods_left--;
    billing_string_set (&row.sub->status, "active");
    billing_string_set (&row.sub->latest_invoice_id, invoice->id);
    row.sub->current_period_start_ms = period.start;
    row.sub->current_period_end_ms = period.end;
    row.sub->retry_count = 0;
    row.sub->next_retry_at_ms = 0;
    if (spec.paid_by) {
        snprintf (status, sizeof status, "succeeded");
        if (payment_paid_event (db, invoice, method, &charge, paid_by.payment_id, now_ms) == -1
        ||  s_row_defer (&row) == -1)
            goto done;
    }
    else
    if (terms.closing_day) {
        snprintf (status, sizeof status, "invoiced");
        if (s_row_defer (&row) == -1)
            goto done;
    }
    else
    if (s_collect (request, &row, invoice, method, period.key, now_ms, true, status) == -1)
        goto done;
    /* The row as written, with the member's entitlement read with it: a renewal leaves the
       subscription live, so the entitlement is what it was (a failure's event is
       dunning_payment_failed's). */
    row.sub->version++;
    row.sub->updated_at_ms = now_ms;
    rc = strcmp (status, "failed") == 0? 0
       : outbox_append (db, from_trial? "subscription.started": "subscription.renewed", row.sub->id,
                        &row.sub->base, now_ms);
done:
    if (invoice)
        protobuf_c_message_free_unpacked (&invoice->base, NULL);
    s_period_free (&period);
    if (method)
        protobuf_c_message_free_unpacked (&method->base, NULL);
    subscription_row_free (&row);
    return rc;
}

/* The key of a past_due subscription's next retry: renewal:<id>:<period start>:<attempt>. */
static void
s_retry_key (const subscription_row_t *row, char *key, size_t size)
{
    snprintf (key, size, "renewal:%s:%lld:%d", row->sub->id, (long long) row->sub->current_period_start_ms,
              row->sub->retry_count + 1);
}

/* A dunning retry of a past_due subscription's open invoice. A card's charge was made before
   the batch's transaction (s_charge_ahead), as a renewal's is. */
static int
s_retry (svc_request_t *request, PGresult *due, int index, int64_t now_ms)
{
    pg_t *db = request->db;
    subscription_row_t row = { NULL, "", 0, 0, 0 };
    subscription_row_from (due, index, &row);
    const char *id = row.sub->id;
    Kaiin__Billing__PaymentMethod *method = s_row_method (due, index);
    Kaiin__Billing__Invoice *invoice = invoice_load (db, row.sub->latest_invoice_id, true);
    int rc = -1;
    char key [128], status [16];
    if (invoice && strcmp (invoice->status, "open") != 0)
        rc = dunning_invoice_paid (db, id, now_ms);
    else
    if (invoice) {
        /* Pending (konbini) payments are not retried: their expiry comes back here. */
        row.sub->next_retry_at_ms = 0;
        s_retry_key (&row, key, sizeof key);
        rc = subscription_row_write (db, &row, now_ms) == 0? s_collect (request, &row, invoice, method, key, now_ms, false, status): -1;
    }
    if (invoice)
        protobuf_c_message_free_unpacked (&invoice->base, NULL);
    if (method)
        protobuf_c_message_free_unpacked (&method->base, NULL);
    subscription_row_free (&row);
    return rc;
}

static int
s_expire_incomplete (svc_request_t *request, PGresult *due, int index, int64_t now_ms)
{
    subscription_row_t row = { NULL, "", 0, 0, 0 };
    subscription_row_from (due, index, &row);
    int rc = subscription_end (request->db, &row, now_ms);
    subscription_row_free (&row);
    return rc;
}

typedef int (s_step_fn) (svc_request_t *request, PGresult *due, int index, int64_t now_ms);

/* Steps the row in a savepoint of its own, its writes and events written in it, so that its
   failure is rolled back alone (with the invoices it gave to number and to announce). 0 or
   -1 (the row failed and was rolled back). */
static int
s_step_alone (svc_request_t *request, s_step_fn *step, PGresult *due, int index, int64_t now_ms)
{
    pg_t *db = request->db;
    billing_txn_mark_t mark = billing_txn_mark ();
    if (pg_part_begin (db) == -1)
        return -1;
    int rc = step (request, due, index, now_ms) == 0 && s_writes_flush (db, now_ms) == 0? 0: -1;
    s_writes_clear ();
    if (!pg_part_end (db, rc == 0))
        rc = -1;                        /* also when a write it deferred failed */
    if (rc == -1) {
        billing_txn_rewind (mark);
        log_error ("the scheduled work on subscription '%s' failed: rolled back alone, the rest of its"
                   " batch goes on", PQgetvalue (due, index, PQfnumber (due, "id")));
    }
    return rc;
}

/* One batch of due subscriptions from statement, each stepped, in one transaction. Its rows'
   writes and events go in one statement each (alone: each row in a savepoint of its own).
   Returns how many it did, -1 on an error, -2 when a row's step failed (not alone: the batch
   is rolled back, to run again alone), or 1 when none was free but some are locked by another
   thread's (or a dead process's) batch: it waits a moment, so that whoever waits for all due
   work (the test clock) waits for that batch too. Alone, a row that failed is left as it was
   and the batch, the others committed, answers -1. */
static int
s_batch_run (pg_t *db, const char *statement, const char *ids, int64_t due_ms, s_step_fn *step,
             int64_t now_ms, bool alone)
{
    Kaiin__Request envelope = KAIIN__REQUEST__INIT;
    envelope.now_ms = now_ms;
    envelope.request_id = "scheduler";
    svc_request_t request = { &envelope, db };
    char due [24];
    const char *params [] = { NUM (due, due_ms), ids };
    if (billing_begin (db) == -1)
        return -1;
    /* The batch runs the same statements hundreds of times with like parameters: planning
       each (PostgreSQL's custom plans) cost a fifth of a renewal run. */
    if (pg_exec (db, "set local plan_cache_mode = force_generic_plan") == -1) {
        pg_rollback (db);
        return -1;
    }
    outbox_defer (!alone);              /* the batch's events go in one statement */
    s_writes_clear ();
    PGresult *result = pg_run (db, statement, ids? 2: 1, params);
    int done = result? PQntuples (result): -1, failed = 0;
    for (int row = 0; row < done && (alone || !failed); row++)
        if ((alone? s_step_alone (&request, step, result, row, now_ms): step (&request, result, row, now_ms)) == -1)
            failed++;
    PQclear (result);
    s_plans_clear ();
    if (done >= 0 && (alone || !failed) && (s_writes_flush (db, now_ms) == -1 || outbox_flush (db) == -1))
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
    bool doomed = failed && !alone;
    if (doomed || done < 0 || billing_commit (db) == -1) {
        pg_rollback (db);
        return doomed? -2: -1;
    }
    return failed? -1: done;
}

/* A batch at once; when a row of it fails, the batch again with each row alone, so that one
   subscription's failure does not hold back the renewals of the rest. ids: the rows of
   statement's second parameter, or NULL. */
static int
s_batch (pg_t *db, const char *statement, const char *ids, int64_t due_ms, s_step_fn *step, int64_t now_ms)
{
    int done = s_batch_run (db, statement, ids, due_ms, step, now_ms, false);
    if (done == -2) {
        log_warn ("a batch of '%s' failed: it runs again, each subscription in a savepoint", statement);
        done = s_batch_run (db, statement, ids, due_ms, step, now_ms, true);
    }
    return done;
}

/* What a claimed row is charged ahead (s_charge_ahead): sets intent's key, period start and
   amount and answers 1, or 0 when nothing is charged ahead for it; -1 on an error. */
typedef int (s_intent_fn) (svc_request_t *request, PGresult *claimed, int index, subscription_row_t *row,
                           const Kaiin__Billing__PaymentMethod *method, payment_intent_t *intent);

/* A renewal's charge, or its slip (konbini, bank transfer): its next period's total, keyed
   renewal:<id>:<period start>. Not a company's on payment terms, nor nothing due. */
static int
s_renewal_intent (svc_request_t *request, PGresult *claimed, int index, subscription_row_t *row,
                  const Kaiin__Billing__PaymentMethod *method, payment_intent_t *intent)
{
    terms_t terms;
    s_row_terms (claimed, index, &terms);
    if (row->sub->cancel_at_period_end || !method || terms.closing_day)
        return 0;
    s_period_t period = { 0 };
    if (s_period (request, row, &period) == -1)
        return -1;
    int charged = period.total > 0;
    if (charged) {
        snprintf (intent->key, sizeof intent->key, "%s", period.key);
        intent->period_start_ms = period.start;
        intent->amount = period.total;
        intent->first_invoice = strcmp (row->sub->status, "trialing") == 0;
    }
    s_period_free (&period);
    return charged;
}

/* A dunning retry's charge: what the open invoice still owes, keyed as s_retry_key. Only a
   card's: a konbini or bank transfer waits for its slip, not retried. */
static int
s_retry_intent (svc_request_t *request, PGresult *claimed, int index, subscription_row_t *row,
                const Kaiin__Billing__PaymentMethod *method, payment_intent_t *intent)
{
    (void) request;
    long long owed = atoll (PQgetvalue (claimed, index, PQfnumber (claimed, "invoice_due")));
    if (!method || strcmp (method->type, "card") != 0 || owed <= 0
    ||  strcmp (PQgetvalue (claimed, index, PQfnumber (claimed, "invoice_status")), "open") != 0)
        return 0;
    s_retry_key (row, intent->key, sizeof intent->key);
    intent->period_start_ms = row->sub->current_period_start_ms;
    intent->amount = owed;
    return 1;
}

/* Charges a batch of due subscriptions ahead, with no transaction open while the provider
   answers: claims the batch (statement claim) and commits a payment intent for each card
   charge (intent_of: the key a pure function of the period and the attempt), then calls the
   provider for each and records the outcomes on the intents. The batch's ids go into ids (an
   array literal the caller frees), for s_renew or s_retry to step them in their transaction
   with those outcomes. A crash between leaves intents created, which a later tick claims
   (their backend gone) and charges with the same key: the provider answers its first
   outcome. The intents go into *intents_p (*count_p of them), which the caller frees with
   s_intents_free once the batch is stepped: payment_charge reads their recorded outcomes
   there. Returns how many it claimed, or -1. */
static int
s_charge_ahead (pg_t *db, const char *claim, s_intent_fn *intent_of, int64_t now_ms, pg_buffer_t *ids,
                payment_intent_t **intents_p, size_t *count_p)
{
    Kaiin__Request envelope = KAIIN__REQUEST__INIT;
    envelope.now_ms = now_ms;
    envelope.request_id = "scheduler";
    svc_request_t request = { &envelope, db };
    char due [24];
    const char *params [] = { NUM (due, now_ms) };
    if (billing_begin (db) == -1)
        return -1;
    PGresult *result = pg_run (db, claim, 1, params);
    int claimed = result? PQntuples (result): -1;
    size_t count = 0;
    payment_intent_t *intents = claimed > 0? calloc ((size_t) claimed, sizeof *intents): NULL;
    assert (claimed <= 0 || intents);
    for (int index = 0; index < claimed; index++) {
        subscription_row_t row = { NULL, "", 0, 0, 0 };
        subscription_row_from (result, index, &row);
        pg_array_add (ids, row.sub->id, false);
        Kaiin__Billing__PaymentMethod *method = s_row_method (result, index);
        payment_intent_t *intent = &intents [count];
        int rc = intent_of (&request, result, index, &row, method, intent);
        if (rc == 1) {
            snprintf (intent->subscription_id, sizeof intent->subscription_id, "%s", row.sub->id);
            snprintf (intent->member_id, sizeof intent->member_id, "%s", row.sub->member_id);
            intent->method = method;
            method = NULL;
            count++;
        }
        if (method)
            protobuf_c_message_free_unpacked (&method->base, NULL);
        subscription_row_free (&row);
        if (rc == -1) {
            claimed = -1;
            break;
        }
    }
    PQclear (result);
    s_plans_clear ();
    pg_array_close (ids);
    if (claimed < 0 || (count && payment_intents_create (db, intents, count, now_ms) == -1)
    ||  billing_commit (db) == -1) {
        pg_rollback (db);
        claimed = -1;
    }
    /* No transaction open: the provider's answers. One not reached stays created, and its
       renewal or retry fails as a charge not reached does (tried again later, same key). */
    if (claimed > 0 && count && payment_intents_charge (db, intents, count, now_ms) == -1)
        claimed = -1;
    *intents_p = intents;
    *count_p = count;
    return claimed;
}

/* Frees what s_charge_ahead charged, forgetting their outcomes. */
static void
s_intents_free (payment_intent_t *intents, size_t count)
{
    payment_intents_forget ();
    for (size_t i = 0; i < count; i++)
        protobuf_c_message_free_unpacked (&intents [i].method->base, NULL);
    free (intents);
}

/* Steps the due subscriptions of claim a batch at a time: charged ahead (s_charge_ahead),
   then stepped with those outcomes in one transaction (statement: the same rows by id). As
   s_batch_run, 1 when none was free but some are held by another thread. */
static int
s_ahead_then_batch (pg_t *db, const char *claim, s_intent_fn *intent_of, const char *statement, s_step_fn *step,
                    int64_t now_ms)
{
    pg_buffer_t ids = { 0 };
    payment_intent_t *intents = NULL;
    size_t count = 0;
    int claimed = s_charge_ahead (db, claim, intent_of, now_ms, &ids, &intents, &count);
    int done = claimed < 0? -1: s_batch (db, statement, ids.text, now_ms, step, now_ms);
    s_intents_free (intents, count);
    free (ids.text);
    return done;
}

int
renewal_tick (pg_t *db, int64_t now_ms)
{
    int renewed = s_ahead_then_batch (db, "sub_due_claim", s_renewal_intent, "sub_due_ids", s_renew, now_ms);
    int retried = renewed < 0? -1: s_ahead_then_batch (db, "sub_retry_claim", s_retry_intent, "sub_retry_ids",
                                                       s_retry, now_ms);
    int expired = retried < 0? -1: s_batch (db, "sub_incomplete_due", NULL, now_ms - SUBSCRIPTION_INCOMPLETE_MS,
                                            s_expire_incomplete, now_ms);
    return expired < 0? -1: renewed + retried + expired;
}
