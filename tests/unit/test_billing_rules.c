/* test_billing_rules.c - consumption tax per rate and billing periods, against values worked
   out by hand (billing.c is included, as h2o's unit tests do, to reach it without a database) */
#include "check.h"
#include "../../services/billing/billing.c"

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
    return check_report ("billing rules");
}
