/* purchase_routes.c - /v1/coupons, /v1/purchases, a member's billing summary and the payment
   providers' webhooks: JSON in and out, billing.proto to and from the billing service */
#include "purchase_routes.h"
#include "billing_json.h"
#include <stdio.h>
#include <string.h>

static const char *const s_tax_modes [] = { "inclusive", "exclusive", NULL };
static const char *const s_durations [] = { "once", "repeating", "forever", NULL };
static const char *const s_applies_to [] = { "subscriptions", "purchases", "all", NULL };
static const char *const s_purchase_statuses [] = { "pending", "paid", "failed", "refunded", NULL };
static const char *const s_coupon_statuses [] = { "active", "inactive", NULL };

/* --- coupons ------------------------------------------------------------------------------- */

static void
s_on_coupon (http_request_t *request, const ProtobufCBinaryData *payload)
{
    billing_json_respond (request, payload, &kaiin__billing__coupon__descriptor, 200, NULL);
}

static void
s_on_coupon_created (http_request_t *request, const ProtobufCBinaryData *payload)
{
    billing_json_respond (request, payload, &kaiin__billing__coupon__descriptor, 201, "/v1/coupons");
}

static void
s_on_coupons (http_request_t *request, const ProtobufCBinaryData *payload)
{
    billing_json_respond_list (request, payload, &kaiin__billing__coupon_list__descriptor);
}

/* A coupon code: 1 to 64 of A-Z a-z 0-9 _ - (compared without case by the service). */
static bool
s_coupon_code_ok (const char *code)
{
    size_t length = strlen (code);
    return length >= 1 && length <= 64
        && strspn (code, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == length;
}

#define PLAN_CHARS "abcdefghijklmnopqrstuvwxyz0123456789_-"
#define RANK_CHARS "abcdefghijklmnopqrstuvwxyz0123456789_"

/* Adds an error "<key>[i]" for each code with a character not in chars. */
static void
s_check_codes (billing_json_in_t *in, const char *key, char **codes, size_t count, const char *chars,
               const char *reason)
{
    for (size_t i = 0; i < count; i++)
        if (strspn (codes [i], chars) != strlen (codes [i])) {
            char field [48];
            snprintf (field, sizeof field, "%s[%zu]", key, i);
            billing_json_error (in, field, reason);
        }
}

/* Reads the discount: percent_off or amount_off, exactly one. */
static void
s_read_discount (billing_json_in_t *in, Kaiin__Billing__Coupon *coupon)
{
    int64_t percent_off = 0;
    bool percent = billing_json_int (in, "percent_off", 1, 100, false, &percent_off);
    bool amount = billing_json_int (in, "amount_off", 1, BILLING_JSON_MONEY_MAX, false, &coupon->amount_off);
    coupon->percent_off = (int32_t) percent_off;
    if (percent && amount)
        billing_json_error (in, "amount_off", "give percent_off or amount_off, not both");
    else
    if (!json_object_get (in->object, "percent_off") && !json_object_get (in->object, "amount_off"))
        billing_json_error (in, "percent_off", "is required (or amount_off)");
}

/* Reads the duration: once (the default), forever, or repeating for duration_in_months. */
static void
s_read_duration (billing_json_in_t *in, Kaiin__Billing__Coupon *coupon)
{
    bool present;
    coupon->duration = (char *) billing_json_enum (in, "duration", s_durations, BILLING_JSON_OPTIONAL, &present);
    coupon->duration = *coupon->duration? coupon->duration: "once";
    bool repeating = strcmp (coupon->duration, "repeating") == 0;
    int64_t months = 0;
    json_t *given = json_object_get (in->object, "duration_in_months");
    if (repeating)
        billing_json_int (in, "duration_in_months", 1, 36, true, &months);
    else
    if (given && !json_is_null (given))
        billing_json_error (in, "duration_in_months", "is only for a repeating coupon");
    coupon->duration_in_months = (int32_t) months;
}

void
purchase_routes_coupon_create (http_request_t *request)
{
    json_t *body = billing_json_body (request, false);
    if (!body)
        return;
    static const char *const fields [] = {
        "code", "name", "percent_off", "amount_off", "duration", "duration_in_months",
        "max_redemptions", "redeem_by", "plans", "first_purchase_only", "applies_to", "auto_apply",
        "ranks", NULL
    };
    billing_json_in_t in = { body, "", json_array () };
    billing_json_known (&in, fields, NULL);
    Kaiin__Billing__Coupon coupon = KAIIN__BILLING__COUPON__INIT;
    bool present;
    coupon.code = (char *) billing_json_text (&in, "code", BILLING_JSON_REQUIRED, 64, &present);
    if (*coupon.code && !s_coupon_code_ok (coupon.code))
        billing_json_error (&in, "code", "must be 1 to 64 of A-Z, a-z, 0-9, _ and -");
    coupon.name = (char *) billing_json_text (&in, "name", BILLING_JSON_OPTIONAL, 100, &present);
    s_read_discount (&in, &coupon);
    s_read_duration (&in, &coupon);
    int64_t max_redemptions = 0;
    billing_json_int (&in, "max_redemptions", 0, 1000000000, false, &max_redemptions);
    coupon.max_redemptions = (int32_t) max_redemptions;
    billing_json_time (&in, "redeem_by", &coupon.redeem_by_ms);
    char *plans [BILLING_JSON_LIST_MAX], *ranks [BILLING_JSON_LIST_MAX];
    coupon.plans = plans;
    coupon.n_plans = billing_json_strings (&in, "plans", BILLING_JSON_LIST_MAX, 64, plans);
    s_check_codes (&in, "plans", plans, coupon.n_plans, PLAN_CHARS, "must be a plan code");
    coupon.ranks = ranks;
    coupon.n_ranks = billing_json_strings (&in, "ranks", BILLING_JSON_LIST_MAX, 32, ranks);
    s_check_codes (&in, "ranks", ranks, coupon.n_ranks, RANK_CHARS,
                   "must be a rank code: up to 32 of a-z, 0-9, _");
    billing_json_bool (&in, "first_purchase_only", &coupon.first_purchase_only);
    coupon.applies_to = (char *) billing_json_enum (&in, "applies_to", s_applies_to, BILLING_JSON_OPTIONAL, &present);
    coupon.applies_to = *coupon.applies_to? coupon.applies_to: "all";
    billing_json_bool (&in, "auto_apply", &coupon.auto_apply);
    coupon.active = true;
    billing_json_call_checked (request, in.errors, "CouponCreate", &coupon.base, s_on_coupon_created);
    json_decref (body);
}

void
purchase_routes_coupon_get (http_request_t *request)
{
    Kaiin__Billing__IdRequest get = KAIIN__BILLING__ID_REQUEST__INIT;
    get.id = request->param;
    billing_json_call (request, "CouponGet", &get.base, s_on_coupon);
}

void
purchase_routes_coupon_list (http_request_t *request)
{
    static const char *const params [] = { "status", NULL };
    Kaiin__Billing__ListRequest list = KAIIN__BILLING__LIST_REQUEST__INIT;
    if (billing_json_list_query (request, &list, params, s_coupon_statuses) == 0)
        billing_json_call (request, "CouponList", &list.base, s_on_coupons);
}

void
purchase_routes_coupon_deactivate (http_request_t *request)
{
    json_t *body = billing_json_body (request, true);
    if (!body)
        return;
    static const char *const fields [] = { NULL };
    billing_json_in_t in = { body, "", json_array () };
    billing_json_known (&in, fields, NULL);
    Kaiin__Billing__IdRequest deactivate = KAIIN__BILLING__ID_REQUEST__INIT;
    deactivate.id = request->param;
    billing_json_call_checked (request, in.errors, "CouponDeactivate", &deactivate.base, s_on_coupon);
    json_decref (body);
}

/* --- purchases ----------------------------------------------------------------------------- */

static void
s_on_purchase (http_request_t *request, const ProtobufCBinaryData *payload)
{
    billing_json_respond (request, payload, &kaiin__billing__purchase__descriptor, 200, NULL);
}

static void
s_on_purchase_created (http_request_t *request, const ProtobufCBinaryData *payload)
{
    billing_json_respond (request, payload, &kaiin__billing__purchase__descriptor, 201, "/v1/purchases");
}

static void
s_on_purchases (http_request_t *request, const ProtobufCBinaryData *payload)
{
    billing_json_respond_list (request, payload, &kaiin__billing__purchase_list__descriptor);
}

/* Reads one item of a purchase (in->object) into item. */
static void
s_read_item (billing_json_in_t *in, Kaiin__Billing__PurchaseItem *item)
{
    static const char *const fields [] = { "sku", "description", "quantity", "unit_amount", "tax_rate", NULL };
    billing_json_known (in, fields, NULL);
    bool present;
    item->sku = (char *) billing_json_text (in, "sku", BILLING_JSON_OPTIONAL, 64, &present);
    item->description = (char *) billing_json_text (in, "description", BILLING_JSON_REQUIRED, 200, &present);
    int64_t quantity = 1, unit_amount = 0;
    billing_json_int (in, "quantity", 1, 1000, false, &quantity);
    item->quantity = (int32_t) quantity;
    if (billing_json_int (in, "unit_amount", 0, BILLING_JSON_MONEY_MAX, true, &unit_amount)
    &&  quantity * unit_amount > BILLING_JSON_MONEY_MAX)
        billing_json_error (in, "unit_amount", "quantity times unit_amount must be at most 1000000000000");
    item->unit_amount = unit_amount;
    item->tax_rate = 10;
    billing_json_tax_rate (in, "tax_rate", false, &item->tax_rate);
}

void
purchase_routes_create (http_request_t *request)
{
    json_t *body = billing_json_body (request, false);
    if (!body)
        return;
    static const char *const fields [] = {
        "member_id", "items", "tax_mode", "coupon_code", "payment_method_id", NULL
    };
    billing_json_in_t in = { body, "", json_array () };
    billing_json_known (&in, fields, NULL);
    Kaiin__Billing__PurchaseCreateRequest create = KAIIN__BILLING__PURCHASE_CREATE_REQUEST__INIT;
    bool present;
    create.member_id = (char *) billing_json_text (&in, "member_id", BILLING_JSON_REQUIRED, 64, &present);
    create.tax_mode = (char *) billing_json_enum (&in, "tax_mode", s_tax_modes, BILLING_JSON_OPTIONAL, &present);
    create.tax_mode = *create.tax_mode? create.tax_mode: "inclusive";
    create.coupon_code = (char *) billing_json_text (&in, "coupon_code", BILLING_JSON_OPTIONAL, 64, &present);
    create.payment_method_id = (char *) billing_json_text (&in, "payment_method_id", BILLING_JSON_OPTIONAL,
                                                           64, &present);
    Kaiin__Billing__PurchaseItem items [BILLING_JSON_LIST_MAX], *item_ptrs [BILLING_JSON_LIST_MAX];
    json_t *given = billing_json_objects (&in, "items", 1, BILLING_JSON_LIST_MAX);
    size_t index;
    json_t *item;
    json_array_foreach (given, index, item) {
        char prefix [32];
        snprintf (prefix, sizeof prefix, "items[%zu]", index);
        billing_json_in_t item_in = { item, prefix, in.errors };
        kaiin__billing__purchase_item__init (&items [index]);
        s_read_item (&item_in, &items [index]);
        item_ptrs [index] = &items [index];
    }
    create.items = item_ptrs;
    create.n_items = json_array_size (given);
    int64_t total = 0;                  /* at most 100 × 10^12: no overflow */
    for (size_t i = 0; i < create.n_items; i++)
        total += items [i].quantity * items [i].unit_amount;
    if (total > BILLING_JSON_MONEY_MAX && json_array_size (in.errors) == 0)
        billing_json_error (&in, "items", "must come to at most 1000000000000 yen in all");
    billing_json_call_checked (request, in.errors, "PurchaseCreate", &create.base, s_on_purchase_created);
    json_decref (body);
}

void
purchase_routes_get (http_request_t *request)
{
    Kaiin__Billing__IdRequest get = KAIIN__BILLING__ID_REQUEST__INIT;
    get.id = request->param;
    billing_json_call (request, "PurchaseGet", &get.base, s_on_purchase);
}

void
purchase_routes_list (http_request_t *request)
{
    static const char *const params [] = { "member_id", "status", "limit", "cursor", NULL };
    Kaiin__Billing__ListRequest list = KAIIN__BILLING__LIST_REQUEST__INIT;
    if (billing_json_list_query (request, &list, params, s_purchase_statuses) == 0)
        billing_json_call (request, "PurchaseList", &list.base, s_on_purchases);
}

/* --- summary and webhooks ------------------------------------------------------------------ */

static void
s_on_summary (http_request_t *request, const ProtobufCBinaryData *payload)
{
    billing_json_respond (request, payload, &kaiin__billing__billing_summary__descriptor, 200, NULL);
}

void
purchase_routes_summary (http_request_t *request)
{
    Kaiin__Billing__IdRequest get = KAIIN__BILLING__ID_REQUEST__INIT;
    get.id = request->param;
    billing_json_call (request, "Summary", &get.base, s_on_summary);
}

static void
s_on_webhook (http_request_t *request, const ProtobufCBinaryData *payload)
{
    billing_json_respond (request, payload, &kaiin__billing__webhook_reply__descriptor, 200, NULL);
}

void
purchase_routes_webhook (http_request_t *request)
{
    Kaiin__Billing__WebhookRequest webhook = KAIIN__BILLING__WEBHOOK_REQUEST__INIT;
    const char *timestamp = http_header (request, "Kaiin-Timestamp");
    const char *signature = http_header (request, "Kaiin-Signature");
    webhook.provider = request->param;
    webhook.timestamp = (char *) (timestamp? timestamp: "");
    webhook.signature = (char *) (signature? signature: "");
    webhook.body.data = (uint8_t *) request->body;
    webhook.body.len = request->body_size;
    billing_json_call (request, "Webhook", &webhook.base, s_on_webhook);
}
