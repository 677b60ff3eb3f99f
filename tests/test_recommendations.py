"""test_recommendations.py - analytics' recommendations (GET /v1/members/{id}/recommendations)
and messaging's {{recommendations}}, against the real services: purchases made through the API
by several members, every expected list worked out by hand below (not with the service's
formula), the mail read from mailpit, and a mail that waits while analytics is down.

The suite is this module's own (billing, analytics, messaging, mailpit): its clock only moves
forward.

The purchases (all at the start, within the popular window of 90 days):

    A: [mat, block] in one purchase, then [towel]
    B: [mat], then [strap], then [towel]          (three purchases)
    C: [mat, block] in one purchase
    D: [towel, mug, candle] in one purchase
    E: [towel], then [water]
    G: [towel, mug] in one purchase
    T: [mat]                                        (the member recommended to)
    N: nothing
    F: [bag], refunded in full                      (F owns nothing; bag counts for no one)

Buyers per item: mat 4 (A B C T), towel 5 (A B D E G), block 2 (A C), mug 2 (D G), strap 1 (B),
water 1 (E), candle 1 (D), bag 0.

For T (owns mat): the members who bought mat also bought block (A and C, in the same purchase
as mat: bought together), strap (B, in another purchase: similar members) and towel (A and B,
other purchases). Cosine of the buyer sets, rounded to 4 decimals:
    block 2 / sqrt(4 * 2) = 0.7071, strap 1 / sqrt(4 * 1) = 0.5, towel 2 / sqrt(4 * 5) = 0.4472
(towel has as many co-buyers as block, but is everyone's: it comes after strap). Then the
popular items T does not own and not listed yet, by buyers: mug 2, then candle 1 and water 1
(a tie, by sku). Default limit 5: block, strap, towel, mug, candle.

For N (and F): popular only: towel 5, mat 4, block 2, mug 2 (tie by sku), candle 1, strap 1,
water 1 (tie by sku)."""

import time
import uuid

import pytest

import harness
from billing_util import (DAY_MS, clock, finish_suite, member_with_card, now_ms, ok, purchase,
                          uniq, wait_for)

SETTINGS = {"from_name": "会員サポート", "from_address": "support@kaiin.example.jp",
            "reply_to": "reply@kaiin.example.jp", "business_name": "株式会社カイイン",
            "postal_address": "東京都千代田区千代田1-1", "contact": "03-1234-5678"}
NAMES = {"mat": "ヨガマット", "block": "ヨガブロック", "strap": "ストラップ", "towel": "タオル <大> & 小",
         "mug": "マグカップ", "candle": "キャンドル", "water": "水素水", "bag": "トートバッグ"}


@pytest.fixture(scope="module")
def rs():
    for name in ("billing", "analytics", "messaging"):
        if not harness.built(name):
            pytest.skip("kaiin-%s is not built (%s)" % (name, harness.bin_dir()))
    if not harness.mailpit_binary():
        pytest.skip("mailpit is not installed (make test installs it in build/tools)")
    s = harness.Suite("recommendations", billing=True, mailpit=True, automations=False).start()
    wait_for(lambda: s.client.patch("/v1/messaging/settings", SETTINGS).status_code == 200,
             timeout=60, interval=0.5, what="messaging's settings saved")
    yield s
    finish_suite(s)


def items(sku, *names):
    """A purchase's items: one of each named item at ¥1,000."""
    return [{"sku": sku[n], "description": NAMES[n], "quantity": 1, "unit_amount": 1000,
             "tax_rate": 10} for n in names]


@pytest.fixture(scope="module")
def world(rs):
    """The purchases of the module's docstring; {letter: member id}."""
    c = rs.client
    sku = {k: uniq(k) for k in NAMES}          # unique, so that sku order is the names' order
    sku = {k: "%d-%s" % (i, v) for i, (k, v) in enumerate(sorted(sku.items()))}

    ids = {}
    for letter, baskets in (("A", [["mat", "block"], ["towel"]]), ("B", [["mat"], ["strap"], ["towel"]]),
                            ("C", [["mat", "block"]]), ("D", [["towel", "mug", "candle"]]),
                            ("E", [["towel"], ["water"]]), ("G", [["towel", "mug"]]), ("T", [["mat"]]),
                            ("N", []), ("F", [["bag"]])):
        m, _ = member_with_card(c)
        ids[letter] = m["id"]
        for basket in baskets:
            bought = purchase(c, m["id"], items(sku, *basket))
            if letter == "F":
                ok(c.post("/v1/payments/%s/refunds" % bought["payment"]["id"], {}), 201)
    ids["sku"] = sku
    # analytics has read them all: F's refund is billing's last event
    wait_for(lambda: [tuple(r) for r in rs.sql("select refunded = total from analytics.purchases"
                                                " where member_id = '%s'" % ids["F"])] in ([("t",)], [(True,)]),
             timeout=60, what="F's refund read by analytics")
    return ids


def received(rs, address):
    """The messages mailpit received for address (summaries, newest first)."""
    return [m for m in rs.mails() if any(x["Address"] == address for x in m["To"])]


def parts(rs, summary):
    """One received message's text part (LF line ends) and HTML part."""
    full = rs.mailpit_api("/api/v1/message/" + summary["ID"]).json()
    return full["Text"].replace("\r\n", "\n"), full["HTML"]


def recommended(c, mid, **params):
    body = ok(c.get("/v1/members/%s/recommendations" % mid, params=params))
    return [(x["sku"].split("-", 1)[1].split("-")[0], x["description"], x["score"], x["reason"])
            for x in body["items"]]


def named(*rows):
    return [(k, NAMES[k], score, reason) for k, score, reason in rows]


def test_bought_together_first_owned_left_out_popular_fill_up(rs, world):
    c = rs.client
    got = recommended(c, world["T"])
    assert got == named(("block", 0.7071, "bought_together"), ("strap", 0.5, "similar_members"),
                        ("towel", 0.4472, "similar_members"), ("mug", 2, "popular"),
                        ("candle", 1, "popular")), got
    got = recommended(c, world["T"], limit=7)      # all there is: water last (tie with candle)
    assert [x[0] for x in got] == ["block", "strap", "towel", "mug", "candle", "water"], got
    assert [x[0] for x in recommended(c, world["T"], limit=1)] == ["block"]


def test_no_purchases_gets_popular_and_a_full_refund_owns_nothing(rs, world):
    c = rs.client
    want = named(("towel", 5, "popular"), ("mat", 4, "popular"), ("block", 2, "popular"),
                 ("mug", 2, "popular"), ("candle", 1, "popular"))
    assert recommended(c, world["N"]) == want
    assert recommended(c, world["F"]) == want      # bag refunded in full: not F's, nor popular
    got = recommended(c, world["N"], limit=20)
    assert [x[0] for x in got] == ["towel", "mat", "block", "mug", "candle", "strap", "water"], got
    # A owns mat, block, towel: strap (B: mat and towel) 1/sqrt(4*1) + 1/sqrt(5*1) = 0.5 + 0.4472;
    # mug (G, D: towel) 2/sqrt(5*2) = 0.6325; candle (D) 1/sqrt(5*1) = 0.4472; water (E) the same
    got = recommended(c, world["A"])
    # (D bought mug and candle in one purchase with towel: bought together)
    assert got == named(("strap", 0.9472, "similar_members"), ("mug", 0.6325, "bought_together"),
                        ("candle", 0.4472, "bought_together"), ("water", 0.4472, "similar_members")), got


RANGE = ("must be an integer from 1 to 20", "1 から 20 までの整数を指定してください")


@pytest.mark.parametrize("limit, reasons", [("0", RANGE), ("21", RANGE), ("-1", RANGE),
                                            ("five", ("must be an integer", "整数を指定してください"))])
def test_bad_limit_is_400_naming_the_field(rs, world, limit, reasons):
    c = rs.client
    for language, reason in zip(("en", "ja"), reasons):
        r = c.get("/v1/members/%s/recommendations" % world["T"], params={"limit": limit},
                  headers={"Accept-Language": language})
        assert r.status_code == 400 and r.headers["Content-Type"].startswith("application/problem+json"), r.text
        assert [(e["field"], e["reason"]) for e in r.json()["errors"]] == [("limit", reason)], r.text


def test_unknown_member_is_404_and_roles(rs, world):
    c = rs.client
    for language, detail in (("en", "member not found"), ("ja", "会員が見つかりません")):
        r = c.get("/v1/members/%s/recommendations" % uuid.uuid4(), headers={"Accept-Language": language})
        assert r.status_code == 404 and r.headers["Content-Type"].startswith("application/problem+json"), r.text
        assert r.json()["detail"] == detail, r.text
    for role in ("marketing", "viewer"):
        staff, password = rs.create_staff(role)
        who = rs.client_as(rs.login(staff["email"], password))
        assert who.get("/v1/members/%s/recommendations" % world["T"]).status_code == 200, role
    assert c.get("/v1/members/%s/recommendations" % world["T"], auth=False).status_code == 401
    paths = ok(c.get("/openapi.json"))["paths"]
    assert "get" in paths["/v1/members/{id}/recommendations"], sorted(paths)


TEXT = "{{member.name}} 様\n{{#if recommendations}}\nおすすめ:\n{{recommendations}}\n{{/if}}\n以上\n"
HTML = "<p>{{member.name}} 様</p>{{#if recommendations}}<p>おすすめ</p>{{recommendations}}{{/if}}"


def template(c):
    return ok(c.post("/v1/messaging/templates", {"name": uniq("t"), "kind": "transactional",
                                                  "subject": "おすすめのご案内", "html": HTML, "text": TEXT}), 201)


def test_a_mail_carries_the_members_recommendations(rs, world):
    """T's mail lists T's top 3 (not mat, which T owns), the text as 「・」 lines, the HTML as an
    escaped list; the preview shows the same."""
    c = rs.client
    t = template(c)
    mid = world["T"]
    name = ok(c.get("/v1/members/" + mid)).get("name") or ""
    text = "%s 様\nおすすめ:\n・ヨガブロック\n・ストラップ\n・タオル <大> & 小\n以上\n" % name
    html = ("<p>%s 様</p><p>おすすめ</p><ul><li>ヨガブロック</li><li>ストラップ</li>"
            "<li>タオル &lt;大&gt; &amp; 小</li></ul>" % name)
    p = wait_for(lambda: (lambda r: r.json() if r.status_code == 200 else None)(
        c.post("/v1/messaging/templates/%s/preview" % t["id"], {"member_id": mid})),
        timeout=30, what="messaging knows the member")
    assert (p["text"], p["html"]) == (text, html), p
    mail = ok(c.post("/v1/messaging/mails", {"template_id": t["id"], "member_id": mid}), 201)
    email = ok(c.get("/v1/members/" + mid))["email"]
    got = wait_for(lambda: received(rs, email), timeout=30, what="the mail in mailpit")
    sent_text, sent_html = parts(rs, got[0])
    assert sent_text.rstrip("\n") == text.rstrip("\n"), sent_text
    assert html in sent_html and "ヨガマット" not in sent_text + sent_html, sent_html
    assert ok(c.get("/v1/messaging/mails/" + mail["id"]))["status"] == "sent"


def test_a_mail_waits_while_analytics_cannot_answer(rs, world):
    c = rs.client
    t = template(c)
    mid = world["N"]
    email = ok(c.get("/v1/members/" + mid))["email"]
    rs.kill_service("analytics")
    try:
        rs.wait_no_workers(timeout=20, service="analytics")
        mail = ok(c.post("/v1/messaging/mails", {"template_id": t["id"], "member_id": mid}), 201)
        row = wait_for(lambda: (lambda x: x if x["attempts"] >= 1 else None)(
            ok(c.get("/v1/messaging/mails/" + mail["id"]))), timeout=30, what="a failed attempt")
        assert row["status"] == "queued" and "analytics did not recommend" in row["last_error"], row
        r = c.post("/v1/messaging/templates/%s/preview" % t["id"], {"member_id": mid})
        assert r.status_code == 503 and r.json()["detail"].startswith(
            "the mail cannot be made now: analytics did not recommend items"), r.text
        segment = ok(c.post("/v1/messaging/segments", {
            "name": uniq("s"), "filter": {"field": "rank", "op": "eq", "value": "premium"}}), 201)
        campaign = ok(c.post("/v1/messaging/campaigns", {"name": uniq("c"), "template_id": t["id"],
                                                         "segment_id": segment["id"]}), 201)
        r = c.post("/v1/messaging/campaigns/%s/test" % campaign["id"], {"to": "staff@kaiin.example.jp",
                                                                       "member_id": mid})
        assert r.status_code == 503 and r.json()["detail"].startswith(
            "the mail cannot be made now: analytics did not recommend items"), r.text
        time.sleep(1)
        assert received(rs, email) == []
    finally:
        rs.start_service("analytics")
    wait_for(lambda: c.get("/v1/members/%s/recommendations" % mid).status_code == 200, timeout=60,
             what="analytics back")
    clock(c, advance="PT5M")                        # past the back-off: sent now, with the block
    row = ok(c.get("/v1/messaging/mails/" + mail["id"]))
    assert row["status"] == "sent" and row["attempts"] >= 2, row
    sent_text, _ = parts(rs, received(rs, email)[0])
    assert "・タオル <大> & 小\n・ヨガマット\n・ヨガブロック\n" in sent_text, sent_text


def test_30_days_after_a_purchase_an_automation_recommends_similar_items(rs, world):
    """The seed's case. P buys strap; 30 days on, the automation's mail lists: mat (B bought
    strap and mat: 1 / sqrt(2 * 4) = 0.3536), towel (B: 1 / sqrt(2 * 5) = 0.3162), then the most
    popular of the rest: block (2 buyers; mug has 2 too, block first by sku). Not strap."""
    c = rs.client
    t = template(c)
    a = ok(c.post("/v1/messaging/automations", {
        "name": uniq("a"), "source": "billing", "event_type": "purchase.completed",
        "template_id": t["id"], "delay_minutes": 30 * 24 * 60}), 201)
    p, _ = member_with_card(c)
    purchase(c, p["id"], items(world["sku"], "strap"))
    clock(c, to=now_ms(c) + 30 * DAY_MS + 60000)
    got = wait_for(lambda: received(rs, p["email"]), timeout=30, what="the automation's mail")
    text, html = parts(rs, got[0])
    assert "おすすめ:\n・ヨガマット\n・タオル <大> & 小\n・ヨガブロック\n以上" in text, text
    assert "ストラップ" not in text + html, html
    ok(c.patch("/v1/messaging/automations/" + a["id"], {"active": False}))


def test_popular_is_the_last_90_days_and_the_block_vanishes(rs, world):
    """91 days on nothing is popular: N gets no recommendation and the mail's block is gone; T
    still gets what was bought with mat (that has no window)."""
    c = rs.client
    clock(c, to=now_ms(c) + 91 * DAY_MS)
    assert recommended(c, world["N"]) == []
    # P's strap made strap's buyers 2: 1 / sqrt(4 * 2) = 0.3536, now after towel's 0.4472
    assert [x[0] for x in recommended(c, world["T"])] == ["block", "towel", "strap"]
    t = template(c)
    p = ok(c.post("/v1/messaging/templates/%s/preview" % t["id"], {"member_id": world["N"]}))
    name = ok(c.get("/v1/members/" + world["N"])).get("name") or ""
    assert (p["text"], p["html"]) == ("%s 様\n以上\n" % name, "<p>%s 様</p>" % name), p
