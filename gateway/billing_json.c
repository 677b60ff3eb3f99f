/* billing_json.c - billing's JSON at the gateway: strict readers for request fields, the
   billing messages as JSON (times as RFC 3339 without "_ms"), replies and list queries */
#include "billing_json.h"
#include "json_in.h"
#include "clock.h"
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- reading ------------------------------------------------------------------------------- */

void
billing_json_error (billing_json_in_t *in, const char *key, const char *reason)
{
    char field [128];
    if (*in->prefix)
        snprintf (field, sizeof field, "%s.%.60s", in->prefix, key);
    else
        snprintf (field, sizeof field, "%.100s", key);
    json_in_error (in->errors, field, reason);
}

static bool
s_listed (const char *const *names, const char *key)
{
    for (; names && *names; names++)
        if (strcmp (*names, key) == 0)
            return true;
    return false;
}

/* "must be one of a, b, c" into reason. */
static void
s_one_of (const char *const *values, char *reason, size_t size)
{
    snprintf (reason, size, "must be one of ");
    for (const char *const *value = values; value && *value; value++) {
        size_t used = strlen (reason);
        snprintf (reason + used, size - used, "%s%s", *value, value [1]? ", ": "");
    }
}

void
billing_json_known (billing_json_in_t *in, const char *const *allowed, const char *const *read_only)
{
    const char *key;
    json_t *value;
    json_object_foreach (in->object, key, value) {
        if (s_listed (read_only, key))
            billing_json_error (in, key, "cannot be changed");
        else
        if (!s_listed (allowed, key))
            billing_json_error (in, key, "is not a field of this request");
    }
}

/* Characters of UTF-8 text (jansson has checked it is UTF-8). */
static size_t
s_chars (const char *text)
{
    size_t count = 0;
    for (; *text; text++)
        count += ((unsigned char) *text & 0xC0) != 0x80;
    return count;
}

const char *
billing_json_text (billing_json_in_t *in, const char *key, billing_json_need_t need,
                   size_t max_chars, bool *present)
{
    json_t *value = json_object_get (in->object, key);
    *present = value != NULL;
    if (!value) {
        if (need == BILLING_JSON_REQUIRED)
            billing_json_error (in, key, "is required");
        return "";
    }
    if (json_is_null (value)) {
        if (need != BILLING_JSON_OPTIONAL)
            billing_json_error (in, key, "must not be null");
        return "";
    }
    if (!json_is_string (value)) {
        billing_json_error (in, key, "must be a string");
        return "";
    }
    const char *text = json_string_value (value);
    if (strlen (text) != json_string_length (value)) {
        billing_json_error (in, key, "must not contain NUL characters");
        return "";
    }
    if (need != BILLING_JSON_OPTIONAL && !*text) {
        billing_json_error (in, key, "must not be empty");
        return "";
    }
    if (s_chars (text) > max_chars) {
        char reason [64];
        snprintf (reason, sizeof reason, "must be at most %zu characters", max_chars);
        billing_json_error (in, key, reason);
        return "";
    }
    return text;
}

const char *
billing_json_enum (billing_json_in_t *in, const char *key, const char *const *values,
                   billing_json_need_t need, bool *present)
{
    size_t errors = json_array_size (in->errors);
    const char *text = billing_json_text (in, key, need, 64, present);
    if (!json_is_string (json_object_get (in->object, key)) || json_array_size (in->errors) > errors)
        return "";
    if (!s_listed (values, text)) {
        char reason [256];
        s_one_of (values, reason, sizeof reason);
        billing_json_error (in, key, reason);
        return "";
    }
    return text;
}

bool
billing_json_int (billing_json_in_t *in, const char *key, int64_t min, int64_t max,
                  bool required, int64_t *value)
{
    json_t *given = json_object_get (in->object, key);
    if (!given) {
        if (required)
            billing_json_error (in, key, "is required");
        return false;
    }
    char reason [96];
    snprintf (reason, sizeof reason, "must be an integer from %lld to %lld", (long long) min,
              (long long) max);
    if (!json_is_integer (given)) {
        billing_json_error (in, key, reason);
        return false;
    }
    json_int_t number = json_integer_value (given);
    if (number < min || number > max) {
        billing_json_error (in, key, reason);
        return false;
    }
    *value = number;
    return true;
}

bool
billing_json_tax_rate (billing_json_in_t *in, const char *key, bool zero_ok, int32_t *value)
{
    json_t *given = json_object_get (in->object, key);
    if (!given)
        return false;
    json_int_t rate = json_is_integer (given)? json_integer_value (given): -1;
    if (rate != 10 && rate != 8 && (rate != 0 || !zero_ok)) {
        billing_json_error (in, key, zero_ok? "must be 10, 8 or 0": "must be 10 or 8");
        return false;
    }
    *value = (int32_t) rate;
    return true;
}

bool
billing_json_bool (billing_json_in_t *in, const char *key, protobuf_c_boolean *value)
{
    json_t *given = json_object_get (in->object, key);
    if (!given)
        return false;
    if (!json_is_boolean (given)) {
        billing_json_error (in, key, "must be true or false");
        return false;
    }
    *value = json_is_true (given);
    return true;
}

bool
billing_json_time (billing_json_in_t *in, const char *key, int64_t *unix_ms)
{
    json_t *given = json_object_get (in->object, key);
    if (!given)
        return false;
    *unix_ms = 0;
    if (json_is_null (given))
        return true;
    if (!json_is_string (given) || clock_parse_ms (json_string_value (given), unix_ms) == -1
    ||  *unix_ms <= 0) {
        billing_json_error (in, key, "must be an RFC 3339 date-time, e.g. 2027-03-31T23:59:59+09:00");
        return false;
    }
    return true;
}

size_t
billing_json_strings (billing_json_in_t *in, const char *key, size_t max, size_t max_chars,
                      char **items)
{
    json_t *list = json_object_get (in->object, key);
    if (!list || json_is_null (list))
        return 0;
    char reason [96];
    snprintf (reason, sizeof reason, "must be an array of at most %zu strings of 1 to %zu characters",
              max, max_chars);
    if (!json_is_array (list) || json_array_size (list) > max) {
        billing_json_error (in, key, reason);
        return 0;
    }
    size_t index;
    json_t *item;
    json_array_foreach (list, index, item) {
        const char *text = json_is_string (item)? json_string_value (item): NULL;
        if (!text || !*text || strlen (text) != json_string_length (item) || s_chars (text) > max_chars) {
            billing_json_error (in, key, reason);
            return 0;
        }
        items [index] = (char *) text;
    }
    return json_array_size (list);
}

json_t *
billing_json_objects (billing_json_in_t *in, const char *key, size_t min, size_t max)
{
    json_t *list = json_object_get (in->object, key);
    if (!list || json_is_null (list)) {
        if (min > 0)
            billing_json_error (in, key, list? "must not be null": "is required");
        return NULL;
    }
    char reason [96];
    snprintf (reason, sizeof reason, "must be an array of %zu to %zu objects", min, max);
    if (!json_is_array (list) || json_array_size (list) < min || json_array_size (list) > max) {
        billing_json_error (in, key, reason);
        return NULL;
    }
    size_t index;
    json_t *item;
    json_array_foreach (list, index, item)
        if (!json_is_object (item)) {
            char field [96];
            snprintf (field, sizeof field, "%.60s[%zu]", key, index);
            billing_json_error (in, field, "must be an object");
            return NULL;
        }
    return list;
}

json_t *
billing_json_body (http_request_t *request, bool allow_empty)
{
    static const char *const types [] = { "application/json", NULL };
    return json_in_object (request, types, allow_empty);
}

/* --- writing ------------------------------------------------------------------------------- */

/* Text as a JSON string (never NULL: text a service sent that is not UTF-8 becomes ""). */
static json_t *
s_string (const char *text)
{
    json_t *string = json_string (text? text: "");
    return string? string: json_string ("");
}

static json_t *
s_text_or_null (const char *text)
{
    json_t *string = json_in_text_or_null (text);
    return string? string: json_null ();
}

static json_t *
s_int_or_null (int64_t number)
{
    return number? json_integer (number): json_null ();
}

/* Sets the fields of one object from a list of (name, value) pairs, values stolen. */
static json_t *
s_object (json_t *object, const char *name, json_t *value, ...)
{
    va_list args;
    va_start (args, value);
    while (name) {
        json_object_set_new (object, name, value? value: json_null ());
        name = va_arg (args, const char *);
        if (name)
            value = va_arg (args, json_t *);
    }
    va_end (args);
    return object;
}

static json_t *
s_plan (const Kaiin__Billing__Plan *plan)
{
    return s_object (json_object (),
        "id", s_string (plan->id),
        "code", s_string (plan->code),
        "name", s_string (plan->name),
        "amount", json_integer (plan->amount),
        "currency", s_string (plan->currency),
        "tax_mode", s_string (plan->tax_mode),
        "tax_rate", json_integer (plan->tax_rate),
        "interval", s_string (plan->interval),
        "interval_count", json_integer (plan->interval_count),
        "trial_days", json_integer (plan->trial_days),
        "rank", s_text_or_null (plan->rank),
        "status", s_string (plan->status),
        "created_at", json_in_time_or_null (plan->created_at_ms),
        "updated_at", json_in_time_or_null (plan->updated_at_ms),
        "version", json_integer (plan->version),
        NULL);
}

/* The provider's token is not shown: it is what charges the card. */
static json_t *
s_payment_method (const Kaiin__Billing__PaymentMethod *method)
{
    return s_object (json_object (),
        "id", s_string (method->id),
        "member_id", s_string (method->member_id),
        "type", s_string (method->type),
        "provider", s_string (method->provider),
        "brand", s_text_or_null (method->brand),
        "last4", s_text_or_null (method->last4),
        "exp_month", s_int_or_null (method->exp_month),
        "exp_year", s_int_or_null (method->exp_year),
        "status", s_string (method->status),
        "is_default", json_boolean (method->is_default),
        "created_at", json_in_time_or_null (method->created_at_ms),
        NULL);
}

static json_t *
s_subscription (const Kaiin__Billing__Subscription *subscription)
{
    const Kaiin__Billing__Subscription *s = subscription;
    return s_object (json_object (),
        "id", s_string (s->id),
        "member_id", s_string (s->member_id),
        "plan_id", s_string (s->plan_id),
        "plan_code", s_string (s->plan_code),
        "plan_rank", s_text_or_null (s->plan_rank),
        "status", s_string (s->status),
        "payment_method_id", s_text_or_null (s->payment_method_id),
        "coupon_code", s_text_or_null (s->coupon_code),
        "trial_end", json_in_time_or_null (s->trial_end_ms),
        "current_period_start", json_in_time_or_null (s->current_period_start_ms),
        "current_period_end", json_in_time_or_null (s->current_period_end_ms),
        "cancel_at_period_end", json_boolean (s->cancel_at_period_end),
        "cancel_reason", s_text_or_null (s->cancel_reason),
        "cancel_comment", s_text_or_null (s->cancel_comment),
        "canceled_at", json_in_time_or_null (s->canceled_at_ms),
        "ended_at", json_in_time_or_null (s->ended_at_ms),
        "latest_invoice_id", s_text_or_null (s->latest_invoice_id),
        "retry_count", json_integer (s->retry_count),
        "next_retry_at", json_in_time_or_null (s->next_retry_at_ms),
        "created_at", json_in_time_or_null (s->created_at_ms),
        "updated_at", json_in_time_or_null (s->updated_at_ms),
        "version", json_integer (s->version),
        NULL);
}

static json_t *
s_taxes (Kaiin__Billing__TaxBreakdown **taxes, size_t count)
{
    json_t *list = json_array ();
    for (size_t i = 0; i < count; i++)
        json_array_append_new (list, s_object (json_object (),
            "rate", json_integer (taxes [i]->rate),
            "amount", json_integer (taxes [i]->amount),
            "taxable_amount", json_integer (taxes [i]->taxable_amount),
            "tax", json_integer (taxes [i]->tax),
            NULL));
    return list;
}

static json_t *
s_invoice_line (const Kaiin__Billing__InvoiceLine *line)
{
    return s_object (json_object (),
        "description", s_string (line->description),
        "quantity", json_integer (line->quantity),
        "unit_amount", json_integer (line->unit_amount),
        "amount", json_integer (line->amount),
        "tax_rate", json_integer (line->tax_rate),
        "discount_amount", json_integer (line->discount_amount),
        "period_start", json_in_time_or_null (line->period_start_ms),
        "period_end", json_in_time_or_null (line->period_end_ms),
        "sku", s_text_or_null (line->sku),
        NULL);
}

static json_t *
s_invoice (const Kaiin__Billing__Invoice *invoice)
{
    const Kaiin__Billing__Invoice *v = invoice;
    json_t *lines = json_array ();
    for (size_t i = 0; i < v->n_lines; i++)
        json_array_append_new (lines, s_invoice_line (v->lines [i]));
    return s_object (json_object (),
        "id", s_string (v->id),
        "number", s_text_or_null (v->number),
        "member_id", s_string (v->member_id),
        "subscription_id", s_text_or_null (v->subscription_id),
        "purchase_id", s_text_or_null (v->purchase_id),
        "status", s_string (v->status),
        "billing_reason", s_string (v->billing_reason),
        "currency", s_string (v->currency),
        "tax_mode", s_string (v->tax_mode),
        "lines", lines,
        "taxes", s_taxes (v->taxes, v->n_taxes),
        "subtotal", json_integer (v->subtotal),
        "tax_total", json_integer (v->tax_total),
        "total", json_integer (v->total),
        "discount_total", json_integer (v->discount_total),
        "amount_paid", json_integer (v->amount_paid),
        "amount_due", json_integer (v->amount_due),
        "amount_refunded", json_integer (v->amount_refunded),
        "issuer_name", s_text_or_null (v->issuer_name),
        "registration_number", s_text_or_null (v->registration_number),
        "issued_at", json_in_time_or_null (v->issued_at_ms),
        "due_at", json_in_time_or_null (v->due_at_ms),
        "paid_at", json_in_time_or_null (v->paid_at_ms),
        "voided_at", json_in_time_or_null (v->voided_at_ms),
        "period_start", json_in_time_or_null (v->period_start_ms),
        "period_end", json_in_time_or_null (v->period_end_ms),
        "created_at", json_in_time_or_null (v->created_at_ms),
        "version", json_integer (v->version),
        NULL);
}

static json_t *
s_payment (const Kaiin__Billing__Payment *payment)
{
    const Kaiin__Billing__Payment *p = payment;
    return s_object (json_object (),
        "id", s_string (p->id),
        "invoice_id", s_text_or_null (p->invoice_id),
        "member_id", s_string (p->member_id),
        "payment_method_id", s_text_or_null (p->payment_method_id),
        "method_type", s_string (p->method_type),
        "provider", s_string (p->provider),
        "provider_ref", s_text_or_null (p->provider_ref),
        "amount", json_integer (p->amount),
        "amount_received", json_integer (p->amount_received),
        "amount_refunded", json_integer (p->amount_refunded),
        "status", s_string (p->status),
        "failure_code", s_text_or_null (p->failure_code),
        "failure_message", s_text_or_null (p->failure_message),
        "konbini_number", s_text_or_null (p->konbini_number),
        "bank_reference", s_text_or_null (p->bank_reference),
        "expires_at", json_in_time_or_null (p->expires_at_ms),
        "created_at", json_in_time_or_null (p->created_at_ms),
        "settled_at", json_in_time_or_null (p->settled_at_ms),
        NULL);
}

static json_t *
s_refund (const Kaiin__Billing__Refund *refund)
{
    return s_object (json_object (),
        "id", s_string (refund->id),
        "payment_id", s_string (refund->payment_id),
        "invoice_id", s_text_or_null (refund->invoice_id),
        "member_id", s_string (refund->member_id),
        "amount", json_integer (refund->amount),
        "reason", s_text_or_null (refund->reason),
        "credit_note_id", s_text_or_null (refund->credit_note_id),
        "credit_note_number", s_text_or_null (refund->credit_note_number),
        "credit_note_taxes", s_taxes (refund->credit_note_taxes, refund->n_credit_note_taxes),
        "created_at", json_in_time_or_null (refund->created_at_ms),
        NULL);
}

static json_t *
s_strings (char **items, size_t count)
{
    json_t *list = json_array ();
    for (size_t i = 0; i < count; i++)
        json_array_append_new (list, s_string (items [i]));
    return list;
}

static json_t *
s_coupon (const Kaiin__Billing__Coupon *coupon)
{
    const Kaiin__Billing__Coupon *c = coupon;
    return s_object (json_object (),
        "id", s_string (c->id),
        "code", s_string (c->code),
        "name", s_text_or_null (c->name),
        "percent_off", s_int_or_null (c->percent_off),
        "amount_off", s_int_or_null (c->amount_off),
        "duration", s_string (c->duration),
        "duration_in_months", s_int_or_null (c->duration_in_months),
        "max_redemptions", json_integer (c->max_redemptions),
        "times_redeemed", json_integer (c->times_redeemed),
        "redeem_by", json_in_time_or_null (c->redeem_by_ms),
        "plans", s_strings (c->plans, c->n_plans),
        "first_purchase_only", json_boolean (c->first_purchase_only),
        "applies_to", s_string (c->applies_to),
        "auto_apply", json_boolean (c->auto_apply),
        "ranks", s_strings (c->ranks, c->n_ranks),
        "active", json_boolean (c->active),
        "created_at", json_in_time_or_null (c->created_at_ms),
        NULL);
}

static json_t *
s_purchase (const Kaiin__Billing__Purchase *purchase)
{
    const Kaiin__Billing__Purchase *p = purchase;
    json_t *items = json_array ();
    for (size_t i = 0; i < p->n_items; i++)
        json_array_append_new (items, s_object (json_object (),
            "sku", s_text_or_null (p->items [i]->sku),
            "description", s_string (p->items [i]->description),
            "quantity", json_integer (p->items [i]->quantity),
            "unit_amount", json_integer (p->items [i]->unit_amount),
            "tax_rate", json_integer (p->items [i]->tax_rate),
            NULL));
    return s_object (json_object (),
        "id", s_string (p->id),
        "member_id", s_string (p->member_id),
        "items", items,
        "tax_mode", s_string (p->tax_mode),
        "coupon_code", s_text_or_null (p->coupon_code),
        "payment_method_id", s_text_or_null (p->payment_method_id),
        "status", s_string (p->status),
        "invoice", p->invoice? s_invoice (p->invoice): json_null (),
        "payment", p->payment? s_payment (p->payment): json_null (),
        "created_at", json_in_time_or_null (p->created_at_ms),
        NULL);
}

static json_t *
s_summary (const Kaiin__Billing__BillingSummary *summary)
{
    return s_object (json_object (),
        "member_id", s_string (summary->member_id),
        "purchase_count", json_integer (summary->purchase_count),
        "purchase_total", json_integer (summary->purchase_total),
        "lifetime_paid", json_integer (summary->lifetime_paid),
        "active_subscriptions", json_integer (summary->active_subscriptions),
        "first_purchase_at", json_in_time_or_null (summary->first_purchase_at_ms),
        "last_purchase_at", json_in_time_or_null (summary->last_purchase_at_ms),
        NULL);
}

static json_t *
s_settings (const Kaiin__Billing__Settings *settings)
{
    json_t *retry_days = json_array ();
    for (size_t i = 0; i < settings->n_retry_days; i++)
        json_array_append_new (retry_days, json_integer (settings->retry_days [i]));
    return s_object (json_object (),
        "issuer_name", s_text_or_null (settings->issuer_name),
        "registration_number", s_text_or_null (settings->registration_number),
        "retry_days", retry_days,
        "final_action", s_string (settings->final_action),
        "konbini_expiry_days", json_integer (settings->konbini_expiry_days),
        "invoice_due_days", json_integer (settings->invoice_due_days),
        "version", json_integer (settings->version),
        NULL);
}

static json_t *
s_webhook_reply (const Kaiin__Billing__WebhookReply *reply)
{
    return s_object (json_object (),
        "event_id", s_text_or_null (reply->event_id),
        "duplicate", json_boolean (reply->duplicate),
        NULL);
}

json_t *
billing_json_of (const ProtobufCMessage *message)
{
    const ProtobufCMessageDescriptor *type = message->descriptor;
    if (type == &kaiin__billing__plan__descriptor)
        return s_plan ((const Kaiin__Billing__Plan *) message);
    if (type == &kaiin__billing__payment_method__descriptor)
        return s_payment_method ((const Kaiin__Billing__PaymentMethod *) message);
    if (type == &kaiin__billing__subscription__descriptor)
        return s_subscription ((const Kaiin__Billing__Subscription *) message);
    if (type == &kaiin__billing__invoice__descriptor)
        return s_invoice ((const Kaiin__Billing__Invoice *) message);
    if (type == &kaiin__billing__payment__descriptor)
        return s_payment ((const Kaiin__Billing__Payment *) message);
    if (type == &kaiin__billing__refund__descriptor)
        return s_refund ((const Kaiin__Billing__Refund *) message);
    if (type == &kaiin__billing__coupon__descriptor)
        return s_coupon ((const Kaiin__Billing__Coupon *) message);
    if (type == &kaiin__billing__purchase__descriptor)
        return s_purchase ((const Kaiin__Billing__Purchase *) message);
    if (type == &kaiin__billing__billing_summary__descriptor)
        return s_summary ((const Kaiin__Billing__BillingSummary *) message);
    if (type == &kaiin__billing__settings__descriptor)
        return s_settings ((const Kaiin__Billing__Settings *) message);
    if (type == &kaiin__billing__webhook_reply__descriptor)
        return s_webhook_reply ((const Kaiin__Billing__WebhookReply *) message);
    assert (!"a billing message without a JSON form");
    return json_object ();
}

void
billing_json_respond (http_request_t *request, const ProtobufCBinaryData *payload,
                      const ProtobufCMessageDescriptor *descriptor, unsigned int status,
                      const char *location)
{
    ProtobufCMessage *message = http_unpack (request, descriptor, payload);
    if (!message)
        return;
    json_t *body = billing_json_of (message);
    protobuf_c_message_free_unpacked (message, NULL);
    json_t *version = json_object_get (body, "version");
    if (json_is_integer (version))
        snprintf (request->etag, sizeof request->etag, "\"%lld\"",
                  (long long) json_integer_value (version));
    const char *id = json_string_value (json_object_get (body, "id"));
    if (status == 201 && location && id)
        snprintf (request->location, sizeof request->location, "%s/%s", location, id);
    http_respond_json (request, status, body);
}

void
billing_json_respond_list (http_request_t *request, const ProtobufCBinaryData *payload,
                           const ProtobufCMessageDescriptor *descriptor)
{
    const ProtobufCFieldDescriptor *data = protobuf_c_message_descriptor_get_field_by_name (descriptor, "data");
    const ProtobufCFieldDescriptor *cursor = protobuf_c_message_descriptor_get_field_by_name (descriptor, "next_cursor");
    assert (data && data->label == PROTOBUF_C_LABEL_REPEATED && data->type == PROTOBUF_C_TYPE_MESSAGE);
    ProtobufCMessage *page = http_unpack (request, descriptor, payload);
    if (!page)
        return;
    const char *base = (const char *) page;
    size_t count;
    ProtobufCMessage **items;
    memcpy (&count, base + data->quantifier_offset, sizeof count);
    memcpy (&items, base + data->offset, sizeof items);
    json_t *list = json_array ();
    for (size_t i = 0; i < count; i++)
        json_array_append_new (list, billing_json_of (items [i]));
    const char *next = NULL;
    if (cursor)
        memcpy (&next, base + cursor->offset, sizeof next);
    json_t *body = s_object (json_object (), "data", list, "next_cursor", s_text_or_null (next), NULL);
    protobuf_c_message_free_unpacked (page, NULL);
    http_respond_json (request, 200, body);
}

/* --- calls -------------------------------------------------------------------------------- */

void
billing_json_call (http_request_t *request, const char *method, const ProtobufCMessage *message,
                   http_reply_fn *on_reply)
{
    char name [64];
    snprintf (name, sizeof name, "billing.%s", method);
    http_call (request, "billing", name, message, on_reply);
}

void
billing_json_call_checked (http_request_t *request, json_t *errors, const char *method,
                           const ProtobufCMessage *message, http_reply_fn *on_reply)
{
    if (!json_in_rejected (request, errors))
        billing_json_call (request, method, message, on_reply);
}

/* --- list queries -------------------------------------------------------------------------- */

typedef struct {
    Kaiin__Billing__ListRequest *list;
    const char *const *params;
    const char *const *statuses;
    json_t *errors;
    unsigned int seen;              /* bit i: params [i] given */
} list_query_t;

static enum MHD_Result
s_list_argument (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void) kind;
    list_query_t *query = cls;
    Kaiin__Billing__ListRequest *list = query->list;
    value = value? value: "";
    int index = 0;
    while (query->params [index] && strcmp (query->params [index], key) != 0)
        index++;
    if (!query->params [index]) {
        json_in_error (query->errors, key, "is not a query parameter of this route");
        return MHD_YES;
    }
    if (query->seen & (1u << index)) {
        json_in_error (query->errors, key, "may be given once");
        return MHD_YES;
    }
    query->seen |= 1u << index;
    if (strcmp (key, "limit") == 0) {
        char *end;
        errno = 0;
        long limit = strtol (value, &end, 10);
        if (!*value || *end || errno || limit < 1 || limit > 100)
            json_in_error (query->errors, "limit", "must be an integer from 1 to 100");
        else
            list->limit = (int32_t) limit;
    }
    else
    if (strcmp (key, "status") == 0) {
        if (!s_listed (query->statuses, value)) {
            char reason [256];
            s_one_of (query->statuses, reason, sizeof reason);
            json_in_error (query->errors, "status", reason);
        }
        else
            list->status = (char *) value;
    }
    else
    if (strcmp (key, "member_id") == 0)
        list->member_id = (char *) value;
    else
    if (strcmp (key, "subscription_id") == 0)
        list->subscription_id = (char *) value;
    else
    if (strcmp (key, "invoice_id") == 0)
        list->invoice_id = (char *) value;
    else
    if (strcmp (key, "cursor") == 0)
        list->cursor = (char *) value;
    return MHD_YES;
}

int
billing_json_list_query (http_request_t *request, Kaiin__Billing__ListRequest *list,
                         const char *const *params, const char *const *statuses)
{
    list_query_t query = { list, params, statuses, json_array (), 0 };
    MHD_get_connection_values (request->connection, MHD_GET_ARGUMENT_KIND, s_list_argument, &query);
    return json_in_rejected (request, query.errors)? -1: 0;
}
