"""test_journeys.py - the product's own scenarios across services, end to end: analytics sees a
paid-for habit break and messaging acts on it, over real SMTP (mailpit), on the test clock.

"未ログインが10日続いたらリマインドする": a member who has not logged in for 10 days gets one
reminder (not on day 9, not twice for one spell), and a login starts a new spell. The path is
member's events → analytics' inactivity signal (signal.inactive) → messaging's automation on
that signal → a mail. The 7-day guide and the 10th purchase are in test_messaging.py."""

import pytest

import harness
from billing_util import clock, finish_suite, ok, uniq, wait_for
from test_messaging import transactional_off

SETTINGS = {"from_name": "会員サポート", "from_address": "support@kaiin.example.jp",
            "reply_to": "reply@kaiin.example.jp", "business_name": "株式会社カイイン",
            "postal_address": "東京都千代田区千代田1-1", "contact": "03-1234-5678"}
PASSWORD = "a member's long passphrase"


@pytest.fixture(scope="module")
def js():
    for name in ("billing", "analytics", "messaging"):
        if not harness.built(name):
            pytest.skip("kaiin-%s is not built (%s)" % (name, harness.bin_dir()))
    if not harness.mailpit_binary():
        pytest.skip("mailpit is not installed (make test installs it in build/tools)")
    # billing too: analytics raises a signal only once every source it reads is caught up
    s = harness.Suite("journeys", mailpit=True).start()
    wait_for(lambda: s.client.patch("/v1/messaging/settings", SETTINGS).status_code == 200,
             timeout=60, interval=0.5, what="messaging's settings saved")
    transactional_off(s.client)        # the welcome mail would be one more to count
    yield s
    finish_suite(s)


def mails_to(js, address):
    return [m for m in js.mails() if any(t["Address"] == address for t in m["To"])]


def log_in(js, m):
    r = js.client.request("POST", "/v1/member-auth/login", auth=False,
                          json_body={"email": m["email"], "password": PASSWORD})
    assert r.status_code == 200, r.text


def test_ten_days_without_login_sends_one_reminder_per_spell(js):
    c = js.client
    t = ok(c.post("/v1/messaging/templates", {
        "name": uniq("reminder"), "kind": "marketing",
        "subject": "{{member.name}}さん、最近お見かけしません",
        "html": "<p>{{member.name}}様</p><p>{{event.days}}日ぶりのご案内です。</p>",
        "text": "{{member.name}}様\n{{event.days}}日ぶりのご案内です。"}), 201)
    ok(c.post("/v1/messaging/automations", {"name": uniq("inactive"), "source": "analytics",
                                            "event_type": "signal.inactive",
                                            "template_id": t["id"]}), 201)
    m = c.create_member(name="高橋 健", marketing_consent={
        "email_opt_in": True, "method": "web_form", "source": "signup form"})
    r = c.post("/v1/members/%s/password" % m["id"], {"password": PASSWORD})
    assert r.status_code == 204, r.text
    log_in(js, m)
    clock(c, advance="PT1S")

    clock(c, advance="P9D")                     # 9 days without a login: nothing yet
    assert mails_to(js, m["email"]) == []
    clock(c, advance="P1DT1H")                  # the 10th day: one reminder
    got = wait_for(lambda: mails_to(js, m["email"]), what="the reminder in mailpit")
    assert len(got) == 1, got
    full = js.mailpit_api("/api/v1/message/" + got[0]["ID"]).json()
    assert full["Subject"] == "高橋 健さん、最近お見かけしません"
    assert full["Text"].startswith("高橋 健様\n10日ぶりのご案内です。"), full["Text"]
    assert "株式会社カイイン" in full["Text"]      # marketing mail: the sender's legal footer

    clock(c, advance="P5D")                     # the same spell: no second reminder
    assert len(mails_to(js, m["email"])) == 1

    log_in(js, m)                               # back: a new spell starts
    clock(c, advance="P9D")
    assert len(mails_to(js, m["email"])) == 1
    clock(c, advance="P1DT1H")
    wait_for(lambda: len(mails_to(js, m["email"])) == 2, what="the second spell's reminder")
    clock(c, advance="P3D")
    assert len(mails_to(js, m["email"])) == 2
