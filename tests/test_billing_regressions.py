"""test_billing_regressions.py - billing defects of issue 17 (2 to 7), each with the one documented
answer worked out by hand: an expired konbini purchase fails, a draft's due date counts from its
finalisation, the status filters of payments and payment methods, refunds (400, paginated
list, the issuer name cleared), the bank transfer's deadline, and a long test-clock move taken
in due order.

The suite is this module's own: its clock only moves forward."""

import pytest

from billing_util import (DAY_MS, attach, billing_suite, clock, create_plan, finish_suite, get,
                          invoice, invoices, item, ms, ok, payments, provider_ref, purchase,
                          subscribe, subscription, uniq, webhook)

HOUR_MS = 3600 * 1000


@pytest.fixture(scope="module")
def rs():
    s = billing_suite("billreg")
    yield s
    finish_suite(s)


@pytest.fixture
def c(rs):
    return rs.client


# --------------------------------------------------------------------------- defect 2
def test_expired_konbini_purchase_fails_and_its_invoice_stays_open(rs, c):
    m = c.create_member()
    pm = attach(c, m["id"], type_="konbini")
    pu = purchase(c, m["id"], [item(1000, 10)], payment_method_id=pm["id"])   # inclusive: ¥1,000
    assert pu["status"] == "pending", pu
    pay = pu["payment"]
    assert pay["status"] == "pending" and pay["amount"] == 1000, pay
    # the sandbox's konbini expiry is the settings' 3 days from the purchase
    assert ms(pay["expires_at"]) == ms(pu["created_at"]) + 3 * DAY_MS, (pay, pu)
    clock(c, to=ms(pay["expires_at"]) - HOUR_MS)
    assert ok(c.get("/v1/purchases/" + pu["id"]))["status"] == "pending"
    clock(c, to=ms(pay["expires_at"]) + HOUR_MS)
    after = ok(c.get("/v1/purchases/" + pu["id"]))
    assert after["status"] == "failed", after
    assert after["payment"]["status"] == "expired" and after["payment"]["failure_code"] == "expired", after
    inv = invoice(c, pu["invoice"]["id"])
    assert (inv["status"], inv["amount_due"], inv["amount_paid"]) == ("open", 1000, 0), inv
    summary = ok(c.get("/v1/members/%s/billing-summary" % m["id"]))
    assert (summary["purchase_count"], summary["purchase_total"]) == (0, 0), summary


def outbox_count(rs, type_, aggregate_id):
    return int(rs.sql("select count(*) from billing.outbox where type = '%s' and aggregate_id = '%s'"
                      % (type_, aggregate_id))[0][0])


# --------------------------------------------------------------------------- defect 3
def test_draft_finalised_late_is_due_its_days_after_finalisation(rs, c):
    m = c.create_member()
    lines = [{"description": "年会費", "quantity": 1, "unit_amount": 5000, "tax_rate": 10}]
    d = ok(c.post("/v1/invoices", {"member_id": m["id"], "lines": lines, "due_days": 14}), 201)
    assert d["status"] == "draft", d
    assert ms(d["due_at"]) == ms(d["created_at"]) + 14 * DAY_MS, d
    clock(c, to=ms(d["created_at"]) + 14 * DAY_MS + HOUR_MS)        # finalised 14 days late
    f = ok(c.post("/v1/invoices/%s/finalize" % d["id"], {}))
    issued = ms(f["issued_at"])
    assert issued >= ms(d["created_at"]) + 14 * DAY_MS + HOUR_MS, f
    assert f["status"] == "open" and ms(f["due_at"]) == issued + 14 * DAY_MS, f
    clock(c, to=issued + 13 * DAY_MS)
    assert invoice(c, d["id"])["status"] == "open"
    assert outbox_count(rs, "invoice.overdue", d["id"]) == 0       # not overdue at once
    clock(c, to=issued + 14 * DAY_MS + HOUR_MS)
    assert outbox_count(rs, "invoice.overdue", d["id"]) == 1


# --------------------------------------------------------------------------- defect 4
def test_payments_filtered_by_status(rs, c):
    m = c.create_member()
    attach(c, m["id"], token="tok_visa")                                 # the default
    konbini = attach(c, m["id"], type_="konbini")
    paid = purchase(c, m["id"], [item(1100, 10)])                         # card: succeeded
    pending = purchase(c, m["id"], [item(2200, 10)], payment_method_id=konbini["id"])
    assert (paid["payment"]["status"], pending["payment"]["status"]) == ("succeeded", "pending")

    def listed(status):
        return [(p["id"], p["status"], p["amount"]) for p in payments(c, member_id=m["id"], status=status)]
    assert listed("pending") == [(pending["payment"]["id"], "pending", 2200)]
    assert listed("succeeded") == [(paid["payment"]["id"], "succeeded", 1100)]
    assert listed("failed") == [] and listed("expired") == []
    assert len(payments(c, member_id=m["id"])) == 2                       # no filter: both


def test_payment_methods_filtered_by_status(rs, c):
    m = c.create_member()
    visa = attach(c, m["id"], token="tok_visa")
    jcb = attach(c, m["id"], token="tok_jcb")
    ok(c.request("DELETE", "/v1/payment-methods/" + visa["id"]))
    path = "/v1/members/%s/payment-methods" % m["id"]
    assert [(x["id"], x["status"]) for x in get(c, path, status="detached")["data"]] == [(visa["id"], "detached")]
    assert [(x["id"], x["status"]) for x in get(c, path, status="active")["data"]] == [(jcb["id"], "active")]
    assert [x["id"] for x in get(c, path)["data"]] == [jcb["id"]]        # no filter: the active ones


# --------------------------------------------------------------------------- defect 5
def test_refund_of_more_than_is_left_is_400(rs, c):
    m = c.create_member()
    attach(c, m["id"], token="tok_visa")
    pu = purchase(c, m["id"], [item(1100, 10)])
    pay = pu["payment"]
    ok(c.post("/v1/payments/%s/refunds" % pay["id"], {"amount": 600, "reason": "other"}), 201)
    r = c.post("/v1/payments/%s/refunds" % pay["id"], {"amount": 501, "reason": "other"})   # 500 left
    assert r.status_code == 400, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers
    assert [e["field"] for e in r.json()["errors"]] == ["amount"], r.text
    assert ok(c.get("/v1/payments/" + pay["id"]))["amount_refunded"] == 600


def test_settings_issuer_name_null_clears_it(rs, c):
    before = ok(c.get("/v1/billing/settings"))
    cleared = ok(c.patch("/v1/billing/settings", {"issuer_name": None}))
    assert cleared["issuer_name"] is None, cleared
    assert cleared["registration_number"] == before["registration_number"], cleared
    assert ok(c.get("/v1/billing/settings"))["issuer_name"] is None
    m = c.create_member()
    lines = [{"description": "会費", "quantity": 1, "unit_amount": 1000, "tax_rate": 10}]
    d = ok(c.post("/v1/invoices", {"member_id": m["id"], "lines": lines}), 201)
    f = ok(c.post("/v1/invoices/%s/finalize" % d["id"], {}))
    assert f["issuer_name"] is None, f
    restored = ok(c.patch("/v1/billing/settings", {"issuer_name": "株式会社カイイン"}))
    assert restored["issuer_name"] == "株式会社カイイン"


def test_refunds_list_pages_past_100(rs, c):
    m = c.create_member()
    attach(c, m["id"], token="tok_visa")
    pay = purchase(c, m["id"], [item(1100, 10)])["payment"]
    made = [ok(c.post("/v1/payments/%s/refunds" % pay["id"], {"amount": 1, "reason": "other"}), 201)["id"]
            for _ in range(101)]
    first = get(c, "/v1/refunds", member_id=m["id"], limit=100)
    assert len(first["data"]) == 100 and first["next_cursor"], (len(first["data"]), first["next_cursor"])
    second = get(c, "/v1/refunds", member_id=m["id"], limit=100, cursor=first["next_cursor"])
    assert len(second["data"]) == 1 and second["next_cursor"] is None, second
    listed = [x["id"] for x in first["data"] + second["data"]]
    assert listed == made[::-1]                                        # newest first, each once
    small = get(c, "/v1/refunds", member_id=m["id"], limit=2)
    assert [x["id"] for x in small["data"]] == made[:-3:-1] and small["next_cursor"], small
    default = get(c, "/v1/refunds", member_id=m["id"])
    assert len(default["data"]) == 20 and default["next_cursor"], len(default["data"])   # LIST_DEFAULT
    assert ok(c.get("/v1/payments/" + pay["id"]))["amount_refunded"] == 101


# --------------------------------------------------------------------------- defect 6
def test_bank_transfer_subscription_unpaid_is_canceled_after_23_hours(rs, c):
    p = create_plan(c, amount=1000)
    m = c.create_member()
    pm = attach(c, m["id"], type_="bank_transfer")
    s = subscribe(c, m["id"], p, payment_method_id=pm["id"])
    assert s["status"] == "incomplete", s
    created = ms(s["created_at"])
    pay = payments(c, invoice_id=s["latest_invoice_id"])[0]
    assert pay["status"] == "pending" and pay["bank_reference"].startswith("BT-"), pay
    assert ms(pay["expires_at"]) == created + 23 * HOUR_MS, pay     # a first invoice: its 23 hours
    clock(c, to=created + 22 * HOUR_MS)
    assert subscription(c, s["id"])["status"] == "incomplete"
    assert ok(c.get("/v1/payments/" + pay["id"]))["status"] == "pending"
    clock(c, to=created + 24 * HOUR_MS)
    after = ok(c.get("/v1/payments/" + pay["id"]))
    assert (after["status"], after["failure_code"]) == ("expired", "expired"), after
    x = subscription(c, s["id"])
    assert x["status"] == "canceled", x
    assert invoice(c, s["latest_invoice_id"])["status"] == "void"


def test_bank_transfer_purchase_expires_after_its_deadline(rs, c):
    m = c.create_member()
    pm = attach(c, m["id"], type_="bank_transfer")
    pu = purchase(c, m["id"], [item(3300, 10)], payment_method_id=pm["id"])
    pay = pu["payment"]
    assert pay["status"] == "pending", pay
    # BILLING_BANK_TRANSFER_DAYS, 7 by default
    assert ms(pay["expires_at"]) == ms(pu["created_at"]) + 7 * DAY_MS, (pay, pu)
    clock(c, to=ms(pay["expires_at"]) - HOUR_MS)
    assert ok(c.get("/v1/purchases/" + pu["id"]))["status"] == "pending"
    clock(c, to=ms(pay["expires_at"]) + HOUR_MS)
    after = ok(c.get("/v1/purchases/" + pu["id"]))
    assert after["status"] == "failed" and after["payment"]["status"] == "expired", after


# --------------------------------------------------------------------------- defect 7
def konbini_member_paid_once(suite):
    """A konbini subscription of ¥1,000 税抜 whose first slip is paid: active for a month."""
    c = suite.client
    p = create_plan(c, amount=1000)
    m = c.create_member()
    pm = attach(c, m["id"], type_="konbini")
    s = subscribe(c, m["id"], p, payment_method_id=pm["id"])
    pay = payments(c, invoice_id=s["latest_invoice_id"])[0]
    r = webhook(suite, {"id": uniq("evt"), "type": "konbini.paid", "provider_ref": provider_ref(pay),
                        "amount": 1100})
    assert r.status_code == 200, r.text
    assert subscription(c, s["id"])["status"] == "active"
    return m, s


def outcome(c, m, s):
    subs = subscription(c, s["id"])
    invs = sorted(invoices(c, subscription_id=s["id"]), key=lambda i: ms(i["created_at"]))
    pays = sorted(payments(c, member_id=m["id"]), key=lambda p: ms(p["created_at"]))
    return (subs["status"], [(i["billing_reason"], i["status"], i["total"]) for i in invs],
            [(p["method_type"], p["status"], p["amount"]) for p in pays])


@pytest.mark.heavy
def test_one_long_clock_move_does_what_day_by_day_does(rs):
    """Worked out by hand (retries 1, 3, 7 days, final action cancel, konbini 3 days): the
    renewal's slip expires 3 days after the period's end: past_due; each retry a day later
    issues a new slip that expires 3 days after it; the third retry's slip expires at +15 days:
    the subscription is canceled, its renewal invoice uncollectible, and nothing renews it
    again (its next period would have ended at +2 months)."""
    span = 62
    m1, s1 = konbini_member_paid_once(rs)
    start1 = ms(s1["created_at"])
    for day in range(1, span + 1):
        clock(rs.client, to=start1 + day * DAY_MS)
    day_by_day = outcome(rs.client, m1, s1)

    other = billing_suite("billreg-jump")
    try:
        m2, s2 = konbini_member_paid_once(other)
        clock(other.client, to=ms(s2["created_at"]) + span * DAY_MS)
        one_move = outcome(other.client, m2, s2)
    finally:
        finish_suite(other)

    expected = ("canceled",
                [("subscription_create", "paid", 1100), ("subscription_cycle", "uncollectible", 1100)],
                [("konbini", "succeeded", 1100)] + [("konbini", "expired", 1100)] * 4)
    assert day_by_day == expected, day_by_day
    assert one_move == expected, one_move
