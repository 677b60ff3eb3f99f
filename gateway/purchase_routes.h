/* purchase_routes.h - /v1/coupons, /v1/purchases, a member's billing summary and the payment
   providers' webhooks: JSON in and out, billing.proto to and from the billing service */
#ifndef KAIIN_PURCHASE_ROUTES_H
#define KAIIN_PURCHASE_ROUTES_H
#include "http.h"

/* POST /v1/coupons → 201 coupon, Location. */
void purchase_routes_coupon_create (http_request_t *request);

/* GET /v1/coupons/{id} (an id or a code) → coupon. */
void purchase_routes_coupon_get (http_request_t *request);

/* GET /v1/coupons?status=active|inactive → the coupons. */
void purchase_routes_coupon_list (http_request_t *request);

/* POST /v1/coupons/{id}/deactivate → the coupon, no longer active. */
void purchase_routes_coupon_deactivate (http_request_t *request);

/* POST /v1/purchases → 201 purchase (with its invoice and payment), Location. */
void purchase_routes_create (http_request_t *request);

/* GET /v1/purchases/{id} → purchase. */
void purchase_routes_get (http_request_t *request);

/* GET /v1/purchases?member_id=&status=&limit=&cursor= → a page of purchases. */
void purchase_routes_list (http_request_t *request);

/* GET /v1/members/{id}/billing-summary → the member's purchases and payments in figures. */
void purchase_routes_summary (http_request_t *request);

/* POST /v1/webhooks/payments/{provider}, no bearer token: the raw body and the Kaiin-Timestamp
   and Kaiin-Signature headers go to the service unread; it checks them and answers. */
void purchase_routes_webhook (http_request_t *request);

#endif
