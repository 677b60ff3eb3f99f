"""test_billing_faults.py - billing under faults: kaiin-billing SIGKILLed in the middle of a renewal run
of a few thousand due subscriptions (each renewed exactly once after a restart, no charge doubled,
no invoice number skipped or repeated), and a seeded random sequence of subscriptions, plan
changes, purchases, failures, refunds and clock moves after which the money balances to the yen.

Its own suite: the clock moves and billing is killed."""

import itertools
import queue
import random
import signal
import threading
import time

import pytest
import requests

import harness

from billing_util import (DAY_MS, billing_suite, clock, create_plan, credit_notes_contiguous,
                          finish_suite, invoice_numbers_contiguous, item, member_with_card,
                          now_ms, ok, payments, purchase, rfc3339)

pytestmark = pytest.mark.heavy          # kill -9 under load, thousands of writes

HOUR_MS = 3600 * 1000
DUE = 10000


@pytest.fixture(scope="module")
def fsb():
    s = billing_suite("billfaults")
    yield s
    finish_suite(s)


def seed_due_subscriptions(s, plan_id, n, period_end_ms, tag):
    """n active subscriptions with a sandbox card each, whose period ends at period_end_ms,
    inserted as the billing schema's owner (the API would take minutes)."""
    start_ms = period_end_ms - 30 * DAY_MS
    s.sql_as_billing_owner("""
        with pm as (
            insert into payment_methods (member_id, type, provider, token, brand, last4,
                                         exp_month, exp_year, is_default, created_at)
            select gen_random_uuid (), 'card', 'sandbox', 'tok_visa', 'visa', '4242', 12, 2099,
                   true, to_timestamp (%(start)d / 1000.0)
            from generate_series (1, %(n)d)
            returning id, member_id)
        insert into subscriptions (member_id, plan_id, status, payment_method_id, anchor_day,
                                   current_period_start, current_period_end, cancel_comment,
                                   created_at, updated_at)
        select member_id, '%(plan)s', 'active', id,
               extract (day from to_timestamp (%(end)d / 1000.0) at time zone 'UTC')::int,
               to_timestamp (%(start)d / 1000.0), to_timestamp (%(end)d / 1000.0), '%(tag)s',
               to_timestamp (%(start)d / 1000.0), to_timestamp (%(start)d / 1000.0)
        from pm""" % {"n": n, "plan": plan_id, "start": start_ms, "end": period_end_ms,
                      "tag": tag})


def renewal_counts(s, tag, period_end_ms):
    """(subscriptions, with one cycle invoice for the period, cycle invoices, paid ones,
        sandbox charges for them, subscriptions with more than one)"""
    rows = s.sql("""
        with subs as (select id from billing.subscriptions where cancel_comment = '%(tag)s'),
             inv as (select i.subscription_id, i.status from billing.invoices i join subs
                     on subs.id = i.subscription_id where i.billing_reason = 'subscription_cycle'
                     and i.period_start = to_timestamp (%(end)d / 1000.0)),
             per as (select subs.id, count (inv.subscription_id) n from subs left join inv
                     on inv.subscription_id = subs.id group by subs.id)
        select (select count (*) from subs), (select count (*) from per where n = 1),
               (select count (*) from inv), (select count (*) from inv where status = 'paid'),
               (select count (*) from billing.sandbox_charges c join subs
                on split_part (c.idempotency_key, ':', 2) = subs.id::text),
               (select count (*) from per where n > 1)""" % {"tag": tag, "end": period_end_ms})
    return tuple(int(x) for x in rows[0])


@pytest.mark.chaos
def test_sigkill_during_a_renewal_run_renews_each_once(fsb):
    s, c = fsb, fsb.client
    plan = create_plan(c, amount=1000)
    t = now_ms(c)
    end = t + HOUR_MS
    tag = "sigkill-run"
    seed_due_subscriptions(s, plan["id"], DUE, end, tag)
    assert renewal_counts(s, tag, end)[0] == DUE
    before = invoice_numbers_contiguous(s)

    # The clock passes every period's end: billing's tick renews them all, while we kill it.
    answer = {}

    def move():
        try:
            answer["r"] = c.post("/v1/test/clock", {"to": rfc3339(end + HOUR_MS)},
                                 timeout=(3.0, 120.0))
        except Exception as e:               # the connection may be cut: that is the point
            answer["e"] = e
    mover = threading.Thread(target=move)
    mover.start()
    deadline = time.monotonic() + 60
    while renewal_counts(s, tag, end)[2] < DUE // 10:
        assert time.monotonic() < deadline, "the renewal run did not start: %s" % (renewal_counts(s, tag, end),)
        time.sleep(0.02)
    s.kill_billing(sig=signal.SIGKILL)
    killed_at = renewal_counts(s, tag, end)
    mover.join(130)
    assert killed_at[2] < DUE, "the run finished before the kill (%s): make DUE larger" % (killed_at,)
    s.wait_no_workers(service="billing", timeout=10)
    s.start_billing()
    s.wait_ready()
    clock(c, to=end + 2 * HOUR_MS)             # the restarted process finishes the run
    right_after = renewal_counts(s, tag, end)
    # Every one renewed (waiting a little, so that a clock answering early shows as itself) ...
    deadline = time.monotonic() + 15
    while renewal_counts(s, tag, end)[1] < DUE and time.monotonic() < deadline:
        time.sleep(0.2)
    subs, once, cyc, paid, charges, twice = renewal_counts(s, tag, end)
    harness.record_fault("billing: kill -9 during a renewal run of %d" % DUE, "kill -9 ×1", subs,
                         subs - once - twice, cyc - once - twice, charges - paid)
    assert (subs, once, cyc, paid, charges, twice) == (DUE, DUE, DUE, DUE, DUE, 0), \
        ("killed at", killed_at, "after", (subs, once, cyc, paid, charges, twice))
    # ... and already when the clock move answered: it returns once the due work is done.
    assert right_after == (DUE, DUE, DUE, DUE, DUE, 0), \
        ("the clock answered before every due renewal was done", right_after)
    periods = s.sql("select count (*) from billing.subscriptions where cancel_comment = '%s' and "
                    "current_period_start = to_timestamp (%d / 1000.0) and status = 'active'"
                    % (tag, end))
    assert periods == [[str(DUE)]], periods
    assert invoice_numbers_contiguous(s) == before + DUE
    pays = s.sql("select count (*), count (distinct p.invoice_id) from billing.payments p join "
                 "billing.subscriptions su on su.member_id = p.member_id where su.cancel_comment "
                 "= '%s' and p.status = 'succeeded'" % tag)
    assert pays == [[str(DUE), str(DUE)]], pays
    # Out of the next test's way: they would renew every month it moves.
    s.sql_as_billing_owner("update subscriptions set status = 'canceled', ended_at = "
                           "current_period_start where cancel_comment = '%s'" % tag)


def test_a_renewal_that_fails_is_rolled_back_alone_and_its_batch_commits(fsb):
    """One subscription of a batch whose invoice the database refuses (a trigger, standing in
    for any failure of one row): the other 19 of its batch are renewed all the same, numbered
    without a gap (the refused invoice takes no number), the refused one stays due, charged
    once at the provider under its key; once the cause is gone, the next move renews it with
    that same charge."""
    s, c = fsb, fsb.client
    plan = create_plan(c, amount=1000)
    end = now_ms(c) + HOUR_MS
    tag = "one-refused"
    n = 20
    seed_due_subscriptions(s, plan["id"], n, end, tag)
    victim = s.sql("select id from billing.subscriptions where cancel_comment = '%s' order by id limit 1" % tag)[0][0]
    before = invoice_numbers_contiguous(s)
    s.sql_as_billing_owner("""
        create function refuse_for_test () returns trigger language plpgsql as
        $$ begin raise exception 'refused for the test'; end $$;
        create trigger refuse_for_test before insert on invoices for each row
        when (new.subscription_id = '%s') execute function refuse_for_test ()""" % victim)
    try:
        r = c.post("/v1/test/clock", {"to": rfc3339(end + HOUR_MS)}, timeout=(3.0, 120.0))
        assert r.status_code == 500, (r.status_code, r.text)
        # (subscriptions, one cycle invoice each, cycle invoices, paid, sandbox charges, twice);
        # a tick thread's batch may still be committing the others when the clock answers.
        expected = (n, n - 1, n - 1, n - 1, n, 0)
        deadline = time.monotonic() + 30
        while renewal_counts(s, tag, end) != expected and time.monotonic() < deadline:
            time.sleep(0.2)
        assert renewal_counts(s, tag, end) == expected
        victim_row = s.sql("select status, current_period_end = to_timestamp (%d / 1000.0), "
                           "latest_invoice_id is null from billing.subscriptions where id = '%s'"
                           % (end, victim))
        assert victim_row == [["active", "t", "t"]], victim_row
        assert invoice_numbers_contiguous(s) == before + n - 1
    finally:
        s.sql_as_billing_owner("drop trigger refuse_for_test on invoices; drop function refuse_for_test ()")
    clock(c, to=end + 2 * HOUR_MS)
    assert renewal_counts(s, tag, end) == (n, n, n, n, n, 0)
    assert invoice_numbers_contiguous(s) == before + n
    s.sql_as_billing_owner("update subscriptions set status = 'canceled', ended_at = "
                           "current_period_start where cancel_comment = '%s'" % tag)


def test_random_sequence_balances_to_the_yen(fsb):
    s, c = fsb, fsb.client
    rng = random.Random(20240601)
    plans = [create_plan(c, amount=a, tax_mode=mode, tax_rate=rate)
             for a, mode, rate in ((980, "exclusive", 10), (1980, "inclusive", 10),
                                   (2980, "exclusive", 8), (4980, "inclusive", 8))]
    members = []
    for i in range(6):
        m, _ = member_with_card(c, token="tok_chargeDeclined" if i == 5 else "tok_visa")
        members.append({"m": m, "sub": None, "plan": None})
    counts = {}
    for step in range(60):
        op = rng.choice(["subscribe", "subscribe", "upgrade", "purchase", "purchase", "refund",
                         "clock", "clock", "cancel"])
        who = rng.choice(members)
        mid = who["m"]["id"]
        counts[op] = counts.get(op, 0) + 1
        if op == "subscribe" and who["sub"] is None:
            k = rng.randrange(len(plans) - 1)
            r = c.post("/v1/subscriptions", {"member_id": mid, "plan": plans[k]["id"],
                                             "trial_days": rng.choice([0, 0, 3])})
            assert r.status_code in (201, 409), r.text     # 409: still subscribed to that plan
            if r.status_code == 201:
                who["sub"], who["plan"] = r.json(), k
        elif op == "upgrade" and who["sub"] is not None and who["plan"] < len(plans) - 1:
            who["plan"] += 1
            r = c.post("/v1/subscriptions/%s/change-plan" % who["sub"]["id"],
                       {"plan": plans[who["plan"]]["id"]})
            assert r.status_code in (200, 409), r.text     # 409: not changeable (canceled ...)
        elif op == "purchase":
            items = [item(rng.randrange(100, 5000), rng.choice([8, 10]), rng.randrange(1, 4))
                     for _ in range(rng.randrange(1, 4))]
            purchase(c, mid, items, tax_mode=rng.choice(["inclusive", "exclusive"]))
        elif op == "refund":
            done = [p for p in payments(c, member_id=mid)
                    if p["status"] == "succeeded" and p["amount_received"] > p["amount_refunded"]]
            if done:
                p = rng.choice(done)
                left = p["amount_received"] - p["amount_refunded"]
                amount = rng.choice([left, rng.randrange(1, left + 1)])
                ok(c.post("/v1/payments/%s/refunds" % p["id"], {"amount": amount,
                                                                "reason": "other"}), 201)
        elif op == "cancel" and who["sub"] is not None:
            r = c.post("/v1/subscriptions/%s/cancel" % who["sub"]["id"],
                       {"reason": "other", "at_period_end": rng.random() < 0.5})
            assert r.status_code in (200, 409), r.text
            who["sub"] = None
        elif op == "clock":
            clock(c, advance=rng.choice(["P1D", "P5D", "P12D", "P1M"]))
    clock(c, advance="P1D")
    received = int(s.sql("select coalesce (sum (amount_received), 0) from billing.payments "
                         "where status = 'succeeded'")[0][0])
    refunded = int(s.sql("select coalesce (sum (amount), 0) from billing.refunds")[0][0])
    pay_refunded = int(s.sql("select coalesce (sum (amount_refunded), 0) from billing.payments")[0][0])
    inv_paid, inv_total, inv_refunded = (int(x) for x in s.sql(
        "select coalesce (sum (amount_paid), 0), coalesce (sum (total), 0), "
        "coalesce (sum (amount_refunded), 0) from billing.invoices where status = 'paid'")[0])
    assert refunded == pay_refunded == inv_refunded, (refunded, pay_refunded, inv_refunded)
    assert received - refunded == inv_paid - refunded, (received, inv_paid, counts)
    assert received - refunded == inv_total - refunded, (received, inv_total, counts)
    over = s.sql("select count (*) from billing.payments where amount_refunded > amount_received")
    assert over == [["0"]]
    invoice_numbers_contiguous(s)
    credit_notes_contiguous(s)
    assert counts.get("purchase", 0) > 5 and counts.get("clock", 0) > 5, counts


def test_reconciliation_refunds_a_provider_charge_that_no_payment_records(fsb):
    s, c = fsb, fsb.client
    m, _ = member_with_card(c)
    bought = purchase(c, m["id"], [item(4100000)], tax_mode="inclusive")
    ref = bought["payment"]["provider_ref"]
    t = now_ms(c)
    # What the provider holds when billing died between its charge and its commit, and the
    # client never came back: a charge of ¥4,100,001 that no payment of ours records.
    s.sql_as_billing_owner(
        "insert into sandbox_charges (idempotency_key, token, amount, outcome, created_at, customer,"
        " provider_ref) values ('purchase:lost', 'tok_visa', 4100001, 'succeeded',"
        " to_timestamp (%d / 1000.0), '%s', 'sbx_lost')" % (t, m["id"]))

    def refunds(provider_ref):
        return s.sql("select amount from billing.sandbox_charges where idempotency_key = "
                     "'reconcile:%s'" % provider_ref)
    clock(c, advance="PT24H")                  # a retry could still come: nothing refunded
    assert refunds("sbx_lost") == [] and s.sql("select count (*) from billing.provider_orphans "
                                               "where provider_ref = 'sbx_lost'") == [["0"]]
    clock(c, advance="PT1H1M")                 # 25 hours and a minute after the charge
    assert refunds("sbx_lost") == [["-4100001"]]
    assert refunds(ref) == []                  # the purchase's own charge is recorded: kept
    orphan = s.sql("select provider, idempotency_key, customer, amount, "
                   "(extract (epoch from charged_at) * 1000)::bigint from billing.provider_orphans "
                   "where provider_ref = 'sbx_lost'")
    assert orphan == [["sandbox", "purchase:lost", m["id"], "4100001", str(t)]], orphan
    clock(c, advance="P2D")                    # read once: never refunded twice
    assert refunds("sbx_lost") == [["-4100001"]]


@pytest.mark.chaos
def test_sigkill_under_keyed_writes_charges_each_intent_once_and_refunds_orphans(fsb):
    """Purchases, subscriptions and invoice payments, each sent with an Idempotency-Key and
    retried with it until answered, while kaiin-billing is SIGKILLed three times. Each intent
    has an amount of its own, so the provider's ledger tells its charges apart. Some clients
    give up at their first failure: a charge made for them before the crash has no payment,
    and the reconciliation refunds it once it is 25 hours old."""
    s, c = fsb, fsb.client
    subs_n, invoices_n = 24, 24
    members = [member_with_card(c)[0] for _ in range(subs_n)]
    plans = [create_plan(c, amount=2000000 + i, tax_mode="inclusive") for i in range(subs_n)]
    payer = member_with_card(c)[0]
    open_invoices = []
    for i in range(invoices_n):
        d = ok(c.post("/v1/invoices", {"member_id": payer["id"], "tax_mode": "inclusive", "lines": [
            {"description": "会費 %d" % i, "quantity": 1, "unit_amount": 3000000 + i, "tax_rate": 10}]}), 201)
        open_invoices.append(ok(c.post("/v1/invoices/%s/finalize" % d["id"], {})))
    buyer = member_with_card(c)[0]
    intents = queue.Queue()              # (amount, path, body, gives up at its first failure)
    for i in range(subs_n):
        intents.put((2000000 + i, "/v1/subscriptions", {"member_id": members[i]["id"],
                                                        "plan": plans[i]["id"]}, False))
        intents.put((3000000 + i, "/v1/invoices/%s/pay" % open_invoices[i]["id"], {}, False))
    counter = itertools.count()
    stop = threading.Event()
    outcome = {}                         # amount -> "ok" | "gave up"
    retried = []
    lock = threading.Lock()

    def next_intent():
        try:
            return intents.get_nowait()
        except queue.Empty:
            n = next(counter)
            return (1000000 + n, "/v1/purchases", {"member_id": buyer["id"], "tax_mode": "inclusive",
                    "items": [item(1000000 + n)]}, n % 4 == 3)

    def client():
        while not stop.is_set():
            amount, path, body, quitter = next_intent()
            key = "intent-%d" % amount
            tries = 0
            while True:
                tries += 1
                try:
                    r = c.post(path, body, headers={"Idempotency-Key": key})
                    code = r.status_code
                except requests.RequestException:
                    code = None
                if code in (200, 201):
                    result = "ok"
                    break
                # 503/504 while billing is down, 409 while the key's first try still runs
                assert code in (None, 409, 500, 502, 503, 504), (path, code, r.text)
                if quitter:
                    result = "gave up"
                    break
                time.sleep(0.05)
            with lock:
                outcome[amount] = result
                if tries > 1 and result == "ok":
                    retried.append(amount)

    threads = [threading.Thread(target=client) for _ in range(6)]
    for t in threads:
        t.start()
    try:
        for _ in range(3):
            time.sleep(1.5)
            s.kill_billing(sig=signal.SIGKILL)
            s.wait_no_workers(service="billing", timeout=10)
            s.start_billing()
            s.wait_ready()
        time.sleep(1.0)
        # every keyed subscription and invoice pay done, and purchases beyond them, however
        # slow the machine: the count, not the time, makes the test
        deadline = time.monotonic() + 120
        while len(outcome) <= 2 * (subs_n + invoices_n) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert not any(t.is_alive() for t in threads)
    amounts = sorted(outcome)
    assert intents.empty() and len(amounts) > 2 * (subs_n + invoices_n), len(amounts)

    def charges():
        """amount -> [provider_ref, ...] of the ledger's succeeded charges for our intents."""
        rows = s.sql("select amount, provider_ref from billing.sandbox_charges where outcome = "
                     "'succeeded' and amount >= 1000000 and amount < 4000000")
        got = {}
        for amount, ref in rows:
            got.setdefault(int(amount), []).append(ref)
        return got

    recorded = {r[0] for r in s.sql("select provider_ref from billing.payments where amount >= 1000000 "
                                    "and amount < 4000000 and status = 'succeeded'")}
    before = charges()
    double = sum(max(0, len(before.get(a, [])) - 1) for a in amounts)
    acked = [a for a in amounts if outcome[a] == "ok"]
    orphans = sorted(a for a in amounts if any(ref not in recorded for ref in before.get(a, [])))
    print("\nintents %d (acknowledged %d, retried after a failure %d, gave up %d): "
          "provider charges %d, double charges %d, charges without a payment %d"
          % (len(amounts), len(acked), len(retried), len(amounts) - len(acked),
             sum(len(v) for v in before.values()), double, len(orphans)))
    assert double == 0, {a: before[a] for a in amounts if len(before.get(a, [])) > 1}
    assert all(len(before.get(a, [])) == 1 for a in acked), [a for a in acked if len(before.get(a, [])) != 1]
    assert all(outcome[a] == "gave up" for a in orphans), orphans      # a retry links its charge
    # Every acknowledged write is there: a paid purchase, an active subscription, a paid invoice.
    paid = {int(r[0]) for r in s.sql("select i.total from billing.invoices i where i.status = 'paid' "
                                     "and i.total >= 1000000 and i.total < 4000000")}
    harness.record_fault("billing: kill -9 under purchases, subscriptions and invoice payments "
                         "retried with their Idempotency-Key", "kill -9 ×3", len(acked),
                         len(set(acked) - paid), None, double)
    assert set(acked) <= paid, sorted(set(acked) - paid)

    # 25 hours on, the reconciliation refunds each charge without a payment, once.
    clock(c, advance="PT24H")
    assert s.sql("select count (*) from billing.provider_orphans where amount >= 1000000 "
                 "and amount < 4000000") == [["0"]]
    clock(c, advance="PT2H")
    clock(c, advance="PT1H")
    refunded = s.sql("select o.amount, o.provider_ref, (select count (*) from billing.sandbox_charges r "
                     "where r.idempotency_key = 'reconcile:' || o.provider_ref and r.amount = -o.amount) "
                     "from billing.provider_orphans o where o.amount >= 1000000 and o.amount < 4000000")
    assert sorted(int(a) for a, _, _ in refunded) == orphans, (refunded, orphans)
    assert all(n == "1" for _, _, n in refunded), refunded
    print("orphan charges refunded by the reconciliation: %d" % len(refunded))
    net = {a: len(refs) - sum(1 for x, ref, _ in refunded if int(x) == a and ref in refs)
           for a, refs in charges().items()}
    assert all(net.get(a, 0) == (1 if a in paid else 0) for a in amounts), \
        [(a, net.get(a), a in paid) for a in amounts if net.get(a, 0) != (1 if a in paid else 0)]
