/* provider.c - the payment providers by name, the deployment's choice among them, and the
   signature their webhooks share */
#include "provider.h"
#include "log.h"
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const provider_t *const s_providers [] = { &sandbox_provider, &stripe_provider, NULL };
static const provider_t *s_chosen = &sandbox_provider;

const provider_t *
provider_find (const char *name)
{
    for (const provider_t *const *provider = s_providers; *provider; provider++)
        if (strcmp ((*provider)->name, name) == 0)
            return *provider;
    return NULL;
}

int
provider_init (const char *name)
{
    const provider_t *provider = provider_find (name);
    if (!provider)
        return log_error ("BILLING_PROVIDER is '%s': expected sandbox or stripe", name);
    if (provider->configure && provider->configure () == -1)
        return -1;
    s_chosen = provider;
    log_info ("payment provider: %s", provider->name);
    return 0;
}

const provider_t *
provider_chosen (void)
{
    return s_chosen;
}

int
provider_signature (const char *secret, const char *timestamp, const uint8_t *body, size_t size,
                    char hex [65])
{
    size_t stamp_size = strlen (timestamp);
    unsigned char *text = malloc (stamp_size + 1 + size + 1);
    if (!text)
        return -1;
    memcpy (text, timestamp, stamp_size);
    text [stamp_size] = '.';
    if (size)
        memcpy (text + stamp_size + 1, body, size);
    unsigned char digest [EVP_MAX_MD_SIZE];
    unsigned int digest_size = 0;
    unsigned char *done = HMAC (EVP_sha256 (), secret, (int) strlen (secret), text,
                                stamp_size + 1 + size, digest, &digest_size);
    free (text);
    if (!done || digest_size != 32)
        return -1;
    for (unsigned int i = 0; i < digest_size; i++)
        snprintf (hex + 2 * i, 3, "%02x", digest [i]);
    return 0;
}

int
provider_verify (const char *secret, const char *timestamp, const char *const *signatures, int count,
                 const uint8_t *body, size_t size, int64_t now_ms, const provider_reasons_t *reasons,
                 const char **reason)
{
    char *end;
    long long seconds = strtoll (timestamp, &end, 10);
    *reason = NULL;
    if (!*timestamp || *end || seconds <= 0 || count == 0)
        *reason = reasons->malformed;
    else
    if (llabs (now_ms - seconds * 1000) > PROVIDER_WEBHOOK_TOLERANCE_MS)
        *reason = reasons->stale;
    else
    if (!secret || !*secret)
        *reason = "no webhook secret is configured";
    if (*reason)
        return -1;
    char expected [65];
    if (provider_signature (secret, timestamp, body, size, expected) == -1) {
        *reason = "the signature could not be checked";
        return -1;
    }
    int matched = 0;
    for (int i = 0; i < count; i++)         /* every one compared: the time tells nothing */
        matched |= strlen (signatures [i]) == 64 && CRYPTO_memcmp (expected, signatures [i], 64) == 0;
    if (!matched)
        *reason = reasons->mismatch;
    return matched? 0: -1;
}
