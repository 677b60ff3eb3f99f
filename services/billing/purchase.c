/* purchase.c - one-off purchases and each member's billing summary

   A purchase is a row in purchases and an invoice (billing_reason "purchase") whose lines are
   the purchase's items: the items are read back from the invoice, not kept twice. */
#include "purchase.h"
#include "billing_txn.h"
#include "coupon.h"
#include "invoice.h"
#include "member_ref.h"
#include "outbox.h"
#include "payment.h"
#include "payment_method.h"
#include "terms.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PURCHASE_COLUMNS "id, member_id, tax_mode, coupon_code, payment_method_id, status," \
    " invoice_id, " MS ("created_at") " as created_at_ms, seq"
#define PAYMENT_COLUMNS "id, invoice_id, member_id, payment_method_id, method_type, provider," \
    " provider_ref, amount, amount_received, amount_refunded, status, failure_code," \
    " failure_message, konbini_number, bank_reference, " MS ("expires_at") " as expires_at_ms, " \
    MS ("created_at") " as created_at_ms, " MS ("settled_at") " as settled_at_ms"
#define ITEMS_MAX 100
#define QUANTITY_MAX 1000

static const char *const s_statuses [] = { "pending", "paid", "failed", "refunded", NULL };

void
purchase_prepare (pg_t *db)
{
    pg_prepare (db, "purchase_insert",
            "insert into purchases (member_id, tax_mode, coupon_code, payment_method_id, status,"
            " created_at) values ($1, $2, $3, nullif ($4, '')::uuid, 'pending', " AT ("$5") ") returning id");
    pg_prepare (db, "purchase_set_invoice",
            "update purchases set invoice_id = $2, gathered_total = $3::bigint where id = $1");
    pg_prepare (db, "purchase_failed",
            "update purchases set status = 'failed' where id = $1 and status = 'pending'");
    /* A failed purchase whose invoice is paid later (InvoiceAction pay) is paid too. */
    pg_prepare (db, "purchase_paid",
            "update purchases set status = 'paid' where id = $1 and status in ('pending', 'failed')"
            " returning " PURCHASE_COLUMNS);
    pg_prepare (db, "purchase_get",
            "select " PURCHASE_COLUMNS " from purchases where id = $1");
    pg_prepare (db, "purchase_list",
            "select " PURCHASE_COLUMNS " from purchases where seq < $1"
            " and ($2 = '' or member_id = nullif ($2, '')::uuid) and ($3 = '' or status = $3)"
            " order by seq desc limit $4");
    /* The lines of a gathered invoice (合算請求) that are this purchase's items. */
    pg_prepare (db, "purchase_gathered_lines",
            "select line from invoice_lines where invoice_id = $1 and purchase_id = $2 order by line");
    pg_prepare (db, "purchase_payment",
            "select " PAYMENT_COLUMNS " from payments where invoice_id = $1"
            " order by seq desc limit 1");
    pg_prepare (db, "purchase_summary",
            "select $1::text::uuid::text as member_id,"
            " (select count (*) from purchases where member_id = $1::text::uuid and status = 'paid')"
            "   as purchase_count,"
            " (select coalesce (sum (coalesce (p.gathered_total, i.total - i.amount_refunded)), 0) from purchases p"
            "   join invoices i on i.id = p.invoice_id"
            "   where p.member_id = $1::text::uuid and p.status = 'paid') as purchase_total,"
            " (select coalesce (sum (amount_received - amount_refunded), 0) from payments"
            "   where member_id = $1::text::uuid and status = 'succeeded') as lifetime_paid,"
            " (select count (*) from subscriptions where member_id = $1::text::uuid"
            "   and status in ('trialing', 'active', 'past_due')) as active_subscriptions,"
            " (select " MS ("min (created_at)") " from purchases"
            "   where member_id = $1::text::uuid and status = 'paid') as first_purchase_at_ms,"
            " (select " MS ("max (created_at)") " from purchases"
            "   where member_id = $1::text::uuid and status = 'paid') as last_purchase_at_ms");
}

/* Row of result as a whole Purchase: its items and invoice (the invoice's lines) and the
   invoice's latest payment. NULL on a database error. */
static Kaiin__Billing__Purchase *
s_purchase_build (pg_t *db, PGresult *result, int row)
{
    Kaiin__Billing__Purchase *purchase = (Kaiin__Billing__Purchase *)
        pg_row_message (result, row, &kaiin__billing__purchase__descriptor);
    int column = PQfnumber (result, "invoice_id");
    assert (column >= 0);
    if (PQgetisnull (result, row, column))
        return purchase;                /* only inside the transaction that creates it */
    const char *invoice_id = PQgetvalue (result, row, column);
    purchase->invoice = invoice_load (db, invoice_id, false);
    if (!purchase->invoice && *pg_sqlstate (db))
        goto fail;
    /* Its items are its invoice's lines; on a gathered one, only the lines of its own. */
    PGresult *own = NULL;
    if (purchase->invoice && strcmp (purchase->invoice->purchase_id, purchase->id) != 0) {
        const char *params [] = { invoice_id, purchase->id };
        if (!(own = pg_run (db, "purchase_gathered_lines", 2, params)))
            goto fail;
    }
    size_t count = !purchase->invoice? 0: own? (size_t) PQntuples (own): purchase->invoice->n_lines;
    for (size_t i = 0; i < count; i++) {
        size_t index = own? (size_t) atoi (PQgetvalue (own, (int) i, 0)) - 1: i;
        if (index >= purchase->invoice->n_lines)
            continue;
        const Kaiin__Billing__InvoiceLine *line = purchase->invoice->lines [index];
        Kaiin__Billing__PurchaseItem *item = malloc (sizeof *item);
        assert (item);
        kaiin__billing__purchase_item__init (item);
        item->sku = strdup (line->sku);
        item->description = strdup (line->description);
        assert (item->sku && item->description);
        item->quantity = line->quantity;
        item->unit_amount = line->unit_amount;
        item->tax_rate = line->tax_rate;
        pg_row_append ((void ***) &purchase->items, &purchase->n_items, item);
    }
    PQclear (own);
    const char *params [] = { invoice_id };
    PGresult *payment = pg_run (db, "purchase_payment", 1, params);
    if (!payment)
        goto fail;
    if (PQntuples (payment))
        purchase->payment = (Kaiin__Billing__Payment *)
            pg_row_message (payment, 0, &kaiin__billing__payment__descriptor);
    PQclear (payment);
    return purchase;
fail:
    protobuf_c_message_free_unpacked (&purchase->base, NULL);
    return NULL;
}

/* The purchase with this id; NULL with the reply's error set (404, database). */
static Kaiin__Billing__Purchase *
s_purchase_find (svc_request_t *request, svc_reply_t *reply, const char *id)
{
    if (!billing_uuid (id)) {
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "purchase not found");
        return NULL;
    }
    const char *params [] = { id };
    PGresult *result = billing_run (request, reply, "purchase_get", 1, params);
    if (!result)
        return NULL;
    Kaiin__Billing__Purchase *purchase = NULL;
    if (PQntuples (result) == 0)
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "purchase not found");
    else
    if (!(purchase = s_purchase_build (request->db, result, 0)))
        svc_db_fail (reply, request->db);
    PQclear (result);
    return purchase;
}

/* The invoice of a purchase was paid in full (caller's transaction). 0 or -1. */
static int
s_invoice_paid (pg_t *db, const char *purchase_id, int64_t now_ms)
{
    const char *params [] = { purchase_id };
    PGresult *result = pg_run (db, "purchase_paid", 1, params);
    if (!result)
        return -1;
    int rc = 0;
    if (PQntuples (result)) {           /* else paid already (or refunded): nothing to tell */
        Kaiin__Billing__Purchase *purchase = s_purchase_build (db, result, 0);
        rc = purchase && outbox_append (db, "purchase.completed", purchase_id, &purchase->base,
                                        now_ms) == 0? 0: -1;
        if (purchase)
            protobuf_c_message_free_unpacked (&purchase->base, NULL);
    }
    PQclear (result);
    return rc;
}

/* The payment of a pending purchase failed or expired (caller's transaction). 0 or -1. */
static int
s_payment_lost (pg_t *db, const char *purchase_id)
{
    const char *params [] = { purchase_id };
    PGresult *result = pg_run (db, "purchase_failed", 1, params);
    PQclear (result);
    return result? 0: -1;
}

/* s_payment_lost as an invoice's owner is told it. */
static int
s_owner_payment_lost (pg_t *db, const char *purchase_id, const char *invoice_id, int64_t now_ms)
{
    (void) invoice_id;
    (void) now_ms;
    return s_payment_lost (db, purchase_id);
}

const invoice_owner_t purchase_owner = { s_invoice_paid, s_owner_payment_lost };

/* Field errors for the items, and for their total (before discounts) over AMOUNT_MAX. */
static void
s_check_items (svc_reply_t *reply, const Kaiin__Billing__PurchaseCreateRequest *create)
{
    if (create->n_items < 1 || create->n_items > ITEMS_MAX) {
        svc_field_error (reply, "items", "must have 1 to %d items", ITEMS_MAX);
        return;
    }
    int64_t total = 0;
    bool amounts_ok = true;
    for (size_t i = 0; i < create->n_items; i++) {
        const Kaiin__Billing__PurchaseItem *item = create->items [i];
        char field [48];
        if (*item->sku) {
            snprintf (field, sizeof field, "items[%zu].sku", i);
            billing_check_text (reply, field, item->sku, 64);
        }
        snprintf (field, sizeof field, "items[%zu].description", i);
        billing_check_text (reply, field, item->description, 200);
        bool ok = true;
        if (item->quantity < 1 || item->quantity > QUANTITY_MAX) {
            snprintf (field, sizeof field, "items[%zu].quantity", i);
            svc_field_error (reply, field, "must be from 1 to %d", QUANTITY_MAX);
            ok = false;
        }
        if (item->unit_amount < 0 || item->unit_amount > AMOUNT_MAX) {
            snprintf (field, sizeof field, "items[%zu].unit_amount", i);
            svc_field_error (reply, field, "must be from 0 to %lld yen", AMOUNT_MAX);
            ok = false;
        }
        if (item->tax_rate != 10 && item->tax_rate != 8) {
            snprintf (field, sizeof field, "items[%zu].tax_rate", i);
            svc_field_error (reply, field, "must be 10 or 8");
        }
        if (ok)                         /* at most 10^15 each, 10^17 in all: no overflow */
            total += item->quantity * item->unit_amount;
        amounts_ok = amounts_ok && ok;
    }
    if (amounts_ok && total > AMOUNT_MAX)
        svc_field_error (reply, "items", "must come to at most %lld yen in all", AMOUNT_MAX);
}

/* The invoice lines of the items, the coupon's discount taken off: a percentage off each
   line (rounded down), or an amount off the lines in order until it is used up. */
static void
s_lines (const Kaiin__Billing__PurchaseCreateRequest *create, const Kaiin__Billing__Coupon *coupon,
         Kaiin__Billing__InvoiceLine *storage, Kaiin__Billing__InvoiceLine **lines)
{
    int64_t amount_left = coupon && !coupon->percent_off? coupon->amount_off: 0;
    for (size_t i = 0; i < create->n_items; i++) {
        const Kaiin__Billing__PurchaseItem *item = create->items [i];
        Kaiin__Billing__InvoiceLine *line = &storage [i];
        kaiin__billing__invoice_line__init (line);
        line->sku = item->sku;                  /* borrowed from the request */
        line->description = item->description;
        line->quantity = item->quantity;
        line->unit_amount = item->unit_amount;
        line->tax_rate = item->tax_rate;
        int64_t gross = (int64_t) item->quantity * item->unit_amount;
        if (coupon && coupon->percent_off)
            line->discount_amount = coupon_discount (coupon, gross);
        else {
            line->discount_amount = amount_left < gross? amount_left: gross;
            amount_left -= line->discount_amount;
        }
        line->amount = gross - line->discount_amount;
        lines [i] = line;
    }
}

/* Inserts the purchase and its invoice, redeems the coupon and collects the payment, in one
   transaction; then answers the purchase as stored. A company's (terms in force, method NULL)
   is invoiced on its terms and stays pending until its invoice is paid. */
static int
s_create (svc_request_t *request, svc_reply_t *reply,
          const Kaiin__Billing__PurchaseCreateRequest *create,
          const Kaiin__Billing__Coupon *coupon, const Kaiin__Billing__PaymentMethod *method,
          const terms_t *terms)
{
    pg_t *db = request->db;
    int64_t now = billing_now (request);
    size_t count = create->n_items;
    Kaiin__Billing__InvoiceLine *storage = calloc (count, sizeof *storage);
    Kaiin__Billing__InvoiceLine **lines = calloc (count, sizeof *lines);
    assert (storage && lines);
    s_lines (create, coupon, storage, lines);

    char purchase_id [40] = "", now_text [24], status [16] = "";
    Kaiin__Billing__Invoice *invoice = NULL;
    Kaiin__Billing__Payment *payment = NULL;
    PGresult *result = NULL;
    int rc = -1;
    if (billing_begin (db) == -1) {
        svc_db_fail (reply, db);
        goto done;
    }
    const char *params [] = { create->member_id, create->tax_mode, coupon? coupon->code: "", method? method->id: "",
                              NUM (now_text, now) };
    if (!(result = pg_run (db, "purchase_insert", 5, params)))
        goto fail;
    snprintf (purchase_id, sizeof purchase_id, "%s", PQgetvalue (result, 0, 0));
    PQclear (result);
    invoice_spec_t spec = {
        .member_id = create->member_id, .subscription_id = "", .purchase_id = purchase_id,
        .billing_reason = "purchase", .tax_mode = create->tax_mode, .lines = lines, .n_lines = count,
        .finalize = true, .collect_now = !terms->closing_day,
        .due_at_ms = terms->closing_day? terms_due_ms (terms, now, NULL): 0,
        .closing_ms = terms_gather_ms (terms, now)
    };
    if (!(invoice = invoice_insert (db, &spec, now)))
        goto fail;
    /* on a gathered invoice (合算請求), what it comes to alone is kept with it */
    char gathered [24];
    const char *link [] = { purchase_id, invoice->id,
                            spec.closing_ms? NUM (gathered, invoice_total (lines, count, create->tax_mode)): NULL };
    if (!(result = pg_run (db, "purchase_set_invoice", 3, link)))
        goto fail;
    PQclear (result);
    if (coupon) {
        int redeemed = coupon_redeem (db, coupon, create->member_id, NULL, invoice->id, now);
        if (redeemed == -1)
            goto fail;
        if (redeemed == 1) {
            if (*create->coupon_code)
                svc_field_error (reply, "coupon_code", "has been redeemed as often as it may be");
            else
                svc_fail (reply, KAIIN__STATUS__ABORTED,
                          "the promotion '%s' ran out meanwhile; try again", coupon->code);
            goto fail;
        }
    }
    char key [128];
    billing_provider_key (request, "purchase", purchase_id, key, sizeof key);
    if (method)
        payment = payment_collect (db, invoice, method, key, now, status);
    if (method && !payment && strcmp (status, "paid") != 0) {
        if (!*pg_sqlstate (db) && !pg_lost (db))
            svc_fail (reply, KAIIN__STATUS__UNAVAILABLE,
                      "the payment provider could not be reached; nothing was charged");
        goto fail;
    }
    /* succeeded or paid: the invoice is paid, and s_invoice_paid made the purchase
       paid; pending: konbini or bank transfer, until the provider's webhook. */
    if (strcmp (status, "failed") == 0 && s_payment_lost (db, purchase_id) == -1)
        goto fail;
    if (billing_commit (db) == -1)
        goto fail;
    Kaiin__Billing__Purchase *purchase = s_purchase_find (request, reply, purchase_id);
    if (purchase) {
        rc = svc_reply_with (reply, &purchase->base);
        protobuf_c_message_free_unpacked (&purchase->base, NULL);
    }
    goto done;
fail:
    if (reply->status == KAIIN__STATUS__OK)
        svc_db_fail (reply, db);
    pg_rollback (db);
done:
    if (invoice)
        protobuf_c_message_free_unpacked (&invoice->base, NULL);
    if (payment)
        protobuf_c_message_free_unpacked (&payment->base, NULL);
    free (storage);
    free (lines);
    return rc;
}

int
purchase_api_create (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__PurchaseCreateRequest *create = (Kaiin__Billing__PurchaseCreateRequest *)
        svc_unpack (request, &kaiin__billing__purchase_create_request__descriptor, reply);
    if (!create)
        return -1;
    s_check_items (reply, create);
    char rank [33], member_status [16];
    Kaiin__Billing__Coupon *coupon = NULL;
    Kaiin__Billing__PaymentMethod *method = NULL;
    terms_t terms = { 0 };
    if (reply->status == KAIIN__STATUS__OK
    &&  member_ref_lookup (reply, create->member_id, "member_id", true, rank, member_status) == 0) {
        coupon = coupon_pick (request, reply, create->coupon_code, create->member_id, rank, "",
                              "purchases");
        if (terms_find (request->db, create->member_id, &terms) == -1)
            svc_db_fail (reply, request->db);
        /* Both fields' errors at once, unless the database failed. A company on its terms
           pays by transfer: no method. */
        if ((reply->status == KAIIN__STATUS__OK || reply->status == KAIIN__STATUS__INVALID_ARGUMENT)
        &&  !terms.closing_day)
            method = payment_method_find (request, reply, create->member_id,
                                          create->payment_method_id, "payment_method_id");
    }
    int rc = -1;
    if (reply->status == KAIIN__STATUS__OK && (method || terms.closing_day))
        rc = s_create (request, reply, create, coupon, method, &terms);
    if (coupon)
        protobuf_c_message_free_unpacked (&coupon->base, NULL);
    if (method)
        protobuf_c_message_free_unpacked (&method->base, NULL);
    protobuf_c_message_free_unpacked (&create->base, NULL);
    return rc;
}

int
purchase_api_get (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__IdRequest *get = (Kaiin__Billing__IdRequest *)
        svc_unpack (request, &kaiin__billing__id_request__descriptor, reply);
    if (!get)
        return -1;
    Kaiin__Billing__Purchase *purchase = s_purchase_find (request, reply, get->id);
    protobuf_c_message_free_unpacked (&get->base, NULL);
    if (!purchase)
        return -1;
    svc_reply_with (reply, &purchase->base);
    protobuf_c_message_free_unpacked (&purchase->base, NULL);
    return 0;
}

int
purchase_api_list (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__ListRequest *list = (Kaiin__Billing__ListRequest *)
        svc_unpack (request, &kaiin__billing__list_request__descriptor, reply);
    if (!list)
        return -1;
    char before [24], limit [24];
    billing_page (reply, list, before, limit);
    billing_check_enum (reply, "status", list->status, s_statuses, false);
    int rc = -1;
    PGresult *result = NULL;
    if (reply->status == KAIIN__STATUS__OK) {
        const char *params [] = { before, list->member_id, list->status, limit };
        result = billing_run (request, reply, "purchase_list", 4, params);
    }
    if (result) {
        Kaiin__Billing__PurchaseList purchases = KAIIN__BILLING__PURCHASE_LIST__INIT;
        bool ok = true;
        for (int row = 0; ok && row < PQntuples (result); row++) {
            Kaiin__Billing__Purchase *purchase = s_purchase_build (request->db, result, row);
            if (purchase)
                pg_row_append ((void ***) &purchases.data, &purchases.n_data, purchase);
            else
                ok = false;
        }
        char cursor [24];
        billing_next_cursor (result, atoi (limit), cursor);
        purchases.next_cursor = cursor;
        if (ok)
            rc = svc_reply_with (reply, &purchases.base);
        else
            svc_db_fail (reply, request->db);
        for (size_t i = 0; i < purchases.n_data; i++)
            protobuf_c_message_free_unpacked (&purchases.data [i]->base, NULL);
        free (purchases.data);
        PQclear (result);
    }
    protobuf_c_message_free_unpacked (&list->base, NULL);
    return rc;
}

int
purchase_api_summary (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__IdRequest *get = (Kaiin__Billing__IdRequest *)
        svc_unpack (request, &kaiin__billing__id_request__descriptor, reply);
    if (!get)
        return -1;
    int rc = -1;
    if (!billing_uuid (get->id))
        svc_field_error (reply, "id", "must be a member id");
    else {
        /* A member billing never heard of has a summary of zeros: billing does not ask the
           member service whether the id is a member's. */
        const char *params [] = { get->id };
        ProtobufCMessage *summary = billing_get (request, reply, "purchase_summary", 1, params,
                                                 &kaiin__billing__billing_summary__descriptor,
                                                 "billing summary not found");
        if (summary) {
            rc = svc_reply_with (reply, summary);
            protobuf_c_message_free_unpacked (summary, NULL);
        }
    }
    protobuf_c_message_free_unpacked (&get->base, NULL);
    return rc;
}
