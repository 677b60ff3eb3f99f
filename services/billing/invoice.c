/* invoice.c - invoices: lines, consumption tax per rate, the qualified-invoice fields,
   and their life from draft to paid, void or uncollectible (billing_txn.c numbers them,
   invoice_action.c serves the requests that move them) */
#include "invoice.h"
#include "billing_txn.h"
#include "clock.h"
#include "invoice_pdf.h"
#include "member_ref.h"
#include "outbox.h"
#include "settings.h"
#include "suspension.h"
#include "terms.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define INVOICE_COLUMNS "id, " INVOICE_NUMBER " as number, member_id, coalesce (subscription_id::text, '') as subscription_id," \
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

static const char *const s_statuses [] = { "draft", "open", "paid", "void", "uncollectible", NULL };

/* Who is told what became of a subscription's or a purchase's invoice. */
static const invoice_owner_t *s_subscriptions, *s_purchases;

void
invoice_set_owners (const invoice_owner_t *subscriptions, const invoice_owner_t *purchases)
{
    s_subscriptions = subscriptions;
    s_purchases = purchases;
}

void
invoice_prepare (pg_t *db)
{
    pg_prepare (db, "invoice_insert",
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
            " select id, issuer_name, registration_number, (select id from pay) from invoice");
    /* 合算請求 (s_gather): the member's draft gathering a closing period, made once (another
       transaction making it meanwhile, this one waits for it and takes it), then locked. */
    pg_prepare (db, "invoice_gathering_make",
            "insert into invoices (member_id, status, billing_reason, tax_mode, due_at, closing_at, created_at)"
            " values ($1, 'draft', 'consolidated', $2, " AT ("$4") ", " AT ("$3") ", " AT ("$5") ")"
            " on conflict (member_id, closing_at, tax_mode) where status = 'draft' and closing_at is not null"
            " do nothing");
    pg_prepare (db, "invoice_gathering",
            "select id from invoices where member_id = $1 and tax_mode = $2 and closing_at = " AT ("$3")
            " and status = 'draft' for update");
    /* Its new lines after those it has ($2), each with the purchase it is of ($12), and its
       taxes and sums as worked out over all of them. */
    pg_prepare (db, "invoice_gather",
            "with lines as (insert into invoice_lines (invoice_id, line, description, sku, quantity, unit_amount,"
            "  discount_amount, amount, tax_rate, period_start, period_end, purchase_id)"
            "  select $1, $2 + l.n, l.description, l.sku, l.quantity, l.unit_amount, l.discount_amount,"
            "  l.amount, l.tax_rate, " AT ("l.period_start") ", " AT ("l.period_end") ", nullif ($12, '')::uuid"
            "  from unnest ($3::text [], $4::text [], $5::int [], $6::bigint [], $7::bigint [], $8::bigint [],"
            "  $9::int [], $10::bigint [], $11::bigint []) with ordinality as l (description, sku, quantity,"
            "  unit_amount, discount_amount, amount, tax_rate, period_start, period_end, n)),"
            " taxes as (insert into invoice_taxes (invoice_id, rate, amount, taxable_amount, tax)"
            "  select $1, t.rate, t.amount, t.taxable_amount, t.tax"
            "  from unnest ($13::int [], $14::bigint [], $15::bigint [], $16::bigint []) as t (rate, amount, taxable_amount, tax)"
            "  on conflict (invoice_id, rate) do update set amount = excluded.amount,"
            "  taxable_amount = excluded.taxable_amount, tax = excluded.tax)"
            " update invoices set subtotal = $17, tax_total = $18, total = $19, discount_total = $20,"
            " version = version + 1 where id = $1::uuid");
    /* A draft's due date counts from its issue: the days it was given at creation, or
       a company's terms from the issue ($3, terms.c). */
    pg_prepare (db, "invoice_finalize",
            "update invoices i set status = 'open', issued_at = " AT ("$2") ","
            " due_at = coalesce (" AT ("$3") ", " AT ("$2") " + greatest (i.due_at - i.created_at, interval '0')),"
            " issuer_name = s.issuer_name, registration_number = s.registration_number, version = i.version + 1"
            " from settings s where i.id = $1 and i.status = 'draft' returning i.id");
    /* The gathering drafts whose closing date has passed, but not while a subscription of the
       member is still to be renewed by then (its renewal joins the draft first). */
    pg_prepare (db, "invoice_closing_due",
            "select i.id, " MS ("i.closing_at") " from invoices i where i.status = 'draft'"
            " and i.closing_at < " AT ("$1") " and not exists (select 1 from subscriptions s"
            "  where s.member_id = i.member_id and s.status in ('trialing', 'active')"
            "  and s.current_period_end <= i.closing_at)"
            " order by i.closing_at limit 200 for update of i skip locked");
    pg_prepare (db, "invoice_get", "select " INVOICE_COLUMNS " from invoices where id = $1");
    pg_prepare (db, "invoice_lock", "select " INVOICE_COLUMNS " from invoices where id = $1 for update");
    pg_prepare (db, "invoice_lines",
            "select " LINE_COLUMNS " from invoice_lines where invoice_id = $1 order by line");
    pg_prepare (db, "invoice_taxes",
            "select rate, amount, taxable_amount, tax from invoice_taxes where invoice_id = $1"
            " order by rate desc");
    pg_prepare (db, "invoice_list",
            "select " INVOICE_COLUMNS " from invoices where seq < $1 and ($2 = '' or member_id = $2::text::uuid)"
            " and ($3 = '' or status = $3) and ($4 = '' or subscription_id = $4::text::uuid)"
            " and ($6 = '' or number = $6::bigint) order by seq desc limit $5");
    pg_prepare (db, "invoice_pay",
            "update invoices set amount_paid = amount_paid + $2,"
            " status = case when amount_paid + $2 >= total then 'paid' else status end,"
            " paid_at = case when amount_paid + $2 >= total then " AT ("$3") " else paid_at end,"
            " version = version + 1 where id = $1 and status in ('open', 'uncollectible')"
            " returning status, coalesce (subscription_id::text, ''),"
            /* its purchase, or a gathered one's purchases */
            " coalesce (purchase_id::text, (select string_agg (p.id::text, ' ') from purchases p"
            "  where p.invoice_id = invoices.id and invoices.billing_reason = 'consolidated'), ''),"
            " coalesce ((select s.status from subscriptions s where s.id = subscription_id), '')");
    pg_prepare (db, "invoice_reopen",
            "update invoices set amount_paid = amount_paid - $2, status = 'open', paid_at = null,"
            " version = version + 1 where id = $1 and status in ('open', 'paid') and amount_paid >= $2"
            " returning id");
    pg_prepare (db, "invoice_status",
            "update invoices set status = $2, voided_at = case when $2 = 'void' then " AT ("$3") " end,"
            " version = version + 1 where id = $1 and status = 'open' returning id");
    /* Overdue: open past its due date, and no longer being collected by itself. A
       subscription's invoice in dunning (past_due) or awaiting its first payment
       (incomplete), or one with a pending konbini or bank payment, has payment.failed
       and its retries to tell; it is overdue once they are over (final action unpaid). */
    pg_prepare (db, "invoice_overdue",
            "update invoices set overdue_notified = true where id in (select i.id from invoices i"
            " where i.status = 'open' and i.due_at < " AT ("$1") " and not i.overdue_notified"
            " and not exists (select 1 from subscriptions s where s.id = i.subscription_id"
            "  and s.latest_invoice_id = i.id and s.status in ('past_due', 'incomplete'))"
            " and not exists (select 1 from payments p where p.invoice_id = i.id and p.status = 'pending')"
            " order by i.due_at limit 200 for update of i skip locked) returning id");
}

int
invoice_announce (pg_t *db, const Kaiin__Billing__Invoice *invoice, int64_t now_ms)
{
    if (!billing_txn_take_announcement (invoice->id))
        return 0;
    return outbox_append (db, "invoice.finalized", invoice->id, &invoice->base, now_ms);
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

/* The lines and taxes of an invoice's statement, as arrays, one per column. */
enum { DESCRIPTION, SKU, QUANTITY, UNIT, DISCOUNT, AMOUNT, RATE, FROM, TO,
       TAX_RATE, TAX_AMOUNT, TAX_TAXABLE, TAX_TAX, ARRAYS };

/* An invoice's figures: lines (count of them) the tax per rate is worked out over, once per
   rate (billing_tax), into taxes, n_taxes and the sums; the lines from the first new one on,
   and the taxes, into arrays (the caller frees their text). */
typedef struct {
    billing_tax_t taxes [3];
    int n_taxes;
    int64_t subtotal, tax_total, total, discount;
    pg_buffer_t arrays [ARRAYS];
} s_figures_t;

static void
s_figures (Kaiin__Billing__InvoiceLine *const *lines, size_t count, size_t first_new, const char *tax_mode,
           s_figures_t *figures)
{
    memset (figures, 0, sizeof *figures);
    billing_tax_t *taxes = figures->taxes;
    figures->n_taxes = billing_tax (lines, count, strcmp (tax_mode, "inclusive") == 0, taxes);
    for (int i = 0; i < figures->n_taxes; i++) {
        figures->subtotal += taxes [i].taxable_amount;
        figures->tax_total += taxes [i].tax;
        figures->total += taxes [i].taxable_amount + taxes [i].tax;
    }
    pg_buffer_t *arrays = figures->arrays;
    for (size_t i = 0; i < count; i++) {
        const Kaiin__Billing__InvoiceLine *line = lines [i];
        figures->discount += line->discount_amount;
        if (i < first_new)
            continue;
        char number [24];
        pg_array_add (&arrays [DESCRIPTION], line->description, true);
        pg_array_add (&arrays [SKU], line->sku, true);
        pg_array_add (&arrays [QUANTITY], NUM (number, line->quantity), false);
        pg_array_add (&arrays [UNIT], NUM (number, line->unit_amount), false);
        pg_array_add (&arrays [DISCOUNT], NUM (number, line->discount_amount), false);
        pg_array_add (&arrays [AMOUNT], NUM (number, line->amount), false);
        pg_array_add (&arrays [RATE], NUM (number, line->tax_rate), false);
        pg_array_add (&arrays [FROM], NUM (number, line->period_start_ms), false);
        pg_array_add (&arrays [TO], NUM (number, line->period_end_ms), false);
    }
    for (int i = 0; i < figures->n_taxes; i++) {
        char number [24];
        pg_array_add (&arrays [TAX_RATE], NUM (number, taxes [i].rate), false);
        pg_array_add (&arrays [TAX_AMOUNT], NUM (number, taxes [i].amount), false);
        pg_array_add (&arrays [TAX_TAXABLE], NUM (number, taxes [i].taxable_amount), false);
        pg_array_add (&arrays [TAX_TAX], NUM (number, taxes [i].tax), false);
    }
    for (int a = 0; a < ARRAYS; a++)
        pg_array_close (&arrays [a]);
}

static void
s_figures_free (s_figures_t *figures)
{
    for (int a = 0; a < ARRAYS; a++)
        free (figures->arrays [a].text);
}

/* 合算請求: spec's lines join the member's draft gathering the period that closes at
   spec->closing_ms (made when there is none yet), its tax per rate worked out again over all
   its lines. Returns the draft as it now is, or NULL on a database error. */
static Kaiin__Billing__Invoice *
s_gather (pg_t *db, const invoice_spec_t *spec, int64_t now_ms)
{
    char closing [24], due [24], now [24];
    const char *find [] = { spec->member_id, spec->tax_mode, NUM (closing, spec->closing_ms),
                            NUM (due, spec->due_at_ms), NUM (now, now_ms) };
    PGresult *result = pg_run (db, "invoice_gathering_make", 5, find);
    PQclear (result);
    if (!result || !(result = pg_run (db, "invoice_gathering", 3, find)))
        return NULL;
    char id [37] = "";
    if (PQntuples (result) == 1)
        snprintf (id, sizeof id, "%s", PQgetvalue (result, 0, 0));
    PQclear (result);
    Kaiin__Billing__Invoice *draft = *id? invoice_load (db, id, false): NULL;
    if (!draft)
        return NULL;
    size_t count = draft->n_lines + spec->n_lines;
    Kaiin__Billing__InvoiceLine **lines = calloc (count, sizeof *lines);
    assert (lines);
    for (size_t i = 0; i < count; i++)           /* a new draft's lines are NULL */
        lines [i] = i < draft->n_lines? draft->lines [i]: spec->lines [i - draft->n_lines];
    s_figures_t figures;
    s_figures (lines, count, draft->n_lines, spec->tax_mode, &figures);
    free (lines);
    pg_buffer_t *arrays = figures.arrays;
    char first [24], subtotal [24], tax [24], total [24], discount [24];
    const char *params [] = { id, NUM (first, draft->n_lines),
        arrays [DESCRIPTION].text, arrays [SKU].text, arrays [QUANTITY].text, arrays [UNIT].text,
        arrays [DISCOUNT].text, arrays [AMOUNT].text, arrays [RATE].text, arrays [FROM].text,
        arrays [TO].text, spec->purchase_id, arrays [TAX_RATE].text, arrays [TAX_AMOUNT].text,
        arrays [TAX_TAXABLE].text, arrays [TAX_TAX].text, NUM (subtotal, figures.subtotal),
        NUM (tax, figures.tax_total), NUM (total, figures.total), NUM (discount, figures.discount) };
    result = pg_run (db, "invoice_gather", 20, params);
    s_figures_free (&figures);
    protobuf_c_message_free_unpacked (&draft->base, NULL);
    PQclear (result);
    return result? invoice_load (db, id, false): NULL;
}

Kaiin__Billing__Invoice *
invoice_insert (pg_t *db, const invoice_spec_t *spec, int64_t now_ms)
{
    if (spec->closing_ms)
        return s_gather (db, spec, now_ms);
    s_figures_t figures;
    s_figures (spec->lines, spec->n_lines, 0, spec->tax_mode, &figures);
    const billing_tax_t *taxes = figures.taxes;
    int n_taxes = figures.n_taxes;
    int64_t subtotal = figures.subtotal, tax_total = figures.tax_total, total = figures.total,
            discount = figures.discount;
    pg_buffer_t *arrays = figures.arrays;
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
    s_figures_free (&figures);
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
        billing_txn_number (invoice->id, spec->purchase_id);
        const char *event = spec->paid_by? "invoice.paid": "invoice.finalized";
        if (spec->collect_now && !spec->paid_by)
            billing_txn_defer_announcement (invoice->id);
        else
        if (outbox_append (db, event, invoice->id, &invoice->base, now_ms) == -1) {
            protobuf_c_message_free_unpacked (&invoice->base, NULL);
            return NULL;
        }
    }
    return invoice;
}

/* Tells what paid the invoice: invoice.paid, and its subscription or its purchases (ids
   separated by spaces) told by their owners. 1, or -1 on a database error. */
static int
s_paid (pg_t *db, const Kaiin__Billing__Invoice *invoice, int64_t amount, const char *subscription,
        const char *subscription_status, const char *purchases, int64_t now_ms)
{
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
    &&  s_subscriptions->invoice_paid (db, subscription, now_ms) == -1)
        return -1;
    for (const char *purchase = purchases; *purchase; purchase += strspn (purchase, " ")) {
        char id [37];
        size_t length = strcspn (purchase, " ");
        snprintf (id, sizeof id, "%.*s", (int) length, purchase);
        if (s_purchases->invoice_paid (db, id, now_ms) == -1)
            return -1;
        purchase += length;
    }
    /* A company's subscriptions suspended for its invoices on terms: back once none is late. */
    if (suspension_invoice_paid (db, invoice->member_id, now_ms) == -1)
        return -1;
    return 1;
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
    char subscription [37] = "", subscription_status [16] = "";
    char *purchases = NULL;
    if (paid) {
        snprintf (subscription, sizeof subscription, "%s", PQgetvalue (result, 0, 1));
        purchases = strdup (PQgetvalue (result, 0, 2));
        assert (purchases);
        snprintf (subscription_status, sizeof subscription_status, "%s", PQgetvalue (result, 0, 3));
    }
    PQclear (result);
    if (!paid)
        return 0;
    int rc = s_paid (db, invoice, amount, subscription, subscription_status, purchases, now_ms);
    free (purchases);
    return rc;
}

int
invoice_payment_lost (pg_t *db, const Kaiin__Billing__Invoice *invoice, int64_t now_ms)
{
    bool open = strcmp (invoice->status, "open") == 0;
    return *invoice->subscription_id && open
        ? s_subscriptions->payment_lost (db, invoice->subscription_id, invoice->id, now_ms)
        : *invoice->purchase_id && open? s_purchases->payment_lost (db, invoice->purchase_id, invoice->id, now_ms): 0;
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

int
invoice_reopen (pg_t *db, const char *invoice_id, int64_t amount)
{
    char amount_text [24];
    const char *params [] = { invoice_id, NUM (amount_text, amount) };
    PGresult *result = pg_run (db, "invoice_reopen", 2, params);
    int rc = result && PQntuples (result) == 1? 0: -1;
    PQclear (result);
    return rc;
}

/* The invoice id as the caller may see it: NULL with 404 (an id that is not a uuid, an
   unknown invoice, another member's for a member's session) or a database error set. */
static Kaiin__Billing__Invoice *
s_load_seen (svc_request_t *request, svc_reply_t *reply, const char *id)
{
    Kaiin__Billing__Invoice *invoice = billing_uuid (id)? invoice_load (request->db, id, false): NULL;
    if (!invoice && billing_uuid (id) && *pg_sqlstate (request->db)) {
        svc_db_fail (reply, request->db);
        return NULL;
    }
    if (invoice && !billing_caller_may_see (request, invoice->member_id)) {
        protobuf_c_message_free_unpacked (&invoice->base, NULL);
        invoice = NULL;
    }
    if (!invoice)
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "invoice not found");
    return invoice;
}

int
invoice_reply (svc_request_t *request, svc_reply_t *reply, const char *id)
{
    Kaiin__Billing__Invoice *invoice = s_load_seen (request, reply, id);
    if (!invoice)
        return -1;
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
        /* A company's on its terms: the draft's due date, worked out again when it is issued. */
        int64_t due = terms_due_for (request->db, create->member_id, now, due_days * DAY_MS);
        invoice_spec_t spec = { create->member_id, "", "", "manual", create->tax_mode, create->lines, create->n_lines,
                                0, 0, due, false };
        Kaiin__Billing__Invoice *invoice = NULL;
        if (settings && due != -1 && billing_begin (request->db) == 0
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
    int rc = invoice_reply (request, reply, get->id);
    protobuf_c_message_free_unpacked (&get->base, NULL);
    return rc;
}

/* The CPU time this thread has used, in milliseconds: what making a PDF costs, whatever else
   the machine runs. */
static double
s_thread_cpu_ms (void)
{
    struct timespec spent;
    clock_gettime (CLOCK_THREAD_CPUTIME_ID, &spent);
    return spent.tv_sec * 1e3 + spent.tv_nsec / 1e6;
}

/* Answers the PDF as InvoicePdf, with its file name and what making it took (Server-Timing:
   the wall time and this thread's CPU time, in ms). 0 or -1. */
static int
s_reply_pdf (svc_reply_t *reply, const Kaiin__Billing__Invoice *invoice, const char *recipient,
             int64_t closing_ms, bool receipt)
{
    int64_t started_us = clock_mono_us ();
    double started_cpu = s_thread_cpu_ms ();
    size_t size = 0;
    uint8_t *pdf = invoice_pdf_make (invoice, recipient, closing_ms, receipt, &size);
    if (!pdf)
        return svc_fail (reply, KAIIN__STATUS__INTERNAL, "the PDF could not be made");
    double cpu_ms = s_thread_cpu_ms () - started_cpu;
    double wall_ms = (clock_mono_us () - started_us) / 1e3;
    Kaiin__Billing__InvoicePdf answer = KAIIN__BILLING__INVOICE_PDF__INIT;
    answer.pdf.data = pdf;
    answer.pdf.len = size;
    svc_reply_with (reply, &answer.base);
    free (pdf);
    svc_reply_header (reply, "Content-Disposition", "inline; filename=\"%s%s.pdf\"",
                      receipt? "receipt-": "", invoice->number);
    svc_reply_header (reply, "Server-Timing", "pdf;dur=%.1f, pdf-cpu;dur=%.1f", wall_ms, cpu_ms);
    return 0;
}

int
invoice_api_pdf (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__InvoicePdfRequest *ask = (Kaiin__Billing__InvoicePdfRequest *)
        svc_unpack (request, &kaiin__billing__invoice_pdf_request__descriptor, reply);
    if (!ask)
        return -1;
    int rc = -1;
    char recipient [256];
    terms_t terms;
    int64_t closing_ms = 0;
    Kaiin__Billing__Invoice *invoice = s_load_seen (request, reply, ask->id);
    if (!invoice)
        ;
    else
    if (strcmp (invoice->status, "draft") == 0)
        svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION,
                  "a draft is not issued yet: it has no number, no PDF and no receipt");
    else
    if (ask->receipt && strcmp (invoice->status, "paid") != 0)
        svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION, "only a paid invoice has a receipt: this one is %s",
                  invoice->status);
    else
    if (terms_find (request->db, invoice->member_id, &terms) == -1)
        svc_db_fail (reply, request->db);
    else
    if (member_ref_name (reply, invoice->member_id, recipient, sizeof recipient) == 0) {
        if (terms.closing_day)          /* a company's: the closing date of its issue */
            terms_due_ms (&terms, invoice->issued_at_ms, &closing_ms);
        rc = s_reply_pdf (reply, invoice, recipient, closing_ms, ask->receipt);
    }
    if (invoice)
        protobuf_c_message_free_unpacked (&invoice->base, NULL);
    protobuf_c_message_free_unpacked (&ask->base, NULL);
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
    /* the number as shown: "INV-" and 8 digits (the gateway checked its characters) */
    const char *number = list->number;
    if (*number && (strncmp (number, "INV-", 4) != 0 || strlen (number) != 12
                    || strspn (number + 4, "0123456789") != 8))
        svc_field_error (reply, "number", "must be an invoice number such as INV-00000012");
    int rc = -1;
    if (reply->status == KAIIN__STATUS__OK) {
        const char *params [] = { before, list->member_id, list->status, list->subscription_id, limit,
                                  *number? number + 4: "" };
        PGresult *result = billing_run (request, reply, "invoice_list", 6, params);
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
invoice_finalize (pg_t *db, const Kaiin__Billing__Invoice *invoice, int64_t issued_ms)
{
    char issued [24], due_text [24];
    terms_t terms;
    if (terms_find (db, invoice->member_id, &terms) == -1)
        return -1;
    int64_t due = terms.closing_day? terms_due_ms (&terms, issued_ms, NULL): 0;
    const char *params [] = { invoice->id, NUM (issued, issued_ms), NUM (due_text, due) };
    PGresult *result = pg_run (db, "invoice_finalize", 3, params);
    if (!result)
        return -1;
    PQclear (result);
    billing_txn_number (invoice->id, invoice->purchase_id);
    return 0;
}

/* The tick's work on one invoice of a due statement's row (its id, locked, first): 0 or -1. */
typedef int (s_due_fn) (pg_t *db, PGresult *due, int row, int64_t now_ms);

/* 合算請求: a gathering draft whose closing date (the row's second column) has passed is issued
   on that date, numbered as the tick's transaction commits, and announced invoice.finalized. */
static int
s_close (pg_t *db, PGresult *due, int row, int64_t now_ms)
{
    int64_t closing_ms = strtoll (PQgetvalue (due, row, 1), NULL, 10);
    Kaiin__Billing__Invoice *invoice = invoice_load (db, PQgetvalue (due, row, 0), false);
    Kaiin__Billing__Invoice *issued = NULL;
    int rc = invoice && invoice_finalize (db, invoice, closing_ms) == 0
          && (issued = invoice_load (db, invoice->id, false))
          && outbox_append (db, "invoice.finalized", issued->id, &issued->base, now_ms) == 0? 0: -1;
    if (issued)
        protobuf_c_message_free_unpacked (&issued->base, NULL);
    if (invoice)
        protobuf_c_message_free_unpacked (&invoice->base, NULL);
    return rc;
}

/* An open invoice past its due date: invoice.overdue. */
static int
s_overdue (pg_t *db, PGresult *due, int row, int64_t now_ms)
{
    Kaiin__Billing__Invoice *invoice = invoice_load (db, PQgetvalue (due, row, 0), false);
    int rc = invoice && outbox_append (db, "invoice.overdue", invoice->id, &invoice->base, now_ms) == 0? 0: -1;
    if (invoice)
        protobuf_c_message_free_unpacked (&invoice->base, NULL);
    return rc;
}

/* Each row of the statement name run at now_ms, stepped in the caller's transaction. Returns
   how many, or -1. */
static int
s_each_due (pg_t *db, const char *name, s_due_fn *step, int64_t now_ms)
{
    char now [24];
    const char *params [] = { NUM (now, now_ms) };
    PGresult *result = pg_run (db, name, 1, params);
    int done = result? PQntuples (result): -1;
    for (int row = 0; row < done; row++)
        if (step (db, result, row, now_ms) == -1)
            done = -1;
    PQclear (result);
    return done;
}

int
invoice_tick (pg_t *db, int64_t now_ms)
{
    if (billing_begin (db) == -1)
        return -1;
    int closed = s_each_due (db, "invoice_closing_due", s_close, now_ms);
    int overdue = closed < 0? -1: s_each_due (db, "invoice_overdue", s_overdue, now_ms);
    if (overdue < 0 || billing_commit (db) == -1) {
        pg_rollback (db);
        return -1;
    }
    return closed + overdue;
}
