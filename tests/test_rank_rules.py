"""test_rank_rules.py - analytics' rank automation against the real services: rules saved and
read, members raised by what they paid and how often they bought (member.RankSet, audited as the
automation), never lowered nor moved off a rank outside the rules, the rules' save raising those who already
qualify, the preview, bad rules and roles; a change asked twice, one overtaken by staff, one made
once member is back.

The suite is this module's own (the rules are one list per installation); its tests run in
order, each building on the members the one before left. A purchase's prices include the tax, so
an item of ¥30,000 is an invoice of ¥30,000."""

import pytest

from billing_util import billing_suite, finish_suite, item, member_with_card, ok, payments, purchase
from test_analytics import eventually, wait_types

RULES = [{"rank": "gold", "metric": "cumulative_spend", "threshold": 50000},
         {"rank": "silver", "metric": "purchase_count", "threshold": 2}]


@pytest.fixture(scope="module")
def an():
    s = billing_suite("ranks")
    if "analytics" not in s.service_list:
        s.stop()
        pytest.skip("kaiin-analytics is not built")
    for code, label in (("gold", "ゴールド"), ("silver", "シルバー"), ("bronze", "ブロンズ")):
        ok(s.client.post("/v1/member-ranks", {"code": code, "label": label}), 201)
    yield s
    finish_suite(s)


def put_rules(c, rules, **kw):
    return c.request("PUT", "/v1/analytics/rank-rules", json_body={"rules": rules}, **kw)


def rank(c, mid):
    return ok(c.get("/v1/members/%s" % mid))["rank"]


def pay(c, an, mid, *amounts):
    """One purchase per amount (tax included); returns once analytics has read them all and the
    member's registration (billing's events and member's are read apart: either may come first),
    and no rank change of the member is still queued (so any they brought is made)."""
    before = len(all_paid(c, mid))
    for amount in amounts:
        assert purchase(c, mid, [item(amount)])["status"] == "paid"
    wait_types(c, mid, "member.registered", *["invoice.paid"] * (before + len(amounts)))
    eventually(lambda: not an.sql("select 1 from analytics.rank_changes where member_id = '%s'" % mid))


def all_paid(c, mid):
    r = c.get("/v1/members/%s/timeline" % mid, params={"limit": 100})
    return [e for e in r.json()["data"] if e["type"] == "invoice.paid"] if r.status_code == 200 else []


def automation_entries(c, mid):
    entries = ok(c.get("/v1/audit-log", params={"target_id": mid}))["data"]
    return [(e["actor_id"], e["actor_role"], e["action"], e["changes"]) for e in entries
            if e["actor_id"] == "analytics:rank_automation"]


def test_spend_and_purchases_raise_members(an):
    c = an.client
    assert ok(c.get("/v1/analytics/rank-rules")) == {"rules": [], "queued": 0, "updated_at": None,
                                                     "updated_by": ""}
    saved = ok(put_rules(c, RULES))
    assert (saved["rules"], saved["queued"], saved["updated_by"]) == (RULES, 0, "bootstrap"), saved
    assert ok(c.get("/v1/analytics/rank-rules"))["rules"] == RULES

    # A pays ¥30,000 (one purchase: no rule met), then ¥25,000: ¥55,000 ≥ ¥50,000 → gold (the
    # first rule met; the second purchase also meets silver's, placed below).
    a, _ = member_with_card(c)
    pay(c, an, a["id"], 30000)
    assert rank(c, a["id"]) == "basic"
    pay(c, an, a["id"], 25000)
    assert rank(c, a["id"]) == "gold"
    assert automation_entries(c, a["id"]) == [
        ("analytics:rank_automation", "service", "member.updated", {"rank": ["basic", "gold"]})]
    wait_types(c, a["id"], "member.updated")
    summaries = [e["summary"] for e in ok(c.get("/v1/members/%s/timeline" % a["id"]))["data"]]
    assert "ランク変更: basic → gold" in summaries, summaries

    # B pays ¥49,999 once: no rule met, basic kept.
    b, _ = member_with_card(c)
    pay(c, an, b["id"], 49999)
    assert rank(c, b["id"]) == "basic" and automation_entries(c, b["id"]) == []

    # C buys twice ¥1,100 → silver (2 purchases); then ¥50,000 more → gold, raised from silver.
    cm, _ = member_with_card(c)
    pay(c, an, cm["id"], 1100, 1100)
    assert rank(c, cm["id"]) == "silver"
    pay(c, an, cm["id"], 50000)                   # ¥52,200 in all
    assert rank(c, cm["id"]) == "gold"
    assert [x[3] for x in automation_entries(c, cm["id"])] == [
        {"rank": ["silver", "gold"]}, {"rank": ["basic", "silver"]}]

    # D was given premium by staff (a rank outside the rules): kept at ¥50,000.
    d, _ = member_with_card(c)
    ok(c.patch("/v1/members/%s" % d["id"], {"rank": "premium"}))
    pay(c, an, d["id"], 50000)
    assert rank(c, d["id"]) == "premium" and automation_entries(c, d["id"]) == []

    # Rules only raise: refunding A's ¥25,000 (¥30,000 left, under gold's ¥50,000) leaves A gold.
    paid = [p for p in payments(c, member_id=a["id"]) if p["amount"] == 25000]
    assert len(paid) == 1, paid
    ok(c.post("/v1/payments/%s/refunds" % paid[0]["id"], {"reason": "other"}), 201)
    wait_types(c, a["id"], "refund.created")
    assert rank(c, a["id"]) == "gold" and len(automation_entries(c, a["id"])) == 1


def test_saving_rules_raises_members_who_already_qualify(an):
    c = an.client
    e, _ = member_with_card(c)
    pay(c, an, e["id"], 20000)                    # no rule met
    assert rank(c, e["id"]) == "basic"
    rules = RULES + [{"rank": "bronze", "metric": "cumulative_spend", "threshold": 10000}]
    # Before saving, the preview: gold's first rule is met by C (¥52,200) and D (¥50,000), none
    # raised (C is gold, D's premium is not the rules'); silver's by A (¥30,000 after the refund,
    # 2 purchases), not raised (gold is above); bronze's by B (¥49,999) and E (¥20,000), both to
    # be raised from basic.
    preview = ok(c.post("/v1/analytics/rank-rules/preview", {"rules": rules}))
    assert preview == {"data": [{"rank": "gold", "members": 2, "raised": 0},
                                {"rank": "silver", "members": 1, "raised": 0},
                                {"rank": "bronze", "members": 2, "raised": 2}]}, preview
    assert ok(c.get("/v1/analytics/rank-rules"))["rules"] == RULES      # the preview saved nothing

    saved = ok(put_rules(c, rules))
    assert saved["queued"] == 2 and saved["rules"] == rules
    eventually(lambda: rank(c, e["id"]) == "bronze")
    assert [x[3] for x in automation_entries(c, e["id"])] == [{"rank": ["basic", "bronze"]}]
    eventually(lambda: an.sql("select count (*) from analytics.rank_changes") == [["0"]])
    bronze = ok(c.get("/v1/members", params={"rank": "bronze"}))["data"]
    assert len(bronze) == 2 and e["id"] in [m["id"] for m in bronze], bronze     # E and B


def test_bad_rules_and_roles(an):
    c = an.client
    bad = [RULES[0], {"rank": "gold", "metric": "visits", "threshold": 1},
           {"rank": "gold", "metric": "purchase_count", "threshold": -1}]
    r = put_rules(c, bad)
    assert r.status_code == 400 and r.headers["Content-Type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == ["rules[1].metric", "rules[2].threshold"], r.json()
    r = put_rules(c, [RULES[0], RULES[1], {"rank": "platinum", "metric": "purchase_count", "threshold": 5}],
                  headers={"Accept-Language": "ja"})
    assert r.status_code == 400, r.text
    assert r.json()["errors"] == [{"field": "rules[2].rank", "code": "not_member_rank",
                                   "reason": "会員ランクにありません（GET /v1/member-ranks）"}], r.json()
    r = put_rules(c, [RULES[0]] * 21)
    assert r.status_code == 400
    assert r.json()["errors"] == [{"field": "rules", "code": "must_have_at_most_rules",
                                   "reason": "must have at most 20 rules"}], r.json()
    r = put_rules(c, [{"metric": "purchase_count", "threshold": 5}])
    assert r.status_code == 400 and [e["field"] for e in r.json()["errors"]] == ["rules[0].rank"], r.json()
    assert len(ok(c.get("/v1/analytics/rank-rules"))["rules"]) == 3      # unchanged

    for role, writes in (("support", 403), ("marketing", 403), ("finance", 403), ("viewer", 403),
                         ("admin", 200), ("owner", 200)):
        staff, password = an.create_staff(role)
        s = an.client_as(an.login(staff["email"], password))
        assert s.get("/v1/analytics/rank-rules").status_code == 200, role
        current = ok(c.get("/v1/analytics/rank-rules"))["rules"]
        assert put_rules(s, current).status_code == writes, role
        assert s.post("/v1/analytics/rank-rules/preview", {"rules": current}).status_code == writes, role


def test_routes_are_in_the_openapi_document(an):
    from test_openapi import check, find_operation
    c = an.client
    spec = ok(c.get("/openapi.json"))
    for method, path, operation in (("get", "/v1/analytics/rank-rules", "analytics.RankRulesGet"),
                                    ("put", "/v1/analytics/rank-rules", "analytics.RankRulesUpdate"),
                                    ("post", "/v1/analytics/rank-rules/preview", "analytics.RankRulesPreview")):
        op = find_operation(spec, method, path)
        assert op and op["operationId"] == operation, (method, path, op)
    assert "roles owner admin." in find_operation(spec, "put", "/v1/analytics/rank-rules")["description"]
    current = ok(c.get("/v1/analytics/rank-rules"))["rules"]
    check(spec, "get", "/v1/analytics/rank-rules", c.get("/v1/analytics/rank-rules"))
    check(spec, "put", "/v1/analytics/rank-rules", put_rules(c, current))
    check(spec, "post", "/v1/analytics/rank-rules/preview",
          c.post("/v1/analytics/rank-rules/preview", {"rules": current}))
    bad = put_rules(c, [{"rank": "nosuch", "metric": "purchase_count", "threshold": 1}])
    assert bad.status_code == 400
    check(spec, "put", "/v1/analytics/rank-rules", bad)


def queue_with_stale_projection(an, mid, read):
    """Once analytics has read that mid is at rank read, queues mid's rank change as if it had
    not (its projection put back to basic): the tick then asks member.RankSet."""
    eventually(lambda: an.sql("select rank from analytics.members where member_id = '%s'" % mid) == [[read]])
    an.sql("update analytics.members set rank = 'basic' where member_id = '%s';"
           " insert into analytics.rank_changes (member_id, queued_at_ms) values ('%s', 0)" % (mid, mid))
    eventually(lambda: not an.sql("select 1 from analytics.rank_changes where member_id = '%s'" % mid))


def test_a_change_asked_again_or_overtaken_by_staff_changes_nothing(an):
    c = an.client
    f, _ = member_with_card(c)
    pay(c, an, f["id"], 50000)
    assert rank(c, f["id"]) == "gold"
    # Asked again (a crash after member answered, before the queue's row was deleted): member
    # answers F as F is, no second change.
    queue_with_stale_projection(an, f["id"], "gold")
    assert rank(c, f["id"]) == "gold" and len(automation_entries(c, f["id"])) == 1
    # Staff moved F to premium before analytics read it: member refuses to raise F from a rank
    # outside the rules, and premium stays.
    ok(c.patch("/v1/members/%s" % f["id"], {"rank": "premium"}))
    queue_with_stale_projection(an, f["id"], "premium")
    assert rank(c, f["id"]) == "premium" and len(automation_entries(c, f["id"])) == 1


def test_a_change_member_cannot_take_yet_is_made_when_it_is_back(an):
    c = an.client
    g, _ = member_with_card(c)
    pay(c, an, g["id"], 20000)                    # bronze (¥10,000 or more)
    assert rank(c, g["id"]) == "bronze"
    for p in list(an.running["member"]):
        an.kill_member(p)
    an.wait_no_workers(service="member")
    # A paid invoice of ¥40,000 as analytics reads it while member is down: ¥60,000 → gold.
    an.sql("insert into analytics.paid_invoices (invoice_id, member_id, reason, total, paid_at_ms)"
           " values ('in_rank_test', '%s', 'purchase', 40000, 0);"
           " insert into analytics.rank_changes (member_id, queued_at_ms) values ('%s', 0)"
           % (g["id"], g["id"]))
    eventually(lambda: an.sql("select attempts > 0 and next_at_ms > 0 from analytics.rank_changes"
                              " where member_id = '%s'" % g["id"]) == [["t"]])
    an.start_member()
    an.wait_ready()
    eventually(lambda: rank(c, g["id"]) == "gold", timeout=40)
    assert [x[3] for x in automation_entries(c, g["id"])] == [
        {"rank": ["bronze", "gold"]}, {"rank": ["basic", "bronze"]}]
    eventually(lambda: not an.sql("select 1 from analytics.rank_changes where member_id = '%s'" % g["id"]))
