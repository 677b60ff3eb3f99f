/* invoice.h - invoices: lines, consumption tax per rate, the qualified-invoice fields,
   and their life from draft to paid, void or uncollectible (billing_txn.c numbers them,
   invoice_action.c serves the requests that move them) */
#ifndef KAIIN_BILLING_INVOICE_H
#define KAIIN_BILLING_INVOICE_H
#include "billing.h"

/* An invoice's number as SQL text: "INV-00000001", or "" before it is finalised. */
#define INVOICE_NUMBER "case when number is null then '' else 'INV-' || lpad (number::text, 8, '0') end"

void invoice_prepare (pg_t *db);

/* An invoice's owner, a subscription or a purchase, told in the caller's transaction what
   became of an invoice of theirs. Owners collect their invoices (payment.c), so invoice.c and
   payment.c reach them through this, as billing reaches a payment provider through provider.h. */
typedef struct {
    /* The invoice of owner_id was paid in full. 0 or -1. */
    int (*invoice_paid) (pg_t *db, const char *owner_id, int64_t now_ms);
    /* An attempt to pay invoice_id, still open, failed or expired. 0 or -1. */
    int (*payment_lost) (pg_t *db, const char *owner_id, const char *invoice_id, int64_t now_ms);
} invoice_owner_t;

/* Sets the owners of subscriptions' and of purchases' invoices (borrowed), at start-up. */
void invoice_set_owners (const invoice_owner_t *subscriptions, const invoice_owner_t *purchases);

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
    int64_t closing_ms;                 /* not 0 (terms_gather_ms): 合算請求, the lines join the
                                           member's draft gathering the period that closes then,
                                           due at due_at_ms; finalize, collect_now, paid_by and
                                           the owner ids but purchase_id are not used */
} invoice_spec_t;

/* What the lines come to, tax included (as invoice_insert will store it). */
int64_t invoice_total (Kaiin__Billing__InvoiceLine *const *lines, size_t count, const char *tax_mode);

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

/* Adds a settled payment's amount to the invoice (as loaded in this transaction) in the
   caller's transaction; when it is then paid in full: status paid, paid_at, invoice.paid
   event, and the subscription or purchase it belongs to is told (its owner's invoice_paid).
   Returns 1 when the invoice became paid, 0 when still due, -1 on a database error. */
int invoice_apply_payment (pg_t *db, const Kaiin__Billing__Invoice *invoice, int64_t amount,
                           int64_t now_ms);

/* An attempt to pay the invoice failed or expired: when it is still open, its subscription
   or purchase is told (its owner's payment_lost), in the caller's transaction. 0 or -1. */
int invoice_payment_lost (pg_t *db, const Kaiin__Billing__Invoice *invoice, int64_t now_ms);

/* A payment of amount taken back (payment_reverse): the invoice is open again with that much
   less paid, in the caller's transaction. 0 or -1. */
int invoice_reopen (pg_t *db, const char *invoice_id, int64_t amount);

/* Finalises a draft invoice (locked by the caller) in the caller's transaction: open, issued at
   issued_ms, due on the member's terms from then when it has terms in force, else its due
   days counted from then; numbered at billing_commit. The caller announces it. 0 or -1. */
int invoice_finalize (pg_t *db, const Kaiin__Billing__Invoice *invoice, int64_t issued_ms);

/* Sets a finalised invoice's status (void | uncollectible) in the caller's transaction. 0/-1. */
int invoice_set_status (pg_t *db, const char *invoice_id, const char *status, int64_t now_ms);

/* Answers the invoice id with its lines and taxes (404 when the caller may not see it). 0 or -1. */
int invoice_reply (svc_request_t *request, svc_reply_t *reply, const char *id);

svc_handler_fn invoice_api_create, invoice_api_get, invoice_api_list;

/* InvoicePdf: the invoice, or (receipt) the receipt of a paid one, as a PDF addressed to the
   member by the name the member service gives (invoice_pdf.c). 404 as InvoiceGet; a draft
   has neither (409), an invoice not paid has no receipt (409). */
svc_handler_fn invoice_api_pdf;

/* Tick: the drafts gathering a closing period (合算請求) whose closing date has passed are
   issued; open invoices past their due date get invoice.overdue, once each. */
int invoice_tick (pg_t *db, int64_t now_ms);

#endif
