"""test_billing_consumer.py - the member service follows billing's subscription events: status
paid/free and the plan's rank, exactly once, caught up by the test clock. Needs kaiin-billing
(skipped when it is not built); runs on a suite of its own, whose clock moves."""

import secrets
import time

import pytest

import harness
from harness import unique_email


@pytest.fixture(scope="module")
def bsuite():
    if not harness.have_billing():
        pytest.skip("kaiin-billing is not built (%s)" % harness.bin_dir())
    s = harness.Suite("billcons", billing=True).start()
    yield s
    s.stop()
    probs = s.take_problems()
    s.cleanup_dir()
    assert not probs, "\n\n".join(probs)


def ok(r, *codes):
    assert r.status_code in (codes or (200,)), (r.request.method, r.request.path_url, r.status_code, r.text)
    return r.json()


def plan(c, rank):
    return ok(c.post("/v1/plans", {"code": "plan-" + secrets.token_hex(4), "name": "Plan", "amount": 1000,
                                   "currency": "JPY", "tax_mode": "exclusive", "tax_rate": 10,
                                   "interval": "month", "interval_count": 1, "trial_days": 0,
                                   "rank": rank}), 201)


def subscribe(c, member_id, plan_code):
    ok(c.post("/v1/members/%s/payment-methods" % member_id, {"type": "card", "token": "tok_visa"}), 201)
    return ok(c.post("/v1/subscriptions", {"member_id": member_id, "plan": plan_code}), 201, 200)


def cancel(c, sub_id):
    return ok(c.post("/v1/subscriptions/%s/cancel" % sub_id, {"at_period_end": False, "reason": "other"}), 200)


def settle(s):
    """The clock call returns once every consumer is caught up."""
    return ok(s.client.post("/v1/test/clock", {"advance": "PT1S"}))


def member(c, mid):
    return ok(c.get("/v1/members/" + mid))


def wait_member(c, mid, status, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        m = member(c, mid)
        if m["status"] == status or time.monotonic() > deadline:
            return m
        time.sleep(0.05)


def test_paying_makes_paid_with_the_plans_rank_and_canceling_undoes_it(bsuite):
    c = bsuite.client
    m = c.create_member(email=unique_email("BillPaid"))
    p = plan(c, "premium")
    sub = subscribe(c, m["id"], p["code"])
    # The consumer thread applies the event on its own, without the clock's help.
    got = wait_member(c, m["id"], "paid")
    assert (got["status"], got["rank"]) == ("paid", "premium"), got
    assert bsuite.sql("select billing_rank from member.members where id = '%s'" % m["id"]) == [["premium"]]
    audit = bsuite.sql("select actor_id, actor_role, action from member.audit_log where target_id = '%s'"
                       " and actor_id = 'billing' order by seq" % m["id"])
    assert audit == [["billing", "service", "member.updated"]], audit
    assert "member.updated" in [r[0] for r in bsuite.sql(
        "select type from member.outbox where aggregate_id = '%s' order by id" % m["id"])]
    cancel(c, sub["id"])
    settle(bsuite)
    got = member(c, m["id"])
    assert (got["status"], got["rank"]) == ("free", "basic"), got
    assert bsuite.sql("select coalesce(billing_rank, '-') from member.members where id = '%s'"
                      % m["id"]) == [["-"]]


def test_a_rank_staff_chose_stays_when_payment_stops(bsuite):
    c = bsuite.client
    m = c.create_member(email=unique_email("BillStaffRank"))
    code = "gold" + secrets.token_hex(3)
    ok(c.post("/v1/member-ranks", {"code": code, "label": "Gold"}), 201)
    sub = subscribe(c, m["id"], plan(c, "premium")["code"])
    settle(bsuite)
    assert member(c, m["id"])["rank"] == "premium"
    ok(c.patch("/v1/members/" + m["id"], {"rank": code}))
    cancel(c, sub["id"])
    settle(bsuite)
    got = member(c, m["id"])
    assert (got["status"], got["rank"]) == ("free", code), got


def test_unknown_rank_keeps_the_rank_and_withdrawn_members_are_left_alone(bsuite):
    c = bsuite.client
    m = c.create_member(email=unique_email("BillNoRank"))
    subscribe(c, m["id"], plan(c, "")["code"])
    settle(bsuite)
    got = member(c, m["id"])
    assert (got["status"], got["rank"]) == ("paid", "basic"), got
    w = c.create_member(email=unique_email("BillWithdrawn"))
    ok(c.post("/v1/members/%s/withdraw" % w["id"], {"reason": "test"}))
    r = c.post("/v1/members/%s/payment-methods" % w["id"], {"type": "card", "token": "tok_visa"})
    if r.status_code == 201:
        r = c.post("/v1/subscriptions", {"member_id": w["id"], "plan": plan(c, "premium")["code"]})
    settle(bsuite)
    assert member(c, w["id"])["status"] == "withdrawn"
    # Whatever billing said, the stream went on: the position is billing's last event.
    top = bsuite.sql("select coalesce(max(seq), 0) from billing.outbox")[0][0]
    pos = bsuite.sql("select seq from member.consumer_positions where source = 'billing'")
    assert pos == [[top]], (pos, top)


def test_exactly_once_with_two_member_processes(bsuite):
    c = bsuite.client
    second = bsuite.start_member()
    try:
        p = plan(c, "premium")
        ids, subs = [], []
        for i in range(5):
            m = c.create_member(email=unique_email("BillTwice%d" % i))
            ids.append(m["id"])
            subs.append(subscribe(c, m["id"], p["code"]))
        for s_ in subs:
            cancel(c, s_["id"])
        settle(bsuite)
        for mid in ids:
            got = member(c, mid)
            assert (got["status"], got["rank"]) == ("free", "basic"), got
            rows = bsuite.sql("select count(*) from member.audit_log where target_id = '%s'"
                              " and actor_id = 'billing'" % mid)
            # paid+premium once, free+basic once: never twice, whoever applied them.
            assert rows == [["2"]], (mid, rows)
            events = bsuite.sql("select count(*) from member.outbox where aggregate_id = '%s'"
                                " and type = 'member.updated'" % mid)
            assert events == [["2"]], (mid, events)
    finally:
        bsuite.kill_member(second, sig=harness.signal.SIGTERM)


def test_the_clock_drains_consumers_before_answering(bsuite):
    c = bsuite.client
    m = c.create_member(email=unique_email("BillClock"))
    subscribe(c, m["id"], plan(c, "premium")["code"])
    r = ok(c.post("/v1/test/clock", {"advance": "P1M"}))
    assert r["work_done"] >= 1, r
    top = bsuite.sql("select coalesce(max(seq), 0) from billing.outbox")[0][0]
    assert bsuite.sql("select seq from member.consumer_positions where source = 'billing'") == [[top]]
    got = member(c, m["id"])
    assert (got["status"], got["rank"]) == ("paid", "premium"), got


def test_a_member_who_withdraws_keeps_no_subscription_and_is_charged_no_more(bsuite):
    """Billing follows member's events too: withdrawal (退会) ends the member's subscriptions at
    once, so the next renewal charges nothing."""
    c = bsuite.client
    m = c.create_member(email=unique_email("BillLeaves"))
    sub = subscribe(c, m["id"], plan(c, "premium")["code"])
    assert sub["status"] == "active", sub
    ok(c.post("/v1/members/%s/withdraw" % m["id"], {"reason": "引っ越し"}))
    settle(bsuite)
    got = ok(c.get("/v1/subscriptions/" + sub["id"]))
    assert (got["status"], got["cancel_reason"], got["cancel_comment"]) == \
        ("canceled", "other", "the member withdrew (退会)"), got
    assert got["ended_at"] is not None, got
    top = bsuite.sql("select coalesce(max(seq), 0) from member.outbox")[0][0]
    assert bsuite.sql("select seq from billing.consumer_positions where source = 'member'") == [[top]]
    ok(c.post("/v1/test/clock", {"advance": "P1M"}))
    ok(c.post("/v1/test/clock", {"advance": "P1D"}))
    bills = ok(c.get("/v1/invoices", params={"member_id": m["id"]}))["data"]
    assert [b["status"] for b in bills] == ["paid"], bills        # the first period's alone
    assert ok(c.get("/v1/subscriptions/" + sub["id"]))["status"] == "canceled"
