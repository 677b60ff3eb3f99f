/* test_billing_rules.c - consumption tax per rate, billing periods and proration (日割),
   against values worked out by hand (billing.c, coupon.c and proration.c are included, as
   h2o's unit tests do, to reach them without a database) */
#include "check.h"
#include "../../services/billing/billing.c"
#include "../../services/billing/coupon.c"
#include "../../services/billing/proration.c"

/* The taxes of lines given as (amount, rate) pairs. */
static int
s_tax (const int64_t (*given) [2], size_t count, bool inclusive, billing_tax_t taxes [3])
{
    Kaiin__Billing__InvoiceLine storage [8], *lines [8];
    for (size_t i = 0; i < count; i++) {
        kaiin__billing__invoice_line__init (&storage [i]);
        storage [i].amount = given [i][0];
        storage [i].tax_rate = (int32_t) given [i][1];
        lines [i] = &storage [i];
    }
    return billing_tax (lines, count, inclusive, taxes);
}

/* A plan of amount yen in tax_mode at rate. */
static Kaiin__Billing__Plan
s_plan (int64_t amount, const char *tax_mode, int rate)
{
    Kaiin__Billing__Plan plan = KAIIN__BILLING__PLAN__INIT;
    plan.name = "Plan";
    plan.code = "plan";
    plan.amount = amount;
    plan.tax_mode = (char *) tax_mode;
    plan.tax_rate = rate;
    return plan;
}

/* Whether line is unit, discount, amount (yen). */
static bool
s_line (const Kaiin__Billing__InvoiceLine *line, int64_t unit, int64_t discount, int64_t amount)
{
    return line->quantity == 1 && line->unit_amount == unit && line->discount_amount == discount
        && line->amount == amount;
}

static bool
s_is (const billing_tax_t *tax, int rate, int64_t amount, int64_t taxable, int64_t tax_yen)
{
    return tax->rate == rate && tax->amount == amount && tax->taxable_amount == taxable
        && tax->tax == tax_yen;
}

int
main (void)
{
    billing_tax_t taxes [3];
    /* 税抜: ¥1,000 at 10% is ¥100; ¥999 at 8% is 79.92, rounded down: ¥79; the 10% rate first. */
    CHECK (s_tax ((const int64_t [][2]) { { 999, 8 }, { 1000, 10 } }, 2, false, taxes) == 2);
    CHECK (s_is (&taxes [0], 10, 1000, 1000, 100) && s_is (&taxes [1], 8, 999, 999, 79));
    /* One rounding per rate, not per line: 333 + 334 = 667 at 8% is 53.36 → ¥53 (26 + 26 = 52
       line by line). */
    CHECK (s_tax ((const int64_t [][2]) { { 333, 8 }, { 334, 8 } }, 2, false, taxes) == 1);
    CHECK (s_is (&taxes [0], 8, 667, 667, 53));
    /* 税込: ¥1,100 at 10% holds 1100 × 10 / 110 = ¥100; ¥355 (¥1,100 less a ¥745 credit) holds
       32.27 → ¥32, taxable ¥323. */
    CHECK (s_tax ((const int64_t [][2]) { { 1100, 10 } }, 1, true, taxes) == 1);
    CHECK (s_is (&taxes [0], 10, 1100, 1000, 100));
    CHECK (s_tax ((const int64_t [][2]) { { 355, 10 } }, 1, true, taxes) == 1);
    CHECK (s_is (&taxes [0], 10, 355, 323, 32));
    /* ¥1,080 at 8% inclusive holds ¥80; a 0% line has no tax. */
    CHECK (s_tax ((const int64_t [][2]) { { 1080, 8 }, { 500, 0 } }, 2, true, taxes) == 2);
    CHECK (s_is (&taxes [0], 8, 1080, 1000, 80) && s_is (&taxes [1], 0, 500, 500, 0));

    /* Periods, in JST: a month from the 31st ends on the last day of a shorter month, and the
       anchor day comes back in a longer one; a leap February has its 29th. */
    CHECK (billing_period_end (1769785200000LL, "month", 1, 31) == 1772204400000LL);  /* 1/31 → 2/28 */
    CHECK (billing_period_end (1772204400000LL, "month", 1, 31) == 1774882800000LL);  /* 2/28 → 3/31 */
    CHECK (billing_period_end (1832857200000LL, "month", 1, 31) == 1835362800000LL);  /* 2028: 2/29 */
    CHECK (billing_period_end (1709132400000LL, "year", 1, 29) == 1740668400000LL);   /* 2024/2/29 → 2025/2/28 */
    /* The time of day and its milliseconds are kept: 2026-12-15 10:30:00.250 → 2027-01-15. */
    CHECK (billing_period_end (1797298200250LL, "month", 1, 15) == 1799976600250LL);
    CHECK (billing_day_of_month (1769785200000LL) == 31);                  /* 1/31 00:00 JST */
    CHECK (billing_day_of_month (1769785200000LL - 1) == 30);              /* a millisecond before */

    /* A plan's price with tax: ¥2,000 税抜 at 10% is ¥2,200; ¥999 at 8% is 999 + 79.92 →
       ¥1,078; a 税込 price is itself. */
    Kaiin__Billing__Plan plan = s_plan (2000, "exclusive", 10);
    CHECK (proration_gross (&plan) == 2200);
    plan = s_plan (999, "exclusive", 8);
    CHECK (proration_gross (&plan) == 1078);
    plan = s_plan (1100, "inclusive", 10);
    CHECK (proration_gross (&plan) == 1100);

    /* 日割, the README's case: ¥2,200 → ¥1,100 (both with tax) with 21 of 31 days left. Credit
       2200 × 21 / 31 = 1490.3 → ¥1,490; charge 1100 × 21 / 31 = 745.2 → ¥745; 745 − 1490 =
       −¥745, a credit. Ten days and an hour in, 20.96 days are left: counted as 21. */
    const int64_t day = 86400000LL, start = 1769785200000LL;           /* 2026-01-31 JST */
    CHECK (proration_change (2200, 1100, start, start + 31 * day, start + 10 * day, true) == -745);
    CHECK (proration_change (2200, 1100, start, start + 31 * day, start + 10 * day + 3600000, true) == -745);
    /* Up: ¥1,000 → ¥3,000 with 15 of 30 days left: 3000 × 15 / 30 − 1000 × 15 / 30 = 1500 −
       500 = ¥1,000 to charge. */
    CHECK (proration_change (1000, 3000, start, start + 30 * day, start + 15 * day, true) == 1000);
    /* Each side rounded down on its own: ¥200 → ¥400 with 1 of 3 days left: 133.3 → 133 less
       66.7 → 66 is ¥67 (rounding the difference, 200 / 3, would give 66). */
    CHECK (proration_change (200, 400, start, start + 3 * day, start + 2 * day, true) == 67);
    /* Another interval: the new plan in full, less the credit: 11000 − (1100 × 21 / 31 = 745.2
       → 745) = ¥10,255. */
    CHECK (proration_change (1100, 11000, start, start + 31 * day, start + 10 * day, false) == 10255);
    /* Before the period starts, at most the whole period is credited: 32 days left of 31 count
       as 31, so ¥6,200 − ¥3,100 = ¥3,100. */
    CHECK (proration_change (3100, 6200, start, start + 31 * day, start - day, true) == 3100);
    /* A period shorter than a day counts as one day, all of it left: 800 − 500 = ¥300. */
    CHECK (proration_change (500, 800, start, start + 12 * 3600000, start, true) == 300);

    /* A period's line. With a ¥745 credit, a ¥1,000 税抜 plan at 10% is written at its price
       with tax, ¥1,100, less the credit: ¥355, a discount of ¥745, on a tax-inclusive invoice;
       nothing of the credit is left. */
    Kaiin__Billing__InvoiceLine line;
    char description [160];
    int64_t credit = 745;
    plan = s_plan (1000, "exclusive", 10);
    CHECK (strcmp (proration_period_line (&line, &plan, NULL, &credit, start, start + 31 * day,
                                          description), "inclusive") == 0);
    CHECK (s_line (&line, 1100, 745, 355) && credit == 0 && line.tax_rate == 10);
    CHECK (line.period_start_ms == start && line.period_end_ms == start + 31 * day);
    /* A credit larger than the price: the line is ¥0 and ¥2,000 − ¥1,100 = ¥900 is kept. */
    credit = 2000;
    proration_period_line (&line, &plan, NULL, &credit, start, start + 31 * day, description);
    CHECK (s_line (&line, 1100, 1100, 0) && credit == 900);
    /* No credit: the plan's own price and tax mode, less a coupon's 10%: ¥1,000 − ¥100. */
    Kaiin__Billing__Coupon coupon = KAIIN__BILLING__COUPON__INIT;
    coupon.percent_off = 10;
    credit = 0;
    CHECK (strcmp (proration_period_line (&line, &plan, &coupon, &credit, start, start + 31 * day,
                                          description), "exclusive") == 0);
    CHECK (s_line (&line, 1000, 100, 900) && strcmp (line.description, "Plan") == 0);
    /* A coupon of ¥300 off and a ¥500 credit: ¥700 税抜 is ¥770 with tax, less 500 = ¥270, on
       a line of ¥1,100 with tax, so the discount is ¥830. */
    coupon.percent_off = 0;
    coupon.amount_off = 300;
    credit = 500;
    CHECK (strcmp (proration_period_line (&line, &plan, &coupon, &credit, start, start + 31 * day,
                                          description), "inclusive") == 0);
    CHECK (s_line (&line, 1100, 830, 270) && credit == 0);
    /* A coupon that takes all of it leaves the credit for later. */
    coupon.amount_off = 5000;
    credit = 500;
    CHECK (strcmp (proration_period_line (&line, &plan, &coupon, &credit, start, start + 31 * day,
                                          description), "exclusive") == 0);
    CHECK (s_line (&line, 1000, 1000, 0) && credit == 500);
    return check_report ("billing rules");
}
