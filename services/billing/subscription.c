/* subscription.c - subscriptions: start (trial or first payment), cancel, plan
   change, the row and its SQL, and the member's entitlement carried in their events
   (proration.c prices a change, dunning.c and renewal.c do the rest of their life) */
#include "subscription.h"
#include "billing_txn.h"
#include "coupon.h"
#include "invoice.h"
#include "member_ref.h"
#include "outbox.h"
#include "payment.h"
#include "payment_method.h"
#include "plan.h"
#include "proration.h"
#include "terms.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_reasons [] = { "too_expensive", "missing_features", "switched_service",
                                          "unused", "other", NULL };
static const char *const s_statuses [] = { "trialing", "active", "past_due", "unpaid", "canceled",
                                           "incomplete", NULL };

void
subscription_prepare (pg_t *db)
{
    pg_prepare (db, "sub_get",
            "select " SUBSCRIPTION_COLUMNS ", " SUBSCRIPTION_ENTITLEMENT
            " from subscriptions s join plans p on p.id = s.plan_id"
            " where s.id = $1");
    pg_prepare (db, "sub_lock",
            "select " SUBSCRIPTION_COLUMNS " from subscriptions s join plans p on p.id = s.plan_id"
            " where s.id = $1 for update of s");
    pg_prepare (db, "sub_list",
            "select " SUBSCRIPTION_COLUMNS " from subscriptions s join plans p on p.id = s.plan_id"
            " where s.seq < $1 and ($2 = '' or s.member_id = $2::text::uuid) and ($3 = '' or s.status = $3)"
            " order by s.seq desc limit $4");
    pg_prepare (db, "sub_member_lock",
            "select pg_advisory_xact_lock (hashtext ('subscriptions:' || $1))");
    pg_prepare (db, "sub_same_plan",
            "select 1 from subscriptions where member_id = $1 and plan_id = $2"
            " and status in ('trialing', 'active', 'past_due', 'unpaid', 'incomplete')");
    pg_prepare (db, "sub_insert",
            "insert into subscriptions (member_id, plan_id, status, payment_method_id, coupon_id,"
            " coupon_periods_left, anchor_day, trial_end, current_period_start, current_period_end,"
            " created_at, updated_at) values ($1, $2, $3, nullif ($4, '')::uuid, nullif ($5, '')::uuid,"
            " $6, $7, " AT ("$8") ", " AT ("$9") ", " AT ("$10") ", " AT ("$9") ", " AT ("$9") ") returning id");
    pg_prepare (db, "sub_write",
            "update subscriptions set status = $2, plan_id = $3, current_period_start = " AT ("$4") ","
            " current_period_end = " AT ("$5") ", coupon_periods_left = $6, credit_balance = $7,"
            " latest_invoice_id = nullif ($8, '')::uuid, cancel_at_period_end = $9, cancel_reason = $10,"
            " cancel_comment = $11, canceled_at = " AT ("$12") ", ended_at = " AT ("$13") ","
            " retry_count = $14, next_retry_at = " AT ("$15") ", updated_at = " AT ("$16") ","
            " terms_suspended_at = case when $2 = 'unpaid' then terms_suspended_at end,"
            " version = version + 1 where id = $1");
    pg_prepare (db, "sub_open_invoices",
            "update invoices set status = $2, voided_at = case when $2 = 'void' then " AT ("$3") " end,"
            " version = version + 1 where subscription_id = $1 and status = 'open'");
}

void
subscription_row_free (subscription_row_t *row)
{
    if (row->sub)
        protobuf_c_message_free_unpacked (&row->sub->base, NULL);
    row->sub = NULL;
}

void
subscription_row_from (PGresult *result, int index, subscription_row_t *row)
{
    row->sub = (Kaiin__Billing__Subscription *) pg_row_message (result, index, &kaiin__billing__subscription__descriptor);
    int column = PQfnumber (result, "coupon_id");
    snprintf (row->coupon_id, sizeof row->coupon_id, "%s", PQgetvalue (result, index, column));
    column = PQfnumber (result, "coupon_periods_left");
    row->coupon_periods_left = PQgetisnull (result, index, column)? -1: atoi (PQgetvalue (result, index, column));
    row->credit_balance = strtoll (PQgetvalue (result, index, PQfnumber (result, "credit_balance")), NULL, 10);
    row->anchor_day = atoi (PQgetvalue (result, index, PQfnumber (result, "anchor_day")));
}

int
subscription_row_load (pg_t *db, const char *id, subscription_row_t *row)
{
    const char *params [] = { id };
    PGresult *result = pg_run (db, "sub_lock", 1, params);
    if (!result)
        return -1;
    int found = PQntuples (result) == 1;
    if (found)
        subscription_row_from (result, 0, row);
    PQclear (result);
    return found;
}

int
subscription_row_write (pg_t *db, const subscription_row_t *row, int64_t now_ms)
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

int
subscription_event (pg_t *db, const char *id, const char *type, int64_t now_ms)
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
                                         &kaiin__billing__subscription__descriptor, "subscription not found");
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
    int trial = create->_trial_days_case != KAIIN__BILLING__SUBSCRIPTION_CREATE_REQUEST___TRIAL_DAYS__NOT_SET? create->trial_days: plan->trial_days;
    /* A company on payment terms starts at once, invoiced on its terms (terms.c): it needs
       no payment method, and is charged nothing now. */
    terms_t terms;
    if (terms_find (db, create->member_id, &terms) == -1)
        goto done;
    if ((*create->payment_method_id || (trial == 0 && !terms.closing_day))
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
    const char *insert [] = { create->member_id, plan->id, trial? "trialing": terms.closing_day? "active": "incomplete",
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
    if (subscription_event (db, id, "subscription.created", now) == -1)
        goto done;
    if (trial) {
        if (subscription_event (db, id, "subscription.started", now) == -1)
            goto done;
    }
    else {
        Kaiin__Billing__InvoiceLine line, *lines [] = { &line };
        int64_t credit = 0;
        char description [160];
        const char *tax_mode = proration_period_line (&line, plan, coupon, &credit, start, end, description);
        invoice_spec_t spec = { create->member_id, id, "", "subscription_create", tax_mode, lines, 1,
                                start, end, terms.closing_day? terms_due_ms (&terms, now, NULL): 0, true,
                                !terms.closing_day, NULL, terms_gather_ms (&terms, now) };
        char key [128], status [16];
        billing_provider_key (request, "subscription", id, key, sizeof key);
        subscription_row_t row = { NULL, "", 0, 0, 0 };
        if (!(invoice = invoice_insert (db, &spec, now)) || subscription_row_load (db, id, &row) != 1)
            goto done;
        if (periods > 0)
            row.coupon_periods_left = periods - 1;
        billing_string_set (&row.sub->latest_invoice_id, invoice->id);
        int written = subscription_row_write (db, &row, now);
        subscription_row_free (&row);
        if (written == -1)
            goto done;
        if (terms.closing_day) {
            if (subscription_event (db, id, "subscription.started", now) == -1)
                goto done;
        }
        else {
            payment = payment_collect (db, invoice, method, key, now, status);
            if (!payment && strcmp (status, "paid") != 0)
                goto done;
        }
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

int
subscription_end (pg_t *db, subscription_row_t *row, int64_t now_ms)
{
    billing_string_set (&row->sub->status, "canceled");
    row->sub->ended_at_ms = now_ms;
    if (!row->sub->canceled_at_ms)
        row->sub->canceled_at_ms = now_ms;
    row->sub->next_retry_at_ms = 0;
    char now [24];
    const char *params [] = { row->sub->id, "void", NUM (now, now_ms) };
    PGresult *result = pg_run (db, "sub_open_invoices", 3, params);
    PQclear (result);
    return result && subscription_row_write (db, row, now_ms) == 0
        && subscription_event (db, row->sub->id, "subscription.canceled", now_ms) == 0? 0: -1;
}

/* Begins a billing transaction and loads the subscription id, locked, as the caller may see
   it and at the version asked for (if_version 0: any). 0, or -1 with the reply's error set:
   404 (not a uuid, unknown, another member's for a member's session), 412 (another version)
   or a database error. The caller rolls back on -1. */
static int
s_row_seen (svc_request_t *request, svc_reply_t *reply, const char *id, int64_t if_version,
            subscription_row_t *row)
{
    pg_t *db = request->db;
    int found = 0;
    if (billing_uuid (id) && billing_begin (db) == 0)
        found = subscription_row_load (db, id, row);
    if (found == 1 && !billing_caller_may_see (request, row->sub->member_id)) {
        subscription_row_free (row);
        found = 0;
    }
    if (found == 1 && if_version && if_version != row->sub->version)
        return svc_fail (reply, KAIIN__STATUS__ABORTED, "the subscription was changed meanwhile");
    if (found == 1)
        return 0;
    if (found == -1 || *pg_sqlstate (db))
        return svc_db_fail (reply, db);
    return svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "subscription not found");
}

/* Writes the row and its subscription.updated, commits, and answers the subscription. 0/-1. */
static int
s_row_update (svc_request_t *request, svc_reply_t *reply, subscription_row_t *row, int64_t now)
{
    return subscription_row_write (request->db, row, now) == 0
        && subscription_event (request->db, row->sub->id, "subscription.updated", now) == 0
        && billing_commit (request->db) == 0? s_reply_sub (request, reply, row->sub->id): -1;
}

/* Ends a handler that wrote: rolls back after an error, setting a database error when the
   reply has none yet. Returns rc. */
static int
s_done (svc_request_t *request, svc_reply_t *reply, int rc)
{
    if (rc == -1) {
        pg_rollback (request->db);
        if (reply->status == KAIIN__STATUS__OK)
            svc_db_fail (reply, request->db);
    }
    return rc;
}

static bool
s_live (const Kaiin__Billing__Subscription *sub)
{
    return billing_one_of (sub->status, (const char *const []) { "trialing", "active", "past_due", NULL });
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
    int64_t now = billing_now (request);
    subscription_row_t row = { NULL, "", 0, 0, 0 };
    int rc = -1;
    if (reply->status != KAIIN__STATUS__OK || s_row_seen (request, reply, cancel->id, cancel->if_version, &row) == -1)
        ;
    else
    if (strcmp (row.sub->status, "canceled") == 0)
        svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION, "the subscription is canceled already");
    else
    if (cancel->at_period_end && !s_live (row.sub))
        svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION,
                  "a %s subscription has no period to finish: only a trialing, active or past_due one"
                  " can be canceled at its period's end", row.sub->status);
    else {
        billing_string_set (&row.sub->cancel_reason, cancel->reason);
        billing_string_set (&row.sub->cancel_comment, cancel->comment);
        row.sub->canceled_at_ms = now;
        if (cancel->at_period_end) {
            row.sub->cancel_at_period_end = true;
            rc = s_row_update (request, reply, &row, now);
        }
        else
        if (subscription_end (request->db, &row, now) == 0 && billing_commit (request->db) == 0)
            rc = s_reply_sub (request, reply, row.sub->id);
    }
    s_done (request, reply, rc);
    subscription_row_free (&row);
    protobuf_c_message_free_unpacked (&cancel->base, NULL);
    return rc;
}

int
subscription_api_resume (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__SubscriptionResumeRequest *resume = (Kaiin__Billing__SubscriptionResumeRequest *)
        svc_unpack (request, &kaiin__billing__subscription_resume_request__descriptor, reply);
    if (!resume)
        return -1;
    int64_t now = billing_now (request);
    subscription_row_t row = { NULL, "", 0, 0, 0 };
    int rc = -1;
    if (s_row_seen (request, reply, resume->id, resume->if_version, &row) == -1)
        ;
    else
    if (!row.sub->cancel_at_period_end || !s_live (row.sub))
        svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION,
                  "the subscription is not set to cancel at its period's end (it is %s)", row.sub->status);
    else {
        row.sub->cancel_at_period_end = false;
        billing_string_set (&row.sub->cancel_reason, "");
        billing_string_set (&row.sub->cancel_comment, "");
        row.sub->canceled_at_ms = 0;
        rc = s_row_update (request, reply, &row, now);
    }
    s_done (request, reply, rc);
    subscription_row_free (&row);
    protobuf_c_message_free_unpacked (&resume->base, NULL);
    return rc;
}

/* What a plan change comes to, worked out alike for the change and for its preview. */
typedef struct {
    Kaiin__Billing__Plan *from, *to;    /* owned */
    bool prorated;
    int64_t unused;                     /* the old plan's days left, credited (tax included) */
    int64_t charge;                     /* the new plan for them, or a new period (tax included) */
    int64_t due;                        /* charged at once: charge − unused, when more */
    int64_t credited;                   /* added to the credit balance: unused − charge, when more */
} s_change_t;

static void
s_change_free (s_change_t *change)
{
    if (change->from)
        protobuf_c_message_free_unpacked (&change->from->base, NULL);
    if (change->to)
        protobuf_c_message_free_unpacked (&change->to->base, NULL);
}

/* Changes row's plan to the one asked for, as of now: its period (a new one for a plan of
   another interval) and credit balance move as the change makes them; out says what it comes
   to. 日割 only for an active subscription unless no_proration. 0, or -1 with the reply's error
   set (409 when the subscription cannot change plan, a field error on plan). */
static int
s_change_price (svc_request_t *request, svc_reply_t *reply, const Kaiin__Billing__SubscriptionChangePlanRequest *change,
                subscription_row_t *row, int64_t now, s_change_t *out)
{
    Kaiin__Billing__Subscription *sub = row->sub;
    if (!billing_one_of (sub->status, (const char *const []) { "trialing", "active", NULL }))
        return svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION, "only a trialing or active subscription can change plan");
    if (!(out->from = plan_find (request, reply, sub->plan_id, NULL))
    ||  !(out->to = plan_find (request, reply, change->plan, "plan")))
        return -1;
    if (strcmp (out->to->status, "active") != 0 || strcmp (out->to->id, out->from->id) == 0) {
        svc_field_error (reply, "plan", "must be another active plan");
        return -1;
    }
    billing_string_set (&sub->plan_id, out->to->id);
    out->prorated = strcmp (sub->status, "active") == 0 && !change->no_proration;
    if (!out->prorated)
        return 0;
    bool same_cycle = strcmp (out->from->interval, out->to->interval) == 0
                   && out->from->interval_count == out->to->interval_count;
    proration_parts (proration_gross (out->from), proration_gross (out->to), sub->current_period_start_ms,
                     sub->current_period_end_ms, now, same_cycle, &out->unused, &out->charge);
    out->due = out->charge > out->unused? out->charge - out->unused: 0;
    out->credited = out->unused > out->charge? out->unused - out->charge: 0;
    row->credit_balance += out->credited;
    if (!same_cycle) {
        sub->current_period_start_ms = now;
        sub->current_period_end_ms = billing_period_end (now, out->to->interval, out->to->interval_count,
                                                         billing_day_of_month (now));
        row->anchor_day = billing_day_of_month (now);
    }
    return 0;
}

/* Charges the difference a change comes to at once, at the new plan's rate, tax included.
   0, or -1 with the reply's error set: 409 when the charge was not paid. */
static int
s_change_charge (svc_request_t *request, svc_reply_t *reply, const subscription_row_t *row,
                 const s_change_t *change, int64_t now)
{
    const Kaiin__Billing__Subscription *sub = row->sub;
    Kaiin__Billing__InvoiceLine line = KAIIN__BILLING__INVOICE_LINE__INIT, *lines [] = { &line };
    char description [200];
    snprintf (description, sizeof description, "%s → %s (日割)", change->from->name, change->to->name);
    line.description = description;
    line.sku = change->to->code;
    line.quantity = 1;
    line.unit_amount = line.amount = change->due;
    line.tax_rate = change->to->tax_rate;
    line.period_start_ms = now;
    line.period_end_ms = sub->current_period_end_ms;
    invoice_spec_t spec = { sub->member_id, sub->id, "", "subscription_update", "inclusive",
                            lines, 1, now, sub->current_period_end_ms, 0, true, true };
    char key [128], status [16], version [80];
    snprintf (version, sizeof version, "%s:%lld", sub->id, (long long) sub->version);
    billing_provider_key (request, "change", version, key, sizeof key);
    Kaiin__Billing__PaymentMethod *method = payment_method_find (request, reply, sub->member_id,
                                                                 sub->payment_method_id, "payment_method_id");
    Kaiin__Billing__Invoice *invoice = method? invoice_insert (request->db, &spec, now): NULL;
    Kaiin__Billing__Payment *payment = invoice? payment_collect (request->db, invoice, method, key, now, status): NULL;
    int rc = -1;
    if (!invoice || (!payment && strcmp (status, "paid") != 0))
        ;
    else
    if (strcmp (status, "succeeded") != 0 && strcmp (status, "paid") != 0)
        svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION, "the prorated charge of %lld yen was not paid (%s): the plan is unchanged",
                  (long long) change->due, payment && *payment->failure_code? payment->failure_code: status);
    else
        rc = 0;
    if (payment)
        protobuf_c_message_free_unpacked (&payment->base, NULL);
    if (invoice)
        protobuf_c_message_free_unpacked (&invoice->base, NULL);
    if (method)
        protobuf_c_message_free_unpacked (&method->base, NULL);
    return rc;
}

/* Answers what the change comes to (PlanChangePreview, its version the subscription's as
   loaded). 0. */
static int
s_reply_preview (svc_reply_t *reply, const subscription_row_t *row, const s_change_t *price, int64_t version)
{
    Kaiin__Billing__PlanChangePreview preview = KAIIN__BILLING__PLAN_CHANGE_PREVIEW__INIT;
    preview.subscription_id = row->sub->id;
    preview.plan_id = price->to->id;
    preview.plan_code = price->to->code;
    preview.from_plan_code = price->from->code;
    preview.prorated = price->prorated;
    preview.unused_credit = price->unused;
    preview.new_charge = price->charge;
    preview.amount_due = price->due;
    preview.tax_rate = price->to->tax_rate;
    preview.credit_added = price->credited;
    preview.credit_balance = row->credit_balance;
    preview.current_period_start_ms = row->sub->current_period_start_ms;
    preview.current_period_end_ms = row->sub->current_period_end_ms;
    preview.version = version;
    return svc_reply_with (reply, &preview.base);
}

/* A plan change, made (charging or crediting the difference) or, for a preview, only worked
   out and answered, nothing changed. */
static int
s_change_plan (svc_request_t *request, svc_reply_t *reply, bool preview)
{
    Kaiin__Billing__SubscriptionChangePlanRequest *change = (Kaiin__Billing__SubscriptionChangePlanRequest *)
        svc_unpack (request, &kaiin__billing__subscription_change_plan_request__descriptor, reply);
    if (!change)
        return -1;
    int64_t now = billing_now (request);
    subscription_row_t row = { NULL, "", 0, 0, 0 };
    s_change_t price = { NULL, NULL, false, 0, 0, 0, 0 };
    int rc = -1;
    if (!*change->plan)
        svc_field_error (reply, "plan", "is required");
    int64_t version = 0;
    if (reply->status == KAIIN__STATUS__OK
    &&  s_row_seen (request, reply, change->id, change->if_version, &row) == 0
    &&  (version = row.sub->version, s_change_price (request, reply, change, &row, now, &price) == 0)) {
        if (preview)
            rc = s_reply_preview (reply, &row, &price, version);
        else
        if (price.due == 0 || s_change_charge (request, reply, &row, &price, now) == 0)
            rc = s_row_update (request, reply, &row, now);
    }
    if (preview)
        pg_rollback (request->db);
    else
        s_done (request, reply, rc);
    s_change_free (&price);
    subscription_row_free (&row);
    protobuf_c_message_free_unpacked (&change->base, NULL);
    return rc;
}

int
subscription_api_change_plan (svc_request_t *request, svc_reply_t *reply)
{
    return s_change_plan (request, reply, false);
}

int
subscription_api_change_plan_preview (svc_request_t *request, svc_reply_t *reply)
{
    return s_change_plan (request, reply, true);
}
