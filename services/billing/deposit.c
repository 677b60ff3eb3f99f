/* deposit.c - bank-transfer reconciliation (消込): bank statements imported, each deposit
   matched to an open invoice by its number or by the payer's kana and the amount, and what a
   person decides for the rest (assign, unassign, ignore), every step kept in deposit_events */
#include "deposit.h"
#include "bank_csv.h"
#include "billing_txn.h"
#include "invoice.h"
#include "member_ref.h"
#include "messages.h"
#include "payment.h"
#include "zengin.h"
#include <assert.h>
#include <ctype.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* A deposit's columns, its reason in English (DEPOSIT_COLUMNS) or in Japanese where it has one
   (DEPOSIT_COLUMNS_JA, for a caller who prefers Japanese: the statements named "..._ja"). */
#define DEPOSIT_COLUMNS_WITH(reason) "d.id, d.statement_id, d.row_number as row, d.deposit_date::text as date," \
    " d.amount, d.payer_name, d.payer_kana, d.reference, d.memo, d.state, coalesce (d.invoice_id::text, '') as invoice_id," \
    " coalesce ((select " INVOICE_NUMBER " from invoices i where i.id = d.invoice_id), '') as invoice_number," \
    " coalesce (d.payment_id::text, '') as payment_id, d.match_reason, " reason " as reason, d.reason_code," \
    " " MS ("d.created_at") " as created_at_ms, " MS ("d.updated_at") " as updated_at_ms, d.seq"
#define DEPOSIT_COLUMNS DEPOSIT_COLUMNS_WITH ("d.reason")
#define DEPOSIT_COLUMNS_JA DEPOSIT_COLUMNS_WITH ("coalesce (nullif (d.reason_ja, ''), d.reason)")
#define CANDIDATES "50"             /* open invoices of an amount looked at for a payer's name */

static const char *const s_states [] = { "unmatched", "matched", "partial", "ignored", NULL };
static const char *const s_actions [] = { "assign", "unassign", "ignore", NULL };

void
deposit_prepare (pg_t *db)
{
    pg_prepare (db, "statement_seen", "select id from bank_statements where sha256 = $1");
    pg_prepare (db, "statement_insert",
            "insert into bank_statements (format, sha256, rows, total, imported_by, created_at)"
            " values ($1, $2, $3, $4, $5, " AT ("$6") ") returning id");
    /* A deposit stored from an earlier statement (same date, amount, payer, 照会番号): no row. */
    pg_prepare (db, "deposit_insert",
            "insert into deposits (statement_id, row_number, deposit_date, amount, payer_name, payer_kana,"
            " reference, memo, state, created_at, updated_at) values ($1, $2, $3::date, $4, $5, $6, $7, $8,"
            " 'unmatched', " AT ("$9") ", " AT ("$9") ") on conflict do nothing returning id");
    pg_prepare (db, "deposit_set",
            "update deposits set state = $2, invoice_id = nullif ($3, '')::uuid, payment_id = nullif ($4, '')::uuid,"
            " match_reason = $5, reason = coalesce ($6, reason), reason_code = coalesce ($8, reason_code),"
            " reason_ja = coalesce ($9, reason_ja), updated_at = " AT ("$7") " where id = $1");
    pg_prepare (db, "deposit_event",
            "insert into deposit_events (deposit_id, action, invoice_id, payment_id, actor, at)"
            " values ($1, $2, nullif ($3, '')::uuid, nullif ($4, '')::uuid, $5, " AT ("$6") ")");
    pg_prepare (db, "deposit_get", "select " DEPOSIT_COLUMNS " from deposits d where d.id = $1");
    pg_prepare (db, "deposit_get_ja", "select " DEPOSIT_COLUMNS_JA " from deposits d where d.id = $1");
    pg_prepare (db, "deposit_lock", "select " DEPOSIT_COLUMNS " from deposits d where d.id = $1 for update");
#define DEPOSIT_LIST " from deposits d where ($1 = '' or d.state = $1) and d.seq < $2 order by d.seq desc limit $3"
    pg_prepare (db, "deposit_list", "select " DEPOSIT_COLUMNS DEPOSIT_LIST);
    pg_prepare (db, "deposit_list_ja", "select " DEPOSIT_COLUMNS_JA DEPOSIT_LIST);
    pg_prepare (db, "deposit_invoice_by_number",
            "select id, status, total - amount_paid from invoices where number = $1");
    /* Open invoices owing exactly the amount ($2) or more than it (not $2), oldest first. */
    pg_prepare (db, "deposit_candidates",
            "select id, member_id from invoices where status in ('open', 'uncollectible')"
            " and case when $2 then total - amount_paid = $1 else total - amount_paid > $1 end"
            " order by seq limit " CANDIDATES);
    /* The same of the members a search found ($3, uuids): all of them, not CANDIDATES. */
    pg_prepare (db, "deposit_member_invoices",
            "select id from invoices where status in ('open', 'uncollectible') and member_id = any ($3::uuid [])"
            " and case when $2 then total - amount_paid = $1 else total - amount_paid > $1 end"
            " order by seq limit 2");
    pg_prepare (db, "invoice_number_of", "select " INVOICE_NUMBER " from invoices where id = $1");
    pg_prepare (db, "deposit_history",
            "select e.action, coalesce (e.invoice_id::text, '') as invoice_id,"
            " coalesce ((select " INVOICE_NUMBER " from invoices i where i.id = e.invoice_id), '') as invoice_number,"
            " coalesce (e.payment_id::text, '') as payment_id, e.actor, " MS ("e.at") " as at_ms"
            " from deposit_events e where e.deposit_id = $1 order by e.seq");
}

char *
deposit_fold_kana (const char *text)
{
    utf8proc_uint8_t *folded = utf8proc_NFKC ((const utf8proc_uint8_t *) text);
    if (!folded)
        return NULL;
    char *out = malloc (strlen ((char *) folded) + 1);
    assert (out);
    size_t used = 0;
    const utf8proc_uint8_t *cursor = folded;
    utf8proc_int32_t point;
    utf8proc_ssize_t length;
    while ((length = utf8proc_iterate (cursor, -1, &point)) > 0 && point) {
        cursor += length;
        if (point == ' ' || point == 0x3000)
            continue;
        if (point >= 0x3041 && point <= 0x3096)
            point += 0x60;                              /* ひらがな → カタカナ */
        if (point == 0x30A1 || point == 0x30A3 || point == 0x30A5 || point == 0x30A7 || point == 0x30A9
        ||  point == 0x30C3 || point == 0x30E3 || point == 0x30E5 || point == 0x30E7 || point == 0x30EE)
            point += 1;                                 /* ァィゥェォッャュョヮ → アイウエオツヤユヨワ */
        else
        if (point == 0x30F5 || point == 0x30F6)
            point = point == 0x30F5? 0x30AB: 0x30B1;    /* ヵヶ → カケ */
        used += utf8proc_encode_char (point, (utf8proc_uint8_t *) out + used);
    }
    out [used] = 0;
    free (folded);
    return out;
}

/* Why a deposit is left to a person: a sentence of billing_messages.c in both languages, and
   its code. */
typedef struct {
    const char *code;
    char english [160], japanese [320];
} reason_t;

/* Sets reason to format (a sentence of the messages' tables) with its arguments. */
static void __attribute__ ((format (printf, 2, 3)))
s_reason (reason_t *reason, const char *format, ...)
{
    va_list args, again;
    va_start (args, format);
    va_copy (again, args);
    vsnprintf (reason->english, sizeof reason->english, format, args);
    vsnprintf (reason->japanese, sizeof reason->japanese, messages_say (true, format), again);
    va_end (again);
    va_end (args);
    reason->code = messages_code (format);
    if (!reason->code)
        reason->code = "";
}

/* What matching made of a deposit. */
typedef struct {
    const char *state;              /* matched | partial | unmatched | duplicate */
    const char *match_reason;       /* reference | name_amount | "" */
    char invoice_id [37];
    reason_t reason;                /* code "": none */
} match_t;

/* The invoice number a payer wrote: "INV-00000042" (or "INV42") anywhere in the name or the
   EDI field, else digits before the name ("42 ﾔﾏﾀﾞﾀﾛｳ", as members are asked to write their
   number before it). 0 when none. */
static long long
s_number_in (const char *payer, const char *memo)
{
    const char *texts [] = { memo, payer };
    for (int i = 0; i < 2; i++)
        for (const char *at = texts [i]; (at = strstr (at, "INV")); at++) {
            const char *digits = at + 3 + (at [3] == '-');
            if (isdigit ((unsigned char) *digits))
                return strtoll (digits, NULL, 10);
        }
    return isdigit ((unsigned char) payer [0])? strtoll (payer, NULL, 10): 0;
}

/* The invoice numbered by the payer, when there is one: 1 with m set, 0 when none, -1. */
static int
s_by_number (svc_request_t *request, svc_reply_t *reply, long long number, int64_t amount, match_t *m)
{
    char text [24];
    const char *params [] = { NUM (text, number) };
    PGresult *result = billing_run (request, reply, "deposit_invoice_by_number", 1, params);
    if (!result)
        return -1;
    int found = PQntuples (result) == 1;
    if (found) {
        const char *status = PQgetvalue (result, 0, 1);
        long long due = atoll (PQgetvalue (result, 0, 2));
        snprintf (m->invoice_id, sizeof m->invoice_id, "%s", PQgetvalue (result, 0, 0));
        m->match_reason = "reference";
        if (strcmp (status, "open") != 0 && strcmp (status, "uncollectible") != 0) {
            m->state = "unmatched";
            if (strcmp (status, "paid") == 0)
                s_reason (&m->reason, "INV-%08lld is paid, not open", number);
            else
            if (strcmp (status, "void") == 0)
                s_reason (&m->reason, "INV-%08lld is void, not open", number);
            else
                s_reason (&m->reason, "INV-%08lld is draft, not open", number);
            *m->invoice_id = 0;
            m->match_reason = "";
        }
        else
        if (amount < due) {
            m->state = "partial";
            s_reason (&m->reason, "%lld yen short of INV-%08lld's %lld yen due", due - (long long) amount,
                      number, due);
        }
        else
            m->state = "matched";
    }
    PQclear (result);
    return found;
}

/* Open invoices owing the amount (exact) or more of the members the member service's search
   finds for kana whose folded reading is kana: how many (0, 1, or 2 for more), the first into
   invoice_id; -1 when it did not answer (503 set). Any number of open invoices of one amount
   (a monthly fee) may be owed: the payer's name finds the member first. */
static int
s_by_searched_name (svc_request_t *request, svc_reply_t *reply, const char *kana, int64_t amount,
                    bool exact, char invoice_id [37])
{
    enum { SEARCHED_MAX = 20 };
    char *ids [SEARCHED_MAX], *readings [SEARCHED_MAX];
    int members = member_ref_search (reply, kana, SEARCHED_MAX, ids, readings);
    if (members < 0)
        return -1;
    pg_buffer_t list = { 0 };
    pg_buffer_append (&list, "{", 1);
    int same = 0;
    for (int i = 0; i < members; i++) {
        char *folded = *readings [i]? deposit_fold_kana (readings [i]): NULL;
        if (folded && strcmp (folded, kana) == 0) {
            if (same++)
                pg_buffer_append (&list, ",", 1);
            pg_buffer_append (&list, ids [i], strlen (ids [i]));
        }
        free (folded);
        free (ids [i]);
        free (readings [i]);
    }
    pg_buffer_append (&list, "}", 2);   /* with the NUL */
    int found = 0;
    if (same) {
        char text [24];
        const char *params [] = { NUM (text, amount), exact? "true": "false", list.text };
        PGresult *result = billing_run (request, reply, "deposit_member_invoices", 3, params);
        found = result? PQntuples (result): -1;
        if (found > 0)
            snprintf (invoice_id, 37, "%s", PQgetvalue (result, 0, 0));
        PQclear (result);
    }
    free (list.text);
    return found;
}

/* Open invoices owing the amount (exact) or more, whose member's reading is kana: how many
   (up to CANDIDATES of them looked at), the first into invoice_id; -1 when the member service did
   not answer (503 set). The members' search (s_by_searched_name) comes first: this finds a
   reading it does not, written with small kana (キョウコ) where the bank writes large (キヨウコ). */
static int
s_by_name (svc_request_t *request, svc_reply_t *reply, const char *kana, int64_t amount, bool exact,
           char invoice_id [37])
{
    int searched = s_by_searched_name (request, reply, kana, amount, exact, invoice_id);
    if (searched != 0)
        return searched;
    char text [24];
    const char *params [] = { NUM (text, amount), exact? "true": "false" };
    PGresult *result = billing_run (request, reply, "deposit_candidates", 2, params);
    if (!result)
        return -1;
    int found = 0;
    for (int i = 0; i < PQntuples (result) && found >= 0; i++) {
        char reading [256];
        if (member_ref_kana (reply, PQgetvalue (result, i, 1), reading, sizeof reading) == -1) {
            found = -1;
            break;
        }
        char *folded = *reading? deposit_fold_kana (reading): NULL;
        if (folded && strcmp (folded, kana) == 0 && found++ == 0)
            snprintf (invoice_id, 37, "%s", PQgetvalue (result, i, 0));
        free (folded);
    }
    PQclear (result);
    return found;
}

/* Matches a deposit: by the invoice number the payer wrote, then by the payer's reading and
   the exact amount of one open invoice, then (less than one invoice owes) partial. 0 or -1. */
static int
s_match (svc_request_t *request, svc_reply_t *reply, const zengin_deposit_t *deposit, const char *kana,
         match_t *m)
{
    *m = (match_t) { .state = "unmatched", .match_reason = "", .reason = { .code = "" } };
    long long number = s_number_in (deposit->payer, deposit->edi);
    int found = number > 0? s_by_number (request, reply, number, deposit->amount, m): 0;
    if (found != 0)
        return found < 0? -1: 0;
    /* The name without the number written before it. */
    const char *name = kana;
    while (isdigit ((unsigned char) *name))
        name++;
    int exact = s_by_name (request, reply, name, deposit->amount, true, m->invoice_id);
    if (exact == 1) {
        m->state = "matched";
        m->match_reason = "name_amount";
        return 0;
    }
    if (exact > 1) {
        *m->invoice_id = 0;
        s_reason (&m->reason, "%d open invoices of this amount for this name", exact);
        return 0;
    }
    int short_of = exact < 0? -1: s_by_name (request, reply, name, deposit->amount, false, m->invoice_id);
    if (short_of < 0)
        return -1;
    if (short_of == 1) {
        m->state = "partial";
        m->match_reason = "name_amount";
        s_reason (&m->reason, "less than the open invoice of this name owes");
    }
    else {
        *m->invoice_id = 0;
        if (short_of > 1)
            s_reason (&m->reason, "several open invoices of this name owe more");
        else
            s_reason (&m->reason, "no open invoice for this name and amount");
    }
    return 0;
}

/* Records the deposit's payment of the invoice (locked; still open, else 1) in the caller's
   transaction: what the deposit brought, up to what the invoice owes. 0, 1 or -1. */
static int
s_pay (svc_request_t *request, const char *invoice_id, int64_t amount, const char *reference,
       const char *note, int64_t now, char payment_id [37])
{
    Kaiin__Billing__Invoice *invoice = invoice_load (request->db, invoice_id, true);
    if (!invoice)
        return *pg_sqlstate (request->db)? -1: 1;
    int rc = 1;
    if (strcmp (invoice->status, "open") == 0 || strcmp (invoice->status, "uncollectible") == 0) {
        payment_manual_t manual = { .method_type = "bank_transfer", .note = note,
            .recorded_by = request->envelope->caller_id, .bank_reference = reference,
            .amount = amount, .amount_received = amount };
        Kaiin__Billing__Payment *payment = payment_record (request->db, invoice, &manual, now);
        rc = payment? 0: -1;
        if (payment) {
            snprintf (payment_id, 37, "%s", payment->id);
            protobuf_c_message_free_unpacked (&payment->base, NULL);
        }
    }
    protobuf_c_message_free_unpacked (&invoice->base, NULL);
    return rc;
}

/* Sets a deposit's state and reason (NULL: the one it has) and records what was done, by
   whom. 0 or -1. */
static int
s_set (svc_request_t *request, const char *deposit_id, const char *state, const char *invoice_id,
       const char *payment_id, const char *match_reason, const reason_t *reason, const char *action, int64_t now)
{
    char now_text [24];
    const char *set [] = { deposit_id, state, invoice_id, payment_id, match_reason, reason? reason->english: NULL,
                           NUM (now_text, now), reason? reason->code: NULL, reason? reason->japanese: NULL };
    const char *event [] = { deposit_id, action, invoice_id, payment_id, request->envelope->caller_id, now_text };
    PGresult *updated = pg_run (request->db, "deposit_set", 9, set);
    PGresult *recorded = updated? pg_run (request->db, "deposit_event", 6, event): NULL;
    int rc = recorded? 0: -1;
    PQclear (updated);
    PQclear (recorded);
    return rc;
}

/* The file's SHA-256 in hex, into hex. */
static void
s_sha256 (const uint8_t *data, size_t size, char hex [65])
{
    unsigned char digest [32];
    unsigned int length = 0;
    EVP_Digest (data, size, digest, &length, EVP_sha256 (), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf (hex + 2 * i, 3, "%02x", digest [i]);
}

/* One deposit of the import: its stored row and the reply's item. */
typedef struct {
    char id [37], payment_id [37], invoice_number [16];
    char *kana;
    match_t match;
} row_t;

/* Stores, matches and applies each deposit of zengin in the caller's transaction, into rows and
   report. 0 or -1 with the reply's error set. */
static int
s_import_rows (svc_request_t *request, svc_reply_t *reply, const zengin_t *zengin, const char *statement_id,
               int64_t now, row_t *rows, Kaiin__Billing__BankStatementImportReply *report)
{
    pg_t *db = request->db;
    for (size_t i = 0; i < zengin->count; i++) {
        const zengin_deposit_t *deposit = &zengin->deposits [i];
        row_t *row = &rows [i];
        row->kana = deposit_fold_kana (deposit->payer);
        if (!row->kana)
            return svc_fail (reply, KAIIN__STATUS__INTERNAL, "Internal error");
        char row_text [24], amount [24], now_text [24];
        const char *params [] = { statement_id, NUM (row_text, deposit->row), deposit->date,
            NUM (amount, deposit->amount), deposit->payer, row->kana, deposit->reference, deposit->edi,
            NUM (now_text, now) };
        PGresult *result = pg_run (db, "deposit_insert", 9, params);
        if (!result)
            return svc_db_fail (reply, db);
        bool fresh = PQntuples (result) == 1;
        if (fresh)
            snprintf (row->id, sizeof row->id, "%s", PQgetvalue (result, 0, 0));
        PQclear (result);
        if (!fresh) {
            row->match = (match_t) { .state = "duplicate", .match_reason = "", .reason = { .code = "" } };
            s_reason (&row->match.reason, "stored already from an earlier statement");
            report->duplicates++;
            continue;
        }
        if (s_match (request, reply, deposit, row->kana, &row->match) == -1)
            return -1;
        if (strcmp (row->match.state, "matched") == 0) {
            char note [256];
            snprintf (note, sizeof note, "振込 %.10s %.144s (照会番号 %.32s)", deposit->date, deposit->payer,
                      deposit->reference);
            int paid = s_pay (request, row->match.invoice_id, deposit->amount, deposit->reference, note, now,
                              row->payment_id);
            if (paid == -1)
                return svc_db_fail (reply, db);
            if (paid == 1) {                            /* paid by an earlier row of this file */
                row->match = (match_t) { .state = "unmatched", .match_reason = "", .reason = { .code = "" } };
                s_reason (&row->match.reason, "its invoice was paid by an earlier row");
            }
        }
        const match_t *m = &row->match;
        if (s_set (request, row->id, m->state, m->invoice_id, row->payment_id, m->match_reason, &m->reason,
                   strcmp (m->state, "matched") == 0? "matched": "imported", now) == -1)
            return svc_db_fail (reply, db);
        report->matched += strcmp (m->state, "matched") == 0;
        report->partial += strcmp (m->state, "partial") == 0;
        report->unmatched += strcmp (m->state, "unmatched") == 0;
    }
    return 0;
}

/* The reply's items, from rows (the ids left out of a dry run's). */
static void
s_report (svc_request_t *request, bool japanese, const zengin_t *zengin, row_t *rows, bool dry_run,
          Kaiin__Billing__Deposit *items, Kaiin__Billing__BankStatementImportReply *report)
{
    for (size_t i = 0; i < zengin->count; i++) {
        const zengin_deposit_t *deposit = &zengin->deposits [i];
        Kaiin__Billing__Deposit *item = &items [i];
        kaiin__billing__deposit__init (item);
        row_t *row = &rows [i];
        if (*row->match.invoice_id) {
            const char *params [] = { row->match.invoice_id };
            PGresult *result = pg_run (request->db, "invoice_number_of", 1, params);
            if (result && PQntuples (result) == 1)
                snprintf (row->invoice_number, sizeof row->invoice_number, "%s", PQgetvalue (result, 0, 0));
            PQclear (result);
        }
        item->id = dry_run? "": row->id;
        item->statement_id = report->statement_id;
        item->row = deposit->row;
        item->date = (char *) deposit->date;
        item->amount = deposit->amount;
        item->payer_name = (char *) deposit->payer;
        item->payer_kana = row->kana? row->kana: "";
        item->reference = (char *) deposit->reference;
        item->memo = (char *) deposit->edi;
        item->state = (char *) row->match.state;
        item->invoice_id = row->match.invoice_id;
        item->invoice_number = row->invoice_number;
        item->payment_id = dry_run? "": row->payment_id;
        item->match_reason = (char *) row->match.match_reason;
        item->reason = japanese? row->match.reason.japanese: row->match.reason.english;
        item->reason_code = (char *) row->match.reason.code;
        report->deposits [i] = item;
    }
    report->n_deposits = zengin->count;
}

int
deposit_api_import (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__BankStatementImportRequest *import = (Kaiin__Billing__BankStatementImportRequest *)
        svc_unpack (request, &kaiin__billing__bank_statement_import_request__descriptor, reply);
    if (!import)
        return -1;
    const char *data = (const char *) import->file.data;
    size_t size = import->file.len;
    const char *format = *import->format? import->format: zengin_detect (data, size)? "zengin": "csv";
    int64_t now = billing_now (request);
    struct tm tm;
    billing_japan_time (now, &tm);
    zengin_t zengin;
    memset (&zengin, 0, sizeof zengin);
    int parsed = strcmp (format, "zengin") == 0? zengin_parse (data, size, tm.tm_year + 1900 - 2018 + 1, &zengin)
               : bank_csv_parse (data, size, &zengin);
    if (parsed == -1)
        for (size_t i = 0; i < zengin.n_errors; i++)
            svc_field_error (reply, "file", zengin.errors [i].fmt, zengin.errors [i].row,
                             zengin.errors [i].first, zengin.errors [i].second);
    Kaiin__Billing__BankStatementImportReply report = KAIIN__BILLING__BANK_STATEMENT_IMPORT_REPLY__INIT;
    row_t *rows = calloc (zengin.count + 1, sizeof *rows);
    Kaiin__Billing__Deposit *items = calloc (zengin.count + 1, sizeof *items);
    report.deposits = calloc (zengin.count + 1, sizeof *report.deposits);
    assert (rows && items && report.deposits);
    char sha [65], statement_id [37] = "";
    int rc = -1;
    if (reply->status == KAIIN__STATUS__OK) {
        s_sha256 (import->file.data, size, sha);
        char count [24], total [24], now_text [24];
        const char *seen_params [] = { sha };
        const char *params [] = { format, sha, NUM (count, zengin.count), NUM (total, zengin.total),
                                  request->envelope->caller_id, NUM (now_text, now) };
        PGresult *seen = NULL, *stored = NULL;
        if (billing_begin (request->db) == -1 || !(seen = pg_run (request->db, "statement_seen", 1, seen_params)))
            svc_db_fail (reply, request->db);
        else
        if (PQntuples (seen) == 1)
            svc_fail (reply, KAIIN__STATUS__ALREADY_EXISTS, "this statement was imported already (%s)",
                      PQgetvalue (seen, 0, 0));
        else
        if (!(stored = pg_run (request->db, "statement_insert", 6, params))) {
            if (strcmp (pg_sqlstate (request->db), "23505") == 0)     /* the same file, meanwhile */
                svc_fail (reply, KAIIN__STATUS__ALREADY_EXISTS, "this statement was imported already (%s)", sha);
            else
                svc_db_fail (reply, request->db);
        }
        else {
            snprintf (statement_id, sizeof statement_id, "%s", PQgetvalue (stored, 0, 0));
            rc = s_import_rows (request, reply, &zengin, statement_id, now, rows, &report);
        }
        PQclear (seen);
        PQclear (stored);
        if (rc == 0) {
            report.statement_id = import->dry_run? "": statement_id;
            report.format = (char *) format;
            report.dry_run = import->dry_run;
            report.rows = (int32_t) zengin.count;
            report.total = zengin.total;
            s_report (request, reply->japanese, &zengin, rows, import->dry_run, items, &report);
        }
        if (rc == 0 && import->dry_run)
            pg_rollback (request->db);              /* a dry run: all of it done, none of it kept */
        else
        if (rc == 0 && billing_commit (request->db) == -1)
            rc = svc_db_fail (reply, request->db);
        if (rc == 0)
            svc_reply_with (reply, &report.base);
        else
            pg_rollback (request->db);
    }
    for (size_t i = 0; i < zengin.count; i++)
        free (rows [i].kana);
    free (rows);
    free (items);
    free (report.deposits);
    zengin_free (&zengin);
    protobuf_c_message_free_unpacked (&import->base, NULL);
    return rc;
}

int
deposit_api_list (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__ListRequest *list = (Kaiin__Billing__ListRequest *)
        svc_unpack (request, &kaiin__billing__list_request__descriptor, reply);
    if (!list)
        return -1;
    char before [24], limit [24];
    int rc = -1;
    billing_page (reply, list, before, limit);
    billing_check_enum (reply, "state", list->status, s_states, false);
    if (reply->status == KAIIN__STATUS__OK) {
        const char *params [] = { list->status, before, limit };
        PGresult *result = billing_run (request, reply, reply->japanese? "deposit_list_ja": "deposit_list", 3, params);
        if (result)
            rc = billing_reply_rows (reply, result, atoi (limit), &kaiin__billing__deposit_list__descriptor);
        PQclear (result);
    }
    protobuf_c_message_free_unpacked (&list->base, NULL);
    return rc;
}

/* Appends the deposit's history, oldest first. 0, or -1 with a database error set on reply. */
static int
s_add_history (svc_request_t *request, svc_reply_t *reply, Kaiin__Billing__Deposit *deposit)
{
    return billing_append_rows (request, reply, "deposit_history", deposit->id, (void ***) &deposit->history,
                                &deposit->n_history, &kaiin__billing__deposit_event__descriptor);
}

int
deposit_api_get (svc_request_t *request, svc_reply_t *reply)
{
    ProtobufCMessage *deposit = billing_get_by_id (request, reply, reply->japanese? "deposit_get_ja": "deposit_get",
                                                   &kaiin__billing__deposit__descriptor, "deposit not found");
    if (!deposit)
        return -1;
    int rc = s_add_history (request, reply, (Kaiin__Billing__Deposit *) deposit) == 0?
             svc_reply_with (reply, deposit): -1;
    protobuf_c_message_free_unpacked (deposit, NULL);
    return rc;
}

/* A person's decision on the locked deposit, in the caller's transaction: 0, or -1 with the
   reply's error set. */
static int
s_decide (svc_request_t *request, svc_reply_t *reply, const Kaiin__Billing__DepositActionRequest *action,
          const Kaiin__Billing__Deposit *deposit, int64_t now)
{
    bool open = strcmp (deposit->state, "unmatched") == 0 || strcmp (deposit->state, "partial") == 0;
    if (strcmp (action->action, "unassign") == 0) {
        if (strcmp (deposit->state, "matched") != 0)
            return svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION, "only a matched deposit can be unassigned");
        int reversed = payment_reverse (request->db, deposit->payment_id, request->envelope->caller_id, now);
        reason_t unassigned;
        s_reason (&unassigned, "its match was undone by hand");
        if (reversed == 1)
            return svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION,
                             "its payment was refunded: refund the rest instead of unassigning");
        if (reversed == -1
        ||  s_set (request, deposit->id, "unmatched", "", "", "", &unassigned, "unassigned", now) == -1)
            return svc_db_fail (reply, request->db);
        return 0;
    }
    if (!open)
        return svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION,
                         "only an unmatched or partial deposit can be assigned or ignored");
    if (strcmp (action->action, "ignore") == 0)
        return s_set (request, deposit->id, "ignored", "", "", "", NULL, "ignored", now) == -1
            ? svc_db_fail (reply, request->db): 0;
    if (!billing_uuid (action->invoice_id)) {
        svc_field_error (reply, "invoice_id", "must be the id of an open invoice");
        return -1;
    }
    char note [200], payment_id [37] = "";
    snprintf (note, sizeof note, "振込 %s %s (照会番号 %s)", deposit->date, deposit->payer_name, deposit->reference);
    int paid = s_pay (request, action->invoice_id, deposit->amount, deposit->reference, note, now, payment_id);
    if (paid == 1) {
        svc_field_error (reply, "invoice_id", "must be the id of an open invoice");
        return -1;
    }
    if (paid == -1
    ||  s_set (request, deposit->id, "matched", action->invoice_id, payment_id, "assigned", &(reason_t) { "", "", "" },
               "assigned", now) == -1)
        return svc_db_fail (reply, request->db);
    return 0;
}

int
deposit_api_action (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__DepositActionRequest *action = (Kaiin__Billing__DepositActionRequest *)
        svc_unpack (request, &kaiin__billing__deposit_action_request__descriptor, reply);
    if (!action)
        return -1;
    billing_check_enum (reply, "action", action->action, s_actions, true);
    int64_t now = billing_now (request);
    Kaiin__Billing__Deposit *deposit = NULL;
    int rc = -1;
    if (reply->status != KAIIN__STATUS__OK)
        ;
    else
    if (!billing_uuid (action->id))
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "deposit not found");
    else
    if (billing_begin (request->db) == -1)
        svc_db_fail (reply, request->db);
    else {
        const char *params [] = { action->id };
        PGresult *result = pg_run (request->db, "deposit_lock", 1, params);
        if (!result)
            svc_db_fail (reply, request->db);
        else
        if (PQntuples (result) == 0)
            svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "deposit not found");
        else
            deposit = (Kaiin__Billing__Deposit *) pg_row_message (result, 0, &kaiin__billing__deposit__descriptor);
        PQclear (result);
        if (deposit && s_decide (request, reply, action, deposit, now) == 0 && billing_commit (request->db) == 0)
            rc = 0;
        else
            pg_rollback (request->db);
        if (rc == 0) {
            ProtobufCMessage *after = billing_get (request, reply, reply->japanese? "deposit_get_ja": "deposit_get", 1,
                                                   (const char *const []) { action->id },
                                                   &kaiin__billing__deposit__descriptor, "deposit not found");
            rc = after && s_add_history (request, reply, (Kaiin__Billing__Deposit *) after) == 0?
                 svc_reply_with (reply, after): -1;
            if (after)
                protobuf_c_message_free_unpacked (after, NULL);
        }
        else
        if (reply->status == KAIIN__STATUS__OK)
            svc_db_fail (reply, request->db);
    }
    if (deposit)
        protobuf_c_message_free_unpacked (&deposit->base, NULL);
    protobuf_c_message_free_unpacked (&action->base, NULL);
    return rc;
}
