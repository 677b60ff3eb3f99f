/* signer.h - DKIM signatures (RFC 6376) on outgoing mail, by libopendkim */
#ifndef KAIIN_MESSAGING_SIGNER_H
#define KAIIN_MESSAGING_SIGNER_H

/* Reads MESSAGING_DKIM_DOMAIN, MESSAGING_DKIM_SELECTOR and the private key (PEM): the file
   MESSAGING_DKIM_KEY_FILE, or the text of MESSAGING_DKIM_KEY. Without a domain mail is not
   signed. Exits when a domain is set without a selector or a key: start-up only. */
void signer_configure (void);

/* Frees what signer_configure kept. */
void signer_shutdown (void);

/* message (MIME text, CRLF line ends) with a DKIM-Signature header first (relaxed/relaxed,
   rsa-sha256), as a new string the caller frees; a copy unsigned when signing is off or fails
   (logged). */
char *signer_sign (const char *message);

#endif
