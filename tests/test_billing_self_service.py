"""test_billing_self_service.py - what a member's own session does to its billing, for the member
portal (services/billing/README.md, "Member self-service"; docs/permissions.md, "Billing"): list
its subscriptions and invoices, preview a plan change then make it (prorated, never waived),
cancel at the period's end with a reason or resume before it, attach a card that renewals and
dunning retries then charge. Another member's subscription is 404 (billing decides whose it
is), another member's id in a path or query 403 (the gateway); staff keep every route.

The suite is this module's own: its test clock moves by days."""

import pytest

from billing_util import (DAY_MS, attach, billing_suite, clock, create_plan, finish_suite, invoice,
                          invoices, ms, now_ms, ok, payments, subscribe, subscription)
from test_member_auth import login, member_session
from test_members import assert_problem

HOUR_MS = 3600 * 1000


@pytest.fixture(scope="module")
def ss():
    s = billing_suite("self-service")
    yield s
    finish_suite(s)


@pytest.fixture
def c(ss):
    return ss.client


class Member(dict):
    """A member signed in with their own session; signs in again when the test clock has moved
    past the session's life (sessions last by the gateway's clock)."""

    def __init__(self, ss):
        m, self.password, self.own = member_session(ss, ss.client)
        super().__init__(m)
        self.ss = ss

    def again(self):
        r = login(self.ss, self["email"], self.password)
        assert r.status_code == 200, r.text
        self.own = self.ss.client_as(r.json()["token"])
        return self.own


def subscriber(ss, plan, token="tok_visa", **extra):
    """A member with a card (attached by staff), subscribed by staff to plan, signed in with
    their own session: (member, their client, subscription)."""
    m = Member(ss)
    pm = attach(ss.client, m["id"], token=token)
    s = subscribe(ss.client, m["id"], plan, payment_method_id=pm["id"], **extra)
    return m, m.own, s


def outbox_with(ss, type_, aggregate_id, text):
    """How many events of type for aggregate_id hold text (UTF-8) in their payload."""
    return int(ss.sql("select count(*) from billing.outbox where type = '%s' and aggregate_id = '%s'"
                      " and position(convert_to('%s', 'UTF8') in payload) > 0"
                      % (type_, aggregate_id, text))[0][0])


def days_left(s, at):
    start, end = ms(s["current_period_start"]), ms(s["current_period_end"])
    return -(-(end - at) // DAY_MS), (end - start) // DAY_MS


# --------------------------------------------------------------------------- lists
def test_member_lists_its_own_subscriptions_and_invoices(ss, c):
    p = create_plan(c, amount=1200)
    m, own, s = subscriber(ss, p)
    other, others, _ = subscriber(ss, p)
    subs = ok(own.get("/v1/subscriptions", params={"member_id": m["id"]}))["data"]
    assert [x["id"] for x in subs] == [s["id"]], subs
    invs = ok(own.get("/v1/invoices", params={"member_id": m["id"]}))["data"]
    assert [x["id"] for x in invs] == [s["latest_invoice_id"]], invs
    assert invs[0]["status"] == "paid" and invs[0]["total"] == 1320
    assert ok(own.get("/v1/invoices/" + s["latest_invoice_id"]))["member_id"] == m["id"]
    # another member's: by id 404 (billing), by query 403 (the gateway)
    assert_problem(others.get("/v1/invoices/" + s["latest_invoice_id"]), 404, "not-found")
    assert_problem(others.get("/v1/subscriptions/" + s["id"]), 404, "not-found")
    for path in ("/v1/subscriptions", "/v1/invoices"):
        assert_problem(others.get(path, params={"member_id": m["id"]}), 403, "forbidden")
    assert other["id"] != m["id"]


# --------------------------------------------------------------------------- plan change
def test_member_previews_an_upgrade_then_makes_it(ss, c):
    old = create_plan(c, amount=2000)                     # 税抜: 2,200 tax included
    new = create_plan(c, amount=3000)                     # 3,300
    m, own, s = subscriber(ss, old)
    clock(c, to=ms(s["current_period_start"]) + 10 * DAY_MS + HOUR_MS)
    own = m.again()
    t = now_ms(c)
    left, days = days_left(s, t)
    unused, charge = 2200 * left // days, 3300 * left // days
    before = len(invoices(c, subscription_id=s["id"]))

    r = own.get("/v1/subscriptions/%s/change-plan/preview" % s["id"], params={"plan": new["code"]})
    pv = ok(r)
    assert r.headers["ETag"] == '"%d"' % pv["version"]
    assert pv == {"subscription_id": s["id"], "plan_id": new["id"], "plan_code": new["code"],
                  "from_plan_code": old["code"], "prorated": True, "unused_credit": unused,
                  "new_charge": charge, "amount_due": charge - unused, "tax_rate": 10,
                  "credit_added": 0, "credit_balance": 0,
                  "current_period_start": s["current_period_start"],
                  "current_period_end": s["current_period_end"], "version": s["version"]}, pv
    # a preview changes nothing
    x = subscription(c, s["id"])
    assert (x["plan_id"], x["version"]) == (old["id"], s["version"]), x
    assert len(invoices(c, subscription_id=s["id"])) == before

    # the member cannot waive proration, nor use staff's route
    r = own.post("/v1/subscriptions/%s/change-plan/prorated" % s["id"], {"plan": new["code"],
                                                                         "no_proration": True})
    assert [e["field"] for e in assert_problem(r, 400, "invalid-request")["errors"]] == ["no_proration"]
    assert_problem(own.post("/v1/subscriptions/%s/change-plan" % s["id"], {"plan": new["code"]}),
                   403, "forbidden")

    x = ok(own.post("/v1/subscriptions/%s/change-plan/prorated" % s["id"], {"plan": new["code"]},
                    headers={"If-Match": '"%d"' % pv["version"]}))
    assert x["plan_id"] == new["id"] and x["current_period_end"] == s["current_period_end"], x
    upd = [i for i in invoices(c, subscription_id=s["id"]) if i["billing_reason"] == "subscription_update"]
    assert [(i["status"], i["total"]) for i in upd] == [("paid", charge - unused)], upd
    # a change made since the preview: its version no longer matches
    r = own.post("/v1/subscriptions/%s/change-plan/prorated" % s["id"], {"plan": old["code"]},
                 headers={"If-Match": '"%d"' % pv["version"]})
    assert_problem(r, 412, "precondition-failed")


def test_downgrade_preview_shows_the_credit_the_change_keeps(ss, c):
    old = create_plan(c, amount=1500, tax_mode="inclusive")
    new = create_plan(c, amount=1000, tax_mode="inclusive")
    m, own, s = subscriber(ss, old)
    clock(c, to=ms(s["current_period_start"]) + 5 * DAY_MS + HOUR_MS)
    own = m.again()
    left, days = days_left(s, now_ms(c))
    credit = 1500 * left // days - 1000 * left // days
    assert 0 < credit < 1000
    pv = ok(own.get("/v1/subscriptions/%s/change-plan/preview" % s["id"], params={"plan": new["id"]}))
    assert (pv["amount_due"], pv["credit_added"], pv["credit_balance"]) == (0, credit, credit), pv
    x = ok(own.post("/v1/subscriptions/%s/change-plan/prorated" % s["id"], {"plan": new["id"]}))
    assert x["plan_id"] == new["id"]
    # the next renewal takes the credit off
    clock(c, to=ms(s["current_period_end"]) + HOUR_MS)
    cyc = [i for i in invoices(c, subscription_id=s["id"]) if i["billing_reason"] == "subscription_cycle"]
    assert [i["total"] for i in cyc] == [1000 - credit], (cyc, credit)


def test_a_yearly_plan_previews_a_new_period_at_its_full_price(ss, c):
    monthly = create_plan(c, amount=1000)
    yearly = create_plan(c, amount=10000, interval="year")
    m, own, s = subscriber(ss, monthly)
    clock(c, to=ms(s["current_period_start"]) + 3 * DAY_MS + HOUR_MS)
    own = m.again()
    t = now_ms(c)
    left, days = days_left(s, t)
    pv = ok(own.get("/v1/subscriptions/%s/change-plan/preview" % s["id"], params={"plan": yearly["code"]}))
    assert pv["unused_credit"] == 1100 * left // days and pv["new_charge"] == 11000, pv
    assert pv["amount_due"] == 11000 - 1100 * left // days
    assert abs(ms(pv["current_period_start"]) - t) < 60 * 1000, (pv, t)
    assert ms(pv["current_period_end"]) > t + 364 * DAY_MS
    assert subscription(c, s["id"])["plan_id"] == monthly["id"]


# --------------------------------------------------------------------------- cancel and resume
def test_member_cancels_at_period_end_with_a_reason_then_resumes(ss, c):
    p = create_plan(c, amount=1500)
    m, own, s = subscriber(ss, p)
    r = own.post("/v1/subscriptions/%s/cancel-at-period-end" % s["id"],
                 {"reason": "too_expensive", "comment": "学生には高い"})
    x = ok(r)
    assert r.headers["ETag"] == '"%d"' % x["version"]
    assert (x["status"], x["cancel_at_period_end"], x["cancel_reason"], x["cancel_comment"]) == \
        ("active", True, "too_expensive", "学生には高い"), x
    assert x["ended_at"] is None
    # the reason and comment go into the event (analytics reads them)
    assert outbox_with(ss, "subscription.updated", s["id"], "too_expensive") == 1
    assert outbox_with(ss, "subscription.updated", s["id"], "学生には高い") == 1
    # the reason must be one of the five; the member may not cancel now, nor use staff's route
    r = own.post("/v1/subscriptions/%s/cancel-at-period-end" % s["id"], {"reason": "bored"})
    assert [e["field"] for e in assert_problem(r, 400, "invalid-request")["errors"]] == ["reason"]
    r = own.post("/v1/subscriptions/%s/cancel-at-period-end" % s["id"], {"reason": "other",
                                                                          "at_period_end": False})
    assert [e["field"] for e in assert_problem(r, 400, "invalid-request")["errors"]] == ["at_period_end"]
    assert_problem(own.post("/v1/subscriptions/%s/cancel" % s["id"], {"reason": "other"}), 403, "forbidden")

    y = ok(own.post("/v1/subscriptions/%s/resume" % s["id"], {}, headers={"If-Match": '"%d"' % x["version"]}))
    assert (y["status"], y["cancel_at_period_end"], y["cancel_reason"], y["canceled_at"]) == \
        ("active", False, None, None), y
    assert outbox_with(ss, "subscription.updated", s["id"], "too_expensive") == 1
    assert_problem(own.post("/v1/subscriptions/%s/resume" % s["id"], {}), 409, "conflict")
    # resumed, it renews
    clock(c, to=ms(s["current_period_end"]) + HOUR_MS)
    z = subscription(c, s["id"])
    assert z["status"] == "active" and ms(z["current_period_start"]) == ms(s["current_period_end"]), z


def test_a_cancel_at_period_end_ends_it_then_and_cannot_be_resumed_after(ss, c):
    p = create_plan(c, amount=800)
    m, own, s = subscriber(ss, p)
    ok(own.post("/v1/subscriptions/%s/cancel-at-period-end" % s["id"], {"reason": "unused"}))
    clock(c, to=ms(s["current_period_end"]) + HOUR_MS)
    x = subscription(c, s["id"])
    assert (x["status"], x["cancel_reason"]) == ("canceled", "unused") and x["ended_at"], x
    assert [i["billing_reason"] for i in invoices(c, subscription_id=s["id"])] == ["subscription_create"]
    own = m.again()
    assert_problem(own.post("/v1/subscriptions/%s/resume" % s["id"], {}), 409, "conflict")
    assert_problem(own.post("/v1/subscriptions/%s/cancel-at-period-end" % s["id"], {"reason": "other"}),
                   409, "conflict")


def test_a_subscription_without_a_period_to_finish_is_not_canceled_at_its_end(ss, c):
    """An incomplete subscription (its first payment declined) has no period to wait for: at
    the period's end is 409 (it used to end it at once, voiding its invoice); staff cancel it now."""
    p = create_plan(c, amount=700)
    m, own, s = subscriber(ss, p, token="tok_chargeDeclined")
    assert s["status"] == "incomplete"
    r = own.post("/v1/subscriptions/%s/cancel-at-period-end" % s["id"], {"reason": "other"})
    assert_problem(r, 409, "conflict")
    assert subscription(c, s["id"])["status"] == "incomplete"
    assert invoice(c, s["latest_invoice_id"])["status"] == "open"
    x = ok(c.post("/v1/subscriptions/%s/cancel" % s["id"], {"reason": "other"}))
    assert x["status"] == "canceled" and invoice(c, s["latest_invoice_id"])["status"] == "void"


# --------------------------------------------------------------------------- cards
def test_member_attaches_a_card_that_renewals_then_charge(ss, c):
    p = create_plan(c, amount=1000)
    m, own, s = subscriber(ss, p)
    old_method = s["payment_method_id"]
    r = own.post("/v1/members/%s/payment-methods" % m["id"],
                 {"type": "card", "token": "tok_mastercard", "set_default": True})
    card = ok(r, 201)
    assert r.headers["Location"] == "/v1/payment-methods/" + card["id"]
    assert (card["brand"], card["is_default"], card["member_id"]) == ("mastercard", True, m["id"])
    assert "token" not in card
    x = subscription(c, s["id"])
    assert x["payment_method_id"] == card["id"] != old_method, x
    clock(c, to=ms(s["current_period_end"]) + HOUR_MS)
    cyc = [i for i in invoices(c, subscription_id=s["id"]) if i["billing_reason"] == "subscription_cycle"]
    assert len(cyc) == 1 and cyc[0]["status"] == "paid", cyc
    assert [y["payment_method_id"] for y in payments(c, invoice_id=cyc[0]["id"])] == [card["id"]]


def test_a_new_default_card_ends_dunning_at_the_next_retry(ss, c):
    p = create_plan(c, amount=1000)
    # a trial on a card named for it (so the subscription is charged with that card, not the
    # member's default), declined when the trial ends
    m, own, s = subscriber(ss, p, token="tok_chargeDeclined", trial_days=3)
    assert s["status"] == "trialing" and s["payment_method_id"]
    clock(c, to=ms(s["trial_end"]) + HOUR_MS)
    assert subscription(c, s["id"])["status"] == "past_due"
    own = m.again()
    card = ok(own.post("/v1/members/%s/payment-methods" % m["id"],
                       {"type": "card", "token": "tok_visa", "set_default": True}), 201)
    clock(c, to=ms(s["trial_end"]) + DAY_MS + 2 * HOUR_MS)        # the first retry: a day later
    x = subscription(c, s["id"])
    assert (x["status"], x["payment_method_id"]) == ("active", card["id"]), x
    inv = invoice(c, x["latest_invoice_id"])
    assert inv["status"] == "paid"
    assert sorted((y["status"], y["payment_method_id"]) for y in payments(c, invoice_id=inv["id"])) == \
        [("failed", s["payment_method_id"]), ("succeeded", card["id"])]


# --------------------------------------------------------------------------- another member's ids
def test_another_members_ids_are_refused_and_nothing_changes(ss, c):
    p = create_plan(c, amount=900)
    q = create_plan(c, amount=1900)
    m, own, s = subscriber(ss, p)
    _, intruder, _ = subscriber(ss, p)
    sid = s["id"]
    for method, path, body in [
            ("GET", "/v1/subscriptions/%s/change-plan/preview?plan=%s" % (sid, q["code"]), None),
            ("POST", "/v1/subscriptions/%s/change-plan/prorated" % sid, {"plan": q["code"]}),
            ("POST", "/v1/subscriptions/%s/cancel-at-period-end" % sid, {"reason": "other"}),
            ("POST", "/v1/subscriptions/%s/resume" % sid, {})]:
        r = intruder.request(method, path, json_body=body)
        assert_problem(r, 404, "not-found")
    r = intruder.post("/v1/members/%s/payment-methods" % m["id"], {"type": "card", "token": "tok_visa"})
    assert_problem(r, 403, "forbidden")
    x = subscription(c, sid)
    assert (x["plan_id"], x["cancel_at_period_end"], x["version"]) == (p["id"], False, s["version"]), x
    methods = ok(c.get("/v1/members/%s/payment-methods" % m["id"]))["data"]
    assert [y["brand"] for y in methods] == ["visa"], methods


# --------------------------------------------------------------------------- staff still can
def test_staff_use_the_same_routes_as_their_roles_allow(ss, c):
    p = create_plan(c, amount=1000)
    q = create_plan(c, amount=2000)
    m, _, s = subscriber(ss, p)
    roles = {}
    for role in ("support", "viewer", "marketing"):
        account, password = ss.create_staff(role)
        roles[role] = ss.client_as(ss.login(account["email"], password))
    preview = "/v1/subscriptions/%s/change-plan/preview" % s["id"]
    assert ok(roles["viewer"].get(preview, params={"plan": q["code"]}))["plan_id"] == q["id"]
    assert_problem(roles["marketing"].get(preview, params={"plan": q["code"]}), 403, "forbidden")
    assert_problem(roles["viewer"].post("/v1/subscriptions/%s/resume" % s["id"], {}), 403, "forbidden")
    support = roles["support"]
    x = ok(support.post("/v1/subscriptions/%s/cancel-at-period-end" % s["id"], {"reason": "switched_service"}))
    assert x["cancel_at_period_end"] is True
    assert ok(support.post("/v1/subscriptions/%s/resume" % s["id"], {}))["cancel_at_period_end"] is False
    x = ok(support.post("/v1/subscriptions/%s/change-plan/prorated" % s["id"], {"plan": q["code"]}))
    assert x["plan_id"] == q["id"]
    # staff's own routes keep what members do not have: no proration, cancel now
    x = ok(support.post("/v1/subscriptions/%s/change-plan" % s["id"], {"plan": p["code"], "no_proration": True}))
    assert x["plan_id"] == p["id"]
    card = ok(support.post("/v1/members/%s/payment-methods" % m["id"],
                           {"type": "card", "token": "tok_jcb", "set_default": True}), 201)
    assert subscription(c, s["id"])["payment_method_id"] == card["id"]
    x = ok(support.post("/v1/subscriptions/%s/cancel" % s["id"], {"reason": "other"}))
    assert x["status"] == "canceled" and x["ended_at"], x
