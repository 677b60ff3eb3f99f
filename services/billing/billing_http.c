/* billing_http.c - billing's HTTP face: its routes, who may call them, and the rules of the
   fields clients send; the gateway serves what this declares (common/svc_http.h) */
#include "billing_http.h"
#include "billing.h"

#define D(name) (&kaiin__billing__##name##__descriptor)

static const svc_permission_t s_permissions [] = {
    { "billing.catalog.read",   "owner admin support marketing finance viewer" },
    { "billing.plans.write",    "owner admin finance" },
    { "billing.coupons.write",  "owner admin marketing finance" },
    { "billing.subscriptions.write", "owner admin support finance" },
    { "billing.read",           "owner admin support finance viewer" },
    { "billing.invoices.write", "owner admin finance" },
    { "billing.purchases.write", "owner admin support finance" },
    { "billing.settings.read",  "owner admin finance" },
    { "billing.settings.write", "owner admin" },
    { NULL, NULL }
};

#define OWN_ID     KAIIN__MEMBER_RULE__MEMBER_OWN_ID
#define OWN_QUERY  KAIIN__MEMBER_RULE__MEMBER_OWN_QUERY
#define OWN_OBJECT KAIIN__MEMBER_RULE__MEMBER_OWN_OBJECT
#define LIST_QUERY "limit cursor"

static const svc_route_t s_routes [] = {
    /* plans */
    { "POST", "/v1/plans", "PlanCreate", D (plan), D (plan), "billing.plans.write",
      .keys = "code! name! amount! currency tax_mode tax_rate interval! interval_count trial_days rank",
      .status = 201, .location = "/v1/plans/{id}" },
    { "GET", "/v1/plans", "PlanList", D (list_request), D (plan_list), "billing.catalog.read",
      .query = "status " LIST_QUERY },
    /* the plans a member may change to (the portal): the active ones, for a member's session */
    { "GET", "/v1/plans/offered", "PlanList", D (list_request), D (plan_list), "",
      KAIIN__MEMBER_RULE__MEMBER_ONLY, .query = LIST_QUERY, .fixed = "status=active" },
    { "GET", "/v1/plans/{id}", "PlanGet", D (id_request), D (plan), "billing.catalog.read" },
    { "PATCH", "/v1/plans/{id}", "PlanUpdate", D (plan_update_request), D (plan), "billing.plans.write",
      .body = "plan", .keys = "name trial_days rank status", .if_match = true },
    /* payment methods */
    { "POST", "/v1/members/{id}/payment-methods", "PaymentMethodAttach",
      D (payment_method_attach_request), D (payment_method), "billing.subscriptions.write", OWN_ID,
      .keys = "type! token set_default", .status = 201, .location = "/v1/payment-methods/{id}",
      .path_fields = "id=member_id" },
    { "GET", "/v1/members/{id}/payment-methods", "PaymentMethodList", D (list_request),
      D (payment_method_list), "billing.read", .query = "status", .path_fields = "id=member_id" },
    { "GET", "/v1/payment-methods/{id}", "PaymentMethodGet", D (id_request), D (payment_method),
      "billing.read" },
    { "DELETE", "/v1/payment-methods/{id}", "PaymentMethodDetach", D (id_request), D (payment_method),
      "billing.subscriptions.write" },
    /* subscriptions */
    { "POST", "/v1/subscriptions", "SubscriptionCreate", D (subscription_create_request),
      D (subscription), "billing.subscriptions.write",
      .keys = "member_id! plan! payment_method_id coupon_code trial_days",
      .status = 201, .location = "/v1/subscriptions/{id}" },
    { "GET", "/v1/subscriptions", "SubscriptionList", D (list_request), D (subscription_list),
      "billing.read", OWN_QUERY, .query = "member_id status " LIST_QUERY },
    { "GET", "/v1/subscriptions/{id}", "SubscriptionGet", D (id_request), D (subscription),
      "billing.read", OWN_OBJECT },
    { "POST", "/v1/subscriptions/{id}/cancel", "SubscriptionCancel", D (subscription_cancel_request),
      D (subscription), "billing.subscriptions.write", .keys = "at_period_end reason! comment",
      .if_match = true },
    { "POST", "/v1/subscriptions/{id}/change-plan", "SubscriptionChangePlan",
      D (subscription_change_plan_request), D (subscription), "billing.subscriptions.write",
      .keys = "plan! no_proration", .if_match = true },
    /* a member's own, as staff's above less what only staff may do (cancel now, waive
       proration): the same handlers, which answer 404 for another member's subscription */
    { "POST", "/v1/subscriptions/{id}/cancel-at-period-end", "SubscriptionCancel",
      D (subscription_cancel_request), D (subscription), "billing.subscriptions.write", OWN_OBJECT,
      .keys = "reason! comment", .fixed = "at_period_end=true", .if_match = true },
    { "POST", "/v1/subscriptions/{id}/resume", "SubscriptionResume", D (subscription_resume_request),
      D (subscription), "billing.subscriptions.write", OWN_OBJECT, .keys = "", .if_match = true },
    { "GET", "/v1/subscriptions/{id}/change-plan/preview", "SubscriptionChangePlanPreview",
      D (subscription_change_plan_request), D (plan_change_preview), "billing.read", OWN_OBJECT,
      .query = "plan" },
    { "POST", "/v1/subscriptions/{id}/change-plan/prorated", "SubscriptionChangePlan",
      D (subscription_change_plan_request), D (subscription), "billing.subscriptions.write", OWN_OBJECT,
      .keys = "plan!", .if_match = true },
    /* invoices */
    { "POST", "/v1/invoices", "InvoiceCreate", D (invoice_create_request), D (invoice),
      "billing.invoices.write", .keys = "member_id! tax_mode lines! due_days",
      .status = 201, .location = "/v1/invoices/{id}" },
    { "GET", "/v1/invoices", "InvoiceList", D (list_request), D (invoice_list), "billing.read",
      OWN_QUERY, .query = "member_id status subscription_id " LIST_QUERY },
    { "GET", "/v1/invoices/{id}", "InvoiceGet", D (id_request), D (invoice), "billing.read", OWN_OBJECT },
    { "GET", "/v1/invoices/{id}/pdf", "InvoicePdf", D (invoice_pdf_request), D (invoice_pdf),
      "billing.read", OWN_OBJECT, .reply_body = "pdf", .content_type = "application/pdf" },
    { "GET", "/v1/invoices/{id}/receipt/pdf", "InvoicePdf", D (invoice_pdf_request), D (invoice_pdf),
      "billing.read", OWN_OBJECT, .fixed = "receipt=true", .reply_body = "pdf",
      .content_type = "application/pdf" },
    { "POST", "/v1/invoices/{id}/finalize", "InvoiceAction", D (invoice_action_request), D (invoice),
      "billing.invoices.write", .keys = "", .fixed = "action=finalize" },
    { "POST", "/v1/invoices/{id}/pay", "InvoiceAction", D (invoice_action_request), D (invoice),
      "billing.invoices.write", .keys = "payment_method_id", .fixed = "action=pay" },
    /* paid outside any provider (cash at the front desk), recorded by hand with a note */
    { "POST", "/v1/invoices/{id}/mark-paid", "InvoiceAction", D (invoice_action_request), D (invoice),
      "billing.invoices.write", .keys = "note! paid_at method", .fixed = "action=mark_paid" },
    { "POST", "/v1/invoices/{id}/void", "InvoiceAction", D (invoice_action_request), D (invoice),
      "billing.invoices.write", .keys = "", .fixed = "action=void" },
    { "POST", "/v1/invoices/{id}/mark-uncollectible", "InvoiceAction", D (invoice_action_request),
      D (invoice), "billing.invoices.write", .keys = "", .fixed = "action=mark_uncollectible" },
    /* payments and refunds */
    { "GET", "/v1/payments", "PaymentList", D (list_request), D (payment_list), "billing.read",
      .query = "member_id invoice_id status " LIST_QUERY },
    { "GET", "/v1/payments/{id}", "PaymentGet", D (id_request), D (payment), "billing.read" },
    { "POST", "/v1/payments/{id}/refunds", "RefundCreate", D (refund_create_request),
      D (refund), "billing.invoices.write", .keys = "amount reason",
      .status = 201, .location = "/v1/refunds/{id}", .path_fields = "id=payment_id" },
    { "GET", "/v1/refunds", "RefundList", D (list_request), D (refund_list), "billing.read",
      .query = "member_id invoice_id " LIST_QUERY },
    { "GET", "/v1/refunds/{id}", "RefundGet", D (id_request), D (refund), "billing.read" },
    /* coupons */
    { "POST", "/v1/coupons", "CouponCreate", D (coupon), D (coupon), "billing.coupons.write",
      .keys = "code! name percent_off amount_off duration duration_in_months max_redemptions"
              " redeem_by plans first_purchase_only applies_to auto_apply ranks",
      .status = 201, .location = "/v1/coupons/{id}" },
    { "GET", "/v1/coupons", "CouponList", D (list_request), D (coupon_list), "billing.catalog.read",
      .query = "status" },
    { "GET", "/v1/coupons/{id}", "CouponGet", D (id_request), D (coupon), "billing.catalog.read" },
    { "POST", "/v1/coupons/{id}/deactivate", "CouponDeactivate", D (id_request), D (coupon),
      "billing.coupons.write", .keys = "" },
    /* purchases */
    { "POST", "/v1/purchases", "PurchaseCreate", D (purchase_create_request), D (purchase),
      "billing.purchases.write", .keys = "member_id! items! tax_mode coupon_code payment_method_id",
      .status = 201, .location = "/v1/purchases/{id}" },
    { "GET", "/v1/purchases", "PurchaseList", D (list_request), D (purchase_list), "billing.read",
      .query = "member_id status " LIST_QUERY },
    { "GET", "/v1/purchases/{id}", "PurchaseGet", D (id_request), D (purchase), "billing.read" },
    { "GET", "/v1/members/{id}/billing-summary", "Summary", D (id_request), D (billing_summary),
      "billing.read", OWN_ID },
    /* a payment provider's webhook: no token, its signature checked by billing */
    { "POST", "/v1/webhooks/payments/{provider}", "Webhook", D (webhook_request), D (webhook_reply),
      SVC_OPEN, .raw = "body", .keys = "", .max_body = 64 * 1024,
      .headers = "Kaiin-Timestamp=timestamp Kaiin-Signature=signature" },
    /* settings */
    { "GET", "/v1/billing/settings", "SettingsGet", D (id_request), D (settings), "billing.settings.read" },
    { "PATCH", "/v1/billing/settings", "SettingsUpdate", D (settings), D (settings),
      "billing.settings.write", .if_match = true,
      .keys = "issuer_name registration_number retry_days final_action konbini_expiry_days invoice_due_days" },
    { NULL }
};

#define PLAN_CODE  .max_chars = 64, .chars = "a-z0-9_-"
#define RANK_CODE  .max_chars = 32, .chars = "a-z0-9_"
#define MONEY      .min = 0, .max = AMOUNT_MAX
#define ID         .max_chars = 64

static const svc_field_t s_fields [] = {
    { D (plan), "code", 0, PLAN_CODE },
    { D (plan), "name", 0, .max_chars = 100 },
    { D (plan), "amount", 0, MONEY },
    { D (plan), "currency", 0, .one_of = "JPY", .absent = "\"JPY\"" },
    { D (plan), "tax_mode", 0, .one_of = "inclusive exclusive", .absent = "\"inclusive\"" },
    { D (plan), "tax_rate", 0, .one_of = "10 8", .absent = "10" },
    { D (plan), "interval", 0, .one_of = "month year" },
    { D (plan), "interval_count", 0, .min = 1, .max = 12, .absent = "1" },
    { D (plan), "trial_days", 0, .min = 0, .max = 365 },
    { D (plan), "rank", SVC_FIELD_EMPTY_OK, RANK_CODE },
    { D (plan), "status", 0, .max_chars = 16, .one_of = "active archived" },
    { D (payment_method), "token", SVC_FIELD_HIDDEN },
    { D (payment_method), "exp_month", SVC_FIELD_ZERO_NULL },
    { D (payment_method), "exp_year", SVC_FIELD_ZERO_NULL },
    { D (payment_method_attach_request), "type", 0, .one_of = "card konbini bank_transfer" },
    { D (payment_method_attach_request), "token", SVC_FIELD_EMPTY_OK, .max_chars = 200 },
    { D (subscription), "member_paid", SVC_FIELD_HIDDEN },
    { D (subscription), "member_rank", SVC_FIELD_HIDDEN },
    { D (subscription_create_request), "member_id", 0, ID },
    { D (subscription_create_request), "plan", 0, ID },
    { D (subscription_create_request), "payment_method_id", SVC_FIELD_EMPTY_OK, ID },
    { D (subscription_create_request), "coupon_code", SVC_FIELD_EMPTY_OK, ID },
    /* absent or null: the plan's own trial */
    { D (subscription_create_request), "trial_days", 0, .min = 0, .max = 365 },
    { D (subscription_cancel_request), "reason", 0,
      .one_of = "too_expensive missing_features switched_service unused other" },
    { D (subscription_cancel_request), "comment", SVC_FIELD_EMPTY_OK, .max_chars = 1000 },
    { D (subscription_change_plan_request), "plan", 0, ID },
    { D (invoice_create_request), "member_id", 0, ID },
    { D (invoice_create_request), "tax_mode", 0, .one_of = "inclusive exclusive", .absent = "\"inclusive\"" },
    { D (invoice_create_request), "due_days", 0, .min = 0, .max = 365 },
    { D (invoice_line), "description", SVC_FIELD_REQUIRED, .max_chars = 200 },
    { D (invoice_line), "quantity", 0, .min = 1, .max = 100000, .absent = "1" },
    { D (invoice_line), "unit_amount", SVC_FIELD_REQUIRED, MONEY },
    { D (invoice_line), "tax_rate", 0, .one_of = "10 8 0", .absent = "10" },
    { D (invoice_line), "discount_amount", 0, MONEY },
    { D (invoice_line), "sku", SVC_FIELD_EMPTY_OK, .max_chars = 64 },
    { D (invoice_line), "amount", SVC_FIELD_READ_ONLY },
    { D (invoice_action_request), "payment_method_id", SVC_FIELD_EMPTY_OK, ID },
    { D (invoice_action_request), "note", 0, .max_chars = 500 },
    { D (invoice_action_request), "method", 0, .one_of = "cash bank_transfer other", .absent = "\"cash\"" },
    { D (refund_create_request), "amount", 0, MONEY },
    { D (refund_create_request), "reason", SVC_FIELD_EMPTY_OK,
      .one_of = "requested_by_customer duplicate fraudulent other" },
    { D (coupon), "code", 0, .max_chars = 64, .chars = "A-Za-z0-9_-" },
    { D (coupon), "name", SVC_FIELD_EMPTY_OK, .max_chars = 100 },
    { D (coupon), "percent_off", SVC_FIELD_ZERO_NULL, .min = 1, .max = 100 },
    { D (coupon), "amount_off", SVC_FIELD_ZERO_NULL, .min = 1, .max = AMOUNT_MAX },
    { D (coupon), "duration", 0, .one_of = "once repeating forever", .absent = "\"once\"" },
    { D (coupon), "duration_in_months", SVC_FIELD_ZERO_NULL, .min = 1, .max = 36 },
    { D (coupon), "max_redemptions", 0, .min = 0, .max = 1000000000 },
    { D (coupon), "plans", 0, PLAN_CODE },
    { D (coupon), "ranks", 0, RANK_CODE },
    { D (coupon), "applies_to", 0, .one_of = "subscriptions purchases all", .absent = "\"all\"" },
    { D (coupon), "active", 0, .absent = "true" },
    { D (purchase_create_request), "member_id", 0, ID },
    { D (purchase_create_request), "tax_mode", 0, .one_of = "inclusive exclusive", .absent = "\"inclusive\"" },
    { D (purchase_create_request), "coupon_code", SVC_FIELD_EMPTY_OK, ID },
    { D (purchase_create_request), "payment_method_id", SVC_FIELD_EMPTY_OK, ID },
    { D (purchase_item), "sku", SVC_FIELD_EMPTY_OK, .max_chars = 64 },
    { D (purchase_item), "description", SVC_FIELD_REQUIRED, .max_chars = 200 },
    { D (purchase_item), "quantity", 0, .min = 1, .max = 1000, .absent = "1" },
    { D (purchase_item), "unit_amount", SVC_FIELD_REQUIRED, MONEY },
    { D (purchase_item), "tax_rate", 0, .one_of = "10 8", .absent = "10" },
    { D (settings), "update_mask", SVC_FIELD_HIDDEN },
    { D (settings), "if_version", SVC_FIELD_HIDDEN },
    { D (settings), "issuer_name", SVC_FIELD_EMPTY_OK, .max_chars = 200 },
    { D (settings), "registration_number", SVC_FIELD_EMPTY_OK, .max_chars = 14 },
    { D (settings), "final_action", 0, .one_of = "cancel unpaid" },
    { D (settings), "konbini_expiry_days", 0, .min = 1, .max = 30 },
    { D (settings), "invoice_due_days", 0, .min = 0, .max = 365 },
    { D (list_request), "limit", 0, .min = 1, .max = 100 },
    { NULL }
};

const svc_http_t billing_http = { s_routes, s_permissions, s_fields };
