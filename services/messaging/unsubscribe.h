/* unsubscribe.h - one-click unsubscribe (RFC 8058): the signed link every marketing mail
   carries, and the open route it points at */
#ifndef KAIIN_MESSAGING_UNSUBSCRIBE_H
#define KAIIN_MESSAGING_UNSUBSCRIBE_H
#include "messaging.h"

/* The unsubscribe URL of a mail into url (size bytes): the public base,
   /v1/messaging/unsubscribe/ and the mail's token (link.h). */
void unsubscribe_url (const char *mail_id, char *url, size_t size);

svc_handler_fn unsubscribe_api_post;

#endif
