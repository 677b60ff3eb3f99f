"""test_billing_terms.py - a company's payment terms (締め日と支払期日, services/billing/README.md,
"Companies: closing day and payment terms"): PUT and GET /v1/members/{id}/payment-terms with
their rules, and the due dates of a company's invoices with the test clock — issued on
2026-12-21 in Japan, 20日締め翌月末払い closes 2027-01-20 and is due 2027-02-28; a month-end
closing, February, a leap of the year, N days after; a renewal invoiced on the terms and not
charged; invoice.overdue once the due date has passed in Japan, not before.

Every date below is worked out by hand on the calendar of Japan (UTC+9); a due date is due until
its last millisecond there, 23:59:59.999 JST = 14:59:59.999 UTC.

The suite is this module's own: its clock only moves forward."""

import re

import pytest

from billing_util import (attach, billing_suite, clock, create_plan, finish_suite, invoice,
                          invoices, ok, payments, pdf_text, problem, subscribe, subscription)


@pytest.fixture(scope="module")
def ts():
    s = billing_suite("billterms")
    yield s
    finish_suite(s)


@pytest.fixture
def c(ts):
    return ts.client


def put_terms(c, member_id, body, headers=None):
    return c.request("PUT", "/v1/members/%s/payment-terms" % member_id, json_body=body, headers=headers)


def set_terms(c, member_id, **body):
    body.setdefault("company", True)
    return ok(put_terms(c, member_id, body))


def manual(c, member_id, finalize=True, **extra):
    body = {"member_id": member_id, "tax_mode": "exclusive",
            "lines": [{"description": "月額利用料", "quantity": 1, "unit_amount": 10000, "tax_rate": 10}]}
    body.update(extra)
    d = ok(c.post("/v1/invoices", body), 201)
    return ok(c.post("/v1/invoices/%s/finalize" % d["id"], {})) if finalize else d


def overdue_events(ts, invoice_id):
    return int(ts.sql("select count(*) from billing.outbox where type = 'invoice.overdue'"
                      " and aggregate_id = '%s'" % invoice_id)[0][0])


# --------------------------------------------------------------------------- the API


def test_terms_are_set_read_and_replaced_with_if_match(ts, c):
    m = c.create_member()
    path = "/v1/members/%s/payment-terms" % m["id"]
    problem(c.get(path), 404)                                   # none set yet
    r = put_terms(c, m["id"], {"company": True, "closing_day": 20, "due_day": 31})
    assert r.status_code == 200, r.text
    t = r.json()
    assert set(t) == {"member_id", "company", "closing_day", "due_months", "due_day", "due_days",
                      "consolidate", "updated_at", "updated_by", "version"}, t
    # a due day without a month is the next month's (翌月末払い); due_days not given is null
    assert (t["member_id"], t["company"], t["closing_day"], t["due_months"], t["due_day"],
            t["due_days"], t["version"]) == (m["id"], True, 20, 1, 31, None, 1), t
    assert t["updated_by"] == "bootstrap" and t["updated_at"], t
    assert r.headers["ETag"] == '"1"', r.headers
    g = c.get(path)
    assert g.status_code == 200 and g.json() == t and g.headers["ETag"] == '"1"', g.text
    # replaced whole: N days after a month-end closing; the day of month is gone
    t2 = ok(put_terms(c, m["id"], {"company": True, "closing_day": 31, "due_days": 45},
                      headers={"If-Match": '"1"'}))
    assert (t2["closing_day"], t2["due_months"], t2["due_day"], t2["due_days"], t2["version"]) \
        == (31, None, None, 45, 2), t2
    # a stale If-Match loses and changes nothing
    problem(put_terms(c, m["id"], {"company": False, "closing_day": 31, "due_days": 45},
                      headers={"If-Match": '"1"'}), 412)
    assert ok(c.get(path))["company"] is True
    row = ts.sql("select company, closing_day, due_months, due_day, due_days, version from"
                 " billing.payment_terms where member_id = '%s'" % m["id"])
    assert [list(map(str, x)) for x in row] == [["t", "31", "0", "0", "45", "2"]], row


@pytest.mark.parametrize("body,errors", [
    ({"company": True, "closing_day": 29, "due_day": 31}, ["closing_day"]),
    ({"company": True, "closing_day": 0, "due_day": 31}, ["closing_day"]),
    ({"company": True, "closing_day": 20}, ["due_day"]),
    ({"company": True, "closing_day": 20, "due_day": 30}, ["due_day"]),
    ({"company": True, "closing_day": 20, "due_day": 10, "due_months": 4}, ["due_months"]),
    ({"company": True, "closing_day": 20, "due_day": 10, "due_days": 30}, ["due_day"]),
    ({"company": True, "closing_day": 20, "due_months": 1, "due_days": 30}, ["due_months"]),
    ({"company": True, "closing_day": 20, "due_days": 121}, ["due_days"]),
    ({"closing_day": 20, "due_day": 31}, ["company"]),
    ({"company": True, "closing_day": 20, "due_day": 31, "grace_days": 3}, ["grace_days"]),
])
def test_terms_are_checked_naming_each_field(c, body, errors):
    m = c.create_member()
    b = problem(put_terms(c, m["id"], body), 400)
    assert sorted(e["field"] for e in b["errors"]) == errors, b
    problem(c.get("/v1/members/%s/payment-terms" % m["id"]), 404)   # nothing was stored


def test_terms_of_no_member_are_404(c):
    problem(put_terms(c, "00000000-0000-4000-8000-000000000000",
                      {"company": True, "closing_day": 20, "due_day": 31}), 404)
    problem(c.get("/v1/members/not-a-uuid/payment-terms"), 404)


def test_reasons_in_japanese_with_codes(c):
    m = c.create_member()
    r = c.request("PUT", "/v1/members/%s/payment-terms" % m["id"],
                  json_body={"company": True, "closing_day": 20, "due_day": 10, "due_days": 30},
                  headers={"Accept-Language": "ja"})
    b = problem(r, 400)
    assert [(e["field"], e["reason"], e["code"]) for e in b["errors"]] == [
        ("due_day", "due_day と due_days のどちらか一方だけを指定してください", "due_day_or_due_days")], b


# --------------------------------------------------------------------------- due dates, with the clock


def test_due_dates_follow_the_terms_through_the_months(ts, c):
    plan = create_plan(c, amount=1000, tax_mode="exclusive", tax_rate=10)
    # 2026-12-21 10:00 JST = 01:00 UTC (the clock runs on from where it is set: times to the minute)
    clock(c, to="2026-12-21T01:00:00.000Z")
    a, b, d, e, f, g = (c.create_member() for _ in range(6))
    # a renewal's company, subscribed by card before it was marked a company: charged once
    attach(c, f["id"])
    sub = subscribe(c, f["id"], plan)
    assert sub["status"] == "active" and sub["current_period_end"].startswith("2027-01-21T01:00:"), sub
    set_terms(c, a["id"], closing_day=20, due_day=31)              # 20日締め翌月末払い
    set_terms(c, b["id"], closing_day=31, due_day=31)              # 月末締め翌月末払い
    set_terms(c, d["id"], closing_day=31, due_months=2, due_day=10)  # 月末締め翌々月10日払い
    set_terms(c, e["id"], closing_day=15, due_days=30)             # 15日締め30日後
    set_terms(c, f["id"], closing_day=31, due_day=31)              # 月末締め翌月末払い
    set_terms(c, g["id"], company=False, closing_day=20, due_day=31)  # kept, not in force

    # README's example: issued 2026-12-21 is past December's 20th, closes 2027-01-20, due
    # at the end of the next month, February 2027 (28 days)
    ia = manual(c, a["id"])
    assert ia["status"] == "open" and ia["issued_at"].startswith("2026-12-21T01:00:"), ia
    assert ia["due_at"] == "2027-02-28T14:59:59.999Z", ia
    # 翌々月10日: closes 2026-12-31, due 2027-02-10
    assert manual(c, d["id"])["due_at"] == "2027-02-10T14:59:59.999Z"
    # 15日締め30日後: closes 2027-01-15, + 16 days = 01-31, + 14 = 02-14
    assert manual(c, e["id"])["due_at"] == "2027-02-14T14:59:59.999Z"
    # terms not in force: the invoice's own due_days from its issue, as anyone's
    assert manual(c, g["id"], due_days=10)["due_at"].startswith("2026-12-31T01:00:")
    # a draft of b's, issued later: its due date counts from its issue, not its creation
    draft_b = manual(c, b["id"], finalize=False)
    assert draft_b["status"] == "draft" and draft_b["due_at"] == "2027-01-31T14:59:59.999Z", draft_b

    # 2027-01-05 10:00 JST: b's draft is issued; closes 2027-01-31, due 2027-02-28
    clock(c, to="2027-01-05T01:00:00.000Z")
    ib = ok(c.post("/v1/invoices/%s/finalize" % draft_b["id"], {}))
    assert ib["issued_at"].startswith("2027-01-05T01:00:") and ib["due_at"] == "2027-02-28T14:59:59.999Z", ib

    # 2027-01-21 10:00 JST: f's renewal is invoiced on its terms, not charged: closes
    # 2027-01-31, due 2027-02-28; the subscription renews (a company pays by transfer)
    clock(c, to="2027-01-21T02:00:00.000Z")
    s = subscription(c, sub["id"])
    assert s["status"] == "active" and s["current_period_start"] == sub["current_period_end"], s
    assert s["current_period_end"].startswith("2027-02-21T01:00:"), s
    renewal = invoice(c, s["latest_invoice_id"])
    assert (renewal["billing_reason"], renewal["status"], renewal["total"], renewal["amount_due"]) \
        == ("subscription_cycle", "open", 1100, 1100), renewal
    assert renewal["number"] and renewal["due_at"] == "2027-02-28T14:59:59.999Z", renewal
    assert [p["amount"] for p in payments(c, member_id=f["id"])] == [1100]   # the first period's only
    charged = ts.sql("select count(*) from billing.sandbox_charges where idempotency_key like"
                     " 'renewal:%s:%%'" % sub["id"])
    assert int(charged[0][0]) == 0, charged
    assert int(ts.sql("select count(*) from billing.outbox where type = 'invoice.finalized'"
                      " and aggregate_id = '%s'" % renewal["id"])[0][0]) == 1

    # 2027-02-28 23:00 JST: due today, not overdue yet; f renewed again on 02-21 (closes
    # 2027-02-28, due 2027-03-31)
    clock(c, to="2027-02-28T14:00:00.000Z")
    for i in (ia, ib, renewal):
        assert overdue_events(ts, i["id"]) == 0, i["id"]
    assert overdue_events(ts, invoices(c, member_id=d["id"])[0]["id"]) == 1     # due 02-10
    assert overdue_events(ts, invoices(c, member_id=e["id"])[0]["id"]) == 1     # due 02-14
    s2 = subscription(c, sub["id"])
    second = invoice(c, s2["latest_invoice_id"])
    assert second["id"] != renewal["id"] and second["due_at"] == "2027-03-31T14:59:59.999Z", second
    assert s2["status"] == "active", s2

    # 2027-03-01 01:00 JST: February 28th has passed in Japan: overdue, once each
    clock(c, to="2027-02-28T16:00:00.000Z")
    for i in (ia, ib, renewal):
        assert overdue_events(ts, i["id"]) == 1, i["id"]
        assert invoice(c, i["id"])["status"] == "open"
    assert overdue_events(ts, second["id"]) == 0
    assert subscription(c, sub["id"])["status"] == "active"     # dunning is the reminder, not a retry
    assert [p["amount"] for p in payments(c, member_id=f["id"])] == [1100]


def test_a_company_subscribes_and_buys_on_its_terms_without_a_card(ts, c, tmp_path):
    """Issued 2027-03-01 in Japan, 20日締め翌月末払い: closes 2027-03-20, due 2027-04-30. A
    company needs no payment method: its subscription is active at once and its purchase pending
    until the invoice is paid (by transfer, recorded here by hand). Its documents address it as
    a company (御中, not 様), and the invoice shows its closing date (締め日)."""
    clock(c, to="2027-03-01T01:00:00.000Z")                     # 10:00 JST
    plan = create_plan(c, amount=5000, tax_mode="exclusive", tax_rate=10)
    m = c.create_member()
    ok(c.patch("/v1/members/" + m["id"], {"name": "株式会社 山田商事"}))
    set_terms(c, m["id"], closing_day=20, due_day=31)
    sub = subscribe(c, m["id"], plan)
    assert sub["status"] == "active" and sub["payment_method_id"] in (None, ""), sub
    first = invoice(c, sub["latest_invoice_id"])
    assert (first["billing_reason"], first["status"], first["total"], first["amount_due"]) \
        == ("subscription_create", "open", 5500, 5500), first
    assert first["number"] and first["due_at"] == "2027-04-30T14:59:59.999Z", first
    p = ok(c.post("/v1/purchases", {"member_id": m["id"], "tax_mode": "inclusive", "items": [
        {"description": "研修テキスト", "unit_amount": 3300, "tax_rate": 10}]}), 201)
    assert p["status"] == "pending" and p["payment"] is None, p
    bought = invoice(c, p["invoice"]["id"])
    assert (bought["status"], bought["total"], bought["due_at"]) \
        == ("open", 3300, "2027-04-30T14:59:59.999Z"), bought
    assert payments(c, member_id=m["id"]) == []                 # nothing charged
    events = ts.sql("select type from billing.outbox where aggregate_id in ('%s', '%s', '%s')"
                    " order by seq" % (sub["id"], first["id"], bought["id"]))
    assert [e[0] for e in events] == ["subscription.created", "invoice.finalized",
                                      "subscription.started", "invoice.finalized"], events
    paid = ok(c.post("/v1/invoices/%s/mark-paid" % bought["id"],
                     {"note": "3/25 振込", "method": "bank_transfer"}))
    assert paid["status"] == "paid", paid
    assert ok(c.get("/v1/purchases/" + p["id"]))["status"] == "paid"
    text = pdf_text(c.get("/v1/invoices/%s/pdf" % first["id"]).content, tmp_path)
    assert "株式会社 山田商事 御中" in text and " 様" not in text, text
    assert re.search(r"締め日\s+2027年3月20日", text) and re.search(r"お支払期限\s+2027年4月30日", text), text
    receipt = pdf_text(c.get("/v1/invoices/%s/receipt/pdf" % bought["id"]).content, tmp_path, "receipt.pdf")
    assert "株式会社 山田商事 御中" in receipt and "締め日" not in receipt, receipt
