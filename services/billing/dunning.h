/* dunning.h - what its invoice's payments do to a subscription: dunning, and its end */
#ifndef KAIIN_BILLING_DUNNING_H
#define KAIIN_BILLING_DUNNING_H
#include "billing.h"
#include "invoice.h"

/* The invoice of a subscription was paid in full (caller's transaction): an incomplete,
   past_due or unpaid subscription becomes active. 0 or -1. */
int dunning_invoice_paid (pg_t *db, const char *subscription_id, int64_t now_ms);

/* An attempt to pay a subscription's invoice failed or expired (caller's transaction): the
   first invoice leaves it incomplete; a renewal's starts or continues dunning. 0 or -1. */
int dunning_payment_failed (pg_t *db, const char *subscription_id, const char *invoice_id,
                            int64_t now_ms);

/* The owner of subscriptions' invoices: dunning_invoice_paid and dunning_payment_failed. */
extern const invoice_owner_t dunning_owner;

#endif
