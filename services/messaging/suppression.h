/* suppression.h - the suppression list: addresses no mail goes to, put there by the relay's
   hard bounces or by staff, and the members who unsubscribed from marketing mail, listed,
   added and lifted through the API */
#ifndef KAIIN_MESSAGING_SUPPRESSION_H
#define KAIIN_MESSAGING_SUPPRESSION_H
#include "messaging.h"

/* SQL that is true when the address (an SQL expression) is on the list for a bounce or by
   staff, which stops every mail: the one comparison of an address with it, in lower case
   (migration 018). An unsubscribe stops marketing mail alone: members.marketing says so. */
#define SUPPRESSION_LISTED(address) \
    "exists (select 1 from suppressions x where x.email = lower (" address "))"

/* SQL that is true when the members row named p is on the list as an unsubscribe: marketing
   mail stopped for the member's own no (unsubscribed_seq, migration 019) and no consent since
   has made it go again. */
#define SUPPRESSION_UNSUBSCRIBED(p) \
    p ".unsubscribed_seq is not null and not " p ".marketing and " p ".email <> ''"

/* SQL of a members row's unsubscribed_seq in an update, stopping true when the change stops
   marketing mail for the member's own no: a new place on the list, the newest, when marketing
   mail went to them until now (or they were never listed); else the place they have. */
#define SUPPRESSION_UNSUBSCRIBED_SEQ(stopping) \
    "case when (" stopping ") and (members.marketing or members.unsubscribed_seq is null)" \
    " then nextval (pg_get_serial_sequence ('suppressions', 'seq'))" \
    " else members.unsubscribed_seq end"

void suppression_prepare (pg_t *db);

/* Puts email on the list for a hard bounce of mail_id (answer: the relay's), inside the
   caller's transaction; an address listed already keeps its entry. Returns 0 or -1. */
int suppression_bounce (pg_t *db, const char *email, const char *answer, const char *mail_id,
                        int64_t now_ms);

/* The API's three routes. A lift of an address listed as an unsubscribe alone is refused
   (FAILED_PRECONDITION): only the member's opt-in undoes it (特定電子メール法). */
svc_handler_fn suppression_api_list, suppression_api_add, suppression_api_lift;

#endif
