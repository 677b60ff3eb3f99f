/* billing_routes.c - /v1/plans, payment methods, /v1/subscriptions and /v1/billing/settings:
   JSON in and out, billing.proto to and from the billing service ("billing.<Method>") */
#include "billing_routes.h"
#include "billing_json.h"
#include "json_in.h"
#include <stdio.h>
#include <string.h>

static const char *const s_patch_types [] = { "application/json", "application/merge-patch+json", NULL };
static const char *const s_tax_modes [] = { "inclusive", "exclusive", NULL };
static const char *const s_intervals [] = { "month", "year", NULL };
static const char *const s_plan_statuses [] = { "active", "archived", NULL };
static const char *const s_method_types [] = { "card", "konbini", "bank_transfer", NULL };
static const char *const s_method_statuses [] = { "active", "detached", NULL };
static const char *const s_subscription_statuses [] = {
    "trialing", "active", "past_due", "unpaid", "canceled", "incomplete", NULL
};
static const char *const s_cancel_reasons [] = {
    "too_expensive", "missing_features", "switched_service", "unused", "other", NULL
};
static const char *const s_final_actions [] = { "cancel", "unpaid", NULL };

/* A plan code: 1 to 64 of a-z 0-9 _ -. */
static bool
s_code_ok (const char *code)
{
    size_t length = strlen (code);
    return length >= 1 && length <= 64 && strspn (code, "abcdefghijklmnopqrstuvwxyz0123456789_-") == length;
}

/* Reads "rank": "" or null for none, else a rank code (up to 32 of a-z 0-9 _). */
static char *
s_read_rank (billing_json_in_t *in, bool *present)
{
    const char *rank = billing_json_text (in, "rank", BILLING_JSON_OPTIONAL, 32, present);
    if (strspn (rank, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen (rank))
        billing_json_error (in, "rank", "must be a rank code: up to 32 of a-z, 0-9, _");
    return (char *) rank;
}

/* --- plans --------------------------------------------------------------------------------- */

static void
s_on_plan (http_request_t *request, const ProtobufCBinaryData *payload)
{
    billing_json_respond (request, payload, &kaiin__billing__plan__descriptor, 200, NULL);
}

static void
s_on_plan_created (http_request_t *request, const ProtobufCBinaryData *payload)
{
    billing_json_respond (request, payload, &kaiin__billing__plan__descriptor, 201, "/v1/plans");
}

static void
s_on_plans (http_request_t *request, const ProtobufCBinaryData *payload)
{
    billing_json_respond_list (request, payload, &kaiin__billing__plan_list__descriptor);
}

void
billing_routes_plan_create (http_request_t *request)
{
    json_t *body = billing_json_body (request, false);
    if (!body)
        return;
    static const char *const fields [] = {
        "code", "name", "amount", "currency", "tax_mode", "tax_rate", "interval", "interval_count",
        "trial_days", "rank", NULL
    };
    billing_json_in_t in = { body, "", json_array () };
    billing_json_known (&in, fields, NULL);
    Kaiin__Billing__Plan plan = KAIIN__BILLING__PLAN__INIT;
    bool present;
    plan.code = (char *) billing_json_text (&in, "code", BILLING_JSON_REQUIRED, 64, &present);
    if (*plan.code && !s_code_ok (plan.code))
        billing_json_error (&in, "code", "must be 1 to 64 of a-z, 0-9, _ and -");
    plan.name = (char *) billing_json_text (&in, "name", BILLING_JSON_REQUIRED, 100, &present);
    billing_json_int (&in, "amount", 0, BILLING_JSON_MONEY_MAX, true, &plan.amount);
    static const char *const currencies [] = { "JPY", NULL };
    plan.currency = (char *) billing_json_enum (&in, "currency", currencies, BILLING_JSON_OPTIONAL, &present);
    plan.currency = *plan.currency? plan.currency: "JPY";
    plan.tax_mode = (char *) billing_json_enum (&in, "tax_mode", s_tax_modes, BILLING_JSON_OPTIONAL, &present);
    plan.tax_mode = *plan.tax_mode? plan.tax_mode: "inclusive";
    plan.tax_rate = 10;
    billing_json_tax_rate (&in, "tax_rate", false, &plan.tax_rate);
    plan.interval = (char *) billing_json_enum (&in, "interval", s_intervals, BILLING_JSON_REQUIRED, &present);
    int64_t number = 1;
    billing_json_int (&in, "interval_count", 1, strcmp (plan.interval, "year") == 0? 3: 12, false, &number);
    plan.interval_count = (int32_t) number;
    number = 0;
    billing_json_int (&in, "trial_days", 0, 365, false, &number);
    plan.trial_days = (int32_t) number;
    plan.rank = s_read_rank (&in, &present);
    billing_json_call_checked (request, in.errors, "PlanCreate", &plan.base, s_on_plan_created);
    json_decref (body);
}

void
billing_routes_plan_get (http_request_t *request)
{
    Kaiin__Billing__IdRequest get = KAIIN__BILLING__ID_REQUEST__INIT;
    get.id = request->param;
    billing_json_call (request, "PlanGet", &get.base, s_on_plan);
}

void
billing_routes_plan_list (http_request_t *request)
{
    static const char *const params [] = { "status", "limit", "cursor", NULL };
    Kaiin__Billing__ListRequest list = KAIIN__BILLING__LIST_REQUEST__INIT;
    if (billing_json_list_query (request, &list, params, s_plan_statuses) == 0)
        billing_json_call (request, "PlanList", &list.base, s_on_plans);
}

void
billing_routes_plan_update (http_request_t *request)
{
    Kaiin__Billing__PlanUpdateRequest update = KAIIN__BILLING__PLAN_UPDATE_REQUEST__INIT;
    if (http_if_match (request, &update.if_version) == -1)
        return;
    json_t *body = json_in_object (request, s_patch_types, false);
    if (!body)
        return;
    static const char *const fields [] = { "name", "trial_days", "rank", "status", NULL };
    /* The price and the billing cycle never change: a new price is a new plan. */
    static const char *const fixed [] = {
        "id", "code", "amount", "currency", "tax_mode", "tax_rate", "interval", "interval_count",
        "created_at", "updated_at", "version", NULL
    };
    billing_json_in_t in = { body, "", json_array () };
    billing_json_known (&in, fields, fixed);
    Kaiin__Billing__Plan plan = KAIIN__BILLING__PLAN__INIT;
    char *mask [4];
    bool present;
    plan.name = (char *) billing_json_text (&in, "name", BILLING_JSON_NONEMPTY, 100, &present);
    if (present)
        mask [update.n_update_mask++] = "name";
    int64_t trial_days = 0;
    if (billing_json_int (&in, "trial_days", 0, 365, false, &trial_days))
        mask [update.n_update_mask++] = "trial_days";
    plan.trial_days = (int32_t) trial_days;
    plan.rank = s_read_rank (&in, &present);
    if (present)
        mask [update.n_update_mask++] = "rank";             /* null or "": no rank */
    plan.status = (char *) billing_json_enum (&in, "status", s_plan_statuses, BILLING_JSON_NONEMPTY, &present);
    if (present)
        mask [update.n_update_mask++] = "status";
    update.id = request->param;
    update.plan = &plan;
    update.update_mask = mask;
    billing_json_call_checked (request, in.errors, "PlanUpdate", &update.base, s_on_plan);
    json_decref (body);
}

/* --- payment methods ----------------------------------------------------------------------- */

static void
s_on_method (http_request_t *request, const ProtobufCBinaryData *payload)
{
    billing_json_respond (request, payload, &kaiin__billing__payment_method__descriptor, 200, NULL);
}

static void
s_on_method_attached (http_request_t *request, const ProtobufCBinaryData *payload)
{
    billing_json_respond (request, payload, &kaiin__billing__payment_method__descriptor, 201,
                          "/v1/payment-methods");
}

static void
s_on_methods (http_request_t *request, const ProtobufCBinaryData *payload)
{
    billing_json_respond_list (request, payload, &kaiin__billing__payment_method_list__descriptor);
}

void
billing_routes_method_attach (http_request_t *request)
{
    json_t *body = billing_json_body (request, false);
    if (!body)
        return;
    static const char *const fields [] = { "type", "token", "set_default", NULL };
    billing_json_in_t in = { body, "", json_array () };
    billing_json_known (&in, fields, NULL);
    Kaiin__Billing__PaymentMethodAttachRequest attach = KAIIN__BILLING__PAYMENT_METHOD_ATTACH_REQUEST__INIT;
    bool present;
    attach.member_id = request->param;
    attach.type = (char *) billing_json_enum (&in, "type", s_method_types, BILLING_JSON_REQUIRED, &present);
    bool card = strcmp (attach.type, "card") == 0;
    attach.token = (char *) billing_json_text (&in, "token", card? BILLING_JSON_REQUIRED: BILLING_JSON_OPTIONAL, 200, &present);
    if (present && *attach.token && *attach.type && !card)
        billing_json_error (&in, "token", "is only for cards");
    billing_json_bool (&in, "set_default", &attach.set_default);
    billing_json_call_checked (request, in.errors, "PaymentMethodAttach", &attach.base, s_on_method_attached);
    json_decref (body);
}

void
billing_routes_method_list (http_request_t *request)
{
    static const char *const params [] = { "status", NULL };
    Kaiin__Billing__ListRequest list = KAIIN__BILLING__LIST_REQUEST__INIT;
    list.member_id = request->param;
    if (billing_json_list_query (request, &list, params, s_method_statuses) == 0)
        billing_json_call (request, "PaymentMethodList", &list.base, s_on_methods);
}

void
billing_routes_method_get (http_request_t *request)
{
    Kaiin__Billing__IdRequest get = KAIIN__BILLING__ID_REQUEST__INIT;
    get.id = request->param;
    billing_json_call (request, "PaymentMethodGet", &get.base, s_on_method);
}

void
billing_routes_method_detach (http_request_t *request)
{
    Kaiin__Billing__IdRequest detach = KAIIN__BILLING__ID_REQUEST__INIT;
    detach.id = request->param;
    billing_json_call (request, "PaymentMethodDetach", &detach.base, s_on_method);
}

/* --- subscriptions ------------------------------------------------------------------------- */

static void
s_on_subscription (http_request_t *request, const ProtobufCBinaryData *payload)
{
    billing_json_respond (request, payload, &kaiin__billing__subscription__descriptor, 200, NULL);
}

static void
s_on_subscription_created (http_request_t *request, const ProtobufCBinaryData *payload)
{
    billing_json_respond (request, payload, &kaiin__billing__subscription__descriptor, 201,
                          "/v1/subscriptions");
}

static void
s_on_subscriptions (http_request_t *request, const ProtobufCBinaryData *payload)
{
    billing_json_respond_list (request, payload, &kaiin__billing__subscription_list__descriptor);
}

void
billing_routes_subscription_create (http_request_t *request)
{
    json_t *body = billing_json_body (request, false);
    if (!body)
        return;
    static const char *const fields [] = {
        "member_id", "plan", "payment_method_id", "coupon_code", "trial_days", NULL
    };
    billing_json_in_t in = { body, "", json_array () };
    billing_json_known (&in, fields, NULL);
    Kaiin__Billing__SubscriptionCreateRequest create = KAIIN__BILLING__SUBSCRIPTION_CREATE_REQUEST__INIT;
    bool present;
    create.member_id = (char *) billing_json_text (&in, "member_id", BILLING_JSON_REQUIRED, 64, &present);
    create.plan = (char *) billing_json_text (&in, "plan", BILLING_JSON_REQUIRED, 64, &present);
    create.payment_method_id = (char *) billing_json_text (&in, "payment_method_id", BILLING_JSON_OPTIONAL, 64, &present);
    create.coupon_code = (char *) billing_json_text (&in, "coupon_code", BILLING_JSON_OPTIONAL, 64, &present);
    int64_t trial_days = -1;                /* the plan's own trial */
    if (!json_is_null (json_object_get (body, "trial_days")))
        billing_json_int (&in, "trial_days", 0, 365, false, &trial_days);
    create.trial_days = (int32_t) trial_days;
    billing_json_call_checked (request, in.errors, "SubscriptionCreate", &create.base, s_on_subscription_created);
    json_decref (body);
}

void
billing_routes_subscription_get (http_request_t *request)
{
    Kaiin__Billing__IdRequest get = KAIIN__BILLING__ID_REQUEST__INIT;
    get.id = request->param;
    billing_json_call (request, "SubscriptionGet", &get.base, s_on_subscription);
}

void
billing_routes_subscription_list (http_request_t *request)
{
    static const char *const params [] = { "member_id", "status", "limit", "cursor", NULL };
    Kaiin__Billing__ListRequest list = KAIIN__BILLING__LIST_REQUEST__INIT;
    if (billing_json_list_query (request, &list, params, s_subscription_statuses) == 0)
        billing_json_call (request, "SubscriptionList", &list.base, s_on_subscriptions);
}

void
billing_routes_subscription_cancel (http_request_t *request)
{
    Kaiin__Billing__SubscriptionCancelRequest cancel = KAIIN__BILLING__SUBSCRIPTION_CANCEL_REQUEST__INIT;
    if (http_if_match (request, &cancel.if_version) == -1)
        return;
    json_t *body = billing_json_body (request, true);
    if (!body)
        return;
    static const char *const fields [] = { "at_period_end", "reason", "comment", NULL };
    billing_json_in_t in = { body, "", json_array () };
    billing_json_known (&in, fields, NULL);
    bool present;
    billing_json_bool (&in, "at_period_end", &cancel.at_period_end);
    cancel.reason = (char *) billing_json_enum (&in, "reason", s_cancel_reasons, BILLING_JSON_REQUIRED, &present);
    cancel.comment = (char *) billing_json_text (&in, "comment", BILLING_JSON_OPTIONAL, 1000, &present);
    cancel.id = request->param;
    billing_json_call_checked (request, in.errors, "SubscriptionCancel", &cancel.base, s_on_subscription);
    json_decref (body);
}

void
billing_routes_subscription_change_plan (http_request_t *request)
{
    Kaiin__Billing__SubscriptionChangePlanRequest change = KAIIN__BILLING__SUBSCRIPTION_CHANGE_PLAN_REQUEST__INIT;
    if (http_if_match (request, &change.if_version) == -1)
        return;
    json_t *body = billing_json_body (request, false);
    if (!body)
        return;
    static const char *const fields [] = { "plan", "no_proration", NULL };
    billing_json_in_t in = { body, "", json_array () };
    billing_json_known (&in, fields, NULL);
    bool present;
    change.plan = (char *) billing_json_text (&in, "plan", BILLING_JSON_REQUIRED, 64, &present);
    billing_json_bool (&in, "no_proration", &change.no_proration);
    change.id = request->param;
    billing_json_call_checked (request, in.errors, "SubscriptionChangePlan", &change.base, s_on_subscription);
    json_decref (body);
}

/* --- settings ------------------------------------------------------------------------------ */

static void
s_on_settings (http_request_t *request, const ProtobufCBinaryData *payload)
{
    billing_json_respond (request, payload, &kaiin__billing__settings__descriptor, 200, NULL);
}

void
billing_routes_settings_get (http_request_t *request)
{
    Kaiin__Billing__IdRequest get = KAIIN__BILLING__ID_REQUEST__INIT;
    billing_json_call (request, "SettingsGet", &get.base, s_on_settings);
}

/* A qualified-invoice issuer's registration number: "T" and 13 digits. */
static bool
s_registration_number_ok (const char *number)
{
    return strlen (number) == 14 && number [0] == 'T' && strspn (number + 1, "0123456789") == 13;
}

/* Reads "retry_days": up to 10 increasing days from 1 to 60 into days ([]: no retries).
   Returns how many. */
static size_t
s_read_retry_days (billing_json_in_t *in, int32_t *days, bool *present)
{
    json_t *list = json_object_get (in->object, "retry_days");
    *present = list != NULL;
    if (!list)
        return 0;
    const char *reason = "must be an array of at most 10 increasing day counts from 1 to 60";
    if (!json_is_array (list) || json_array_size (list) > 10) {
        billing_json_error (in, "retry_days", reason);
        return 0;
    }
    size_t index;
    json_t *day;
    json_array_foreach (list, index, day) {
        json_int_t value = json_is_integer (day)? json_integer_value (day): 0;
        if (value < 1 || value > 60 || (index > 0 && value <= days [index - 1])) {
            billing_json_error (in, "retry_days", reason);
            return 0;
        }
        days [index] = (int32_t) value;
    }
    return json_array_size (list);
}

void
billing_routes_settings_update (http_request_t *request)
{
    Kaiin__Billing__Settings settings = KAIIN__BILLING__SETTINGS__INIT;
    /* Settings has no if_version: its version field carries If-Match's (0: no precondition). */
    if (http_if_match (request, &settings.version) == -1)
        return;
    json_t *body = json_in_object (request, s_patch_types, false);
    if (!body)
        return;
    static const char *const fields [] = {
        "issuer_name", "registration_number", "retry_days", "final_action", "konbini_expiry_days",
        "invoice_due_days", NULL
    };
    static const char *const fixed [] = { "version", NULL };
    billing_json_in_t in = { body, "", json_array () };
    billing_json_known (&in, fields, fixed);
    char *mask [6];
    bool present;
    settings.issuer_name = (char *) billing_json_text (&in, "issuer_name", BILLING_JSON_OPTIONAL, 200, &present);
    if (present)
        mask [settings.n_update_mask++] = "issuer_name";
    settings.registration_number = (char *) billing_json_text (&in, "registration_number", BILLING_JSON_OPTIONAL, 14, &present);
    if (*settings.registration_number && !s_registration_number_ok (settings.registration_number))
        billing_json_error (&in, "registration_number", "must be T and 13 digits, e.g. T1234567890123");
    if (present)
        mask [settings.n_update_mask++] = "registration_number";
    int32_t retry_days [10];
    settings.retry_days = retry_days;
    settings.n_retry_days = s_read_retry_days (&in, retry_days, &present);
    if (present)
        mask [settings.n_update_mask++] = "retry_days";
    settings.final_action = (char *) billing_json_enum (&in, "final_action", s_final_actions, BILLING_JSON_NONEMPTY, &present);
    if (present)
        mask [settings.n_update_mask++] = "final_action";
    int64_t days = 0;
    if (billing_json_int (&in, "konbini_expiry_days", 1, 30, false, &days))
        mask [settings.n_update_mask++] = "konbini_expiry_days";
    settings.konbini_expiry_days = (int32_t) days;
    days = 0;
    if (billing_json_int (&in, "invoice_due_days", 0, 365, false, &days))
        mask [settings.n_update_mask++] = "invoice_due_days";
    settings.invoice_due_days = (int32_t) days;
    settings.update_mask = mask;
    billing_json_call_checked (request, in.errors, "SettingsUpdate", &settings.base, s_on_settings);
    json_decref (body);
}
