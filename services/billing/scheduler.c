/* scheduler.c - the order of billing's scheduled work: the next moment something falls due,
   and the horizon up to which everything due has been done */
#include "scheduler.h"
#include "subscription.h"
#include <stdio.h>
#include <stdlib.h>

int
scheduler_prepare (pg_t *db)
{
    /* Each due moment after the horizon, by the index the tick's own statements use; an
       incomplete subscription falls due its 23 hours ($1 ms) after its creation. */
    return pg_prepare (db, "scheduler_next",
            "select " MS ("least ("
            " (select min (current_period_end) from subscriptions"
            "  where status in ('trialing', 'active') and current_period_end > h.horizon),"
            " (select min (next_retry_at) from subscriptions"
            "  where next_retry_at is not null and status = 'past_due' and next_retry_at > h.horizon),"
            " (select min (created_at) from subscriptions where status = 'incomplete'"
            "  and created_at > h.horizon - $1 * interval '1 millisecond') + $1 * interval '1 millisecond',"
            " (select min (expires_at) from payments where status = 'pending' and expires_at > h.horizon),"
            " (select min (due_at) from invoices where status = 'open' and due_at > h.horizon"
            "  and not overdue_notified))") " from scheduler h") == -1
        /* Held by one tick at a time, across transactions (a session lock): a tick that read
           the next due moment before another's batch wrote earlier work would step past it. */
        || pg_prepare (db, "scheduler_lock", "select pg_advisory_lock (hashtext ('billing.scheduler'))") == -1
        || pg_prepare (db, "scheduler_unlock", "select pg_advisory_unlock (hashtext ('billing.scheduler'))") == -1
        || pg_prepare (db, "scheduler_advance",
            "update scheduler set horizon = greatest (horizon, " AT ("$1") ")") == -1
        ? -1: 0;
}

int
scheduler_lock (pg_t *db, bool lock)
{
    PGresult *result = pg_run (db, lock? "scheduler_lock": "scheduler_unlock", 0, NULL);
    PQclear (result);
    return result? 0: -1;
}

int64_t
scheduler_step (pg_t *db, int64_t now_ms)
{
    char incomplete [24];
    const char *params [] = { NUM (incomplete, SUBSCRIPTION_INCOMPLETE_MS) };
    PGresult *result = pg_run (db, "scheduler_next", 1, params);
    if (!result)
        return -1;
    int64_t next = PQntuples (result)? strtoll (PQgetvalue (result, 0, 0), NULL, 10): 0;
    PQclear (result);
    if (next <= 0 || next + SCHEDULER_WINDOW_MS >= now_ms)
        return now_ms;
    return next + SCHEDULER_WINDOW_MS;
}

int
scheduler_advance (pg_t *db, int64_t step_ms)
{
    char step [24];
    const char *params [] = { NUM (step, step_ms) };
    PGresult *result = pg_run (db, "scheduler_advance", 1, params);
    PQclear (result);
    return result? 0: -1;
}
