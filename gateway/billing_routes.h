/* billing_routes.h - /v1/plans, payment methods, /v1/subscriptions and /v1/billing/settings:
   JSON in and out, billing.proto to and from the billing service ("billing.<Method>") */
#ifndef KAIIN_BILLING_ROUTES_H
#define KAIIN_BILLING_ROUTES_H
#include "http.h"

/* POST /v1/plans → 201 plan, ETag, Location. */
void billing_routes_plan_create (http_request_t *request);

/* GET /v1/plans/{id} (an id or a code) → plan, ETag. */
void billing_routes_plan_get (http_request_t *request);

/* GET /v1/plans?status=&limit=&cursor= → a page of plans. */
void billing_routes_plan_list (http_request_t *request);

/* PATCH /v1/plans/{id} (If-Match): name, trial_days, rank, status → plan, ETag. */
void billing_routes_plan_update (http_request_t *request);

/* POST /v1/members/{id}/payment-methods → 201 payment method, Location. */
void billing_routes_method_attach (http_request_t *request);

/* GET /v1/members/{id}/payment-methods?status= → the member's payment methods. */
void billing_routes_method_list (http_request_t *request);

/* GET /v1/payment-methods/{id} → the payment method, active or detached (never its token). */
void billing_routes_method_get (http_request_t *request);

/* DELETE /v1/payment-methods/{id} → the payment method, detached. */
void billing_routes_method_detach (http_request_t *request);

/* POST /v1/subscriptions → 201 subscription, ETag, Location. */
void billing_routes_subscription_create (http_request_t *request);

/* GET /v1/subscriptions/{id} → subscription, ETag. */
void billing_routes_subscription_get (http_request_t *request);

/* GET /v1/subscriptions?member_id=&status=&limit=&cursor= → a page of subscriptions. */
void billing_routes_subscription_list (http_request_t *request);

/* POST /v1/subscriptions/{id}/cancel (If-Match optional) → subscription, ETag. */
void billing_routes_subscription_cancel (http_request_t *request);

/* POST /v1/subscriptions/{id}/change-plan (If-Match optional) → subscription, ETag. */
void billing_routes_subscription_change_plan (http_request_t *request);

/* GET /v1/billing/settings → settings, ETag. */
void billing_routes_settings_get (http_request_t *request);

/* PATCH /v1/billing/settings (If-Match) → settings, ETag. */
void billing_routes_settings_update (http_request_t *request);

#endif
