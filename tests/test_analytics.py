"""test_analytics.py - kaiin-analytics against the real services: the member-360 timeline
(content, order, pagination, roles), subscription metrics worked out by hand over months of
the test clock, the inactivity and churn-risk signals, CSV, and a rebuild from sequence 0
giving the same answers.

The suite is this module's own: its clock only moves forward."""

import datetime
import time
import uuid

import pytest

import harness
from billing_util import (DAY_MS, billing_suite, create_plan, finish_suite, member_with_card, ms,
                          now_ms, ok, rfc3339, subscribe)

WAIT_S = 20.0


@pytest.fixture(scope="module")
def an():
    s = billing_suite("analytics")
    if "analytics" not in s.service_list:
        s.stop()
        pytest.skip("kaiin-analytics is not built")
    yield s
    finish_suite(s)


@pytest.fixture
def c(an):
    return an.client


def clock(c, to):
    """POST /v1/test/clock: moves every process's clock and returns once all due work is done
    (billing's steps may take minutes on a loaded machine: a long timeout, and a retry)."""
    for attempt in range(3):
        # A move to a time is safe to ask again: on a loaded machine the broker may count a
        # service that is busy catching up as gone (503) before it answers.
        r = c.post("/v1/test/clock", {"to": rfc3339(to)}, timeout=(3.0, 900.0))
        if r.status_code not in (503, 504):
            break
    if attempt and r.status_code == 400 and now_ms(c) >= to:
        return {}                       # the try that was answered 503 had moved it
    assert r.status_code == 200, (to, r.status_code, r.text)
    return r.json()


def eventually(fn, timeout=WAIT_S):
    """Calls fn until it returns a true value (returned), or fails with its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            assert value, value
            return value
        time.sleep(0.05)


def timeline(c, mid, **params):
    return ok(c.get("/v1/members/%s/timeline" % mid, params=params or None))


def all_entries(c, mid, limit=100):
    out, cursor = [], None
    while True:
        params = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        page = timeline(c, mid, **params)
        out += page["data"]
        cursor = page["next_cursor"]
        if not cursor:
            return out


def types(c, mid):
    return [e["type"] for e in all_entries(c, mid)]


def wait_types(c, mid, *wanted):
    """Waits until the member's timeline has every type in wanted; returns the entries."""
    def have():
        entries = all_entries(c, mid) if ok_member(c, mid) else []
        got = [e["type"] for e in entries]
        return entries if all(got.count(t) >= wanted.count(t) for t in wanted) else None
    return eventually(have)


def ok_member(c, mid):
    return c.get("/v1/members/%s/timeline" % mid).status_code == 200


# --------------------------------------------------------------------------- metrics by hand
JST = datetime.timezone(datetime.timedelta(hours=9))


def jst_ms(year, month, day, hour=10):
    return int(datetime.datetime(year, month, day, hour, tzinfo=JST).timestamp() * 1000)


def next_month(year, month, n=1):
    k = year * 12 + month - 1 + n
    return k // 12, k % 12 + 1


def metrics(c, **params):
    return ok(c.get("/v1/metrics/subscriptions", params=params))


def cancel(c, sid, reason="too_expensive"):
    return ok(c.post("/v1/subscriptions/%s/cancel" % sid, {"at_period_end": False, "reason": reason}))


def change_plan(c, sid, plan):
    return ok(c.post("/v1/subscriptions/%s/change-plan" % sid, {"plan": plan["code"]}))


def month_of(body, month):
    return [m for m in body["months"] if m["month"] == month][0]


def wait_metrics(c, month, want, **params):
    """Waits until the month's metrics hold every key of want (analytics reads events
    asynchronously); returns the month."""
    def match():
        got = month_of(metrics(c, **params), month)
        return got if all(got[k] == v for k, v in want.items()) else None
    try:
        return eventually(match)
    except AssertionError:
        got = month_of(metrics(c, **params), month)
        assert {k: got[k] for k in want} == want, got


def test_metrics_worked_out_by_hand_over_three_months(an, c):
    """Runs first in the module: the whole suite's MRR is this test's. Plans: A ¥1,000 a month
    (tax excluded), B ¥3,300 a month tax included at 10% (¥3,000 excluding tax), C ¥24,000 a
    year (¥2,000 a month). The values below are worked out by hand from the story."""
    assert ok(c.get("/v1/subscriptions", params={"limit": 1}))["data"] == [], \
        "this test must run before any other subscription exists"
    a = create_plan(c, amount=1000, tax_mode="exclusive")
    b = create_plan(c, amount=3300, tax_mode="inclusive", tax_rate=10)
    y = create_plan(c, amount=24000, tax_mode="exclusive", interval="year")
    today = datetime.datetime.fromtimestamp(now_ms(c) / 1000, JST)
    y0, m0 = next_month(today.year, today.month)
    y1, m1 = next_month(y0, m0)
    y2, m2 = next_month(y0, m0, 2)
    M0, M1, M2 = ("%04d-%02d" % ym for ym in ((y0, m0), (y1, m1), (y2, m2)))

    # M0: three members start; one of them takes a second subscription (expansion).
    clock(c, to=jst_ms(y0, m0, 5))
    p1, _ = member_with_card(c)
    p2, _ = member_with_card(c)
    p3, _ = member_with_card(c)
    s1 = subscribe(c, p1["id"], a)                  # new business +1,000
    s2 = subscribe(c, p2["id"], b)                  # new business +3,000 (3,300 incl. 10% tax)
    s3 = subscribe(c, p3["id"], a)                  # new business +1,000
    s3y = subscribe(c, p3["id"], y)                 # expansion +2,000 (24,000 / 12)
    wait_metrics(c, M0, {"mrr": 7000, "new_business": 5000, "expansion": 2000, "subscribers": 3},
                 to=M0)

    # M1: an upgrade, a cancel that leaves another subscription (contraction), a churn.
    clock(c, to=jst_ms(y1, m1, 5))
    change_plan(c, s1["id"], b)                     # p1: 1,000 → 3,000, expansion +2,000
    cancel(c, s3y["id"])                            # p3 keeps A: contraction -2,000
    cancel(c, s2["id"])                             # p2 has nothing left: churn -3,000
    wait_metrics(c, M1, {"mrr": 4000}, to=M1)

    # M2: p2 comes back (reactivation); p4 joins and leaves within the month.
    clock(c, to=jst_ms(y2, m2, 5))
    subscribe(c, p2["id"], a)                       # reactivation +1,000
    p4, _ = member_with_card(c)
    s4 = subscribe(c, p4["id"], a)                  # new business +1,000
    clock(c, to=jst_ms(y2, m2, 6))
    cancel(c, s4["id"], reason="unused")            # churn -1,000
    wait_metrics(c, M2, {"mrr": 5000, "churn": -1000}, to=M2)

    body = metrics(c, **{"from": M0, "to": M2})
    assert [m["month"] for m in body["months"]] == [M0, M1, M2]
    # as of the service clock: the move's time, and the wall time the test took since (minutes
    # on a loaded machine), never the wall clock's date
    assert body["plan"] == "" and 0 <= ms(body["as_of"]) - jst_ms(y2, m2, 6) < 15 * 60000, body
    zero = dict(new_business=0, expansion=0, contraction=0, churn=0, reactivation=0)
    want = {
        M0: dict(zero, mrr_start=0, mrr=7000, new_business=5000, expansion=2000, net_change=7000,
                 arr=84000, subscribers_start=0, subscribers=3, arpa=2333, churned_customers=0,
                 customer_churn_rate=0, gross_mrr_churn_rate=0, net_mrr_churn_rate=0),
        M1: dict(zero, mrr_start=7000, mrr=4000, expansion=2000, contraction=-2000, churn=-3000,
                 net_change=-3000, arr=48000, subscribers_start=3, subscribers=2, arpa=2000,
                 churned_customers=1, customer_churn_rate=pytest.approx(1 / 3),
                 gross_mrr_churn_rate=pytest.approx(5000 / 7000),
                 net_mrr_churn_rate=pytest.approx(3000 / 7000)),
        # p4 joined and churned within M2: not a churned customer, but its MRR churned.
        M2: dict(zero, mrr_start=4000, mrr=5000, new_business=1000, churn=-1000, reactivation=1000,
                 net_change=1000, arr=60000, subscribers_start=2, subscribers=3, arpa=1666,
                 churned_customers=0, customer_churn_rate=0,
                 gross_mrr_churn_rate=pytest.approx(1000 / 4000), net_mrr_churn_rate=0),
    }
    for month in body["months"]:
        assert {k: month[k] for k in want[month["month"]]} == want[month["month"]], month
        assert month["mrr"] - month["mrr_start"] == month["net_change"]

    # Plan A alone: p1 leaving A for B is churn on A; p2 taking A is new business on A.
    body = metrics(c, **{"from": M0, "to": M2, "plan": a["code"]})
    assert body["plan"] == a["code"]
    got = {m["month"]: (m["mrr_start"], m["mrr"], m["new_business"], m["churn"], m["subscribers"],
                        m["churned_customers"]) for m in body["months"]}
    assert got == {M0: (0, 2000, 2000, 0, 2, 0), M1: (2000, 1000, 0, -1000, 1, 1),
                   M2: (1000, 2000, 2000, -1000, 2, 0)}, got

    # The month before any data: zeros, not an error.
    y9, m9 = next_month(y0, m0, -3)
    early = metrics(c, **{"from": "%04d-%02d" % (y9, m9), "to": "%04d-%02d" % (y9, m9)})["months"][0]
    assert early["mrr"] == 0 and early["subscribers"] == 0

    # MRR reconciles with billing's own active subscriptions, to the yen.
    per_month = {a["id"]: 1000, b["id"]: 3000, y["id"]: 2000}
    active = ok(c.get("/v1/subscriptions", params={"status": "active", "limit": 100}))["data"]
    assert sum(per_month[x["plan_id"]] for x in active) == month_of(metrics(c), M2)["mrr"] == 5000

    # CSV, by query or by Accept: a header and one line a month, the same numbers.
    r = c.get("/v1/metrics/subscriptions", params={"from": M0, "to": M2, "format": "csv"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv"), r.text
    lines = r.text.strip().split("\r\n")
    assert lines[0].startswith("month,mrr_start,mrr,new_business,expansion,contraction,churn,")
    assert lines[2].split(",")[:7] == [M1, "7000", "4000", "0", "2000", "-2000", "-3000"], lines
    r2 = c.get("/v1/metrics/subscriptions", params={"from": M0, "to": M2},
               headers={"Accept": "text/csv"})
    assert r2.status_code == 200 and r2.text == r.text
    r3 = c.get("/v1/metrics/subscriptions", params={"from": M0, "to": M2})
    assert r3.headers["Content-Type"].startswith("application/json"), r3.headers

    # Beyond MRR, from the same story, by hand.
    body = metrics(c, **{"from": M0, "to": M2})
    # Revenue retention of the members paying at the month's start. M1: p1 1,000 → 3,000,
    # p2 3,000 → 0, p3 3,000 → 1,000: net (3,000 + 0 + 1,000) / 7,000, gross with each capped
    # at its start (1,000 + 0 + 1,000) / 7,000. M2: p1 3,000 → 3,000 and p3 1,000 → 1,000
    # (p2 and p4 did not pay at its start): 1 and 1. M0: nobody paid at its start: 0.
    got = {m["month"]: (m["net_revenue_retention"], m["gross_revenue_retention"]) for m in body["months"]}
    assert got == {M0: (0, 0), M1: (pytest.approx(4000 / 7000), pytest.approx(2000 / 7000)),
                   M2: (1, 1)}, got
    # LTV = ARPA ÷ the mean customer churn rate of the 6 months before that began with
    # subscribers: for M2 only M1 did (1/3): 1,666 × 3 = 4,998; M0 and M1 have none: 0.
    assert [m["ltv"] for m in body["months"]] == [0, 0, 4998], body
    # Members: p1..p3 registered in M0, p4 in M2; none has logged in; no trial yet.
    got = {m["month"]: (m["members"], m["active_members"], m["inactive_members"], m["trials_started"])
           for m in body["months"]}
    assert got == {M0: (3, 0, 3, 0), M1: (3, 0, 3, 0), M2: (4, 0, 4, 0)}, got

    # Churn by plan, on each plan's own MRR. M1: on A p1 left (for B) and p3 stayed (1 of 2,
    # ¥1,000 of ¥2,000); on B p2 left (1 of 1, ¥3,000); on Y p3 left (1 of 1, ¥2,000). M2: on
    # A p3 stayed and p4 came and went (−¥1,000 churn, not a churned customer); on B p1 stayed.
    churn = ok(c.get("/v1/metrics/churn", params={"from": M0, "to": M2}))
    plans = {m["month"]: {p["plan"]: (p["subscribers_start"], p["churned_customers"],
                                      p["customer_churn_rate"], p["mrr_start"], p["churn"])
                          for p in m["plans"]} for m in churn["months"]}
    A, B, Y = a["code"], b["code"], y["code"]
    assert plans == {M0: {},
                     M1: {A: (2, 1, 0.5, 2000, -1000), B: (1, 1, 1, 3000, -3000),
                          Y: (1, 1, 1, 2000, -2000)},
                     M2: {A: (1, 0, 0, 1000, -1000), B: (1, 0, 0, 3000, 0)}}, plans
    # The reasons given: two "too_expensive" in M1, one "unused" in M2.
    reasons = {m["month"]: (m["cancellations"], [(r["reason"], r["count"]) for r in m["cancel_reasons"]])
               for m in churn["months"]}
    assert reasons == {M0: (0, []), M1: (2, [("too_expensive", 2)]), M2: (1, [("unused", 1)])}, reasons

    # The monthly report of M1 (the default now, in M2: the last whole month) beside M0: the
    # numbers above, every plan with subscribers at either end, and the loyalty segments. End
    # of M0: p1 and p2 paid once, on the 5th (R 5, F 1: 新規), p3 twice (A and Y: F 2, 一般).
    # The clock then reached M1's 5th at 10:00, seconds before the periods begun on M0's 5th
    # ended (the clock runs on after a move): p2 cancelled before its renewal, so at the end of
    # M1 it has paid once, 50-odd days before (R 4, F 1: 新規); p1 (its renewal) and p3 (its
    # renewal of A) paid again in M1 (R 5, F 2 or 3, under ¥20,000 or ¥50,000: 一般).
    report = ok(c.get("/v1/reports/monthly"))
    month, previous = report["month"], report["previous"]
    assert (month["month"], previous["month"]) == (M1, M0), report
    assert {k: month["metrics"][k] for k in want[M1]} == want[M1], month["metrics"]
    assert {k: previous["metrics"][k] for k in want[M0]} == want[M0], previous["metrics"]
    ends = {m["month"]: {p["plan"]: (p["subscribers_start"], p["subscribers"], p["mrr_start"], p["mrr"],
                                     p["churned_customers"], p["churn"]) for p in m["plans"]}
            for m in (month, previous)}
    assert ends == {M1: {A: (2, 1, 2000, 1000, 1, -1000), B: (1, 1, 3000, 3000, 1, -3000),
                         Y: (1, 0, 2000, 0, 1, -2000)},
                    M0: {A: (0, 2, 0, 2000, 0, 0), B: (0, 1, 0, 3000, 0, 0), Y: (0, 1, 0, 2000, 0, 0)}}, ends
    segments = {m["month"]: [(g["segment"], g["name"], g["members"]) for g in m["segments"]]
                for m in (month, previous)}
    assert segments == {
        M1: [("champions", "優良", 0), ("loyal", "常連", 0), ("regular", "一般", 2), ("new", "新規", 1),
             ("at_risk", "離反予備軍", 0), ("dormant", "休眠", 0)],
        M0: [("champions", "優良", 0), ("loyal", "常連", 0), ("regular", "一般", 1), ("new", "新規", 2),
             ("at_risk", "離反予備軍", 0), ("dormant", "休眠", 0)]}, segments
    assert (month["cancellations"], month["cancel_reasons"], previous["cancellations"]) == \
        (2, [{"reason": "too_expensive", "count": 2}], 0), report
    again = ok(c.get("/v1/reports/monthly", params={"month": M1}))
    assert (again["month"], again["previous"]) == (month, previous)

    # As CSV: a UTF-8 BOM for Excel, a line per number with this month's and the month
    # before's, names in the caller's language.
    r = c.get("/v1/reports/monthly", params={"month": M1, "format": "csv"},
              headers={"Accept-Language": "ja"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv"), r.text
    assert r.content.startswith(b"\xef\xbb\xbf"), r.content[:10]
    lines = r.content.decode("utf-8-sig").split("\r\n")
    assert lines[0] == "区分,セグメント,セグメント名,項目,項目名,%s,%s" % (M1, M0), lines[0]
    for line in ("metrics,,,mrr,MRR,4000,7000", "metrics,,,churn,解約MRR,-3000,0",
                 "metrics,,,customer_churn_rate,会員解約率,0.333333,0.000000",
                 "plan,%s,%s,subscribers,有料会員数,0,1" % (Y, Y),
                 "loyalty,new,新規,members,会員数,1,2",
                 "cancel_reason,all,すべて,cancellations,解約件数,2,0",
                 "cancel_reason,too_expensive,料金が高い,cancellations,解約件数,2,0"):
        assert line in lines, (line, lines)
    assert lines[-1] == "" and len(lines) == 1 + 25 + 3 * 7 + 6 + 8 + 1, lines
    r = c.get("/v1/reports/monthly", params={"month": M1}, headers={"Accept": "text/csv"})
    assert r.text.split("\r\n")[0] == "\ufeffsection,segment,segment_name,measure,measure_name,%s,%s" % (M1, M0)
    assert "cancel_reason,too_expensive,Too expensive,cancellations,Cancellations,2,0" in r.text

    # Cohorts by the month members first paid. M0: p1 (¥1,000), p2 (¥3,000), p3 (¥1,000):
    # 3 members, ¥5,000 new business (p3's yearly plan is expansion). Their MRR at the end of
    # M0: 1,000 + 3,000 + 3,000 = 7,000 (3 paying); of M1: 3,000 + 0 + 1,000 = 4,000 (2); now
    # in M2: 3,000 + 1,000 + 1,000 = 5,000 (3). M1: nobody. M2: p4 (¥1,000), gone by now.
    cohorts = ok(c.get("/v1/metrics/cohorts", params={"from": M0, "to": M2}))["cohorts"]
    got = [(k["month"], k["customers"], k["new_business"],
            [(x["months_after"], x["customers"], x["mrr"], x["customer_retention"], x["revenue_retention"])
             for x in k["cells"]]) for k in cohorts]
    assert got == [(M0, 3, 5000, [(0, 3, 7000, 1, 1.4), (1, 2, 4000, pytest.approx(2 / 3), 0.8),
                                  (2, 3, 5000, 1, 1)]),
                   (M1, 0, 0, []),
                   (M2, 1, 1000, [(0, 0, 0, 0, 0)])], got

    # A trial: p5 starts one on T (¥500, 7 days) and pays after it; p6 starts one and cancels
    # it ("missing_features"). In M2: 2 trials begun, 1 converted.
    t = create_plan(c, amount=500, tax_mode="exclusive", trial_days=7)
    p5, _ = member_with_card(c)
    p6, _ = member_with_card(c)
    subscribe(c, p5["id"], t)
    s6 = subscribe(c, p6["id"], t)
    cancel(c, s6["id"], reason="missing_features")
    clock(c, to=jst_ms(y2, m2, 14))
    got = wait_metrics(c, M2, {"trials_started": 2, "trials_converted": 1}, **{"from": M2, "to": M2})
    assert got["trial_conversion_rate"] == 0.5 and got["members"] == 6, got
    m2 = eventually(lambda: [m for m in ok(c.get("/v1/metrics/churn", params={"from": M2, "to": M2}))["months"]
                             if m["cancellations"] == 2])[0]
    assert [(r["reason"], r["count"]) for r in m2["cancel_reasons"]] == [("missing_features", 1),
                                                                         ("unused", 1)], m2


@pytest.mark.parametrize("params,field", [
    ({"from": "2026-13"}, "from"),
    ({"to": "26-01"}, "to"),
    ({"from": "2026-05", "to": "2026-04"}, "from"),
    ({"from": "2000-01", "to": "2026-01"}, "from"),
    ({"to": "2999-01"}, "to"),
    ({"format": "xml"}, "format"),
    ({"plan": "Bad Plan"}, "plan"),
])
@pytest.mark.parametrize("path", ["/v1/metrics/subscriptions", "/v1/metrics/churn", "/v1/metrics/cohorts"])
def test_metrics_bad_input_is_400_naming_the_field(an, c, params, field, path):
    if path != "/v1/metrics/subscriptions" and field in ("format", "plan"):
        params = dict(params, bogus="1")            # a query key the route does not take
        field = "bogus"
    r = c.get(path, params=params)
    assert r.status_code == 400, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert field in [e["field"] for e in r.json()["errors"]], r.json()


@pytest.mark.parametrize("params,field,reason", [
    ({"month": "2026-13"}, "month", "must be a month, YYYY-MM"),
    ({"month": "2999-01"}, "month", "must not be after the current month, "),
    ({"format": "xml"}, "format", "must be one of json or csv"),
])
def test_report_bad_input_is_400_naming_the_field(an, c, params, field, reason):
    r = c.get("/v1/reports/monthly", params=params)
    assert r.status_code == 400 and r.headers["Content-Type"].startswith("application/problem+json"), r.text
    errors = {e["field"]: e["reason"] for e in r.json()["errors"]}
    assert list(errors) == [field] and errors[field].startswith(reason), errors


# --------------------------------------------------------------------------- the timeline
def test_timeline_tells_a_members_story_newest_first(an, c):
    m, pm = member_with_card(c)
    mid = m["id"]
    r = c.post("/v1/members/%s/password" % mid, {"password": "pw-" + uuid.uuid4().hex})
    assert r.status_code == 204, r.text
    assert c.post("/v1/members/%s/tags" % mid, {"add": ["vip"]},
                  headers={"If-Match": '"%d"' % 1}).status_code in (200, 412)
    plan = create_plan(c, amount=3000, tax_mode="exclusive")
    sub = subscribe(c, mid, plan)
    entries = wait_types(c, mid, "member.registered", "subscription.created", "invoice.paid",
                         "payment.succeeded")
    assert set(entries[0]) == {"occurred_at", "type", "source", "summary", "object_id"}, entries[0]
    at = [ms(e["occurred_at"]) for e in entries]
    assert at == sorted(at, reverse=True), entries
    assert entries[-1]["type"] == "member.registered" and entries[-1]["object_id"] == mid
    assert entries[-1]["summary"].startswith("会員登録")
    sub_entries = [e for e in entries if e["object_id"] == sub["id"]]
    assert sub_entries and all(e["source"] == "billing" for e in sub_entries), entries
    pay = [e for e in entries if e["type"] == "payment.succeeded"]
    assert pay[0]["summary"] == "支払い完了: ¥3,300（card）", pay


def test_timeline_keeps_a_summary_with_the_characters_an_array_quotes(an, c):
    """A batch's timeline rows reach PostgreSQL as array literals (services/analytics/ingest.c):
    a tag holding what such a literal quotes or splits on comes back as it was."""
    mid = c.create_member()["id"]
    tag = 'a"b\\c,{d} e'
    r = c.post("/v1/members/%s/tags" % mid, {"add": [tag]})
    assert r.status_code == 200, r.text
    entries = wait_types(c, mid, "member.registered", "member.tagged")
    tagged = [e for e in entries if e["type"] == "member.tagged"]
    assert [e["summary"] for e in tagged] == ['タグ追加: a"b\\c,{d} e'], tagged


def test_timeline_pages_with_a_cursor_and_bad_input_is_400(an, c):
    m = c.create_member()
    mid = m["id"]
    r = c.post("/v1/members/%s/activities" % mid, {"events": [{"type": "page.view"}] * 5})
    assert r.status_code == 201, r.text
    full = wait_types(c, mid, "member.registered", *["member.activity"] * 5)
    assert len(full) == 6 and full[-1]["type"] == "member.registered"
    assert all(e["summary"] == "アクティビティ: page.view" for e in full[:5]), full
    pages, cursor = [], None
    while True:
        params = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = timeline(c, mid, **params)
        pages.append(page["data"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [len(p) for p in pages] == [2, 2, 2]
    assert [e for p in pages for e in p] == full
    r = c.get("/v1/members/%s/timeline" % mid, params={"cursor": "nonsense"})
    assert r.status_code == 400 and [e["field"] for e in r.json()["errors"]] == ["cursor"], r.text
    r = c.get("/v1/members/%s/timeline" % mid, params={"limit": 0})
    assert r.status_code == 400 and [e["field"] for e in r.json()["errors"]] == ["limit"], r.text
    r = c.get("/v1/members/%s/timeline" % uuid.uuid4())
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("application/problem+json")


def test_timeline_roles_and_no_personal_data(an, c):
    m = c.create_member(name="山田 太郎", phone="090-1234-5678")
    mid = m["id"]
    entries = wait_types(c, mid, "member.registered")
    text = repr(entries)
    assert m["email"] not in text and "山田" not in text and "5678" not in text, entries
    for role, timeline_code, metrics_code in (("viewer", 200, 200), ("support", 200, 200),
                                              ("finance", 200, 200), ("marketing", 403, 200)):
        staff, password = an.create_staff(role)
        who = an.client_as(an.login(staff["email"], password))
        r = who.get("/v1/members/%s/timeline" % mid)
        assert r.status_code == timeline_code, (role, r.status_code, r.text)
        if timeline_code == 200:
            assert r.json()["data"] == timeline(c, mid)["data"], role   # a viewer sees no more
        for path in ("/v1/metrics/subscriptions", "/v1/metrics/churn", "/v1/metrics/cohorts"):
            r = who.get(path)
            assert r.status_code == metrics_code, (role, path, r.status_code, r.text)
    r = c.get("/v1/members/%s/timeline" % mid, auth=False)
    assert r.status_code == 401


# --------------------------------------------------------------------------- signals
def signals(c, mid, kind="inactive"):
    return ok(c.get("/v1/analytics/signals", params={"member_id": mid, "kind": kind}))["data"]


def outbox_count(an, type_, mid):
    return int(an.sql("select count(*) from analytics.outbox where type = '%s' and aggregate_id = '%s'"
                      % (type_, mid))[0][0])


def test_inactive_fires_on_day_10_not_before_once_and_again_after_a_login(an, c):
    m = c.create_member()
    mid, t0 = m["id"], ms(m["created_at"])
    password = "pw-" + uuid.uuid4().hex
    assert c.post("/v1/members/%s/password" % mid, {"password": password}).status_code == 204
    wait_types(c, mid, "member.registered")
    clock(c, t0 + 9 * DAY_MS)                       # day 9: nothing
    assert signals(c, mid) == [] and outbox_count(an, "signal.inactive", mid) == 0
    clock(c, t0 + 10 * DAY_MS)                      # day 10: one signal
    got = signals(c, mid)
    assert len(got) == 1, got
    assert got[0]["kind"] == "inactive" and got[0]["days"] == 10 and got[0]["member_id"] == mid
    assert got[0]["last_login_at"] is None          # never logged in: counted from registration
    assert outbox_count(an, "signal.inactive", mid) == 1

    r = c.post("/v1/member-auth/login", {"email": m["email"], "password": password}, auth=False)
    assert r.status_code == 200, r.text
    entries = wait_types(c, mid, "member.logged_in")
    t1 = ms([e for e in entries if e["type"] == "member.logged_in"][0]["occurred_at"])
    clock(c, t1 + 9 * DAY_MS)                       # the same spell never fires twice
    assert len(signals(c, mid)) == 1 and outbox_count(an, "signal.inactive", mid) == 1
    # The month's active members: those who logged in within the 10 days before now; this
    # member is the module's only one who ever logged in.
    assert metrics(c)["months"][-1]["active_members"] == 1
    clock(c, t1 + 10 * DAY_MS)                      # the login re-armed it
    assert metrics(c)["months"][-1]["active_members"] == 0
    got = signals(c, mid)
    assert len(got) == 2 and ms(got[0]["last_login_at"]) == t1, got
    assert outbox_count(an, "signal.inactive", mid) == 2
    # The contract messaging reads: a packed kaiin.analytics.Signal — member_id (1), kind (2),
    # days (3), last_login_at_ms (4), by their protobuf wire bytes.
    payload = bytes.fromhex(an.sql("select encode(payload, 'hex') from analytics.outbox "
                                   "where aggregate_id = '%s' order by id desc limit 1" % mid)[0][0])
    head = b"\x0a\x24" + mid.encode() + b"\x12\x08inactive\x18\x0a\x20"
    assert payload.startswith(head), payload
    value, shift, i = 0, 0, len(head)
    while True:
        value |= (payload[i] & 0x7f) << shift
        shift, i = shift + 7, i + 1
        if payload[i - 1] < 0x80:
            break
    assert value == t1


def test_churn_risk_score_reasons_and_signal(an, c):
    from billing_util import item, purchase
    m, _ = member_with_card(c, token="tok_chargeDeclined")
    mid = m["id"]
    for _ in range(2):
        assert purchase(c, mid, [item(1000)])["status"] == "failed"
    for n in range(3):
        r = c.post("/v1/members/%s/inquiries" % mid, {"subject": "件名 %d" % n, "body": "本文",
                                                      "channel": "email", "category": "billing"})
        assert r.status_code == 201, r.text
    wait_types(c, mid, "payment.failed", "payment.failed", "inquiry.opened", "inquiry.opened",
               "inquiry.opened")
    risk = ok(c.get("/v1/members/%s/churn-risk" % mid))
    assert risk["score"] == 70 and risk["threshold"] == 60, risk
    assert [(x["code"], x["points"], x["text"]) for x in risk["reasons"]] == [
        ("open_inquiries", 30, "未解決の問い合わせ3件"),
        ("failed_payments", 40, "30日以内の支払い失敗2回")], risk
    # The tick evaluates the scores once a minute of the clock: the signal follows.
    got = eventually(lambda: signals(c, mid, "churn_risk"), timeout=150)
    assert len(got) == 1 and got[0]["score"] == 70, got
    assert outbox_count(an, "signal.churn_risk", mid) == 1
    assert c.get("/v1/members/%s/churn-risk" % uuid.uuid4()).status_code == 404


def test_days_without_login_weigh_against_the_members_own_habit(an, c):
    """A member who logs in every 30 days: 20 days away is their habit, no risk (fixed steps
    would give 30 points at 14 days); 65 days is more than twice it: 30 points, and the reason
    says what is usual for them."""
    m = c.create_member()
    mid = m["id"]
    password = "pw-" + uuid.uuid4().hex
    assert c.post("/v1/members/%s/password" % mid, {"password": password}).status_code == 204
    at = now_ms(c)
    for k in range(3):                              # logins 30 days apart: the habit is 30 days
        if k:
            clock(c, at + k * 30 * DAY_MS)
        r = c.post("/v1/member-auth/login", {"email": m["email"], "password": password}, auth=False)
        assert r.status_code == 200, r.text
    logins = [ms(e["occurred_at"]) for e in wait_types(c, mid, *["member.logged_in"] * 3)
              if e["type"] == "member.logged_in"]
    clock(c, logins[0] + 20 * DAY_MS)
    risk = ok(c.get("/v1/members/%s/churn-risk" % mid))
    assert (risk["score"], risk["reasons"]) == (0, []), risk
    clock(c, logins[0] + 65 * DAY_MS)
    risk = ok(c.get("/v1/members/%s/churn-risk" % mid))
    assert [(x["code"], x["points"], x["text"]) for x in risk["reasons"]] == [
        ("inactive", 30, "65日間ログインなし（普段は約30日ごと）")] and risk["score"] == 30, risk


# --------------------------------------------------------------------------- rebuild
def loyalty(c, mid):
    return ok(c.get("/v1/members/%s/loyalty" % mid))


def test_purchase_milestones_and_loyalty(an, c):
    """A member buys once for ¥50,000 (tax included) and nine times for ¥1,000: the spend
    milestone ¥50,000 is raised at the first, the 10th purchase at the last, each once; RFM:
    paid today (R 5), 10 invoices in the year (F 4: 6 or more), ¥59,000 (M 4: ¥50,000 or
    more) → 優良. 200 days later: R 1 (over 180 days), F and M the same → 離反予備軍."""
    from billing_util import item, purchase
    m, _ = member_with_card(c)
    mid = m["id"]
    never = c.create_member()
    purchase(c, mid, [item(50000)])
    for _ in range(9):
        purchase(c, mid, [item(1000)])

    def milestones():
        got = [s for s in ok(c.get("/v1/analytics/signals", params={"member_id": mid}))["data"]
               if s["kind"] in ("purchase_milestone", "spend_milestone")]
        return got if len(got) == 2 else None
    got = sorted((s["kind"], s["milestone"], s["purchases"], s["spend"]) for s in eventually(milestones))
    assert got == [("purchase_milestone", 10, 10, 59000), ("spend_milestone", 50000, 1, 50000)], got
    assert outbox_count(an, "signal.purchase_milestone", mid) == 2

    body = loyalty(c, mid)
    assert (body["recency_days"], body["frequency"], body["monetary"], body["r"], body["f"], body["m"],
            body["segment"], body["segment_name"]) == (0, 10, 59000, 5, 4, 4, "champions", "優良"), body
    body = loyalty(c, never["id"])
    assert (body["r"], body["f"], body["m"], body["segment"], body["segment_name"],
            body["last_paid_at"]) == (0, 0, 0, "none", "未購入", None), body
    assert c.get("/v1/members/%s/loyalty" % uuid.uuid4()).status_code == 404

    # The tick publishes the segment (score.changed) and messaging's segments filter on it.
    tag = "rfm-" + uuid.uuid4().hex[:8]
    ok(c.post("/v1/members/%s/tags" % mid, {"add": [tag]}))

    def members_in(segment):
        body = {"filter": {"and": [{"field": "tags", "op": "has", "value": tag},
                                   {"field": "loyalty_segment", "op": "eq", "value": segment}]}}
        return ok(c.post("/v1/messaging/segments/count", body))["count"]
    clock(c, now_ms(c) + 60000)                     # the scores are evaluated once a minute
    assert eventually(lambda: members_in("champions") == 1)
    assert members_in("at_risk") == 0

    clock(c, now_ms(c) + 200 * DAY_MS)
    body = loyalty(c, mid)
    assert (body["recency_days"], body["r"], body["f"], body["m"], body["segment"],
            body["segment_name"]) == (200, 1, 4, 4, "at_risk", "離反予備軍"), body
    assert outbox_count(an, "signal.purchase_milestone", mid) == 2      # raised once each
    assert eventually(lambda: members_in("at_risk") == 1) and members_in("champions") == 0
    # what analytics published: from champions to at_risk, the churn-risk score beside it
    payloads = [bytes.fromhex(r[0]) for r in an.sql(
        "select encode(payload, 'hex') from analytics.outbox where type = 'score.changed'"
        " and aggregate_id = '%s' order by id" % mid)]
    assert [(b"champions" in p, b"at_risk" in p) for p in payloads][-2:] == [(True, False), (True, True)], payloads


def answers(an, c):
    """Everything analytics answers from its projections: every member's timeline and churn
    risk, the last 12 months' metrics (JSON and CSV), and the last whole month's report."""
    def timeless(body):
        body.pop("as_of", None)             # the clock goes on between the two readings
        return body
    ids = sorted(r[0] for r in an.sql("select member_id from analytics.members"))
    return {"metrics": timeless(metrics(c)), "csv": c.get("/v1/metrics/subscriptions?format=csv").text,
            "churn": timeless(ok(c.get("/v1/metrics/churn"))),
            "cohorts": timeless(ok(c.get("/v1/metrics/cohorts"))),
            "report": timeless(ok(c.get("/v1/reports/monthly"))),
            "timelines": {i: all_entries(c, i) for i in ids},
            "risk": {i: timeless(ok(c.get("/v1/members/%s/churn-risk" % i))) for i in ids},
            "loyalty": {i: timeless(loyalty(c, i)) for i in ids},
            "recommendations": {i: timeless(ok(c.get("/v1/members/%s/recommendations" % i,
                                                     params={"limit": 20}))) for i in ids},
            "signals": ok(c.get("/v1/analytics/signals", params={"limit": 100}))}


def caught_up(an):
    rows = an.sql("select (select coalesce(max(seq), 0) from member.outbox), "
                  "(select coalesce(max(seq), 0) from billing.outbox), "
                  "(select coalesce(max(seq), 0) from analytics.consumer_positions where source = 'member'), "
                  "(select coalesce(max(seq), 0) from analytics.consumer_positions where source = 'billing')")
    member, billing, at_member, at_billing = (int(x or 0) for x in rows[0])
    return member == at_member and billing == at_billing


def test_a_late_payment_is_counted_in_the_segments_of_its_month(an, c):
    """The monthly report's loyalty segments of a month that has ended are kept once counted
    (services/analytics/README.md, "Metrics"); cash taken in that month and entered after it
    (mark-paid with its paid_at) changes them: its month is counted again. The member paid
    once, within the month: frequency 1, at most a month before its end, so 新規 (new)."""
    m = c.create_member()
    draft = ok(c.post("/v1/invoices", {"member_id": m["id"], "tax_mode": "inclusive", "lines": [
        {"description": "入会金", "unit_amount": 5500, "tax_rate": 10}]}), 201)
    invoice = ok(c.post("/v1/invoices/%s/finalize" % draft["id"], {}))
    issued = datetime.datetime.fromtimestamp(ms(invoice["issued_at"]) / 1000, JST)
    month = "%04d-%02d" % (issued.year, issued.month)
    # 16:00, far from the 10:00 of the logins before: the days without a login that the next
    # test reads twice do not change between its readings
    clock(c, to=jst_ms(*next_month(issued.year, issued.month), 2, 16))
    eventually(lambda: caught_up(an), timeout=60)

    def segments():
        report = ok(c.get("/v1/reports/monthly", params={"month": month}))["month"]
        return {g["segment"]: g["members"] for g in report["segments"]}
    before = segments()
    end = jst_ms(*next_month(issued.year, issued.month), 1, 0) - 1
    assert an.sql("select count (*) from analytics.month_segments where end_ms = %d" % end) == [["1"]]
    assert segments() == before
    ok(c.post("/v1/invoices/%s/mark-paid" % invoice["id"],
              {"note": "月末に受付で現金受領", "method": "cash", "paid_at": rfc3339(ms(invoice["issued_at"]) + 1000)}))
    want = dict(before, new=before["new"] + 1)
    eventually(lambda: segments() == want)


def test_rebuild_from_sequence_zero_gives_identical_answers(an, c):
    """Runs last: kill -9, wipe every projection and the positions, start again; analytics
    reads both sources from sequence 0 and answers exactly as before, raising no signal twice
    (the clock runs on meanwhile: a member may reach day 10 of inactivity, a new signal)."""
    from billing_util import item, purchase
    x, y = item(1000), item(2000)                   # bought together: a recommendation
    buyers = [member_with_card(c)[0]["id"] for _ in range(2)]
    purchase(c, buyers[0], [x, y])
    purchase(c, buyers[1], [x])
    eventually(lambda: caught_up(an), timeout=60)
    before = answers(an, c)
    assert before["recommendations"][buyers[1]]["items"][0]["sku"] == y["sku"], before["recommendations"]
    assert before["timelines"] and before["metrics"]["months"][-1]["mrr"] > 0
    signals = "select count(*) from analytics.outbox where type <> 'score.changed'"
    emitted = int(an.sql(signals)[0][0])
    an.kill_service("analytics")
    an.sql("truncate analytics.members, analytics.timeline, analytics.inquiries, "
           "analytics.payment_failures, analytics.plans, analytics.coupons, analytics.subscriptions, "
           "analytics.mrr_state, analytics.movements, analytics.paid_invoices, analytics.refunds, "
           "analytics.purchases, analytics.purchased_items; "
           "delete from analytics.consumer_positions")
    # The broker counts the killed workers until their heartbeats lapse: the new process is
    # started once it dropped them (else its workers could replace theirs uncounted).
    an.wait_no_workers(timeout=20, service="analytics")
    an.start_service("analytics")
    eventually(lambda: caught_up(an), timeout=120)
    after = answers(an, c)
    for key in ("metrics", "csv", "churn", "cohorts", "report", "timelines", "risk", "loyalty", "recommendations"):
        assert after[key] == before[key], key
    old, new = before["signals"]["data"], after["signals"]["data"]
    added = new[:len(new) - len(old)]
    assert new[len(added):] == old and all(x["kind"] == "inactive" for x in added), (added, old)
    assert len({(x["member_id"], x["kind"], x["last_login_at"], x["score"]) for x in new}) == len(new)
    assert int(an.sql(signals)[0][0]) == emitted + len(added)
    # score.changed: members scored for the first time since may be published (the two buyers),
    # but none is published afresh (previous_churn_risk, field 5, -1) a second time
    again = an.sql("select aggregate_id from analytics.outbox where type = 'score.changed'"
                   " and position ('\\x28ffffffffffffffffff01'::bytea in payload) > 0"
                   " group by aggregate_id having count (*) > 1")
    assert again == [], again


def test_staff_set_the_days_of_inactivity_and_the_signal_follows(an, c):
    """GET and PATCH /v1/analytics/settings (services/analytics/README.md, "Settings staff
    change"): the defaults, the field rules, If-Match, who may change them, and the effect: with
    3 days set, a member who never logged in gets signal.inactive on day 3, with days 3."""
    r = c.get("/v1/analytics/settings")
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["inactive_days"], got["churn_risk_threshold"]) == (10, 60), got
    etag = r.headers["ETag"]
    assert etag == '"%d"' % got["version"]

    r = c.patch("/v1/analytics/settings", {"inactive_days": 0, "churn_risk_threshold": 101})
    assert r.status_code == 400, r.text
    assert {(e["field"], e["reason"]) for e in r.json()["errors"]} == {
        ("inactive_days", "must be an integer from 1 to 365"),
        ("churn_risk_threshold", "must be an integer from 1 to 100")}
    r = c.patch("/v1/analytics/settings", {"inactive_days": 3},
                headers={"If-Match": '"%d"' % (got["version"] + 7)})
    assert r.status_code == 412, r.text
    staff, password = an.create_staff("marketing")
    r = an.client_as(an.login(staff["email"], password)).patch("/v1/analytics/settings", {"inactive_days": 3})
    assert r.status_code == 403, r.text

    m = c.create_member()
    mid, t0 = m["id"], ms(m["created_at"])
    wait_types(c, mid, "member.registered")
    r = c.patch("/v1/analytics/settings", {"inactive_days": 3}, headers={"If-Match": etag})
    try:
        assert r.status_code == 200, r.text
        assert r.json() == {"inactive_days": 3, "churn_risk_threshold": 60, "purchase_milestones": [10, 50, 100],
                            "spend_milestones": [50000, 100000, 300000], "version": got["version"] + 1}
        clock(c, t0 + 2 * DAY_MS)                   # day 2: nothing
        assert signals(c, mid) == []
        clock(c, t0 + 3 * DAY_MS)                   # day 3: the signal, saying 3 days
        fired = signals(c, mid)
        assert len(fired) == 1 and fired[0]["days"] == 3, fired
    finally:
        assert c.patch("/v1/analytics/settings", {"inactive_days": 10}).status_code == 200


DEFAULT_MILESTONES = {"purchase_milestones": [10, 50, 100], "spend_milestones": [50000, 100000, 300000]}
BAD_MILESTONES = [
    ({"purchase_milestones": [10, 50, 50]}, "purchase_milestones[2]", "must be greater than the one before it"),
    ({"spend_milestones": [3000, 2000]}, "spend_milestones[1]", "must be greater than the one before it"),
    ({"purchase_milestones": list(range(1, 10))}, "purchase_milestones", "must have at most 8 milestones"),
    ({"spend_milestones": list(range(1000, 10000, 1000))}, "spend_milestones", "must have at most 8 milestones"),
    ({"purchase_milestones": [0, 5]}, "purchase_milestones[0]", "must be an integer from 1 to 1000000"),
    ({"purchase_milestones": [5, 1000001]}, "purchase_milestones[1]", "must be an integer from 1 to 1000000"),
    ({"spend_milestones": [-500]}, "spend_milestones[0]", "must be an integer from 1 to 1000000000000"),
    ({"spend_milestones": [10 ** 12 + 1]}, "spend_milestones[0]", "must be an integer from 1 to 1000000000000"),
    # not a whole number: named with the field's range, not the range of its int64
    ({"purchase_milestones": [3, 4.5]}, "purchase_milestones[1]", "must be an integer from 1 to 1000000"),
    ({"spend_milestones": ["5000"]}, "spend_milestones[0]", "must be an integer from 1 to 1000000000000"),
    ({"purchase_milestones": 10}, "purchase_milestones", "must be an array"),
    ({"spend_milestones": "50000,100000"}, "spend_milestones", "must be an array"),
]


@pytest.mark.parametrize("body,field,reason", BAD_MILESTONES,
                         ids=["%d-%s" % (i, b[1]) for i, b in enumerate(BAD_MILESTONES)])
def test_milestones_that_break_a_rule_are_refused_naming_the_field(c, body, field, reason):
    r = c.patch("/v1/analytics/settings", body)
    assert r.status_code == 400, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers
    assert [(e["field"], e["reason"]) for e in r.json()["errors"]] == [(field, reason)], r.text
    assert {k: ok(c.get("/v1/analytics/settings"))[k] for k in DEFAULT_MILESTONES} == DEFAULT_MILESTONES


def test_staff_set_the_purchase_milestones_and_the_signal_follows(an, c):
    """GET and PATCH /v1/analytics/settings's milestones (README.md, "Settings staff change"):
    the defaults, the reasons in Japanese, If-Match, who may change them, and the effect: with
    [3] purchases and [2500] yen set, a member's ¥1,000 purchases raise nothing at the 2nd and
    both milestones at the 3rd (3 purchases; ¥3,000 passed ¥2,500), each once."""
    from billing_util import item, purchase
    got = ok(c.get("/v1/analytics/settings"))
    assert {k: got[k] for k in DEFAULT_MILESTONES} == DEFAULT_MILESTONES, got

    r = c.patch("/v1/analytics/settings", {"purchase_milestones": [5, 3], "spend_milestones": list(range(1, 10))},
                headers={"Accept-Language": "ja"})
    assert r.status_code == 400, r.text
    assert [(e["field"], e["reason"]) for e in r.json()["errors"]] == [
        ("purchase_milestones[1]", "前の値より大きい数を指定してください"),
        ("spend_milestones", "節目は 8 個までにしてください")], r.text
    r = c.patch("/v1/analytics/settings", {"purchase_milestones": [0]}, headers={"Accept-Language": "ja"})
    assert [(e["field"], e["reason"]) for e in r.json()["errors"]] == [
        ("purchase_milestones[0]", "1 から 1000000 までの整数を指定してください")], r.text
    r = c.patch("/v1/analytics/settings", {"purchase_milestones": [3]},
                headers={"If-Match": '"%d"' % (got["version"] + 7)})
    assert r.status_code == 412, r.text
    for role in ("marketing", "support", "viewer"):
        staff, password = an.create_staff(role)
        r = an.client_as(an.login(staff["email"], password)).patch("/v1/analytics/settings",
                                                                   {"purchase_milestones": [3]})
        assert r.status_code == 403, (role, r.text)
    assert ok(c.get("/v1/analytics/settings"))["version"] == got["version"]

    m, _ = member_with_card(c)
    mid = m["id"]
    r = c.patch("/v1/analytics/settings", {"purchase_milestones": [3], "spend_milestones": [2500]},
                headers={"If-Match": '"%d"' % got["version"]})
    try:
        assert r.status_code == 200, r.text
        assert r.json() == {"inactive_days": got["inactive_days"],
                            "churn_risk_threshold": got["churn_risk_threshold"],
                            "purchase_milestones": [3], "spend_milestones": [2500],
                            "version": got["version"] + 1}, r.text
        assert r.headers["ETag"] == '"%d"' % (got["version"] + 1)
        purchase(c, mid, [item(1000)])
        purchase(c, mid, [item(1000)])
        wait_types(c, mid, "invoice.paid", "invoice.paid")      # both read: no milestone yet
        assert signals(c, mid, "purchase_milestone") == [] and signals(c, mid, "spend_milestone") == []
        assert outbox_count(an, "signal.purchase_milestone", mid) == 0
        purchase(c, mid, [item(1000)])
        fired = eventually(lambda: signals(c, mid, "purchase_milestone"))
        assert [(s["milestone"], s["purchases"], s["spend"]) for s in fired] == [(3, 3, 3000)], fired
        fired = signals(c, mid, "spend_milestone")
        assert [(s["milestone"], s["purchases"], s["spend"]) for s in fired] == [(2500, 3, 3000)], fired
        purchase(c, mid, [item(1000)])
        wait_types(c, mid, *["invoice.paid"] * 4)
        assert outbox_count(an, "signal.purchase_milestone", mid) == 2     # once each

        # none: an empty list raises nothing more
        r = c.patch("/v1/analytics/settings", {"purchase_milestones": [], "spend_milestones": []})
        assert r.status_code == 200 and r.json()["purchase_milestones"] == [] \
            and r.json()["spend_milestones"] == [], r.text
        assert ok(c.get("/v1/analytics/settings"))["purchase_milestones"] == []
    finally:
        ok(c.patch("/v1/analytics/settings", DEFAULT_MILESTONES))
    assert {k: ok(c.get("/v1/analytics/settings"))[k] for k in DEFAULT_MILESTONES} == DEFAULT_MILESTONES
