/* provider.h - payment providers behind one interface; Kaiin keeps their tokens, never a
   card number. The built-in "sandbox" behaves like a real payment service. */
#ifndef KAIIN_BILLING_PROVIDER_H
#define KAIIN_BILLING_PROVIDER_H
#include <stddef.h>
#include <stdint.h>

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

typedef struct {
    const char *name;
    /* What a card token stands for; -1 when the provider does not know the token. */
    int (*card) (const char *token, int64_t now_ms, provider_card_t *card);
    /* Charges customer (a member id) amount by method type (card: with token). The same key
       always gets the first outcome back, so a retry after a crash never charges twice. 0, or
       -1 when the provider could not be asked (nothing charged; try again later). A konbini
       or bank-transfer payment is pending for pending_ms from the first charge, then expires. */
    int (*charge) (const char *method_type, const char *token, const char *customer, int64_t amount,
                   const char *key, int64_t now_ms, int64_t pending_ms, provider_charge_t *charge);
    /* The succeeded charges made after cursor ("" for the first), oldest first, at most max
       into listed: how many, or -1 when the provider could not be asked. */
    int (*charges) (const char *cursor, int max, provider_listed_t *listed);
    /* Pays back amount of a charge. The same key refunds once. 0 or -1. */
    int (*refund) (const char *provider_ref, int64_t amount, const char *key, int64_t now_ms);
    /* Checks a webhook's signature and age. 0, or -1 with *reason set to why (static, a
       sentence of billing's table of messages). */
    int (*verify) (const char *timestamp, const char *signature, const uint8_t *body, size_t size,
                   int64_t now_ms, const char **reason);
} provider_t;

/* The provider called name, or NULL. */
const provider_t *provider_find (const char *name);

#endif
