"""test_analytics_pages.py - the tick's churn-risk evaluation scores members a page (2 000) at
a time: every member of a projection larger than a page is scored once, none skipped at a
page's edge, each with one score.changed.

Its own suite: the members are written straight into analytics' projection (as bench/ seeds
member's tables), which the shared analytics suite's rebuild test would not find in any
outbox."""

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
