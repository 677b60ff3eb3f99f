/* invoice_action.h - an invoice's life by request: finalize, pay, void, mark uncollectible */
#ifndef KAIIN_BILLING_INVOICE_ACTION_H
#define KAIIN_BILLING_INVOICE_ACTION_H
#include "billing.h"

/* InvoiceAction: finalize a draft (numbered at commit), pay an open or uncollectible invoice
   with a payment method, void or mark uncollectible an open one. Answers the invoice. */
svc_handler_fn invoice_api_action;

#endif
