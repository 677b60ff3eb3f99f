"""test_billing_terms_overdue.py - a company on payment terms that does not pay (services/billing/
README.md, "Companies: closing day and payment terms", "Left unpaid past the limit"): the
setting terms_suspend_after_days (default 30, 0 never, 0 to 365), the member's active
subscriptions suspended (`unpaid`, subscription.updated) once an open invoice on its terms has
stayed unpaid that many days past its due date, no renewal while suspended, and active again
(subscription.updated) once the member has no invoice past the limit; one long clock move
does what day-by-day moves do.

Dates by hand on the calendar of Japan (UTC+9); 10:00 JST = 01:00 UTC. 20日締め翌月末払い: an
invoice issued 2027-02-01 closes 2027-02-20 and is due 2027-03-31, until 23:59:59.999 JST =
14:59:59.999 UTC. 30 days of 24 hours later is 2027-04-30 14:59:59.999 UTC (23:59:59.999 JST,
Japan has no summer time): the invoice may stay unpaid until then, so the subscription is
still active at 2027-04-30T14:59:59.999Z and suspended from 2027-04-30T15:00:00.000Z, which is
2027-05-01 00:00 JST — the first moment of the 31st day past the due date (the test clock runs
on from where it is set: the test looks a minute before, and the moment the subscription keeps
is the limit's, to the millisecond).

The suites are this module's own: their clocks only move forward."""

import pytest

from billing_util import (billing_suite, clock, create_plan, finish_suite, invoice, invoices,
                          member_status, ok, problem, subscribe, subscription, wait_for)


@pytest.fixture(scope="module")
def ts():
    s = billing_suite("billsusp")
    yield s
    finish_suite(s)


@pytest.fixture(scope="module")
def ts_one():
    s = billing_suite("billsusp2")
    yield s
    finish_suite(s)


@pytest.fixture
def c(ts):
    return ts.client


def company(c, consolidate=False):
    m = c.create_member()
    ok(c.request("PUT", "/v1/members/%s/payment-terms" % m["id"],
                 json_body={"company": True, "closing_day": 20, "due_day": 31, "consolidate": consolidate}))
    return m


def updated_events(ts, sub_id):
    return int(ts.sql("select count(*) from billing.outbox where type = 'subscription.updated'"
                      " and aggregate_id = '%s'" % sub_id)[0][0])


def suspended_at(c, sub_id):
    """The subscription's suspended_at as the API shows it: the first moment past the limit."""
    return subscription(c, sub_id)["suspended_at"]


def mark_paid(c, invoice_id, note="振込"):
    return ok(c.post("/v1/invoices/%s/mark-paid" % invoice_id, {"note": note, "method": "bank_transfer"}))


# --------------------------------------------------------------------------- the setting


def test_the_setting_is_30_days_by_default_and_set_from_0_to_365(c):
    st = ok(c.get("/v1/billing/settings"))
    assert st["terms_suspend_after_days"] == 30, st
    assert ok(c.patch("/v1/billing/settings", {"terms_suspend_after_days": 0}))["terms_suspend_after_days"] == 0
    assert ok(c.patch("/v1/billing/settings", {"terms_suspend_after_days": 365}))["terms_suspend_after_days"] == 365
    st = ok(c.patch("/v1/billing/settings", {"terms_suspend_after_days": 30}))
    assert st["terms_suspend_after_days"] == 30 and st["final_action"] == "cancel", st


@pytest.mark.parametrize("value", [-1, 366, "30", 1.5, None, True])
def test_a_bad_setting_is_400_naming_it(c, value):
    b = problem(c.patch("/v1/billing/settings", {"terms_suspend_after_days": value}), 400)
    assert [e["field"] for e in b["errors"]] == ["terms_suspend_after_days"], b
    assert ok(c.get("/v1/billing/settings"))["terms_suspend_after_days"] == 30


# --------------------------------------------------------------------------- suspended, paid, back


def test_suspended_31_days_past_due_in_japan_and_back_when_paid(ts, c):
    clock(c, to="2027-02-01T01:00:00.000Z")                     # 2027-02-01 10:00 JST
    plan = create_plan(c, amount=1000, tax_mode="exclusive", tax_rate=10)
    a, b = company(c), company(c)
    sa, sb = subscribe(c, a["id"], plan), subscribe(c, b["id"], plan)
    assert sa["status"] == "active" and sb["status"] == "active", (sa, sb)
    first_a, first_b = invoice(c, sa["latest_invoice_id"]), invoice(c, sb["latest_invoice_id"])
    assert first_a["due_at"] == first_b["due_at"] == "2027-03-31T14:59:59.999Z", first_a
    # b also has a manual invoice, issued the same day: due 2027-03-31 too
    manual = ok(c.post("/v1/invoices", {"member_id": b["id"], "tax_mode": "exclusive", "lines": [
        {"description": "研修費", "quantity": 1, "unit_amount": 20000, "tax_rate": 10}]}), 201)
    manual = ok(c.post("/v1/invoices/%s/finalize" % manual["id"], {}))
    assert manual["due_at"] == "2027-03-31T14:59:59.999Z", manual
    wait_for(lambda: member_status(c, a["id"])[0] == "paid", what="a paid")

    # 2027-04-30 23:00 JST, then a minute before the end of the 30th day past the due date (the
    # clock runs on from where it is set, so not its last millisecond; a long move first, so that
    # its work is done before the last minute): still active; renewed 03-01 (due 04-30) and 04-01
    # (due 05-31), not charged
    clock(c, to="2027-04-30T14:00:00.000Z")
    clock(c, to="2027-04-30T14:59:00.000Z")
    ends = {}
    for s in (sa, sb):
        now = subscription(c, s["id"])
        assert now["status"] == "active" and now["current_period_end"].startswith("2027-05-01T01:"), now
        ends[s["id"]] = now["current_period_end"]
        assert updated_events(ts, s["id"]) == 0
    assert [i["due_at"] for i in invoices(c, member_id=a["id"])] == [
        "2027-05-31T14:59:59.999Z", "2027-04-30T14:59:59.999Z", "2027-03-31T14:59:59.999Z"]

    # 2027-05-01 00:00 JST: suspended, once each, marked with the moment the limit passed
    clock(c, to="2027-04-30T15:00:00.000Z")
    for s in (sa, sb):
        assert subscription(c, s["id"])["status"] == "unpaid"
        assert updated_events(ts, s["id"]) == 1
        assert suspended_at(c, s["id"]) == "2027-04-30T15:00:00.000Z"
    wait_for(lambda: member_status(c, a["id"])[0] == "free", what="a no longer paid")

    # 2027-05-01 11:00 JST: the period that ended at 10:00 is not renewed while suspended
    clock(c, to="2027-05-01T02:00:00.000Z")
    for s in (sa, sb):
        now = subscription(c, s["id"])
        assert now["status"] == "unpaid" and now["current_period_end"] == ends[s["id"]], now
        assert len(invoices(c, member_id=s["member_id"])) == (3 if s is sa else 4)
        assert updated_events(ts, s["id"]) == 1

    # a pays its late invoice (消込 by hand): active again at once, with subscription.updated;
    # its other invoices are not past the limit (due 04-30: until 05-30 14:59:59.999Z)
    mark_paid(c, first_a["id"], "5/1 振込")
    back = subscription(c, sa["id"])
    assert back["status"] == "active", back
    assert updated_events(ts, sa["id"]) == 2 and suspended_at(c, sa["id"]) is None
    wait_for(lambda: member_status(c, a["id"])[0] == "paid", what="a paid again")

    # b pays its subscription's invoice: still suspended, the manual one is past the limit too
    mark_paid(c, first_b["id"])
    assert subscription(c, sb["id"])["status"] == "unpaid"
    assert updated_events(ts, sb["id"]) == 1
    # ... and then the manual one (no subscription of its own), by transfer found on the bank's
    # statement (消込 by its number in 摘要): active again
    csv = "日付,金額,振込依頼人名,摘要\r\n2027/05/01,\"22,000\",ｶ)ﾃｽﾄ,%s\r\n" % manual["number"]
    r = c.request("POST", "/v1/bank-statements?dry_run=false&format=csv", data=csv.encode("cp932"),
                  headers={"Content-Type": "text/plain"})
    assert ok(r)["matched"] == 1, r.text
    assert invoice(c, manual["id"])["status"] == "paid"
    assert subscription(c, sb["id"])["status"] == "active"
    assert updated_events(ts, sb["id"]) == 2
    # b also pays its renewal of 03-01 (due 04-30), not yet past the limit: nothing changes
    march_b = [i for i in invoices(c, member_id=b["id"]) if i["due_at"] == "2027-04-30T14:59:59.999Z"]
    assert len(march_b) == 1, march_b
    mark_paid(c, march_b[0]["id"])
    assert subscription(c, sb["id"])["status"] == "active" and updated_events(ts, sb["id"]) == 2

    # renewed once active again, from where the period stopped: issued 05-01 (JST), closes
    # 05-20, due 06-30
    clock(c, to="2027-05-01T03:00:00.000Z")
    for s in (sa, sb):
        now = subscription(c, s["id"])
        assert now["status"] == "active" and now["current_period_start"] == ends[s["id"]], now
        assert now["current_period_end"] == "2027-06" + ends[s["id"]][7:], now
        renewal = invoice(c, now["latest_invoice_id"])
        assert (renewal["billing_reason"], renewal["status"], renewal["due_at"]) \
            == ("subscription_cycle", "open", "2027-06-30T14:59:59.999Z"), renewal

    # a's renewal invoice of 03-01 (due 04-30) passes the limit at 2027-05-31 00:00 JST
    clock(c, to="2027-05-30T14:00:00.000Z")
    clock(c, to="2027-05-30T14:59:00.000Z")
    assert subscription(c, sa["id"])["status"] == "active"
    clock(c, to="2027-05-30T15:00:00.000Z")
    assert subscription(c, sa["id"])["status"] == "unpaid"
    assert updated_events(ts, sa["id"]) == 3
    assert suspended_at(c, sa["id"]) == "2027-05-30T15:00:00.000Z"

    # the limit set to 0 (never): active again at the next tick; set back to 30, suspended again
    ok(c.patch("/v1/billing/settings", {"terms_suspend_after_days": 0}))
    clock(c, to="2027-05-30T16:00:00.000Z")
    assert subscription(c, sa["id"])["status"] == "active"
    ok(c.patch("/v1/billing/settings", {"terms_suspend_after_days": 30}))
    clock(c, to="2027-05-30T17:00:00.000Z")
    assert subscription(c, sa["id"])["status"] == "unpaid"
    assert updated_events(ts, sa["id"]) == 5
    # b paid everything due by then: never suspended again
    assert subscription(c, sb["id"])["status"] == "active" and updated_events(ts, sb["id"]) == 2
    # a ends its suspended subscription: canceled, no longer suspended (in the API and the row)
    # (suspended again, the moment the invoice passed the limit: not when the setting came back)
    assert suspended_at(c, sa["id"]) == "2027-05-30T15:00:00.000Z"
    gone = ok(c.post("/v1/subscriptions/%s/cancel" % sa["id"], {"reason": "other"}))
    assert gone["status"] == "canceled" and gone["suspended_at"] is None, gone
    assert ts.sql("select terms_suspended_at from billing.subscriptions where id = '%s'" % sa["id"]) == [[None]]


# --------------------------------------------------------------------------- one move or day by day


def _scenario(c):
    """On 2027-07-01 10:00 JST: two companies, 20日締め翌月末払い, one consolidating (合算請求),
    subscribe to a plan of 1000 (10 %). Returns the subscriptions."""
    clock(c, to="2027-07-01T01:00:00.000Z")
    plan = create_plan(c, amount=1000, tax_mode="exclusive", tax_rate=10)
    return [subscribe(c, company(c, consolidate)["id"], plan) for consolidate in (False, True)]


def _outcome(suite, subs):
    c = suite.client
    out = []
    for s in subs:
        now = subscription(c, s["id"])
        heads = [(i["status"], i["billing_reason"], i["issued_at"], i["due_at"], i["total"])
                 for i in reversed(invoices(c, member_id=s["member_id"]))]
        out.append((now["status"], now["current_period_start"][:13], now["current_period_end"][:13],
                    heads, updated_events(suite, s["id"]), suspended_at(c, s["id"])))
    return out


def test_one_long_clock_move_suspends_as_day_by_day_moves_do(ts, ts_one):
    day, one = ts.client, ts_one.client
    subs_day, subs_one = _scenario(day), _scenario(one)
    for month, last in ((7, 31), (8, 31), (9, 30)):
        for d in range(1, last + 1):
            if (month, d) != (7, 1):
                clock(day, to="2027-%02d-%02dT01:00:00.000Z" % (month, d))
    clock(day, to="2027-10-01T01:00:00.000Z")
    clock(day, to="2027-10-02T01:00:00.000Z")
    clock(one, to="2027-10-02T01:00:00.000Z")                    # three months at once
    got_day, got_one = _outcome(ts, subs_day), _outcome(ts_one, subs_one)
    # The first invoices are due 2027-08-31 (issued 07-01, or gathered and issued on the
    # closing date 07-20), past the limit from 2027-10-01 00:00 JST; renewed 08-01 and 09-01,
    # not 10-01 10:00 JST: suspended since 00:00 that day.
    cycle = ("open", "subscription_cycle")
    assert got_day[0] == (
        "unpaid", "2027-09-01T01", "2027-10-01T01",
        [("open", "subscription_create", got_day[0][3][0][2], "2027-08-31T14:59:59.999Z", 1100),
         cycle + (got_day[0][3][1][2], "2027-09-30T14:59:59.999Z", 1100),
         cycle + (got_day[0][3][2][2], "2027-10-31T14:59:59.999Z", 1100)],
        1, "2027-09-30T15:00:00.000Z"), got_day
    assert [h[2][:10] for h in got_day[0][3]] == ["2027-07-01", "2027-08-01", "2027-09-01"], got_day
    assert got_day[1] == (
        "unpaid", "2027-09-01T01", "2027-10-01T01",
        [("open", "consolidated", "2027-07-20T14:59:59.999Z", "2027-08-31T14:59:59.999Z", 1100),
         ("open", "consolidated", "2027-08-20T14:59:59.999Z", "2027-09-30T14:59:59.999Z", 1100),
         ("open", "consolidated", "2027-09-20T14:59:59.999Z", "2027-10-31T14:59:59.999Z", 1100)],
        1, "2027-09-30T15:00:00.000Z"), got_day
    # the same, but for the moment a renewal was invoiced (the day's clock, or the move's step)
    strip = [(o[0], o[1], o[2], [h[:2] + h[3:] for h in o[3]], o[4], o[5]) for o in got_day]
    assert [(o[0], o[1], o[2], [h[:2] + h[3:] for h in o[3]], o[4], o[5]) for o in got_one] == strip, got_one
    assert [[h[2][:10] for h in o[3]] for o in got_one] == [[h[2][:10] for h in o[3]] for o in got_day]
