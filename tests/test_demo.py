"""test_demo.py - scripts/demo.py (make demo) against the real services: a small history made
through its importable entry point, then what the API and analytics answer checked against the
generator's own record of what it did. The suite is this module's own: the clock only moves
forward."""

import datetime
import os
import subprocess
import sys
import time

import pytest

import harness
from billing_util import billing_suite, finish_suite, ok

sys.path.insert(0, os.path.join(harness.REPO, "scripts"))
import demo  # noqa: E402

JST = datetime.timezone(datetime.timedelta(hours=9))
WAIT_S = 30.0


@pytest.fixture(scope="module")
def suite():
    s = billing_suite("demo")
    if "analytics" not in s.service_list:
        s.stop()
        pytest.skip("kaiin-analytics is not built")
    yield s
    finish_suite(s)


@pytest.fixture(scope="module")
def made(suite):
    """3 months, 30 members, seed 7, the clock moved a week at a time and daily over the last
    week: the generator's summary, and its client."""
    client = demo.Client(suite.url(""), suite.token)
    lines = []
    summary = demo.generate(client, months=3, members=30, seed=7, log=lines.append, step_days=7,
                            daily_days=7)
    assert len(lines) >= 3, lines                       # a line a month
    print({k: v for k, v in summary.items() if k not in ("member_ids", "purchases_by_member")})
    return summary, client


def eventually(fn, timeout=WAIT_S):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def month(ms_text):
    return datetime.datetime.fromtimestamp(demo.parse_ms(ms_text) / 1000, JST).strftime("%Y-%m")


def all_pages(c, path):
    out, cursor = [], None
    while True:
        page = ok(c.get(path, params=dict({"limit": 100}, **({"cursor": cursor} if cursor else {}))))
        out += page["data"]
        cursor = page["next_cursor"]
        if not cursor:
            return out


def test_the_history_is_varied(made):
    """The story has each kind of event the dashboard shows (seed 7, by the generator's count)."""
    s, _ = made
    assert s["members"] == 30 and len(s["member_ids"]) == 30
    for key in ("subscriptions_started", "cancellations", "purchases", "logins", "plan_changes",
                "declined_cards", "inquiries", "trials"):
        assert s[key] > 0, (key, s)
    assert sum(s["cancel_reasons"].values()) == s["cancellations"]
    assert max(s["purchases_by_member"].values()) >= 10, s["purchases_by_member"]


def test_the_api_and_analytics_agree_with_the_generator(suite, made):
    s, _ = made
    c = suite.client
    members = all_pages(c, "/v1/members")
    assert sorted(m["id"] for m in members) == sorted(s["member_ids"])
    assert all(m["email"].startswith("demo-") and m["email"].endswith("@example.com") for m in members)
    assert sum(1 for m in members if m["last_login_at"]) == 30       # each logs in at signup
    # billing's own count of paying subscriptions (active or past_due; no trial is left)
    live = [x for x in all_pages(c, "/v1/subscriptions") if x["status"] in ("active", "past_due", "trialing")]
    assert sorted(x["status"] for x in live if x["status"] == "trialing") == []
    assert len(live) == s["paying_subscriptions"], (live, s)
    # analytics' current month: subscribers, MRR (ベーシック ¥1,000, スタンダード ¥3,000, プレミアム
    # ¥2,500 a month, excluding tax), members
    now = month(s["end"])

    def current():
        m = [x for x in ok(c.get("/v1/metrics/subscriptions"))["months"] if x["month"] == now][0]
        return m if (m["subscribers"], m["mrr"], m["members"]) == \
            (s["paying_subscriptions"], s["mrr"], 30) else None
    got = eventually(current)
    assert got, (ok(c.get("/v1/metrics/subscriptions"))["months"][-1], s)
    assert s["mrr"] > 0 and got["arr"] == 12 * s["mrr"]

    # every cancellation, with its reason, in the churn metrics' breakdown
    def reasons():
        body = ok(c.get("/v1/metrics/churn", params={"from": month(s["start"]), "to": now}))
        counts = {}
        for m in body["months"]:
            for r in m["cancel_reasons"]:
                counts[r["reason"]] = counts.get(r["reason"], 0) + r["count"]
        return counts if counts == want else None
    # the member's reasons, and dunning's cancellations as payment_failed
    want = dict(s["cancel_reasons"], **({"payment_failed": s["dunning_cancellations"]}
                                         if s["dunning_cancellations"] else {}))
    assert s["dunning_cancellations"] == 1              # the 2nd subscriber's card is never put right
    assert eventually(reasons), want

    # a member with 10 paid purchases has had the 10th purchase's signal
    tenth = [mid for mid, n in s["purchases_by_member"].items() if n >= 10]
    assert tenth
    for mid in tenth:
        def signalled():
            return [x for x in ok(c.get("/v1/analytics/signals", params={"member_id": mid}))["data"]
                    if x["kind"] == "purchase_milestone" and x["milestone"] == 10]
        assert eventually(signalled), mid
        assert ok(c.get("/v1/members/%s/loyalty" % mid))["frequency"] >= 10

    # the failed payments are billing's too
    failed = [p for p in all_pages(c, "/v1/payments") if p["status"] == "failed"]
    assert len(failed) >= s["purchases_failed"] and failed


def test_the_churn_risk_score_ranks_who_cancelled_above_who_stayed(made):
    """The generator read every paying member's churn-risk score once a month and knows who
    left in the 30 days after: the score ranks them better than chance."""
    s, _ = made
    assert s["auc_positives"] > 0 and s["auc_negatives"] > 0, s
    assert s["churn_auc"] > 0.5, s


def test_auc_is_the_chance_a_leaver_scores_above_a_stayer():
    # leavers 80 and 40, stayers 40, 10 and 0: 80 beats all 3, 40 ties one (½) and beats 2
    assert demo.auc([80, 40], [40, 10, 0]) == pytest.approx(5.5 / 6)
    assert demo.auc([50], [50]) == 0.5 and demo.auc([0], [10]) == 0.0
    assert demo.auc([], [10]) is None and demo.auc([10], []) is None


def test_a_second_run_writes_nothing(suite, made):
    s, client = made
    before = len(all_pages(suite.client, "/v1/members"))
    with pytest.raises(RuntimeError):
        demo.generate(client, months=1, members=5, seed=7)
    assert len(all_pages(suite.client, "/v1/members")) == before == s["members"]


def test_help_says_what_a_second_run_does():
    r = subprocess.run([sys.executable, os.path.join(harness.REPO, "scripts/demo.py"), "--help"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    for word in ("--months", "--members", "--seed", "--url", "second run", "KAIIN_TEST_MODE=1 make run"):
        assert word in text, (word, r.stdout)
