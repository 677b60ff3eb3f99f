"""test_bank_reconcile.py - payments recorded by hand and bank-transfer reconciliation (消込)
through HTTP, against real servers (services/billing/README.md, "Payments by hand and bank
statements"): an invoice marked paid with a note, as any payment pays it (invoice.paid)."""

import pytest

from billing_util import billing_suite, finish_suite, invoice, ms, now_ms, ok, payments, rfc3339


@pytest.fixture(scope="module")
def bs():
    s = billing_suite("bank")
    yield s
    finish_suite(s)


@pytest.fixture
def c(bs):
    return bs.client


@pytest.fixture(scope="module")
def viewer(bs):
    account, password = bs.create_staff("viewer")
    return bs.client_as(bs.login(account["email"], password))


def problem(r, status):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers.get("Content-Type", "").startswith("application/problem+json"), r.headers
    return r.json()


def open_invoice(c, member_id, unit_amount):
    """A finalised invoice of one line of unit_amount, tax included (10%): total unit_amount."""
    d = ok(c.post("/v1/invoices", {"member_id": member_id, "tax_mode": "inclusive",
                                   "lines": [{"description": "月会費", "unit_amount": unit_amount,
                                              "tax_rate": 10}]}), 201)
    return ok(c.post("/v1/invoices/%s/finalize" % d["id"], {}))


def events(bs, aggregate_id):
    return [r[0] for r in bs.sql("select type from billing.outbox where aggregate_id = '%s' order by seq"
                                 % aggregate_id)]


# =========================================================================== mark paid by hand
def test_mark_paid_records_a_manual_payment_with_its_note(bs, c):
    m = c.create_member()
    inv = open_invoice(c, m["id"], 3300)
    paid_at = now_ms(c) - 3600 * 1000
    r = ok(c.post("/v1/invoices/%s/mark-paid" % inv["id"],
                  {"note": "受付で現金受領 (山田)", "method": "cash", "paid_at": rfc3339(paid_at)}))
    assert r["status"] == "paid" and r["amount_paid"] == 3300 and r["amount_due"] == 0, r
    assert abs(ms(r["paid_at"]) - paid_at) < 1000, r
    [p] = payments(c, invoice_id=inv["id"])
    assert (p["provider"], p["method_type"], p["status"], p["amount"], p["amount_received"]) == \
        ("manual", "cash", "succeeded", 3300, 3300), p
    assert p["note"] == "受付で現金受領 (山田)" and p["recorded_by"] and p["payment_method_id"] is None, p
    assert events(bs, inv["id"])[-1] == "invoice.paid"
    assert events(bs, p["id"]) == ["payment.succeeded"]
    # paid already: refused, nothing more recorded
    problem(c.post("/v1/invoices/%s/mark-paid" % inv["id"], {"note": "again"}), 409)
    assert len(payments(c, invoice_id=inv["id"])) == 1


def test_mark_paid_defaults_to_cash_and_checks_its_fields(bs, c, viewer):
    m = c.create_member()
    inv = open_invoice(c, m["id"], 1000)
    body = problem(c.post("/v1/invoices/%s/mark-paid" % inv["id"], {"method": "cash"}), 400)
    assert [e["field"] for e in body["errors"]] == ["note"], body
    body = problem(c.post("/v1/invoices/%s/mark-paid" % inv["id"], {"note": "x", "method": "card"}), 400)
    assert [e["field"] for e in body["errors"]] == ["method"], body
    future = rfc3339(now_ms(c) + 86400 * 1000)
    body = problem(c.post("/v1/invoices/%s/mark-paid" % inv["id"], {"note": "x", "paid_at": future}), 400)
    assert [e["field"] for e in body["errors"]] == ["paid_at"], body
    problem(viewer.post("/v1/invoices/%s/mark-paid" % inv["id"], {"note": "x"}), 403)
    assert invoice(c, inv["id"])["status"] == "open"
    ok(c.post("/v1/invoices/%s/mark-paid" % inv["id"], {"note": "x"}))
    [p] = payments(c, invoice_id=inv["id"])
    assert p["method_type"] == "cash" and p["amount"] == 1000, p

