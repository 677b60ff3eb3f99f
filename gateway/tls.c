/* tls.c - the gateway's own TLS: the certificate and key of KAIIN_TLS_CERT_FILE and
   KAIIN_TLS_KEY_FILE, read and checked at start-up before libmicrohttpd (GnuTLS) serves them */
#include "tls.h"
#include "log.h"
#include <errno.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PEM_MAX (1024 * 1024)

/* The whole file at path as a string the caller frees, or NULL (logged). */
static char *
s_read (const char *setting, const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file) {
        log_error ("cannot read '%s' named by '%s': %s", path, setting, strerror (errno));
        return NULL;
    }
    char *text = malloc (PEM_MAX + 1);
    size_t size = text? fread (text, 1, PEM_MAX + 1, file): 0;
    bool failed = ferror (file);
    fclose (file);
    if (!text || failed || size == 0 || size > PEM_MAX) {
        log_error ("cannot read '%s' named by '%s': %s", path, setting,
                   failed? "a read error": size == 0? "it is empty": "it is larger than 1 MiB");
        free (text);
        return NULL;
    }
    text [size] = 0;
    return text;
}

/* A private key never asks for a passphrase at start-up: an encrypted one is refused. */
static int
s_no_passphrase (char *buffer, int size, int writing, void *arg)
{
    (void) buffer;
    (void) size;
    (void) writing;
    (void) arg;
    return 0;
}

/* Checks that cert holds a PEM certificate and key the PEM private key of that certificate. */
static int
s_check (const char *cert_path, const char *cert, const char *key_path, const char *key)
{
    BIO *bio = BIO_new_mem_buf (cert, -1);
    X509 *x509 = bio? PEM_read_bio_X509 (bio, NULL, s_no_passphrase, NULL): NULL;
    BIO_free (bio);
    if (!x509)
        return log_error ("'%s' named by 'KAIIN_TLS_CERT_FILE' holds no PEM certificate", cert_path);
    bio = BIO_new_mem_buf (key, -1);
    EVP_PKEY *pkey = bio? PEM_read_bio_PrivateKey (bio, NULL, s_no_passphrase, NULL): NULL;
    BIO_free (bio);
    int rc = 0;
    if (!pkey)
        rc = log_error ("'%s' named by 'KAIIN_TLS_KEY_FILE' holds no PEM private key (or an encrypted one)",
                        key_path);
    else
    if (X509_check_private_key (x509, pkey) != 1)
        rc = log_error ("the private key in '%s' is not the one of the certificate in '%s'", key_path, cert_path);
    else
    if (X509_cmp_current_time (X509_get0_notAfter (x509)) < 0)
        log_warn ("the certificate in '%s' has expired: clients will refuse it", cert_path);
    EVP_PKEY_free (pkey);
    X509_free (x509);
    return rc;
}

int
tls_load (const char *cert_path, const char *key_path, char **cert_pem, char **key_pem)
{
    *cert_pem = *key_pem = NULL;
    if (!*cert_path || !*key_path)
        return log_error ("'KAIIN_TLS_CERT_FILE' and 'KAIIN_TLS_KEY_FILE' go together: '%s' is not set",
                          *cert_path? "KAIIN_TLS_KEY_FILE": "KAIIN_TLS_CERT_FILE");
    if (MHD_is_feature_supported (MHD_FEATURE_TLS) != MHD_YES)
        return log_error ("this libmicrohttpd is built without TLS: 'KAIIN_TLS_CERT_FILE' cannot be served");
    char *cert = s_read ("KAIIN_TLS_CERT_FILE", cert_path);
    char *key = cert? s_read ("KAIIN_TLS_KEY_FILE", key_path): NULL;
    if (!key || s_check (cert_path, cert, key_path, key) == -1) {
        free (cert);
        tls_free (&key);
        return -1;
    }
    *cert_pem = cert;
    *key_pem = key;
    return 0;
}

void
tls_free (char **pem_p)
{
    char *pem = *pem_p;
    if (!pem)
        return;
    OPENSSL_cleanse (pem, strlen (pem));
    free (pem);
    *pem_p = NULL;
}
