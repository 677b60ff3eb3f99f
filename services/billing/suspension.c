/* suspension.c - a company on payment terms that leaves an invoice unpaid too long: its
   subscriptions suspended (unpaid) past the settings' limit, active again once it has paid */
#include "suspension.h"
#include "billing_txn.h"
#include "subscription.h"
#include <stdio.h>
#include <string.h>

#define BATCH "500"

/* The subscriptions back (x, locked) of a member with no invoice past the limit at moment: those
   of member $2, or of anyone when $2 is ''. */
#define SUSPENSION_BACK(moment, lock) \
    "with back as (select x.id from subscriptions x, settings st where x.terms_suspended_at is not null" \
    "  and x.status = 'unpaid' and ($2 = '' or x.member_id = $2::text::uuid)" \
    "  and not " SUSPENSION_LATE ("x.member_id", moment) \
    "  order by x.id limit " BATCH " for update of x" lock ")" \
    " update subscriptions s set status = 'active', terms_suspended_at = null, updated_at = " AT ("$1") "," \
    " version = s.version + 1 from back where s.id = back.id returning s.id"

void
suspension_prepare (pg_t *db)
{
    /* The members with an open invoice on terms past the limit (by the open invoices' due
       dates, invoices_open_due), their active subscriptions locked and suspended, each marked
       with the moment the first of those invoices passed the limit. */
    pg_prepare (db, "suspension_due",
            "with late as (select i.member_id, min (" SUSPENSION_LIMIT ("i.due_at") ") as limit_at"
            "  from invoices i join payment_terms t on t.member_id = i.member_id and t.company, settings st"
            "  where st.terms_suspend_after_days > 0 and i.status = 'open'"
            "  and i.due_at < " AT ("$1") " - st.terms_suspend_after_days * interval '86400 seconds'"
            "  group by i.member_id),"
            " due as (select x.id, late.limit_at from subscriptions x join late on late.member_id = x.member_id"
            "  where x.status = 'active' order by x.id limit " BATCH " for update of x skip locked)"
            " update subscriptions s set status = 'unpaid', terms_suspended_at = due.limit_at,"
            " updated_at = " AT ("$1") ", version = s.version + 1 from due where s.id = due.id returning s.id");
    pg_prepare (db, "suspension_back_due", SUSPENSION_BACK (AT ("$1"), " skip locked"));
    /* Paid: late as of the scheduler's horizon at least, so that a payment recorded with a
       paid_at in the past does not bring back what the scheduler would suspend again. */
    pg_prepare (db, "suspension_back",
            SUSPENSION_BACK ("greatest (" AT ("$1") ", (select horizon from scheduler))", ""));
    /* Whether there may be anything to suspend or bring back: no company on terms and nothing
       suspended (most businesses, and every tick while nothing is due) spares the statements
       above, whose plans cost more than this one's. */
    pg_prepare (db, "suspension_any",
            "select exists (select 1 from payment_terms where company)"
            "    or exists (select 1 from subscriptions where terms_suspended_at is not null)");
    pg_prepare (db, "suspension_held",
            "select 1 from subscriptions where id = $1 and status = 'unpaid' and terms_suspended_at is not null");
}

/* Runs the statement called name (now, then member when given), and announces each
   subscription it returns with subscription.updated. How many, or -1. */
static int
s_update (pg_t *db, const char *name, const char *member_id, int64_t now_ms)
{
    char now [24];
    const char *params [] = { NUM (now, now_ms), member_id };
    PGresult *result = pg_run (db, name, member_id? 2: 1, params);
    int done = result? PQntuples (result): -1;
    for (int row = 0; row < done; row++)
        if (subscription_event (db, PQgetvalue (result, row, 0), "subscription.updated", now_ms) == -1)
            done = -1;
    PQclear (result);
    return done;
}

int
suspension_tick (pg_t *db, int64_t now_ms)
{
    PGresult *any = pg_run (db, "suspension_any", 0, NULL);
    bool some = any && strcmp (PQgetvalue (any, 0, 0), "t") == 0;
    if (!any || !some) {
        PQclear (any);
        return any? 0: -1;
    }
    PQclear (any);
    if (billing_begin (db) == -1)
        return -1;
    int suspended = s_update (db, "suspension_due", NULL, now_ms);
    int back = suspended < 0? -1: s_update (db, "suspension_back_due", "", now_ms);
    if (back < 0 || billing_commit (db) == -1) {
        pg_rollback (db);
        return -1;
    }
    return suspended + back;
}

int
suspension_invoice_paid (pg_t *db, const char *member_id, int64_t now_ms)
{
    return s_update (db, "suspension_back", member_id, now_ms) < 0? -1: 0;
}

int
suspension_held (pg_t *db, const char *subscription_id)
{
    const char *params [] = { subscription_id };
    PGresult *result = pg_run (db, "suspension_held", 1, params);
    int held = result? PQntuples (result) > 0: -1;
    PQclear (result);
    return held;
}
