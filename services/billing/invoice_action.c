/* invoice_action.c - an invoice's life by request: finalize, pay (collected through its
   payment method, so this sits above payment.c), mark paid by hand, void, mark uncollectible */
#include "invoice_action.h"
#include "billing_txn.h"
#include "invoice.h"
#include "outbox.h"
#include "payment.h"
#include "payment_method.h"
#include <stdio.h>
#include <string.h>

int
invoice_api_action (svc_request_t *request, svc_reply_t *reply)
{
    static const char *const actions [] = { "finalize", "pay", "mark_paid", "void", "mark_uncollectible", NULL };
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
    if (strcmp (action->action, "mark_paid") == 0 && action->paid_at_ms > now)
        svc_field_error (reply, "paid_at", "must not be in the future");
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
            done = invoice_finalize (db, invoice, now) == 0
                && outbox_append (db, "invoice.finalized", invoice->id, &invoice->base, now) == 0;
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
    else
    if (strcmp (action->action, "mark_paid") == 0) {
        if (strcmp (invoice->status, "open") != 0 && strcmp (invoice->status, "uncollectible") != 0)
            svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION, "only an open or uncollectible invoice can be paid");
        else
        if (action->paid_at_ms && action->paid_at_ms < invoice->issued_at_ms)
            svc_field_error (reply, "paid_at", "must not be before the invoice was issued");
        else {
            payment_manual_t manual = { .method_type = action->method, .note = action->note,
                .recorded_by = request->envelope->caller_id, .bank_reference = "",
                .paid_at_ms = action->paid_at_ms };
            payment = payment_record (db, invoice, &manual, now);
            done = payment != NULL;
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
        rc = invoice_reply (request, reply, invoice->id);
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
