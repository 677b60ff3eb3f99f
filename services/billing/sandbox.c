/* sandbox.c - the built-in payment provider for development and tests: deterministic card
   tokens, konbini payment numbers, bank-transfer references, signed webhooks. Its ledger of
   charges is its own table, written on its own connection outside billing's transactions,
   the way a real provider keeps its records apart from ours. */
#include "provider.h"
#include "log.h"
#include "pg.h"
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const char *token, *brand, *last4, *outcome;
} s_token_t;

static const s_token_t s_tokens [] = {
    { "tok_visa",              "visa",       "4242", "succeeded" },
    { "tok_mastercard",        "mastercard", "4444", "succeeded" },
    { "tok_jcb",               "jcb",        "0000", "succeeded" },
    { "tok_expiring",          "visa",       "1111", "succeeded" },
    { "tok_chargeDeclined",    "visa",       "0002", "card_declined" },
    { "tok_insufficientFunds", "visa",       "9995", "insufficient_funds" },
    { NULL, NULL, NULL, NULL }
};

static __thread pg_t *s_ledger;
static pthread_key_t s_ledger_key;
static pthread_once_t s_ledger_once = PTHREAD_ONCE_INIT;

static void
s_ledger_free (void *ledger)
{
    pg_t *connection = ledger;
    pg_destroy (&connection);
}

static void
s_ledger_key_create (void)
{
    pthread_key_create (&s_ledger_key, s_ledger_free);
}

static const s_token_t *
s_token (const char *token)
{
    for (const s_token_t *known = s_tokens; known->token; known++)
        if (strcmp (known->token, token) == 0)
            return known;
    return NULL;
}

static int
s_card (const char *token, int64_t now_ms, provider_card_t *card)
{
    const s_token_t *known = s_token (token);
    if (!known)
        return -1;
    time_t seconds = (time_t) (now_ms / 1000 + 9 * 3600);
    struct tm tm;
    gmtime_r (&seconds, &tm);
    snprintf (card->brand, sizeof card->brand, "%s", known->brand);
    snprintf (card->last4, sizeof card->last4, "%s", known->last4);
    if (strcmp (token, "tok_expiring") == 0) {      /* expires at the end of next month */
        card->exp_month = (tm.tm_mon + 1) % 12 + 1;
        card->exp_year = tm.tm_year + 1900 + (tm.tm_mon == 11);
    }
    else {
        card->exp_month = 12;
        card->exp_year = tm.tm_year + 1900 + 4;
    }
    return 0;
}

static pg_t *
s_ledger_connection (void)
{
    if (!s_ledger) {
        /* The provider's ledger is the provider's: its commits need not wait for our disk
           (a crash of billing loses nothing; PostgreSQL flushes it within a fraction of a
           second), which keeps a renewal run from waiting on two flushes per charge. */
        const char *url = getenv ("BILLING_PG_URL");
        char ledger_url [1024];
        snprintf (ledger_url, sizeof ledger_url, "%s%soptions=-csynchronous_commit%%3Doff",
                  url? url: "", url && strchr (url, '?')? "&": "?");
        s_ledger = pg_new (ledger_url, "billing");
        pthread_once (&s_ledger_once, s_ledger_key_create);
        pthread_setspecific (s_ledger_key, s_ledger);      /* closed when the thread ends */
        pg_prepare (s_ledger, "sandbox_charge",
                "insert into sandbox_charges (idempotency_key, token, amount, outcome, created_at,"
                " customer, provider_ref) values ($1, $2, $3, $4, to_timestamp ($5::bigint / 1000.0),"
                " $6, $7)"
                " on conflict (idempotency_key) do update set idempotency_key = excluded.idempotency_key"
                " returning outcome, (extract (epoch from created_at) * 1000)::bigint");
        pg_prepare (s_ledger, "sandbox_charge_many",
                "insert into sandbox_charges (idempotency_key, token, amount, outcome, created_at,"
                " customer, provider_ref) select u.key, u.token, u.amount, u.outcome,"
                " to_timestamp ($7::bigint / 1000.0), u.customer, u.ref"
                " from unnest ($1::text [], $2::text [], $3::bigint [], $4::text [], $5::text [], $6::text [])"
                " as u (key, token, amount, outcome, customer, ref)"
                " on conflict (idempotency_key) do update set idempotency_key = excluded.idempotency_key"
                " returning idempotency_key, outcome, (extract (epoch from created_at) * 1000)::bigint");
        pg_prepare (s_ledger, "sandbox_charges",
                "select seq, idempotency_key, provider_ref, customer, amount,"
                " (extract (epoch from created_at) * 1000)::bigint from sandbox_charges"
                " where seq > $1 and outcome = 'succeeded' and amount > 0 order by seq limit $2");
    }
    return pg_ensure (s_ledger) == 0? s_ledger: NULL;
}

/* A number derived from the key: konbini payment numbers and bank references. */
static unsigned long long
s_digits (const char *key)
{
    unsigned long long hash = 1469598103934665603ULL;
    for (; *key; key++)
        hash = (hash ^ (unsigned char) *key) * 1099511628211ULL;
    return hash;
}

/* What the sandbox answers a new charge: its outcome (static), with charge's references set. */
static const char *
s_outcome (const char *method_type, const char *token, const char *key, provider_charge_t *charge)
{
    memset (charge, 0, sizeof *charge);
    const char *outcome = "pending";
    if (strcmp (method_type, "card") == 0) {
        const s_token_t *known = s_token (token);
        outcome = known? known->outcome: "card_declined";
    }
    snprintf (charge->provider_ref, sizeof charge->provider_ref, "sbx_%016llx", s_digits (key));
    if (strcmp (method_type, "konbini") == 0) {
        snprintf (charge->konbini_number, sizeof charge->konbini_number, "%011llu",
                  s_digits (key) % 100000000000ULL);
        snprintf (charge->provider_ref, sizeof charge->provider_ref, "%s", charge->konbini_number);
    }
    if (strcmp (method_type, "bank_transfer") == 0) {
        snprintf (charge->bank_reference, sizeof charge->bank_reference, "BT-%08llu",
                  s_digits (key) % 100000000ULL);
        snprintf (charge->provider_ref, sizeof charge->provider_ref, "%s", charge->bank_reference);
    }
    return outcome;
}

/* The charge's answer from the outcome the ledger recorded (the first one under its key) and
   when it was first charged. */
static void
s_answer (const char *method_type, const char *recorded, int64_t charged_at, int64_t pending_ms,
          provider_charge_t *charge)
{
    if (strcmp (recorded, "succeeded") == 0 || strcmp (recorded, "pending") == 0)
        snprintf (charge->status, sizeof charge->status, "%.15s", recorded);
    else {
        snprintf (charge->status, sizeof charge->status, "failed");
        snprintf (charge->failure_code, sizeof charge->failure_code, "%s", recorded);
        snprintf (charge->failure_message, sizeof charge->failure_message, "%s",
                  strcmp (recorded, "insufficient_funds") == 0? "the card has insufficient funds"
                  : "the card was declined");
    }
    if (strcmp (method_type, "konbini") == 0 || strcmp (method_type, "bank_transfer") == 0)
        charge->expires_at_ms = charged_at + pending_ms;
}

static int
s_charge (const char *method_type, const char *token, const char *customer, const char *customer_ref,
          int64_t amount, const char *key, int64_t now_ms, int64_t pending_ms, provider_charge_t *charge)
{
    (void) customer_ref;                /* the sandbox's tokens are reusable: no customers */
    const char *outcome = s_outcome (method_type, token, key, charge);
    pg_t *ledger = s_ledger_connection ();
    if (!ledger)
        return -1;
    char amount_text [24], now_text [24];
    snprintf (amount_text, sizeof amount_text, "%lld", (long long) amount);
    snprintf (now_text, sizeof now_text, "%lld", (long long) now_ms);
    const char *params [] = { key, token, amount_text, outcome, now_text, customer, charge->provider_ref };
    PGresult *result = pg_run (ledger, "sandbox_charge", 7, params);
    if (!result) {
        log_warn ("sandbox: the charge ledger cannot be written");
        return -1;
    }
    char recorded [32];
    snprintf (recorded, sizeof recorded, "%s", PQgetvalue (result, 0, 0));
    int64_t charged_at = strtoll (PQgetvalue (result, 0, 1), NULL, 10);
    PQclear (result);
    s_answer (method_type, recorded, charged_at, pending_ms, charge);
    return 0;
}

/* A scheduler batch's charges in one statement (one round trip and one commit of the ledger,
   not one each). Keys are distinct in a batch: the statement fails on one given twice, and
   the caller then charges them one by one. */
static int
s_charge_many (provider_call_t *calls, size_t count, int64_t now_ms)
{
    enum { KEY, TOKEN, AMOUNT, OUTCOME, CUSTOMER, REF, COLUMNS };
    pg_t *ledger = s_ledger_connection ();
    if (!ledger)
        return -1;
    pg_buffer_t columns [COLUMNS];
    memset (columns, 0, sizeof columns);
    for (size_t i = 0; i < count; i++) {
        provider_call_t *call = &calls [i];
        char amount [24];
        const char *outcome = s_outcome (call->method_type, call->token, call->key, call->charge);
        snprintf (amount, sizeof amount, "%lld", (long long) call->amount);
        pg_array_add (&columns [KEY], call->key, true);
        pg_array_add (&columns [TOKEN], call->token, true);
        pg_array_add (&columns [AMOUNT], amount, false);
        pg_array_add (&columns [OUTCOME], outcome, true);
        pg_array_add (&columns [CUSTOMER], call->customer, true);
        pg_array_add (&columns [REF], call->charge->provider_ref, true);
    }
    char now [24];
    snprintf (now, sizeof now, "%lld", (long long) now_ms);
    PGresult *result = pg_run_arrays (ledger, "sandbox_charge_many", columns, COLUMNS, now);
    if (!result) {
        log_warn ("sandbox: the charge ledger cannot be written (%zu charges at once)", count);
        return -1;
    }
    /* Rows come back in the order given, as a rule; looked up from where the last was. */
    int rows = PQntuples (result), next = 0;
    for (size_t i = 0; i < count && rows > 0; i++)
        for (int n = 0; n < rows; n++) {
            int row = (next + n) % rows;
            if (strcmp (PQgetvalue (result, row, 0), calls [i].key) == 0) {
                s_answer (calls [i].method_type, PQgetvalue (result, row, 1),
                          strtoll (PQgetvalue (result, row, 2), NULL, 10), calls [i].pending_ms, calls [i].charge);
                calls [i].answered = true;
                next = row + 1;
                break;
            }
        }
    PQclear (result);
    return 0;
}

static int
s_charges (const char *cursor, int max, provider_listed_t *listed)
{
    pg_t *ledger = s_ledger_connection ();
    if (!ledger)
        return -1;
    char max_text [24];
    snprintf (max_text, sizeof max_text, "%d", max);
    const char *params [] = { *cursor? cursor: "0", max_text };
    PGresult *result = pg_run (ledger, "sandbox_charges", 2, params);
    if (!result)
        return -1;
    int count = PQntuples (result);
    for (int row = 0; row < count; row++) {
        provider_listed_t *charge = &listed [row];
        snprintf (charge->cursor, sizeof charge->cursor, "%s", PQgetvalue (result, row, 0));
        snprintf (charge->key, sizeof charge->key, "%s", PQgetvalue (result, row, 1));
        snprintf (charge->provider_ref, sizeof charge->provider_ref, "%s", PQgetvalue (result, row, 2));
        snprintf (charge->customer, sizeof charge->customer, "%s", PQgetvalue (result, row, 3));
        charge->amount = strtoll (PQgetvalue (result, row, 4), NULL, 10);
        charge->created_at_ms = strtoll (PQgetvalue (result, row, 5), NULL, 10);
    }
    PQclear (result);
    return count;
}

static int
s_refund (const char *provider_ref, int64_t amount, const char *key, int64_t now_ms)
{
    provider_charge_t ignored;
    (void) provider_ref;
    return s_charge ("refund", "", "", "", -amount, key, now_ms, 0, &ignored);
}

static int
s_verify (const char *timestamp, const char *signature, const uint8_t *body, size_t size,
          int64_t now_ms, const char **reason)
{
    static const provider_reasons_t reasons = { "Kaiin-Timestamp must be Unix seconds",
        "Kaiin-Timestamp is more than 5 minutes away from now", "Kaiin-Signature does not match the body" };
    return provider_verify (getenv ("BILLING_SANDBOX_WEBHOOK_SECRET"), timestamp, &signature, 1, body, size,
                            now_ms, &reasons, reason);
}

/* The sandbox's events are in Kaiin's terms already. */
static json_t *
s_event (json_t *body)
{
    return json_incref (body);
}

const provider_t sandbox_provider = { "sandbox", s_card, s_charge, s_charges, s_refund, s_verify,
                                      s_event, NULL, NULL, s_charge_many };
