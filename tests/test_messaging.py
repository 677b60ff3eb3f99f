"""test_messaging.py - kaiin-messaging end to end: through the gateway, with real PostgreSQL, the
member and billing services, and a real SMTP sink (mailpit, asserted on through its HTTP API).
Sender settings, templates (validation naming line and column, HTML escaping, preview),
automations on the test clock (the 7-day guide, the 10th purchase), consent and the one-click
unsubscribe of RFC 8058, and a kill -9 of kaiin-messaging while it sends.

The suite is this module's own: its clock only moves forward."""

import email
import email.policy
import random
import signal
import socket
import socketserver
import subprocess
import threading
import time

import dkim as dkimpy
import pytest
import requests

import harness
from billing_util import clock, finish_suite, item, member_with_card, now_ms, ok, purchase, rfc3339, uniq, wait_for
from billing_util import ms as ms_of

MINUTES_PER_DAY = 24 * 60
DAY_MS = 24 * 3600 * 1000
SETTINGS = {"from_name": "会員サポート", "from_address": "support@kaiin.example.jp",
            "reply_to": "reply@kaiin.example.jp", "business_name": "株式会社カイイン",
            "postal_address": "東京都千代田区千代田1-1", "contact": "03-1234-5678"}

# The transactional automations migrations 003, 005 and 006 seed, on.
TRANSACTIONAL = ("ようこそ（会員登録）", "領収（お支払い完了）", "督促（お支払い失敗）", "ご解約の確認",
                 "お支払い期限切れ（請求書）", "カード有効期限のお知らせ", "パスワード再設定のご案内")

# The suites sign with this key; the test's "DNS" answers its public half (dkimpy verifies).
DKIM_KEY = subprocess.run(["openssl", "genrsa", "2048"], capture_output=True, text=True,
                          check=True).stdout
DKIM_RECORD = "v=DKIM1; k=rsa; p=" + "".join(
    subprocess.run(["openssl", "rsa", "-pubout"], input=DKIM_KEY, capture_output=True, text=True,
                   check=True).stdout.strip().splitlines()[1:-1])


def dkim_valid(raw):
    """True when raw's DKIM signature verifies against the suites' key, asked for by the
    selector and domain it names."""
    asked = []

    def dns(name, timeout=5):
        asked.append(name)
        return DKIM_RECORD.encode() if name == b"s1._domainkey.kaiin.example.jp." else None
    return dkimpy.verify(raw, dnsfunc=dns) and asked == [b"s1._domainkey.kaiin.example.jp."]


def messaging_suite(name, billing):
    if not harness.built("messaging"):
        pytest.skip("kaiin-messaging is not built (%s)" % harness.bin_dir())
    if not harness.mailpit_binary():
        pytest.skip("mailpit is not installed (make test installs it in build/tools)")
    if billing and not harness.have_billing():
        pytest.skip("kaiin-billing is not built (%s)" % harness.bin_dir())
    dkim = {"MESSAGING_DKIM_DOMAIN": "kaiin.example.jp", "MESSAGING_DKIM_SELECTOR": "s1",
            "MESSAGING_DKIM_KEY": DKIM_KEY}
    s = harness.Suite(name, billing=billing, mailpit=True, settings={"messaging": dkim}).start()
    # Ready says every service has workers; on a loaded machine a worker's first connection to
    # PostgreSQL may still be coming (503 "the database is unavailable"): wait for it.
    wait_for(lambda: s.client.patch("/v1/messaging/settings", SETTINGS).status_code == 200,
             timeout=60, interval=0.5, what="messaging's settings saved")
    wait_for(lambda: all(s.client.get("/v1/messaging/settings").status_code == 200
                         for _ in range(2 * s.workers["messaging"])),
             timeout=60, interval=0.5, what="every messaging worker connected")
    transactional_off(s.client)
    return s


def transactional_off(c):
    """Switches off the transactional mails seeded on (welcome, receipt, 督促, cancel): these
    suites count every mail a member gets."""
    for a in ok(c.get("/v1/messaging/automations", params={"limit": 100}))["data"]:
        if a["name"] in TRANSACTIONAL:
            ok(c.patch("/v1/messaging/automations/" + a["id"], {"active": False}))


@pytest.fixture(scope="module")
def ms():
    """member, messaging and mailpit: the test clock moves only them (billing's scheduler makes
    a move slower, and these tests need nothing of it)."""
    s = messaging_suite("messaging", billing=False)
    yield s
    finish_suite(s)


@pytest.fixture(scope="module")
def mb():
    """The same with billing, for its events; its tests do not move the clock."""
    s = messaging_suite("messaging-billing", billing=True)
    yield s
    finish_suite(s)


@pytest.fixture
def c(ms):
    return ms.client


# --------------------------------------------------------------------------- helpers
def template(c, kind="transactional", **fields):
    body = {"name": uniq("t"), "kind": kind, "subject": "ようこそ {{member.name}} さん",
            "html": "<p>{{member.name}} 様</p>", "text": "{{member.name}} 様"}
    body.update(fields)
    return ok(c.post("/v1/messaging/templates", body), 201)


def automation(c, template_id, event_type, source="member", **fields):
    body = {"name": uniq("a"), "source": source, "event_type": event_type,
            "template_id": template_id}
    body.update(fields)
    return ok(c.post("/v1/messaging/automations", body), 201)


def consenting_member(c, **fields):
    return c.create_member(marketing_consent={"email_opt_in": True, "method": "web_form",
                                              "source": "signup form"}, **fields)


def received(ms, address):
    """The messages mailpit received for address."""
    return [m for m in ms.mails() if any(t["Address"] == address for t in m["To"])]


def message(ms, summary):
    """One received message in full: mailpit's view and the raw text parsed."""
    full = ms.mailpit_api("/api/v1/message/" + summary["ID"]).json()
    raw = ms.mailpit_api("/api/v1/message/%s/raw" % summary["ID"]).content
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    parsed.raw = raw
    return full, parsed


def mail_rows(c, member_id):
    return ok(c.get("/v1/messaging/mails", params={"member_id": member_id}))["data"]


def settle(c):
    """A zero move of the test clock: every consumer drained and every due mail sent."""
    clock(c, advance="PT1S")


def problem_fields(r):
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers
    return {e["field"]: e["reason"] for e in r.json()["errors"]}


# --------------------------------------------------------------------------- settings
def test_settings_read_and_update(c):
    s = ok(c.get("/v1/messaging/settings"))
    assert {k: s[k] for k in SETTINGS} == SETTINGS
    r = c.patch("/v1/messaging/settings", {"contact": "info@kaiin.example.jp"},
                headers={"If-Match": r'"%d"' % s["version"]})
    assert r.status_code == 200, r.text
    assert r.json()["contact"] == "info@kaiin.example.jp" and r.json()["version"] == s["version"] + 1
    r = c.patch("/v1/messaging/settings", {"contact": "x"}, headers={"If-Match": r'"%d"' % s["version"]})
    assert r.status_code == 412, r.text
    r = c.patch("/v1/messaging/settings", {"from_address": "not an address"})
    assert r.status_code == 400 and "from_address" in problem_fields(r), r.text
    ok(c.patch("/v1/messaging/settings", {"contact": SETTINGS["contact"]}))


# --------------------------------------------------------------------------- templates
def test_template_crud(c):
    t = template(c, subject="件名 {{member.name}}")
    assert set(t) == {"id", "name", "kind", "subject", "html", "text", "created_at", "updated_at",
                      "version"}, t
    assert ok(c.get("/v1/messaging/templates/" + t["id"])) == t
    assert t["id"] in [x["id"] for x in ok(c.get("/v1/messaging/templates"))["data"]]
    u = ok(c.patch("/v1/messaging/templates/" + t["id"], {"subject": "新しい件名"},
                   headers={"If-Match": '"1"'}))
    assert u["subject"] == "新しい件名" and u["html"] == t["html"] and u["version"] == 2
    ok(c.request("DELETE", "/v1/messaging/templates/" + t["id"]))
    assert c.get("/v1/messaging/templates/" + t["id"]).status_code == 404


@pytest.mark.parametrize("fields,field,reason,code", [
    ({"subject": "こんにちは {{member.nickname}}"}, "subject",
     "line 1, column 7: unknown variable 'member.nickname'", "template_unknown_variable"),
    ({"html": "<p>ok</p>\n<p>{{member.name</p>"}, "html",
     "line 2, column 4: '{{' is not closed by '}}' on its line", "template_tag_not_closed"),
    ({"text": "a\nb\n  }} c"}, "text", "line 3, column 3: '}}' closes no '{{'", "template_stray_close"),
    ({"text": "{{ }}"}, "text", "line 1, column 1: '{{}}' names no variable", "template_tag_empty"),
    ({"kind": "spam"}, "kind", None, None),
    ({"subject": "two\nlines"}, "subject", None, None),
])
def test_bad_template_is_400_naming_the_field(c, fields, field, reason, code):
    body = {"name": uniq("t"), "kind": "transactional", "subject": "s", "text": "t"}
    body.update(fields)
    r = c.post("/v1/messaging/templates", body)
    assert r.status_code == 400, r.text
    errors = problem_fields(r)
    assert field in errors, errors
    if reason:
        assert errors[field] == reason, errors
    if code:
        assert {e["field"]: e["code"] for e in r.json()["errors"]}[field] == code, r.text
    # the same check on an update
    t = template(c)
    r = c.patch("/v1/messaging/templates/" + t["id"], fields)
    assert r.status_code == 400 and field in problem_fields(r), r.text


def test_preview_escapes_html_and_keeps_text(c):
    m = c.create_member(name="<b>山田</b> & 太郎")
    settle(c)
    t = template(c, subject="{{member.name}} 様へ", html="<p>{{member.name}}</p>",
                 text="{{member.name}} / {{member.email}} / {{event.count}}")
    p = ok(c.post("/v1/messaging/templates/%s/preview" % t["id"], {"member_id": m["id"]}))
    assert p["html"] == "<p>&lt;b&gt;山田&lt;/b&gt; &amp; 太郎</p>", p
    assert p["text"] == "<b>山田</b> & 太郎 / %s / " % m["email"], p
    assert p["subject"] == "<b>山田</b> & 太郎 様へ" and p["to"] == m["email"], p
    r = c.post("/v1/messaging/templates/%s/preview" % t["id"],
               {"member_id": "00000000-0000-0000-0000-000000000000"})
    assert r.status_code == 400 and "member_id" in problem_fields(r), r.text


def test_a_draft_is_previewed_before_it_is_saved(c):
    """The editor's live preview: what staff are typing, rendered for a member, checked as a save
    checks it, and nothing stored."""
    m = c.create_member(name="<i>鈴木</i> 一郎")
    settle(c)
    before = ok(c.get("/v1/messaging/templates", params={"limit": 100}))["data"]
    draft = {"member_id": m["id"], "kind": "transactional", "subject": "{{member.name}} 様",
             "html": "<p>{{member.name}}</p>", "text": "{{member.email}}"}
    p = ok(c.post("/v1/messaging/templates/preview", draft))
    assert p == {"subject": "<i>鈴木</i> 一郎 様", "html": "<p>&lt;i&gt;鈴木&lt;/i&gt; 一郎</p>",
                 "text": m["email"], "to": m["email"], "substitutions": []}, p
    assert ok(c.get("/v1/messaging/templates", params={"limit": 100}))["data"] == before
    # a mistake is found as the save would find it: part, line and column
    r = c.post("/v1/messaging/templates/preview", dict(draft, text="ok\n{{member.nickname}}"))
    assert r.status_code == 400 and problem_fields(r) == {
        "text": "line 2, column 1: unknown variable 'member.nickname'"}, r.text
    r = c.post("/v1/messaging/templates/preview", dict(draft, html="", text=""))
    assert r.status_code == 400 and problem_fields(r) == {"text": "html or text must be given"}, r.text
    r = c.post("/v1/messaging/templates/preview", dict(draft, kind="news"))
    assert r.status_code == 400 and list(problem_fields(r)) == ["kind"], r.text
    r = c.post("/v1/messaging/templates/preview", dict(draft, name="x"))
    assert r.status_code == 400 and list(problem_fields(r)) == ["name"], r.text
    r = c.post("/v1/messaging/templates/preview",
               dict(draft, member_id="00000000-0000-0000-0000-000000000000"))
    assert r.status_code == 400 and problem_fields(r) == {"member_id": "is not a member messaging knows"}, r.text


def test_bad_automation_is_400_naming_the_field(c):
    t = template(c)
    for fields, field in [({"source": "nowhere"}, "source"), ({"event_type": "registered"}, "event_type"),
                          ({"template_id": "00000000-0000-0000-0000-000000000000"}, "template_id"),
                          ({"delay_minutes": -1}, "delay_minutes"), ({"nth": -2}, "nth")]:
        body = {"name": "a", "source": "member", "event_type": "member.registered",
                "template_id": t["id"]}
        body.update(fields)
        r = c.post("/v1/messaging/automations", body)
        assert r.status_code == 400 and field in problem_fields(r), (fields, r.text)


# --------------------------------------------------------------------------- automations
def test_guide_arrives_on_day_7_exactly_once(ms, c):
    t = template(c, subject="【活用ガイド】{{member.name}}さん、登録から1週間です",
                 html="<p>{{member.name}}様</p><p>活用ガイドをお送りします。</p>",
                 text="{{member.name}}様\n活用ガイドをお送りします。")
    a = automation(c, t["id"], "member.registered", delay_minutes=7 * MINUTES_PER_DAY)
    assert a["active"] is True and a["nth"] == 0 and a["scenario"] == {      # the one-step scenario
        "steps": [{"wait": {"minutes": 7 * MINUTES_PER_DAY}}, {"send": {"template_id": t["id"]}}]}, a
    m = c.create_member(name="佐藤 花子")
    settle(c)
    clock(c, advance="P6D")
    assert received(ms, m["email"]) == []
    assert mail_rows(c, m["id"]) == []       # the run waits; its send step queues the mail
    registered = ms_of(m["created_at"])
    assert runs(ms, a["id"], m["id"]) == [(1, registered + 7 * DAY_MS, "active")]
    clock(c, advance="P1D")
    rows = mail_rows(c, m["id"])
    got = wait_for(lambda: received(ms, m["email"]), what="the guide in mailpit")
    assert len(got) == 1, got
    full, parsed = message(ms, got[0])
    assert full["Subject"] == "【活用ガイド】佐藤 花子さん、登録から1週間です"
    assert "=?utf-8?" in parsed.as_string().split("\n\n")[0].lower() or \
           "=?UTF-8?" in parsed.as_string()                     # RFC 2047 on the wire
    assert full["From"] == {"Name": "会員サポート", "Address": "support@kaiin.example.jp"}
    assert [x["Address"] for x in full["ReplyTo"]] == ["reply@kaiin.example.jp"]
    assert full["Text"].strip() == "佐藤 花子様\n活用ガイドをお送りします。"
    assert "<p>佐藤 花子様</p>" in full["HTML"]
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed["Message-ID"] == "<%s@kaiin.example.jp>" % rows[0]["id"]
    assert parsed["List-Unsubscribe"] is None                   # transactional
    assert "d=kaiin.example.jp" in parsed["DKIM-Signature"] and dkim_valid(parsed.raw)
    clock(c, advance="P3D")
    assert len(received(ms, m["email"])) == 1
    assert runs(ms, a["id"], m["id"]) == [(2, registered + 7 * DAY_MS, "done")]
    row = mail_rows(c, m["id"])[0]
    assert row["status"] == "sent" and row["to"] == m["email"] and row["attempts"] == 1, row
    # An automation made after the event does not fire for it.
    late = automation(c, t["id"], "member.registered")
    settle(c)
    assert [x["automation_id"] for x in mail_rows(c, m["id"])] == [a["id"]]
    ok(c.patch("/v1/messaging/automations/" + a["id"], {"active": False}))
    ok(c.patch("/v1/messaging/automations/" + late["id"], {"active": False}))


def runs(suite, automation_id, member_id):
    """The member's runs of the automation: (position, due_at_ms, status), oldest first."""
    return [(int(p), int(d), st) for p, d, st in suite.sql(
        "select position, due_at_ms, status from messaging.automation_runs where automation_id = '%s'"
        " and member_id = '%s' order by seq" % (automation_id, member_id))]


def consumed(suite, member_id, source, event_type):
    """How many events of the type messaging has applied for the member."""
    rows = suite.sql("select count from messaging.event_counts where member_id = '%s' and source = '%s'"
                     " and event_type = '%s'" % (member_id, source, event_type))
    return int(rows[0][0]) if rows else 0


def test_tenth_purchase_sends_one_thank_you(mb):
    ms, c = mb, mb.client
    t = template(c, subject="{{event.count}}回目のご購入ありがとうございます",
                 text="{{member.name}}様 {{event.count}}回目 ({{event.id}}) {{event.invoice.number}}"
                      " {{event.invoice.total}}", html="")
    a = automation(c, t["id"], "purchase.completed", source="billing", nth=10)
    m, _ = member_with_card(c)
    ok(c.patch("/v1/members/" + m["id"], {"name": "鈴木 一郎"}))
    for i in range(9):
        purchase(c, m["id"], [item(1000)])
    wait_for(lambda: consumed(ms, m["id"], "billing", "purchase.completed") == 9, timeout=30,
             what="nine purchases consumed")
    time.sleep(1.5)                                  # a tick would have sent anything due
    assert received(ms, m["email"]) == [] and mail_rows(c, m["id"]) == []
    tenth = purchase(c, m["id"], [item(1000)])
    got = wait_for(lambda: received(ms, m["email"]), timeout=30, what="the thank-you")
    assert len(got) == 1 and got[0]["Subject"] == "10回目のご購入ありがとうございます", got
    full, parsed = message(ms, got[0])
    # the event's invoice as billing answered it: its number (given as the purchase committed)
    # beside the rest of it
    assert full["Text"].strip() == "鈴木 一郎様 10回目 (%s) %s 1000" % (tenth["id"], tenth["invoice"]["number"]), \
        full["Text"]
    assert parsed.get_content_type() == "text/plain"
    purchase(c, m["id"], [item(1000)])
    wait_for(lambda: consumed(ms, m["id"], "billing", "purchase.completed") == 11, timeout=30,
             what="the 11th purchase consumed")
    time.sleep(1.5)
    assert len(received(ms, m["email"])) == 1
    assert [(x["automation_id"], x["status"]) for x in mail_rows(c, m["id"])] == [(a["id"], "sent")]
    ok(c.patch("/v1/messaging/automations/" + a["id"], {"active": False}))


# --------------------------------------------------------------------------- consent
def send(c, template_id, member_id):
    return ok(c.post("/v1/messaging/mails", {"template_id": template_id, "member_id": member_id}), 201)


def test_marketing_needs_consent_and_one_click_unsubscribe_stops_it(ms, c):
    promo = template(c, kind="marketing", subject="春のキャンペーン", text="{{member.name}}様、20%オフ",
                     html="<p>{{member.name}}様、20%オフ</p>")
    notice = template(c, subject="ご請求のお知らせ", text="お支払いを確認しました")
    stranger = c.create_member(name="同意なし")
    fan = consenting_member(c, name="同意あり")
    settle(c)
    refused = send(c, promo["id"], stranger["id"])
    assert refused["status"] == "queued" and refused["kind"] == "marketing"
    accepted = send(c, promo["id"], fan["id"])
    settle(c)
    assert ok(c.get("/v1/messaging/mails/" + refused["id"]))["status"] == "suppressed"
    assert ok(c.get("/v1/messaging/mails/" + refused["id"]))["last_error"] == "no marketing consent"
    assert received(ms, stranger["email"]) == []
    got = wait_for(lambda: received(ms, fan["email"]), what="the campaign mail")
    assert len(got) == 1, got
    full, parsed = message(ms, got[0])
    link = parsed["List-Unsubscribe"]
    assert link.startswith("<" + ms.url("/v1/messaging/unsubscribe/")) and link.endswith(">"), link
    url = link[1:-1]
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert dkim_valid(parsed.raw)                   # the signature covers these headers too
    assert "list-unsubscribe" in parsed["DKIM-Signature"].lower()
    assert parsed["Message-ID"] == "<%s@kaiin.example.jp>" % accepted["id"]
    for part in (full["Text"], full["HTML"]):          # the legal footer, in both parts
        for needed in ("株式会社カイイン", "東京都千代田区千代田1-1", "03-1234-5678", url):
            assert needed in part, (needed, part)
    consent = ok(c.get("/v1/messaging/members/%s/consent" % fan["id"]))
    assert consent["marketing"] is True and consent["email_opt_in"] is True
    assert consent["method"] == "web_form" and consent["source"] == "signup form"
    # A forged or altered link changes nothing.
    forged = url[:-1] + ("0" if url[-1] != "0" else "1")
    r = requests.post(forged, data="List-Unsubscribe=One-Click", timeout=10,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400 and "token" in problem_fields(r), r.text
    assert ok(c.get("/v1/messaging/members/%s/consent" % fan["id"]))["marketing"] is True
    # One click, as a mail client does it (RFC 8058): a POST, no login.
    r = requests.post(url, data="List-Unsubscribe=One-Click", timeout=10,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and r.json()["unsubscribed"] is True, r.text
    consent = ok(c.get("/v1/messaging/members/%s/consent" % fan["id"]))
    assert consent["marketing"] is False and consent["unsubscribed_at"] is not None, consent
    events = ms.sql("select count(*) from messaging.outbox where type = 'member.unsubscribed'"
                    " and aggregate_id = '%s'" % fan["id"])
    assert events == [["1"]], events
    # No more marketing; transactional mail still arrives.
    again = send(c, promo["id"], fan["id"])
    bill = send(c, notice["id"], fan["id"])
    settle(c)
    assert ok(c.get("/v1/messaging/mails/" + again["id"]))["status"] == "suppressed"
    assert ok(c.get("/v1/messaging/mails/" + bill["id"]))["status"] == "sent"
    got = received(ms, fan["email"])
    assert sorted(m["Subject"] for m in got) == ["ご請求のお知らせ", "春のキャンペーン"], got


def test_withdrawn_and_erased_members_get_nothing(ms, c):
    t = template(c, subject="お知らせ", text="本文")
    gone = c.create_member()
    erased = c.create_member()
    settle(c)
    ok(c.post("/v1/members/%s/withdraw" % gone["id"], {"reason": "moving"}))
    settle(c)
    mail = send(c, t["id"], gone["id"])
    settle(c)
    assert ok(c.get("/v1/messaging/mails/" + mail["id"]))["status"] == "canceled"
    r = c.post("/v1/members/%s/erase" % erased["id"], {"reason": "request"})
    assert r.status_code == 200, r.text
    settle(c)
    r = c.post("/v1/messaging/mails", {"template_id": t["id"], "member_id": erased["id"]})
    assert r.status_code == 400 and "member_id" in problem_fields(r), r.text
    rows = ms.sql("select count(*) from messaging.members where id = '%s'" % erased["id"])
    assert rows == [["0"]]
    assert received(ms, gone["email"]) == [] and received(ms, erased["email"]) == []


def test_relay_down_keeps_the_mail_queued_then_sends_it(ms, c):
    t = template(c, subject="再送テスト", text="本文")
    m = c.create_member()
    settle(c)
    ms.mailpit.stop()
    try:
        mail = send(c, t["id"], m["id"])
        row = wait_for(lambda: (lambda x: x if x["last_error"] else None)(
            ok(c.get("/v1/messaging/mails/" + mail["id"]))), timeout=20, what="a failed attempt")
        # the relay did not answer: not the mail's fault, so no attempt of its is counted
        assert (row["status"], row["attempts"]) == ("queued", 0), row
        assert row["last_error"].startswith("the relay takes no mail now, every mail waits a minute: "
                                            "cannot send"), row
    finally:
        ms.start_mailpit()
    clock(c, advance="PT1M")                        # a minute on: the relay is tried again
    row = ok(c.get("/v1/messaging/mails/" + mail["id"]))
    assert (row["status"], row["attempts"]) == ("sent", 1), row
    assert len(received(ms, m["email"])) == 1


def serve_smtp(port, session):
    """A threaded TCP server on the suite's SMTP port whose connections session (a
    StreamRequestHandler) handles: a relay written in a test, in mailpit's place."""
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    server = socketserver.ThreadingTCPServer(("127.0.0.1", port), session)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class BusyRelay:
    """An SMTP relay on the suite's port that greets every connection with 421 (too busy,
    closing) and counts the connections."""

    def __init__(self, port):
        self.connections = 0
        relay = self

        class Session(socketserver.StreamRequestHandler):
            def handle(self):
                relay.connections += 1
                self.wfile.write(b"421 4.3.2 busy.example too busy, try again later\r\n")

        self.server = serve_smtp(port, Session)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_a_relay_answering_421_holds_every_mail_without_spending_their_attempts(ms, c):
    """A relay that says 421 takes no mail from anyone: the first mail tried holds the queue a
    minute (the tick threads do not each knock on the relay with another mail, and no mail
    spends an attempt, so an outage of hours fails none); a mail queued during that minute
    waits for its end too, without knocking; a minute on, the relay is tried again and
    everything goes."""
    t = template(c, subject="混雑した中継サーバー", text="本文")
    members = [c.create_member() for _ in range(5)]
    settle(c)
    ms.mailpit.stop()
    relay = BusyRelay(ms.smtp_port)
    hold = "the relay takes no mail now, every mail waits a minute: "
    try:
        at_the_start_of_a_minute(c)
        # queued one after the other: a tick may hold the queue between two of them; the clock's
        # move then runs the tick to the end and waits for the tick threads
        mails = [send(c, t["id"], m["id"]) for m in members[:4]]
        settle(c)
        rows = [ok(c.get("/v1/messaging/mails/" + m["id"])) for m in mails]
        assert [(r["status"], r["attempts"]) for r in rows] == [("queued", 0)] * 4, rows
        # held: put off with the relay's answer, or queued after the hold and never tried
        assert all(r["last_error"] is None or (r["last_error"].startswith(hold) and "(421)" in r["last_error"])
                   for r in rows), rows
        assert rows[0]["last_error"].startswith(hold), rows[0]
        # at most one mail per tick thread (2) met the relay before the hold was written; the
        # mails queued after it did not knock again
        knocked = relay.connections
        assert 1 <= knocked <= 2, knocked
        # one more, queued within the minute for certain: the clock's tick finds nothing it may send
        mails.append(send(c, t["id"], members[4]["id"]))
        settle(c)
        late = ok(c.get("/v1/messaging/mails/" + mails[4]["id"]))
        assert (late["status"], late["attempts"], late["last_error"]) == ("queued", 0, None), late
        assert relay.connections == knocked
    finally:
        relay.stop()
        ms.start_mailpit()
        clock(c, advance="PT1M")                    # the hold is over for the tests after this one too
    rows = [ok(c.get("/v1/messaging/mails/" + m["id"])) for m in mails]
    assert [(r["status"], r["attempts"]) for r in rows] == [("sent", 1)] * 5, rows
    assert all(len(received(ms, m["email"])) == 1 for m in members)


class SlowRelay:
    """An SMTP relay on the suite's port that takes delay seconds to accept each message (a
    busy provider), counting the recipients it accepted. Stopped, it closes the connections
    kaiin-messaging keeps open too, so that its next mail goes to mailpit again."""

    def __init__(self, port, delay):
        self.delay, self.accepted, self.sessions = delay, [], []
        relay = self

        class Session(socketserver.StreamRequestHandler):
            def handle(self):
                relay.sessions.append(self.connection)
                self.wfile.write(b"220 slow.example ESMTP\r\n")
                rcpt = []
                for line in self.rfile:
                    verb = line[:4].upper()
                    if verb in (b"EHLO", b"HELO"):
                        self.wfile.write(b"250 slow.example\r\n")
                    elif verb == b"RCPT":
                        rcpt.append(line.split(b"<", 1)[1].split(b">", 1)[0].decode())
                        self.wfile.write(b"250 OK\r\n")
                    elif verb == b"DATA":
                        self.wfile.write(b"354 go on\r\n")
                        for body in self.rfile:
                            if body == b".\r\n":
                                break
                        time.sleep(relay.delay)
                        relay.accepted.extend(rcpt)
                        rcpt = []
                        self.wfile.write(b"250 queued\r\n")
                    elif verb == b"QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 OK\r\n")

        self.server = serve_smtp(port, Session)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        for connection in self.sessions:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass                    # closed by the client already


def test_the_clock_answers_after_the_tick_threads_finish_their_mails(ms, c):
    """A move of the test clock promises that what fell due was done: its own run skips a mail
    a background tick thread holds (for update skip locked), so it waits for the tick threads
    before it answers. Through a relay that takes 0.4 s a mail, the threads are mid-send when
    the clock's run finds nothing left; every mail is sent when the clock answers."""
    t = template(c, subject="混雑時の送信", text="本文")
    members = [c.create_member() for _ in range(6)]
    settle(c)
    ms.mailpit.stop()
    relay = SlowRelay(ms.smtp_port, 0.4)
    try:
        mails = [send(c, t["id"], m["id"]) for m in members]
        wait_for(lambda: relay.accepted or None, timeout=20, what="the tick threads sending")
        clock(c, advance="PT1S")
        statuses = [ok(c.get("/v1/messaging/mails/" + m["id"]))["status"] for m in mails]
        assert statuses == ["sent"] * 6, statuses
        assert sorted(relay.accepted) == sorted(m["email"] for m in members)
    finally:
        relay.stop()
        ms.start_mailpit()


# --------------------------------------------------------------------------- sending rates
def at_the_start_of_a_minute(c):
    """Moves the clock to 1 s past the next whole minute: a test then has ~59 s in one window."""
    now = now_ms(c)
    clock(c, to=rfc3339(now - now % 60000 + 61000))


def by_domain(ms, domain):
    return [m for m in ms.mails() if m["To"] and m["To"][0]["Address"].endswith("@" + domain)]


def test_a_domain_rate_holds_the_rest_back_to_the_next_minute(ms, c):
    """At most 2 mails a minute to carrier.example.jp (a mobile carrier's limit): of 5 queued
    at once, 2 go in the first minute, 2 in the next, 1 in the third; a mail to another domain
    is not held back. Then a global rate of 3 a minute over 4 mails to 4 domains: 3, then 1."""
    t = template(c, subject="配信速度", text="本文")
    carrier = [c.create_member(email=uniq("k") + "@carrier.example.jp") for _ in range(5)]
    other = c.create_member(email=uniq("o") + "@other.example.jp")
    settle(c)
    ok(c.patch("/v1/messaging/settings", {"domain_rates": [{"domain": "carrier.example.jp", "per_minute": 2}]}))
    try:
        at_the_start_of_a_minute(c)
        mails = [send(c, t["id"], m["id"]) for m in carrier + [other]]
        settle(c)
        assert len(by_domain(ms, "carrier.example.jp")) == 2
        assert len(by_domain(ms, "other.example.jp")) == 1
        held = [r for r in (ok(c.get("/v1/messaging/mails/" + m["id"])) for m in mails) if r["status"] == "queued"]
        assert len(held) == 3
        assert {r["last_error"] for r in held} == {
            "waiting for the next minute: at most 2 mails a minute to carrier.example.jp"}
        clock(c, advance="PT1M")
        assert len(by_domain(ms, "carrier.example.jp")) == 4
        clock(c, advance="PT1M")
        assert len(by_domain(ms, "carrier.example.jp")) == 5
        assert [ok(c.get("/v1/messaging/mails/" + m["id"]))["status"] for m in mails] == ["sent"] * 6
    finally:
        ok(c.patch("/v1/messaging/settings", {"domain_rates": []}))
    assert ok(c.get("/v1/messaging/settings"))["domain_rates"] == []

    spread = [c.create_member(email="%s@d%d.example.jp" % (uniq("g"), i)) for i in range(4)]
    settle(c)
    ok(c.patch("/v1/messaging/settings", {"rate_per_minute": 3}))
    try:
        at_the_start_of_a_minute(c)
        mails = [send(c, t["id"], m["id"]) for m in spread]
        settle(c)
        statuses = [ok(c.get("/v1/messaging/mails/" + m["id"])) for m in mails]
        assert sorted(r["status"] for r in statuses) == ["queued", "sent", "sent", "sent"]
        assert [r["last_error"] for r in statuses if r["status"] == "queued"] == [
            "waiting for the next minute: at most 3 mails a minute"]
        clock(c, advance="PT1M")
        assert [ok(c.get("/v1/messaging/mails/" + m["id"]))["status"] for m in mails] == ["sent"] * 4
    finally:
        ok(c.patch("/v1/messaging/settings", {"rate_per_minute": 0}))


def test_rates_and_charset_are_checked_when_saved(c):
    before = ok(c.get("/v1/messaging/settings"))
    assert (before["rate_per_minute"], before["domain_rates"], before["charset"]) == (0, [], "utf-8")
    cases = [
        ({"domain_rates": [{"domain": "Docomo.ne.jp", "per_minute": 300}]},
         {"domain_rates[0].domain": "must be a mail domain in lower case, such as docomo.ne.jp"}),
        ({"domain_rates": [{"domain": "docomo.ne.jp", "per_minute": 300}, {"domain": "docomo.ne.jp", "per_minute": 1}]},
         {"domain_rates[1].domain": "is given twice"}),
        ({"domain_rates": [{"domain": "localhost", "per_minute": 3}]},
         {"domain_rates[0].domain": "must be a mail domain in lower case, such as docomo.ne.jp"}),
        ({"domain_rates": [{"domain": "docomo.ne.jp", "per_minute": 0}]},
         {"domain_rates[0].per_minute": "must be an integer from 1 to 100000"}),
        ({"domain_rates": [{"domain": "docomo.ne.jp"}]}, {"domain_rates[0].per_minute": "is required"}),
        ({"rate_per_minute": -1}, {"rate_per_minute": "must be an integer from 0 to 1000000"}),
        ({"charset": "shift_jis"}, {"charset": "must be one of utf-8 or iso-2022-jp"}),
    ]
    for body, errors in cases:
        r = c.patch("/v1/messaging/settings", body)
        assert r.status_code == 400, (body, r.text)
        assert problem_fields(r) == errors, (body, r.text)
    assert ok(c.get("/v1/messaging/settings")) == before
    rates = [{"domain": "docomo.ne.jp", "per_minute": 300}, {"domain": "ezweb.ne.jp", "per_minute": 600}]
    r = ok(c.patch("/v1/messaging/settings", {"domain_rates": rates, "rate_per_minute": 1000}))
    assert (r["domain_rates"], r["rate_per_minute"]) == (rates, 1000)
    assert ok(c.get("/v1/messaging/settings"))["domain_rates"] == rates
    r = ok(c.patch("/v1/messaging/settings", {"contact": SETTINGS["contact"]}))   # not given: kept
    assert r["domain_rates"] == rates
    ok(c.patch("/v1/messaging/settings", {"domain_rates": [], "rate_per_minute": 0}))


# --------------------------------------------------------------------------- ISO-2022-JP
def test_iso_2022_jp_substitutes_what_it_cannot_carry(ms, c):
    """With the sender's charset ISO-2022-JP a mail goes as old Japanese clients read it: 7bit
    JIS text, the subject and the sender's name as =?ISO-2022-JP?B?…?= words; ① ㈱ and half-width
    kana get the substitutes Japanese senders use, 髙 (not in JIS X 0208) the geta mark 〓; the
    preview lists each substitution before anything is sent."""
    t = template(c, subject="①のご案内 ㈱カイイン", text="{{member.name}}様\nｶﾅの案内です",
                 html="<p>{{member.name}}様</p>")
    m = c.create_member(name="髙橋 一郎", email=uniq("j") + "@example.jp")
    settle(c)
    ok(c.patch("/v1/messaging/settings", {"charset": "iso-2022-jp"}))
    try:
        p = ok(c.post("/v1/messaging/templates/%s/preview" % t["id"], {"member_id": m["id"]}))
        assert p["subject"] == "(1)のご案内 (株)カイイン"
        assert p["text"] == "〓橋 一郎様\nカナの案内です"
        assert p["substitutions"] == ["① → (1)", "㈱ → (株)", "髙 → 〓", "ｶ → カ", "ﾅ → ナ"]
        send(c, t["id"], m["id"])
        settle(c)
        got = wait_for(lambda: received(ms, m["email"]) or None, timeout=20, what="the JIS mail")
        _, parsed = message(ms, got[0])
    finally:
        ok(c.patch("/v1/messaging/settings", {"charset": "utf-8"}))
    raw = parsed.raw
    assert b"\nSubject: =?ISO-2022-JP?B?" in raw and b"\nFrom: =?ISO-2022-JP?B?" in raw   # "B" words
    assert parsed["Subject"] == "(1)のご案内 (株)カイイン"
    assert parsed["From"].addresses[0].display_name == SETTINGS["from_name"]
    text, html = [part for part in parsed.walk() if part.get_content_maintype() == "text"]
    for part in (text, html):
        assert part.get_content_charset() == "iso-2022-jp" and part["Content-Transfer-Encoding"] == "7bit"
    assert text.get_content().replace("\r\n", "\n") == "〓橋 一郎様\nカナの案内です"   # 7bit: CRLF as on the wire
    assert "〓橋 一郎様" in html.get_content()
    assert b"\x1b$B" in text.get_payload(decode=True)       # JIS X 0208, shifted in by ESC $ B
    assert all(b < 0x80 for b in raw)                         # 7 bits throughout
    assert dkim_valid(raw)
    # With UTF-8 again, the same template's preview substitutes nothing
    p = ok(c.post("/v1/messaging/templates/%s/preview" % t["id"], {"member_id": m["id"]}))
    assert (p["subject"], p.get("substitutions", [])) == ("①のご案内 ㈱カイイン", [])


# --------------------------------------------------------------------------- crash safety
def kill_while_sending(ms, c, addresses, under_way, done):
    """Once under_way of the mails to addresses are in the sink, kills kaiin-messaging (-9) at a
    moment unrelated to any one mail's arrival, starts it again and waits until done(). Returns
    how many were in the sink at the kill, the addresses that got nothing, and {address:
    copies} of those that got more than one."""
    def delivered():
        return [m for m in ms.mails() if m["To"] and m["To"][0]["Address"] in addresses]

    wait_for(lambda: len(delivered()) >= under_way, timeout=120, interval=0.02, what="sending under way")
    time.sleep(random.uniform(0, 0.05))
    ms.kill_service("messaging", sig=signal.SIGKILL)
    at_kill = len(delivered())
    assert at_kill < len(addresses), "every mail went out before the kill: nothing was tested"
    ms.wait_no_workers(timeout=20, service="messaging")
    ms.start_service("messaging")
    settle(c)               # a new process's test clock catches up with the suite's on a request
    wait_for(done, timeout=240, what="every queued mail sent after the restart")
    counts = {}
    for m in delivered():
        counts[m["To"][0]["Address"]] = counts.get(m["To"][0]["Address"], 0) + 1
    return at_kill, addresses - set(counts), {k: v for k, v in counts.items() if v > 1}


@pytest.mark.heavy
@pytest.mark.chaos
def test_kill_9_while_sending_loses_and_doubles_nothing(ms, c):
    """Mails are rows committed before they are sent; each is marked sent after the relay's 250,
    its mark's commit overlapping the next mail's exchange. A kill -9 can double only a mail
    whose final dot had left (the kernel delivers it even after the kill) and whose mark had not
    committed: at most 2 per tick thread (MESSAGING_MARK_WINDOW), 2 threads, so at most 4. The
    count seen is printed."""
    t = template(c, subject="再起動テスト", text="{{member.name}}")
    members = [c.create_member(name="m%d" % i) for i in range(300)]
    settle(c)
    started = time.time() * 1000
    # Made after the registrations, asked to cover them: all queued in one transaction.
    a = automation(c, t["id"], "member.registered", starts_at="2000-01-01T00:00:00Z")
    addresses = {m["email"] for m in members}

    at_kill, lost, doubled = kill_while_sending(ms, c, addresses, 40, lambda: int(ms.sql(
        "select count(*) from messaging.mails where automation_id = '%s' and status = 'queued'"
        % a["id"])[0][0]) == 0)
    print("kill -9 after %d of %d mails: lost %d, doubled %d (%.1fs)"
          % (at_kill, len(members), len(lost), len(doubled), (time.time() * 1000 - started) / 1000))
    harness.record_fault("messaging: kill -9 while an automation sends 300 mails", "kill -9 ×1",
                         len(members), len(lost), mails_twice=sum(n - 1 for n in doubled.values()))
    assert not lost, lost
    assert len(doubled) <= 4 and all(v == 2 for v in doubled.values()), doubled
    ids = ",".join("'%s'" % m["id"] for m in members)
    sent = ms.sql("select count(*) from messaging.mails where automation_id = '%s' and status = 'sent'"
                  " and member_id in (%s)" % (a["id"], ids))
    assert sent == [[str(len(members))]], sent
    ok(c.patch("/v1/messaging/automations/" + a["id"], {"active": False}))


# --------------------------------------------------------------------------- roles
@pytest.mark.parametrize("role,read,write,send,settings", [
    ("admin", 200, 201, 201, 200), ("marketing", 200, 201, 201, 403),
    ("support", 200, 403, 201, 403), ("viewer", 200, 403, 403, 403),
    ("finance", 403, 403, 403, 403),
])
def test_roles(ms, c, role, read, write, send, settings):
    """docs/permissions.md, "Messaging"."""
    staff, password = ms.create_staff(role)
    as_role = ms.client_as(ms.login(staff["email"], password))
    t = template(c)
    m = c.create_member()
    settle(c)
    assert as_role.get("/v1/messaging/templates").status_code == read
    body = {"name": "r", "kind": "transactional", "subject": "s", "text": "t"}
    assert as_role.post("/v1/messaging/templates", body).status_code == write
    draft = {"member_id": m["id"], "kind": "transactional", "subject": "s", "text": "t"}
    assert as_role.post("/v1/messaging/templates/preview", draft).status_code == (
        200 if write == 201 else write)
    r = as_role.post("/v1/messaging/mails", {"template_id": t["id"], "member_id": m["id"]})
    assert r.status_code == send, r.text
    assert as_role.patch("/v1/messaging/settings", {"contact": SETTINGS["contact"]}).status_code == settings
