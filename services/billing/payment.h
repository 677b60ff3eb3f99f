/* payment.h - collecting invoices through a provider, every attempt recorded; refunds with
   credit notes; the provider's webhooks; pending payments that expire */
#ifndef KAIIN_BILLING_PAYMENT_H
#define KAIIN_BILLING_PAYMENT_H
#include "billing.h"
#include "provider.h"

void payment_prepare (pg_t *db);

/* Collects an open invoice's amount due with a payment method, in the caller's transaction:
   cards are charged at once (key makes the provider charge once however often this runs);
   konbini and bank transfer get a pending payment. The attempt is recorded, payment.succeeded
   / payment.failed / payment.pending emitted, and a success applied to the invoice
   (invoice_apply_payment). An invoice with nothing due is marked paid without a payment.
   Returns the payment (owned; NULL with *status "paid" when nothing was due), or NULL on a
   database or provider error. status gets the payment's status: succeeded | failed | pending | paid. */
Kaiin__Billing__Payment *payment_collect (pg_t *db, const Kaiin__Billing__Invoice *invoice,
                                          const Kaiin__Billing__PaymentMethod *method,
                                          const char *key, int64_t now_ms, char status [16]);

/* A payment made outside any provider (cash at the front desk, a bank transfer seen on the
   statement), recorded by hand. */
typedef struct {
    const char *method_type;            /* cash | bank_transfer | other */
    const char *note;
    const char *recorded_by;            /* the caller's id */
    const char *bank_reference;         /* a deposit's 照会番号, or "" */
    int64_t amount;                     /* 0: the amount due; less pays part of it */
    int64_t amount_received;            /* 0: the amount paid; more when more came in */
    int64_t paid_at_ms;                 /* 0: now */
} payment_manual_t;

/* Records a payment by hand of an open or uncollectible invoice's amount due (or the part of
   it manual->amount says: the invoice then stays open), in the caller's transaction: provider "manual", succeeded, payment.succeeded emitted and the invoice paid as
   any collected payment pays it (invoice_apply_payment: invoice.paid). Returns the payment
   (owned) or NULL on a database error. */
Kaiin__Billing__Payment *payment_record (pg_t *db, const Kaiin__Billing__Invoice *invoice,
                                         const payment_manual_t *manual, int64_t now_ms);

/* Reverses a payment recorded by hand, in the caller's transaction: the payment stays as
   history with status reversed (when, by actor), its invoice is open again for its amount
   (invoice_reopen) and payment.reversed is emitted. 0, 1 when it is not a manual succeeded
   payment or part of it was refunded (nothing done), or -1 on a database error. */
int payment_reverse (pg_t *db, const char *payment_id, const char *actor, int64_t now_ms);

/* Asks the method's provider to charge amount (key: see provider.h); an expired card fails
   without asking. A konbini payment may be pending for the settings' konbini_expiry_days, a
   bank transfer for the bank-transfer days (振込期限), but only for the 23 hours of an
   incomplete subscription when it pays a first invoice. A key charged ahead as a payment
   intent is answered with the intent's outcome, the provider not called again; an intent
   whose call did not answer is "not reached". 0 with charge filled, or -1 when the
   provider could not be asked. */
int payment_charge (pg_t *db, const Kaiin__Billing__PaymentMethod *method, int64_t amount,
                    const char *key, int64_t now_ms, bool first_invoice, provider_charge_t *charge);

/* A payment intent (migration 009): a charge of amount with method under key (the provider's
   idempotency key, a pure function of what is charged: "renewal:<id>:<period start>", a
   retry's with ":<attempt>"). A card is charged; a konbini or bank transfer gets its slip. */
typedef struct {
    char key [96];
    char subscription_id [37], member_id [37];
    int64_t period_start_ms, amount;
    Kaiin__Billing__PaymentMethod *method;      /* the caller's */
    bool first_invoice;         /* a subscription's first invoice (a bank transfer's shorter wait) */
    bool held;                  /* payment_intents_create: this backend is to charge it */
    bool call;                  /* payment_intents_charge: the provider is called for it, ... */
    int64_t pending_ms;         /* ... with this wait for a slip */
    bool answered;              /* payment_intents_charge: the provider answered, into charge */
    provider_charge_t charge;
} payment_intent_t;

/* Creates count intents in the caller's transaction, which commits before the provider is
   called, so that no transaction is open while it answers. Sets held on those this backend
   is to charge: new, or created before by a backend that is gone (a crash), not those charged
   already. 0 or -1 on a database error. */
int payment_intents_create (pg_t *db, payment_intent_t *intents, size_t count, int64_t now_ms);

/* Calls the provider for each held intent, outside any transaction, then records the
   outcomes on them in one statement, where payment_charge finds them. One the provider did
   not answer stays created: payment_charge answers it as not reached, and a later tick calls
   again with the same key. Returns how many answered, or -1 on a database error. */
int payment_intents_charge (pg_t *db, payment_intent_t *intents, size_t count, int64_t now_ms);

/* Forgets the outcomes the thread's last payment_intents_charge recorded (payment_charge
   answers those without a statement): before the intents they point into are freed. */
void payment_intents_forget (void);

/* Sets how many days a bank transfer may be pending (BILLING_BANK_TRANSFER_DAYS, read at
   start-up). */
void payment_set_bank_transfer_days (int days);

/* Sets how many provider calls payment_intents_charge makes side by side
   (BILLING_PROVIDER_CALLS, read at start-up, before any charge). */
void payment_set_provider_calls (int calls);

/* payment.succeeded for a charge recorded with its invoice (invoice_spec_t.paid_by). 0/-1. */
int payment_paid_event (pg_t *db, const Kaiin__Billing__Invoice *invoice,
                        const Kaiin__Billing__PaymentMethod *method, const provider_charge_t *charge,
                        const char *payment_id, int64_t now_ms);

/* RefundGet answers a refund with its credit note's taxes, as RefundList does; an id that is
   not a uuid is a field error on "id". */
svc_handler_fn payment_api_get, payment_api_list, refund_api_create, refund_api_get, refund_api_list,
               webhook_api_receive;

/* Tick: pending konbini payments past their expiry become expired (a failed attempt). */
int payment_tick (pg_t *db, int64_t now_ms);

/* Tick: reconciliation with the payment providers. Reads each provider's succeeded charges in
   order, once they are a day and an hour old (no retry can link them to a payment after
   that), and refunds each one that no payment of ours records (a crash between the
   provider's charge and our commit, the client never retrying), recording it in
   provider_orphans. Returns how many charges it read, 0 when none is ripe, or -1. */
int payment_reconcile (pg_t *db, int64_t now_ms);

#endif
