/* invoice.h - invoices: lines, consumption tax per rate, gap-free numbers, the qualified-
   invoice fields, and their life from draft to paid, void or uncollectible */
#ifndef KAIIN_BILLING_INVOICE_H
#define KAIIN_BILLING_INVOICE_H
#include "billing.h"

int invoice_prepare (pg_t *db);

/* A charge made in full before its invoice is written (a renewal by card): the invoice is
   stored paid, with its payment, in the same statement; payment_id gets the payment's id. */
typedef struct {
    const char *method_id, *method_type, *provider, *provider_ref;
    char payment_id [37];
} invoice_paid_by_t;

/* What a new invoice holds. Lines' amount must already be quantity × unit_amount −
   discount_amount (in tax_mode); taxes and totals are computed here. */
typedef struct {
    const char *member_id;
    const char *subscription_id;        /* "" = none */
    const char *purchase_id;            /* "" = none */
    const char *billing_reason;         /* subscription_create | subscription_cycle | ... */
    const char *tax_mode;               /* inclusive | exclusive */
    Kaiin__Billing__InvoiceLine **lines;
    size_t n_lines;
    int64_t period_start_ms, period_end_ms;
    int64_t due_at_ms;                  /* 0 = due at once */
    bool finalize;                      /* open it now (numbered at billing_commit) */
    bool collect_now;                   /* collected in this transaction: announced only if
                                           that does not pay it (invoice_announce) */
    invoice_paid_by_t *paid_by;         /* NULL, or paid in full before it is written */
} invoice_spec_t;

/* What the lines come to, tax included (as invoice_insert will store it). */
int64_t invoice_total (Kaiin__Billing__InvoiceLine *const *lines, size_t count, const char *tax_mode);

/* Begins a billing transaction (nests flatly like pg_begin). 0 or -1. */
int billing_begin (pg_t *db);

/* Gives the invoices finalised in this transaction their gap-free numbers, then commits.
   Always use it instead of pg_commit for transactions that may finalise invoices. 0 or -1
   (then pg_rollback). */
int billing_commit (pg_t *db);

/* Inserts an invoice in the caller's transaction. Returns the stored invoice (with lines and
   taxes; the number appears only after billing_commit) or NULL on a database error —
   pg_sqlstate "23505" when this subscription period was invoiced already. */
Kaiin__Billing__Invoice *invoice_insert (pg_t *db, const invoice_spec_t *spec, int64_t now_ms);

/* Announces an invoice inserted with collect_now whose collection did not pay it
   (invoice.finalized), once. 0 or -1. */
int invoice_announce (pg_t *db, const Kaiin__Billing__Invoice *invoice, int64_t now_ms);

/* The invoice with its lines and taxes; for_update locks it. NULL when not found (check
   pg_sqlstate for "" vs an error). */
Kaiin__Billing__Invoice *invoice_load (pg_t *db, const char *id, bool for_update);

/* Adds a settled payment's amount to the invoice (as loaded in this transaction) in the caller's transaction; when it is then
   paid in full: status paid, paid_at, invoice.paid event, and the subscription or purchase
   it belongs to is told (subscription_invoice_paid, purchase_invoice_paid). Returns 1 when
   the invoice became paid, 0 when still due, -1 on a database error. */
int invoice_apply_payment (pg_t *db, const Kaiin__Billing__Invoice *invoice, int64_t amount,
                           int64_t now_ms);

/* Sets a finalised invoice's status (void | uncollectible) in the caller's transaction. 0/-1. */
int invoice_set_status (pg_t *db, const char *invoice_id, const char *status, int64_t now_ms);

svc_handler_fn invoice_api_create, invoice_api_get, invoice_api_list, invoice_api_action;

/* Tick: open invoices past their due date get invoice.overdue, once each. */
int invoice_tick (pg_t *db, int64_t now_ms);

#endif
