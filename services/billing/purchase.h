/* purchase.h - one-off purchases and each member's billing summary */
#ifndef KAIIN_BILLING_PURCHASE_H
#define KAIIN_BILLING_PURCHASE_H
#include "billing.h"

int purchase_prepare (pg_t *db);

/* The invoice of a purchase was paid in full (caller's transaction): the purchase is paid and
   purchase.completed emitted. 0 or -1. */
int purchase_invoice_paid (pg_t *db, const char *purchase_id, int64_t now_ms);

/* The payment of a pending purchase failed or expired (caller's transaction): the purchase is
   failed; its invoice stays open, to be paid another way. 0 or -1. */
int purchase_payment_lost (pg_t *db, const char *purchase_id);

svc_handler_fn purchase_api_create, purchase_api_get, purchase_api_list, purchase_api_summary;

#endif
