/* coupon.h - coupons and promotions (coupons that apply themselves by rule) */
#ifndef KAIIN_BILLING_COUPON_H
#define KAIIN_BILLING_COUPON_H
#include "billing.h"

void coupon_prepare (pg_t *db);

/* The coupon a member gets for a subscription to plan_code ("subscriptions") or a purchase
   ("purchases"): the one named by code (checked: active, not past redeem_by, redemptions
   left, plan, rank, first purchase; a field error on "coupon_code" otherwise), or when code
   is "" the best auto-apply promotion whose rules match (or NULL, no error). NULL with an
   error status set on reply when the coupon cannot be used or on a database error. */
Kaiin__Billing__Coupon *coupon_pick (svc_request_t *request, svc_reply_t *reply, const char *code,
                                     const char *member_id, const char *member_rank,
                                     const char *plan_code, const char *applies_to);

/* The discount on amount: percent_off rounded down, or amount_off capped at amount. */
int64_t coupon_discount (const Kaiin__Billing__Coupon *coupon, int64_t amount);

/* Records a redemption in the caller's transaction (times_redeemed + 1, refused when the
   maximum was reached meanwhile). 0, 1 when exhausted, -1 on a database error. */
int coupon_redeem (pg_t *db, const Kaiin__Billing__Coupon *coupon, const char *member_id,
                   const char *subscription_id, const char *invoice_id, int64_t now_ms);

svc_handler_fn coupon_api_create, coupon_api_get, coupon_api_list, coupon_api_deactivate;

#endif
