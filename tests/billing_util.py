"""billing_util.py - helpers for the billing black-box tests: plans, cards, subscriptions, the
test clock, signed sandbox webhooks, the database checks (gap-free numbers, money balances)
and what a PDF says (poppler-utils).

Everything goes through the gateway's HTTP API; the database is only read (as the superuser)
to count rows the API cannot show: sandbox charges, invoice and credit-note numbering."""

import datetime
import hashlib
import hmac
import json
import os
import re
import secrets
import subprocess
import time

import pytest
import requests

import harness

DAY_MS = 24 * 3600 * 1000


def billing_suite(name, **kw):
    """A suite of its own with kaiin-billing (the billing tests move its test clock, which only
    goes forward: the shared suite must not see months pass). Skips when billing is not built."""
    if not harness.have_billing():
        pytest.skip("kaiin-billing is not built (%s)" % harness.bin_dir())
    kw.setdefault("automations", False)
    return harness.Suite(name, billing=True, **kw).start()


def finish_suite(s):
    s.stop()
    probs = s.take_problems()
    if probs:
        pytest.fail("%s suite end: Kaiin process problems:\n\n%s" % (s.name, "\n\n".join(probs)),
                    pytrace=False)
    if os.environ.get("KAIIN_TEST_KEEP") != "1":       # KAIIN_TEST_KEEP=1 keeps the logs
        s.cleanup_dir()


def uniq(prefix="p"):
    return "%s-%s" % (prefix, secrets.token_hex(5))


def ms(rfc3339):
    """RFC 3339 ("2025-01-02T03:04:05.678Z") → Unix milliseconds (None → None)."""
    if rfc3339 is None:
        return None
    d = datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))
    return int(round(d.timestamp() * 1000))


def rfc3339(ms_):
    d = datetime.datetime.fromtimestamp(ms_ / 1000, tz=datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms_ % 1000)


def problem(r, status):
    """The problem+json body of an answer of status."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers.get("Content-Type", "").startswith("application/problem+json"), r.headers
    return r.json()


def ok(r, *codes):
    codes = codes or (200,)
    assert r.status_code in codes, (r.request.method, r.request.path_url, r.status_code, r.text)
    return r.json()


# --------------------------------------------------------------------------- resources
def create_plan(c, amount=1000, tax_mode="exclusive", tax_rate=10, interval="month",
                interval_count=1, trial_days=0, rank="", **extra):
    body = {"code": uniq("plan"), "name": "Plan %d" % amount, "amount": amount,
            "currency": "JPY", "tax_mode": tax_mode, "tax_rate": tax_rate,
            "interval": interval, "interval_count": interval_count, "trial_days": trial_days,
            "rank": rank}
    body.update(extra)
    return ok(c.post("/v1/plans", body), 201)


def attach(c, member_id, type_="card", token="tok_visa", set_default=None):
    body = {"type": type_}
    if type_ == "card":
        body["token"] = token
    if set_default is not None:
        body["set_default"] = set_default
    return ok(c.post("/v1/members/%s/payment-methods" % member_id, body), 201)


def member_with_card(c, token="tok_visa"):
    m = c.create_member()
    pm = attach(c, m["id"], token=token)
    return m, pm


def subscribe(c, member_id, plan, key=None, expect=(201,), **extra):
    body = {"member_id": member_id, "plan": plan if isinstance(plan, str) else plan["id"]}
    body.update(extra)
    headers = {"Idempotency-Key": key} if key else None
    return ok(c.post("/v1/subscriptions", body, headers=headers), *expect)


def subscribe_paying_by(c, type_, amount=1000):
    """A new member subscribed to a new plan of amount, paying by a konbini or bank_transfer
    method of their own; returns (member, subscription)."""
    p = create_plan(c, amount=amount)
    m = c.create_member()
    pm = attach(c, m["id"], type_=type_)
    return m, subscribe(c, m["id"], p, payment_method_id=pm["id"])


def get(c, path, **params):
    return ok(c.get(path, params=params or None))


def invoice(c, invoice_id):
    return get(c, "/v1/invoices/" + invoice_id)


def invoices(c, **params):
    params.setdefault("limit", 100)
    return get(c, "/v1/invoices", **params)["data"]


def payments(c, **params):
    params.setdefault("limit", 100)
    return get(c, "/v1/payments", **params)["data"]


def subscription(c, sid):
    return get(c, "/v1/subscriptions/" + sid)


def purchase(c, member_id, items, expect=(201,), **extra):
    body = {"member_id": member_id, "items": items}
    body.update(extra)
    return ok(c.post("/v1/purchases", body), *expect)


def item(unit_amount, tax_rate=10, quantity=1, sku=None, description=None):
    sku = sku or uniq("sku")
    return {"sku": sku, "description": description or "item " + sku, "quantity": quantity,
            "unit_amount": unit_amount, "tax_rate": tax_rate}


# --------------------------------------------------------------------------- test clock
def clock(c, advance=None, to=None):
    """POST /v1/test/clock: moves every process's clock and returns once all due work is done."""
    body = {"advance": advance} if advance else {"to": to if isinstance(to, str) else rfc3339(to)}
    r = c.post("/v1/test/clock", body, timeout=(3.0, 120.0))
    assert r.status_code == 200, ("test clock", body, r.status_code, r.text)
    return r.json() if r.content else {}


def now_ms(c):
    """The test clock's now (ms), as the services read it: GET /v1/test/clock, else a new
    member's created_at."""
    r = c.get("/v1/test/clock")
    if r.status_code == 200:
        try:
            b = r.json()
            for k in ("now", "now_at"):
                if isinstance(b.get(k), str):
                    return ms(b[k])
            if isinstance(b.get("now_ms"), int):
                return b["now_ms"]
        except ValueError:
            pass
    return ms(c.create_member()["created_at"])


# --------------------------------------------------------------------------- webhooks
def sign(secret, timestamp, body):
    return hmac.new(secret.encode(), ("%s." % timestamp).encode() + body,
                    hashlib.sha256).hexdigest()


def webhook(suite, event, timestamp=None, secret=None, signature=None, provider="sandbox"):
    """POSTs a signed sandbox webhook (no bearer token). event: dict or raw bytes."""
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    if timestamp is None:
        timestamp = now_ms(suite.client) // 1000
    if signature is None:
        signature = sign(secret or suite.webhook_secret, timestamp, body)
    return requests.post(suite.url("/v1/webhooks/payments/" + provider), data=body,
                         headers={"Content-Type": "application/json",
                                  "Kaiin-Timestamp": str(timestamp),
                                  "Kaiin-Signature": signature},
                         timeout=harness.HTTP_TIMEOUT)


def provider_ref(payment):
    return payment.get("provider_ref") or payment.get("konbini_number") or payment.get("bank_reference")


# --------------------------------------------------------------------------- database checks
def invoice_numbers_contiguous(suite):
    """Every finalised invoice has a number; the numbers are exactly 1..N (INV-%08d)."""
    rows = suite.sql("select count(*), count(distinct number), coalesce(min(number), 0), "
                     "coalesce(max(number), 0) from billing.invoices where number is not null")
    n, distinct, lo, hi = (int(x) for x in rows[0])
    assert n == distinct, "invoice numbers repeated: %d numbered invoices, %d numbers" % (n, distinct)
    if n:
        assert (lo, hi) == (1, n), "invoice numbers not 1..%d: min %d max %d" % (n, lo, hi)
    unnumbered = suite.sql("select count(*) from billing.invoices where number is null "
                           "and status <> 'draft'")[0][0]
    assert unnumbered == "0", "%s finalised invoices without a number" % unnumbered
    return n


def credit_notes_contiguous(suite):
    rows = suite.sql("select count(*), count(distinct credit_note_number), "
                     "coalesce(min(credit_note_number), 0), coalesce(max(credit_note_number), 0) "
                     "from billing.refunds")
    n, distinct, lo, hi = (int(x) for x in rows[0])
    assert n == distinct, "credit note numbers repeated"
    if n:
        assert (lo, hi) == (1, n), "credit note numbers not 1..%d: min %d max %d" % (n, lo, hi)
    return n


def money_balances(suite):
    """To the yen: what payments received less refunds equals what paid invoices say was paid
    less refunds, and every paid invoice's amount_paid covers its total (less credit)."""
    received = int(suite.sql("select coalesce(sum(amount_received), 0) from billing.payments "
                             "where status = 'succeeded'")[0][0])
    refunded = int(suite.sql("select coalesce(sum(amount), 0) from billing.refunds")[0][0])
    paid = int(suite.sql("select coalesce(sum(amount_paid), 0) from billing.invoices "
                         "where status = 'paid'")[0][0])
    pending_partial = int(suite.sql(
        "select coalesce(sum(p.amount_received), 0) from billing.payments p "
        "join billing.invoices i on i.id = p.invoice_id "
        "where p.status = 'succeeded' and i.status <> 'paid'")[0][0])
    return received, refunded, paid, pending_partial


def wait_for(fn, timeout=5.0, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError("%s not reached within %.1fs (last: %r)" % (what, timeout, last))
        time.sleep(interval)


def member_status(c, member_id):
    m = ok(c.get("/v1/members/" + member_id))
    return m["status"], m.get("rank")


# --------------------------------------------------------------------------- PDFs
def pdf_text(pdf, tmp_path, name="doc.pdf"):
    """The text of a PDF as pdftotext -layout reads it (poppler-utils), each page's lines in
    reading order."""
    path = tmp_path / name
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-layout", "-enc", "UTF-8", str(path), "-"],
                         capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    return out.stdout.decode()


def pdf_pages(pdf, tmp_path, name="doc.pdf"):
    """How many pages pdfinfo counts."""
    path = tmp_path / name
    path.write_bytes(pdf)
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, timeout=30, text=True)
    assert out.returncode == 0, out.stderr
    return int(re.search(r"^Pages:\s+(\d+)", out.stdout, re.M).group(1))


def server_timing(r):
    """Server-Timing's metrics as {name: dur in ms}."""
    out = {}
    for part in r.headers.get("Server-Timing", "").split(","):
        m = re.match(r"\s*([\w-]+);dur=([\d.]+)", part)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out
