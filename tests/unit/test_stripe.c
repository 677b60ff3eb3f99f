/* test_stripe.c - the Stripe provider's parts that need no Stripe: Stripe-Signature checked
   against vectors worked out by hand with openssl, PaymentIntents and errors read into Kaiin's
   outcomes, the form of a charge, webhook events in Kaiin's terms, and the choice of provider
   refused for an unknown name or a missing key (stripe.c and provider.c included; the sandbox
   a stand-in of its name alone) */
#include "check.h"
#include "../../services/billing/provider.c"
#include "../../services/billing/stripe.c"

const provider_t sandbox_provider = { "sandbox", NULL, NULL, NULL, NULL, NULL, NULL, NULL };

#define SECRET "whsec_test_secret"
#define BODY   "{\"id\":\"evt_1\",\"type\":\"payment_intent.succeeded\"}"
/* printf '%s' '1700000000.<BODY>' | openssl dgst -sha256 -hmac whsec_test_secret */
#define GOOD   "22d8dc182f5c588077683bd378368e29765bfe5df2560112b4f28fef120f0e31"
/* printf '%s' '1700000000.' | openssl dgst -sha256 -hmac whsec_test_secret: another body's */
#define OTHER  "316b9ab98c15bfa039d243f3196acee619cf29749a91a634e6a8154e2f7b6727"
#define NOW_MS 1700000000000LL

static int
s_check (const char *header, int64_t now_ms, const char **reason)
{
    *reason = NULL;
    return s_signature_check (SECRET, header, (const uint8_t *) BODY, strlen (BODY), now_ms, reason);
}

static void
s_test_signature (void)
{
    char hex [65];
    CHECK (provider_signature (SECRET, "1700000000", (const uint8_t *) BODY, strlen (BODY), hex) == 0);
    CHECK (strcmp (hex, GOOD) == 0);
    CHECK (provider_signature (SECRET, "1700000000", NULL, 0, hex) == 0);
    CHECK (strcmp (hex, OTHER) == 0);

    const char *reason;
    CHECK (s_check ("t=1700000000,v1=" GOOD, NOW_MS, &reason) == 0);
    /* several v1 (a secret being rolled) and a v0 Stripe still sends: any v1 may match */
    CHECK (s_check ("t=1700000000,v1=" OTHER ",v1=" GOOD ",v0=" OTHER, NOW_MS, &reason) == 0);
    CHECK (s_check ("t=1700000000,v1=" OTHER, NOW_MS, &reason) == -1);
    CHECK (reason && strcmp (reason, "Stripe-Signature does not match the body") == 0);
    /* the signature of the same body at another time does not carry over */
    CHECK (s_check ("t=1700000001,v1=" GOOD, NOW_MS, &reason) == -1);
    CHECK (reason && strcmp (reason, "Stripe-Signature does not match the body") == 0);
    /* 300 s is still in time, 301 s is a replay, either way */
    CHECK (s_check ("t=1700000000,v1=" GOOD, NOW_MS + 300000, &reason) == 0);
    CHECK (s_check ("t=1700000000,v1=" GOOD, NOW_MS + 301000, &reason) == -1);
    CHECK (reason && strcmp (reason, "Stripe-Signature's timestamp is more than 5 minutes away from now") == 0);
    CHECK (s_check ("t=1700000000,v1=" GOOD, NOW_MS - 301000, &reason) == -1);
    CHECK (s_check ("v1=" GOOD, NOW_MS, &reason) == -1);
    CHECK (reason && strcmp (reason, "Stripe-Signature must carry t= and v1=") == 0);
    CHECK (s_check ("t=1700000000", NOW_MS, &reason) == -1);
    CHECK (s_check ("t=17000x0000,v1=" GOOD, NOW_MS, &reason) == -1);
    CHECK (s_check ("t=1700000000,v1=" GOOD "00", NOW_MS, &reason) == -1);
    CHECK (s_check ("", NOW_MS, &reason) == -1);
    CHECK (s_signature_check ("", "t=1700000000,v1=" GOOD, (const uint8_t *) BODY, strlen (BODY),
                              NOW_MS, &reason) == -1);
    CHECK (reason && strcmp (reason, "no webhook secret is configured") == 0);
}

static json_t *
s_json (const char *text)
{
    json_error_t error;
    json_t *value = json_loads (text, 0, &error);
    if (!value)
        fprintf (stderr, "bad JSON in the test: %s\n", error.text);
    return value;
}

static void
s_test_intents (void)
{
    provider_charge_t charge;
    json_t *intent = s_json ("{\"id\":\"pi_1\",\"status\":\"succeeded\",\"amount_received\":1100}");
    memset (&charge, 0, sizeof charge);
    s_intent_read (intent, NOW_MS, 3 * 86400000LL, &charge);
    CHECK (strcmp (charge.status, "succeeded") == 0 && strcmp (charge.provider_ref, "pi_1") == 0);
    json_decref (intent);

    /* konbini: Stripe's next_action, its payment code and when the voucher expires */
    intent = s_json ("{\"id\":\"pi_2\",\"status\":\"requires_action\",\"payment_method_types\":[\"konbini\"],"
                     "\"next_action\":{\"type\":\"konbini_display_details\",\"konbini_display_details\":"
                     "{\"expires_at\":1700259199,\"hosted_voucher_url\":\"https://payments.stripe.com/x\","
                     "\"stores\":{\"familymart\":{\"confirmation_number\":\"123\",\"payment_code\":\"123456789012\"},"
                     "\"lawson\":{\"confirmation_number\":\"456\",\"payment_code\":\"123456789012\"}}}}}");
    memset (&charge, 0, sizeof charge);
    s_intent_read (intent, NOW_MS, 3 * 86400000LL, &charge);
    CHECK (strcmp (charge.status, "pending") == 0);
    CHECK (strcmp (charge.konbini_number, "123456789012") == 0);
    CHECK (charge.expires_at_ms == 1700259199000LL);
    json_decref (intent);

    /* a bank transfer to the customer's balance: the reference, our own deadline */
    intent = s_json ("{\"id\":\"pi_3\",\"status\":\"requires_action\",\"payment_method_types\":[\"customer_balance\"],"
                     "\"next_action\":{\"type\":\"display_bank_transfer_instructions\","
                     "\"display_bank_transfer_instructions\":{\"amount_remaining\":5500,\"currency\":\"jpy\","
                     "\"reference\":\"ABCD1234\",\"type\":\"jp_bank_transfer\"}}}");
    memset (&charge, 0, sizeof charge);
    s_intent_read (intent, NOW_MS, 7 * 86400000LL, &charge);
    CHECK (strcmp (charge.status, "pending") == 0 && strcmp (charge.bank_reference, "ABCD1234") == 0);
    CHECK (charge.expires_at_ms == NOW_MS + 7 * 86400000LL && !*charge.konbini_number);
    json_decref (intent);

    /* declined: Stripe's 402 error, insufficient funds told by its decline code */
    json_t *error = s_json ("{\"type\":\"card_error\",\"code\":\"card_declined\",\"decline_code\":"
                            "\"insufficient_funds\",\"message\":\"Your card has insufficient funds.\"}");
    memset (&charge, 0, sizeof charge);
    s_failure (error, &charge);
    CHECK (strcmp (charge.status, "failed") == 0 && strcmp (charge.failure_code, "insufficient_funds") == 0);
    CHECK (strcmp (charge.failure_message, "Your card has insufficient funds.") == 0);
    json_decref (error);
    error = s_json ("{\"type\":\"card_error\",\"code\":\"card_declined\",\"decline_code\":\"generic_decline\"}");
    s_failure (error, &charge);
    CHECK (strcmp (charge.failure_code, "card_declined") == 0);
    json_decref (error);
    error = s_json ("{\"type\":\"card_error\",\"code\":\"expired_card\"}");
    s_failure (error, &charge);
    CHECK (strcmp (charge.failure_code, "expired_card") == 0);
    json_decref (error);

    /* confirmed but left needing another method: failed with the last error's code */
    intent = s_json ("{\"id\":\"pi_4\",\"status\":\"requires_payment_method\","
                     "\"last_payment_error\":{\"code\":\"authentication_required\",\"message\":\"x\"}}");
    memset (&charge, 0, sizeof charge);
    s_intent_read (intent, NOW_MS, 0, &charge);
    CHECK (strcmp (charge.status, "failed") == 0 && strcmp (charge.failure_code, "authentication_required") == 0);
    CHECK (strcmp (charge.provider_ref, "pi_4") == 0);
    json_decref (intent);
}

static void
s_test_form (void)
{
    s_form_t form = { "", 0, false };
    s_charge_form (&form, "card", "pm_card_visa", "0b6e6c1e-1", "cus_K1", 1100, "renewal:s1:1700000000000", 0);
    CHECK (!form.overflow);
    CHECK (strcmp (form.text, "customer=cus_K1&amount=1100&currency=jpy&confirm=true"
                              "&metadata%5Bkaiin_key%5D=renewal%3As1%3A1700000000000"
                              "&metadata%5Bkaiin_customer%5D=0b6e6c1e-1"
                              "&payment_method_types%5B%5D=card&payment_method=pm_card_visa&off_session=true") == 0);
    s_form_t konbini = { "", 0, false };
    s_charge_form (&konbini, "konbini", "", "m", "", 500, "k", 3 * 86400000LL);
    CHECK (strstr (konbini.text, "payment_method_types%5B%5D=konbini"));
    CHECK (strstr (konbini.text, "payment_method_options%5Bkonbini%5D%5Bexpires_after_days%5D=3"));
    s_form_t bank = { "", 0, false };
    s_charge_form (&bank, "bank_transfer", "", "m", "cus_K2", 500, "k", 0);
    CHECK (strstr (bank.text, "payment_method_types%5B%5D=customer_balance"));
    CHECK (strncmp (bank.text, "customer=cus_K2&", 16) == 0 && !strstr (konbini.text, "customer="));
    CHECK (strstr (bank.text, "%5Bbank_transfer%5D%5Btype%5D=jp_bank_transfer"));
    s_form_t full = { "", 0, false };
    char long_key [FORM_MAX];
    memset (long_key, 'k', sizeof long_key - 1);
    long_key [sizeof long_key - 1] = 0;
    s_form_add (&full, "metadata[kaiin_key]", long_key);
    CHECK (full.overflow);
}

static void
s_test_events (void)
{
    json_t *body = s_json ("{\"id\":\"evt_1\",\"type\":\"payment_intent.succeeded\",\"data\":{\"object\":"
                           "{\"id\":\"pi_2\",\"payment_method_types\":[\"konbini\"],\"amount_received\":1100}}}");
    json_t *event = s_event (body);
    CHECK (strcmp (s_string (event, "type"), "konbini.paid") == 0);
    CHECK (strcmp (s_string (event, "provider_ref"), "pi_2") == 0 && s_integer (event, "amount") == 1100);
    CHECK (strcmp (s_string (event, "id"), "evt_1") == 0 && !json_object_get (event, "ignore"));
    json_decref (event);
    json_decref (body);
    body = s_json ("{\"id\":\"evt_2\",\"type\":\"payment_intent.succeeded\",\"data\":{\"object\":"
                   "{\"id\":\"pi_3\",\"payment_method_types\":[\"customer_balance\"],\"amount_received\":5500}}}");
    event = s_event (body);
    CHECK (strcmp (s_string (event, "type"), "bank_transfer.received") == 0 && s_integer (event, "amount") == 5500);
    json_decref (event);
    json_decref (body);
    /* a card's success and any other type: acknowledged, nothing to do */
    body = s_json ("{\"id\":\"evt_3\",\"type\":\"payment_intent.succeeded\",\"data\":{\"object\":"
                   "{\"id\":\"pi_1\",\"payment_method_types\":[\"card\"]}}}");
    event = s_event (body);
    CHECK (json_is_true (json_object_get (event, "ignore")) && !json_object_get (event, "type"));
    json_decref (event);
    json_decref (body);
    body = s_json ("{\"id\":\"evt_4\",\"type\":\"customer.created\"}");
    event = s_event (body);
    CHECK (json_is_true (json_object_get (event, "ignore")) && strcmp (s_string (event, "id"), "evt_4") == 0);
    json_decref (event);
    json_decref (body);
}

static void
s_test_choice (void)
{
    CHECK (provider_find ("sandbox") == &sandbox_provider);
    CHECK (provider_find ("stripe") == &stripe_provider);
    CHECK (provider_find ("paypal") == NULL);
    CHECK (provider_init ("paypal") == -1);
    CHECK (provider_chosen () == &sandbox_provider);
    unsetenv ("STRIPE_API_KEY");
    unsetenv ("STRIPE_API_KEY_FILE");
    setenv ("STRIPE_WEBHOOK_SECRET", SECRET, 1);
    CHECK (provider_init ("stripe") == -1);
    CHECK (provider_chosen () == &sandbox_provider);
    free (s_settings.api_key);
    free (s_settings.webhook_secret);
    setenv ("STRIPE_API_KEY", "pk_test_publishable", 1);
    CHECK (provider_init ("stripe") == -1);
    free (s_settings.api_key);
    free (s_settings.webhook_secret);
    setenv ("STRIPE_API_KEY", "sk_test_123", 1);
    unsetenv ("STRIPE_WEBHOOK_SECRET");
    CHECK (provider_init ("stripe") == -1);
    free (s_settings.api_key);
    free (s_settings.webhook_secret);
    setenv ("STRIPE_WEBHOOK_SECRET", SECRET, 1);
    CHECK (provider_init ("stripe") == 0);
    CHECK (provider_chosen () == &stripe_provider);
    free (s_settings.api_key);
    free (s_settings.webhook_secret);
    curl_global_cleanup ();
}

int
main (void)
{
    s_test_signature ();
    s_test_intents ();
    s_test_form ();
    s_test_events ();
    s_test_choice ();
    return check_report ("test_stripe");
}
