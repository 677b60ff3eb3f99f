"""test_analytics_pages.py - the tick's work over many members: its churn-risk evaluation scores
members a page (2 000) at a time, every member of a projection larger than a page once, none
skipped at a page's edge, each with one score.changed; and it counts the monthly report's
loyalty segments of the ended months ahead of any request.

Its own suite: the members are written straight into analytics' projection (as bench/ seeds
member's tables), which the shared analytics suite's rebuild test would not find in any
outbox."""

import datetime
import time

import pytest

from billing_util import DAY_MS, billing_suite, finish_suite, now_ms, ok, rfc3339

MEMBERS = 4321                          # two whole pages and part of a third


@pytest.fixture(scope="module")
def an():
    s = billing_suite("analytics-pages")
    if "analytics" not in s.service_list:
        s.stop()
        pytest.skip("kaiin-analytics is not built")
    yield s
    finish_suite(s)


def test_every_member_of_several_pages_is_scored_once(an):
    c = an.client
    at = now_ms(c)
    # Paying members registered 40 days ago who never logged in: no habit, so the steps are
    # 7, 14 and 30 days; 40 days is past 4 × 7 and 30 → 40 points (README, "Churn-risk score").
    an.sql("insert into analytics.members (member_id, registered_at_ms, status)"
           " select md5 ('page:' || n)::uuid::text, %d, 'paid' from generate_series (1, %d) n"
           % (at - 40 * DAY_MS, MEMBERS))
    r = c.post("/v1/test/clock", {"to": rfc3339(at + 60000)}, timeout=(3.0, 300.0))
    assert r.status_code == 200, r.text             # the scores are evaluated once a minute

    def scored():
        return an.sql("select count (*), count (distinct member_id), min (score), max (score)"
                      " from analytics.risk_state where member_id in"
                      " (select md5 ('page:' || n)::uuid::text from generate_series (1, %d) n)" % MEMBERS)[0]
    deadline = time.monotonic() + 120
    while scored()[0] != str(MEMBERS) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert scored() == [str(MEMBERS), str(MEMBERS), "40", "40"]
    events = an.sql("select count (*), count (distinct aggregate_id) from analytics.outbox"
                    " where type = 'score.changed' and aggregate_id in"
                    " (select md5 ('page:' || n)::uuid::text from generate_series (1, %d) n)" % MEMBERS)[0]
    assert events == [str(MEMBERS), str(MEMBERS)]
    one = ok(c.get("/v1/members/%s/churn-risk" % an.sql("select md5 ('page:1')::uuid")[0][0]))
    assert (one["score"], [(x["code"], x["points"], x["text"]) for x in one["reasons"]]) == (
        40, [("inactive", 40, "40日間ログインなし")]), one


def jst_month_ends(at, months):
    """The last milliseconds of the `months` JST months before the one holding `at`, latest first."""
    jst = datetime.timezone(datetime.timedelta(hours=9))
    start = datetime.datetime.fromtimestamp(at / 1000, jst).replace(day=1, hour=0, minute=0, second=0,
                                                                      microsecond=0)
    ends = []
    for _ in range(months):
        ends.append(int(start.timestamp()) * 1000 - 1)
        start = (start - datetime.timedelta(days=1)).replace(day=1)
    return ends


def test_the_tick_counts_the_segments_of_ended_months_before_any_report(an):
    c = an.client
    at = now_ms(c)
    ends = jst_month_ends(at, 25)
    # One member paid ¥5,000 ten days before the last month's end (written as the consumer
    # would, with the months it changes forgotten as it would forget them): paying at the end
    # of that month and of none before; every other member has never paid.
    payer = an.sql("select md5 ('page:1')::uuid")[0][0]
    an.sql("begin; select pg_advisory_xact_lock_shared (hashtext ('analytics.month_segments'));"
           " insert into analytics.paid_invoices (invoice_id, member_id, reason, total, paid_at_ms)"
           " values ('page-invoice', '%s', 'purchase', 5000, %d);"
           " delete from analytics.month_segments; commit" % (payer, ends[0] - 10 * DAY_MS))

    def kept():
        return {int(e): m for e, m in an.sql("select end_ms, members from analytics.month_segments")}
    deadline = time.monotonic() + 180               # a month a tick (a second)
    while not set(ends) <= set(kept()) and time.monotonic() < deadline:
        time.sleep(0.5)
    got = kept()
    assert set(ends) <= set(got), sorted(set(ends) - set(got))
    counts = lambda text: [int(n) for n in text.strip("{}").split(",")]
    assert sum(counts(got[ends[0]])) == 1 and [sum(counts(got[e])) for e in ends[1:]] == [0] * 24, got
    # The report reads what the tick kept: the same counts, the payer's segment among them.
    month = datetime.datetime.fromtimestamp(ends[0] / 1000, datetime.timezone(datetime.timedelta(hours=9)))
    report = ok(c.get("/v1/reports/monthly", params={"month": month.strftime("%Y-%m")}))
    assert ([g["members"] for g in report["month"]["segments"]],
            [g["members"] for g in report["previous"]["segments"]]) == (counts(got[ends[0]]), [0] * 6), report
