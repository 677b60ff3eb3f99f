"""test_analytics_alerts.py - analytics' alerts against the real services and the test clock: a
spike of inquiries (held back by its minimum), a spike of failed payments, MRR falling and a
plan's churn each raise one alert, with its message worked out by hand; once per period; listed,
acknowledged (by whom, once), the rules changed; roles and bad input.

The suite is this module's own: its clock only moves forward."""

import pytest

from billing_util import (DAY_MS, billing_suite, create_plan, finish_suite, item, member_with_card,
                          ok, purchase, subscribe)
from test_analytics import clock, eventually, jst_ms, wait_types

MINUTE_MS = 60 * 1000


@pytest.fixture(scope="module")
def an():
    s = billing_suite("alerts")
    if "analytics" not in s.service_list:
        s.stop()
        pytest.skip("kaiin-analytics is not built")
    yield s
    finish_suite(s)


def alerts(c, **params):
    return ok(c.get("/v1/analytics/alerts", params=params or None))


def inquiry(c, mid):
    r = c.post("/v1/members/%s/inquiries" % mid, {"subject": "件名", "body": "本文",
                                                  "channel": "email", "category": "other"})
    assert r.status_code == 201, r.text


def test_alerts_raised_once_listed_and_acknowledged(an):
    c = an.client
    t0 = jst_ms(2027, 3, 1)                       # Monday 1 March 2027, 10:00 JST
    clock(c, t0)
    plan = create_plan(c, amount=1000)            # tax exclusive: MRR ¥1,000 a subscriber
    a, _ = member_with_card(c)
    b, _ = member_with_card(c)
    sub_a = subscribe(c, a["id"], plan)
    subscribe(c, b["id"], plan)
    m = c.create_member()
    # One inquiry a week for four weeks: 1, 8, 15 and 22 March.
    for week in range(4):
        if week:
            clock(c, t0 + week * 7 * DAY_MS)
        inquiry(c, m["id"])
    # E: Thursday 1 April 2027, 10:00 JST (ISO week 2027-W13). The 4 weeks before the last 7 days,
    # (25 Feb, 25 Mar], hold those 4 inquiries: a weekly average of 1.00.
    e = t0 + 31 * DAY_MS
    clock(c, e)
    for _ in range(4):
        inquiry(c, m["id"])
    wait_types(c, m["id"], *["inquiry.opened"] * 8)
    clock(c, e + 2 * MINUTE_MS)
    # 4 in the last 7 days is above 200 % of 1.00 but under the minimum of 5; MRR is steady
    # (¥2,000 now and 30 days before); nothing failed; nobody churned.
    assert alerts(c) == {"data": [], "next_cursor": None, "open": 0}

    inquiry(c, m["id"])
    f, _ = member_with_card(c, token="tok_chargeDeclined")
    for _ in range(3):
        assert purchase(c, f["id"], [item(1000)])["status"] == "failed"
    rules = ok(c.get("/v1/analytics/alert-rules"))["data"]
    assert [(r["rule"], r["enabled"], r["threshold"], r["minimum"]) for r in rules] == [
        ("inquiries_spike", True, 200, 5), ("mrr_drop", True, 10, 0),
        ("payment_failures_spike", True, 200, 3), ("plan_churn", True, 10, 10)]
    owner, password = an.create_staff("owner")
    boss = an.client_as(an.login(owner["email"], password))
    changed = ok(boss.patch("/v1/analytics/alert-rules/plan_churn", {"minimum": 2}))
    assert (changed["minimum"], changed["threshold"], changed["enabled"], changed["updated_by"]) == \
        (2, 10, True, owner["id"])
    ok(c.post("/v1/subscriptions/%s/cancel" % sub_a["id"], {"at_period_end": False, "reason": "too_expensive"}))
    wait_types(c, m["id"], *["inquiry.opened"] * 9)
    wait_types(c, f["id"], "payment.failed", "payment.failed", "payment.failed")
    wait_types(c, a["id"], "subscription.canceled")
    clock(c, e + 4 * MINUTE_MS)

    got = eventually(lambda: alerts(c) if alerts(c)["open"] == 4 else None)
    assert got["next_cursor"] is None
    seen = [(x["rule"], x["subject"], x["period"], x["value"], x["baseline"], x["message"])
            for x in got["data"]]
    # Newest first; one evaluation raises them in the rules' order.
    assert seen == [
        ("plan_churn", plan["code"], "2027-04", 5000, 2,
         "プラン %s の今月の解約率 50.0%%（月初の契約者 2人のうち 1人が解約）" % plan["code"]),
        ("payment_failures_spike", "", "2027-W13", 3, 0,
         "直近7日間の支払い失敗 3件（その前の4週間の週平均 0.00件）"),
        ("mrr_drop", "", "2027-04", 1000, 2000, "MRR が30日前より 50.0% 減少（¥2,000 → ¥1,000）"),
        ("inquiries_spike", "", "2027-W13", 5, 4, "直近7日間の問い合わせ 5件（その前の4週間の週平均 1.00件）"),
    ], seen
    assert all(x["acknowledged_at"] is None and x["acknowledged_by"] == "" for x in got["data"])
    assert len(an.sql("select 1 from analytics.outbox where type = 'alert.raised'")) == 4

    # Once per rule, subject and period: a later evaluation raises nothing again.
    clock(c, e + 6 * MINUTE_MS)
    assert alerts(c)["open"] == 4
    assert len(an.sql("select 1 from analytics.outbox where type = 'alert.raised'")) == 4

    mrr_alert = got["data"][2]
    done = ok(boss.post("/v1/analytics/alerts/%d/acknowledge" % mrr_alert["id"]))
    assert done["acknowledged_by"] == owner["id"] and done["acknowledged_at"] is not None
    again = ok(c.post("/v1/analytics/alerts/%d/acknowledge" % mrr_alert["id"]))
    assert (again["acknowledged_by"], again["acknowledged_at"]) == (owner["id"], done["acknowledged_at"])
    assert alerts(c)["open"] == 3
    assert [x["rule"] for x in alerts(c, status="open")["data"]] == [
        "plan_churn", "payment_failures_spike", "inquiries_spike"]
    assert [x["id"] for x in alerts(c, status="acknowledged")["data"]] == [mrr_alert["id"]]
    page = alerts(c, limit=3)
    assert len(page["data"]) == 3 and page["next_cursor"]
    rest = alerts(c, limit=3, cursor=page["next_cursor"])
    assert [x["rule"] for x in rest["data"]] == ["inquiries_spike"] and rest["next_cursor"] is None


def test_alert_roles_and_bad_input(an):
    c = an.client
    viewer, password = an.create_staff("viewer")
    v = an.client_as(an.login(viewer["email"], password))
    assert v.get("/v1/analytics/alerts").status_code == 200
    assert v.get("/v1/analytics/alert-rules").status_code == 200
    assert v.post("/v1/analytics/alerts/1/acknowledge").status_code == 403
    assert v.patch("/v1/analytics/alert-rules/mrr_drop", {"threshold": 20}).status_code == 403

    r = c.post("/v1/analytics/alerts/999999/acknowledge")
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("application/problem+json")
    assert c.patch("/v1/analytics/alert-rules/no_such_rule", {"threshold": 20}).status_code == 404
    for body, field in (({"threshold": 0}, "threshold"), ({"minimum": -1}, "minimum"),
                        ({"enabled": "yes"}, "enabled"), ({"rule": "x"}, "rule")):
        r = c.patch("/v1/analytics/alert-rules/mrr_drop", body)
        assert r.status_code == 400, (body, r.status_code, r.text)
        assert [e["field"] for e in r.json()["errors"]] == [field], r.json()
    r = c.get("/v1/analytics/alerts", params={"status": "closed"})
    assert r.status_code == 400 and [e["field"] for e in r.json()["errors"]] == ["status"]
    r = c.get("/v1/analytics/alerts", params={"limit": 101})
    assert r.status_code == 400 and [e["field"] for e in r.json()["errors"]] == ["limit"]
    # Switched off, a rule is kept with its settings.
    off = ok(c.patch("/v1/analytics/alert-rules/mrr_drop", {"enabled": False}))
    assert (off["enabled"], off["threshold"]) == (False, 10)
