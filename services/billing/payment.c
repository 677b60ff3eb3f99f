/* payment.c - collecting invoices through a provider, every attempt recorded; refunds with
   credit notes; the provider's webhooks; pending payments that expire */
#include "payment.h"
#include "billing_txn.h"
#include "idempotency.h"
#include "invoice.h"
#include "log.h"
#include "outbox.h"
#include "provider.h"
#include "settings.h"
#include <assert.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAYMENT_COLUMNS "id, invoice_id, member_id, coalesce (payment_method_id::text, '') as payment_method_id," \
    " method_type, provider, provider_ref, amount, amount_received, amount_refunded, status," \
    " failure_code, failure_message, konbini_number, bank_reference, " MS ("expires_at") " as expires_at_ms, " \
    MS ("created_at") " as created_at_ms, " MS ("settled_at") " as settled_at_ms, note, recorded_by," \
    " " MS ("reversed_at") " as reversed_at_ms, seq"
#define REFUND_COLUMNS "id, payment_id, invoice_id, member_id, amount, reason, id as credit_note_id," \
    " 'CN-' || lpad (credit_note_number::text, 8, '0') as credit_note_number, " \
    MS ("created_at") " as created_at_ms, seq"

/* A provider's charge without a payment of ours is taken for an orphan only once no retry can
   come for it any more: the Idempotency-Key that would name it again is forgotten after a day,
   and an hour more covers requests still in flight. */
#define RECONCILE_AFTER_MS (IDEMPOTENCY_TTL_MS + 3600 * 1000LL)
#define RECONCILE_BATCH    200

static const char *const s_refund_reasons [] = { "requested_by_customer", "duplicate", "fraudulent", "other", NULL };
static const char *const s_statuses [] = { "pending", "succeeded", "failed", "expired", "reversed", NULL };

void
payment_prepare (pg_t *db)
{
    /* A renewal's charge as an intent: created in a transaction that commits before the
       provider is called (claimed by this backend; a claim of a backend that is gone, a
       crashed process, is taken over), its outcome recorded after it, outside any. */
    pg_prepare (db, "payment_intents_create",
            "insert into payment_intents as i (key, subscription_id, period_start, member_id, payment_method_id,"
            " amount, state, claimed_by, created_at) select u.key, u.subscription, to_timestamp (u.start / 1000.0),"
            " u.member, u.method, u.amount, 'created', pg_backend_pid (), " AT ("$7")
            " from unnest ($1::text [], $2::uuid [], $3::bigint [], $4::uuid [], $5::uuid [], $6::bigint [])"
            " as u (key, subscription, start, member, method, amount)"
            " on conflict (key) do update set claimed_by = pg_backend_pid () where i.state = 'created' returning key");
    pg_prepare (db, "payment_intents_charged",
            "update payment_intents i set state = 'charged', status = u.status, failure_code = u.code,"
            " failure_message = u.message, provider_ref = u.ref, konbini_number = u.konbini, bank_reference = u.bank,"
            " expires_at = to_timestamp (nullif (u.expires, 0) / 1000.0), charged_at = " AT ("$9")
            " from unnest ($1::text [], $2::text [], $3::text [], $4::text [], $5::text [], $6::text [], $7::text [],"
            " $8::bigint []) as u (key, status, code, message, ref, konbini, bank, expires)"
            " where i.key = u.key and i.state = 'created' returning i.key");
    pg_prepare (db, "payment_intent_get",
            "select state, status, failure_code, failure_message, provider_ref, konbini_number, bank_reference,"
            " " MS ("expires_at") " from payment_intents where key = $1");
    pg_prepare (db, "payment_insert",
            "insert into payments (invoice_id, member_id, payment_method_id, method_type, provider,"
            " provider_ref, amount, amount_received, status, failure_code, failure_message, konbini_number,"
            " bank_reference, expires_at, created_at, settled_at) values ($1, $2, $3, $4, $5, $6, $7, $8,"
            " $9, $10, $11, $12, $13, " AT ("$14") ", " AT ("$15") ", " AT ("$16") ")"
            " on conflict (provider, provider_ref) where provider_ref <> '' do nothing"
            " returning " PAYMENT_COLUMNS);
    pg_prepare (db, "payment_manual",
            "insert into payments (invoice_id, member_id, method_type, provider, amount, amount_received,"
            " status, bank_reference, note, recorded_by, created_at, settled_at) values ($1, $2, $3, 'manual',"
            " $4, $5, 'succeeded', $6, $7, $8, " AT ("$9") ", " AT ("$10") ") returning " PAYMENT_COLUMNS);
    /* Only a payment recorded by hand is reversed, and only while nothing of it was refunded. */
    pg_prepare (db, "payment_reverse",
            "update payments set status = 'reversed', reversed_at = " AT ("$2") ", reversed_by = $3"
            " where id = $1 and provider = 'manual' and status = 'succeeded' and amount_refunded = 0"
            " returning " PAYMENT_COLUMNS);
    pg_prepare (db, "payment_get", "select " PAYMENT_COLUMNS " from payments where id = $1");
    pg_prepare (db, "payment_by_ref",
            "select " PAYMENT_COLUMNS " from payments where provider = $1 and provider_ref = $2 for update");
    pg_prepare (db, "payment_lock", "select " PAYMENT_COLUMNS " from payments where id = $1 for update");
    pg_prepare (db, "payment_list",
            "select " PAYMENT_COLUMNS " from payments where seq < $1 and ($2 = '' or member_id = $2::text::uuid)"
            " and ($3 = '' or invoice_id = $3::text::uuid) and ($5 = '' or status = $5)"
            " order by seq desc limit $4");
    pg_prepare (db, "payment_settle",
            "update payments set amount_received = amount_received + $2,"
            " status = case when $3 then 'succeeded' else status end,"
            " settled_at = case when $3 then " AT ("$4") " else settled_at end"
            " where id = $1 returning " PAYMENT_COLUMNS);
    pg_prepare (db, "payment_expire",
            "update payments set status = 'expired', failure_code = 'expired',"
            " failure_message = 'the payment was not made before its expiry'"
            " where id in (select id from payments where status = 'pending' and expires_at <= " AT ("$1")
            " order by expires_at limit 200 for update skip locked) returning " PAYMENT_COLUMNS);
    pg_prepare (db, "webhook_seen",
            "insert into webhook_events (provider, event_id, received_at) values ($1, $2, " AT ("$3") ")"
            " on conflict do nothing returning event_id");
    pg_prepare (db, "refund_number",
            "update number_series set next = next + 1 where name = 'credit_note' returning next - 1");
    pg_prepare (db, "refund_insert",
            "insert into refunds (payment_id, invoice_id, member_id, amount, reason, credit_note_number,"
            " created_at) values ($1, $2, $3, $4, $5, $6, " AT ("$7") ") returning " REFUND_COLUMNS);
    pg_prepare (db, "refund_tax_insert",
            "insert into refund_taxes (refund_id, rate, amount, taxable_amount, tax) values ($1, $2, $3, $4, $5)");
    pg_prepare (db, "refund_taxes",
            "select rate, amount, taxable_amount, tax from refund_taxes where refund_id = $1 order by rate desc");
    /* A purchase whose invoice is refunded in full is refunded (no longer counted). */
    pg_prepare (db, "refund_apply",
            "with p as (update payments set amount_refunded = amount_refunded + $2 where id = $1 returning invoice_id),"
            " i as (update invoices set amount_refunded = amount_refunded + $2, version = version + 1"
            "  where id = (select invoice_id from p) returning id, total, amount_refunded)"
            " update purchases u set status = 'refunded' from i"
            " where u.invoice_id = i.id and u.status = 'paid' and i.amount_refunded >= i.total");
    pg_prepare (db, "refund_get", "select " REFUND_COLUMNS " from refunds where id = $1");
    pg_prepare (db, "refund_list",
            "select " REFUND_COLUMNS " from refunds where ($1 = '' or member_id = $1::text::uuid)"
            " and ($2 = '' or invoice_id = $2::text::uuid) and ($3 = '' or payment_id = $3::text::uuid)"
            " and seq < $4 order by seq desc limit $5");
    pg_prepare (db, "reconcile_positions",
            "select provider, cursor from provider_reconciliation order by provider"
            " for update skip locked");
    pg_prepare (db, "reconcile_unrecorded",
            "select ref from unnest (string_to_array ($2, chr (10))) ref where not exists"
            " (select 1 from payments where provider = $1 and provider_ref = ref)");
    pg_prepare (db, "reconcile_orphan",
            "insert into provider_orphans (provider, provider_ref, idempotency_key, customer, amount,"
            " charged_at, refunded_at) values ($1, $2, $3, $4, $5, " AT ("$6") ", " AT ("$7") ")"
            " on conflict do nothing");
    pg_prepare (db, "reconcile_advance",
            "update provider_reconciliation set cursor = $2 where provider = $1");
}

static const char *
s_event_type (const char *status)
{
    return strcmp (status, "succeeded") == 0? "payment.succeeded"
         : strcmp (status, "pending") == 0? "payment.pending": "payment.failed";
}

static Kaiin__Billing__Payment *
s_payment_event (pg_t *db, PGresult *result, int row, int64_t now_ms)
{
    Kaiin__Billing__Payment *payment = (Kaiin__Billing__Payment *)
        pg_row_message (result, row, &kaiin__billing__payment__descriptor);
    if (outbox_append (db, s_event_type (payment->status), payment->id, &payment->base, now_ms) == -1) {
        protobuf_c_message_free_unpacked (&payment->base, NULL);
        return NULL;
    }
    return payment;
}

static bool
s_card_expired (const Kaiin__Billing__PaymentMethod *method, int64_t now_ms)
{
    time_t seconds = (time_t) (now_ms / 1000 + 9 * 3600);
    struct tm tm;
    gmtime_r (&seconds, &tm);
    return method->exp_year * 12 + method->exp_month < (tm.tm_year + 1900) * 12 + tm.tm_mon + 1;
}

static int s_bank_transfer_days = 7;

void
payment_set_bank_transfer_days (int days)
{
    assert (days >= 1);
    s_bank_transfer_days = days;
}

/* What a charge needs before the provider is called: how long a slip may wait (into
   *pending_ms), or the answer without a call (an expired card: 1, charge set). 0 to call it,
   -1 on an error. */
static int
s_charge_terms (pg_t *db, const Kaiin__Billing__PaymentMethod *method, int64_t now_ms, bool first_invoice,
                int64_t *pending_ms, provider_charge_t *charge)
{
    memset (charge, 0, sizeof *charge);
    if (!provider_find (method->provider))
        return -1;
    if (strcmp (method->type, "card") == 0 && s_card_expired (method, now_ms)) {
        snprintf (charge->status, sizeof charge->status, "failed");
        snprintf (charge->failure_code, sizeof charge->failure_code, "expired_card");
        snprintf (charge->failure_message, sizeof charge->failure_message, "the card has expired");
        return 1;
    }
    *pending_ms = s_bank_transfer_days * DAY_MS;
    if (strcmp (method->type, "bank_transfer") == 0 && first_invoice
    &&  *pending_ms > SUBSCRIPTION_INCOMPLETE_MS)
        *pending_ms = SUBSCRIPTION_INCOMPLETE_MS;
    if (strcmp (method->type, "konbini") == 0) {
        Kaiin__Billing__Settings *settings = settings_load (db);
        if (!settings)
            return -1;
        *pending_ms = settings->konbini_expiry_days * DAY_MS;
        protobuf_c_message_free_unpacked (&settings->base, NULL);
    }
    return 0;
}

/* The provider's call itself (no database: any thread). 0 or -1 when it was not reached. */
static int
s_call (const Kaiin__Billing__PaymentMethod *method, int64_t amount, const char *key, int64_t now_ms,
        int64_t pending_ms, provider_charge_t *charge)
{
    return provider_find (method->provider)->charge (method->type, method->token, method->member_id,
                                                     method->customer_ref, amount, key, now_ms, pending_ms, charge);
}

/* payment_charge's call of the provider. */
static int
s_provider_charge (pg_t *db, const Kaiin__Billing__PaymentMethod *method, int64_t amount,
                   const char *key, int64_t now_ms, bool first_invoice, provider_charge_t *charge)
{
    int64_t pending_ms = 0;
    int terms = s_charge_terms (db, method, now_ms, first_invoice, &pending_ms, charge);
    return terms != 0? (terms == 1? 0: -1): s_call (method, amount, key, now_ms, pending_ms, charge);
}

/* The outcome of the payment intent keyed key (migration 009) into charge: 1 when it was
   charged, 2 when it was created but its provider call has not answered (not reached), 0 when
   there is no such intent, -1 on a database error. */
static int
s_intent_outcome (pg_t *db, const char *key, provider_charge_t *charge)
{
    const char *params [] = { key };
    PGresult *result = pg_run (db, "payment_intent_get", 1, params);
    if (!result)
        return -1;
    int found = PQntuples (result) == 0? 0: strcmp (PQgetvalue (result, 0, 0), "charged") == 0? 1: 2;
    if (found == 1) {
        snprintf (charge->status, sizeof charge->status, "%s", PQgetvalue (result, 0, 1));
        snprintf (charge->failure_code, sizeof charge->failure_code, "%s", PQgetvalue (result, 0, 2));
        snprintf (charge->failure_message, sizeof charge->failure_message, "%s", PQgetvalue (result, 0, 3));
        snprintf (charge->provider_ref, sizeof charge->provider_ref, "%s", PQgetvalue (result, 0, 4));
        snprintf (charge->konbini_number, sizeof charge->konbini_number, "%s", PQgetvalue (result, 0, 5));
        snprintf (charge->bank_reference, sizeof charge->bank_reference, "%s", PQgetvalue (result, 0, 6));
        charge->expires_at_ms = atoll (PQgetvalue (result, 0, 7));
    }
    PQclear (result);
    return found;
}

/* The outcomes this thread's last batch of intents recorded (payment_intents_charge), as the
   rows hold them: a renewal's charge reads its own there, not with a statement of its own.
   Keys in the batch's order (claimed ones follow the claim's), looked up from where the last
   one was found. */
static __thread struct {
    const payment_intent_t **recorded;
    size_t count, size, next;
} s_outcomes;
static pthread_key_t s_outcomes_key;
static pthread_once_t s_outcomes_once = PTHREAD_ONCE_INIT;

static void
s_outcomes_key_create (void)
{
    pthread_key_create (&s_outcomes_key, free);
}

/* Keeps intent (the caller's, until payment_intents_forget) as recorded. */
static void
s_outcome_keep (const payment_intent_t *intent)
{
    if (s_outcomes.count == s_outcomes.size) {
        s_outcomes.size = s_outcomes.size? 2 * s_outcomes.size: 512;
        s_outcomes.recorded = realloc (s_outcomes.recorded, s_outcomes.size * sizeof *s_outcomes.recorded);
        assert (s_outcomes.recorded);
        pthread_once (&s_outcomes_once, s_outcomes_key_create);
        pthread_setspecific (s_outcomes_key, s_outcomes.recorded);     /* freed when the thread ends */
    }
    s_outcomes.recorded [s_outcomes.count++] = intent;
}

/* The recorded outcome of key into charge: true when it is one of the last batch's. */
static bool
s_outcome_recorded (const char *key, provider_charge_t *charge)
{
    for (size_t n = 0; n < s_outcomes.count; n++) {
        size_t i = (s_outcomes.next + n) % s_outcomes.count;
        if (strcmp (s_outcomes.recorded [i]->key, key) == 0) {
            *charge = s_outcomes.recorded [i]->charge;
            s_outcomes.next = i + 1;
            return true;
        }
    }
    return false;
}

void
payment_intents_forget (void)
{
    s_outcomes.count = s_outcomes.next = 0;
}

int
payment_intents_create (pg_t *db, payment_intent_t *intents, size_t count, int64_t now_ms)
{
    enum { KEY, SUBSCRIPTION, START, MEMBER, METHOD, AMOUNT, COLUMNS };
    pg_buffer_t columns [COLUMNS];
    memset (columns, 0, sizeof columns);
    for (size_t i = 0; i < count; i++) {
        char start [24], amount [24];
        intents [i].held = false;
        pg_array_add (&columns [KEY], intents [i].key, true);
        pg_array_add (&columns [SUBSCRIPTION], intents [i].subscription_id, false);
        pg_array_add (&columns [START], NUM (start, intents [i].period_start_ms), false);
        pg_array_add (&columns [MEMBER], intents [i].member_id, false);
        pg_array_add (&columns [METHOD], intents [i].method->id, false);
        pg_array_add (&columns [AMOUNT], NUM (amount, intents [i].amount), false);
    }
    char now [24];
    PGresult *result = pg_run_arrays (db, "payment_intents_create", columns, COLUMNS, NUM (now, now_ms));
    for (int row = 0; result && row < PQntuples (result); row++)
        for (size_t i = 0; i < count; i++)
            if (strcmp (intents [i].key, PQgetvalue (result, row, 0)) == 0)
                intents [i].held = true;
    PQclear (result);
    return result? 0: -1;
}

/* The provider's calls of a batch of intents, made side by side: a provider answers a call in
   tens (the sandbox's ledger) to hundreds (Stripe) of milliseconds, and a renewal run makes
   one per subscription. s_callers.threads threads of their own (BILLING_PROVIDER_CALLS - 1)
   and the batch's own thread take the intents in turn; each thread keeps its own connection
   to the provider (stripe.c's curl handle, sandbox.c's ledger), so none is shared. One batch
   at a time (s_batch_lock): two tick threads' batches take their turns. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t work, done;
    payment_intent_t *intents;          /* the batch's; those not marked call are passed over */
    size_t count, next, finished;
    int64_t now_ms;
    int threads;
} s_callers = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
                NULL, 0, 0, 0, 0, 3 };
static pthread_mutex_t s_batch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t s_callers_once = PTHREAD_ONCE_INIT;

void
payment_set_provider_calls (int calls)
{
    assert (calls >= 1);
    s_callers.threads = calls - 1;
}

/* Takes the batch's next intent and calls the provider for it, until none is left. Called
   and returns with s_callers.lock held. */
static void
s_callers_work (void)
{
    while (s_callers.next < s_callers.count) {
        payment_intent_t *intent = &s_callers.intents [s_callers.next++];
        pthread_mutex_unlock (&s_callers.lock);
        if (intent->call)
            intent->answered = s_call (intent->method, intent->amount, intent->key, s_callers.now_ms,
                                       intent->pending_ms, &intent->charge) == 0;
        pthread_mutex_lock (&s_callers.lock);
        if (++s_callers.finished == s_callers.count)
            pthread_cond_broadcast (&s_callers.done);
    }
}

static void *
s_caller (void *arg)
{
    (void) arg;
    pthread_mutex_lock (&s_callers.lock);
    for (;;) {
        while (s_callers.next >= s_callers.count)
            pthread_cond_wait (&s_callers.work, &s_callers.lock);
        s_callers_work ();
    }
    return NULL;
}

static void
s_callers_start (void)
{
    for (int i = 0; i < s_callers.threads; i++) {
        pthread_t thread;
        if (pthread_create (&thread, NULL, s_caller, NULL) == 0)
            pthread_detach (thread);
    }
}

/* Calls the provider for every intent marked call, side by side; returns when all answered. */
static void
s_call_all (payment_intent_t *intents, size_t count, int64_t now_ms)
{
    pthread_mutex_lock (&s_batch_lock);
    pthread_once (&s_callers_once, s_callers_start);
    pthread_mutex_lock (&s_callers.lock);
    s_callers.intents = intents;
    s_callers.count = count;
    s_callers.next = s_callers.finished = 0;
    s_callers.now_ms = now_ms;
    pthread_cond_broadcast (&s_callers.work);
    s_callers_work ();
    while (s_callers.finished < s_callers.count)
        pthread_cond_wait (&s_callers.done, &s_callers.lock);
    s_callers.intents = NULL;
    s_callers.count = s_callers.next = s_callers.finished = 0;
    pthread_mutex_unlock (&s_callers.lock);
    pthread_mutex_unlock (&s_batch_lock);
}

/* Calls at once the intents marked call whose provider charges many at a time (the
   sandbox): the first such provider's; those answered are no longer marked call. The rest
   (another provider's, or all when it could not be asked) stay marked, called one by one. */
static void
s_call_many (payment_intent_t *intents, size_t count, int64_t now_ms)
{
    provider_call_t *calls = count? malloc (count * sizeof *calls): NULL;
    payment_intent_t **of = count? malloc (count * sizeof *of): NULL;
    assert (!count || (calls && of));
    for (size_t first = 0; first < count; first++) {
        const provider_t *provider = intents [first].call? provider_find (intents [first].method->provider): NULL;
        if (!provider || !provider->charge_many)
            continue;
        size_t n = 0;
        for (size_t i = first; i < count; i++) {
            payment_intent_t *intent = &intents [i];
            if (!intent->call || strcmp (intent->method->provider, provider->name) != 0)
                continue;
            const Kaiin__Billing__PaymentMethod *method = intent->method;
            calls [n] = (provider_call_t) { method->type, method->token, method->member_id, method->customer_ref,
                                            intent->key, intent->amount, intent->pending_ms, &intent->charge, false };
            of [n++] = intent;
        }
        if (provider->charge_many (calls, n, now_ms) == 0)
            for (size_t k = 0; k < n; k++)
                if (calls [k].answered) {
                    of [k]->answered = true;
                    of [k]->call = false;
                }
        break;
    }
    free (calls);
    free (of);
}

int
payment_intents_charge (pg_t *db, payment_intent_t *intents, size_t count, int64_t now_ms)
{
    enum { KEY, STATUS, CODE, MESSAGE, REF, KONBINI, BANK, EXPIRES, COLUMNS };
    pg_buffer_t columns [COLUMNS];
    memset (columns, 0, sizeof columns);
    for (size_t i = 0; i < count; i++) {
        payment_intent_t *intent = &intents [i];
        int terms = intent->held? s_charge_terms (db, intent->method, now_ms, intent->first_invoice,
                                                  &intent->pending_ms, &intent->charge): -1;
        intent->answered = terms == 1;
        intent->call = terms == 0;
    }
    s_call_many (intents, count, now_ms);
    s_call_all (intents, count, now_ms);
    int answered = 0;
    for (size_t i = 0; i < count; i++) {
        payment_intent_t *intent = &intents [i];
        if (!intent->answered)
            continue;
        const provider_charge_t *charge = &intent->charge;
        char expires [24];
        pg_array_add (&columns [KEY], intent->key, true);
        pg_array_add (&columns [STATUS], charge->status, true);
        pg_array_add (&columns [CODE], charge->failure_code, true);
        pg_array_add (&columns [MESSAGE], charge->failure_message, true);
        pg_array_add (&columns [REF], charge->provider_ref, true);
        pg_array_add (&columns [KONBINI], charge->konbini_number, true);
        pg_array_add (&columns [BANK], charge->bank_reference, true);
        pg_array_add (&columns [EXPIRES], NUM (expires, charge->expires_at_ms), false);
        answered++;
    }
    char now [24];
    PGresult *result = answered? pg_run_arrays (db, "payment_intents_charged", columns, COLUMNS, NUM (now, now_ms))
                               : NULL;
    for (int c = 0; c < COLUMNS; c++)
        free (columns [c].text);            /* none answered: nothing was run */
    /* Those the statement recorded (a key another backend recorded first is not among them):
       their outcomes are what the rows now hold for good. */
    for (int row = 0; result && row < PQntuples (result); row++)
        for (size_t i = 0; i < count; i++)
            if (intents [i].answered && strcmp (intents [i].key, PQgetvalue (result, row, 0)) == 0) {
                s_outcome_keep (&intents [i]);
                break;
            }
    PQclear (result);
    return !answered || result? answered: -1;
}

int
payment_charge (pg_t *db, const Kaiin__Billing__PaymentMethod *method, int64_t amount,
                const char *key, int64_t now_ms, bool first_invoice, provider_charge_t *charge)
{
    /* Charged ahead as an intent (a renewal): its outcome, the provider not called again;
       created but not answered: not reached, not called inside this transaction either. */
    memset (charge, 0, sizeof *charge);
    if (s_outcome_recorded (key, charge))
        return 0;
    int intent = s_intent_outcome (db, key, charge);
    if (intent != 0)
        return intent == 1? 0: -1;
    return s_provider_charge (db, method, amount, key, now_ms, first_invoice, charge);
}

int
payment_paid_event (pg_t *db, const Kaiin__Billing__Invoice *invoice,
                    const Kaiin__Billing__PaymentMethod *method, const provider_charge_t *charge,
                    const char *payment_id, int64_t now_ms)
{
    Kaiin__Billing__Payment payment = KAIIN__BILLING__PAYMENT__INIT;
    payment.id = (char *) payment_id;
    payment.invoice_id = invoice->id;
    payment.member_id = invoice->member_id;
    payment.payment_method_id = method->id;
    payment.method_type = method->type;
    payment.provider = method->provider;
    payment.provider_ref = (char *) charge->provider_ref;
    payment.amount = payment.amount_received = invoice->total;
    payment.status = "succeeded";
    payment.created_at_ms = payment.settled_at_ms = now_ms;
    return outbox_append (db, "payment.succeeded", payment_id, &payment.base, now_ms);
}

Kaiin__Billing__Payment *
payment_collect (pg_t *db, const Kaiin__Billing__Invoice *invoice,
                 const Kaiin__Billing__PaymentMethod *method, const char *key, int64_t now_ms,
                 char status [16])
{
    int64_t due = invoice->total - invoice->amount_paid;
    if (due <= 0) {
        int rc = invoice_apply_payment (db, invoice, 0, now_ms);
        snprintf (status, 16, "%s", rc == -1? "": "paid");
        return NULL;
    }
    const provider_t *provider = provider_find (method->provider);
    provider_charge_t charge;
    bool first = strcmp (invoice->billing_reason, "subscription_create") == 0;
    if (!provider || payment_charge (db, method, due, key, now_ms, first, &charge) == -1)
        return NULL;
    bool succeeded = strcmp (charge.status, "succeeded") == 0;
    char amount [24], received [24], expires [24], now [24], settled [24];
    const char *params [] = { invoice->id, invoice->member_id, method->id, method->type, provider->name,
        charge.provider_ref, NUM (amount, due), NUM (received, succeeded? due: 0), charge.status,
        charge.failure_code, charge.failure_message, charge.konbini_number, charge.bank_reference,
        NUM (expires, charge.expires_at_ms), NUM (now, now_ms), NUM (settled, succeeded? now_ms: 0) };
    PGresult *result = pg_run (db, "payment_insert", 16, params);
    if (!result)
        return NULL;
    if (PQntuples (result) == 0) {
        /* The provider answered a key it had seen: the attempt is recorded already. */
        PQclear (result);
        const char *ref [] = { provider->name, charge.provider_ref };
        if (!(result = pg_run (db, "payment_by_ref", 2, ref)))
            return NULL;
        Kaiin__Billing__Payment *payment = (Kaiin__Billing__Payment *)
            pg_row_message (result, 0, &kaiin__billing__payment__descriptor);
        PQclear (result);
        snprintf (status, 16, "%s", payment->status);
        if (strcmp (payment->status, "succeeded") != 0 && invoice_announce (db, invoice, now_ms) == -1) {
            protobuf_c_message_free_unpacked (&payment->base, NULL);
            return NULL;
        }
        return payment;
    }
    Kaiin__Billing__Payment *payment = s_payment_event (db, result, 0, now_ms);
    PQclear (result);
    if (payment && !succeeded && invoice_announce (db, invoice, now_ms) == -1) {
        protobuf_c_message_free_unpacked (&payment->base, NULL);
        payment = NULL;
    }
    if (!payment)
        return NULL;
    snprintf (status, 16, "%s", payment->status);
    if (succeeded && invoice_apply_payment (db, invoice, due, now_ms) == -1) {
        protobuf_c_message_free_unpacked (&payment->base, NULL);
        return NULL;
    }
    return payment;
}

Kaiin__Billing__Payment *
payment_record (pg_t *db, const Kaiin__Billing__Invoice *invoice, const payment_manual_t *manual,
                int64_t now_ms)
{
    int64_t due = invoice->total - invoice->amount_paid;
    if (manual->amount > 0 && manual->amount < due)
        due = manual->amount;
    int64_t received = manual->amount_received > due? manual->amount_received: due;
    int64_t paid_ms = manual->paid_at_ms? manual->paid_at_ms: now_ms;
    char amount [24], received_text [24], created [24], settled [24];
    const char *params [] = { invoice->id, invoice->member_id, manual->method_type, NUM (amount, due),
        NUM (received_text, received), manual->bank_reference, manual->note, manual->recorded_by,
        NUM (created, now_ms), NUM (settled, paid_ms) };
    PGresult *result = pg_run (db, "payment_manual", 10, params);
    if (!result)
        return NULL;
    Kaiin__Billing__Payment *payment = s_payment_event (db, result, 0, now_ms);
    PQclear (result);
    if (payment && invoice_apply_payment (db, invoice, due, paid_ms) == -1) {
        protobuf_c_message_free_unpacked (&payment->base, NULL);
        payment = NULL;
    }
    return payment;
}

int
payment_reverse (pg_t *db, const char *payment_id, const char *actor, int64_t now_ms)
{
    char now [24];
    const char *params [] = { payment_id, NUM (now, now_ms), actor };
    PGresult *result = pg_run (db, "payment_reverse", 3, params);
    if (!result)
        return -1;
    int rc = 0;
    if (PQntuples (result) == 0)
        rc = 1;
    else {
        Kaiin__Billing__Payment *payment = (Kaiin__Billing__Payment *)
            pg_row_message (result, 0, &kaiin__billing__payment__descriptor);
        if (invoice_reopen (db, payment->invoice_id, payment->amount) == -1
        ||  outbox_append (db, "payment.reversed", payment->id, &payment->base, now_ms) == -1)
            rc = -1;
        protobuf_c_message_free_unpacked (&payment->base, NULL);
    }
    PQclear (result);
    return rc;
}

int
payment_api_get (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__IdRequest *get = (Kaiin__Billing__IdRequest *)
        svc_unpack (request, &kaiin__billing__id_request__descriptor, reply);
    if (!get)
        return -1;
    int rc = -1;
    const char *params [] = { get->id };
    ProtobufCMessage *payment = billing_uuid (get->id)
        ? billing_get (request, reply, "payment_get", 1, params, &kaiin__billing__payment__descriptor,
                       "payment not found")
        : (svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "payment not found"), NULL);
    if (payment) {
        rc = svc_reply_with (reply, payment);
        protobuf_c_message_free_unpacked (payment, NULL);
    }
    protobuf_c_message_free_unpacked (&get->base, NULL);
    return rc;
}

int
payment_api_list (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__ListRequest *list = (Kaiin__Billing__ListRequest *)
        svc_unpack (request, &kaiin__billing__list_request__descriptor, reply);
    if (!list)
        return -1;
    char before [24], limit [24];
    int rc = -1;
    billing_page (reply, list, before, limit);
    billing_check_enum (reply, "status", list->status, s_statuses, false);
    if (reply->status == KAIIN__STATUS__OK) {
        const char *params [] = { before, list->member_id, list->invoice_id, limit, list->status };
        PGresult *result = billing_run (request, reply, "payment_list", 5, params);
        if (result)
            rc = billing_reply_rows (reply, result, atoi (limit), &kaiin__billing__payment_list__descriptor);
        PQclear (result);
    }
    protobuf_c_message_free_unpacked (&list->base, NULL);
    return rc;
}

/* Splits a refund over the invoice's tax rates in proportion to each rate's share of the
   total (the last rate takes the remainder), the tax in each part taken as included. */
static int
s_refund_taxes (pg_t *db, const char *refund_id, const Kaiin__Billing__Invoice *invoice, int64_t amount,
                Kaiin__Billing__Refund *refund)
{
    int64_t left = amount;
    for (size_t i = 0; i < invoice->n_taxes; i++) {
        const Kaiin__Billing__TaxBreakdown *rate = invoice->taxes [i];
        int64_t share = rate->taxable_amount + rate->tax;
        int64_t part = i + 1 == invoice->n_taxes || invoice->total == 0? left: amount * share / invoice->total;
        left -= part;
        int64_t tax = part * rate->rate / (100 + rate->rate);
        char rate_text [24], part_text [24], taxable [24], tax_text [24];
        const char *params [] = { refund_id, NUM (rate_text, rate->rate), NUM (part_text, part),
                                  NUM (taxable, part - tax), NUM (tax_text, tax) };
        PGresult *result = pg_run (db, "refund_tax_insert", 5, params);
        if (!result)
            return -1;
        PQclear (result);
        Kaiin__Billing__TaxBreakdown *breakdown = malloc (sizeof *breakdown);
        assert (breakdown);
        kaiin__billing__tax_breakdown__init (breakdown);
        breakdown->rate = rate->rate;
        breakdown->amount = part;
        breakdown->taxable_amount = part - tax;
        breakdown->tax = tax;
        pg_row_append ((void ***) &refund->credit_note_taxes, &refund->n_credit_note_taxes, breakdown);
    }
    return 0;
}

int
refund_api_create (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__RefundCreateRequest *create = (Kaiin__Billing__RefundCreateRequest *)
        svc_unpack (request, &kaiin__billing__refund_create_request__descriptor, reply);
    if (!create)
        return -1;
    const char *reason = *create->reason? create->reason: "requested_by_customer";
    billing_check_enum (reply, "reason", reason, s_refund_reasons, true);
    if (create->amount < 0 || create->amount > AMOUNT_MAX)
        svc_field_error (reply, "amount", "must be from 1 to %lld, or absent for the rest", AMOUNT_MAX);
    pg_t *db = request->db;
    int64_t now = billing_now (request);
    int rc = -1;
    PGresult *result = NULL;
    Kaiin__Billing__Payment *payment = NULL;
    Kaiin__Billing__Invoice *invoice = NULL;
    Kaiin__Billing__Refund *refund = NULL;
    const char *params [] = { create->payment_id };
    if (reply->status != KAIIN__STATUS__OK)
        ;
    else
    if (!billing_uuid (create->payment_id) || billing_begin (db) == -1
    ||  !(result = pg_run (db, "payment_lock", 1, params)) || PQntuples (result) == 0) {
        if (*pg_sqlstate (db))
            svc_db_fail (reply, db);
        else
            svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "payment not found");
    }
    else {
        payment = (Kaiin__Billing__Payment *) pg_row_message (result, 0, &kaiin__billing__payment__descriptor);
        int64_t refundable = payment->amount_received - payment->amount_refunded;
        int64_t amount = create->amount? create->amount: refundable;
        if (strcmp (payment->status, "succeeded") != 0)
            svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION, "only a succeeded payment can be refunded");
        else
        if (amount <= 0 || amount > refundable) {
            svc_field_error (reply, "amount", "must be at most the %lld yen left to refund", (long long) refundable);
        }
        else
        if ((invoice = invoice_load (db, payment->invoice_id, true))) {
            const provider_t *provider = provider_find (payment->provider);
            char key [128], number [24] = "", amount_text [24], now_text [24];
            snprintf (key, sizeof key, "refund:%s:%lld", payment->id, (long long) payment->amount_refunded);
            PQclear (result);
            result = NULL;
            if (provider && provider->refund (payment->provider_ref, amount, key, now) == 0
            &&  (result = pg_run (db, "refund_number", 0, NULL))) {
                snprintf (number, sizeof number, "%s", PQgetvalue (result, 0, 0));
                PQclear (result);
                const char *insert [] = { payment->id, payment->invoice_id, payment->member_id,
                    NUM (amount_text, amount), reason, number, NUM (now_text, now) };
                result = pg_run (db, "refund_insert", 7, insert);
            }
            if (result) {
                refund = (Kaiin__Billing__Refund *) pg_row_message (result, 0, &kaiin__billing__refund__descriptor);
                const char *apply [] = { payment->id, amount_text };
                PGresult *applied = NULL;
                if (s_refund_taxes (db, refund->id, invoice, amount, refund) == 0
                &&  (applied = pg_run (db, "refund_apply", 2, apply))
                &&  outbox_append (db, "refund.created", refund->id, &refund->base, now) == 0
                &&  billing_commit (db) == 0)
                    rc = svc_reply_with (reply, &refund->base);
                PQclear (applied);
            }
        }
    }
    if (rc == -1) {
        pg_rollback (db);
        if (reply->status == KAIIN__STATUS__OK)
            svc_db_fail (reply, db);
    }
    PQclear (result);
    if (refund)
        protobuf_c_message_free_unpacked (&refund->base, NULL);
    if (invoice)
        protobuf_c_message_free_unpacked (&invoice->base, NULL);
    if (payment)
        protobuf_c_message_free_unpacked (&payment->base, NULL);
    protobuf_c_message_free_unpacked (&create->base, NULL);
    return rc;
}

/* Adds the refund's credit-note taxes to it. 0, or -1 with a database error on reply: a credit
   note shown without its taxes would understate them. */
static int
s_refund_read_taxes (svc_request_t *request, svc_reply_t *reply, Kaiin__Billing__Refund *refund)
{
    return billing_append_rows (request, reply, "refund_taxes", refund->id, (void ***) &refund->credit_note_taxes,
                                &refund->n_credit_note_taxes, &kaiin__billing__tax_breakdown__descriptor);
}

int
refund_api_get (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__Refund *refund = (Kaiin__Billing__Refund *) billing_get_by_id (request, reply,
        "refund_get", &kaiin__billing__refund__descriptor, "refund not found");
    int rc = refund? s_refund_read_taxes (request, reply, refund): -1;
    if (rc == 0)
        svc_reply_with (reply, &refund->base);
    if (refund)
        protobuf_c_message_free_unpacked (&refund->base, NULL);
    return rc;
}

int
refund_api_list (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__ListRequest *list = (Kaiin__Billing__ListRequest *)
        svc_unpack (request, &kaiin__billing__list_request__descriptor, reply);
    if (!list)
        return -1;
    char before [24], limit [24];
    int rc = -1;
    if (billing_page (reply, list, before, limit) == 0) {
        const char *params [] = { list->member_id, list->invoice_id, "", before, limit };
        PGresult *result = billing_run (request, reply, "refund_list", 5, params);
        if (result) {
            Kaiin__Billing__RefundList page = KAIIN__BILLING__REFUND_LIST__INIT;
            char cursor [24];
            billing_next_cursor (result, atoi (limit), cursor);
            page.next_cursor = cursor;
            for (int row = 0; row < PQntuples (result) && reply->status == KAIIN__STATUS__OK; row++) {
                Kaiin__Billing__Refund *refund = (Kaiin__Billing__Refund *)
                    pg_row_message (result, row, &kaiin__billing__refund__descriptor);
                s_refund_read_taxes (request, reply, refund);
                pg_row_append ((void ***) &page.data, &page.n_data, refund);
            }
            if (reply->status == KAIIN__STATUS__OK)
                rc = svc_reply_with (reply, &page.base);
            for (size_t i = 0; i < page.n_data; i++)
                protobuf_c_message_free_unpacked (&page.data [i]->base, NULL);
            free (page.data);
        }
        PQclear (result);
    }
    protobuf_c_message_free_unpacked (&list->base, NULL);
    return rc;
}

/* A payment failed or expired: tell its subscription (dunning, incomplete) or its purchase
   (failed). */
static int
s_payment_lost (pg_t *db, const Kaiin__Billing__Payment *payment, int64_t now_ms)
{
    Kaiin__Billing__Invoice *invoice = invoice_load (db, payment->invoice_id, false);
    if (!invoice)
        return -1;
    int rc = invoice_payment_lost (db, invoice, now_ms);
    protobuf_c_message_free_unpacked (&invoice->base, NULL);
    return rc;
}

/* Applies a verified webhook event in the caller's transaction. 0, or -1 with reply set. */
static int
s_webhook_apply (pg_t *db, svc_reply_t *reply, const char *provider, json_t *event, int64_t now_ms)
{
    const char *type = json_string_value (json_object_get (event, "type"));
    const char *ref = json_string_value (json_object_get (event, "provider_ref"));
    json_t *amount_json = json_object_get (event, "amount");
    int64_t amount = json_is_integer (amount_json)? json_integer_value (amount_json): -1;
    bool konbini = type && strcmp (type, "konbini.paid") == 0;
    bool bank = type && strcmp (type, "bank_transfer.received") == 0;
    if (!konbini && !bank)
        return svc_fail (reply, KAIIN__STATUS__INVALID_ARGUMENT, "unknown event type");
    if (!ref || amount <= 0 || amount > AMOUNT_MAX)
        return svc_fail (reply, KAIIN__STATUS__INVALID_ARGUMENT, "provider_ref and a positive amount are required");
    const char *params [] = { provider, ref };
    PGresult *result = pg_run (db, "payment_by_ref", 2, params);
    if (!result)
        return svc_db_fail (reply, db);
    if (PQntuples (result) == 0) {
        PQclear (result);
        return svc_fail (reply, KAIIN__STATUS__INVALID_ARGUMENT, "no payment has this provider_ref");
    }
    Kaiin__Billing__Payment *payment = (Kaiin__Billing__Payment *)
        pg_row_message (result, 0, &kaiin__billing__payment__descriptor);
    PQclear (result);
    int rc = 0;
    Kaiin__Billing__Invoice *invoice = invoice_load (db, payment->invoice_id, true);
    if (!invoice)
        rc = svc_db_fail (reply, db);
    else
    if (strcmp (payment->status, "pending") != 0 && !(bank && strcmp (payment->status, "succeeded") == 0))
        log_info ("webhook for payment %s in status %s: recorded, nothing to change", payment->id, payment->status);
    else {
        /* What the invoice still lacks is taken from the amount; the rest shows as received. */
        int64_t due = invoice->total - invoice->amount_paid;
        if (due < 0 || strcmp (invoice->status, "paid") == 0)
            due = 0;
        int64_t applied = konbini? due: (amount < due? amount: due);
        bool settles = konbini || payment->amount_received + amount >= payment->amount;
        char amount_text [24], now [24];
        const char *settle [] = { payment->id, NUM (amount_text, konbini? payment->amount: amount),
                                  settles? "true": "false", NUM (now, now_ms) };
        PGresult *settled = pg_run (db, "payment_settle", 4, settle);
        Kaiin__Billing__Payment *updated = NULL;
        if (!settled
        ||  (settles && strcmp (payment->status, "pending") == 0 && !(updated = s_payment_event (db, settled, 0, now_ms)))
        ||  (applied > 0 && invoice_apply_payment (db, invoice, applied, now_ms) == -1))
            rc = svc_db_fail (reply, db);
        if (updated)
            protobuf_c_message_free_unpacked (&updated->base, NULL);
        PQclear (settled);
    }
    if (invoice)
        protobuf_c_message_free_unpacked (&invoice->base, NULL);
    protobuf_c_message_free_unpacked (&payment->base, NULL);
    return rc;
}

int
webhook_api_receive (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__WebhookRequest *webhook = (Kaiin__Billing__WebhookRequest *)
        svc_unpack (request, &kaiin__billing__webhook_request__descriptor, reply);
    if (!webhook)
        return -1;
    const provider_t *provider = provider_find (webhook->provider);
    int64_t now = billing_now (request);
    const char *reason;
    json_t *body = NULL, *event = NULL;      /* event: the body in Kaiin's terms */
    json_error_t error;
    int rc = -1;
    if (!provider)
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no payment provider is called '%s'", webhook->provider);
    else
    if (provider->verify (webhook->timestamp, webhook->signature, webhook->body.data, webhook->body.len,
                          now, &reason) == -1)
        svc_fail_say (reply, KAIIN__STATUS__INVALID_ARGUMENT, reason);
    else
    if (!(body = json_loadb ((const char *) webhook->body.data, webhook->body.len, 0, &error))
    ||  !json_is_string (json_object_get (body, "id")) || !(event = provider->event (body)))
        svc_fail (reply, KAIIN__STATUS__INVALID_ARGUMENT, "the body must be a JSON event with an id");
    else {
        pg_t *db = request->db;
        char now_text [24];
        const char *seen [] = { webhook->provider, json_string_value (json_object_get (event, "id")),
                                NUM (now_text, now) };
        PGresult *result = NULL;
        if (billing_begin (db) == -1 || !(result = pg_run (db, "webhook_seen", 3, seen)))
            svc_db_fail (reply, db);
        else {
            Kaiin__Billing__WebhookReply answer = KAIIN__BILLING__WEBHOOK_REPLY__INIT;
            answer.event_id = (char *) seen [1];
            answer.duplicate = PQntuples (result) == 0;
            bool ignored = json_is_true (json_object_get (event, "ignore"));
            if ((answer.duplicate || ignored || s_webhook_apply (db, reply, webhook->provider, event, now) == 0)
            &&  billing_commit (db) == 0)
                rc = svc_reply_with (reply, &answer.base);
        }
        PQclear (result);
        if (rc == -1) {
            pg_rollback (db);
            if (reply->status == KAIIN__STATUS__OK)
                svc_db_fail (reply, db);
        }
    }
    json_decref (event);
    json_decref (body);
    protobuf_c_message_free_unpacked (&webhook->base, NULL);
    return rc;
}

int
payment_tick (pg_t *db, int64_t now_ms)
{
    char now [24];
    const char *params [] = { NUM (now, now_ms) };
    if (billing_begin (db) == -1)
        return -1;
    PGresult *result = pg_run (db, "payment_expire", 1, params);
    int done = result? PQntuples (result): -1;
    for (int row = 0; row < done; row++) {
        Kaiin__Billing__Payment *payment = s_payment_event (db, result, row, now_ms);
        if (!payment || s_payment_lost (db, payment, now_ms) == -1)
            done = -1;
        if (payment)
            protobuf_c_message_free_unpacked (&payment->base, NULL);
    }
    PQclear (result);
    if (done < 0 || billing_commit (db) == -1) {
        pg_rollback (db);
        return -1;
    }
    return done;
}

/* Refunds the charge of listed [0..count) whose reference is ref, and records it. 0 or -1. */
static int
s_refund_orphan (pg_t *db, const provider_t *provider, const provider_listed_t *listed, int count,
                 const char *ref, int64_t now_ms)
{
    const provider_listed_t *charge = listed;
    while (charge < listed + count && strcmp (charge->provider_ref, ref) != 0)
        charge++;
    assert (charge < listed + count);
    char key [128], amount [24], charged [24], now [24];
    snprintf (key, sizeof key, "reconcile:%s", ref);
    if (provider->refund (ref, charge->amount, key, now_ms) == -1)
        return log_error ("cannot refund the orphan charge '%s' of %s", ref, provider->name);
    const char *params [] = { provider->name, ref, charge->key, charge->customer,
        NUM (amount, charge->amount), NUM (charged, charge->created_at_ms), NUM (now, now_ms) };
    PGresult *result = pg_run (db, "reconcile_orphan", 7, params);
    if (!result)
        return -1;
    PQclear (result);
    log_warn ("refunded %lld yen charged by %s as '%s' (key '%s', member '%s'): Kaiin has no payment for it",
              (long long) charge->amount, provider->name, ref, charge->key, charge->customer);
    return 0;
}

/* Reads one batch of provider's charges after cursor that are old enough to judge, refunds
   those without a payment, and moves the cursor past them. Returns how many were read. */
static int
s_reconcile_provider (pg_t *db, const provider_t *provider, const char *cursor, int64_t now_ms)
{
    provider_listed_t *listed = calloc (RECONCILE_BATCH, sizeof *listed);
    assert (listed);
    int count = provider->charges (cursor, RECONCILE_BATCH, listed), ripe = 0;
    while (ripe < count && listed [ripe].created_at_ms <= now_ms - RECONCILE_AFTER_MS)
        ripe++;
    size_t size = (size_t) ripe * sizeof listed->provider_ref + 1, used = 0;
    char *refs = malloc (size);
    assert (refs);
    *refs = 0;
    for (int i = 0; i < ripe; i++)      /* references hold no newline: one a line */
        if (*listed [i].key)            /* without Kaiin's key: not made by Kaiin, passed over */
            used += (size_t) snprintf (refs + used, size - used, used? "\n%s": "%s", listed [i].provider_ref);
    int rc = count < 0? -1: ripe;
    PGresult *result = NULL;
    if (ripe > 0) {
        const char *params [] = { provider->name, refs };
        result = pg_run (db, "reconcile_unrecorded", 2, params);
        for (int row = 0; rc >= 0 && row < (result? PQntuples (result): 0); row++)
            if (s_refund_orphan (db, provider, listed, ripe, PQgetvalue (result, row, 0), now_ms) == -1)
                rc = -1;
        const char *advance [] = { provider->name, listed [ripe - 1].cursor };
        PGresult *moved = result && rc >= 0? pg_run (db, "reconcile_advance", 2, advance): NULL;
        if (!moved)
            rc = -1;
        PQclear (moved);
    }
    PQclear (result);
    free (refs);
    free (listed);
    return rc;
}

int
payment_reconcile (pg_t *db, int64_t now_ms)
{
    if (billing_begin (db) == -1)
        return -1;
    PGresult *result = pg_run (db, "reconcile_positions", 0, NULL);
    int done = result? 0: -1;
    for (int row = 0; done >= 0 && row < (result? PQntuples (result): 0); row++) {
        const provider_t *provider = provider_find (PQgetvalue (result, row, 0));
        int read = provider? s_reconcile_provider (db, provider, PQgetvalue (result, row, 1), now_ms): 0;
        done = read < 0? -1: done + read;
    }
    PQclear (result);
    if (done < 0 || billing_commit (db) == -1) {
        pg_rollback (db);
        return -1;
    }
    return done;
}
