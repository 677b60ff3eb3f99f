"""test_billing_consolidated.py - 合算請求 (services/billing/README.md, "Companies: closing day
and payment terms", "One invoice per closing period"): a company whose terms say
`consolidate: true` has a closing period's charges (its purchases, a subscription's first
invoice, renewals, a trial's end) gathered onto one draft invoice, issued on the closing date
(numbered, tax once per rate over all its lines, due on the terms, invoice.finalized); paying it
pays every purchase on it; a charge after the closing date goes onto the next period's.

Every date below is worked out by hand on the calendar of Japan (UTC+9): 10:00 JST = 01:00 UTC;
a closing date's last millisecond, 23:59:59.999 JST, is 14:59:59.999 UTC, and so is a due
date's. Taxes by hand: exclusive, rounded down once per rate per invoice.

The suites are this module's own: their clocks only move forward."""

import re

import pytest

import test_openapi as spec_check
from billing_util import (billing_suite, clock, create_plan, finish_suite, invoice,
                          invoice_numbers_contiguous, invoices, ok, pdf_text, problem,
                          subscribe, subscription)


@pytest.fixture(scope="module")
def ts():
    s = billing_suite("billconsol")
    yield s
    finish_suite(s)


@pytest.fixture
def c(ts):
    return ts.client


def put_terms(c, member_id, body):
    return c.request("PUT", "/v1/members/%s/payment-terms" % member_id, json_body=body)


def company(c, consolidate=True):
    """A new member on 20日締め翌月末払い, gathering each period's charges when consolidate."""
    m = c.create_member()
    ok(put_terms(c, m["id"], {"company": True, "closing_day": 20, "due_day": 31,
                              "consolidate": consolidate}))
    return m


def buy(c, member_id, description, unit_amount, tax_rate, quantity=1):
    return ok(c.post("/v1/purchases", {"member_id": member_id, "tax_mode": "exclusive", "items": [
        {"description": description, "unit_amount": unit_amount, "tax_rate": tax_rate,
         "quantity": quantity}]}), 201)


def finalized_events(ts, invoice_id):
    return int(ts.sql("select count(*) from billing.outbox where type = 'invoice.finalized'"
                      " and aggregate_id = '%s'" % invoice_id)[0][0])


def lines_of(i):
    return [(l["description"], l["quantity"], l["unit_amount"], l["amount"], l["tax_rate"])
            for l in i["lines"]]


def taxes_of(i):
    return sorted((t["rate"], t["taxable_amount"], t["tax"]) for t in i["taxes"])


# --------------------------------------------------------------------------- the API


def test_consolidate_is_false_unless_set_and_stored(ts, c):
    m = c.create_member()
    path = "/v1/members/%s/payment-terms" % m["id"]
    t = ok(put_terms(c, m["id"], {"company": True, "closing_day": 20, "due_day": 31}))
    assert t["consolidate"] is False, t
    t = ok(c.request("PUT", path, json_body={"company": True, "closing_day": 20, "due_day": 31,
                                             "consolidate": True}, headers={"If-Match": '"1"'}))
    assert (t["consolidate"], t["version"]) == (True, 2), t
    assert ok(c.get(path))["consolidate"] is True
    row = ts.sql("select consolidate from billing.payment_terms where member_id = '%s'" % m["id"])
    assert [list(map(str, x)) for x in row] == [["t"]], row
    # the OpenAPI document, made from billing's declarations: a boolean the PUT takes, the GET answers
    spec = spec_check.fetch(c)
    body = spec_check.find_operation(spec, "put", "/v1/members/{id}/payment-terms")["requestBody"]
    schema = spec_check.resolve(spec, spec_check.resolve(spec, body)["content"]["application/json"]["schema"])
    assert spec_check.resolve(spec, schema["properties"]["consolidate"])["type"] == "boolean", schema
    spec_check.check(spec, "get", "/v1/members/{id}/payment-terms", c.get(path))


@pytest.mark.parametrize("value", ["yes", 1, None, {"on": True}])
def test_a_bad_consolidate_is_400_naming_it(c, value):
    m = c.create_member()
    b = problem(put_terms(c, m["id"], {"company": True, "closing_day": 20, "due_day": 31,
                                       "consolidate": value}), 400)
    assert [e["field"] for e in b["errors"]] == ["consolidate"], b
    problem(c.get("/v1/members/%s/payment-terms" % m["id"]), 404)     # nothing was stored


# --------------------------------------------------------------------------- one period, one invoice


def test_a_closing_periods_charges_are_one_invoice_issued_on_the_closing_date(ts, c, tmp_path):
    """20日締め翌月末払い, consolidating. Subscribed 2026-12-25: its first invoice is gathered for
    the period closing 2027-01-20. Renewed 2027-01-25 and two purchases on 2027-01-26 (8 % and
    10 %): one invoice for the period closing 2027-02-20, issued that day, due 2027-03-31. A
    purchase on 2027-02-21 is the next period's (closing 2027-03-20)."""
    clock(c, to="2026-12-25T01:00:00.000Z")
    plan = create_plan(c, amount=5005, tax_mode="exclusive", tax_rate=10)
    m = company(c)
    sub = subscribe(c, m["id"], plan)
    assert sub["status"] == "active", sub
    first = invoice(c, sub["latest_invoice_id"])
    # gathering: a draft, no number, not announced; due on the terms of its period
    assert (first["status"], first["number"], first["billing_reason"], first["total"]) \
        == ("draft", None, "consolidated", 5505), first
    assert first["due_at"] == "2027-02-28T14:59:59.999Z", first
    assert finalized_events(ts, first["id"]) == 0

    # 2027-01-19 10:00 JST: before the closing date nothing is issued
    clock(c, to="2027-01-19T01:00:00.000Z")
    assert [(i["status"], i["number"]) for i in invoices(c, member_id=m["id"])] == [("draft", None)]

    # 2027-01-21 10:00 JST: issued on 2027-01-20, due at the end of February
    clock(c, to="2027-01-21T01:00:00.000Z")
    first = invoice(c, first["id"])
    assert (first["status"], first["issued_at"], first["due_at"], first["total"], first["amount_due"]) \
        == ("open", "2027-01-20T14:59:59.999Z", "2027-02-28T14:59:59.999Z", 5505, 5505), first
    assert re.fullmatch(r"INV-\d{8}", first["number"]), first
    assert finalized_events(ts, first["id"]) == 1

    # 2027-01-25 10:00 JST the period renews: its line joins a new draft (closing 2027-02-20)
    clock(c, to="2027-01-25T02:00:00.000Z")
    s = subscription(c, sub["id"])
    assert s["status"] == "active" and s["current_period_start"].startswith("2027-01-25T01:00:"), s
    gathering = s["latest_invoice_id"]
    assert gathering != first["id"]
    # 2027-01-26 10:00 JST: two purchases, 8 % (3 × 1234) and 10 % (3339)
    clock(c, to="2027-01-26T01:00:00.000Z")
    p1 = buy(c, m["id"], "お弁当", 1234, 8, quantity=3)
    p2 = buy(c, m["id"], "研修テキスト", 3339, 10)
    for p in (p1, p2):
        assert p["status"] == "pending" and p["payment"] is None, p
        assert p["invoice"]["id"] == gathering and p["invoice"]["status"] == "draft", p
    # each purchase's items are its own lines, though its invoice holds the period's
    assert [(i["description"], i["quantity"], i["tax_rate"]) for i in p1["items"]] == [("お弁当", 3, 8)]
    assert [(i["description"], i["unit_amount"]) for i in p2["items"]] == [("研修テキスト", 3339)]

    # 2027-02-19 10:00 JST: still gathering
    clock(c, to="2027-02-19T01:00:00.000Z")
    assert invoice(c, gathering)["status"] == "draft"
    assert finalized_events(ts, gathering) == 0

    # 2027-02-21 10:00 JST: the period closed on 2027-02-20 — one invoice with the three lines.
    # 10 %: 5005 + 3339 = 8344, tax 834 (once over the rate; per line it would be 500 + 333);
    # 8 %: 3 × 1234 = 3702, tax 296 (296.16). Subtotal 12046, tax 1130, total 13176.
    clock(c, to="2027-02-21T01:00:00.000Z")
    i = invoice(c, gathering)
    assert (i["status"], i["billing_reason"], i["issued_at"], i["due_at"]) \
        == ("open", "consolidated", "2027-02-20T14:59:59.999Z", "2027-03-31T14:59:59.999Z"), i
    assert lines_of(i)[1:] == [("お弁当", 3, 1234, 3702, 8), ("研修テキスト", 1, 3339, 3339, 10)], i
    assert lines_of(i)[0][1:] == (1, 5005, 5005, 10), i             # the renewal's period
    assert taxes_of(i) == [(8, 3702, 296), (10, 8344, 834)], i
    assert (i["subtotal"], i["tax_total"], i["total"], i["amount_due"]) == (12046, 1130, 13176, 13176), i
    assert int(i["number"][4:]) == int(first["number"][4:]) + 1, (first["number"], i["number"])
    assert finalized_events(ts, gathering) == 1
    assert [x["id"] for x in invoices(c, member_id=m["id"], status="open")] == [gathering, first["id"]]
    invoice_numbers_contiguous(ts)
    text = pdf_text(c.get("/v1/invoices/%s/pdf" % gathering).content, tmp_path)
    assert "お弁当" in text and "研修テキスト" in text and plan["name"] in text, text
    assert re.search(r"締め日\s+2027年2月20日", text) and re.search(r"お支払期限\s+2027年3月31日", text), text

    # a purchase on the 21st is the next period's (closing 2027-03-20)
    p3 = buy(c, m["id"], "名刺", 2000, 10)
    assert p3["invoice"]["id"] not in (gathering, first["id"]) and p3["invoice"]["status"] == "draft", p3
    nxt = invoice(c, p3["invoice"]["id"])
    assert lines_of(nxt) == [("名刺", 1, 2000, 2000, 10)] and nxt["due_at"] == "2027-04-30T14:59:59.999Z", nxt

    # paid by transfer, recorded by hand: both purchases on it are paid, each announced
    paid = ok(c.post("/v1/invoices/%s/mark-paid" % gathering, {"note": "3/25 振込", "method": "bank_transfer"}))
    assert (paid["status"], paid["amount_paid"], paid["amount_due"]) == ("paid", 13176, 0), paid
    assert [ok(c.get("/v1/purchases/" + p["id"]))["status"] for p in (p1, p2, p3)] == ["paid", "paid", "pending"]
    completed = ts.sql("select aggregate_id from billing.outbox where type = 'purchase.completed'"
                       " and aggregate_id in ('%s', '%s', '%s') order by seq" % (p1["id"], p2["id"], p3["id"]))
    assert sorted(r[0] for r in completed) == sorted([p1["id"], p2["id"]]), completed
    # the summary counts what each purchase came to alone, not the period's invoice twice:
    # 3702 + 296 (8 %) and 3339 + 333 (10 %)
    summary = ok(c.get("/v1/members/%s/billing-summary" % m["id"]))
    assert (summary["purchase_count"], summary["purchase_total"], summary["lifetime_paid"]) \
        == (2, 3998 + 3672, 13176), summary
    assert subscription(c, sub["id"])["status"] == "active"


def test_members_that_do_not_consolidate_keep_an_invoice_per_charge(ts, c):
    clock(c, to="2027-02-22T01:00:00.000Z")
    m = company(c, consolidate=False)
    p1 = buy(c, m["id"], "A", 1000, 10)
    p2 = buy(c, m["id"], "B", 1000, 8)
    assert p1["invoice"]["id"] != p2["invoice"]["id"]
    for p in (p1, p2):
        i = invoice(c, p["invoice"]["id"])
        assert (i["status"], i["billing_reason"], i["due_at"]) == ("open", "purchase", "2027-04-30T14:59:59.999Z"), i


# --------------------------------------------------------------------------- one move or day by day


@pytest.fixture(scope="module")
def ts_long():
    s = billing_suite("billconsol2")
    yield s
    finish_suite(s)


def _scenario(c):
    """On 2027-04-01 10:00 JST: a consolidating company buys 3 × 1234 at 8 % and subscribes to
    a plan of 1000 (10 %) with a 10-day trial. Returns the member."""
    clock(c, to="2027-04-01T01:00:00.000Z")
    plan = create_plan(c, amount=1000, tax_mode="exclusive", tax_rate=10)
    m = company(c)
    buy(c, m["id"], "お弁当", 1234, 8, quantity=3)
    assert subscribe(c, m["id"], plan, trial_days=10)["status"] == "trialing"
    return m


def _invoices(c, member_id):
    out = []
    for head in reversed(invoices(c, member_id=member_id)):
        i = invoice(c, head["id"])
        out.append((i["status"], i["billing_reason"], i["issued_at"], i["due_at"], bool(i["number"]),
                    [l[:1] + l[2:] for l in lines_of(i)], taxes_of(i), i["total"]))
    return out


def test_one_long_clock_move_gives_the_invoices_of_day_by_day_moves(ts, ts_long):
    day, one = ts.client, ts_long.client
    m_day, m_one = _scenario(day), _scenario(one)
    for d in range(2, 31):                                       # April, day by day
        clock(day, to="2027-04-%02dT01:00:00.000Z" % d)
    for d in range(1, 32):                                       # May
        clock(day, to="2027-05-%02dT01:00:00.000Z" % d)
    clock(one, to="2027-05-31T01:00:00.000Z")                    # two months at once
    # The period closing 04-20: the purchase (04-01) and the trial's end (04-11): 8 %: 3702,
    # tax 296; 10 %: 1000, tax 100; total 5098, due 05-31. The period closing 05-20: the
    # renewal of 05-11, 1100, due 06-30.
    expected_heads = [("open", "consolidated", "2027-04-20T14:59:59.999Z", "2027-05-31T14:59:59.999Z", True),
                      ("open", "consolidated", "2027-05-20T14:59:59.999Z", "2027-06-30T14:59:59.999Z", True)]
    got_day, got_one = _invoices(day, m_day["id"]), _invoices(one, m_one["id"])
    assert [x[:5] for x in got_day] == expected_heads, got_day
    assert [x[6:] for x in got_day] == [([(8, 3702, 296), (10, 1000, 100)], 5098),
                                        ([(10, 1000, 100)], 1100)], got_day
    assert got_day[0][5][0] == ("お弁当", 1234, 3702, 8), got_day
    assert got_one == got_day
    invoice_numbers_contiguous(ts)
    invoice_numbers_contiguous(ts_long)
