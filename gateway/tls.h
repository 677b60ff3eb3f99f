/* tls.h - the gateway's own TLS: the certificate and key of KAIIN_TLS_CERT_FILE and
   KAIIN_TLS_KEY_FILE, read and checked at start-up before libmicrohttpd (GnuTLS) serves them */
#ifndef KAIIN_TLS_H
#define KAIIN_TLS_H

/* GnuTLS priorities of the gateway's HTTPS: TLS 1.3 and 1.2 only, GnuTLS's default ciphers. */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* Reads the PEM certificate (its chain may follow) at cert_path and the PEM private key at
   key_path, and checks that libmicrohttpd can serve TLS, that the first file holds a certificate
   and the second an unencrypted private key, and that they belong together. Returns 0 with
   *cert_pem and *key_pem new strings the caller frees (tls_free wipes the key), or -1 (logged,
   naming the setting and the file) when one of the paths is empty or any check fails. */
int tls_load (const char *cert_path, const char *key_path, char **cert_pem, char **key_pem);

/* Wipes and frees a key tls_load returned. Nothing when *pem_p is NULL. */
void tls_free (char **pem_p);

#endif
