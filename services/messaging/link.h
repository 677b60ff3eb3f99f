/* link.h - the signed links mails carry (one-click unsubscribe, tracked clicks): tokens that name
   a mail, and a link of it, under an HMAC, and the gateway's public address they point at */
#ifndef KAIIN_MESSAGING_LINK_H
#define KAIIN_MESSAGING_LINK_H
#include <stdbool.h>
#include <stddef.h>

#define LINK_TOKEN_CHARS 62             /* a path segment of the gateway holds 63 */
#define LINK_MAX 100                    /* tracked links of one mail: 0..99 */
#define LINK_UUID_CHARS 36

/* Reads MESSAGING_UNSUBSCRIBE_SECRET (16 characters or more: it signs every link) and
   MESSAGING_PUBLIC_URL (the gateway's public base, default http://localhost:8080). Exits when
   the secret is missing or short: start-up only. */
void link_configure (void);

/* Frees what link_configure kept. */
void link_shutdown (void);

/* The token of mail_id's unsubscribe link (link -1: the mail id's 32 hex digits, then the first
   120 bits of their HMAC-SHA256 in hex) or of its tracked link number link (0..LINK_MAX - 1:
   the 32 digits, the link's 2, and 112 bits of the HMAC of "c", both) into token
   (LINK_TOKEN_CHARS + 1 bytes). */
void link_token (const char *mail_id, int link, char *token);

/* True when token is one link_token made: an unsubscribe link's when link_p is NULL, else a
   tracked link's (its number into *link_p). The mail's id into mail_id (LINK_UUID_CHARS + 1
   bytes). The signature is compared in constant time. */
bool link_token_check (const char *token, char *mail_id, int *link_p);

/* The public URL of route (a path ending with "/") followed by token, into url (size bytes). */
void link_url (const char *route, const char *token, char *url, size_t size);

#endif
