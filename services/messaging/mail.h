/* mail.h - the mails: composed from a template for a member, written (queued) before they
   are sent, sent by the tick over SMTP, marked after; one-off sends and the mail log */
#ifndef KAIIN_MESSAGING_MAIL_H
#define KAIIN_MESSAGING_MAIL_H
#include "audience.h"
#include "billing.pb-c.h"
#include "messaging.h"
#include <jansson.h>

/* A mail made from a template for one member. */
typedef struct {
    audience_member_t member;
    Kaiin__Messaging__Settings *settings;
    char *subject, *html, *text;
    bool marketing;                   /* the template is marketing: the footer and the link */
    char unsubscribe [512];           /* marketing: the one-click URL, else "" */
    long marketing_week;              /* marketing: the member's marketing mails sent in the
                                         last 7 days (counted when the settings cap them) */
    Kaiin__Billing__InvoicePdf *pdf;  /* billing's PDF the mail attaches, or NULL */
    char pdf_name [96];               /* its file name: 領収書_<number>.pdf */
    json_t *substitutions;            /* sent in ISO-2022-JP (the sender's charset): what it
                                         could not carry, "① → (1)"; else NULL */
} mail_content_t;

void mail_prepare (pg_t *db);

/* Renders template for member_id with event's variables (borrowed; NULL: none) into content:
   the member's and the sender's variables, analytics' recommendations when the template names
   them, and for marketing the legal footer (the business, its address and contact, the
   unsubscribe link) appended to each part; in ISO-2022-JP when the sender's charset is, with
   what it cannot carry substituted. Returns 0 (the caller clears content), 1 when messaging
   knows no such member, -1 on a database error, -2 when analytics did not answer (why in
   error, size bytes). */
int mail_compose (pg_t *db, const Kaiin__Messaging__Template *template, const char *member_id,
                  json_t *event, const char *mail_id, mail_content_t *content, char *error,
                  size_t size);

void mail_content_clear (mail_content_t *content);

/* Queues a mail of template to member_id, due at due_ms, inside the caller's transaction:
   for an automation (automation_id, else NULL) at most one per (automation, member, event_id,
   step: the scenario's step that sends it). event_json: the event's variables as JSON text, or
   NULL. attach: "invoice" or "receipt" (billing's PDF of the event's invoice goes with the
   mail), or NULL. id (37 bytes, or NULL) gets the new mail's id, "" when the mail was there
   already. Returns 0 or -1. */
int mail_enqueue (pg_t *db, const char *template_id, const char *member_id,
                  const char *automation_id, const char *event_id, const char *event_json,
                  const char *attach, int step, int64_t due_ms, int64_t now_ms, char *id);

/* Sends template to the address to at once, filled in for member_id ("": a sample member), its
   subject marked "[テスト]" and its unsubscribe link one that changes nothing: a campaign's test
   send, recorded nowhere. Returns 0 with answer's strings set (the caller frees them), 1 when
   messaging knows no such member, -1 on a database error, -2 when the relay did not take it,
   -3 when analytics did not recommend the items the template names (why in error, size
   bytes, for both). */
int mail_send_test (pg_t *db, const Kaiin__Messaging__Template *template, const char *member_id,
                    const char *to, int64_t now_ms, Kaiin__Messaging__CampaignTestReply *answer,
                    char *error, size_t size);

/* Sends a batch of due mails (svc_tick_fn): claims up to MESSAGING_SEND_BATCH (32) in one
   statement, then composes each (a campaign's with its tracked links), sends it over the
   thread's open SMTP session and marks it, the mark committing while the next mail goes out
   and before the relay can take that one; a 5xx bounces a mail and suppresses its address.
   Returns how many it handled, 0 when none is due (the claims of dead server processes are
   then let go: that many), -1 on a database error. */
int mail_tick (pg_t *db, int64_t now_ms);

svc_handler_fn mail_api_send, mail_api_get, mail_api_list;

#endif
