/* suppression.h - the suppression list: addresses no mail goes to, put there by the relay's
   hard bounces or by staff, listed, added and lifted through the API */
#ifndef KAIIN_MESSAGING_SUPPRESSION_H
#define KAIIN_MESSAGING_SUPPRESSION_H
#include "messaging.h"

/* SQL that is true when the address (an SQL expression) is on the list: the one comparison of
   an address with it, in lower case (migration 018). */
#define SUPPRESSION_LISTED(address) \
    "exists (select 1 from suppressions x where x.email = lower (" address "))"

void suppression_prepare (pg_t *db);

/* Puts email on the list for a hard bounce of mail_id (answer: the relay's), inside the
   caller's transaction; an address listed already keeps its entry. Returns 0 or -1. */
int suppression_bounce (pg_t *db, const char *email, const char *answer, const char *mail_id,
                        int64_t now_ms);

svc_handler_fn suppression_api_list, suppression_api_add, suppression_api_lift;

#endif
