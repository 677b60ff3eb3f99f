/* billing_txn.h - a billing transaction: the invoices finalised in it take their gap-free
   numbers as it commits, and those collected in it are announced only if not paid */
#ifndef KAIIN_BILLING_TXN_H
#define KAIIN_BILLING_TXN_H
#include "billing.h"

void billing_txn_prepare (pg_t *db);

/* Begins a billing transaction (nests flatly like pg_begin). 0 or -1. */
int billing_begin (pg_t *db);

/* Gives the invoices finalised in this transaction their gap-free numbers, then commits.
   Always use it instead of pg_commit for transactions that may finalise invoices. 0 or -1
   (then pg_rollback). */
int billing_commit (pg_t *db);

/* The invoice (of purchase_id, or of none: "" or NULL) was finalised in this transaction:
   billing_commit numbers it, after those finalised before it. */
void billing_txn_number (const char *invoice_id, const char *purchase_id);

/* The invoice was finalised to be collected in this transaction: its invoice.finalized waits
   for billing_txn_take_announcement, and is dropped at commit (paid: invoice.paid says it all). */
void billing_txn_defer_announcement (const char *invoice_id);

/* Whether the invoice's announcement was deferred and not yet taken; takes it. */
bool billing_txn_take_announcement (const char *invoice_id);

/* Where the transaction's invoices to number and to announce stand: taken before a savepoint,
   given back to billing_txn_rewind when the savepoint is rolled back, so that an invoice the
   rollback took away is neither numbered (which would leave a gap) nor announced. */
typedef struct {
    size_t unnumbered, unannounced;
} billing_txn_mark_t;

billing_txn_mark_t billing_txn_mark (void);
void billing_txn_rewind (billing_txn_mark_t mark);

#endif
