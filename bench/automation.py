"""automation.py - the automation figure of issue 15: one test-clock move renews RENEWALS
subscriptions at once; billing's invoice.paid starts, per renewal, a run of each of 3 active
automations (the seeded receipt with its PDF, a thank-you sent at once, a notice a minute
later); meanwhile a campaign of CAMPAIGN mails is sent. Measured: the runs worked per second,
the time until every notice mail reached the sink (mailpit), and when the campaign's first and
last mails went out while the backlog of runs was being worked.

Runs on its own servers (tests/harness.py: PostgreSQL, Redis, the gateway, member, billing,
messaging, analytics, mailpit), not make bench's:
    KAIIN_BIN_DIR=build/bin python3 bench/automation.py [--renewals 20000] [--campaign 2000]
                                                       [--limit 1800] [--tick-threads 2]
which prints progress every 10 s and one machine-readable line, AUTOMATION key=value ...;
exit 1 when a mail went twice or not every mail was sent within --limit seconds."""

import argparse
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import harness  # noqa: E402

SETTINGS = {"from_name": "会員サポート", "from_address": "support@bench.example.jp",
            "business_name": "株式会社カイイン", "postal_address": "東京都千代田区千代田1-1",
            "contact": "03-1234-5678"}
RECEIPT = "領収（お支払い完了）"


def ok(r, status=200):
    if r.status_code != status:
        sys.exit("automation.py: %s answered %d: %s" % (r.url, r.status_code, r.text[:300]))
    return r.json() if r.content else {}


def one(s, sql):
    return int(s.sql(sql, timeout=120)[0][0])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--renewals", type=int, default=20000)
    parser.add_argument("--campaign", type=int, default=2000)
    parser.add_argument("--limit", type=int, default=1800, help="seconds to wait for the mails at most")
    parser.add_argument("--tick-threads", type=int, default=2, help="kaiin-messaging's MESSAGING_TICK_THREADS")
    args = parser.parse_args()
    n, k = args.renewals, args.campaign

    s = harness.Suite("bench-automation", billing=True, mailpit=True,
                      services=["member", "billing", "messaging", "analytics"],
                      settings={"messaging": {"MESSAGING_TICK_THREADS": str(args.tick_threads)}}).start()
    try:
        return run(s, c=s.client, n=n, k=k, limit=args.limit)
    finally:
        s.stop()


def run(s, c, n, k, limit):
    deadline = time.monotonic() + 60
    while c.patch("/v1/messaging/settings", SETTINGS).status_code != 200:
        if time.monotonic() > deadline:
            sys.exit("automation.py: messaging's settings not saved")
        time.sleep(0.5)
    # The 3 active automations on invoice.paid: the seeded receipt (its PDF from billing), a
    # thank-you at once, a notice a minute on (a run that waits: one per member at a time).
    thanks = ok(c.post("/v1/messaging/templates", {
        "name": "bench thanks", "kind": "transactional", "subject": "ご継続ありがとうございます",
        "text": "{{member.name}} 様\n\n{{event.number}} のお支払い {{event.amount_paid}} 円、ありがとうございます。\n"}), 201)
    later = ok(c.post("/v1/messaging/templates", {
        "name": "bench later", "kind": "transactional", "subject": "今月のご案内",
        "text": "{{member.name}} 様\n\n今月もよろしくお願いいたします。\n"}), 201)
    for name, steps in (("bench thanks", [{"send": {"template_id": thanks["id"]}}]),
                        ("bench later", [{"wait": {"minutes": 1}}, {"send": {"template_id": later["id"]}}])):
        ok(c.post("/v1/messaging/automations", {"name": name, "source": "billing", "event_type": "invoice.paid",
                                                 "scenario": {"steps": steps}}), 201)
    active = [a["name"] for a in ok(c.get("/v1/messaging/automations", params={"limit": 100}))["data"]
              if a["active"] and a["source"] == "billing" and a["event_type"] == "invoice.paid"]
    assert sorted(active) == sorted([RECEIPT, "bench thanks", "bench later"]), active

    # The members: renewing ones (messaging's projection; billing's subscriptions, a card each,
    # due a minute from the clock's now, as make bench seeds them) and the campaign's, tagged
    # and consenting. Seeded as the superuser.
    plan = ok(c.post("/v1/plans", {"code": "bench-renew", "name": "Renew", "amount": 980, "currency": "JPY",
                                   "tax_mode": "inclusive", "tax_rate": 10, "interval": "month",
                                   "interval_count": 1}), 201)
    now_s = int(harness_now(c) / 1000)
    due_s = now_s + 60
    t0 = time.monotonic()
    s.sql("""insert into messaging.members (id, email, name, name_kana, status, rank, created_at_ms)
             select md5 ('bench-renew:' || i)::uuid, 'renew' || i || '@bench.example.jp', '会員 ' || i,
                    'カイイン', 'active', 'regular', 1 from generate_series (1, %d) i;
             insert into messaging.members (id, email, name, name_kana, status, rank, email_opt_in,
                                            consented_at_ms, consent_method, tags, created_at_ms)
             select md5 ('bench-campaign:' || i)::uuid, 'campaign' || i || '@bench.example.jp', '会員 ' || i,
                    'カイイン', 'active', 'regular', true, 1, 'web_form', array['bench-campaign'], 1
             from generate_series (1, %d) i;
             with pm as (insert into billing.payment_methods (member_id, type, provider, token, brand, last4,
                                                             exp_month, exp_year, is_default, created_at)
                         select md5 ('bench-renew:' || i)::uuid, 'card', 'sandbox', 'tok_visa', 'visa', '4242',
                                12, 2099, true, to_timestamp (%d) from generate_series (1, %d) i
                         returning id, member_id)
             insert into billing.subscriptions (member_id, plan_id, status, payment_method_id, anchor_day,
                                                current_period_start, current_period_end, created_at, updated_at)
             select member_id, '%s', 'active', id, extract (day from to_timestamp (%d) at time zone 'UTC')::int,
                    to_timestamp (%d) - interval '1 month', to_timestamp (%d), to_timestamp (%d), to_timestamp (%d)
             from pm;
             analyze billing.subscriptions; analyze billing.payment_methods; analyze messaging.members"""
          % (n, k, now_s, n, plan["id"], due_s, due_s, due_s, now_s, now_s), timeout=600)
    print("seeded %d renewing and %d campaign members in %.0f s" % (n, k, time.monotonic() - t0), flush=True)
    template = ok(c.post("/v1/messaging/templates", {
        "name": "bench campaign", "kind": "marketing", "subject": "【会員限定】{{member.name}}様へ春のご優待",
        "text": "{{member.name}} 様\n\n春のご優待のお知らせです。\n"}), 201)
    segment = ok(c.post("/v1/messaging/segments", {
        "name": "bench", "filter": {"field": "tags", "op": "has", "value": "bench-campaign"}}), 201)
    campaign = ok(c.post("/v1/messaging/campaigns", {
        "name": "bench", "template_id": template["id"], "segment_id": segment["id"]}), 201)

    # One clock move renews them all; it answers once every due thing is done, so it runs on
    # its own thread while this one watches.
    moved = {}

    def move():
        r = c.post("/v1/test/clock", {"to": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(due_s + 60))},
                   timeout=(3.0, limit + 60.0))
        moved["status"], moved["seconds"] = r.status_code, time.monotonic() - started
    started = time.monotonic()
    mover = threading.Thread(target=move, daemon=True)
    mover.start()
    notices = 3 * n
    campaign_sent_at = None
    first_campaign_at = None
    campaign_done_at = None
    all_notices_at = None
    last_print = 0.0
    peak_active = 0
    mails_sql = ("select count (*) filter (where automation_id is not null),"
                 " count (*) filter (where automation_id is not null and status = 'sent'),"
                 " count (*) filter (where campaign_id is not null and status = 'sent'),"
                 " count (*) filter (where status = 'queued')"
                 " from messaging.mails")
    runs_sql = ("select count (*) filter (where status = 'active'), count (*) filter (where status <> 'active')"
                " from messaging.automation_runs")
    while True:
        elapsed = time.monotonic() - started
        active, finished = [int(x) for x in s.sql(runs_sql)[0]]
        queued_notices, sent_notices, sent_campaign, queued = [int(x) for x in s.sql(mails_sql)[0]]
        peak_active = max(peak_active, active)
        # The campaign is sent once the backlog of runs has begun.
        if campaign_sent_at is None and active + finished >= min(n, 1000):
            ok(c.post("/v1/messaging/campaigns/%s/send" % campaign["id"], {}, timeout=(3.0, 300.0)))
            campaign_sent_at = time.monotonic() - started
        if campaign_sent_at is not None and first_campaign_at is None and sent_campaign > 0:
            first_campaign_at = elapsed
        if campaign_done_at is None and sent_campaign >= k:
            campaign_done_at = elapsed
        if all_notices_at is None and sent_notices >= notices:
            all_notices_at = elapsed
        if elapsed - last_print >= 10:
            last_print = elapsed
            print("%5.0f s: runs %d active, %d finished (%.1f/s); notice mails %d made, %d sent;"
                  " campaign %d of %d sent; %d mails queued"
                  % (elapsed, active, finished, finished / elapsed, queued_notices, sent_notices,
                     sent_campaign, k, queued), flush=True)
        if all_notices_at is not None and sent_campaign >= k:
            break
        if elapsed > limit:
            print("automation.py: not done after %d s" % limit, flush=True)
            break
        time.sleep(1)
    seconds = time.monotonic() - started
    mover.join(timeout=120 if campaign_done_at is not None and all_notices_at is not None else 5)
    finished = one(s, "select count (*) from messaging.automation_runs where status <> 'active'")
    twice = one(s, "select count (*) from (select 1 from messaging.mails where status = 'sent'"
                   " group by coalesce (automation_id, campaign_id), member_id, event_id, step"
                   " having count (*) > 1) x")
    received = len(s.mails()) if sent_notices + sent_campaign <= 100000 else -1
    exact = (twice == 0 and sent_notices == notices and sent_campaign == k
             and (received < 0 or received == notices + k))

    def fmt(x):
        return "%.1f" % x if x is not None else "none"
    print("AUTOMATION renewals=%d runs=%d runs_finished=%d peak_active=%d seconds=%.1f runs_per_s=%.1f"
          " notices=%d notices_sent=%d notices_all_sent_s=%s campaign=%d campaign_sent=%d"
          " campaign_started_s=%s campaign_first_s=%s campaign_done_s=%s received=%d twice=%d"
          " clock=%s exact=%s"
          % (n, 3 * n, finished, peak_active, seconds, finished / seconds, notices, sent_notices,
             fmt(all_notices_at), k, sent_campaign, fmt(campaign_sent_at), fmt(first_campaign_at),
             fmt(campaign_done_at), received, twice, moved.get("status", "pending"),
             "yes" if exact else "no"), flush=True)
    return 0 if exact else 1


def harness_now(c):
    """The test clock's now in ms (GET /v1/test/clock)."""
    body = ok(c.get("/v1/test/clock"))
    for key in ("now", "now_at"):
        if isinstance(body.get(key), str):
            import datetime
            return int(datetime.datetime.fromisoformat(body[key].replace("Z", "+00:00")).timestamp() * 1000)
    return int(body["now_ms"])


if __name__ == "__main__":
    sys.exit(main())
