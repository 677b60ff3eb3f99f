/* main.c - kaiin-billing: plans, subscriptions, invoices, payments, coupons, purchases */
#include "billing_http.h"
#include "billing_messages.h"
#include "billing_txn.h"
#include "coupon.h"
#include "deposit.h"
#include "config.h"
#include "dunning.h"
#include "invoice.h"
#include "invoice_action.h"
#include "invoice_pdf.h"
#include "log.h"
#include "member_events.h"
#include "payment.h"
#include "payment_method.h"
#include "plan.h"
#include "provider.h"
#include "purchase.h"
#include "renewal.h"
#include "scheduler.h"
#include "settings.h"
#include "subscription.h"
#include "suspension.h"
#include "terms.h"
#include "svc.h"
#include <stdlib.h>
#include <string.h>

/* The font invoices and receipts are set in: IPA Gothic (fonts-ipafont-gothic), TrueType. */
#define PDF_FONT "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf"

static const svc_method_t s_methods [] = {
    { "PlanCreate",             plan_api_create,                 false },
    { "PlanGet",                plan_api_get,                    false },
    { "PlanList",               plan_api_list,                   false },
    { "PlanUpdate",             plan_api_update,                 false },
    { "PaymentMethodAttach",    payment_method_api_attach,       false },
    { "PaymentMethodList",      payment_method_api_list,         false },
    { "PaymentMethodGet",       payment_method_api_get,          false },
    { "PaymentMethodDetach",    payment_method_api_detach,       false },
    { "SubscriptionCreate",     subscription_api_create,         true },
    { "SubscriptionGet",        subscription_api_get,            false },
    { "SubscriptionList",       subscription_api_list,           false },
    { "SubscriptionCancel",     subscription_api_cancel,         false },
    { "SubscriptionChangePlan", subscription_api_change_plan,    true },
    { "SubscriptionChangePlanPreview", subscription_api_change_plan_preview, false },
    { "SubscriptionResume",     subscription_api_resume,         false },
    { "InvoiceCreate",          invoice_api_create,              false },
    { "InvoiceGet",             invoice_api_get,                 false },
    { "InvoiceList",            invoice_api_list,                false },
    { "InvoiceAction",          invoice_api_action,              true },
    { "InvoicePdf",             invoice_api_pdf,                 false },
    { "PaymentGet",             payment_api_get,                 false },
    { "PaymentList",            payment_api_list,                false },
    { "RefundCreate",           refund_api_create,               true },
    { "RefundGet",              refund_api_get,                  false },
    { "RefundList",             refund_api_list,                 false },
    { "CouponCreate",           coupon_api_create,               false },
    { "CouponGet",              coupon_api_get,                  false },
    { "CouponList",             coupon_api_list,                 false },
    { "CouponDeactivate",       coupon_api_deactivate,           false },
    { "PurchaseCreate",         purchase_api_create,             true },
    { "PurchaseGet",            purchase_api_get,                false },
    { "PurchaseList",           purchase_api_list,               false },
    { "Summary",                purchase_api_summary,            false },
    { "Webhook",                webhook_api_receive,             false },
    { "BankStatementImport",    deposit_api_import,              false },
    { "DepositList",            deposit_api_list,                false },
    { "DepositGet",             deposit_api_get,                 false },
    { "DepositAction",          deposit_api_action,              false },
    { "PaymentTermsGet",        terms_api_get,                   false },
    { "PaymentTermsPut",        terms_api_put,                   false },
    { "SettingsGet",            settings_api_get,                false },
    { "SettingsUpdate",         settings_api_update,             false },
    { NULL, NULL, false }
};

/* The events of other services this one follows. */
static const svc_consumer_t s_consumers [] = {
    { "member", member_events_apply },
    { NULL, NULL }
};

static void
s_prepare (pg_t *db)
{
    settings_prepare (db);
    billing_txn_prepare (db);
    plan_prepare (db);
    payment_method_prepare (db);
    invoice_prepare (db);
    payment_prepare (db);
    subscription_prepare (db);
    renewal_prepare (db);
    coupon_prepare (db);
    purchase_prepare (db);
    scheduler_prepare (db);
    member_events_prepare (db);
    deposit_prepare (db);
    terms_prepare (db);
    suspension_prepare (db);
}

/* The batches of every kind of scheduled work due by step. Returns how many items they did. */
static int
s_batches (pg_t *db, int64_t step)
{
    /* Suspensions first: a subscription suspended by step is not renewed in it. */
    int suspended = suspension_tick (db, step);
    int renewals = suspended < 0? -1: renewal_tick (db, step);
    int payments = renewals < 0? -1: payment_tick (db, step);
    int invoices = payments < 0? -1: invoice_tick (db, step);
    int methods = invoices < 0? -1: payment_method_tick (db, step);
    int reconciled = methods < 0? -1: payment_reconcile (db, step);
    return reconciled < 0? -1: suspended + renewals + payments + invoices + methods + reconciled;
}

/* Alone (the scheduler taken, so no batch runs): finds the next step when there is none, or
   moves past the current one, whose batches found nothing left. Returns 1 while there is more
   to do by now_ms (something falls due after the step by then), 0 when all is done, -1. Not
   "the step is before now_ms": the step found when nothing falls due is the now of that tick,
   always before the next tick's, and the tick threads went round finding and passing such
   steps without rest. */
static int
s_schedule (pg_t *db, int64_t step, int64_t now_ms)
{
    if (step == 0) {
        step = scheduler_step (db, now_ms);
        return step < 0 || scheduler_set (db, step) == -1? -1: 1;
    }
    if (scheduler_advance (db, step) == -1)
        return -1;
    return step < now_ms? scheduler_due (db, now_ms): 0;
}

/* Everything due by now, in the order it fell due: each step's batches side by side on every
   tick thread and process, the step moved on by one of them alone once they are done. */
static int
s_tick (pg_t *db, int64_t now_ms)
{
    if (scheduler_share (db, true) == -1)
        return -1;
    int64_t step = scheduler_current (db);
    int done = step > 0? s_batches (db, step): 0;
    if (scheduler_share (db, false) == -1 || step < 0)
        return -1;
    if (done != 0)
        return done;                    /* the same step again: its batches are not all done */
    /* Waits for the batches still running elsewhere (a try that gave up while any ran let
       two or three tick loops miss each other's gaps for minutes, each spinning), then moves
       on from the step unless another tick did so meanwhile. */
    if (scheduler_take (db, true) == -1)
        return -1;
    int64_t current = scheduler_current (db);
    int rc = current < 0? -1: current == step? s_schedule (db, step, now_ms): 1;
    if (scheduler_take (db, false) == -1)
        rc = -1;
    return rc;
}

/* Its figures in billing.Prometheus (GET /metrics/billing), besides the runtime's. */
static const svc_gauge_t s_gauges [] = {
    { "kaiin_subscriptions", "Subscriptions by status.", "status",
      "select status, count (*) from subscriptions group by status order by status" },
    { "kaiin_invoices", "Invoices by status.", "status",
      "select status, count (*) from invoices group by status order by status" },
    { "kaiin_payments", "Payments by status.", "status",
      "select status, count (*) from payments group by status order by status" },
    { "kaiin_payments_yen", "The amounts of payments by status, in yen (tax included).", "status",
      "select status, sum (amount) from payments group by status order by status" },
    { NULL, NULL, NULL, NULL }
};

int
main (int argc, char **argv)
{
    const char *secret = getenv ("BILLING_SANDBOX_WEBHOOK_SECRET");
    bool serving = argc < 2 || strcmp (argv [1], "--healthcheck") != 0;
    if (serving && (!secret || strlen (secret) < 16)) {
        log_error ("BILLING_SANDBOX_WEBHOOK_SECRET must be set (16 characters or more)");
        return 1;
    }
    if (serving && provider_init (config_str ("BILLING_PROVIDER", "sandbox")) == -1)
        return 1;
    if (serving && invoice_pdf_init (config_str ("BILLING_PDF_FONT", PDF_FONT)) == -1)
        return 1;
    invoice_set_owners (&dunning_owner, &purchase_owner);
    payment_set_bank_transfer_days ((int) config_int ("BILLING_BANK_TRANSFER_DAYS", 7, 1, 60));
    payment_set_provider_calls ((int) config_int ("BILLING_PROVIDER_CALLS", 4, 1, 32));
    svc_def_t billing = { .name = "billing", .methods = s_methods, .prepare = s_prepare, .tick = s_tick,
                          .consumers = s_consumers, .http = &billing_http, .messages = billing_messages,
                          .gauges = s_gauges };
    return svc_main (&billing, argc, argv);
}
