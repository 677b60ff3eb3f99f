/* scheduler.c - the order of billing's scheduled work: the next moment something falls due,
   and the horizon up to which everything due has been done */
#include "scheduler.h"
#include "suspension.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
scheduler_prepare (pg_t *db)
{
    /* Each due moment after the horizon, by the index the tick's own statements use; an
       incomplete subscription falls due its 23 hours ($1 ms) after its creation; a draft
       gathering a closing period (合算請求) on its closing date. */
    pg_prepare (db, "scheduler_next",
            "select " MS ("least ("
            " (select min (current_period_end) from subscriptions"
            "  where status in ('trialing', 'active') and current_period_end > h.horizon),"
            " (select min (next_retry_at) from subscriptions"
            "  where next_retry_at is not null and status = 'past_due' and next_retry_at > h.horizon),"
            " (select min (created_at) from subscriptions where status = 'incomplete'"
            "  and created_at > h.horizon - $1 * interval '1 millisecond') + $1 * interval '1 millisecond',"
            " (select min (expires_at) from payments where status = 'pending' and expires_at > h.horizon),"
            " (select min (due_at) from invoices where status = 'open' and due_at > h.horizon"
            "  and not overdue_notified),"
            " (select min (closing_at) from invoices where status = 'draft' and closing_at > h.horizon))")
            " from scheduler h");
    /* A company's open invoice passing the days it may stay unpaid (suspension.c): a statement
       of its own, without parameters, so that its plan is made once (in scheduler_next, planned
       anew for each run's parameter, its joins doubled the idle ticks' cost to PostgreSQL). */
    pg_prepare (db, "scheduler_next_limit",
            "select " MS ("(select min " SUSPENSION_LIMIT ("i.due_at") " from invoices i"
            "  join payment_terms t on t.member_id = i.member_id and t.company, settings st"
            "  where st.terms_suspend_after_days > 0 and i.status = 'open'"
            "  and i.due_at > h.horizon - st.terms_suspend_after_days * interval '86400 seconds')")
            " from scheduler h");
    /* Session locks, across transactions: batches of a step hold it shared, side by side;
       finding the step and moving past it hold it alone, so that no batch still running
       writes work due before the step that is moved past. */
    pg_prepare (db, "scheduler_share", "select pg_advisory_lock_shared (hashtext ('billing.scheduler'))");
    pg_prepare (db, "scheduler_unshare", "select pg_advisory_unlock_shared (hashtext ('billing.scheduler'))");
    pg_prepare (db, "scheduler_take", "select pg_advisory_lock (hashtext ('billing.scheduler'))");
    pg_prepare (db, "scheduler_give", "select pg_advisory_unlock (hashtext ('billing.scheduler'))");
    pg_prepare (db, "scheduler_current",
            "select " MS ("step") " from scheduler");
    pg_prepare (db, "scheduler_set",
            "update scheduler set step = " AT ("$1"));
    pg_prepare (db, "scheduler_advance",
            "update scheduler set horizon = greatest (horizon, " AT ("$1") "), step = null");
}

int
scheduler_share (pg_t *db, bool share)
{
    PGresult *result = pg_run (db, share? "scheduler_share": "scheduler_unshare", 0, NULL);
    PQclear (result);
    return result? 0: -1;
}

int
scheduler_take (pg_t *db, bool take)
{
    PGresult *result = pg_run (db, take? "scheduler_take": "scheduler_give", 0, NULL);
    PQclear (result);
    return result? 0: -1;
}

int64_t
scheduler_current (pg_t *db)
{
    PGresult *result = pg_run (db, "scheduler_current", 0, NULL);
    int64_t step = result && PQntuples (result)? strtoll (PQgetvalue (result, 0, 0), NULL, 10): -1;
    PQclear (result);
    return step;
}

/* Runs the statement called name with a moment (Unix ms) as its one parameter. 0 or -1. */
static int
s_run_at (pg_t *db, const char *name, int64_t at_ms)
{
    char at [24];
    const char *params [] = { NUM (at, at_ms) };
    PGresult *result = pg_run (db, name, 1, params);
    PQclear (result);
    return result? 0: -1;
}

int
scheduler_set (pg_t *db, int64_t step_ms)
{
    return s_run_at (db, "scheduler_set", step_ms);
}

/* The first moment after the horizon at which something falls due; 0 when nothing does, -1
   on a database error. */
static int64_t
s_next (pg_t *db)
{
    char incomplete [24];
    const char *params [] = { NUM (incomplete, SUBSCRIPTION_INCOMPLETE_MS) };
    int64_t next = 0;
    for (int i = 0; i < 2; i++) {
        PGresult *result = i == 0? pg_run (db, "scheduler_next", 1, params): pg_run (db, "scheduler_next_limit", 0, NULL);
        if (!result)
            return -1;
        int64_t at = PQntuples (result)? strtoll (PQgetvalue (result, 0, 0), NULL, 10): 0;
        PQclear (result);
        if (at > 0 && (next == 0 || at < next))
            next = at;
    }
    return next;
}

int64_t
scheduler_step (pg_t *db, int64_t now_ms)
{
    int64_t next = s_next (db);
    if (next < 0)
        return -1;
    if (next == 0 || next + SCHEDULER_WINDOW_MS >= now_ms)
        return now_ms;
    return next + SCHEDULER_WINDOW_MS;
}

int
scheduler_due (pg_t *db, int64_t now_ms)
{
    int64_t next = s_next (db);
    return next < 0? -1: next > 0 && next <= now_ms;
}

int
scheduler_advance (pg_t *db, int64_t step_ms)
{
    return s_run_at (db, "scheduler_advance", step_ms);
}
