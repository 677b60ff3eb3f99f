/* ingest.c - member's and billing's events into analytics' projections: the members, the
   timeline, inquiries, failed payments, each subscription's MRR (mrr.c), and the items
   members bought (recommend.c).

   Each event type has a reader that applies its effects and describes the timeline entry, one
   event after another in the stream's order, once the batch is whole (the consumer's flush):
   what the readers read is read at once before them, writes nobody reads back are sent
   without waiting (pg_defer), and the timeline rows and logins are written once per batch
   (README.md, "How a batch is applied"). An event of a type no reader knows, or whose payload cannot be read, is
   logged and skipped: it never blocks the stream. Nothing here reads the clock: the same events
   give the same rows, so a rebuild from sequence 0 gives identical answers. */
#include "ingest.h"
#include "analytics.h"
#include "billing.pb-c.h"
#include "inquiry.pb-c.h"
#include "log.h"
#include "loyalty.h"
#include "member.pb-c.h"
#include "member_auth.pb-c.h"
#include "mrr.h"
#include "outbox.h"
#include "ranks.h"
#include "recommend.h"
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What an event adds to a member's timeline: member_id "" adds nothing. */
typedef struct {
    char member_id [40];
    char object_id [64];
    char summary [256];
    int64_t occurred_at_ms;
    int64_t counted_from_ms;        /* > 0: the member counts of months ending after it change */
} s_entry_t;

typedef int (s_reader_fn) (pg_t *db, const Kaiin__Event *event, const ProtobufCMessage *payload,
                           s_entry_t *entry);

typedef struct {
    const char *type;                               /* the event's type */
    const ProtobufCMessageDescriptor *payload;      /* its payload's message */
    s_reader_fn *read;
} s_reader_t;

void
ingest_prepare (pg_t *db)
{
    pg_prepare (db, "ingest_position", "select seq from consumer_positions where source = $1");
    /* With $8 > 0 (a registration, withdrawal or login at $8), the member counts kept for the
       months ending after $8 go, and the epoch moves (once per transaction): migration 011. */
    /* A batch's timeline rows, one array per column. With counted ($8) > 0 (a registration,
       withdrawal or login then), the member counts kept for the months ending after the
       earliest go, and the epoch moves (once per transaction): migration 011. */
    pg_prepare (db, "ingest_timeline",
            "with t as (select * from unnest ($1::text[], $2::bigint[], $3::text[], $4::bigint[],"
            "   $5::text[], $6::text[], $7::text[], $8::bigint[])"
            "   as t (source, seq, member_id, occurred_at_ms, type, object_id, summary, counted)),"
            " since as (select min (counted) as ms from t where counted > 0),"
            " gone as (delete from month_members where end_ms > (select ms from since)),"
            " moved as (update month_members_epoch set n = n + 1, xid = txid_current ()"
            "   where (select ms from since) is not null and xid <> txid_current ())"
            " insert into timeline (source, seq, member_id, occurred_at_ms, type, object_id, summary)"
            " select source, seq, member_id, occurred_at_ms, type, object_id, summary from t"
            " on conflict do nothing");
    /* The batch's reads (s_batch_begin) are planned for their arrays each time: a plan kept
       from when a table was empty (the migration's statistics say so: the first catch-up
       after a start on empty tables) scans the whole table for each batch, every row against
       every id of the array; at 32 000 paid invoices 173 ms a batch instead of 1.2 ms. */
    pg_prepare (db, "ingest_plans_custom", "set local plan_cache_mode = force_custom_plan");
    pg_prepare (db, "ingest_plans_cached", "set local plan_cache_mode = default");
    pg_prepare (db, "ingest_member_get",
            "select status, rank from members where member_id = $1");
    /* The batch's members ($1) registered or updated in it, read at once before its events. */
    pg_prepare (db, "ingest_members_get",
            "select member_id, status, rank from members where member_id = any ($1::text[])");
    pg_prepare (db, "ingest_member_new",
            "insert into members (member_id, registered_at_ms, status, rank) values ($1, $2, $3, $4)"
            " on conflict (member_id) do nothing");
    pg_prepare (db, "ingest_member_set",
            "update members set status = $2, rank = $3 where member_id = $1");
    pg_prepare (db, "ingest_member_withdrawn",
            "update members set withdrawn_at_ms = $2 where member_id = $1 and withdrawn_at_ms = 0");
    /* A batch's logins: $1 the members, $2 the times (a member may log in more than once). */
    pg_prepare (db, "ingest_logins",
            "update members m set last_login_at_ms = greatest (m.last_login_at_ms, l.at_ms)"
            " from (select member_id, max (at_ms) as at_ms"
            "   from unnest ($1::text[], $2::bigint[]) as l (member_id, at_ms) group by member_id) l"
            " where m.member_id = l.member_id");
    pg_prepare (db, "ingest_inquiry",
            "insert into inquiries (inquiry_id, member_id, open, opened_at_ms) values ($1, $2, $3, $4)"
            " on conflict (inquiry_id) do update set open = excluded.open");
    pg_prepare (db, "ingest_payment_failed",
            "insert into payment_failures (payment_id, member_id, failed_at_ms) values ($1, $2, $3)"
            " on conflict do nothing");
    mrr_prepare (db);
    recommend_prepare (db);
}

/* Sends a statement whose result is not needed (pg_defer: read with the next that is).
   Returns 0 or -1. */
static int
s_run (pg_t *db, const char *name, int count, const char *const *params)
{
    return pg_defer (db, name, count, params);
}

static void
s_entry (s_entry_t *entry, const char *member_id, const char *object_id, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

static void
s_entry (s_entry_t *entry, const char *member_id, const char *object_id, const char *fmt, ...)
{
    snprintf (entry->member_id, sizeof entry->member_id, "%s", member_id);
    snprintf (entry->object_id, sizeof entry->object_id, "%s", object_id);
    va_list args;
    va_start (args, fmt);
    vsnprintf (entry->summary, sizeof entry->summary, fmt, args);
    va_end (args);
}

/* ------------------------------------------------------------------ the batch

   What a batch writes at its end in one statement each (ingest_flush): every event's timeline
   row, and the logins. Nothing in the batch reads them back. A login only moves its member's
   last login forward (the latest wins, in any order), and finds no row for a member not yet
   registered: so when a registration or an update of a member with a login waiting comes in
   the same batch, the logins are written first, as one by one they would have been. Each
   consumer's thread has its own batch. */
typedef struct {
    s_entry_t entry;
    const char *source;             /* static */
    char type [64];
    int64_t seq;
} s_row_t;

typedef struct {
    char member_id [40];
    int64_t at_ms;
} s_login_t;

/* An event read by apply, applied by flush once the batch is whole. */
typedef struct {
    const s_reader_t *reader;
    ProtobufCMessage *payload;
    const char *source;             /* static */
    char type [64];
    int64_t seq, occurred_at_ms;
} s_event_t;

/* A member registered or updated in the batch: its status and rank as the batch's events
   left them so far (read at once before them, then kept up to date: only these events
   write the two columns). */
typedef struct {
    char member_id [40];
    bool known;                     /* a row exists */
    char status [32], rank [64];
} s_member_t;

static __thread struct {
    s_event_t *events;
    size_t events_used, events_size;
    s_member_t *members;
    size_t members_used;
    s_row_t *rows;
    size_t rows_used, rows_size;
    s_login_t *logins;
    size_t logins_used, logins_size;
} s_batch;

/* Makes room for one more item in *items (used of *size, each item bytes). */
static void
s_grow (void **items, size_t *size, size_t used, size_t item)
{
    if (used < *size)
        return;
    *size = *size? *size * 2: 512;
    *items = realloc (*items, *size * item);
    assert (*items);
}

/* Appends text as one element to array, a PostgreSQL array literal begun with "{". */
static void
s_element (pg_buffer_t *array, const char *text)
{
    pg_buffer_append (array, array->used > 1? ",\"": "\"", array->used > 1? 2: 1);
    for (const char *span = text; *span; ) {
        size_t plain = strcspn (span, "\\\"");
        pg_buffer_append (array, span, plain);
        span += plain;
        if (!*span)
            break;
        pg_buffer_append (array, "\\", 1);
        pg_buffer_append (array, span++, 1);
    }
    pg_buffer_append (array, "\"", 1);
}

static void
s_number (pg_buffer_t *array, int64_t number)
{
    char text [24];
    snprintf (text, sizeof text, "%lld", (long long) number);
    s_element (array, text);
}

/* Runs statement with count arrays (each begun with "{"), closed here, then frees them.
   Returns 0 or -1. */
static int
s_run_arrays (pg_t *db, const char *statement, int count, pg_buffer_t *arrays)
{
    const char *params [8];
    assert (count <= 8);
    for (int i = 0; i < count; i++) {
        pg_buffer_append (&arrays [i], "}", 1);
        params [i] = arrays [i].text;
    }
    int rc = pg_defer (db, statement, count, params);
    for (int i = 0; i < count; i++)
        free (arrays [i].text);
    return rc;
}

static int
s_logins_write (pg_t *db)
{
    if (!s_batch.logins_used)
        return 0;
    pg_buffer_t arrays [2] = { { NULL, 0, 0 }, { NULL, 0, 0 } };
    for (int i = 0; i < 2; i++)
        pg_buffer_append (&arrays [i], "{", 1);
    for (size_t i = 0; i < s_batch.logins_used; i++) {
        s_element (&arrays [0], s_batch.logins [i].member_id);
        s_number (&arrays [1], s_batch.logins [i].at_ms);
    }
    s_batch.logins_used = 0;
    return s_run_arrays (db, "ingest_logins", 2, arrays);
}

/* Writes the logins waiting when one is member_id's (before its registration or update). */
static int
s_logins_before (pg_t *db, const char *member_id)
{
    for (size_t i = 0; i < s_batch.logins_used; i++)
        if (strcmp (s_batch.logins [i].member_id, member_id) == 0)
            return s_logins_write (db);
    return 0;
}

static int
s_timeline_write (pg_t *db)
{
    if (!s_batch.rows_used)
        return 0;
    pg_buffer_t arrays [8];
    memset (arrays, 0, sizeof arrays);
    for (int i = 0; i < 8; i++)
        pg_buffer_append (&arrays [i], "{", 1);
    for (size_t i = 0; i < s_batch.rows_used; i++) {
        const s_row_t *row = &s_batch.rows [i];
        s_element (&arrays [0], row->source);
        s_number (&arrays [1], row->seq);
        s_element (&arrays [2], row->entry.member_id);
        s_number (&arrays [3], row->entry.occurred_at_ms);
        s_element (&arrays [4], row->type);
        s_element (&arrays [5], row->entry.object_id);
        s_element (&arrays [6], row->entry.summary);
        s_number (&arrays [7], row->entry.counted_from_ms);
    }
    s_batch.rows_used = 0;
    return s_run_arrays (db, "ingest_timeline", 8, arrays);
}

static s_member_t *
s_member_kept (const char *member_id)
{
    for (size_t i = 0; i < s_batch.members_used; i++)
        if (strcmp (s_batch.members [i].member_id, member_id) == 0)
            return &s_batch.members [i];
    return NULL;
}

static int s_apply (pg_t *db, const s_event_t *event);

/* Reads at once what the batch's events would each read before they write: the subscriptions
   (mrr.c), the members who paid and their invoices (loyalty.c), and the members registered
   or updated. Returns 0 or -1. */
static int
s_batch_begin (pg_t *db)
{
    size_t count = s_batch.events_used;
    const char **subscriptions = calloc (count + 1, sizeof *subscriptions);
    const char **subscribers = calloc (count + 1, sizeof *subscribers);
    const char **payers = calloc (count + 1, sizeof *payers);
    const char **invoices = calloc (count + 1, sizeof *invoices);
    s_batch.members = calloc (count + 1, sizeof *s_batch.members);
    if (!subscriptions || !subscribers || !payers || !invoices || !s_batch.members) {
        free (subscriptions);
        free (subscribers);
        free (payers);
        free (invoices);
        return -1;
    }
    size_t subscriptions_used = 0, paid_used = 0;
    pg_buffer_t members = { NULL, 0, 0 };
    for (size_t i = 0; i < count; i++) {
        const s_event_t *event = &s_batch.events [i];
        if (event->reader->payload == &kaiin__billing__subscription__descriptor) {
            const Kaiin__Billing__Subscription *sub = (const Kaiin__Billing__Subscription *) event->payload;
            if (*sub->id && *sub->member_id) {
                subscribers [subscriptions_used] = sub->member_id;
                subscriptions [subscriptions_used++] = sub->id;
            }
        }
        else
        if (strcmp (event->type, "invoice.paid") == 0) {
            const Kaiin__Billing__Invoice *invoice = (const Kaiin__Billing__Invoice *) event->payload;
            if (*invoice->id && *invoice->member_id) {
                payers [paid_used] = invoice->member_id;
                invoices [paid_used++] = invoice->id;
            }
        }
        else
        if (event->reader->payload == &kaiin__member__member__descriptor) {
            const Kaiin__Member__Member *member = (const Kaiin__Member__Member *) event->payload;
            if (!s_member_kept (member->id) && strlen (member->id) < sizeof s_batch.members [0].member_id) {
                snprintf (s_batch.members [s_batch.members_used++].member_id, sizeof s_batch.members [0].member_id,
                          "%s", member->id);
                pg_array_add (&members, member->id, true);
            }
        }
    }
    int rc = pg_defer (db, "ingest_plans_custom", 0, NULL) == 0
          && mrr_batch_begin (db, subscriptions, subscribers, subscriptions_used) == 0
          && loyalty_batch_begin (db, payers, invoices, paid_used) == 0? 0: -1;
    free (subscriptions);
    free (subscribers);
    free (payers);
    free (invoices);
    PGresult *result = NULL;
    if (rc == 0 && s_batch.members_used && !(result = pg_run_arrays (db, "ingest_members_get", &members, 1, NULL)))
        rc = -1;
    free (members.text);
    if (rc == 0 && pg_defer (db, "ingest_plans_cached", 0, NULL) == -1)
        rc = -1;
    for (int row = 0; result && row < PQntuples (result); row++) {
        s_member_t *member = s_member_kept (PQgetvalue (result, row, 0));
        if (!member)
            continue;
        member->known = true;
        snprintf (member->status, sizeof member->status, "%s", PQgetvalue (result, row, 1));
        snprintf (member->rank, sizeof member->rank, "%s", PQgetvalue (result, row, 2));
    }
    PQclear (result);
    return rc;
}

/* The consumer's flush: with keep, applies the batch's events in their order (each
   reader's reads done at once before them), then writes the timeline rows and logins;
   either way forgets the batch. */
static int
s_flush (pg_t *db, bool keep)
{
    int rc = keep? s_batch_begin (db): 0;
    outbox_defer (true);                /* the milestones' signals in one statement */
    for (size_t i = 0; keep && rc == 0 && i < s_batch.events_used; i++)
        rc = s_apply (db, &s_batch.events [i]);
    if (keep && rc == 0)
        rc = outbox_flush (db) == 0 && mrr_batch_write (db) == 0 && loyalty_batch_write (db) == 0
          && s_logins_write (db) == 0
          && s_timeline_write (db) == 0? 0: -1;
    outbox_defer (false);
    for (size_t i = 0; i < s_batch.events_used; i++)
        protobuf_c_message_free_unpacked (s_batch.events [i].payload, NULL);
    free (s_batch.events);
    free (s_batch.members);
    free (s_batch.rows);
    free (s_batch.logins);
    memset (&s_batch, 0, sizeof s_batch);
    mrr_batch_end ();
    loyalty_batch_end ();
    return keep? rc: 0;
}

/* ------------------------------------------------------------------ member's events */

static int
s_registered (pg_t *db, const Kaiin__Event *event, const ProtobufCMessage *payload, s_entry_t *entry)
{
    const Kaiin__Member__Member *member = (const Kaiin__Member__Member *) payload;
    if (s_logins_before (db, member->id) == -1)
        return -1;
    char at [24];
    snprintf (at, sizeof at, "%lld", (long long) (member->created_at_ms? member->created_at_ms
                                                                       : event->occurred_at_ms));
    const char *params [] = { member->id, at, member->status, member->rank };
    s_entry (entry, member->id, member->id, "会員登録（ステータス: %s、ランク: %s）", member->status,
             member->rank);
    entry->counted_from_ms = strtoll (at, NULL, 10);
    s_member_t *kept = s_member_kept (member->id);
    if (kept && !kept->known) {
        kept->known = true;             /* the insert adds it; else it changes nothing */
        snprintf (kept->status, sizeof kept->status, "%s", member->status);
        snprintf (kept->rank, sizeof kept->rank, "%s", member->rank);
    }
    return s_run (db, "ingest_member_new", 4, params) == 0? ranks_queue (db, member->id, event->occurred_at_ms): -1;
}

/* member.updated and member.withdrawn: the status and rank as they are now. */
static int
s_updated (pg_t *db, const Kaiin__Event *event, const ProtobufCMessage *payload, s_entry_t *entry)
{
    const Kaiin__Member__Member *member = (const Kaiin__Member__Member *) payload;
    if (s_logins_before (db, member->id) == -1)
        return -1;
    bool withdrawn = strcmp (event->type, "member.withdrawn") == 0;
    char status [32] = "", rank [64] = "";
    bool known;
    s_member_t *kept = s_member_kept (member->id);
    if (kept) {
        known = kept->known;
        snprintf (status, sizeof status, "%s", kept->status);
        snprintf (rank, sizeof rank, "%s", kept->rank);
        kept->known = true;             /* updated or inserted below */
        snprintf (kept->status, sizeof kept->status, "%s", member->status);
        snprintf (kept->rank, sizeof kept->rank, "%s", member->rank);
    }
    else {
        const char *id [] = { member->id };
        PGresult *result = pg_run (db, "ingest_member_get", 1, id);
        if (!result)
            return -1;
        known = PQntuples (result) == 1;
        if (known) {
            snprintf (status, sizeof status, "%s", PQgetvalue (result, 0, 0));
            snprintf (rank, sizeof rank, "%s", PQgetvalue (result, 0, 1));
        }
        PQclear (result);
    }
    if (withdrawn)
        s_entry (entry, member->id, member->id, "退会");
    else
    if (known && strcmp (rank, member->rank) != 0)
        s_entry (entry, member->id, member->id, "ランク変更: %s → %s", rank, member->rank);
    else
    if (known && strcmp (status, member->status) != 0)
        s_entry (entry, member->id, member->id, "ステータス変更: %s → %s", status, member->status);
    else
        s_entry (entry, member->id, member->id, "プロフィール変更");
    char created [24], at [24];
    snprintf (created, sizeof created, "%lld", (long long) member->created_at_ms);
    snprintf (at, sizeof at, "%lld", (long long) event->occurred_at_ms);
    const char *fresh [] = { member->id, created, member->status, member->rank };
    const char *params [] = { member->id, member->status, member->rank };
    const char *gone [] = { member->id, at };
    if ((known? s_run (db, "ingest_member_set", 3, params): s_run (db, "ingest_member_new", 4, fresh)) == -1)
        return -1;
    if (!known)
        entry->counted_from_ms = member->created_at_ms? member->created_at_ms: 1;
    if (!withdrawn)
        return 0;
    if (!entry->counted_from_ms || event->occurred_at_ms < entry->counted_from_ms)
        entry->counted_from_ms = event->occurred_at_ms;
    loyalty_changed (event->occurred_at_ms);
    return s_run (db, "ingest_member_withdrawn", 2, gone);
}

static int
s_erased (pg_t *db, const Kaiin__Event *event, const ProtobufCMessage *payload, s_entry_t *entry)
{
    (void) db; (void) event;
    const Kaiin__Member__Member *member = (const Kaiin__Member__Member *) payload;
    s_entry (entry, member->id, member->id, "個人データ消去");
    return 0;
}

static int
s_tagged (pg_t *db, const Kaiin__Event *event, const ProtobufCMessage *payload, s_entry_t *entry)
{
    (void) db;
    const Kaiin__Member__TagEvent *tag = (const Kaiin__Member__TagEvent *) payload;
    s_entry (entry, tag->member_id, tag->member_id, "%s: %s",
             strcmp (event->type, "member.tagged") == 0? "タグ追加": "タグ削除", tag->tag);
    return 0;
}

static int
s_logged_in (pg_t *db, const Kaiin__Event *event, const ProtobufCMessage *payload, s_entry_t *entry)
{
    (void) event;
    (void) db;
    const Kaiin__MemberAuth__LoggedIn *login = (const Kaiin__MemberAuth__LoggedIn *) payload;
    s_entry (entry, login->member_id, login->member_id, "ログイン");
    entry->occurred_at_ms = entry->counted_from_ms = login->at_ms;
    s_grow ((void **) &s_batch.logins, &s_batch.logins_size, s_batch.logins_used, sizeof *s_batch.logins);
    s_login_t *waiting = &s_batch.logins [s_batch.logins_used++];
    snprintf (waiting->member_id, sizeof waiting->member_id, "%s", login->member_id);
    waiting->at_ms = login->at_ms;
    return 0;
}

static int
s_activity (pg_t *db, const Kaiin__Event *event, const ProtobufCMessage *payload, s_entry_t *entry)
{
    (void) db; (void) event;
    const Kaiin__MemberAuth__Activity *activity = (const Kaiin__MemberAuth__Activity *) payload;
    s_entry (entry, activity->member_id, activity->id, "アクティビティ: %s", activity->type);
    if (activity->occurred_at_ms)
        entry->occurred_at_ms = activity->occurred_at_ms;
    return 0;
}

/* inquiry.opened and inquiry.resolved: the category and channel, never the subject or body. */
static int
s_inquiry (pg_t *db, const Kaiin__Event *event, const ProtobufCMessage *payload, s_entry_t *entry)
{
    const Kaiin__Inquiry__Inquiry *inquiry = (const Kaiin__Inquiry__Inquiry *) payload;
    bool open = strcmp (inquiry->status, "resolved") != 0;
    char at [24];
    snprintf (at, sizeof at, "%lld", (long long) inquiry->created_at_ms);
    const char *params [] = { inquiry->id, inquiry->member_id, open? "t": "f", at };
    if (strcmp (event->type, "inquiry.opened") == 0)
        s_entry (entry, inquiry->member_id, inquiry->id, "問い合わせ受付（%s、%s）", inquiry->category,
                 inquiry->channel);
    else
        s_entry (entry, inquiry->member_id, inquiry->id, "問い合わせ解決（%s）", inquiry->category);
    return s_run (db, "ingest_inquiry", 4, params);
}

/* ------------------------------------------------------------------ billing's events */

static int
s_subscription (pg_t *db, const Kaiin__Event *event, const ProtobufCMessage *payload, s_entry_t *entry)
{
    const Kaiin__Billing__Subscription *sub = (const Kaiin__Billing__Subscription *) payload;
    if (!*sub->member_id || !*sub->id) {
        log_warn ("billing event %lld ('%s') names no subscription or member, skipped",
                  (long long) event->seq, event->type);
        return 0;
    }
    char before_plan [72];
    if (mrr_apply (db, sub, event->occurred_at_ms, before_plan) == -1)
        return -1;
    const char *what = event->type + strlen ("subscription.");
    if (strcmp (what, "canceled") == 0)
        s_entry (entry, sub->member_id, sub->id, "サブスクリプション解約: %s（理由: %s）", sub->plan_code,
                 *sub->cancel_reason? sub->cancel_reason: "なし");
    else
    if (strcmp (what, "updated") == 0 && *before_plan && strcmp (before_plan, sub->plan_code) != 0)
        s_entry (entry, sub->member_id, sub->id, "プラン変更: %s → %s", before_plan, sub->plan_code);
    else
        s_entry (entry, sub->member_id, sub->id, "サブスクリプション%s: %s（%s）",
                 strcmp (what, "created") == 0? "作成": strcmp (what, "started") == 0? "開始"
                 : strcmp (what, "renewed") == 0? "更新": "変更", sub->plan_code, sub->status);
    return 0;
}

static int
s_invoice (pg_t *db, const Kaiin__Event *event, const ProtobufCMessage *payload, s_entry_t *entry)
{
    const Kaiin__Billing__Invoice *invoice = (const Kaiin__Billing__Invoice *) payload;
    const char *what = event->type + strlen ("invoice.");
    char yen [48];
    s_entry (entry, invoice->member_id, invoice->id, "請求書%s: %s（税込）",
             strcmp (what, "paid") == 0? "支払済": strcmp (what, "overdue") == 0? "期限超過": "発行",
             analytics_yen (invoice->total, yen, sizeof yen));
    return strcmp (what, "paid") == 0? loyalty_paid (db, invoice, event->occurred_at_ms): 0;
}

static int
s_payment (pg_t *db, const Kaiin__Event *event, const ProtobufCMessage *payload, s_entry_t *entry)
{
    const Kaiin__Billing__Payment *payment = (const Kaiin__Billing__Payment *) payload;
    char yen [48];
    analytics_yen (payment->amount, yen, sizeof yen);
    if (strcmp (event->type, "payment.failed") == 0) {
        s_entry (entry, payment->member_id, payment->id, "支払い失敗: %s（%s）", yen,
                 *payment->failure_code? payment->failure_code: payment->status);
        if (!*payment->id || !*payment->member_id)
            return 0;
        char at [24];
        snprintf (at, sizeof at, "%lld", (long long) event->occurred_at_ms);
        const char *params [] = { payment->id, payment->member_id, at };
        return s_run (db, "ingest_payment_failed", 3, params);
    }
    if (strcmp (event->type, "payment.reversed") == 0) {
        s_entry (entry, payment->member_id, payment->id, "支払い取消: %s（%s）", yen, payment->method_type);
        return loyalty_reversed (db, payment);
    }
    s_entry (entry, payment->member_id, payment->id, "%s: %s（%s）",
             strcmp (event->type, "payment.succeeded") == 0? "支払い完了": "支払い待ち", yen,
             payment->method_type);
    return 0;
}

static int
s_refund (pg_t *db, const Kaiin__Event *event, const ProtobufCMessage *payload, s_entry_t *entry)
{
    const Kaiin__Billing__Refund *refund = (const Kaiin__Billing__Refund *) payload;
    char yen [48];
    s_entry (entry, refund->member_id, refund->id, "返金: %s", analytics_yen (refund->amount, yen, sizeof yen));
    return loyalty_refunded (db, refund, event->occurred_at_ms) == 0 && recommend_refunded (db, refund) == 0? 0: -1;
}

static int
s_purchase (pg_t *db, const Kaiin__Event *event, const ProtobufCMessage *payload, s_entry_t *entry)
{
    const Kaiin__Billing__Purchase *purchase = (const Kaiin__Billing__Purchase *) payload;
    int64_t items = 0;
    for (size_t i = 0; i < purchase->n_items; i++)
        items += purchase->items [i]->quantity;
    char yen [48];
    s_entry (entry, purchase->member_id, purchase->id, "購入: %lld点 %s（税込）", (long long) items,
             analytics_yen (purchase->invoice? purchase->invoice->total: 0, yen, sizeof yen));
    return recommend_purchased (db, purchase, event->occurred_at_ms);
}

static int
s_method_expiring (pg_t *db, const Kaiin__Event *event, const ProtobufCMessage *payload, s_entry_t *entry)
{
    (void) db; (void) event;
    const Kaiin__Billing__PaymentMethod *method = (const Kaiin__Billing__PaymentMethod *) payload;
    s_entry (entry, method->member_id, method->id, "支払い方法の有効期限が近い（%s）", method->type);
    return 0;
}

#define MEMBER(name)  (&kaiin__member__##name##__descriptor)
#define AUTH(name)    (&kaiin__member_auth__##name##__descriptor)
#define INQUIRY(name) (&kaiin__inquiry__##name##__descriptor)
#define BILLING(name) (&kaiin__billing__##name##__descriptor)

static const s_reader_t s_member_readers [] = {
    { "member.registered",   MEMBER (member),     s_registered },
    { "member.updated",      MEMBER (member),     s_updated },
    { "member.withdrawn",    MEMBER (member),     s_updated },
    { "member.erased",       MEMBER (member),     s_erased },
    { "member.tagged",       MEMBER (tag_event),  s_tagged },
    { "member.untagged",     MEMBER (tag_event),  s_tagged },
    { "member.logged_in",    AUTH (logged_in),    s_logged_in },
    { "member.activity",     AUTH (activity),     s_activity },
    { "inquiry.opened",      INQUIRY (inquiry),   s_inquiry },
    { "inquiry.resolved",    INQUIRY (inquiry),   s_inquiry },
    { NULL }
};

static const s_reader_t s_billing_readers [] = {
    { "subscription.created",  BILLING (subscription),   s_subscription },
    { "subscription.started",  BILLING (subscription),   s_subscription },
    { "subscription.renewed",  BILLING (subscription),   s_subscription },
    { "subscription.updated",  BILLING (subscription),   s_subscription },
    { "subscription.canceled", BILLING (subscription),   s_subscription },
    { "invoice.finalized",     BILLING (invoice),        s_invoice },
    { "invoice.paid",          BILLING (invoice),        s_invoice },
    { "invoice.overdue",       BILLING (invoice),        s_invoice },
    { "payment.succeeded",     BILLING (payment),        s_payment },
    { "payment.failed",        BILLING (payment),        s_payment },
    { "payment.pending",       BILLING (payment),        s_payment },
    { "payment.reversed",      BILLING (payment),        s_payment },
    { "refund.created",        BILLING (refund),         s_refund },
    { "purchase.completed",    BILLING (purchase),       s_purchase },
    { "payment_method.expiring", BILLING (payment_method), s_method_expiring },
    { NULL }
};

/* Reads event with the reader of its type among readers, into the batch that flush applies.
   Returns 0 or -1. */
static int
s_read (const Kaiin__Event *event, const char *source, const s_reader_t *readers)
{
    const s_reader_t *reader = readers;
    while (reader->type && strcmp (reader->type, event->type) != 0)
        reader++;
    if (!reader->type) {
        log_debug ("%s event %lld of type '%s' is not one analytics reads, skipped", source,
                   (long long) event->seq, event->type);
        return 0;
    }
    ProtobufCMessage *payload = protobuf_c_message_unpack (reader->payload, NULL, event->payload.len,
                                                           event->payload.data);
    if (!payload) {
        log_warn ("%s event %lld ('%s') has a payload that cannot be read, skipped", source,
                  (long long) event->seq, event->type);
        return 0;
    }
    s_grow ((void **) &s_batch.events, &s_batch.events_size, s_batch.events_used, sizeof *s_batch.events);
    s_event_t *kept = &s_batch.events [s_batch.events_used++];
    kept->reader = reader;
    kept->payload = payload;
    kept->source = source;
    snprintf (kept->type, sizeof kept->type, "%s", event->type);
    kept->seq = event->seq;
    kept->occurred_at_ms = event->occurred_at_ms;
    return 0;
}

/* Applies one of the batch's events with its reader, then adds its timeline entry. */
static int
s_apply (pg_t *db, const s_event_t *kept)
{
    Kaiin__Event event = KAIIN__EVENT__INIT;
    event.seq = kept->seq;
    event.type = (char *) kept->type;
    event.occurred_at_ms = kept->occurred_at_ms;
    s_entry_t entry = { .occurred_at_ms = kept->occurred_at_ms };
    if (kept->reader->read (db, &event, kept->payload, &entry) == -1) {
        log_warn ("applying event %lld ('%s') of '%s' failed; the batch is retried later",
                  (long long) kept->seq, kept->type, kept->source);
        return -1;
    }
    if (!*entry.member_id)
        return 0;
    s_grow ((void **) &s_batch.rows, &s_batch.rows_size, s_batch.rows_used, sizeof *s_batch.rows);
    s_row_t *row = &s_batch.rows [s_batch.rows_used++];
    row->entry = entry;
    row->source = kept->source;
    snprintf (row->type, sizeof row->type, "%s", kept->type);
    row->seq = kept->seq;
    return 0;
}

static int
s_member_apply (pg_t *db, const Kaiin__Event *event, int64_t now_ms)
{
    (void) db; (void) now_ms;
    return s_read (event, "member", s_member_readers);
}

static int
s_billing_apply (pg_t *db, const Kaiin__Event *event, int64_t now_ms)
{
    (void) db; (void) now_ms;
    return s_read (event, "billing", s_billing_readers);
}

/* Each asks for the most events a batch allows (common/svc_events.c): what a batch costs
   besides its events (the source's round trip through the broker, the position, the batch's
   reads, the commit) is paid half as often as with the runtime's 500. */
const svc_consumer_t ingest_sources [] = {
    { "member",  s_member_apply,  s_flush, 1000 },
    { "billing", s_billing_apply, s_flush, 1000 },
    { NULL, NULL, NULL, 0 }
};

bool
ingest_caught_up (pg_t *db)
{
    for (const svc_consumer_t *source = ingest_sources; source->source; source++) {
        const char *params [] = { source->source };
        PGresult *result = pg_run (db, "ingest_position", 1, params);
        if (!result)
            return false;
        int64_t position = PQntuples (result)? strtoll (PQgetvalue (result, 0, 0), NULL, 10): 0;
        PQclear (result);
        char method [64];
        snprintf (method, sizeof method, "%s.EventsSince", source->source);
        Kaiin__EventsSinceRequest query = KAIIN__EVENTS_SINCE_REQUEST__INIT;
        query.after_seq = position;
        query.max = 1;
        Kaiin__EventsSinceReply *events = NULL;
        Kaiin__Status status = svc_call (method, &query.base, &kaiin__events_since_reply__descriptor,
                                         (ProtobufCMessage **) &events, 2000);
        if (status != KAIIN__STATUS__OK)
            return false;
        bool behind = events->last_seq > position;
        protobuf_c_message_free_unpacked (&events->base, NULL);
        if (behind)
            return false;
    }
    return true;
}
