"""test_analytics_faults.py - kaiin-analytics under a fault: killed (-9) in the middle of applying
a backlog of member's events, it resumes from its last committed position and applies each
event once (services/analytics/README.md, "Ingest"). The suite is this module's own, so that
its 5 000 members weigh on no other test's figures."""

import uuid

import pytest

import harness
from billing_util import billing_suite, finish_suite
from test_analytics import caught_up, eventually

pytestmark = pytest.mark.heavy          # kill -9 under load, thousands of rows


@pytest.fixture(scope="module")
def af():
    s = billing_suite("analytics-faults")
    yield s
    finish_suite(s)


@pytest.mark.chaos
def test_kill_9_while_ingesting_applies_each_event_once(af):
    """5 000 registrations (one CSV import, made while analytics is down) wait in member's
    outbox; analytics is started, killed (-9) once it has applied some, and started again:
    every member is in its projection once, with one timeline entry."""
    c = af.client
    eventually(lambda: caught_up(af), timeout=60)
    af.kill_service("analytics")
    af.wait_no_workers(timeout=20, service="analytics")
    tag = "ingest" + uuid.uuid4().hex[:8]
    rows = ["%s-%04d@example.jp,会員 %d" % (tag, i, i) for i in range(5000)]
    r = c.request("POST", "/v1/members/import", data=("email,name\r\n" + "\r\n".join(rows)).encode(),
                  headers={"Content-Type": "text/csv"}, timeout=(3.0, 120.0))
    assert r.status_code == 200 and r.json()["created"] == 5000, r.text
    ids = "(select id::text from member.members where email like '%s-%%')" % tag

    def applied():
        return int(af.sql("select count(*) from analytics.members where member_id in %s" % ids)[0][0])
    # Ten events a batch: a batch applied together is quick enough that 5 000 in batches of
    # 500 can all be in before the first look, and the kill would then test nothing.
    small = {"KAIIN_CONSUMER_BATCH": "10"}
    af.start_service("analytics", env=small)
    eventually(lambda: applied() >= 100, timeout=60)
    af.kill_service("analytics")
    at_kill = applied()
    assert at_kill < 5000, "every event was applied before the kill: nothing was tested"
    af.wait_no_workers(timeout=20, service="analytics")
    af.start_service("analytics", env=small)
    eventually(lambda: caught_up(af), timeout=120)
    [[members, entries, distinct]] = af.sql(
        "select (select count(*) from analytics.members where member_id in %(ids)s), (select"
        " count(*) from analytics.timeline where type = 'member.registered' and member_id in %(ids)s),"
        " (select count(distinct member_id) from analytics.timeline where type = 'member.registered'"
        " and member_id in %(ids)s)" % {"ids": ids})
    harness.record_fault("analytics: kill -9 while it applies 5 000 registrations", "kill -9 ×1",
                         5000, 5000 - int(members), int(entries) - int(distinct))
    assert (int(members), int(entries), int(distinct)) == (5000, 5000, 5000), (at_kill, members, entries)
