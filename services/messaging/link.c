/* link.c - the signed links mails carry (one-click unsubscribe, tracked clicks): tokens that name
   a mail, and a link of it, under an HMAC, and the gateway's public address they point at */
#include "link.h"
#include "config.h"
#include "log.h"
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID_HEX 32                       /* the mail's id without its dashes */
#define LINK_HEX 2

static char *s_secret;
static char s_public_url [512];

void
link_configure (void)
{
    s_secret = config_secret ("MESSAGING_UNSUBSCRIBE_SECRET", NULL);
    if (strlen (s_secret) < 16) {
        log_error ("MESSAGING_UNSUBSCRIBE_SECRET must have 16 characters or more");
        exit (1);
    }
    snprintf (s_public_url, sizeof s_public_url, "%s",
              config_str ("MESSAGING_PUBLIC_URL", "http://localhost:8080"));
    size_t length = strlen (s_public_url);
    if (length && s_public_url [length - 1] == '/')
        s_public_url [length - 1] = 0;
}

void
link_shutdown (void)
{
    free (s_secret);
    s_secret = NULL;
}

/* The signature of what (length bytes) as hex digits into signature (digits + 1 bytes). */
static void
s_sign (const char *what, size_t length, char *signature, int digits)
{
    unsigned char digest [EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    HMAC (EVP_sha256 (), s_secret, (int) strlen (s_secret), (const unsigned char *) what, length,
          digest, &size);
    for (int i = 0; i < digits / 2; i++)
        snprintf (signature + 2 * i, 3, "%02x", digest [i]);
}

/* The token's signature for its id (and link) digits. An unsubscribe link signs the id alone,
   as the first mails did; a tracked link signs "c", the id and the link. */
static void
s_signature (const char *id_hex, const char *link_hex, char *signature)
{
    if (!link_hex) {
        s_sign (id_hex, ID_HEX, signature, LINK_TOKEN_CHARS - ID_HEX);
        return;
    }
    char what [1 + ID_HEX + LINK_HEX + 1];
    snprintf (what, sizeof what, "c%s%s", id_hex, link_hex);
    s_sign (what, sizeof what - 1, signature, LINK_TOKEN_CHARS - ID_HEX - LINK_HEX);
}

void
link_token (const char *mail_id, int link, char *token)
{
    char id_hex [ID_HEX + 1] = "", link_hex [LINK_HEX + 1] = "";
    char signature [LINK_TOKEN_CHARS + 1];
    size_t used = 0;
    for (const char *p = mail_id; *p && used < ID_HEX; p++)
        if (*p != '-')
            id_hex [used++] = (char) tolower ((unsigned char) *p);
    id_hex [used] = 0;
    if (link >= 0)
        snprintf (link_hex, sizeof link_hex, "%02x", (unsigned) link % LINK_MAX);
    s_signature (id_hex, link >= 0? link_hex: NULL, signature);
    snprintf (token, LINK_TOKEN_CHARS + 1, "%s%s%s", id_hex, link_hex, signature);
}

bool
link_token_check (const char *token, char *mail_id, int *link_p)
{
    if (strlen (token) != LINK_TOKEN_CHARS || strspn (token, "0123456789abcdef") != LINK_TOKEN_CHARS)
        return false;
    char id_hex [ID_HEX + 1], link_hex [LINK_HEX + 1], signature [LINK_TOKEN_CHARS + 1];
    memcpy (id_hex, token, ID_HEX);
    id_hex [ID_HEX] = 0;
    size_t signed_at = ID_HEX;
    if (link_p) {
        memcpy (link_hex, token + ID_HEX, LINK_HEX);
        link_hex [LINK_HEX] = 0;
        *link_p = (int) strtol (link_hex, NULL, 16);
        signed_at += LINK_HEX;
        if (*link_p >= LINK_MAX)
            return false;
    }
    s_signature (id_hex, link_p? link_hex: NULL, signature);
    if (CRYPTO_memcmp (signature, token + signed_at, LINK_TOKEN_CHARS - signed_at) != 0)
        return false;
    snprintf (mail_id, LINK_UUID_CHARS + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", id_hex, id_hex + 8,
              id_hex + 12, id_hex + 16, id_hex + 20);
    return true;
}

void
link_url (const char *route, const char *token, char *url, size_t size)
{
    snprintf (url, size, "%s%s%s", s_public_url, route, token);
}
