/* provider.c - the payment providers by name, the deployment's choice among them, and the
   signature their webhooks share */
#include "provider.h"
#include "log.h"
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
