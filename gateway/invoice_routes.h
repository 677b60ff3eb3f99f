/* invoice_routes.h - /v1/invoices, /v1/payments and /v1/refunds: JSON in and out, billing.proto
   to and from the billing service ("billing.<Method>") */
#ifndef KAIIN_INVOICE_ROUTES_H
#define KAIIN_INVOICE_ROUTES_H
#include "http.h"

/* POST /v1/invoices → 201 draft invoice, ETag, Location. */
void invoice_routes_create (http_request_t *request);

/* GET /v1/invoices/{id} → invoice, ETag. */
void invoice_routes_get (http_request_t *request);

/* GET /v1/invoices?member_id=&status=&subscription_id=&limit=&cursor= → a page of invoices. */
void invoice_routes_list (http_request_t *request);

/* POST /v1/invoices/{id}/finalize, /pay, /void, /mark-uncollectible → invoice, ETag
   (billing.InvoiceAction with action finalize, pay, void, mark_uncollectible). */
void invoice_routes_finalize (http_request_t *request);
void invoice_routes_pay (http_request_t *request);
void invoice_routes_void (http_request_t *request);
void invoice_routes_mark_uncollectible (http_request_t *request);

/* GET /v1/payments/{id} → payment. */
void invoice_routes_payment_get (http_request_t *request);

/* GET /v1/payments?member_id=&invoice_id=&status=&limit=&cursor= → a page of payments. */
void invoice_routes_payment_list (http_request_t *request);

/* POST /v1/payments/{id}/refunds → 201 refund (with its credit note), Location. */
void invoice_routes_refund_create (http_request_t *request);

/* GET /v1/refunds/{id} → refund (with its credit note). */
void invoice_routes_refund_get (http_request_t *request);

/* GET /v1/refunds?member_id=&invoice_id= → refunds. */
void invoice_routes_refund_list (http_request_t *request);

#endif
