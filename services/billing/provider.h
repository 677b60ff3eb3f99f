/* provider.h - payment providers behind one interface; Kaiin keeps their tokens, never a
   card number. The built-in "sandbox" behaves like a real payment service; "stripe" is
   Stripe's API (stripe.c). BILLING_PROVIDER chooses the one new payment methods use. */
#ifndef KAIIN_BILLING_PROVIDER_H
#define KAIIN_BILLING_PROVIDER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_t;

/* How far a webhook's timestamp may be from now: older ones are taken for replays. */
#define PROVIDER_WEBHOOK_TOLERANCE_MS (5 * 60 * 1000)

typedef struct {
    char brand [16];
    char last4 [8];
    int exp_month, exp_year;
} provider_card_t;

typedef struct {
    char status [16];               /* succeeded | failed | pending */
    char failure_code [32];         /* card_declined | insufficient_funds | expired_card */
    char failure_message [128];
    char provider_ref [80];         /* the provider's charge, payment number or reference */
    char konbini_number [32];
    char bank_reference [32];
    int64_t expires_at_ms;          /* pending payments: when the provider gives up */
} provider_charge_t;

/* One succeeded charge as the provider lists it. */
typedef struct {
    char key [128];                 /* the idempotency key it was made with */
    char provider_ref [80];
    char customer [40];             /* the member it was made for */
    int64_t amount;
    int64_t created_at_ms;
    char cursor [24];               /* where the list goes on after this charge */
} provider_listed_t;

/* One charge of a provider's charge_many: what charge is given, and its answer. */
typedef struct {
    const char *method_type, *token, *customer, *customer_ref, *key;
    int64_t amount, pending_ms;
    provider_charge_t *charge;      /* the answer, when answered */
    bool answered;
} provider_call_t;

typedef struct {
    const char *name;
    /* What a card token stands for; -1 when the provider does not know the token. */
    int (*card) (const char *token, int64_t now_ms, provider_card_t *card);
    /* Charges customer (a member id; customer_ref the provider's own customer of the method,
       "" for none) amount by method type (card: with token). The same key
       always gets the first outcome back, so a retry after a crash never charges twice. 0, or
       -1 when the provider could not be asked (nothing charged; try again later). A konbini
       or bank-transfer payment is pending for pending_ms from the first charge, then expires. */
    int (*charge) (const char *method_type, const char *token, const char *customer,
                   const char *customer_ref, int64_t amount, const char *key, int64_t now_ms,
                   int64_t pending_ms, provider_charge_t *charge);
    /* The succeeded charges made after cursor ("" for the first), oldest first, at most max
       into listed: how many, or -1 when the provider could not be asked. */
    int (*charges) (const char *cursor, int max, provider_listed_t *listed);
    /* Pays back amount of a charge. The same key refunds once. 0 or -1. */
    int (*refund) (const char *provider_ref, int64_t amount, const char *key, int64_t now_ms);
    /* Checks a webhook's signature and age. 0, or -1 with *reason set to why (static, a
       sentence of billing's table of messages). */
    int (*verify) (const char *timestamp, const char *signature, const uint8_t *body, size_t size,
                   int64_t now_ms, const char **reason);
    /* A verified webhook's body (owned by the caller) in Kaiin's terms: a new reference the
       caller decrefs to an object with the event's "id" and, when Kaiin has something to do,
       "type" (konbini.paid | bank_transfer.received), "provider_ref" and "amount"; without
       "type" and with "ignore": true when the event is none of Kaiin's business. */
    struct json_t *(*event) (struct json_t *body);
    /* Reads the provider's settings at start-up when the deployment chooses it. 0, or -1
       after logging what is missing. NULL: nothing to read. */
    int (*configure) (void);
    /* Makes member_id the provider's customer, so that a method saved to it can be charged
       again without the member (Stripe: a card used without a customer cannot be used twice,
       and a bank transfer needs one): known is the customer Kaiin keeps from before ("" for
       none: one is made, the same one whatever the retries); token, when not "", is a card
       saved to it. The customer into ref. 0, or -1 when the provider could not be asked or
       refused (logged). NULL: the provider's tokens need none (the sandbox). */
    int (*customer) (const char *member_id, const char *known, const char *token, char ref [64]);
    /* Makes count charges at once, each as charge would (the same keys, the same first
       outcomes), setting answered on those it answered. 0, or -1 when the provider could not
       be asked (none answered). NULL: one charge a call (a scheduler batch's calls are then
       made side by side). */
    int (*charge_many) (provider_call_t *calls, size_t count, int64_t now_ms);
} provider_t;

extern const provider_t sandbox_provider;
extern const provider_t stripe_provider;

/* The provider called name, or NULL. */
const provider_t *provider_find (const char *name);

/* Chooses the deployment's provider, the one new payment methods are kept with, and reads
   its settings; at start-up, before any thread. 0, or -1 after logging why (an unknown
   name, a missing key). */
int provider_init (const char *name);

/* The deployment's provider (the sandbox until provider_init chose another). */
const provider_t *provider_chosen (void);

/* What provider_verify answers for each fault, in the provider's words (sentences of billing's
   table of messages). */
typedef struct {
    const char *malformed;          /* the timestamp is not Unix seconds, or no signature */
    const char *stale;              /* the timestamp is too far from now: a replay */
    const char *mismatch;           /* no signature matches */
} provider_reasons_t;

/* Checks a webhook signed over "<timestamp>.<body>" with secret: timestamp Unix seconds within
   PROVIDER_WEBHOOK_TOLERANCE_MS of now_ms, and any of signatures [0..count) (hex, compared in
   constant time) its HMAC. 0, or -1 with *reason set from reasons (or "no webhook secret is
   configured", "the signature could not be checked"). */
int provider_verify (const char *secret, const char *timestamp, const char *const *signatures, int count,
                     const uint8_t *body, size_t size, int64_t now_ms, const provider_reasons_t *reasons,
                     const char **reason);

/* Writes into hex the lower-case hex HMAC-SHA256, keyed with secret, of
   "<timestamp>.<body>": the signature of the sandbox's and Stripe's webhooks. 0, or -1 when
   it could not be computed. */
int provider_signature (const char *secret, const char *timestamp, const uint8_t *body, size_t size,
                        char hex [65]);

#endif
