/* stripe.c - Stripe as a payment provider: PaymentIntents for cards, konbini and Japanese bank
   transfer (customer_balance), refunds, the list of charges for reconciliation, and webhooks
   signed with Stripe-Signature. Form-encoded calls through libcurl, one handle per thread, each
   carrying Kaiin's key as Stripe's Idempotency-Key, so a retry (ours after a timeout, or a
   renewal run again after a crash) gets Stripe's first outcome back. Kaiin sends and keeps
   PaymentMethod ids, never a card number. */
#include "provider.h"
#include "config.h"
#include "log.h"
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RESPONSE_MAX  (1 << 20)        /* Stripe's answers are a few kB; a list of 100, ~300 kB */
#define FORM_MAX      4096
#define LIST_MAX      100              /* Stripe's largest page */
#define SIGNATURES_MAX 8               /* v1 entries of one Stripe-Signature (secrets rolled) */

/* Read once at start-up (s_configure), before any thread: read-only afterwards. */
static struct {
    char *api_key, *webhook_secret;
    const char *base;
    long timeout_ms, connect_timeout_ms, retries;
} s_settings = { NULL, NULL, "https://api.stripe.com", 4000, 2000, 2 };

static __thread CURL *s_curl;
static pthread_key_t s_curl_key;
static pthread_once_t s_curl_once = PTHREAD_ONCE_INIT;

typedef struct {
    char *data;
    size_t size;
} s_buffer_t;

typedef struct {
    char text [FORM_MAX];
    size_t used;
    bool overflow;
} s_form_t;

static void
s_curl_free (void *curl)
{
    curl_easy_cleanup (curl);
}

static void
s_curl_key_create (void)
{
    pthread_key_create (&s_curl_key, s_curl_free);
}

/* The calling thread's handle (its connections to Stripe kept between calls), or NULL. */
static CURL *
s_handle (void)
{
    if (!s_curl && (s_curl = curl_easy_init ())) {
        pthread_once (&s_curl_once, s_curl_key_create);
        pthread_setspecific (s_curl_key, s_curl);      /* cleaned up when the thread ends */
    }
    return s_curl;
}

static size_t
s_write (char *data, size_t size, size_t count, void *buffer_p)
{
    s_buffer_t *buffer = buffer_p;
    size_t bytes = size * count;
    if (buffer->size + bytes > RESPONSE_MAX)
        return 0;
    char *grown = realloc (buffer->data, buffer->size + bytes + 1);
    if (!grown)
        return 0;
    memcpy (grown + buffer->size, data, bytes);
    buffer->data = grown;
    buffer->size += bytes;
    buffer->data [buffer->size] = 0;
    return bytes;
}

/* Adds name=value to form, both percent-encoded. */
static void
s_form_add (s_form_t *form, const char *name, const char *value)
{
    char *escaped_name = curl_easy_escape (NULL, name, 0);
    char *escaped_value = curl_easy_escape (NULL, value, 0);
    size_t room = sizeof form->text - form->used;
    int size = escaped_name && escaped_value
        ? snprintf (form->text + form->used, room, "%s%s=%s", form->used? "&": "", escaped_name, escaped_value)
        : -1;
    if (size < 0 || (size_t) size >= room)
        form->overflow = true;
    else
        form->used += (size_t) size;
    curl_free (escaped_name);
    curl_free (escaped_value);
}

static void
s_form_number (s_form_t *form, const char *name, long long value)
{
    char text [24];
    snprintf (text, sizeof text, "%lld", value);
    s_form_add (form, name, text);
}

/* One try of a call: 0 with *status and buffer filled, or -1 on a network error (logged). */
static int
s_perform (CURL *curl, const char *path, s_buffer_t *buffer, long *status)
{
    free (buffer->data);
    buffer->data = NULL;
    buffer->size = 0;
    CURLcode rc = curl_easy_perform (curl);
    if (rc != CURLE_OK) {
        log_warn ("stripe: cannot call '%s%s': %s", s_settings.base, path, curl_easy_strerror (rc));
        return -1;
    }
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, status);
    return 0;
}

/* Calls Stripe: POST path with form, or GET when form is NULL; key, when not NULL, goes as
   Idempotency-Key. A network error, a 429 or a 5xx is tried again, up to STRIPE_RETRIES more
   times after a growing pause, with the same key. Returns Stripe's JSON answer, which the
   caller decrefs, with *status its HTTP status; NULL when Stripe could not be asked or did not
   answer JSON (logged). */
static json_t *
s_call (const char *path, const s_form_t *form, const char *key, long *status)
{
    /* Not chosen by BILLING_PROVIDER, Stripe is not configured (nor libcurl set up): a payment
       method kept with it before is not charged. */
    CURL *curl = s_settings.api_key? s_handle (): NULL;
    if (!curl) {
        log_error ("stripe: cannot call '%s': %s", path,
                   s_settings.api_key? "no curl handle": "BILLING_PROVIDER is not 'stripe'");
        return NULL;
    }
    if (form && form->overflow) {
        log_error ("stripe: the request to '%s' is longer than %d bytes", path, FORM_MAX);
        return NULL;
    }
    char url [1024], authorization [512], idempotency [320];
    snprintf (url, sizeof url, "%s%s", s_settings.base, path);
    snprintf (authorization, sizeof authorization, "Authorization: Bearer %s", s_settings.api_key);
    struct curl_slist *headers = curl_slist_append (NULL, authorization);
    if (key) {
        snprintf (idempotency, sizeof idempotency, "Idempotency-Key: %s", key);
        headers = curl_slist_append (headers, idempotency);
    }
    s_buffer_t buffer = { NULL, 0 };
    curl_easy_reset (curl);
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, &buffer);
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (curl, CURLOPT_CONNECTTIMEOUT_MS, s_settings.connect_timeout_ms);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, s_settings.timeout_ms);
    if (form)
        curl_easy_setopt (curl, CURLOPT_POSTFIELDS, form->text);
    *status = 0;
    for (long attempt = 0; ; attempt++) {
        int rc = s_perform (curl, path, &buffer, status);
        bool again = rc == -1 || *status == 429 || *status >= 500;
        if (!again || attempt == s_settings.retries)
            break;
        if (rc == 0)
            log_warn ("stripe: '%s' answered %ld; trying again with the same key", path, *status);
        struct timespec pause = { 0, (attempt + 1) * 250 * 1000000L };
        nanosleep (&pause, NULL);
    }
    curl_slist_free_all (headers);
    json_error_t error;
    json_t *answer = buffer.data && *status? json_loadb (buffer.data, buffer.size, 0, &error): NULL;
    if (buffer.data && *status && !json_is_object (answer))
        log_warn ("stripe: '%s' answered %ld without a JSON object", path, *status);
    if (answer && !json_is_object (answer)) {
        json_decref (answer);
        answer = NULL;
    }
    free (buffer.data);
    return answer;
}

static const char *
s_string (json_t *object, const char *name)
{
    const char *value = json_string_value (json_object_get (object, name));
    return value? value: "";
}

static int64_t
s_integer (json_t *object, const char *name)
{
    return json_integer_value (json_object_get (object, name));
}

static bool
s_has_method_type (json_t *intent, const char *type)
{
    size_t i;
    json_t *entry;
    json_array_foreach (json_object_get (intent, "payment_method_types"), i, entry)
        if (strcmp (json_string_value (entry)? json_string_value (entry): "", type) == 0)
            return true;
    return false;
}

/* Kaiin's failure code for a Stripe error or last_payment_error. */
static void
s_failure (json_t *error, provider_charge_t *charge)
{
    const char *code = s_string (error, "code"), *decline = s_string (error, "decline_code");
    snprintf (charge->status, sizeof charge->status, "failed");
    snprintf (charge->failure_code, sizeof charge->failure_code, "%s",
              strcmp (decline, "insufficient_funds") == 0 || strcmp (decline, "expired_card") == 0? decline
              : *code? code: "card_declined");
    snprintf (charge->failure_message, sizeof charge->failure_message, "%s",
              *s_string (error, "message")? s_string (error, "message"): "the payment was declined");
}

/* Reads a PaymentIntent into charge: succeeded, pending (konbini's payment code, the bank
   transfer's reference, until when) or failed. */
static void
s_intent_read (json_t *intent, int64_t now_ms, int64_t pending_ms, provider_charge_t *charge)
{
    const char *status = s_string (intent, "status");
    snprintf (charge->provider_ref, sizeof charge->provider_ref, "%s", s_string (intent, "id"));
    if (strcmp (status, "succeeded") == 0) {
        snprintf (charge->status, sizeof charge->status, "succeeded");
        return;
    }
    if (strcmp (status, "requires_action") != 0 && strcmp (status, "processing") != 0) {
        s_failure (json_object_get (intent, "last_payment_error"), charge);
        return;
    }
    snprintf (charge->status, sizeof charge->status, "pending");
    charge->expires_at_ms = now_ms + pending_ms;
    json_t *action = json_object_get (intent, "next_action");
    json_t *konbini = json_object_get (action, "konbini_display_details");
    if (konbini) {
        static const char *const stores [] = { "familymart", "lawson", "ministop", "seicomart", NULL };
        for (const char *const *store = stores; *store && !*charge->konbini_number; store++)
            snprintf (charge->konbini_number, sizeof charge->konbini_number, "%s",
                      s_string (json_object_get (json_object_get (konbini, "stores"), *store), "payment_code"));
        if (s_integer (konbini, "expires_at") > 0)
            charge->expires_at_ms = s_integer (konbini, "expires_at") * 1000;
    }
    snprintf (charge->bank_reference, sizeof charge->bank_reference, "%s",
              s_string (json_object_get (action, "display_bank_transfer_instructions"), "reference"));
}

/* Whether token can be a Stripe id in a path (pm_..., cus_...). */
static bool
s_id_ok (const char *token)
{
    return *token && strlen (token) <= 255
        && strspn (token, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == strlen (token);
}

/* The card a PaymentMethod id stands for. */
static int
s_card (const char *token, int64_t now_ms, provider_card_t *card)
{
    (void) now_ms;
    if (!s_id_ok (token))
        return -1;
    char path [300];
    snprintf (path, sizeof path, "/v1/payment_methods/%s", token);
    long status;
    json_t *method = s_call (path, NULL, NULL, &status);
    json_t *details = json_object_get (method, "card");
    int rc = -1;
    if (status == 200 && json_is_object (details)) {
        snprintf (card->brand, sizeof card->brand, "%s", s_string (details, "brand"));
        snprintf (card->last4, sizeof card->last4, "%s", s_string (details, "last4"));
        card->exp_month = (int) s_integer (details, "exp_month");
        card->exp_year = (int) s_integer (details, "exp_year");
        rc = 0;
    }
    else
    if (method)
        log_warn ("stripe: payment method '%s' answered %ld: %s", token, status,
                  s_string (json_object_get (method, "error"), "message"));
    json_decref (method);
    return rc;
}

/* A Customer for the member (made once: its Idempotency-Key is the member's), and the card
   token attached to it. */
static int
s_customer (const char *member_id, const char *known, const char *token, char ref [64])
{
    long status;
    snprintf (ref, 64, "%s", known);
    if (!*ref) {
        s_form_t form = { "", 0, false };
        s_form_add (&form, "metadata[kaiin_member]", member_id);
        char key [80];
        snprintf (key, sizeof key, "customer:%s", member_id);
        json_t *answer = s_call ("/v1/customers", &form, key, &status);
        const char *id = s_string (answer, "id");
        if (answer && status == 200 && strncmp (id, "cus_", 4) == 0 && s_id_ok (id) && strlen (id) < 64)
            snprintf (ref, 64, "%s", id);
        else
        if (answer)
            log_error ("stripe: a customer for member '%s' answered %ld: %s", member_id, status,
                       s_string (json_object_get (answer, "error"), "message"));
        json_decref (answer);
        if (!*ref)
            return -1;
    }
    if (!*token)
        return 0;
    if (!s_id_ok (token))
        return -1;
    char path [300], key [340];
    snprintf (path, sizeof path, "/v1/payment_methods/%s/attach", token);
    snprintf (key, sizeof key, "attach:%s:%s", token, ref);
    s_form_t form = { "", 0, false };
    s_form_add (&form, "customer", ref);
    json_t *answer = s_call (path, &form, key, &status);
    int rc = answer && status == 200? 0: -1;
    if (answer && rc == -1)
        log_error ("stripe: attaching '%s' to '%s' answered %ld: %s", token, ref, status,
                   s_string (json_object_get (answer, "error"), "message"));
    json_decref (answer);
    return rc;
}

/* The form of a PaymentIntent confirmed at once for customer's amount by method_type. */
static void
s_charge_form (s_form_t *form, const char *method_type, const char *token, const char *customer,
               const char *customer_ref, int64_t amount, const char *key, int64_t pending_ms)
{
    if (*customer_ref)
        s_form_add (form, "customer", customer_ref);
    s_form_number (form, "amount", amount);
    s_form_add (form, "currency", "jpy");
    s_form_add (form, "confirm", "true");
    s_form_add (form, "metadata[kaiin_key]", key);
    s_form_add (form, "metadata[kaiin_customer]", customer);
    if (strcmp (method_type, "card") == 0) {
        s_form_add (form, "payment_method_types[]", "card");
        s_form_add (form, "payment_method", token);
        s_form_add (form, "off_session", "true");
    }
    else
    if (strcmp (method_type, "konbini") == 0) {
        long days = (long) (pending_ms / (24 * 3600 * 1000LL));
        s_form_add (form, "payment_method_types[]", "konbini");
        s_form_add (form, "payment_method_data[type]", "konbini");
        s_form_number (form, "payment_method_options[konbini][expires_after_days]", days < 1? 1: days > 60? 60: days);
    }
    else {
        s_form_add (form, "payment_method_types[]", "customer_balance");
        s_form_add (form, "payment_method_data[type]", "customer_balance");
        s_form_add (form, "payment_method_options[customer_balance][funding_type]", "bank_transfer");
        s_form_add (form, "payment_method_options[customer_balance][bank_transfer][type]", "jp_bank_transfer");
    }
}

static int
s_charge (const char *method_type, const char *token, const char *customer, const char *customer_ref,
          int64_t amount, const char *key, int64_t now_ms, int64_t pending_ms, provider_charge_t *charge)
{
    memset (charge, 0, sizeof *charge);
    s_form_t form = { "", 0, false };
    s_charge_form (&form, method_type, token, customer, customer_ref, amount, key, pending_ms);
    long status;
    json_t *answer = s_call ("/v1/payment_intents", &form, key, &status);
    json_t *error = json_object_get (answer, "error");
    int rc = 0;
    if (!answer)
        rc = -1;
    else
    if (status == 200)
        s_intent_read (answer, now_ms, pending_ms, charge);
    else
    if (status == 402 || (status == 400 && error)) {
        /* declined (402), or a request Stripe will never accept (400): failed, not retried */
        snprintf (charge->provider_ref, sizeof charge->provider_ref, "%s",
                  s_string (json_object_get (error, "payment_intent"), "id"));
        s_failure (error, charge);
    }
    else
        rc = log_error ("stripe: a charge with key '%s' answered %ld: %s", key, status,
                        s_string (error, "message"));
    json_decref (answer);
    return rc;
}

/* Stripe lists newest first: the page just after cursor is the one ending before it, read
   backwards. A charge without Kaiin's key (made elsewhere) or not succeeded is listed with an
   empty key, so the reconciler passes over it without taking it for an orphan of ours. */
static int
s_charges (const char *cursor, int max, provider_listed_t *listed)
{
    char path [256];
    snprintf (path, sizeof path, "/v1/payment_intents?limit=%d%s%s", max < LIST_MAX? max: LIST_MAX,
              *cursor? "&ending_before=": "", cursor);
    long status;
    json_t *page = s_call (path, NULL, NULL, &status);
    json_t *data = json_object_get (page, "data");
    int count = status == 200 && json_is_array (data)? (int) json_array_size (data): -1;
    if (count > max)
        count = max;
    for (int i = 0; i < count; i++) {
        json_t *intent = json_array_get (data, (size_t) (count - 1 - i));
        json_t *metadata = json_object_get (intent, "metadata");
        provider_listed_t *charge = &listed [i];
        bool ours = strcmp (s_string (intent, "status"), "succeeded") == 0;
        snprintf (charge->key, sizeof charge->key, "%s", ours? s_string (metadata, "kaiin_key"): "");
        snprintf (charge->provider_ref, sizeof charge->provider_ref, "%s", s_string (intent, "id"));
        snprintf (charge->customer, sizeof charge->customer, "%s", s_string (metadata, "kaiin_customer"));
        snprintf (charge->cursor, sizeof charge->cursor, "%s", s_string (intent, "id"));
        charge->amount = s_integer (intent, "amount_received");
        charge->created_at_ms = s_integer (intent, "created") * 1000;
    }
    if (count < 0 && page)
        log_error ("stripe: listing payment intents answered %ld", status);
    json_decref (page);
    return count;
}

static int
s_refund (const char *provider_ref, int64_t amount, const char *key, int64_t now_ms)
{
    (void) now_ms;
    s_form_t form = { "", 0, false };
    s_form_add (&form, "payment_intent", provider_ref);
    s_form_number (&form, "amount", amount);
    s_form_add (&form, "metadata[kaiin_key]", key);
    long status;
    json_t *answer = s_call ("/v1/refunds", &form, key, &status);
    int rc = answer && status == 200? 0: -1;
    if (answer && rc == -1)
        log_error ("stripe: refunding '%s' with key '%s' answered %ld: %s", provider_ref, key, status,
                   s_string (json_object_get (answer, "error"), "message"));
    json_decref (answer);
    return rc;
}

/* Checks header, Stripe-Signature's "t=<Unix seconds>,v1=<hex>[,v1=<hex>...]", against body
   with secret: any v1 matching passes (Stripe signs with each secret while one is rolled). */
static int
s_signature_check (const char *secret, const char *header, const uint8_t *body, size_t size,
                   int64_t now_ms, const char **reason)
{
    static const provider_reasons_t reasons = { "Stripe-Signature must carry t= and v1=",
        "Stripe-Signature's timestamp is more than 5 minutes away from now",
        "Stripe-Signature does not match the body" };
    char stamp [24] = "", found [SIGNATURES_MAX][65];
    const char *signatures [SIGNATURES_MAX];
    int count = 0;
    for (const char *item = header; *item; ) {
        size_t length = strcspn (item, ",");
        if (strncmp (item, "t=", 2) == 0 && length - 2 < sizeof stamp)
            snprintf (stamp, sizeof stamp, "%.*s", (int) (length - 2), item + 2);
        else
        if (strncmp (item, "v1=", 3) == 0 && length == 3 + 64 && count < SIGNATURES_MAX) {
            snprintf (found [count], sizeof found [count], "%.64s", item + 3);
            signatures [count] = found [count];
            count++;
        }
        item += length;
        item += *item == ',';
    }
    return provider_verify (secret, stamp, signatures, count, body, size, now_ms, &reasons, reason);
}

/* Stripe's webhooks carry their timestamp inside Stripe-Signature (the signature field). */
static int
s_verify (const char *timestamp, const char *signature, const uint8_t *body, size_t size,
          int64_t now_ms, const char **reason)
{
    (void) timestamp;
    return s_signature_check (s_settings.webhook_secret, signature, body, size, now_ms, reason);
}

/* payment_intent.succeeded for a konbini or a bank-transfer (customer_balance) payment settles
   it; everything else Stripe sends (a card's success, which Kaiin knew when it charged, and
   every other type) is acknowledged and ignored. */
static json_t *
s_event (json_t *body)
{
    json_t *intent = json_object_get (json_object_get (body, "data"), "object");
    const char *type = "";
    if (strcmp (s_string (body, "type"), "payment_intent.succeeded") == 0)
        type = s_has_method_type (intent, "konbini")? "konbini.paid"
             : s_has_method_type (intent, "customer_balance")? "bank_transfer.received": "";
    if (!*type)
        return json_pack ("{s:O, s:b}", "id", json_object_get (body, "id"), "ignore", 1);
    return json_pack ("{s:O, s:s, s:s, s:I}", "id", json_object_get (body, "id"), "type", type,
                      "provider_ref", s_string (intent, "id"), "amount",
                      (json_int_t) s_integer (intent, "amount_received"));
}

static int
s_configure (void)
{
    s_settings.api_key = config_secret ("STRIPE_API_KEY", "");
    s_settings.webhook_secret = config_secret ("STRIPE_WEBHOOK_SECRET", "");
    if (!*s_settings.api_key)
        return log_error ("BILLING_PROVIDER is 'stripe' but STRIPE_API_KEY (or STRIPE_API_KEY_FILE) is not set");
    if (strncmp (s_settings.api_key, "sk_", 3) != 0 && strncmp (s_settings.api_key, "rk_", 3) != 0)
        return log_error ("STRIPE_API_KEY must be a secret key (sk_...) or a restricted key (rk_...)");
    if (!*s_settings.webhook_secret)
        return log_error ("BILLING_PROVIDER is 'stripe' but STRIPE_WEBHOOK_SECRET (or STRIPE_WEBHOOK_SECRET_FILE) is not set");
    s_settings.base = config_str ("STRIPE_API_BASE", s_settings.base);
    s_settings.timeout_ms = config_int ("STRIPE_TIMEOUT_MS", s_settings.timeout_ms, 100, 60000);
    s_settings.connect_timeout_ms = config_int ("STRIPE_CONNECT_TIMEOUT_MS", s_settings.connect_timeout_ms, 100, 60000);
    s_settings.retries = config_int ("STRIPE_RETRIES", s_settings.retries, 0, 5);
    if (curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return log_error ("stripe: libcurl cannot start");
    return 0;
}

const provider_t stripe_provider = { "stripe", s_card, s_charge, s_charges, s_refund, s_verify,
                                     s_event, s_configure, s_customer };
