"""test_billing_clock.py - billing over months, with the test clock (POST /v1/test/clock returns once
every service has done the work due): trials ending, renewals with gap-free invoice numbers,
cancel at period end, proration by the day, credit balances, dunning retries and the final
cancel, konbini expiry, repeating coupons, and the member's status following.

The suite is this module's own: its clock only moves forward."""

import datetime

import pytest

from billing_util import (DAY_MS, attach, billing_suite, clock, create_plan, finish_suite,
                          invoice, invoice_numbers_contiguous, invoices, member_status,
                          member_with_card, ms, now_ms, ok, payments, subscribe, subscription,
                          uniq)

HOUR_MS = 3600 * 1000


@pytest.fixture(scope="module")
def cs():
    s = billing_suite("billclock")
    yield s
    finish_suite(s)


@pytest.fixture
def c(cs):
    return cs.client


def cycle_invoices(c, sid):
    return [i for i in invoices(c, subscription_id=sid) if i["billing_reason"] == "subscription_cycle"]


def outbox_count(cs, type_, aggregate_id):
    return int(cs.sql("select count(*) from billing.outbox where type = '%s' and aggregate_id = '%s'"
                      % (type_, aggregate_id))[0][0])


def test_trial_ends_active_and_charged_once(cs, c):
    p = create_plan(c, amount=1000, trial_days=7, rank="premium")
    m, _ = member_with_card(c)
    s = subscribe(c, m["id"], p, trial_days=7)
    assert s["status"] == "trialing", s
    trial_end = ms(s["trial_end"])
    clock(c, to=trial_end - HOUR_MS)
    assert subscription(c, s["id"])["status"] == "trialing"
    assert [x for x in payments(c, member_id=m["id"]) if x["status"] == "succeeded"] == []
    assert member_status(c, m["id"]) == ("paid", "premium")       # paid while trialing
    clock(c, to=trial_end + HOUR_MS)
    x = subscription(c, s["id"])
    assert x["status"] == "active", x
    assert ms(x["current_period_start"]) == trial_end
    paid = [y for y in payments(c, member_id=m["id"]) if y["status"] == "succeeded"]
    assert len(paid) == 1 and paid[0]["amount"] == 1100, paid
    clock(c, to=trial_end + 2 * HOUR_MS)                        # nothing more is due
    assert len([y for y in payments(c, member_id=m["id"]) if y["status"] == "succeeded"]) == 1
    assert int(cs.sql("select count(*) from billing.sandbox_charges where idempotency_key like "
                      "'%%%s%%'" % s["id"])[0][0]) == 1


def test_three_months_three_renewals_gap_free(cs, c):
    p = create_plan(c, amount=1000, tax_mode="exclusive", tax_rate=8)
    m, _ = member_with_card(c)
    s = subscribe(c, m["id"], p)
    first = invoice(c, s["latest_invoice_id"])
    end = ms(s["current_period_end"])
    for n in range(1, 4):
        clock(c, advance="P1M")
        cyc = cycle_invoices(c, s["id"])
        assert len(cyc) == n, (n, cyc)
    x = subscription(c, s["id"])
    assert x["status"] == "active" and ms(x["current_period_start"]) >= end
    assert all(i["status"] == "paid" and i["total"] == 1080 and i["tax_total"] == 80 for i in cyc), cyc
    nums = sorted(int(i["number"][4:]) for i in cyc + [first])
    assert len(set(nums)) == 4
    periods = sorted((ms(i["period_start"]), ms(i["period_end"])) for i in cyc)
    for (a0, a1), (b0, b1) in zip(periods, periods[1:]):
        assert a1 == b0, periods                              # back to back, no gap
    assert outbox_count(cs, "subscription.renewed", s["id"]) == 3
    pays = [y for y in payments(c, member_id=m["id"]) if y["status"] == "succeeded"]
    assert len(pays) == 4 and sum(y["amount_received"] for y in pays) == 4 * 1080
    invoice_numbers_contiguous(cs)


def test_cancel_at_period_end_stops_renewal(cs, c):
    p = create_plan(c, amount=500, rank="premium")
    m, _ = member_with_card(c)
    s = subscribe(c, m["id"], p)
    ok(c.post("/v1/subscriptions/%s/cancel" % s["id"], {"at_period_end": True,
                                                        "reason": "missing_features"}))
    end = ms(s["current_period_end"])
    clock(c, to=end - HOUR_MS)
    assert subscription(c, s["id"])["status"] == "active"
    assert member_status(c, m["id"])[0] == "paid"
    clock(c, to=end + HOUR_MS)
    x = subscription(c, s["id"])
    assert x["status"] == "canceled" and x["ended_at"], x
    assert ms(x["ended_at"]) == pytest.approx(end, abs=2 * HOUR_MS)
    assert cycle_invoices(c, s["id"]) == []
    assert member_status(c, m["id"])[0] == "free"


def test_upgrade_mid_period_prorated_by_the_day(cs, c):
    old = create_plan(c, amount=3000)
    new = create_plan(c, amount=4500)
    m, _ = member_with_card(c)
    s = subscribe(c, m["id"], old)
    start, end = ms(s["current_period_start"]), ms(s["current_period_end"])
    clock(c, to=start + 10 * DAY_MS + HOUR_MS)
    t = now_ms(c)
    ok(c.post("/v1/subscriptions/%s/change-plan" % s["id"], {"plan": new["id"]}))
    remaining = -(-(end - t) // DAY_MS)
    period_days = (end - start) // DAY_MS
    assert remaining == period_days - 10
    diff = 4500 * remaining // period_days - 3000 * remaining // period_days
    upd = [i for i in invoices(c, subscription_id=s["id"]) if i["billing_reason"] == "subscription_update"]
    assert len(upd) == 1 and upd[0]["status"] == "paid", upd
    assert upd[0]["subtotal"] == diff and upd[0]["total"] == diff + diff * 10 // 100, (upd[0], diff)
    x = subscription(c, s["id"])
    assert ms(x["current_period_end"]) == end and x["plan_id"] == new["id"]
    clock(c, to=end + HOUR_MS)                                # renews at the new price
    cyc = cycle_invoices(c, s["id"])
    assert [i["total"] for i in cyc] == [4950], cyc


def test_downgrade_keeps_a_credit_for_the_next_invoice(cs, c):
    old = create_plan(c, amount=2000, tax_mode="inclusive")
    new = create_plan(c, amount=1500, tax_mode="inclusive")
    m, _ = member_with_card(c)
    s = subscribe(c, m["id"], old)
    start, end = ms(s["current_period_start"]), ms(s["current_period_end"])
    clock(c, to=start + 10 * DAY_MS + HOUR_MS)
    t = now_ms(c)
    ok(c.post("/v1/subscriptions/%s/change-plan" % s["id"], {"plan": new["id"]}))
    remaining = -(-(end - t) // DAY_MS)
    period_days = (end - start) // DAY_MS
    credit = 2000 * remaining // period_days - 1500 * remaining // period_days
    assert [i for i in invoices(c, subscription_id=s["id"])
            if i["billing_reason"] == "subscription_update" and i["amount_paid"] > 0] == []
    clock(c, to=end + HOUR_MS)
    cyc = cycle_invoices(c, s["id"])
    assert len(cyc) == 1 and cyc[0]["status"] == "paid", cyc
    assert cyc[0]["amount_paid"] == 1500 - credit, (cyc[0], credit)
    pays = payments(c, invoice_id=cyc[0]["id"])
    assert sum(y["amount_received"] for y in pays if y["status"] == "succeeded") == 1500 - credit


def next_31_day_month_start(t):
    """Noon JST on the 1st of the first month after t that has 31 days (its period is 31 days)."""
    jst = datetime.timezone(datetime.timedelta(hours=9))
    d = datetime.datetime.fromtimestamp(t / 1000, tz=jst).replace(day=1, hour=12, minute=0,
                                                                   second=0, microsecond=0)
    while True:
        d = (d + datetime.timedelta(days=32)).replace(day=1)
        if (d + datetime.timedelta(days=31)).day == 1:
            return int(d.timestamp() * 1000)


def test_downgrade_credit_on_a_tax_exclusive_plan_comes_off_the_price_with_tax(cs, c):
    # ¥2,000 → ¥1,000 税抜 (10%) with 21 of 31 days left: the credit is
    # floor(2200 × 21 / 31) − floor(1100 × 21 / 31) = 1490 − 745 = ¥745, tax included.
    # The next invoice is ¥1,100 − 745 = ¥355, whose 10% tax is floor(355 × 10 / 110) = ¥32.
    old = create_plan(c, amount=2000, tax_mode="exclusive")
    new = create_plan(c, amount=1000, tax_mode="exclusive")
    clock(c, to=next_31_day_month_start(now_ms(c)))
    m, _ = member_with_card(c)
    s = subscribe(c, m["id"], old)
    start, end = ms(s["current_period_start"]), ms(s["current_period_end"])
    assert end - start == 31 * DAY_MS, s
    clock(c, to=start + 10 * DAY_MS + HOUR_MS)                 # 20 days 23 hours left: 21 days
    ok(c.post("/v1/subscriptions/%s/change-plan" % s["id"], {"plan": new["id"]}))
    clock(c, to=end + HOUR_MS)
    cyc = cycle_invoices(c, s["id"])
    assert len(cyc) == 1 and cyc[0]["status"] == "paid", cyc
    got = invoice(c, cyc[0]["id"])
    assert (got["total"], got["amount_paid"], got["tax_mode"]) == (355, 355, "inclusive"), got
    assert [(t["rate"], t["amount"], t["taxable_amount"], t["tax"]) for t in got["taxes"]] == \
        [(10, 355, 323, 32)], got["taxes"]
    assert [(x["unit_amount"], x["discount_amount"], x["amount"]) for x in got["lines"]] == \
        [(1100, 745, 355)], got["lines"]
    pays = payments(c, invoice_id=cyc[0]["id"])
    assert [y["amount_received"] for y in pays if y["status"] == "succeeded"] == [355], pays
    clock(c, to=ms(subscription(c, s["id"])["current_period_end"]) + HOUR_MS)
    cyc = cycle_invoices(c, s["id"])                          # the credit is used up: ¥1,100
    assert sorted(i["total"] for i in cyc) == [355, 1100], cyc


def test_dunning_retries_then_cancels(cs, c):
    p = create_plan(c, amount=1000, rank="premium")
    m, _ = member_with_card(c, token="tok_insufficientFunds")
    s = subscribe(c, m["id"], p, trial_days=7)
    assert s["status"] == "trialing", s
    t0 = ms(s["trial_end"]) + HOUR_MS
    clock(c, to=t0)
    x = subscription(c, s["id"])
    assert x["status"] == "past_due", x
    assert x["retry_count"] == 0 and ms(x["next_retry_at"]) == pytest.approx(     # no retry yet
        ms(s["trial_end"]) + DAY_MS, abs=2 * HOUR_MS), x
    assert member_status(c, m["id"])[0] == "paid"             # past_due keeps the entitlement

    def failed():
        return [y for y in payments(c, member_id=m["id"]) if y["status"] == "failed"]
    assert len(failed()) == 1
    for n, day in ((2, 1), (3, 3)):
        clock(c, to=t0 + day * DAY_MS + HOUR_MS)
        assert subscription(c, s["id"])["status"] == "past_due"
        assert len(failed()) == n, (day, failed())
    clock(c, to=t0 + 7 * DAY_MS + HOUR_MS)
    x = subscription(c, s["id"])
    assert x["status"] == "canceled", x                       # final_action: cancel (default)
    assert x["cancel_reason"] == "payment_failed", x          # involuntary churn, said so
    assert len(failed()) == 4
    assert [y for y in payments(c, member_id=m["id"]) if y["status"] == "succeeded"] == []
    assert outbox_count(cs, "subscription.canceled", s["id"]) == 1
    inv = invoice(c, x["latest_invoice_id"])
    assert inv["status"] == "uncollectible" and inv["amount_paid"] == 0, inv   # then canceled
    clock(c, to=t0 + 9 * DAY_MS)                               # no more retries
    assert len(failed()) == 4
    assert member_status(c, m["id"])[0] == "free"
    assert {y["failure_code"] for y in failed()} == {"insufficient_funds"}, failed()


def test_manual_invoice_overdue_once_after_its_due_date(cs, c):
    m, _ = member_with_card(c)
    d = ok(c.post("/v1/invoices", {"member_id": m["id"], "due_days": 1, "lines": [
        {"description": "年会費", "quantity": 1, "unit_amount": 5000, "tax_rate": 10}]}), 201)
    f = ok(c.post("/v1/invoices/%s/finalize" % d["id"], {}))
    due = ms(f["due_at"])
    clock(c, to=due - HOUR_MS)
    assert outbox_count(cs, "invoice.overdue", d["id"]) == 0
    clock(c, to=due + HOUR_MS)
    assert outbox_count(cs, "invoice.overdue", d["id"]) == 1
    clock(c, to=due + 3 * DAY_MS)
    assert outbox_count(cs, "invoice.overdue", d["id"]) == 1             # once
    assert invoice(c, d["id"])["status"] == "open"


def test_invoice_in_dunning_is_overdue_only_once_dunning_is_over(cs, c):
    """While retries run (past_due), payment.failed speaks; with final action unpaid the open
    invoice is overdue once they are over."""
    ok(c.patch("/v1/billing/settings", {"final_action": "unpaid"}))
    try:
        p = create_plan(c, amount=1000)
        m, _ = member_with_card(c, token="tok_insufficientFunds")
        s = subscribe(c, m["id"], p, trial_days=7)
        t0 = ms(s["trial_end"]) + HOUR_MS
        clock(c, to=t0)
        x = subscription(c, s["id"])
        assert x["status"] == "past_due", x
        for day in (1, 3):
            clock(c, to=t0 + day * DAY_MS + HOUR_MS)
            assert outbox_count(cs, "invoice.overdue", x["latest_invoice_id"]) == 0
        clock(c, to=t0 + 7 * DAY_MS + HOUR_MS)
        assert subscription(c, s["id"])["status"] == "unpaid"
        assert invoice(c, x["latest_invoice_id"])["status"] == "open"
        assert outbox_count(cs, "invoice.overdue", x["latest_invoice_id"]) == 1
        clock(c, to=t0 + 9 * DAY_MS)
        assert outbox_count(cs, "invoice.overdue", x["latest_invoice_id"]) == 1
    finally:
        ok(c.patch("/v1/billing/settings", {"final_action": "cancel"}))


def test_dunning_recovers_when_the_card_is_replaced(cs, c):
    p = create_plan(c, amount=1000)
    m, bad = member_with_card(c, token="tok_chargeDeclined")
    s = subscribe(c, m["id"], p, trial_days=3)
    t0 = ms(s["trial_end"]) + HOUR_MS
    clock(c, to=t0)
    assert subscription(c, s["id"])["status"] == "past_due"
    attach(c, m["id"], token="tok_visa", set_default=True)
    clock(c, to=t0 + DAY_MS + HOUR_MS)
    x = subscription(c, s["id"])
    assert x["status"] == "active", x
    assert invoice(c, x["latest_invoice_id"])["status"] == "paid"


def test_konbini_expires_after_three_days(cs, c):
    p = create_plan(c, amount=1000)
    m = c.create_member()
    pm = attach(c, m["id"], type_="konbini")
    s = subscribe(c, m["id"], p, payment_method_id=pm["id"])
    assert s["status"] == "incomplete"
    pay = payments(c, invoice_id=s["latest_invoice_id"])[0]
    assert pay["status"] == "pending"
    exp = ms(pay["expires_at"])
    clock(c, to=exp - HOUR_MS)
    assert ok(c.get("/v1/payments/" + pay["id"]))["status"] == "pending"
    assert subscription(c, s["id"])["status"] == "incomplete"   # konbini: its expiry, not 23 h
    clock(c, to=exp + HOUR_MS)
    p2 = ok(c.get("/v1/payments/" + pay["id"]))
    assert p2["status"] == "expired" and p2["failure_code"] == "expired", p2
    assert subscription(c, s["id"])["status"] == "canceled"


def test_incomplete_card_subscription_expires_after_23_hours(cs, c):
    p = create_plan(c, amount=1000)
    m, _ = member_with_card(c, token="tok_chargeDeclined")
    s = subscribe(c, m["id"], p)
    assert s["status"] == "incomplete"
    created = ms(s["created_at"])
    clock(c, to=created + 22 * HOUR_MS)
    assert subscription(c, s["id"])["status"] == "incomplete"
    clock(c, to=created + 24 * HOUR_MS)
    assert subscription(c, s["id"])["status"] == "canceled"


def test_repeating_coupon_discounts_n_months(cs, c):
    p = create_plan(c, amount=1000)
    cp = ok(c.post("/v1/coupons", {"code": uniq("REP"), "percent_off": 50, "duration": "repeating",
                                   "duration_in_months": 2}), 201)
    once = ok(c.post("/v1/coupons", {"code": uniq("ONCE"), "amount_off": 100,
                                     "duration": "once"}), 201)
    m, _ = member_with_card(c)
    m2, _ = member_with_card(c)
    s = subscribe(c, m["id"], p, coupon_code=cp["code"])
    s2 = subscribe(c, m2["id"], p, coupon_code=once["code"])
    totals = [invoice(c, s["latest_invoice_id"])["total"]]
    totals2 = [invoice(c, s2["latest_invoice_id"])["total"]]
    for _ in range(3):
        clock(c, advance="P1M")
    totals += [i["total"] for i in sorted(cycle_invoices(c, s["id"]), key=lambda i: i["number"])]
    totals2 += [i["total"] for i in sorted(cycle_invoices(c, s2["id"]), key=lambda i: i["number"])]
    assert totals == [550, 550, 1100, 1100], totals
    assert totals2 == [990, 1100, 1100, 1100], totals2


def test_expiring_card_event(cs, c):
    m = c.create_member()
    pm = attach(c, m["id"], token="tok_expiring")
    clock(c, advance="P1D")
    n = int(cs.sql("select count(*) from billing.outbox where type = 'payment_method.expiring' "
                   "and aggregate_id = '%s'" % pm["id"])[0][0])
    assert n == 1, n
    clock(c, advance="P2D")
    n = int(cs.sql("select count(*) from billing.outbox where type = 'payment_method.expiring' "
                   "and aggregate_id = '%s'" % pm["id"])[0][0])
    assert n == 1, n                                          # told once


def test_zz_numbers_still_gap_free(cs):
    assert invoice_numbers_contiguous(cs) > 10
