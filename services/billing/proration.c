/* proration.c - 日割 and credits: what a plan change mid-period credits and charges, and how
   a credit comes off the next periods' lines */
#include "proration.h"
#include "coupon.h"
#include <stdio.h>
#include <string.h>

/* A price including tax: what a tax-exclusive amount comes to at rate (rounded down, as an
   invoice of that one line would be), or the amount itself when it includes tax already. */
static int64_t
s_with_tax (int64_t amount, const char *tax_mode, int rate)
{
    return strcmp (tax_mode, "inclusive") == 0? amount: amount + amount * rate / 100;
}

int64_t
proration_gross (const Kaiin__Billing__Plan *plan)
{
    return s_with_tax (plan->amount, plan->tax_mode, plan->tax_rate);
}

const char *
proration_period_line (Kaiin__Billing__InvoiceLine *line, const Kaiin__Billing__Plan *plan,
                       const Kaiin__Billing__Coupon *coupon, int64_t *credit, int64_t start_ms,
                       int64_t end_ms, char description [160])
{
    kaiin__billing__invoice_line__init (line);
    snprintf (description, 160, "%s", plan->name);
    line->description = description;
    line->sku = plan->code;
    line->quantity = 1;
    line->unit_amount = plan->amount;
    line->tax_rate = plan->tax_rate;
    line->discount_amount = coupon? coupon_discount (coupon, plan->amount): 0;
    line->amount = plan->amount - line->discount_amount;
    line->period_start_ms = start_ms;
    line->period_end_ms = end_ms;
    if (*credit <= 0 || line->amount == 0)
        return plan->tax_mode;
    int64_t due = s_with_tax (line->amount, plan->tax_mode, plan->tax_rate);
    int64_t used = *credit < due? *credit: due;
    *credit -= used;
    line->unit_amount = proration_gross (plan);
    line->amount = due - used;
    line->discount_amount = line->unit_amount - line->amount;
    return "inclusive";
}

void
proration_parts (int64_t old_gross, int64_t new_gross, int64_t start_ms, int64_t end_ms, int64_t now_ms,
                 bool same_cycle, int64_t *credit, int64_t *charge)
{
    int64_t period_days = (end_ms - start_ms) / DAY_MS;
    int64_t remaining = (end_ms - now_ms + DAY_MS - 1) / DAY_MS;
    if (period_days < 1)
        period_days = 1;
    if (remaining > period_days)
        remaining = period_days;
    *credit = old_gross * remaining / period_days;
    *charge = same_cycle? new_gross * remaining / period_days: new_gross;
}

int64_t
proration_change (int64_t old_gross, int64_t new_gross, int64_t start_ms, int64_t end_ms, int64_t now_ms,
                  bool same_cycle)
{
    int64_t credit, charge;
    proration_parts (old_gross, new_gross, start_ms, end_ms, now_ms, same_cycle, &credit, &charge);
    return charge - credit;
}
