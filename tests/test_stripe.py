"""test_stripe.py - billing with BILLING_PROVIDER=stripe against a real stripe-mock (Stripe's API
answered from its OpenAPI description: every request validated, fixture objects answered),
through a recording proxy this test runs in front of it, so each request's headers and form
are asserted on: the Idempotency-Key Kaiin sends, one call per charge, the card number never
sent. Webhooks signed the way Stripe signs them (Stripe-Signature). Billing refusing to start
without its Stripe keys.

stripe-mock keeps no state between calls and answers a confirmed PaymentIntent with
"requires_payment_method" whatever the method. Where a test needs Stripe's answer the proxy
stands in for it and says so (StripeStandIn): the status Stripe gives a test payment method,
and the same answer again for an Idempotency-Key it has seen. What depends on state kept across
calls (dunning, expiry, partial transfers, reconciliation) is covered by the sandbox's tests."""

import hashlib
import hmac
import http.server
import json
import os
import threading
import time
import urllib.parse

import pytest
import requests

import harness
from billing_util import (attach, clock, create_plan, finish_suite, invoice, invoices, ms, now_ms, ok,
                          payments, subscribe, subscribe_paying_by, subscription, uniq)

API_KEY = "sk_test_kaiin" + "0" * 16          # stripe-mock takes sk_test_ and letters or digits
WEBHOOK_SECRET = "whsec_kaiin_test_secret"


class StripeStandIn(http.server.ThreadingHTTPServer):
    """A proxy to stripe-mock that records every request (method, path, headers, form, and
    stripe-mock's status) and, on stripe-mock's 200 to a new PaymentIntent, sets what Stripe
    itself would answer: pm_card_visa succeeds; pm_card_chargeDeclined is declined (402
    card_declined); konbini and customer_balance wait for the customer (requires_action with
    the payment code or the bank reference). A key seen before gets its first answer again."""
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", harness.free_port()), _StandInHandler)
        self.upstream = None          # stripe-mock's base URL, set once the suite is made
        self.calls = []
        self.answers = {}             # Idempotency-Key -> (status, body)
        self.before_intent = None     # called with the Idempotency-Key before a PaymentIntent is made
        self.slip_from_s = None       # a konbini slip's 3 days count from this (Unix s); None: now
        self.lock = threading.Lock()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server_address[1]

    def intents(self):
        with self.lock:
            return [c for c in self.calls if c["method"] == "POST" and c["path"] == "/v1/payment_intents"]


def _stripe_answer(form, status, body, slip_from_s=None):
    """What Stripe answers a confirmed PaymentIntent of form, from stripe-mock's fixture body; a
    konbini slip expires 3 days after slip_from_s (Unix seconds; None: now)."""
    intent = json.loads(body)
    kind = form.get("payment_method_types[]", [""])[0]
    method = form.get("payment_method", [""])[0]
    if kind == "card" and method == "pm_card_chargeDeclined":
        intent.update(status="requires_payment_method", amount_received=0)
        error = {"type": "card_error", "code": "card_declined", "decline_code": "generic_decline",
                 "message": "Your card was declined.", "payment_intent": intent}
        return 402, json.dumps({"error": error}).encode()
    if kind == "card":
        intent.update(status="succeeded", amount_received=intent["amount"], next_action=None)
    elif kind == "konbini":
        intent.update(status="requires_action", amount_received=0, next_action={
            "type": "konbini_display_details",
            "konbini_display_details": {"expires_at": int(slip_from_s or time.time()) + 3 * 86400,
                                        "hosted_voucher_url": "https://payments.stripe.com/konbini/voucher/x",
                                        "stores": {"familymart": {"confirmation_number": "12345",
                                                                  "payment_code": "123456789012"}}}})
    elif kind == "customer_balance":
        intent.update(status="requires_action", amount_received=0, next_action={
            "type": "display_bank_transfer_instructions",
            "display_bank_transfer_instructions": {"amount_remaining": intent["amount"], "currency": "jpy",
                                                   "reference": "KAIIN12", "type": "jp_bank_transfer"}})
    return status, json.dumps(intent).encode()


class _StandInHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _forward(self, method):
        server = self.server
        size = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(size) if size else b""
        form = urllib.parse.parse_qs(raw.decode(), keep_blank_values=True)
        key = self.headers.get("Idempotency-Key")
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        if server.before_intent and method == "POST" and self.path == "/v1/payment_intents":
            server.before_intent(key or "")
        with server.lock:
            replay = server.answers.get(key) if key and self.path == "/v1/payment_intents" else None
        if replay:
            status, body = replay
            upstream_status = None
        else:
            r = requests.request(method, server.upstream + self.path, data=raw or None, headers=headers,
                                 timeout=10)
            status = upstream_status = r.status_code
            body = r.content
            if method == "POST" and self.path == "/v1/payment_intents" and status == 200:
                status, body = _stripe_answer(form, status, body, server.slip_from_s)
                with server.lock:
                    server.answers.setdefault(key, (status, body))
        with server.lock:
            server.calls.append({"method": method, "path": self.path, "headers": dict(self.headers),
                                 "form": form, "upstream_status": upstream_status, "status": status,
                                 "answer": json.loads(body)})
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._forward("GET")

    def do_POST(self):
        self._forward("POST")


def stripe_settings(base):
    return {"BILLING_PROVIDER": "stripe", "STRIPE_API_KEY": API_KEY, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "STRIPE_API_BASE": base, "STRIPE_TIMEOUT_MS": "5000"}


@pytest.fixture(scope="module")
def stripe():
    if not harness.have_billing():
        pytest.skip("kaiin-billing is not built (%s)" % harness.bin_dir())
    if not harness.stripe_mock_binary():
        pytest.skip("stripe-mock is not installed (make test installs it in build/tools)")
    proxy = StripeStandIn()
    s = harness.Suite("stripe", billing=True, automations=False, stripe_mock=True,
                      services=["member", "billing"],
                      settings={"billing": stripe_settings(proxy.url)})
    proxy.upstream = "http://127.0.0.1:%d" % s.stripe_mock_port
    s.start()
    s.stand_in = proxy
    yield s
    proxy.shutdown()
    finish_suite(s)


@pytest.fixture
def c(stripe):
    return stripe.client


def stripe_signature(body, timestamp, secret=WEBHOOK_SECRET):
    return "t=%d,v1=%s" % (timestamp, hmac.new(secret.encode(), b"%d." % timestamp + body,
                                                hashlib.sha256).hexdigest())


def stripe_webhook(suite, event, timestamp=None, signature=None):
    body = json.dumps(event).encode()
    timestamp = now_ms(suite.client) // 1000 if timestamp is None else timestamp
    return requests.post(suite.url("/v1/webhooks/payments/stripe"), data=body,
                         headers={"Content-Type": "application/json",
                                  "Stripe-Signature": signature or stripe_signature(body, timestamp)},
                         timeout=harness.HTTP_TIMEOUT)


def card_member(c, pm="pm_card_visa"):
    m = c.create_member()
    return m, attach(c, m["id"], token=pm)


def customer_of(stripe, member_id):
    """The Stripe customer billing keeps for the member (migration 010), or None."""
    rows = stripe.sql("select ref from billing.provider_customers where member_id = '%s'"
                      " and provider = 'stripe'" % member_id)
    return rows[0][0] if rows else None


def customers_made(stripe, member_id):
    return [x for x in stripe.stand_in.calls if x["method"] == "POST" and x["path"] == "/v1/customers"
            and x["form"].get("metadata[kaiin_member]") == [member_id]]


def attached(stripe, token):
    return [x for x in stripe.stand_in.calls if x["method"] == "POST"
            and x["path"] == "/v1/payment_methods/%s/attach" % token]


def test_card_attached_by_payment_method_id_from_stripe(stripe, c):
    m, pm = card_member(c)
    assert (pm["provider"], pm["brand"], pm["last4"]) == ("stripe", "visa", "4242"), pm
    assert (pm["exp_month"], pm["exp_year"]) == (8, 2030), pm         # stripe-mock's fixture card
    got = [x for x in stripe.stand_in.calls if x["path"] == "/v1/payment_methods/pm_card_visa"]
    assert got and got[-1]["upstream_status"] == 200 and got[-1]["headers"]["Authorization"] == "Bearer " + API_KEY
    # The member became a Stripe customer, once, and the card was saved to it (Stripe charges a
    # card off-session again only when it is); a second card goes to the same customer.
    made = customers_made(stripe, m["id"])
    assert len(made) == 1 and made[0]["upstream_status"] == 200, made
    assert made[0]["headers"]["Idempotency-Key"] == "customer:" + m["id"]
    customer = customer_of(stripe, m["id"])
    assert customer == made[0]["answer"]["id"] and customer.startswith("cus_"), customer
    saved = attached(stripe, "pm_card_visa")
    assert saved and saved[-1]["form"]["customer"] == [customer] and saved[-1]["upstream_status"] == 200
    attach(c, m["id"], token="pm_card_mastercard")
    assert len(customers_made(stripe, m["id"])) == 1
    assert attached(stripe, "pm_card_mastercard")[-1]["form"]["customer"] == [customer]
    assert stripe.sql("select count(*), count(*) filter (where customer_ref = '%s') from billing.payment_methods"
                      " where member_id = '%s'" % (customer, m["id"])) == [["2", "2"]]
    assert "customer_ref" not in pm, pm                                 # never shown
    # A token Stripe's ids are never made of is refused without asking Stripe.
    r = c.post("/v1/members/%s/payment-methods" % m["id"], {"type": "card", "token": "pm_../x"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "token", r.text


def test_subscription_paid_through_stripe_with_our_key(stripe, c):
    p = create_plan(c, amount=1000)
    m, pm = card_member(c)
    before = len(stripe.stand_in.intents())
    s = subscribe(c, m["id"], p)
    assert s["status"] == "active", s
    inv = invoice(c, s["latest_invoice_id"])
    assert inv["status"] == "paid" and inv["amount_paid"] == 1100, inv
    calls = stripe.stand_in.intents()[before:]
    assert len(calls) == 1, calls
    call = calls[0]
    assert call["upstream_status"] == 200, call           # stripe-mock took the request as valid
    form = call["form"]
    key = call["headers"]["Idempotency-Key"]
    assert key.startswith("subscription:") and form["metadata[kaiin_key]"] == [key], call
    assert form["amount"] == ["1100"] and form["currency"] == ["jpy"] and form["confirm"] == ["true"]
    assert form["payment_method"] == ["pm_card_visa"] and form["payment_method_types[]"] == ["card"]
    assert form["metadata[kaiin_customer]"] == [m["id"]]
    assert form["customer"] == [customer_of(stripe, m["id"])], form    # the card's customer
    assert not any("number" in name or "cvc" in name for name in form), form     # tokens only
    pay = payments(c, invoice_id=inv["id"])
    assert len(pay) == 1 and pay[0]["status"] == "succeeded" and pay[0]["provider"] == "stripe", pay
    assert pay[0]["provider_ref"] == call["answer"]["id"] and pay[0]["provider_ref"].startswith("pi_"), pay


def test_declined_card_fails_with_stripes_code(stripe, c):
    p = create_plan(c, amount=500)
    m, pm = card_member(c, pm="pm_card_chargeDeclined")
    s = subscribe(c, m["id"], p)
    assert s["status"] == "incomplete", s
    pays = payments(c, invoice_id=s["latest_invoice_id"])
    assert len(pays) == 1 and pays[0]["status"] == "failed", pays
    assert pays[0]["failure_code"] == "card_declined" and pays[0]["failure_message"] == "Your card was declined."
    assert pays[0]["provider_ref"].startswith("pi_"), pays


def test_refund_goes_to_stripe_with_its_own_key(stripe, c):
    p = create_plan(c, amount=2000)
    m, pm = card_member(c)
    s = subscribe(c, m["id"], p)
    pay = payments(c, invoice_id=s["latest_invoice_id"])[0]
    r = ok(c.post("/v1/payments/%s/refunds" % pay["id"], {"amount": 700}), 201)
    assert r["amount"] == 700
    refunds = [x for x in stripe.stand_in.calls if x["path"] == "/v1/refunds"]
    assert len(refunds) == 1 and refunds[0]["upstream_status"] == 200, refunds
    assert refunds[0]["form"]["payment_intent"] == [pay["provider_ref"]] and refunds[0]["form"]["amount"] == ["700"]
    assert refunds[0]["headers"]["Idempotency-Key"] == "refund:%s:0" % pay["id"], refunds


def test_konbini_pending_then_paid_by_stripe_signed_webhook(stripe, c):
    m, s = subscribe_paying_by(c, "konbini")
    assert s["status"] == "incomplete", s
    pay = payments(c, invoice_id=s["latest_invoice_id"])[0]
    assert pay["status"] == "pending" and pay["konbini_number"] == "123456789012", pay
    call = stripe.stand_in.intents()[-1]
    assert call["upstream_status"] == 200 and call["form"]["payment_method_types[]"] == ["konbini"], call
    assert call["form"]["payment_method_options[konbini][expires_after_days]"] == ["3"], call
    intent = dict(call["answer"], status="succeeded", amount_received=1100)
    event = {"id": uniq("evt"), "object": "event", "type": "payment_intent.succeeded",
             "data": {"object": intent}}
    r = stripe_webhook(stripe, event)
    assert r.status_code == 200 and r.json()["duplicate"] is False, r.text
    assert ok(c.get("/v1/payments/" + pay["id"]))["status"] == "succeeded"
    assert invoice(c, s["latest_invoice_id"])["status"] == "paid"
    assert subscription(c, s["id"])["status"] == "active"
    r = stripe_webhook(stripe, event)
    assert r.status_code == 200 and r.json()["duplicate"] is True, r.text


def test_bank_transfer_pending_with_stripes_reference(stripe, c):
    m, s = subscribe_paying_by(c, "bank_transfer", amount=5000)
    pay = payments(c, invoice_id=s["latest_invoice_id"])[0]
    assert pay["status"] == "pending" and pay["bank_reference"] == "KAIIN12", pay
    form = stripe.stand_in.intents()[-1]["form"]
    assert form["payment_method_types[]"] == ["customer_balance"], form
    assert form["customer"] == [customer_of(stripe, m["id"])], form    # Stripe needs one for it
    assert form["payment_method_options[customer_balance][bank_transfer][type]"] == ["jp_bank_transfer"], form


def test_events_kaiin_does_not_act_on_are_acknowledged(stripe, c):
    event = {"id": uniq("evt"), "object": "event", "type": "customer.created",
             "data": {"object": {"id": "cus_1", "object": "customer"}}}
    r = stripe_webhook(stripe, event)
    assert r.status_code == 200 and r.json() == {"event_id": event["id"], "duplicate": False}, r.text


def assert_webhook_refused(r, detail, code):
    assert r.status_code == 400, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["type"] == "/problems/invalid-request" and body["detail"] == detail and body["code"] == code, body


def test_webhook_with_bad_signature_or_replayed_timestamp_refused(stripe, c):
    event = {"id": uniq("evt"), "object": "event", "type": "customer.created", "data": {"object": {}}}
    body = json.dumps(event).encode()
    now = now_ms(c) // 1000
    r = stripe_webhook(stripe, event, signature=stripe_signature(body, now, secret="whsec_another"))
    assert_webhook_refused(r, "Stripe-Signature does not match the body", "stripe_signature_does_not_match_body")
    r = stripe_webhook(stripe, event, signature=stripe_signature(body + b" ", now))
    assert_webhook_refused(r, "Stripe-Signature does not match the body", "stripe_signature_does_not_match_body")
    r = stripe_webhook(stripe, event, timestamp=now - 301)          # a replay of an old delivery
    assert_webhook_refused(r, "Stripe-Signature's timestamp is more than 5 minutes away from now",
                           "stripe_signature_timestamp_stale")
    r = stripe_webhook(stripe, event, signature="v1=" + "0" * 64)
    assert_webhook_refused(r, "Stripe-Signature must carry t= and v1=", "stripe_signature_malformed")
    # A secret being rolled: Stripe signs with both, either v1 passes.
    good = stripe_signature(body, now)
    r = stripe_webhook(stripe, event, signature="t=%d,v1=%s,%s" % (now, "1" * 64, good.split(",")[1]))
    assert r.status_code == 200, r.text
    assert stripe.sql("select count(*) from billing.webhook_events where event_id = '%s'" % event["id"]) == [["1"]]


def test_renewals_through_stripe_one_call_each_with_its_key(stripe, c):
    """The bench's question asked of Stripe: a month's renewals of many subscriptions, each one
    PaymentIntent with the renewal's own key. The rate (renewals a second through the test
    clock's move, stripe-mock on the same machine) is printed."""
    count = int(os.environ.get("KAIIN_STRIPE_RENEWALS", "40"))
    p = create_plan(c, amount=980)
    subs = []
    for _ in range(count):
        m, pm = card_member(c)
        subs.append(subscribe(c, m["id"], p))
    assert all(s["status"] == "active" for s in subs)
    before = len(stripe.stand_in.intents())
    started = time.monotonic()
    clock(c, advance="P1M")
    elapsed = time.monotonic() - started
    calls = [x for x in stripe.stand_in.intents()[before:] if x["headers"]["Idempotency-Key"].startswith("renewal:")]
    keys = [x["headers"]["Idempotency-Key"] for x in calls]
    ids = {s["id"] for s in subs}
    ours = [k for k in keys if k.split(":")[1] in ids]
    assert len(ours) == count and len(set(ours)) == count, keys             # one call each
    assert all(x["form"]["metadata[kaiin_key]"] == [x["headers"]["Idempotency-Key"]] for x in calls)
    assert all(x["upstream_status"] == 200 for x in calls), calls
    # each with its member's customer, the one the card was saved to (else Stripe refuses a
    # card's second use), and the member named for reconciliation
    by_sub = {k.split(":")[1]: x["form"] for k, x in zip(keys, calls)}
    for s in subs:
        form = by_sub[s["id"]]
        assert form["customer"] == [customer_of(stripe, s["member_id"])], form
        assert form["metadata[kaiin_customer]"] == [s["member_id"]], form
    for s in subs:
        renewal = [i for i in invoices(c, subscription_id=s["id"]) if i["billing_reason"] == "subscription_cycle"]
        assert len(renewal) == 1 and renewal[0]["status"] == "paid", renewal
    print("\nstripe renewals: %d in %.2f s through the test clock (%.1f/s), %d PaymentIntent call(s) each"
          % (count, elapsed, count / elapsed, len(calls) // count))


def clock_watching_stripe(stripe, c, sid, advance):
    """Moves the test clock by advance; at each of subscription sid's PaymentIntents meanwhile,
    whether another session could lock its row (0 and no error when free) and its intent's row.
    Returns those, in order."""
    seen = []

    def hook(key):
        if not key.startswith("renewal:%s:" % sid):
            return
        lock = stripe.psql_super("select id from billing.subscriptions where id = '%s' for update nowait" % sid)
        intent = stripe.sql("select state, subscription_id, amount from billing.payment_intents where key = '%s'"
                            % key)
        seen.append((key, lock.returncode, lock.stderr.strip(), intent))
    stripe.stand_in.before_intent = hook
    try:
        clock(c, advance=advance)
    finally:
        stripe.stand_in.before_intent = None
    return seen


def test_a_renewal_calls_stripe_with_no_transaction_open(stripe, c):
    """While Stripe is answering a renewal's PaymentIntent, billing holds nothing in its database:
    the subscription's row can be locked by another session at that moment (before, the batch's
    transaction held it, for up to STRIPE_TIMEOUT_MS times the tries), and the intent is already
    committed with the renewal's key; the renewal is then completed with Stripe's answer."""
    p = create_plan(c, amount=1200)
    m, _ = card_member(c)
    s = subscribe(c, m["id"], p)
    seen = clock_watching_stripe(stripe, c, s["id"], "P1M")
    start = ms(subscription(c, s["id"])["current_period_start"])
    key = "renewal:%s:%d" % (s["id"], start)
    assert seen == [(key, 0, "", [["created", s["id"], "1320"]])], seen
    renewal = [i for i in invoices(c, subscription_id=s["id"]) if i["billing_reason"] == "subscription_cycle"]
    assert len(renewal) == 1 and renewal[0]["status"] == "paid" and renewal[0]["total"] == 1320, renewal
    row = stripe.sql("select state, status, provider_ref <> '' from billing.payment_intents where key = '%s'" % key)
    assert row == [["charged", "succeeded", "t"]], row
    assert len([x for x in stripe.stand_in.intents() if x["headers"]["Idempotency-Key"] == key]) == 1


def test_a_konbini_renewal_gets_its_slip_with_no_transaction_open(stripe, c):
    """A konbini renewal's slip is asked for as a card renewal's charge is: the intent committed
    with the renewal's key, 1 100 yen, and the row free while Stripe answers; the renewal's
    invoice is open with its payment on Stripe's payment code, expired at once (the stand-in's
    slip expires 3 days after the test clock's now, before its month later)."""
    # The slips expire 3 days after the test clock's now, which earlier tests moved months past
    # the real time: a slip of real time would be expired at once, and the scheduler could
    # expire the first payment before the webhook below pays it.
    stripe.stand_in.slip_from_s = now_ms(c) // 1000
    m, s = subscribe_paying_by(c, "konbini")
    first = stripe.stand_in.intents()[-1]["answer"]
    event = {"id": uniq("evt"), "object": "event", "type": "payment_intent.succeeded",
             "data": {"object": dict(first, status="succeeded", amount_received=1100)}}
    assert stripe_webhook(stripe, event).status_code == 200
    s = subscription(c, s["id"])
    assert s["status"] == "active", s
    key = "renewal:%s:%d" % (s["id"], ms(s["current_period_end"]))
    seen = clock_watching_stripe(stripe, c, s["id"], "P1M")
    assert seen == [(key, 0, "", [["created", s["id"], "1100"]])], seen
    cycle = [i for i in invoices(c, subscription_id=s["id"]) if i["billing_reason"] == "subscription_cycle"]
    assert len(cycle) == 1 and cycle[0]["status"] == "open" and cycle[0]["total"] == 1100, cycle
    pay = payments(c, invoice_id=cycle[0]["id"])
    assert len(pay) == 1 and pay[0]["status"] == "expired" and pay[0]["konbini_number"] == "123456789012", pay
    row = stripe.sql("select state, status from billing.payment_intents where key = '%s'" % key)
    assert row == [["charged", "pending"]], row
    stripe.stand_in.slip_from_s = None


def test_a_dunning_retry_calls_stripe_with_no_transaction_open(stripe, c):
    """A declined renewal's retry is charged as a renewal is: while Stripe answers the retry's
    PaymentIntent the subscription's row is free and the intent committed with the retry's key
    (renewal:<id>:<period start>:1), 1 320 yen (1 200 + 10 %); the retry's success pays the
    invoice and the subscription is active again. (Before, the retry's batch held the row.)"""
    p = create_plan(c, amount=1200)
    m, _ = card_member(c)
    s = subscribe(c, m["id"], p)
    start = ms(s["current_period_end"])
    declined = _stripe_answer({"payment_method_types[]": ["card"], "payment_method": ["pm_card_chargeDeclined"]},
                              200, json.dumps({"id": "pi_declined_renewal", "object": "payment_intent",
                                               "amount": 1320, "currency": "jpy"}).encode())
    with stripe.stand_in.lock:              # Stripe declines the renewal's key, nothing else
        stripe.stand_in.answers["renewal:%s:%d" % (s["id"], start)] = declined
    clock(c, advance="P1M")
    assert subscription(c, s["id"])["status"] == "past_due"
    retry = "renewal:%s:%d:1" % (s["id"], start)
    seen = clock_watching_stripe(stripe, c, s["id"], "P1D")     # the first of the retry days {1, 3, 7}
    assert seen == [(retry, 0, "", [["created", s["id"], "1320"]])], seen
    after = subscription(c, s["id"])
    assert after["status"] == "active", after
    cycle = [i for i in invoices(c, subscription_id=s["id"]) if i["billing_reason"] == "subscription_cycle"]
    assert len(cycle) == 1 and cycle[0]["status"] == "paid" and cycle[0]["total"] == 1320, cycle
    row = stripe.sql("select state, status, amount from billing.payment_intents where key = '%s'" % retry)
    assert row == [["charged", "succeeded", "1320"]], row
    assert len([x for x in stripe.stand_in.intents() if x["headers"]["Idempotency-Key"] == retry]) == 1


@pytest.mark.parametrize("env, reason", [
    ({"STRIPE_API_KEY": ""}, "BILLING_PROVIDER is 'stripe' but STRIPE_API_KEY (or STRIPE_API_KEY_FILE) is not set"),
    ({"STRIPE_WEBHOOK_SECRET": ""},
     "BILLING_PROVIDER is 'stripe' but STRIPE_WEBHOOK_SECRET (or STRIPE_WEBHOOK_SECRET_FILE) is not set"),
    ({"STRIPE_API_KEY": "pk_test_publishable"}, "STRIPE_API_KEY must be a secret key (sk_...) or a restricted key (rk_...)"),
    ({"BILLING_PROVIDER": "paypal"}, "BILLING_PROVIDER is 'paypal': expected sandbox or stripe"),
])
def test_billing_refuses_to_start_without_its_provider(stripe, env, reason):
    p = stripe.start_service("billing", wait=False, env=env)
    try:
        p.wait(timeout=20)
    finally:
        if p in stripe.billings:
            stripe.billings.remove(p)
    assert p.returncode == 1, p.log()
    lines = [json.loads(line) for line in p.log().splitlines() if line.startswith("{")]
    assert [x["msg"] for x in lines if x["level"] == "error"] == [reason], p.log()


def test_api_key_read_from_a_file(stripe, tmp_path):
    """STRIPE_API_KEY_FILE (a Docker secret) stands for STRIPE_API_KEY: a billing started with it
    alone serves, and charges."""
    path = tmp_path / "stripe_api_key"
    path.write_text(API_KEY + "\n")
    for proc in list(stripe.billings):
        proc.stop()
    stripe.billings.clear()
    stripe.wait_no_workers(service="billing")
    stripe.start_service("billing", env={"STRIPE_API_KEY": "", "STRIPE_API_KEY_FILE": str(path)})
    stripe.wait_ready()
    c = stripe.client
    p = create_plan(c, amount=300)
    m, pm = card_member(c)
    assert subscribe(c, m["id"], p)["status"] == "active"
    assert stripe.stand_in.intents()[-1]["headers"]["Authorization"] == "Bearer " + API_KEY
