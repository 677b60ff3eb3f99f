/* invoice.c - invoices: lines, consumption tax per rate, gap-free numbers, the qualified-
   invoice fields, and their life from draft to paid, void or uncollectible */
#include "invoice.h"
#include "member_ref.h"
#include "outbox.h"
#include "payment.h"
#include "payment_method.h"
#include "purchase.h"
#include "settings.h"
#include "subscription.h"
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INVOICE_COLUMNS "id, case when number is null then '' else 'INV-' || lpad (number::text, 8, '0') end" \
    " as number, member_id, coalesce (subscription_id::text, '') as subscription_id," \
    " coalesce (purchase_id::text, '') as purchase_id, status, billing_reason, currency, tax_mode," \
    " subtotal, tax_total, total, discount_total, amount_paid," \
    " greatest (total - amount_paid, 0) * (status = 'open')::int as amount_due, amount_refunded," \
    " issuer_name, registration_number, " MS ("issued_at") " as issued_at_ms, " \
    MS ("due_at") " as due_at_ms, " MS ("paid_at") " as paid_at_ms, " MS ("voided_at") " as voided_at_ms, " \
    MS ("period_start") " as period_start_ms, " MS ("period_end") " as period_end_ms, " \
    MS ("created_at") " as created_at_ms, version, seq"
#define LINE_COLUMNS "description, sku, quantity, unit_amount, discount_amount, amount, tax_rate," \
    " " MS ("period_start") " as period_start_ms, " MS ("period_end") " as period_end_ms"
#define LINES_MAX 100

static const char *const s_tax_modes [] = { "inclusive", "exclusive", NULL };
static const char *const s_statuses [] = { "draft", "open", "paid", "void", "uncollectible", NULL };

/* Invoice ids kept for the thread's open transaction. */
typedef struct {
    char (*ids) [37];
    size_t count, size;
    int key;                        /* which of s_keys frees ids when the thread ends */
} s_ids_t;

/* Finalised in this transaction: numbered at billing_commit. */
static __thread s_ids_t s_unnumbered = { NULL, 0, 0, 0 };
/* Finalised to be collected at once: announced (invoice.finalized) only if not paid. */
static __thread s_ids_t s_unannounced = { NULL, 0, 0, 1 };

int
invoice_prepare (pg_t *db)
{
    return pg_prepare (db, "invoice_insert",
            "with settings as (select issuer_name, registration_number from settings),"
            " invoice as (insert into invoices (member_id, subscription_id, purchase_id, status, billing_reason,"
            "  tax_mode, subtotal, tax_total, total, discount_total, issuer_name, registration_number,"
            "  issued_at, due_at, period_start, period_end, created_at, amount_paid, paid_at)"
            "  select $1, nullif ($2, '')::uuid, nullif ($3, '')::uuid, case when $28 > 0 then 'paid' else $4 end,"
            "  $5, $6, $7, $8, $9, $10,"
            "  issuer_name, registration_number, case when $4 = 'open' then " AT ("$11") " end, "
            AT ("$12") ", " AT ("$13") ", " AT ("$14") ", " AT ("$11") ", $28,"
            "  case when $28 > 0 then " AT ("$11") " end from settings"
            "  returning id, issuer_name, registration_number),"
            /* Paid before it was written: its payment, with it. */
            " pay as (insert into payments (invoice_id, member_id, payment_method_id, method_type, provider,"
            "  provider_ref, amount, amount_received, status, created_at, settled_at)"
            "  select invoice.id, $1, $29::uuid, $30, $31, $32, $28, $28, 'succeeded', " AT ("$11") ", " AT ("$11")
            "  from invoice where $28 > 0 returning id),"
            " lines as (insert into invoice_lines (invoice_id, line, description, sku, quantity, unit_amount,"
            "  discount_amount, amount, tax_rate, period_start, period_end)"
            "  select invoice.id, l.n, l.description, l.sku, l.quantity, l.unit_amount, l.discount_amount,"
            "  l.amount, l.tax_rate, " AT ("l.period_start") ", " AT ("l.period_end") " from invoice,"
            "  unnest ($15::text [], $16::text [], $17::int [], $18::bigint [], $19::bigint [], $20::bigint [],"
            "  $21::int [], $22::bigint [], $23::bigint []) with ordinality as l (description, sku, quantity,"
            "  unit_amount, discount_amount, amount, tax_rate, period_start, period_end, n)),"
            " taxes as (insert into invoice_taxes (invoice_id, rate, amount, taxable_amount, tax)"
            "  select invoice.id, t.rate, t.amount, t.taxable_amount, t.tax from invoice,"
            "  unnest ($24::int [], $25::bigint [], $26::bigint [], $27::bigint []) as t (rate, amount, taxable_amount, tax))"
            " select id, issuer_name, registration_number, (select id from pay) from invoice") == -1
        || pg_prepare (db, "invoice_numbers",
            "update number_series set next = next + $1 where name = 'invoice' returning next - $1") == -1
        || pg_prepare (db, "invoice_number_set",
            "update invoices i set number = $2 + n.k - 1"
            " from unnest ($1::uuid []) with ordinality as n (id, k) where i.id = n.id") == -1
        || pg_prepare (db, "invoice_get", "select " INVOICE_COLUMNS " from invoices where id = $1") == -1
        || pg_prepare (db, "invoice_lock", "select " INVOICE_COLUMNS " from invoices where id = $1 for update") == -1
        || pg_prepare (db, "invoice_lines",
            "select " LINE_COLUMNS " from invoice_lines where invoice_id = $1 order by line") == -1
        || pg_prepare (db, "invoice_taxes",
            "select rate, amount, taxable_amount, tax from invoice_taxes where invoice_id = $1"
            " order by rate desc") == -1
        || pg_prepare (db, "invoice_list",
            "select " INVOICE_COLUMNS " from invoices where seq < $1 and ($2 = '' or member_id = $2::text::uuid)"
            " and ($3 = '' or status = $3) and ($4 = '' or subscription_id = $4::text::uuid)"
            " order by seq desc limit $5") == -1
        || pg_prepare (db, "invoice_pay",
            "update invoices set amount_paid = amount_paid + $2,"
            " status = case when amount_paid + $2 >= total then 'paid' else status end,"
            " paid_at = case when amount_paid + $2 >= total then " AT ("$3") " else paid_at end,"
            " version = version + 1 where id = $1 and status in ('open', 'uncollectible')"
            " returning status, coalesce (subscription_id::text, ''), coalesce (purchase_id::text, ''),"
            " coalesce ((select s.status from subscriptions s where s.id = subscription_id), '')") == -1
        || pg_prepare (db, "invoice_status",
            "update invoices set status = $2, voided_at = case when $2 = 'void' then " AT ("$3") " end,"
            " version = version + 1 where id = $1 and status = 'open' returning id") == -1
        || pg_prepare (db, "invoice_finalize",
            /* A draft's due date counts from its issue: the days it was given at creation. */
            "update invoices i set status = 'open', issued_at = " AT ("$2") ","
            " due_at = " AT ("$2") " + greatest (i.due_at - i.created_at, interval '0'),"
            " issuer_name = s.issuer_name, registration_number = s.registration_number, version = i.version + 1"
            " from settings s where i.id = $1 and i.status = 'draft' returning i.id") == -1
        /* Overdue: open past its due date, and no longer being collected by itself. A
           subscription's invoice in dunning (past_due) or awaiting its first payment
           (incomplete), or one with a pending konbini or bank payment, has payment.failed
           and its retries to tell; it is overdue once they are over (final action unpaid). */
        || pg_prepare (db, "invoice_overdue",
            "update invoices set overdue_notified = true where id in (select i.id from invoices i"
            " where i.status = 'open' and i.due_at < " AT ("$1") " and not i.overdue_notified"
            " and not exists (select 1 from subscriptions s where s.id = i.subscription_id"
            "  and s.latest_invoice_id = i.id and s.status in ('past_due', 'incomplete'))"
            " and not exists (select 1 from payments p where p.invoice_id = i.id and p.status = 'pending')"
            " order by i.due_at limit 200 for update of i skip locked) returning id") == -1
        ? -1: 0;
}

int
billing_begin (pg_t *db)
{
    s_unnumbered.count = 0;
    s_unannounced.count = 0;
    return pg_begin (db);
}

static pthread_key_t s_keys [2];
static pthread_once_t s_keys_once = PTHREAD_ONCE_INIT;

static void
s_keys_create (void)
{
    pthread_key_create (&s_keys [0], free);
    pthread_key_create (&s_keys [1], free);
}

static void
s_ids_add (s_ids_t *list, const char *id)
{
    if (list->count == list->size) {
        list->size = list->size? 2 * list->size: 64;
        list->ids = realloc (list->ids, list->size * sizeof *list->ids);
        assert (list->ids);
        pthread_once (&s_keys_once, s_keys_create);
        pthread_setspecific (s_keys [list->key], list->ids);      /* freed when the thread ends */
    }
    snprintf (list->ids [list->count++], 37, "%s", id);
}

/* Removes id from list; true when it was there. */
static bool
s_ids_take (s_ids_t *list, const char *id)
{
    for (size_t i = list->count; i-- > 0; )
        if (strcmp (list->ids [i], id) == 0) {
            memmove (list->ids [i], list->ids [i + 1], (list->count - i - 1) * sizeof *list->ids);
            list->count--;
            return true;
        }
    return false;
}

int
invoice_announce (pg_t *db, const Kaiin__Billing__Invoice *invoice, int64_t now_ms)
{
    if (!s_ids_take (&s_unannounced, invoice->id))
        return 0;
    return outbox_append (db, "invoice.finalized", invoice->id, &invoice->base, now_ms);
}

int
billing_commit (pg_t *db)
{
    size_t count = s_unnumbered.count;
    s_unnumbered.count = 0;
    s_unannounced.count = 0;            /* paid in this transaction: invoice.paid says it all */
    if (count > 0) {
        /* Taken last, so the series' row stays locked only for the commit itself. */
        char count_text [24];
        const char *take [] = { NUM (count_text, count) };
        PGresult *result = pg_run (db, "invoice_numbers", 1, take);
        if (!result)
            return -1;
        char first [24];
        snprintf (first, sizeof first, "%s", PQgetvalue (result, 0, 0));
        PQclear (result);
        size_t size = count * 38 + 3;
        char *array = malloc (size);
        assert (array);
        size_t used = 0;
        array [used++] = '{';
        for (size_t i = 0; i < count; i++)
            used += (size_t) snprintf (array + used, size - used, "%s%s", i? ",": "", s_unnumbered.ids [i]);
        snprintf (array + used, size - used, "}");
        const char *params [] = { array, first };
        result = pg_run (db, "invoice_number_set", 2, params);
        free (array);
        if (!result)
            return -1;
        PQclear (result);
    }
    return pg_commit (db);
}

Kaiin__Billing__Invoice *
invoice_load (pg_t *db, const char *id, bool for_update)
{
    const char *params [] = { id };
    PGresult *result = pg_run (db, for_update? "invoice_lock": "invoice_get", 1, params);
    if (!result || PQntuples (result) == 0) {
        PQclear (result);
        return NULL;
    }
    Kaiin__Billing__Invoice *invoice = (Kaiin__Billing__Invoice *)
        pg_row_message (result, 0, &kaiin__billing__invoice__descriptor);
    PQclear (result);
    PGresult *lines = pg_run (db, "invoice_lines", 1, params);
    PGresult *taxes = lines? pg_run (db, "invoice_taxes", 1, params): NULL;
    for (int row = 0; taxes && row < PQntuples (lines); row++)
        pg_row_append ((void ***) &invoice->lines, &invoice->n_lines,
                       pg_row_message (lines, row, &kaiin__billing__invoice_line__descriptor));
    for (int row = 0; taxes && row < PQntuples (taxes); row++)
        pg_row_append ((void ***) &invoice->taxes, &invoice->n_taxes,
                       pg_row_message (taxes, row, &kaiin__billing__tax_breakdown__descriptor));
    if (!taxes) {
        protobuf_c_message_free_unpacked (&invoice->base, NULL);
        invoice = NULL;
    }
    PQclear (lines);
    PQclear (taxes);
    return invoice;
}

/* Appends one array element to an array literal being built ("{" already in). */
static void
s_array_add (pg_buffer_t *array, const char *text, bool quoted)
{
    if (array->used > 1)
        pg_buffer_append (array, ",", 1);
    if (!quoted) {
        pg_buffer_append (array, text, strlen (text));
        return;
    }
    pg_buffer_append (array, "\"", 1);
    for (const char *c = text; *c; c++) {
        if (*c == '"' || *c == '\\')
            pg_buffer_append (array, "\\", 1);
        pg_buffer_append (array, c, 1);
    }
    pg_buffer_append (array, "\"", 1);
}

static char *
s_string_copy (const char *text)
{
    return text && *text? strdup (text): (char *) protobuf_c_empty_string;
}

int64_t
invoice_total (Kaiin__Billing__InvoiceLine *const *lines, size_t count, const char *tax_mode)
{
    billing_tax_t taxes [3];
    int n_taxes = billing_tax (lines, count, strcmp (tax_mode, "inclusive") == 0, taxes);
    int64_t total = 0;
    for (int i = 0; i < n_taxes; i++)
        total += taxes [i].taxable_amount + taxes [i].tax;
    return total;
}

Kaiin__Billing__Invoice *
invoice_insert (pg_t *db, const invoice_spec_t *spec, int64_t now_ms)
{
    billing_tax_t taxes [3];
    bool inclusive = strcmp (spec->tax_mode, "inclusive") == 0;
    int n_taxes = billing_tax (spec->lines, spec->n_lines, inclusive, taxes);
    int64_t subtotal = 0, tax_total = 0, total = 0, discount = 0;
    for (int i = 0; i < n_taxes; i++) {
        subtotal += taxes [i].taxable_amount;
        tax_total += taxes [i].tax;
        total += taxes [i].taxable_amount + taxes [i].tax;
    }
    for (size_t i = 0; i < spec->n_lines; i++)
        discount += spec->lines [i]->discount_amount;

    /* The lines and taxes go as arrays, one per column: one statement for the invoice. */
    enum { DESCRIPTION, SKU, QUANTITY, UNIT, DISCOUNT, AMOUNT, RATE, FROM, TO,
           TAX_RATE, TAX_AMOUNT, TAX_TAXABLE, TAX_TAX, ARRAYS };
    pg_buffer_t arrays [ARRAYS];
    memset (arrays, 0, sizeof arrays);
    for (int a = 0; a < ARRAYS; a++)
        pg_buffer_append (&arrays [a], "{", 1);
    for (size_t i = 0; i < spec->n_lines; i++) {
        const Kaiin__Billing__InvoiceLine *line = spec->lines [i];
        char number [24];
        s_array_add (&arrays [DESCRIPTION], line->description, true);
        s_array_add (&arrays [SKU], line->sku, true);
        s_array_add (&arrays [QUANTITY], NUM (number, line->quantity), false);
        s_array_add (&arrays [UNIT], NUM (number, line->unit_amount), false);
        s_array_add (&arrays [DISCOUNT], NUM (number, line->discount_amount), false);
        s_array_add (&arrays [AMOUNT], NUM (number, line->amount), false);
        s_array_add (&arrays [RATE], NUM (number, line->tax_rate), false);
        s_array_add (&arrays [FROM], NUM (number, line->period_start_ms), false);
        s_array_add (&arrays [TO], NUM (number, line->period_end_ms), false);
    }
    for (int i = 0; i < n_taxes; i++) {
        char number [24];
        s_array_add (&arrays [TAX_RATE], NUM (number, taxes [i].rate), false);
        s_array_add (&arrays [TAX_AMOUNT], NUM (number, taxes [i].amount), false);
        s_array_add (&arrays [TAX_TAXABLE], NUM (number, taxes [i].taxable_amount), false);
        s_array_add (&arrays [TAX_TAX], NUM (number, taxes [i].tax), false);
    }
    for (int a = 0; a < ARRAYS; a++)
        pg_buffer_append (&arrays [a], "}", 2);      /* with the terminating NUL */
    char subtotal_text [24], tax_text [24], total_text [24], discount_text [24], now [24],
         due [24], start [24], end [24], paid_text [24];
    int64_t due_ms = spec->due_at_ms? spec->due_at_ms: now_ms;
    const char *params [] = { spec->member_id, spec->subscription_id, spec->purchase_id,
        spec->finalize? "open": "draft", spec->billing_reason, spec->tax_mode,
        NUM (subtotal_text, subtotal), NUM (tax_text, tax_total), NUM (total_text, total),
        NUM (discount_text, discount), NUM (now, now_ms), NUM (due, due_ms),
        NUM (start, spec->period_start_ms), NUM (end, spec->period_end_ms),
        arrays [DESCRIPTION].text, arrays [SKU].text, arrays [QUANTITY].text, arrays [UNIT].text,
        arrays [DISCOUNT].text, arrays [AMOUNT].text, arrays [RATE].text, arrays [FROM].text,
        arrays [TO].text, arrays [TAX_RATE].text, arrays [TAX_AMOUNT].text, arrays [TAX_TAXABLE].text,
        arrays [TAX_TAX].text,
        NUM (paid_text, spec->paid_by? total: 0), spec->paid_by? spec->paid_by->method_id: NULL,
        spec->paid_by? spec->paid_by->method_type: "", spec->paid_by? spec->paid_by->provider: "",
        spec->paid_by? spec->paid_by->provider_ref: "" };
    PGresult *result = pg_run (db, "invoice_insert", 32, params);
    for (int a = 0; a < ARRAYS; a++)
        free (arrays [a].text);
    if (!result)
        return NULL;

    /* The stored invoice, as the statement wrote it. */
    Kaiin__Billing__Invoice *invoice = malloc (sizeof *invoice);
    assert (invoice);
    kaiin__billing__invoice__init (invoice);
    invoice->id = strdup (PQgetvalue (result, 0, 0));
    invoice->issuer_name = s_string_copy (PQgetvalue (result, 0, 1));
    invoice->registration_number = s_string_copy (PQgetvalue (result, 0, 2));
    if (spec->paid_by)
        snprintf (spec->paid_by->payment_id, sizeof spec->paid_by->payment_id, "%s", PQgetvalue (result, 0, 3));
    PQclear (result);
    invoice->member_id = s_string_copy (spec->member_id);
    invoice->subscription_id = s_string_copy (spec->subscription_id);
    invoice->purchase_id = s_string_copy (spec->purchase_id);
    invoice->status = s_string_copy (spec->paid_by? "paid": spec->finalize? "open": "draft");
    invoice->billing_reason = s_string_copy (spec->billing_reason);
    invoice->currency = s_string_copy ("JPY");
    invoice->tax_mode = s_string_copy (spec->tax_mode);
    invoice->subtotal = subtotal;
    invoice->tax_total = tax_total;
    invoice->total = total;
    invoice->discount_total = discount;
    invoice->amount_due = spec->finalize && !spec->paid_by? total: 0;
    invoice->amount_paid = spec->paid_by? total: 0;
    invoice->paid_at_ms = spec->paid_by? now_ms: 0;
    invoice->issued_at_ms = spec->finalize? now_ms: 0;
    invoice->due_at_ms = due_ms;
    invoice->period_start_ms = spec->period_start_ms;
    invoice->period_end_ms = spec->period_end_ms;
    invoice->created_at_ms = now_ms;
    invoice->version = 1;
    for (size_t i = 0; i < spec->n_lines; i++) {
        const Kaiin__Billing__InvoiceLine *from = spec->lines [i];
        Kaiin__Billing__InvoiceLine *line = malloc (sizeof *line);
        assert (line);
        *line = *from;
        line->description = s_string_copy (from->description);
        line->sku = s_string_copy (from->sku);
        pg_row_append ((void ***) &invoice->lines, &invoice->n_lines, line);
    }
    for (int i = 0; i < n_taxes; i++) {
        Kaiin__Billing__TaxBreakdown *tax = malloc (sizeof *tax);
        assert (tax);
        kaiin__billing__tax_breakdown__init (tax);
        tax->rate = taxes [i].rate;
        tax->amount = taxes [i].amount;
        tax->taxable_amount = taxes [i].taxable_amount;
        tax->tax = taxes [i].tax;
        pg_row_append ((void ***) &invoice->taxes, &invoice->n_taxes, tax);
    }
    if (spec->finalize) {
        s_ids_add (&s_unnumbered, invoice->id);
        const char *event = spec->paid_by? "invoice.paid": "invoice.finalized";
        if (spec->collect_now && !spec->paid_by)
            s_ids_add (&s_unannounced, invoice->id);
        else
        if (outbox_append (db, event, invoice->id, &invoice->base, now_ms) == -1) {
            protobuf_c_message_free_unpacked (&invoice->base, NULL);
            return NULL;
        }
    }
    return invoice;
}

int
invoice_apply_payment (pg_t *db, const Kaiin__Billing__Invoice *invoice, int64_t amount, int64_t now_ms)
{
    char amount_text [24], now [24];
    const char *params [] = { invoice->id, NUM (amount_text, amount), NUM (now, now_ms) };
    PGresult *result = pg_run (db, "invoice_pay", 3, params);
    if (!result)
        return -1;
    int paid = PQntuples (result) == 1 && strcmp (PQgetvalue (result, 0, 0), "paid") == 0;
    char subscription [37] = "", purchase [37] = "", subscription_status [16] = "";
    if (PQntuples (result) == 1) {
        snprintf (subscription, sizeof subscription, "%s", PQgetvalue (result, 0, 1));
        snprintf (purchase, sizeof purchase, "%s", PQgetvalue (result, 0, 2));
        snprintf (subscription_status, sizeof subscription_status, "%s", PQgetvalue (result, 0, 3));
    }
    PQclear (result);
    if (!paid)
        return 0;
    /* The event carries the invoice as the update left it. */
    Kaiin__Billing__Invoice after = *invoice;
    after.status = "paid";
    after.amount_paid = invoice->amount_paid + amount;
    after.amount_due = 0;
    after.paid_at_ms = now_ms;
    after.version = invoice->version + 1;
    if (outbox_append (db, "invoice.paid", invoice->id, &after.base, now_ms) == -1)
        return -1;
    if (*subscription && billing_one_of (subscription_status,
                                         (const char *const []) { "incomplete", "past_due", "unpaid", NULL })
    &&  subscription_invoice_paid (db, subscription, now_ms) == -1)
        return -1;
    if (*purchase && purchase_invoice_paid (db, purchase, now_ms) == -1)
        return -1;
    return 1;
}

int
invoice_set_status (pg_t *db, const char *invoice_id, const char *status, int64_t now_ms)
{
    char now [24];
    const char *params [] = { invoice_id, status, NUM (now, now_ms) };
    PGresult *result = pg_run (db, "invoice_status", 3, params);
    int rc = result? 0: -1;
    PQclear (result);
    return rc;
}

/* Answers the invoice id with its lines and taxes. */
static int
s_reply_invoice (svc_request_t *request, svc_reply_t *reply, const char *id)
{
    Kaiin__Billing__Invoice *invoice = invoice_load (request->db, id, false);
    if (!invoice)
        return *pg_sqlstate (request->db)? svc_db_fail (reply, request->db)
                                         : svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "invoice not found");
    if (!billing_caller_may_see (request, invoice->member_id)) {
        protobuf_c_message_free_unpacked (&invoice->base, NULL);
        return svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "invoice not found");
    }
    svc_reply_with (reply, &invoice->base);
    protobuf_c_message_free_unpacked (&invoice->base, NULL);
    return 0;
}

int
invoice_api_create (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__InvoiceCreateRequest *create = (Kaiin__Billing__InvoiceCreateRequest *)
        svc_unpack (request, &kaiin__billing__invoice_create_request__descriptor, reply);
    if (!create)
        return -1;
    const char *mode = *create->tax_mode? create->tax_mode: "inclusive";
    billing_check_enum (reply, "tax_mode", mode, s_tax_modes, true);
    if (create->n_lines < 1 || create->n_lines > LINES_MAX)
        svc_field_error (reply, "lines", "must hold 1 to %d lines", LINES_MAX);
    if (create->due_days < 0 || create->due_days > 365)
        svc_field_error (reply, "due_days", "must be from 0 to 365");
    for (size_t i = 0; i < create->n_lines && i < LINES_MAX; i++) {
        Kaiin__Billing__InvoiceLine *line = create->lines [i];
        char field [48];
        snprintf (field, sizeof field, "lines[%zu].description", i);
        billing_check_text (reply, field, line->description, 200);
        if (line->quantity < 1 || line->quantity > 100000)
            svc_field_error (reply, (snprintf (field, sizeof field, "lines[%zu].quantity", i), field),
                             "must be from 1 to 100000");
        if (line->unit_amount < 0 || line->unit_amount > AMOUNT_MAX)
            svc_field_error (reply, (snprintf (field, sizeof field, "lines[%zu].unit_amount", i), field),
                             "must be from 0 to %lld", AMOUNT_MAX);
        else                            /* at most 10^5 × 10^12: no overflow */
        if ((int64_t) line->quantity * line->unit_amount > AMOUNT_MAX)
            svc_field_error (reply, (snprintf (field, sizeof field, "lines[%zu].unit_amount", i), field),
                             "quantity times unit_amount must be at most %lld", AMOUNT_MAX);
        else
        if (line->discount_amount > (int64_t) line->quantity * line->unit_amount)
            svc_field_error (reply, (snprintf (field, sizeof field, "lines[%zu].discount_amount", i), field),
                             "must not be more than quantity times unit_amount");
        if (line->period_start_ms && line->period_end_ms && line->period_end_ms < line->period_start_ms)
            svc_field_error (reply, (snprintf (field, sizeof field, "lines[%zu].period_end", i), field),
                             "must not be before period_start");
        if (line->tax_rate != 10 && line->tax_rate != 8 && line->tax_rate != 0)
            svc_field_error (reply, (snprintf (field, sizeof field, "lines[%zu].tax_rate", i), field),
                             "must be 10, 8 or 0");
        line->discount_amount = 0;
        line->amount = (int64_t) line->quantity * line->unit_amount;
    }
    char rank [33], status [16];
    int rc = -1;
    if (reply->status == KAIIN__STATUS__OK
    &&  member_ref_lookup (reply, create->member_id, "member_id", false, rank, status) == 0) {
        Kaiin__Billing__Settings *settings = settings_load (request->db);
        int64_t now = billing_now (request);
        int due_days = create->due_days? create->due_days: settings? settings->invoice_due_days: 14;
        invoice_spec_t spec = { create->member_id, "", "", "manual", mode, create->lines, create->n_lines,
                                0, 0, now + due_days * DAY_MS, false };
        Kaiin__Billing__Invoice *invoice = NULL;
        if (settings && billing_begin (request->db) == 0
        &&  (invoice = invoice_insert (request->db, &spec, now)) && billing_commit (request->db) == 0) {
            rc = svc_reply_with (reply, &invoice->base);
        }
        else {
            pg_rollback (request->db);
            svc_db_fail (reply, request->db);
        }
        if (invoice)
            protobuf_c_message_free_unpacked (&invoice->base, NULL);
        if (settings)
            protobuf_c_message_free_unpacked (&settings->base, NULL);
    }
    protobuf_c_message_free_unpacked (&create->base, NULL);
    return rc;
}

int
invoice_api_get (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__IdRequest *get = (Kaiin__Billing__IdRequest *)
        svc_unpack (request, &kaiin__billing__id_request__descriptor, reply);
    if (!get)
        return -1;
    int rc = billing_uuid (get->id)? s_reply_invoice (request, reply, get->id)
                                   : svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "invoice not found");
    protobuf_c_message_free_unpacked (&get->base, NULL);
    return rc;
}

int
invoice_api_list (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__ListRequest *list = (Kaiin__Billing__ListRequest *)
        svc_unpack (request, &kaiin__billing__list_request__descriptor, reply);
    if (!list)
        return -1;
    char before [24], limit [24];
    billing_page (reply, list, before, limit);
    billing_check_enum (reply, "status", list->status, s_statuses, false);
    int rc = -1;
    if (reply->status == KAIIN__STATUS__OK) {
        const char *params [] = { before, list->member_id, list->status, list->subscription_id, limit };
        PGresult *result = billing_run (request, reply, "invoice_list", 5, params);
        if (result) {
            /* Lists carry each invoice's header; its lines are on GET /v1/invoices/{id}. */
            rc = billing_reply_rows (reply, result, atoi (limit), &kaiin__billing__invoice_list__descriptor);
            PQclear (result);
        }
    }
    protobuf_c_message_free_unpacked (&list->base, NULL);
    return rc;
}

int
invoice_api_action (svc_request_t *request, svc_reply_t *reply)
{
    static const char *const actions [] = { "finalize", "pay", "void", "mark_uncollectible", NULL };
    Kaiin__Billing__InvoiceActionRequest *action = (Kaiin__Billing__InvoiceActionRequest *)
        svc_unpack (request, &kaiin__billing__invoice_action_request__descriptor, reply);
    if (!action)
        return -1;
    billing_check_enum (reply, "action", action->action, actions, true);
    pg_t *db = request->db;
    int64_t now = billing_now (request);
    Kaiin__Billing__Invoice *invoice = NULL;
    Kaiin__Billing__PaymentMethod *method = NULL;
    Kaiin__Billing__Payment *payment = NULL;
    bool done = false;
    if (reply->status != KAIIN__STATUS__OK)
        ;
    else
    if (!billing_uuid (action->id) || billing_begin (db) == -1
    ||  !(invoice = invoice_load (db, action->id, true))) {
        if (*pg_sqlstate (db))
            svc_db_fail (reply, db);
        else
            svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "invoice not found");
    }
    else
    if (strcmp (action->action, "finalize") == 0) {
        if (strcmp (invoice->status, "draft") != 0)
            svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION, "only a draft invoice can be finalised");
        else {
            char now_text [24];
            const char *params [] = { invoice->id, NUM (now_text, now) };
            PGresult *result = pg_run (db, "invoice_finalize", 2, params);
            s_ids_add (&s_unnumbered, invoice->id);
            done = result && outbox_append (db, "invoice.finalized", invoice->id, &invoice->base, now) == 0;
            PQclear (result);
        }
    }
    else
    if (strcmp (action->action, "pay") == 0) {
        char status [16];
        char key [128];
        if (strcmp (invoice->status, "open") != 0 && strcmp (invoice->status, "uncollectible") != 0)
            svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION, "only an open or uncollectible invoice can be paid");
        else
        if ((method = payment_method_find (request, reply, invoice->member_id, action->payment_method_id,
                                           "payment_method_id"))) {
            char attempt [120];
            snprintf (attempt, sizeof attempt, "%s:%s", invoice->id, request->envelope->request_id);
            billing_provider_key (request, "invoice", attempt, key, sizeof key);
            payment = payment_collect (db, invoice, method, key, now, status);
            done = payment || strcmp (status, "paid") == 0;
        }
    }
    else {
        const char *target = strcmp (action->action, "void") == 0? "void": "uncollectible";
        if (strcmp (invoice->status, "open") != 0)
            svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION, "only an open invoice can be made %s", target);
        else
            done = invoice_set_status (db, invoice->id, target, now) == 0;
    }
    int rc = -1;
    if (done && billing_commit (db) == 0)
        rc = s_reply_invoice (request, reply, invoice->id);
    else {
        pg_rollback (db);
        if (reply->status == KAIIN__STATUS__OK)
            svc_db_fail (reply, db);
    }
    if (payment)
        protobuf_c_message_free_unpacked (&payment->base, NULL);
    if (method)
        protobuf_c_message_free_unpacked (&method->base, NULL);
    if (invoice)
        protobuf_c_message_free_unpacked (&invoice->base, NULL);
    protobuf_c_message_free_unpacked (&action->base, NULL);
    return rc;
}

int
invoice_tick (pg_t *db, int64_t now_ms)
{
    char now [24];
    const char *params [] = { NUM (now, now_ms) };
    if (pg_begin (db) == -1)
        return -1;
    PGresult *result = pg_run (db, "invoice_overdue", 1, params);
    int done = result? PQntuples (result): -1;
    for (int row = 0; row < done; row++) {
        Kaiin__Billing__Invoice *invoice = invoice_load (db, PQgetvalue (result, row, 0), false);
        if (!invoice || outbox_append (db, "invoice.overdue", invoice->id, &invoice->base, now_ms) == -1)
            done = -1;
        if (invoice)
            protobuf_c_message_free_unpacked (&invoice->base, NULL);
    }
    PQclear (result);
    if (done < 0 || pg_commit (db) == -1) {
        pg_rollback (db);
        return -1;
    }
    return done;
}
