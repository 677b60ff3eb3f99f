/* member_events.c - the member events billing follows: a member who withdraws (退会) or is
   erased keeps no subscription, so no renewal charges them again */
#include "member_events.h"
#include "billing.h"
#include "log.h"
#include "subscription.h"
#include <string.h>

#define LEFT_COMMENT "the member withdrew (退会)"

void
member_events_prepare (pg_t *db)
{
    pg_prepare (db, "sub_ids_of_member",
            "select id from subscriptions where member_id = $1::uuid and status <> 'canceled'"
            " order by id");
}

int
member_events_apply (pg_t *db, const Kaiin__Event *event, int64_t now_ms)
{
    if (strcmp (event->type, "member.withdrawn") != 0 && strcmp (event->type, "member.erased") != 0)
        return 0;
    const char *params [] = { event->aggregate_id };
    PGresult *ids = pg_run (db, "sub_ids_of_member", 1, params);
    if (!ids)
        return -1;
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples (ids); i++) {
        subscription_row_t row = { 0 };
        int found = subscription_row_load (db, PQgetvalue (ids, i, 0), &row);
        if (found == 1 && strcmp (row.sub->status, "canceled") != 0) {
            billing_string_set (&row.sub->cancel_reason, "other");
            billing_string_set (&row.sub->cancel_comment, LEFT_COMMENT);
            row.sub->cancel_at_period_end = false;
            rc = subscription_end (db, &row, now_ms);
            if (rc == 0)
                log_info ("subscription %s of member %s ended: %s", row.sub->id, event->aggregate_id,
                          event->type);
        }
        else if (found == -1)
            rc = -1;
        subscription_row_free (&row);
    }
    PQclear (ids);
    return rc;
}
