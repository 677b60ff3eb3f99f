/* loyalty.c - what members paid: loyalty by RFM (GET /v1/members/{id}/loyalty), and the purchase
   milestones (signal.purchase_milestone) raised as billing's payments are read.

   RFM over the 365 days before now, each score 1..5 by fixed steps (README.md, "Loyalty"), and
   a named segment from the three. A milestone is raised in the consumer's transaction, once
   per member and milestone (the signals table keeps it across rebuilds). */
#include "loyalty.h"
#include "analytics.h"
#include "analytics.pb-c.h"
#include "outbox.h"
#include "ranks.h"
#include "settings.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The segments of ended months are kept (month_segments, migration 012): a batch whose
   events change them takes this lock shared before it forgets them; a route keeps a count only
   when it took the lock alone, without waiting, before counting. */
#define MONTHS_LOCK "hashtext ('analytics.month_segments')"

void
loyalty_prepare (pg_t *db)
{
    pg_prepare (db, "loyalty_paid",
            "insert into paid_invoices (invoice_id, member_id, reason, total, paid_at_ms)"
            " values ($1, $2, $3, $4, $5) on conflict do nothing");
    pg_prepare (db, "loyalty_reversed", "delete from paid_invoices where invoice_id = $1");
    pg_prepare (db, "loyalty_refund",
            "insert into refunds (refund_id, member_id, amount, at_ms) values ($1, $2, $3, $4)"
            " on conflict do nothing");
    /* The member's purchases and spend, and the milestones raised already (",10,50,"). */
    pg_prepare (db, "loyalty_totals",
            "select (select count (*) from paid_invoices where member_id = $1 and reason = 'purchase'),"
            " (select coalesce (sum (total), 0) from paid_invoices where member_id = $1)"
            " - (select coalesce (sum (amount), 0) from refunds where member_id = $1),"
            " (select ',' || coalesce (string_agg (spell_ms::text, ','), '') || ',' from signals"
            "   where member_id = $1 and kind = 'purchase_milestone'),"
            " (select ',' || coalesce (string_agg (spell_ms::text, ','), '') || ',' from signals"
            "   where member_id = $1 and kind = 'spend_milestone')");
    /* The same for each of the batch's members ($1), in their order, and which of its
       invoices ($2) are kept already (loyalty_batch_begin): each member's invoices and
       signals read once (count and sum in one pass, both kinds of milestone in another). */
    pg_prepare (db, "loyalty_totals_many",
            "select m.id, p.purchases, p.spend - r.refunded, s.purchase, s.spend"
            " from unnest ($1::text[]) with ordinality as m (id, n)"
            " cross join lateral (select count (*) filter (where reason = 'purchase') as purchases,"
            "   coalesce (sum (total), 0) as spend from paid_invoices where member_id = m.id) p"
            " cross join lateral (select coalesce (sum (amount), 0) as refunded from refunds"
            "   where member_id = m.id) r"
            " cross join lateral (select"
            "   ',' || coalesce (string_agg (spell_ms::text, ',') filter (where kind = 'purchase_milestone'), '') || ','"
            "     as purchase,"
            "   ',' || coalesce (string_agg (spell_ms::text, ',') filter (where kind = 'spend_milestone'), '') || ','"
            "     as spend"
            "   from signals where member_id = m.id and kind in ('purchase_milestone', 'spend_milestone')) s"
            " order by m.n");
    pg_prepare (db, "loyalty_kept", "select invoice_id from paid_invoices where invoice_id = any ($1::text[])");
    pg_prepare (db, "loyalty_milestone",
            "insert into signals (member_id, kind, spell_ms, milestone, purchases, spend, at_ms)"
            " values ($1, $2, $3, $3, $4, $5, $6) on conflict do nothing returning id");
    /* $1 the member, $2 now: paid invoices and refunds in the year before now */
    pg_prepare (db, "loyalty_one",
            "select exists (select 1 from members where member_id = $1)"
            "   or exists (select 1 from paid_invoices where member_id = $1),"
            LOYALTY_FACTS ("$1", "$2::bigint"));
    /* $1 a time: per member who paid by then and had not withdrawn, what loyalty_one answers */
    /* The segments kept for months that have ended (migration 012), and the lock that keeps
       a count made while a batch changed them from being kept. */
    pg_prepare (db, "loyalty_months_kept", "select members from month_segments where end_ms = $1");
    /* The latest of the moments $1 (an array) with no counts kept. */
    pg_prepare (db, "loyalty_months_unkept",
            "select max (at) from unnest ($1::bigint []) at"
            " where not exists (select 1 from month_segments where end_ms = at)");
    pg_prepare (db, "loyalty_months_shared", "select pg_advisory_xact_lock_shared (" MONTHS_LOCK ")");
    pg_prepare (db, "loyalty_months_forget", "delete from month_segments where end_ms > $1");
    pg_prepare (db, "loyalty_months_alone", "select pg_try_advisory_xact_lock (" MONTHS_LOCK ")");
    pg_prepare (db, "loyalty_months_keep",
            "insert into month_segments (end_ms, members) values ($1, $2::int[]) on conflict do nothing");
    pg_prepare (db, "loyalty_segments",
            "with p as (select member_id, count (*) filter (where paid_at_ms > $1::bigint - " LOYALTY_YEAR ") as f,"
            "   coalesce (sum (total) filter (where paid_at_ms > $1::bigint - " LOYALTY_YEAR "), 0) as paid,"
            "   max (paid_at_ms) as last from paid_invoices where paid_at_ms <= $1::bigint group by member_id),"
            " r as (select member_id, sum (amount) as refunded from refunds"
            "   where at_ms > $1::bigint - " LOYALTY_YEAR " and at_ms <= $1::bigint group by member_id)"
            " select p.f, p.paid - coalesce (r.refunded, 0), p.last"
            " from p left join r using (member_id) left join members m using (member_id)"
            " where coalesce (m.withdrawn_at_ms, 0) = 0 or m.withdrawn_at_ms > $1::bigint");
}

/* The settings as the batch being applied first read them (loyalty_batch_end forgets them). */
static __thread Kaiin__Analytics__Settings *s_settings;

/* The batch's members who paid: their purchases, spend and milestones raised, as the batch's
   events left them so far, read at once by loyalty_batch_begin and kept up to date by
   loyalty_paid; and the batch's invoices, whether paid_invoices holds them (its insert then
   changes nothing). A refund makes its member's figures be read again; a reversal (an
   invoice no longer paid) every member's and invoice's: each read alone, as before. */
typedef struct {
    char member_id [40];
    bool kept;                      /* the figures below hold */
    int purchases;
    int64_t spend;
    char *raised [2];               /* ",10,50,": purchase and spend milestones */
} s_member_t;

typedef struct {
    char invoice_id [64];
    bool paid;                      /* in paid_invoices */
} s_invoice_t;

static __thread struct {
    s_member_t *members;
    size_t members_used;
    s_invoice_t *invoices;
    size_t invoices_used;
    bool reversed;                  /* a reversal: nothing kept holds */
    int64_t changed_ms;             /* the earliest moment its events change a month's segments
                                       (0: none): the months ending after it are forgotten */
} s_batch;

void
loyalty_batch_end (void)
{
    if (s_settings)
        protobuf_c_message_free_unpacked (&s_settings->base, NULL);
    s_settings = NULL;
    for (size_t i = 0; i < s_batch.members_used; i++) {
        free (s_batch.members [i].raised [0]);
        free (s_batch.members [i].raised [1]);
    }
    free (s_batch.members);
    free (s_batch.invoices);
    memset (&s_batch, 0, sizeof s_batch);
}

int
loyalty_batch_begin (pg_t *db, const char *const *member_ids, const char *const *invoice_ids, size_t count)
{
    if (!count)
        return 0;
    s_batch.members = calloc (count, sizeof *s_batch.members);
    s_batch.invoices = calloc (count, sizeof *s_batch.invoices);
    if (!s_batch.members || !s_batch.invoices)
        return -1;
    pg_buffer_t members = { NULL, 0, 0 }, invoices = { NULL, 0, 0 };
    for (size_t i = 0; i < count; i++) {
        size_t known = 0;
        while (known < s_batch.members_used && strcmp (s_batch.members [known].member_id, member_ids [i]) != 0)
            known++;
        if (known == s_batch.members_used && strlen (member_ids [i]) < sizeof s_batch.members [0].member_id) {
            snprintf (s_batch.members [s_batch.members_used++].member_id, sizeof s_batch.members [0].member_id,
                      "%s", member_ids [i]);
            pg_array_add (&members, member_ids [i], true);
        }
        if (strlen (invoice_ids [i]) < sizeof s_batch.invoices [0].invoice_id) {
            snprintf (s_batch.invoices [s_batch.invoices_used++].invoice_id, sizeof s_batch.invoices [0].invoice_id,
                      "%s", invoice_ids [i]);
            pg_array_add (&invoices, invoice_ids [i], true);
        }
    }
    PGresult *totals = pg_run_arrays (db, "loyalty_totals_many", &members, 1, NULL);
    free (members.text);
    PGresult *paid = totals? pg_run_arrays (db, "loyalty_kept", &invoices, 1, NULL): NULL;
    free (invoices.text);
    int rc = totals && paid? 0: -1;
    for (int row = 0; rc == 0 && row < PQntuples (totals); row++) {
        s_member_t *member = &s_batch.members [row];
        if (strcmp (member->member_id, PQgetvalue (totals, row, 0)) != 0)
            continue;                   /* unnest keeps the order; never, then */
        member->purchases = atoi (PQgetvalue (totals, row, 1));
        member->spend = strtoll (PQgetvalue (totals, row, 2), NULL, 10);
        member->raised [0] = strdup (PQgetvalue (totals, row, 3));
        member->raised [1] = strdup (PQgetvalue (totals, row, 4));
        member->kept = member->raised [0] && member->raised [1];
    }
    for (int row = 0; rc == 0 && row < PQntuples (paid); row++)
        for (size_t i = 0; i < s_batch.invoices_used; i++)
            if (strcmp (s_batch.invoices [i].invoice_id, PQgetvalue (paid, row, 0)) == 0)
                s_batch.invoices [i].paid = true;
    PQclear (totals);
    PQclear (paid);
    return rc;
}

static s_member_t *
s_member_kept (const char *member_id)
{
    for (size_t i = 0; !s_batch.reversed && i < s_batch.members_used; i++)
        if (strcmp (s_batch.members [i].member_id, member_id) == 0)
            return &s_batch.members [i];
    return NULL;
}

/* Whether invoice_id's insert into paid_invoices adds a row (it was not kept yet), as far
   as the batch knows: 1 yes, 0 no, -1 not known. Marks it kept. */
static int
s_invoice_new (const char *invoice_id)
{
    for (size_t i = 0; !s_batch.reversed && i < s_batch.invoices_used; i++)
        if (strcmp (s_batch.invoices [i].invoice_id, invoice_id) == 0) {
            bool paid = s_batch.invoices [i].paid;
            s_batch.invoices [i].paid = true;
            return paid? 0: 1;
        }
    return -1;
}

/* Adds step to the milestones of kind pass (0 purchases, 1 spend) kept raised for member.
   Returns 0 or -1. */
static int
s_raised_add (s_member_t *member, int pass, const char *step)
{
    size_t used = strlen (member->raised [pass]), size = used + strlen (step) + 2;
    char *raised = realloc (member->raised [pass], size);
    if (!raised)
        return -1;
    snprintf (raised + used, size - used, "%s,", step);
    member->raised [pass] = raised;
    return 0;
}

/* Raises what member_id has newly reached of the milestones set (settings.h, read once for
   the batch), at at_ms, from its figures kept for the batch (kept, when they hold) or read
   now. Returns 0 or -1. */
static int
s_milestones (pg_t *db, const char *member_id, int64_t at_ms, s_member_t *kept)
{
    if (!s_settings && !(s_settings = settings_load (db)))
        return -1;
    const Kaiin__Analytics__Settings *settings = s_settings;
    PGresult *totals = NULL;
    if (!kept || !kept->kept) {
        const char *id [] = { member_id };
        if (!(totals = pg_run (db, "loyalty_totals", 1, id)))
            return -1;
        if (kept) {
            kept->purchases = atoi (PQgetvalue (totals, 0, 0));
            kept->spend = strtoll (PQgetvalue (totals, 0, 1), NULL, 10);
            free (kept->raised [0]);
            free (kept->raised [1]);
            kept->raised [0] = strdup (PQgetvalue (totals, 0, 2));
            kept->raised [1] = strdup (PQgetvalue (totals, 0, 3));
            kept->kept = kept->raised [0] && kept->raised [1];
        }
    }
    int purchases = totals? atoi (PQgetvalue (totals, 0, 0)): kept->purchases;
    int64_t spend = totals? strtoll (PQgetvalue (totals, 0, 1), NULL, 10): kept->spend;
    PGresult *result;
    int rc = 0;
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        const char *kind = pass == 0? "purchase_milestone": "spend_milestone";
        const int64_t *steps = pass == 0? settings->purchase_milestones: settings->spend_milestones;
        size_t count = pass == 0? settings->n_purchase_milestones: settings->n_spend_milestones;
        int64_t reached = pass == 0? purchases: spend;
        const char *raised_before = totals? PQgetvalue (totals, 0, 2 + pass): kept->raised [pass];  /* ",10,50," */
        for (size_t i = 0; i < count && reached >= steps [i]; i++) {
            char step [24], number [16], total [24], at [24], listed [26];
            snprintf (step, sizeof step, "%lld", (long long) steps [i]);
            snprintf (listed, sizeof listed, ",%s,", step);
            if (strstr (raised_before, listed))
                continue;                       /* its insert would change nothing */
            snprintf (number, sizeof number, "%d", purchases);
            snprintf (total, sizeof total, "%lld", (long long) spend);
            snprintf (at, sizeof at, "%lld", (long long) at_ms);
            const char *params [] = { member_id, kind, step, number, total, at };
            /* With the figures kept, the milestones raised are known (only this consumer
               raises them): the insert is sent without waiting. */
            bool known = kept && kept->kept;
            if (known? pg_defer (db, "loyalty_milestone", 6, params) == -1
                     : !(result = pg_run (db, "loyalty_milestone", 6, params))) {
                rc = -1;
                break;
            }
            bool raised = known || PQntuples (result) == 1;
            if (!known)
                PQclear (result);
            if (!raised)
                continue;                       /* raised before (a rebuild reads it again) */
            if (known && s_raised_add (kept, pass, step) == -1) {
                rc = -1;
                break;
            }
            Kaiin__Analytics__Signal signal = KAIIN__ANALYTICS__SIGNAL__INIT;
            signal.member_id = (char *) member_id;
            signal.kind = (char *) kind;
            signal.milestone = steps [i];
            signal.purchases = purchases;
            signal.spend = spend;
            signal.at_ms = at_ms;
            if (outbox_append (db, "signal.purchase_milestone", member_id, &signal.base, at_ms) == -1) {
                rc = -1;
                break;
            }
        }
    }
    PQclear (totals);
    return rc;
}

int
loyalty_paid (pg_t *db, const Kaiin__Billing__Invoice *invoice, int64_t at_ms)
{
    if (!*invoice->id || !*invoice->member_id)
        return 0;
    s_member_t *kept = s_member_kept (invoice->member_id);
    int fresh = s_invoice_new (invoice->id);
    if (kept && fresh == -1)
        kept->kept = false;             /* read again after the insert */
    else
    if (kept && kept->kept && fresh == 1) {
        kept->purchases += strcmp (invoice->billing_reason, "purchase") == 0;
        kept->spend += invoice->total;
    }
    char total [24], at [24];
    snprintf (total, sizeof total, "%lld", (long long) invoice->total);
    snprintf (at, sizeof at, "%lld", (long long) (invoice->paid_at_ms? invoice->paid_at_ms: at_ms));
    const char *params [] = { invoice->id, invoice->member_id, invoice->billing_reason, total, at };
    loyalty_changed (invoice->paid_at_ms? invoice->paid_at_ms: at_ms);
    return pg_defer (db, "loyalty_paid", 5, params) == 0 && s_milestones (db, invoice->member_id, at_ms, kept) == 0
        ? ranks_queue (db, invoice->member_id, at_ms): -1;
}

int
loyalty_refunded (pg_t *db, const Kaiin__Billing__Refund *refund, int64_t at_ms)
{
    if (!*refund->id || !*refund->member_id)
        return 0;
    char amount [24], at [24];
    snprintf (amount, sizeof amount, "%lld", (long long) refund->amount);
    snprintf (at, sizeof at, "%lld", (long long) at_ms);
    const char *params [] = { refund->id, refund->member_id, amount, at };
    s_member_t *kept = s_member_kept (refund->member_id);
    if (kept)
        kept->kept = false;             /* its spend is read again */
    loyalty_changed (at_ms);
    return pg_defer (db, "loyalty_refund", 4, params);
}

int
loyalty_reversed (pg_t *db, const Kaiin__Billing__Payment *payment)
{
    const char *params [] = { payment->invoice_id };
    if (*payment->invoice_id) {
        s_batch.reversed = true;
        loyalty_changed (1);            /* the invoice was paid at some moment before */
    }
    return *payment->invoice_id? pg_defer (db, "loyalty_reversed", 1, params): 0;
}

/* A score 1..5: 5 at or past steps [0], 4 at steps [1], ... (steps from the best down). */
static int
s_step (int64_t value, const int64_t steps [4], bool lower_is_better)
{
    for (int i = 0; i < 4; i++)
        if (lower_is_better? value <= steps [i]: value >= steps [i])
            return 5 - i;
    return 1;
}

/* The segments, in the order a report lists them; "none" last: never paid. */
static const struct { const char *code, *name; } s_segments [] = {
    { "champions", "優良" }, { "loyal", "常連" }, { "regular", "一般" }, { "new", "新規" },
    { "at_risk", "離反予備軍" }, { "dormant", "休眠" }, { "none", "未購入" }
};

/* Scores loyalty's r, f and m from its recency, frequency and monetary; returns its segment's
   index in s_segments. */
static int
s_score (Kaiin__Analytics__Loyalty *loyalty)
{
    static const int64_t recency [4] = { 30, 60, 90, 180 };          /* days, at most */
    static const int64_t frequency [4] = { 12, 6, 3, 2 };            /* invoices, at least */
    static const int64_t monetary [4] = { 100000, 50000, 20000, 5000 };  /* yen, at least */
    int r = loyalty->r = s_step (loyalty->recency_days, recency, true);
    int f = loyalty->f = s_step (loyalty->frequency, frequency, false);
    int m = loyalty->m = s_step (loyalty->monetary, monetary, false);
    bool champion = r >= 4 && f >= 4 && m >= 4, at_risk = r <= 2 && (f >= 3 || m >= 3);
    return champion? 0: at_risk? 4: r >= 4 && f <= 1? 3: r == 1? 5: f >= 4? 1: 2;
}

void
loyalty_score (Kaiin__Analytics__Loyalty *loyalty, bool ever_paid)
{
    int segment = ever_paid? s_score (loyalty): LOYALTY_SEGMENTS;
    loyalty->segment = (char *) s_segments [segment].code;
    loyalty->segment_name = (char *) s_segments [segment].name;
}

int
loyalty_segment_of (int frequency, int64_t monetary, int64_t last_paid_ms, int64_t at_ms)
{
    if (!last_paid_ms)
        return LOYALTY_SEGMENTS;
    Kaiin__Analytics__Loyalty loyalty = KAIIN__ANALYTICS__LOYALTY__INIT;
    loyalty.frequency = frequency;
    loyalty.monetary = monetary;
    loyalty.recency_days = (int) ((at_ms - last_paid_ms) / ANALYTICS_DAY_MS);
    return s_score (&loyalty);
}

void
loyalty_segment_name (int segment, const char **code, const char **name)
{
    *code = s_segments [segment].code;
    *name = s_segments [segment].name;
}

void
loyalty_changed (int64_t at_ms)
{
    if (at_ms > 0 && (!s_batch.changed_ms || at_ms < s_batch.changed_ms))
        s_batch.changed_ms = at_ms;
}

int
loyalty_batch_write (pg_t *db)
{
    char since [24];
    snprintf (since, sizeof since, "%lld", (long long) s_batch.changed_ms);
    const char *params [] = { since };
    return !s_batch.changed_ms
        || (pg_defer (db, "loyalty_months_shared", 0, NULL) == 0
            && pg_defer (db, "loyalty_months_forget", 1, params) == 0)? 0: -1;
}

/* The kept counts of the month ending at at ("{1,2,...}") into members. Returns whether there
   were some. */
static bool
s_kept (PGresult *result, int32_t members [LOYALTY_SEGMENTS])
{
    if (PQntuples (result) != 1)
        return false;
    const char *text = PQgetvalue (result, 0, 0);
    for (int i = 0; i < LOYALTY_SEGMENTS; i++) {
        text += strcspn (text, "0123456789");
        members [i] = (int32_t) strtol (text, (char **) &text, 10);
    }
    return true;
}

/* Counts the segments at at (params [0]) into members, and keeps them as that month's when
   keep. Returns 0 or -1. */
static int
s_count (pg_t *db, const char **params, int64_t at_ms, bool keep, int32_t members [LOYALTY_SEGMENTS])
{
    PGresult *result = pg_run (db, "loyalty_segments", 1, params);
    if (!result)
        return -1;
    memset (members, 0, LOYALTY_SEGMENTS * sizeof *members);
    for (int row = 0; row < PQntuples (result); row++)
        members [loyalty_segment_of (atoi (PQgetvalue (result, row, 0)), strtoll (PQgetvalue (result, row, 1), NULL, 10),
                                     strtoll (PQgetvalue (result, row, 2), NULL, 10), at_ms)]++;
    PQclear (result);
    if (!keep)
        return 0;
    char counts [LOYALTY_SEGMENTS * 12 + 2] = "{";
    for (int i = 0; i < LOYALTY_SEGMENTS; i++)
        snprintf (counts + strlen (counts), sizeof counts - strlen (counts), "%s%d", i? ",": "", (int) members [i]);
    strcat (counts, "}");
    params [1] = counts;
    result = pg_run (db, "loyalty_months_keep", 2, params);
    PQclear (result);
    return result? 0: -1;
}

/* Counts an ended month's segments (at, params [0], its last moment) and keeps them when it
   takes the lock alone, without waiting; one that must answer (need) counts without it too.
   Returns 1 when they were counted, 0 when not (not alone, and not needed), -1 on an error. */
static int
s_count_alone (pg_t *db, const char **params, int64_t at_ms, bool need, int32_t members [LOYALTY_SEGMENTS])
{
    if (pg_begin (db) == -1)
        return -1;
    PGresult *result = pg_run (db, "loyalty_months_alone", 0, NULL);
    bool alone = result && strcmp (PQgetvalue (result, 0, 0), "t") == 0;
    int rc = !result? -1: alone || need? s_count (db, params, at_ms, alone, members): 0;
    PQclear (result);
    if (rc == 0 && pg_commit (db) == 0)
        return alone || need;
    pg_rollback (db);
    return -1;
}

int
loyalty_segments (pg_t *db, int64_t at_ms, bool ended, int32_t members [LOYALTY_SEGMENTS])
{
    char at [24];
    snprintf (at, sizeof at, "%lld", (long long) at_ms);
    const char *params [] = { at, NULL };
    if (!ended)
        return s_count (db, params, at_ms, false, members);
    PGresult *result = pg_run (db, "loyalty_months_kept", 1, params);
    bool kept = result && s_kept (result, members);
    PQclear (result);
    if (!result || kept)
        return result? 0: -1;
    return s_count_alone (db, params, at_ms, true, members) == -1? -1: 0;
}

int64_t
loyalty_unkept (pg_t *db, const char *ats)
{
    const char *params [] = { ats };
    PGresult *result = pg_run (db, "loyalty_months_unkept", 1, params);
    int64_t at = !result? -1: PQgetisnull (result, 0, 0)? 0: strtoll (PQgetvalue (result, 0, 0), NULL, 10);
    PQclear (result);
    return at;
}

int
loyalty_keep (pg_t *db, int64_t at_ms)
{
    char at [24];
    snprintf (at, sizeof at, "%lld", (long long) at_ms);
    const char *params [] = { at, NULL };
    int32_t members [LOYALTY_SEGMENTS];
    return s_count_alone (db, params, at_ms, false, members);
}

int
loyalty_api_get (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Analytics__LoyaltyRequest *get = (Kaiin__Analytics__LoyaltyRequest *)
        svc_unpack (request, &kaiin__analytics__loyalty_request__descriptor, reply);
    if (!get)
        return -1;
    int64_t now_ms = request->envelope->now_ms;
    char now [24];
    snprintf (now, sizeof now, "%lld", (long long) now_ms);
    const char *params [] = { get->member_id, now };
    PGresult *result = pg_run (request->db, "loyalty_one", 2, params);
    int rc = -1;
    if (!result)
        svc_db_fail (reply, request->db);
    else
    if (strcmp (PQgetvalue (result, 0, 0), "t") != 0)
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "member not found");
    else {
        Kaiin__Analytics__Loyalty loyalty = KAIIN__ANALYTICS__LOYALTY__INIT;
        loyalty.member_id = get->member_id;
        loyalty.as_of_ms = now_ms;
        loyalty.frequency = atoi (PQgetvalue (result, 0, 1));
        loyalty.monetary = strtoll (PQgetvalue (result, 0, 2), NULL, 10);
        loyalty.last_paid_at_ms = strtoll (PQgetvalue (result, 0, 3), NULL, 10);
        if (loyalty.last_paid_at_ms)
            loyalty.recency_days = (int) ((now_ms - loyalty.last_paid_at_ms) / ANALYTICS_DAY_MS);
        loyalty_score (&loyalty, loyalty.last_paid_at_ms != 0);
        rc = svc_reply_with (reply, &loyalty.base);
    }
    PQclear (result);
    protobuf_c_message_free_unpacked (&get->base, NULL);
    return rc;
}
