/* invoice_routes.c - /v1/invoices, /v1/payments and /v1/refunds: JSON in and out, billing.proto
   to and from the billing service ("billing.<Method>") */
#include "invoice_routes.h"
#include "billing_json.h"
#include <stdio.h>
#include <string.h>

static const char *const s_tax_modes [] = { "inclusive", "exclusive", NULL };
static const char *const s_invoice_statuses [] = { "draft", "open", "paid", "void", "uncollectible", NULL };
static const char *const s_payment_statuses [] = { "pending", "succeeded", "failed", "expired", NULL };
static const char *const s_refund_reasons [] = {
    "requested_by_customer", "duplicate", "fraudulent", "other", NULL
};

/* --- invoices ------------------------------------------------------------------------------ */

static void
s_on_invoice (http_request_t *request, const ProtobufCBinaryData *payload)
{
    billing_json_respond (request, payload, &kaiin__billing__invoice__descriptor, 200, NULL);
}

static void
s_on_invoice_created (http_request_t *request, const ProtobufCBinaryData *payload)
{
    billing_json_respond (request, payload, &kaiin__billing__invoice__descriptor, 201, "/v1/invoices");
}

static void
s_on_invoices (http_request_t *request, const ProtobufCBinaryData *payload)
{
    billing_json_respond_list (request, payload, &kaiin__billing__invoice_list__descriptor);
}

/* Reads one of an invoice's lines (in->object) into line. */
static void
s_read_line (billing_json_in_t *in, Kaiin__Billing__InvoiceLine *line)
{
    static const char *const fields [] = {
        "description", "quantity", "unit_amount", "tax_rate", "discount_amount", "period_start",
        "period_end", "sku", NULL
    };
    billing_json_known (in, fields, NULL);
    bool present;
    line->description = (char *) billing_json_text (in, "description", BILLING_JSON_REQUIRED, 200, &present);
    int64_t quantity = 1, unit_amount = 0;
    billing_json_int (in, "quantity", 1, 100000, false, &quantity);
    line->quantity = (int32_t) quantity;
    bool priced = billing_json_int (in, "unit_amount", 0, BILLING_JSON_MONEY_MAX, true, &unit_amount);
    line->unit_amount = unit_amount;
    if (priced && quantity * unit_amount > BILLING_JSON_MONEY_MAX)
        billing_json_error (in, "unit_amount", "quantity times unit_amount must be at most 1000000000000");
    line->tax_rate = 10;
    billing_json_tax_rate (in, "tax_rate", true, &line->tax_rate);
    if (billing_json_int (in, "discount_amount", 0, BILLING_JSON_MONEY_MAX, false, &line->discount_amount)
    &&  priced && line->discount_amount > quantity * unit_amount)
        billing_json_error (in, "discount_amount", "must not be more than quantity times unit_amount");
    billing_json_time (in, "period_start", &line->period_start_ms);
    billing_json_time (in, "period_end", &line->period_end_ms);
    if (line->period_start_ms && line->period_end_ms && line->period_end_ms < line->period_start_ms)
        billing_json_error (in, "period_end", "must not be before period_start");
    line->sku = (char *) billing_json_text (in, "sku", BILLING_JSON_OPTIONAL, 64, &present);
}

void
invoice_routes_create (http_request_t *request)
{
    json_t *body = billing_json_body (request, false);
    if (!body)
        return;
    static const char *const fields [] = { "member_id", "tax_mode", "lines", "due_days", NULL };
    billing_json_in_t in = { body, "", json_array () };
    billing_json_known (&in, fields, NULL);
    Kaiin__Billing__InvoiceCreateRequest create = KAIIN__BILLING__INVOICE_CREATE_REQUEST__INIT;
    bool present;
    create.member_id = (char *) billing_json_text (&in, "member_id", BILLING_JSON_REQUIRED, 64, &present);
    create.tax_mode = (char *) billing_json_enum (&in, "tax_mode", s_tax_modes, BILLING_JSON_OPTIONAL, &present);
    create.tax_mode = *create.tax_mode? create.tax_mode: "inclusive";
    int64_t due_days = 0;
    billing_json_int (&in, "due_days", 0, 365, false, &due_days);
    create.due_days = (int32_t) due_days;
    Kaiin__Billing__InvoiceLine lines [BILLING_JSON_LIST_MAX], *line_ptrs [BILLING_JSON_LIST_MAX];
    json_t *given = billing_json_objects (&in, "lines", 1, BILLING_JSON_LIST_MAX);
    size_t index;
    json_t *item;
    json_array_foreach (given, index, item) {
        char prefix [32];
        snprintf (prefix, sizeof prefix, "lines[%zu]", index);
        billing_json_in_t line_in = { item, prefix, in.errors };
        kaiin__billing__invoice_line__init (&lines [index]);
        s_read_line (&line_in, &lines [index]);
        line_ptrs [index] = &lines [index];
    }
    create.lines = line_ptrs;
    create.n_lines = json_array_size (given);
    billing_json_call_checked (request, in.errors, "InvoiceCreate", &create.base, s_on_invoice_created);
    json_decref (body);
}

void
invoice_routes_get (http_request_t *request)
{
    Kaiin__Billing__IdRequest get = KAIIN__BILLING__ID_REQUEST__INIT;
    get.id = request->param;
    billing_json_call (request, "InvoiceGet", &get.base, s_on_invoice);
}

void
invoice_routes_list (http_request_t *request)
{
    static const char *const params [] = { "member_id", "status", "subscription_id", "limit", "cursor", NULL };
    Kaiin__Billing__ListRequest list = KAIIN__BILLING__LIST_REQUEST__INIT;
    if (billing_json_list_query (request, &list, params, s_invoice_statuses) == 0)
        billing_json_call (request, "InvoiceList", &list.base, s_on_invoices);
}

/* One of the invoice's actions; only "pay" takes a body field (payment_method_id). */
static void
s_action (http_request_t *request, const char *action)
{
    json_t *body = billing_json_body (request, true);
    if (!body)
        return;
    bool pay = strcmp (action, "pay") == 0;
    static const char *const pay_fields [] = { "payment_method_id", NULL };
    static const char *const no_fields [] = { NULL };
    billing_json_in_t in = { body, "", json_array () };
    billing_json_known (&in, pay? pay_fields: no_fields, NULL);
    Kaiin__Billing__InvoiceActionRequest act = KAIIN__BILLING__INVOICE_ACTION_REQUEST__INIT;
    bool present;
    if (pay)
        act.payment_method_id = (char *) billing_json_text (&in, "payment_method_id", BILLING_JSON_OPTIONAL,
                                                            64, &present);
    act.id = request->param;
    act.action = (char *) action;
    billing_json_call_checked (request, in.errors, "InvoiceAction", &act.base, s_on_invoice);
    json_decref (body);
}

void
invoice_routes_finalize (http_request_t *request)
{
    s_action (request, "finalize");
}

void
invoice_routes_pay (http_request_t *request)
{
    s_action (request, "pay");
}

void
invoice_routes_void (http_request_t *request)
{
    s_action (request, "void");
}

void
invoice_routes_mark_uncollectible (http_request_t *request)
{
    s_action (request, "mark_uncollectible");
}

/* --- payments and refunds ------------------------------------------------------------------ */

static void
s_on_payment (http_request_t *request, const ProtobufCBinaryData *payload)
{
    billing_json_respond (request, payload, &kaiin__billing__payment__descriptor, 200, NULL);
}

static void
s_on_payments (http_request_t *request, const ProtobufCBinaryData *payload)
{
    billing_json_respond_list (request, payload, &kaiin__billing__payment_list__descriptor);
}

static void
s_on_refund (http_request_t *request, const ProtobufCBinaryData *payload)
{
    billing_json_respond (request, payload, &kaiin__billing__refund__descriptor, 200, NULL);
}

static void
s_on_refund_created (http_request_t *request, const ProtobufCBinaryData *payload)
{
    billing_json_respond (request, payload, &kaiin__billing__refund__descriptor, 201, "/v1/refunds");
}

static void
s_on_refunds (http_request_t *request, const ProtobufCBinaryData *payload)
{
    billing_json_respond_list (request, payload, &kaiin__billing__refund_list__descriptor);
}

void
invoice_routes_payment_get (http_request_t *request)
{
    Kaiin__Billing__IdRequest get = KAIIN__BILLING__ID_REQUEST__INIT;
    get.id = request->param;
    billing_json_call (request, "PaymentGet", &get.base, s_on_payment);
}

void
invoice_routes_payment_list (http_request_t *request)
{
    static const char *const params [] = { "member_id", "invoice_id", "status", "limit", "cursor", NULL };
    Kaiin__Billing__ListRequest list = KAIIN__BILLING__LIST_REQUEST__INIT;
    if (billing_json_list_query (request, &list, params, s_payment_statuses) == 0)
        billing_json_call (request, "PaymentList", &list.base, s_on_payments);
}

void
invoice_routes_refund_create (http_request_t *request)
{
    json_t *body = billing_json_body (request, true);
    if (!body)
        return;
    static const char *const fields [] = { "amount", "reason", NULL };
    billing_json_in_t in = { body, "", json_array () };
    billing_json_known (&in, fields, NULL);
    Kaiin__Billing__RefundCreateRequest refund = KAIIN__BILLING__REFUND_CREATE_REQUEST__INIT;
    bool present;
    billing_json_int (&in, "amount", 0, BILLING_JSON_MONEY_MAX, false, &refund.amount);    /* 0: the rest */
    refund.reason = (char *) billing_json_enum (&in, "reason", s_refund_reasons, BILLING_JSON_OPTIONAL, &present);
    refund.payment_id = request->param;
    billing_json_call_checked (request, in.errors, "RefundCreate", &refund.base, s_on_refund_created);
    json_decref (body);
}

void
invoice_routes_refund_get (http_request_t *request)
{
    Kaiin__Billing__IdRequest get = KAIIN__BILLING__ID_REQUEST__INIT;
    get.id = request->param;
    billing_json_call (request, "RefundGet", &get.base, s_on_refund);
}

void
invoice_routes_refund_list (http_request_t *request)
{
    static const char *const params [] = { "member_id", "invoice_id", "limit", "cursor", NULL };
    Kaiin__Billing__ListRequest list = KAIIN__BILLING__LIST_REQUEST__INIT;
    if (billing_json_list_query (request, &list, params, NULL) == 0)
        billing_json_call (request, "RefundList", &list.base, s_on_refunds);
}
