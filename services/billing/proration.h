/* proration.h - 日割 and credits: what a plan change mid-period credits and charges, and how
   a credit comes off the next periods' lines */
#ifndef KAIIN_BILLING_PRORATION_H
#define KAIIN_BILLING_PRORATION_H
#include "billing.h"

/* A plan's price including tax, for proration across tax modes: a tax-exclusive price plus
   its tax at the plan's rate, rounded down (as an invoice of that one line would be). */
int64_t proration_gross (const Kaiin__Billing__Plan *plan);

/* The price line of a period: the plan's amount, less the coupon's discount (coupon may be
   NULL) and any credit, of which *credit keeps what is left. Returns the invoice's tax mode.
   A credit is an amount including tax (it was worked out from prices including tax), so it
   comes off the price including tax: a tax-exclusive plan's line with a credit is written at
   its price including tax, and its invoice is tax-inclusive, the tax of what is left worked
   out once from that (適格請求書: one rounding per rate). line's strings are description
   (filled here) and the plan's code, borrowed. */
const char *proration_period_line (Kaiin__Billing__InvoiceLine *line, const Kaiin__Billing__Plan *plan,
                                   const Kaiin__Billing__Coupon *coupon, int64_t *credit,
                                   int64_t start_ms, int64_t end_ms, char description [160]);

/* What changing plan at now_ms in the period [start_ms, end_ms) comes to, by the day, on
   prices including tax: the old plan's unused days are credited, *credit = floor (old_gross ×
   remaining / period_days), and the new plan charged, *charge = for the same days when
   same_cycle (floor (new_gross × remaining / period_days)), else in full (a new period starts
   now). remaining is the days left rounded up, at most period_days; period_days at least 1. */
void proration_parts (int64_t old_gross, int64_t new_gross, int64_t start_ms, int64_t end_ms,
                      int64_t now_ms, bool same_cycle, int64_t *credit, int64_t *charge);

/* proration_parts' charge − credit: positive to charge now, negative a credit for the next
   renewals. */
int64_t proration_change (int64_t old_gross, int64_t new_gross, int64_t start_ms, int64_t end_ms,
                          int64_t now_ms, bool same_cycle);

#endif
