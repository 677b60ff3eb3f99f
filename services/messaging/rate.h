/* rate.h - how fast mail may go out: a limit for all recipients together and one per
   recipient domain (a mobile carrier's), counted per clock minute */
#ifndef KAIIN_MESSAGING_RATE_H
#define KAIIN_MESSAGING_RATE_H
#include "messaging.h"

#define DOMAIN_RATES_MAX 100

void rate_prepare (pg_t *db);

/* Counts one mail to domain in the minute of now_ms against per_minute for the domain and
   global_per_minute for all (each 0: no limit), in the caller's transaction. Returns 1 when
   it may go now; 0 when a limit is reached: every queued mail due now in that limit's scope,
   but the ones other threads hold, is put off to the next minute (the one in hand too);
   -1 on a database error. */
int rate_admit (pg_t *db, const char *mail_id, const char *domain, int per_minute,
                int global_per_minute, int64_t now_ms);

/* The relay takes no mail (it does not answer, or answers 421): mail_id and every queued mail
   no other thread holds wait a minute, their attempts uncounted, last_error saying why (error,
   the relay's answer), and those queued within that minute are not claimed before it ends
   either; the first mail due after it tries the relay again. 0 or -1. */
int rate_relay_down (pg_t *db, const char *mail_id, const char *error, int64_t now_ms);

/* Loads the domain limits into settings (settings->domain_rates). Returns 0 or -1. */
int rate_load_domains (pg_t *db, Kaiin__Messaging__Settings *settings);

/* Checks change's domain_rates: field errors in reply. */
void rate_check_domains (svc_reply_t *reply, const Kaiin__Messaging__Settings *change);

/* Replaces the stored domain limits with change's (checked), in the caller's transaction.
   Returns 0 or -1 (a database error, set in reply). */
int rate_replace_domains (svc_request_t *request, svc_reply_t *reply,
                          const Kaiin__Messaging__Settings *change);

#endif
