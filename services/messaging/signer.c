/* signer.c - DKIM signatures (RFC 6376) on outgoing mail, by libopendkim */
#include "signer.h"
#include "config.h"
#include "log.h"
#include <opendkim/dkim.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIGNATURE_MAX 4096
#define PREFIX "DKIM-Signature: "

static DKIM_LIB *s_lib;
static char *s_key, *s_domain, *s_selector;

/* The whole of a file as a new string, or NULL. */
static char *
s_read_file (const char *path)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    char *text = NULL;
    if (fseek (file, 0, SEEK_END) == 0) {
        long size = ftell (file);
        rewind (file);
        text = size >= 0? calloc (1, (size_t) size + 1): NULL;
        if (text && fread (text, 1, (size_t) size, file) != (size_t) size) {
            free (text);
            text = NULL;
        }
    }
    fclose (file);
    return text;
}

void
signer_configure (void)
{
    const char *domain = config_str ("MESSAGING_DKIM_DOMAIN", "");
    if (!*domain)
        return;
    const char *selector = config_str ("MESSAGING_DKIM_SELECTOR", NULL);
    const char *path = config_str ("MESSAGING_DKIM_KEY_FILE", "");
    s_key = *path? s_read_file (path): strdup (config_str ("MESSAGING_DKIM_KEY", ""));
    if (!s_key || !strstr (s_key, "PRIVATE KEY")) {
        log_error ("DKIM signing for '%s' needs a PEM private key in MESSAGING_DKIM_KEY_FILE"
                   " or MESSAGING_DKIM_KEY", domain);
        exit (1);
    }
    s_lib = dkim_init (NULL, NULL);
    if (!s_lib) {
        log_error ("cannot start libopendkim");
        exit (1);
    }
    s_domain = strdup (domain);
    s_selector = strdup (selector);
}

void
signer_shutdown (void)
{
    if (s_lib)
        dkim_close (s_lib);
    s_lib = NULL;
    free (s_key);
    free (s_domain);
    free (s_selector);
    s_key = s_domain = s_selector = NULL;
}

/* Feeds the header fields of header (up to end, CRLF lines, folded ones joined) to dkim. */
static DKIM_STAT
s_headers (DKIM *dkim, const char *header, const char *end)
{
    const char *field = header;
    while (field < end) {
        const char *next = field;
        do {
            const char *eol = strstr (next, "\r\n");
            next = eol && eol < end? eol + 2: end;
        } while (next < end && (*next == ' ' || *next == '\t'));
        size_t length = (size_t) (next - field);
        if (length >= 2 && next [-2] == '\r')
            length -= 2;
        DKIM_STAT status = dkim_header (dkim, (u_char *) field, length);
        if (status != DKIM_STAT_OK)
            return status;
        field = next;
    }
    return DKIM_STAT_OK;
}

/* The signature header's value with every line break a CRLF, into out (size bytes). */
static void
s_crlf (const char *value, char *out, size_t size)
{
    size_t used = 0;
    for (const char *p = value; *p && used + 3 < size; p++) {
        if (*p == '\n' && (p == value || p [-1] != '\r'))
            out [used++] = '\r';
        out [used++] = *p;
    }
    out [used] = 0;
}

char *
signer_sign (const char *message)
{
    const char *blank = strstr (message, "\r\n\r\n");
    if (!s_lib || !blank)
        return strdup (message);
    DKIM_STAT status;
    DKIM *dkim = dkim_sign (s_lib, (const u_char *) "kaiin-messaging", NULL, (dkim_sigkey_t) s_key,
                            (const u_char *) s_selector, (const u_char *) s_domain,
                            DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, DKIM_SIGN_RSASHA256, -1, &status);
    u_char value [SIGNATURE_MAX];
    if (dkim)
        status = s_headers (dkim, message, blank + 2);
    if (dkim && status == DKIM_STAT_OK)
        status = dkim_eoh (dkim);
    if (dkim && status == DKIM_STAT_OK)
        status = dkim_body (dkim, (u_char *) blank + 4, strlen (blank + 4));
    if (dkim && status == DKIM_STAT_OK)
        status = dkim_eom (dkim, NULL);
    if (dkim && status == DKIM_STAT_OK)
        status = dkim_getsighdr (dkim, value, sizeof value, strlen (PREFIX));
    if (dkim)
        dkim_free (dkim);
    if (status != DKIM_STAT_OK) {
        log_warn ("cannot sign a mail for '%s' (DKIM status %d): sent unsigned", s_domain, (int) status);
        return strdup (message);
    }
    char header [SIGNATURE_MAX + 64];
    s_crlf ((const char *) value, header, sizeof header);
    size_t size = strlen (PREFIX) + strlen (header) + 2 + strlen (message) + 1;
    char *signed_message = malloc (size);
    if (signed_message)
        snprintf (signed_message, size, PREFIX "%s\r\n%s", header, message);
    return signed_message;
}
