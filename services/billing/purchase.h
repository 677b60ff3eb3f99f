/* purchase.h - one-off purchases and each member's billing summary */
#ifndef KAIIN_BILLING_PURCHASE_H
#define KAIIN_BILLING_PURCHASE_H
#include "billing.h"
#include "invoice.h"

void purchase_prepare (pg_t *db);

/* The owner of purchases' invoices: paid in full, the purchase is paid and purchase.completed
   emitted; a payment lost, a pending purchase is failed and its invoice stays open, to be paid
   another way. */
extern const invoice_owner_t purchase_owner;

svc_handler_fn purchase_api_create, purchase_api_get, purchase_api_list, purchase_api_summary;

#endif
