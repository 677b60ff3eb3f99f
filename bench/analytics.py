"""analytics.py - the analytics figures' data and queries (issue 11), run by bench/run.sh.

    analytics.py seed --url URL --token TOKEN --members FILE --out DIR [--months 24] [--seed 1]
        [--member-seq N] [--billing-seq N] [--bin DIR]

Makes scripts/demo.py's ranks and plans through the API, then writes the history of the members
listed in FILE (one "id<TAB>status" a line: member.members as bench/seed.sql made them),
`months` months up to the test clock's now, as the events member's and billing's
outboxes would hold: DIR/member.copy and DIR/billing.copy, COPY text for outbox (seq, type,
aggregate_id, occurred_at, payload), numbered after the seq given, in time order. The payloads
are packed by kaiin-bench-events (bench/events.c) from the API's JSON. Its shape is
scripts/demo.py's online school: its plans, cancel reasons, items, inquiries, personas and
weights (imported from it, with its API client and set-up), a launch wave then signups growing over the months, monthly logins
and weekly ones near the end, trials, declined cards and dunning, plan changes, purchases,
cancellations with the reasons' weights, come-backs. Prints SEED member=N billing=N.

    analytics.py probe --url URL --token TOKEN --members FILE [--months 24]

Times the read routes one request at a time on one keep-alive connection, as a staff member's
console sends them, after one warm-up each (KAIIN_BENCH_ANALYTICS_QUERIES, 50, of each metrics
route and KAIIN_BENCH_ANALYTICS_TIMELINES, 200, timelines; a route stops sooner once
KAIIN_BENCH_ANALYTICS_BUDGET seconds, 60, have passed and 5 were timed): GET /v1/metrics/subscriptions, /v1/metrics/churn and /v1/metrics/cohorts
over the whole history, /v1/reports/monthly for one of its months, and
/v1/members/{id}/timeline for a random member. Prints one line a route,
PROBE route=... requests=... timeouts=... p50_ms=... p95_ms=... max_ms=...; an answer 504 (the
gateway's deadline, 5 s) is counted as a timeout at the time it came, any other but 200 fails.
Python 3 standard library only."""

import argparse
import datetime
import hashlib
import http.client
import json
import math
import os
import random
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import demo  # noqa: E402  (scripts/demo.py: the demo history's constants)

DAY_MS = demo.DAY_MS
QUERIES = int(os.environ.get("KAIIN_BENCH_ANALYTICS_QUERIES", "50"))
TIMELINES = int(os.environ.get("KAIIN_BENCH_ANALYTICS_TIMELINES", "200"))
BUDGET_S = float(os.environ.get("KAIIN_BENCH_ANALYTICS_BUDGET", "60"))   # per route, then stop (5 at least)
PLAN_MOVES = {"demo-basic-monthly": [("demo-standard-monthly", 70), ("demo-premium-yearly", 30)],
              "demo-standard-monthly": [("demo-basic-monthly", 60), ("demo-premium-yearly", 40)],
              "demo-premium-yearly": [("demo-standard-monthly", 100)]}


def uuid_of(*parts):
    h = hashlib.md5(":".join(map(str, parts)).encode()).hexdigest()
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


class History:
    """One member's events, appended as they happen: (at_ms, source, type, message, payload)."""

    def __init__(self, out, plans, start, end):
        self.out = out
        self.plans = plans                  # code -> (id, amount, interval, trial days, mrr)
        self.start, self.end = start, end
        self.counts = {"member": 0, "billing": 0}

    def emit(self, at, source, type_, aggregate, message, payload):
        if at >= self.end:
            return
        self.out[source].write("%d\t%s\t%s\t%s\t%s\n" % (at, type_, aggregate, message,
                                                          json.dumps(payload, ensure_ascii=False,
                                                                     separators=(",", ":"))))
        self.counts[source] += 1

    # ------------------------------------------------------------------ one member's story
    def member(self, n, member_id, status, rng):
        span = self.end - self.start
        if n <= 12500:                                  # demo's launch wave: the first eighth
            t = self.start + rng.randint(0, min(span // 2, 20 * DAY_MS))
        else:
            t = self.start + int(span * (rng.random() ** 0.8) * 0.97)
        persona = demo.weighted(rng, [("subscriber", 62), ("buyer", 18), ("browser", 20)])
        self.emit(t, "member", "member.registered", member_id, "kaiin.member.Member",
                  {"id": member_id, "status": "free", "rank": "basic", "created_at": demo.rfc3339(t)})
        self.id, self.rng, self.t0 = member_id, rng, t
        self.logins_until = None
        self.visits = []                                # login times, decided at the end
        last = self.end
        if status == "withdrawn":                       # bench/seed.sql's withdrawn members
            last = t + int((self.end - t) * rng.uniform(0.3, 0.95))
            self.emit(last, "member", "member.withdrawn", member_id, "kaiin.member.Member",
                      {"id": member_id, "status": "withdrawn", "rank": "basic", "created_at": demo.rfc3339(t),
                       "withdrawn_at": demo.rfc3339(last), "withdrawn_reason": "other"})
        if persona == "subscriber":
            self.subscribe(t + rng.randint(0, 10) * DAY_MS + 3600000, last, first=True)
        elif persona == "buyer":
            self.purchases(t + rng.randint(0, 5) * DAY_MS + 3600000, last, heavy=n % 4 == 0)
        if rng.random() < 0.12:
            self.inquiry(t + rng.randint(2, 60) * DAY_MS)
        self.logins(t, min(last, self.logins_until or last), browser=persona == "browser")

    def logins(self, t, until, browser):
        """demo.py's visits: about monthly, every 4 to 12 days over the last 45 days; a browser
        loses interest at 3 visits in 10."""
        recent = self.end - min(45 * DAY_MS, (self.end - self.start) // 4)
        while t < until:
            self.emit(t, "member", "member.logged_in", self.id, "kaiin.member_auth.LoggedIn",
                      {"member_id": self.id, "at": demo.rfc3339(t), "ip": "203.0.113.%d" % self.rng.randint(1, 254)})
            if browser and self.rng.random() < 0.3:
                return
            t += (self.rng.randint(4, 12) if t >= recent else self.rng.randint(25, 50)) * DAY_MS

    def sub_event(self, at, type_, s, status, **extra):
        payload = {"id": s["id"], "member_id": self.id, "plan_id": self.plans[s["plan"]][0],
                   "plan_code": s["plan"], "status": status, "created_at": demo.rfc3339(s["created"]),
                   "current_period_start": demo.rfc3339(s["period_start"]),
                   "current_period_end": demo.rfc3339(s["period_end"])}
        payload.update(extra)
        self.emit(at, "billing", type_, s["id"], "kaiin.billing.Subscription", payload)

    def paid(self, at, reason, total, subscription_id="", purchase_id=""):
        invoice = {"id": uuid_of("invoice", self.id, at), "member_id": self.id, "status": "paid",
                   "subscription_id": subscription_id, "purchase_id": purchase_id,
                   "billing_reason": reason, "currency": "JPY", "tax_mode": "inclusive", "total": total,
                   "subtotal": total - total * 10 // 110, "tax_total": total * 10 // 110,
                   "amount_paid": total, "paid_at": demo.rfc3339(at), "created_at": demo.rfc3339(at)}
        self.emit(at, "billing", "invoice.paid", invoice["id"], "kaiin.billing.Invoice", invoice)
        return invoice

    def period_end(self, t, plan):
        return t + (365 if self.plans[plan][2] == "year" else 30) * DAY_MS

    def subscribe(self, now, last, first):
        """demo.py's subscribe(): the plan by its weights, a trial some end unpaid, the life span
        (a quarter leave within weeks), a card that declines, a plan change, drift before leaving."""
        rng = self.rng
        plan = demo.weighted(rng, [("demo-basic-monthly", 50), ("demo-standard-monthly", 35),
                                   ("demo-premium-yearly", 15)])
        trial = self.plans[plan][3]
        if trial and now + (trial + 2) * DAY_MS > self.end:
            plan, trial = "demo-basic-monthly", 0
        s = {"id": uuid_of("subscription", self.id, now), "plan": plan, "created": now, "period_start": now}
        s["period_end"] = now + trial * DAY_MS if trial else self.period_end(now, plan)
        self.sub_event(now, "subscription.created", s, "trialing" if trial else "active",
                       trial_end=demo.rfc3339(s["period_end"]) if trial else None)
        if trial and rng.random() < 0.25:               # a trial ended before paying
            at = now + rng.randint(2, trial // 2) * DAY_MS
            self.cancel(at, s, "canceled", at)
            return
        if not trial:
            self.sub_event(now + 1, "subscription.started", s, "active")
            self.paid(now + 2, "subscription_create", self.plans[plan][1], s["id"])
        if rng.random() < 0.25:
            life = rng.randint(15, 75)
        else:
            life = int(-(900 if plan == "demo-premium-yearly" else 600) * math.log(1 - rng.random() * 0.999))
        first_pay = max(s["period_end"] if trial else now, now) + DAY_MS
        leave = min(first_pay + (life + 3) * DAY_MS, last)
        roll = rng.random()
        decline = change = None
        if roll < 0.14 and plan != "demo-premium-yearly":
            decline = first_pay + rng.randint(1, 90) * DAY_MS
        elif roll < 0.35:
            change = first_pay + rng.randint(10, 150) * DAY_MS
        if rng.random() < 0.7:                          # most stop logging in weeks before leaving
            self.logins_until = leave - rng.randint(10, 35) * DAY_MS
        if rng.random() < 0.3:
            self.inquiry(leave - rng.randint(3, 25) * DAY_MS)
        if rng.random() < 0.25:
            self.purchases(now + rng.randint(3, 40) * DAY_MS, last, heavy=False)
        # the periods, each renewed (or started, after a trial) until the member leaves
        t = s["period_end"]
        from_trial = bool(trial)
        while t < leave and t < self.end:
            if change is not None and change < t:
                to = demo.weighted(rng, PLAN_MOVES[s["plan"]])
                s["plan"] = to
                self.sub_event(change, "subscription.updated", s, "active")
                change = None
            s["period_start"], s["period_end"] = t, self.period_end(t, s["plan"])
            if decline is not None and decline < t:
                # demo.py's decline(): the renewal fails; half put a new card in within days,
                # the others end in dunning (canceled, payment_failed, 20 days on)
                self.emit(t, "billing", "payment.failed", uuid_of("payment", self.id, t), "kaiin.billing.Payment",
                          {"id": uuid_of("payment", self.id, t), "member_id": self.id, "amount": self.plans[s["plan"]][1],
                           "status": "failed", "failure_code": "card_declined", "method_type": "card",
                           "created_at": demo.rfc3339(t)})
                self.sub_event(t + 1, "subscription.updated", s, "past_due")
                if rng.random() < 0.5:
                    fixed = t + rng.randint(1, 3) * DAY_MS
                    self.paid(fixed, "subscription_cycle", self.plans[s["plan"]][1], s["id"])
                    self.sub_event(fixed + 1, "subscription.updated", s, "active")
                    decline = None
                else:
                    self.cancel(t + 20 * DAY_MS, s, "canceled", t + 20 * DAY_MS, reason="payment_failed")
                    self.logins_until = t
                    return
            else:
                self.sub_event(t, "subscription.started" if from_trial else "subscription.renewed", s, "active")
                self.paid(t + 1, "subscription_cycle", self.plans[s["plan"]][1], s["id"])
            from_trial = False
            t = s["period_end"]
        if leave >= self.end:
            return
        # demo.py's cancel(): a reason by its weights, at the period's end 6 times in 10
        reason = demo.weighted(rng, demo.REASONS)
        if rng.random() < 0.6:
            self.sub_event(leave, "subscription.updated", s, "active", cancel_at_period_end=True,
                           cancel_reason=reason, canceled_at=demo.rfc3339(leave))
            self.cancel(s["period_end"], s, "canceled", leave, reason)
        else:
            self.cancel(leave, s, "canceled", leave, reason)
        if rng.random() < 0.12 and first:               # comes back a few months later
            self.subscribe(max(leave, s["period_end"]) + rng.randint(30, 120) * DAY_MS, last, first=False)

    def cancel(self, at, s, status, asked, reason="other"):
        self.sub_event(at, "subscription.canceled", s, status, cancel_reason=reason,
                       cancel_comment=demo.COMMENTS.get(reason, ""), canceled_at=demo.rfc3339(asked),
                       ended_at=demo.rfc3339(at))

    def purchases(self, t, last, heavy):
        """demo.py's purchase(): one of its items; the next 20 to 90 days later (3 to 6 for a heavy
        buyer, up to a dozen or so), for buyers, else one time in two."""
        count = 0
        while t < min(last, self.end):
            sku, description, amount = self.rng.choice(demo.ITEMS)
            pid = uuid_of("purchase", self.id, t)
            invoice = self.paid(t + 1, "purchase", amount, purchase_id=pid)
            self.emit(t + 2, "billing", "purchase.completed", pid, "kaiin.billing.Purchase",
                      {"id": pid, "member_id": self.id, "status": "paid", "tax_mode": "inclusive",
                       "items": [{"sku": sku, "description": description, "quantity": 1,
                                  "unit_amount": amount, "tax_rate": 10}],
                       "invoice": invoice, "created_at": demo.rfc3339(t)})
            count += 1
            if heavy and count < 12:
                t += self.rng.randint(3, 6) * DAY_MS
            elif self.rng.random() < 0.5:
                t += self.rng.randint(20, 90) * DAY_MS
            else:
                return

    def inquiry(self, at):
        subject, _, category = self.rng.choice(demo.INQUIRIES)
        iid = uuid_of("inquiry", self.id, at)
        inquiry = {"id": iid, "member_id": self.id, "subject": subject, "status": "open",
                   "channel": self.rng.choice(("email", "phone")), "category": category,
                   "created_at": demo.rfc3339(at)}
        self.emit(at, "member", "inquiry.opened", iid, "kaiin.inquiry.Inquiry", inquiry)
        if self.rng.random() < 0.8:
            done = at + self.rng.randint(1, 7) * DAY_MS
            inquiry.update(status="resolved", resolved_at=demo.rfc3339(done))
            self.emit(done, "member", "inquiry.resolved", iid, "kaiin.inquiry.Inquiry", inquiry)


def seed(args):
    # demo.py's set-up: its ranks and plans, through the API (analytics asks billing for a plan)
    client = demo.Client(args.url, args.token)
    setup = demo.Generator(client, args.months, 0, args.seed, None)
    setup.setup()
    plans = {code: (setup.plans[code]["id"], amount, interval, trial, mrr)
             for code, _, amount, interval, trial, _, mrr in demo.PLANS}
    end = demo.clock_now(client)
    start = end - args.months * 365 // 12 * DAY_MS
    raw = {s: open(os.path.join(args.out, s + ".raw"), "w") for s in ("member", "billing")}
    history = History(raw, plans, start, end)
    for n, line in enumerate(open(args.members), 1):
        member_id, status = line.split()
        history.member(n, member_id, status, random.Random("%d:%d" % (args.seed, n)))
    for f in raw.values():
        f.close()
    # In time order (stable: one member's events at one time keep theirs), numbered after the
    # outbox's last, packed.
    for source, after in (("member", args.member_seq), ("billing", args.billing_seq)):
        raw_path = os.path.join(args.out, source + ".raw")
        with open(os.path.join(args.out, source + ".copy"), "w") as out:
            pipeline = ("sort -t '\t' -s -n -k1,1 -S 25%% '%s' | awk -F '\t' -v OFS='\t' -v base=%d "
                        "'{ print base + NR, $2, $3, $1, $4, $5 }' | '%s/kaiin-bench-events'"
                        % (raw_path, after, args.bin))
            subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], stdout=out, check=True,
                           env=dict(os.environ, LC_ALL="C"))
        os.unlink(raw_path)
    print("SEED member=%d billing=%d start_ms=%d" % (history.counts["member"], history.counts["billing"], start))


# ---------------------------------------------------------------------- the routes' times
def probe(args):
    url = urllib.parse.urlsplit(args.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    headers = {"Authorization": "Bearer " + args.token, "Accept": "application/json"}

    def get(path):
        t = time.monotonic()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        ms = (time.monotonic() - t) * 1000
        if response.status == 504:                      # the gateway's deadline: a time too
            timeouts[0] += 1
        elif response.status != 200:
            sys.exit("GET %s answered %d: %s" % (path, response.status, body[:300]))
        return ms, body

    timeouts = [0]

    jst = datetime.timezone(datetime.timedelta(hours=9))
    last = datetime.datetime.fromtimestamp(demo.clock_now(demo.Client(args.url, args.token)) / 1000, jst)
    months = []
    y, m = last.year, last.month
    for _ in range(args.months):
        months.append("%04d-%02d" % (y, m))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    span = "from=%s&to=%s" % (months[-1], months[0])
    ids = [line.split()[0] for line in open(args.members)]
    rng = random.Random(11)
    routes = [("subscriptions", QUERIES, lambda: "/v1/metrics/subscriptions?" + span),
              ("churn", QUERIES, lambda: "/v1/metrics/churn?" + span),
              ("cohorts", QUERIES, lambda: "/v1/metrics/cohorts?" + span),
              ("monthly", QUERIES, lambda: "/v1/reports/monthly?month=" + rng.choice(months[1:])),
              ("timeline", TIMELINES, lambda: "/v1/members/%s/timeline" % rng.choice(ids))]
    for name, count, path in routes:
        get(path())                                     # warm-up
        times, began, timeouts[0] = [], time.monotonic(), 0
        while len(times) < count and (len(times) < 5 or time.monotonic() - began < BUDGET_S):
            times.append(get(path())[0])
        times.sort()
        p95 = times[min(len(times) - 1, math.ceil(0.95 * len(times)) - 1)]
        print("PROBE route=%s requests=%d timeouts=%d p50_ms=%.1f p95_ms=%.1f max_ms=%.1f"
              % (name, len(times), timeouts[0], times[len(times) // 2], p95, times[-1]), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("seed")
    s.add_argument("--members", required=True)
    s.add_argument("--url", required=True)
    s.add_argument("--token", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--months", type=int, default=24)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--member-seq", type=int, default=0)
    s.add_argument("--billing-seq", type=int, default=0)
    s.add_argument("--bin", default="build/bin")
    p = sub.add_parser("probe")
    p.add_argument("--url", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--members", required=True)
    p.add_argument("--months", type=int, default=24)
    args = parser.parse_args()
    seed(args) if args.command == "seed" else probe(args)


if __name__ == "__main__":
    main()
