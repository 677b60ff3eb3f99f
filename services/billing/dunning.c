/* dunning.c - what its invoice's payments do to a subscription: a failed one starts or goes on
   with dunning (retries at the settings' days, then the final action), a paid invoice makes it
   active again (or starts an incomplete one) */
#include "dunning.h"
#include "settings.h"
#include "subscription.h"
#include "suspension.h"
#include <string.h>

int
dunning_invoice_paid (pg_t *db, const char *subscription_id, int64_t now_ms)
{
    subscription_row_t row = { NULL, "", 0, 0, 0 };
    int found = subscription_row_load (db, subscription_id, &row);
    if (found != 1)
        return found;
    /* Suspended for a company's invoice on terms: the member's invoices all paid bring it
       back (suspension.c), not this one's alone. */
    int held = suspension_held (db, subscription_id);
    int rc = held < 0? -1: 0;
    const char *status = row.sub->status;
    if (held == 0 && billing_one_of (status, (const char *const []) { "incomplete", "past_due", "unpaid", NULL })) {
        const char *type = strcmp (status, "incomplete") == 0? "subscription.started": "subscription.updated";
        billing_string_set (&row.sub->status, "active");
        row.sub->retry_count = 0;
        row.sub->next_retry_at_ms = 0;
        rc = subscription_row_write (db, &row, now_ms) == 0
          && subscription_event (db, subscription_id, type, now_ms) == 0? 0: -1;
    }
    subscription_row_free (&row);
    return rc;
}

int
dunning_payment_failed (pg_t *db, const char *subscription_id, const char *invoice_id, int64_t now_ms)
{
    subscription_row_t row = { NULL, "", 0, 0, 0 };
    int found = subscription_row_load (db, subscription_id, &row);
    if (found != 1)
        return found;
    Kaiin__Billing__Settings *settings = settings_load (db);
    Kaiin__Billing__Invoice *invoice = invoice_load (db, invoice_id, false);
    int rc = -1;
    const char *status = row.sub->status;
    if (!settings || !invoice)
        ;
    else
    if (strcmp (status, "incomplete") == 0 || strcmp (status, "canceled") == 0 || strcmp (status, "unpaid") == 0)
        rc = 0;                     /* incomplete expires by itself; nothing else retries */
    else {
        int attempt = strcmp (status, "past_due") == 0? row.sub->retry_count + 1: 0;
        row.sub->retry_count = attempt;
        if ((size_t) attempt >= settings->n_retry_days) {
            if (strcmp (settings->final_action, "unpaid") == 0) {
                billing_string_set (&row.sub->status, "unpaid");
                row.sub->next_retry_at_ms = 0;
                rc = subscription_row_write (db, &row, now_ms) == 0
                  && subscription_event (db, subscription_id, "subscription.updated", now_ms) == 0? 0: -1;
            }
            else {
                /* Involuntary churn: the reason says so, unless the member gave one */
                if (!*row.sub->cancel_reason)
                    billing_string_set (&row.sub->cancel_reason, "payment_failed");
                rc = invoice_set_status (db, invoice_id, "uncollectible", now_ms) == 0
                  && subscription_end (db, &row, now_ms) == 0? 0: -1;
            }
        }
        else {
            /* Retries count from the invoice's issue: +1, +3, +7 days by default. */
            billing_string_set (&row.sub->status, "past_due");
            row.sub->next_retry_at_ms = invoice->issued_at_ms + settings->retry_days [attempt] * DAY_MS;
            if (row.sub->next_retry_at_ms <= now_ms)
                row.sub->next_retry_at_ms = now_ms + DAY_MS;
            rc = subscription_row_write (db, &row, now_ms) == 0
              && (attempt > 0 || subscription_event (db, subscription_id, "subscription.updated", now_ms) == 0)? 0: -1;
        }
    }
    if (invoice)
        protobuf_c_message_free_unpacked (&invoice->base, NULL);
    if (settings)
        protobuf_c_message_free_unpacked (&settings->base, NULL);
    subscription_row_free (&row);
    return rc;
}

const invoice_owner_t dunning_owner = { dunning_invoice_paid, dunning_payment_failed };
