"""test_portal.py - the member portal (マイページ, issue 12 item 4) and the member-side API it uses:
the profile, mail preferences, plan (change with the prorated amount first, cancel with a reason,
invoices and their PDFs, a new card, since when a company's plan is suspended and what to pay), a forgotten password reset by mail and withdrawal, each
driven in a headless Chromium as a member does and checked through the API; then over plain
HTTP, that a member's session reaches no other member's data, and the reset's rules (the same
answer for any address, rate limits, a single-use token that expires).

The suite is this module's own (every service, mailpit, the member service's public URL set
to the suite's gateway so that the reset mail's link opens the portal under test); its test
clock moves in the last test only. A screenshot of each browser scenario's end goes to
build/test-artifacts/portal/."""

import base64
import hashlib
import os
import re
import time

import pytest
import requests

import billing_util
import harness
from billing_util import attach, clock, create_plan, finish_suite, ok, subscribe, wait_for
from harness import HTTP_TIMEOUT, REPO, new_password
from test_console import browser, by, shown, sign_in, text_of, wait  # noqa: F401
from test_member_auth import from_address, login, member_with_password
from test_members import assert_problem
from test_messaging import SETTINGS

__all__ = ["browser"]                   # the fixture, used by name

ARTIFACTS = os.path.join(REPO, "build", "test-artifacts", "portal")
RESET_EVENT = "member.password_reset_requested"


@pytest.fixture(scope="module")
def ps():
    for name in ("billing", "messaging", "analytics"):
        if not harness.built(name):
            pytest.skip("kaiin-%s is not built (%s)" % (name, harness.bin_dir()))
    if not harness.mailpit_binary():
        pytest.skip("mailpit is not installed (make build/tools/mailpit)")
    # two workers a service: the browser's scenarios ask one thing at a time
    s = harness.Suite("portal", mailpit=True, member_workers=2, billing_workers=2,
                      workers={"messaging": 2, "analytics": 2})
    s.settings.setdefault("member", {})["MEMBER_PUBLIC_URL"] = s.url("")
    s.start()
    try:
        wait_for(lambda: s.client.patch("/v1/messaging/settings", SETTINGS).status_code == 200,
                 timeout=60, interval=0.5, what="messaging's settings saved")
        s.automations_off()          # the seeded welcome mail would sit beside the reset
        # Ready says every service has workers; on a loaded machine a worker's first connection
        # to PostgreSQL may still be coming (503): wait until each answers.
        for path in ("/v1/member-ranks", "/v1/plans", "/v1/messaging/settings", "/v1/metrics/churn"):
            wait_for(lambda: all(s.client.get(path).status_code == 200 for _ in range(4)),
                     timeout=60, interval=0.5, what="every worker of %s connected" % path)
        # the reset mail messaging seeds (migration 006), on again
        seeded = [a for a in s.client.get("/v1/messaging/automations", params={"limit": 100}).json()["data"]
                  if a["name"] == "パスワード再設定のご案内"]
        assert [(a["source"], a["event_type"]) for a in seeded] == [("member", RESET_EVENT)], seeded
        r = s.client.patch("/v1/messaging/automations/" + seeded[0]["id"], {"active": True})
        assert r.status_code == 200, r.text
    except BaseException:
        s.stop()
        raise
    yield s
    finish_suite(s)


@pytest.fixture
def c(ps):
    return ps.client


@pytest.fixture
def page(browser, request):
    """The browser at a desktop's width; a screenshot of wherever the test ended kept."""
    yield browser
    os.makedirs(ARTIFACTS, exist_ok=True)
    size = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = browser.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 8000), "scale": 1}})
    with open(os.path.join(ARTIFACTS, request.node.name + ".png"), "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def phone_width(driver):
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 375, "height": 812, "deviceScaleFactor": 1, "mobile": True})


def no_wider_than_375(driver):
    assert driver.execute_script("return window.innerWidth") == 375
    assert driver.execute_script("return document.documentElement.scrollWidth") <= 375


def portal_sign_in(driver, ps, email, password):
    """Signs in on /portal/ with the keyboard alone; returns once the member's page shows."""
    from selenium.webdriver.common.keys import Keys
    driver.get(ps.url("/healthz"))
    driver.delete_all_cookies()
    driver.get(ps.url("/portal/"))
    shown(driver, "#signin-email").send_keys(email, Keys.TAB, password, Keys.ENTER)
    shown(driver, "#welcome")


def go(driver, name):
    driver.find_element(*by('nav a[data-nav="%s"]' % name)).click()
    wait(driver, lambda d: d.find_element(*by('nav a[data-nav="%s"]' % name)).get_attribute("aria-current") == "page")


def type_into(driver, css, text):
    box = shown(driver, css)
    box.clear()
    box.send_keys(text)
    return box


def member_of(c, member_id):
    return ok(c.get("/v1/members/" + member_id))


def no_personal_data_in_the_browser(driver, *values):
    """Neither the address nor the browser's storage holds any of values."""
    stored = driver.execute_script(
        "return JSON.stringify(Object.assign({}, localStorage)) + JSON.stringify(Object.assign({}, sessionStorage))")
    for value in values:
        assert value not in driver.current_url and value not in stored, (value, driver.current_url, stored)


def reset_mail_token(ps, email, count=1):
    """The token of the newest of count reset mails mailpit holds for email, once they came;
    the mail's link is checked to be the portal's page on the configured public URL."""
    mails = wait_for(lambda: (lambda got: len(got) >= count and got)(ps.mails("to:" + email)),
                     timeout=60, interval=0.5, what="%d reset mail(s) to %s" % (count, email))
    assert len(mails) == count, mails
    body = ps.mailpit_api("/api/v1/message/" + mails[0]["ID"]).json()
    assert body["Subject"] == "【株式会社カイイン】パスワード再設定のご案内"
    # the link's end, in JST as PostgreSQL reads the stored time in Asia/Tokyo
    expires = ps.sql("select to_char (expires_at at time zone 'Asia/Tokyo',"
                     " 'FMYYYY\"年\"FMMM\"月\"FMDD\"日\" HH24:MI') from member.password_resets"
                     " where email = '%s' and token_sha256 is not null order by seq desc limit 1"
                     % email.lower())[0][0]
    assert "リンクの有効期限: %s" % expires in body["Text"], body["Text"]
    links = re.findall(r"http://\S+", body["Text"])
    assert len(links) == 1 and links[0].startswith(ps.url("/portal/#reset=")), body["Text"]
    token = links[0][len(ps.url("/portal/#reset=")):]
    assert re.fullmatch(r"[0-9a-f]{64}", token), links
    assert 'href="%s"' % links[0] in body["HTML"], body["HTML"]
    return token


def this_month_reasons(c):
    churn = ok(c.get("/v1/metrics/churn"))["months"][-1]
    return {r["reason"]: r["count"] for r in churn["cancel_reasons"]}


def subscriber(ps, c, plan, **fields):
    """A member with a password and a card, subscribed by staff to plan: (member, password, sub)."""
    m, password = member_with_password(c, **fields)
    pm = attach(c, m["id"])
    return m, password, subscribe(c, m["id"], plan, payment_method_id=pm["id"])


# --------------------------------------------------------------------------- 1. profile
def test_profile_edits_the_members_own_record_with_errors_next_to_fields_at_375px(ps, c, page):
    m, password = member_with_password(c, name="佐藤 花子", name_kana="サトウ ハナコ", phone="090-1111-2222")
    other = c.create_member(name="別の 会員")
    phone_width(page)
    portal_sign_in(page, ps, m["email"], password)
    no_wider_than_375(page)
    assert text_of(page, "#welcome") == "佐藤 花子 さんのマイページ"
    assert shown(page, "#profile-name").get_attribute("value") == "佐藤 花子"
    assert text_of(page, "#profile-email") == m["email"]
    assert page.find_element(*by('label[for="profile-name_kana"]')).text == "フリガナ"

    # the API's field errors, in Japanese, next to their fields; nothing saved
    type_into(page, "#profile-name_kana", "佐藤 はなこ")      # hiragana is taken; kanji is not
    type_into(page, "#profile-phone", "12")
    page.find_element(*by("#profile-save")).click()
    assert shown(page, "#profile-name_kana-error").text == "フリガナはカタカナ（またはひらがな）で入力してください。"
    assert text_of(page, "#profile-phone-error") == "電話番号は 10〜15 桁の数字で入力してください（例: 090-1234-5678）。"
    assert page.find_element(*by("#profile-name_kana")).get_attribute("aria-invalid") == "true"
    assert page.switch_to.active_element.get_attribute("id") in ("profile-name_kana", "profile-phone")
    assert member_of(c, m["id"])["name_kana"] == "サトウ ハナコ"

    type_into(page, "#profile-name_kana", "サトウ ハナ")
    type_into(page, "#profile-phone", "080-3333-4444")
    type_into(page, "#profile-postal_code", "150-0001")
    type_into(page, "#profile-prefecture", "東京都")
    type_into(page, "#profile-address", "渋谷区神宮前1-2-3")
    page.find_element(*by("#profile-save")).click()
    assert shown(page, "#notice").text == "プロフィールを保存しました。"
    after = member_of(c, m["id"])
    assert (after["name_kana"], after["phone"], after["postal_code"], after["prefecture"], after["address"]) == \
        ("サトウ ハナ", "080-3333-4444", "150-0001", "東京都", "渋谷区神宮前1-2-3"), after
    assert after["email"] == m["email"] and after["name"] == "佐藤 花子"
    assert member_of(c, other["id"])["name"] == "別の 会員"
    audit = ok(c.get("/v1/audit-log", params={"target_id": m["id"], "action": "member.updated"}))["data"]
    assert [(e["actor_id"], e["actor_role"]) for e in audit] == [(m["id"], "member")], audit
    assert audit[0]["changes"]["phone"] == ["090-1111-2222", "080-3333-4444"]
    no_wider_than_375(page)
    no_personal_data_in_the_browser(page, m["email"], "080-3333-4444", "サトウ")


# --------------------------------------------------------------------------- 2. mail preferences
def test_mail_preferences_record_the_members_choice_with_time_method_and_source(ps, c, page):
    m, password = member_with_password(c, name="配信 太郎")
    portal_sign_in(page, ps, m["email"], password)
    go(page, "mail")
    assert shown(page, "#mail-state").text == "まだ設定されていません。"
    box = page.find_element(*by("#mail-opt-in"))
    assert not box.is_selected()
    assert page.find_element(*by('label[for="mail-opt-in"]')).text == "お知らせメールを受け取る"
    before = int(time.time() * 1000)
    box.send_keys(" ")                                      # the keyboard's space ticks it
    page.find_element(*by("#mail-save")).click()
    wait(page, lambda d: text_of(d, "#mail-state").startswith("受け取る（"))
    consent = member_of(c, m["id"])["marketing_consent"]
    assert (consent["email_opt_in"], consent["method"], consent["source"]) == (True, "portal", "portal: mail settings")
    at = billing_util.ms(consent["at"])
    assert before - 5000 <= at <= int(time.time() * 1000) + 5000, (before, consent)

    # off again: a second record in the history; the state says when
    page.find_element(*by("#mail-opt-in")).click()
    page.find_element(*by("#mail-save")).click()
    wait(page, lambda d: text_of(d, "#mail-state").startswith("受け取らない（"))
    assert member_of(c, m["id"])["marketing_consent"]["email_opt_in"] is False
    rows = ps.sql("select c.email_opt_in, c.method, c.source, c.recorded_by from member.member_consents c"
                  " join member.members m on m.seq = c.member_seq where m.id = '%s' order by c.seq" % m["id"])
    assert [tuple(r[:3]) for r in rows] == [("t", "portal", "portal: mail settings"),
                                            ("f", "portal", "portal: mail settings")], rows
    # the English switch draws the same page in English
    page.find_element(*by("#language")).click()
    assert shown(page, 'label[for="mail-opt-in"]').text == "Receive news mail"
    page.find_element(*by("#language")).click()
    assert shown(page, 'label[for="mail-opt-in"]').text == "お知らせメールを受け取る"


# --------------------------------------------------------------------------- 3. plan
def test_plan_change_shows_the_prorated_amount_then_charges_it_with_invoices_pdf_and_a_new_card(ps, c, page):
    old = create_plan(c, amount=2000, name="ベーシック")            # 税抜: ¥2,200 tax included
    new = create_plan(c, amount=3000, name="プレミアム")            # ¥3,300
    archived = create_plan(c, amount=500, name="終了したプラン")
    ok(c.patch("/v1/plans/" + archived["id"], {"status": "archived"}, headers={"If-Match": '"%d"' % archived["version"]}))
    m, password, s = subscriber(ps, c, old, name="契約 花子")
    portal_sign_in(page, ps, m["email"], password)
    go(page, "plan")
    summary = shown(page, "#plan-summary").text
    end = billing_util.ms(s["current_period_end"])
    jst = time.gmtime(end / 1000 + 9 * 3600)
    next_charge = "%d年%d月%d日" % (jst.tm_year, jst.tm_mon, jst.tm_mday)
    assert "ベーシック" in summary and "¥2,000（税抜） / 毎月" in summary, summary
    assert "次回のお支払い日\n" + next_charge in summary, summary
    first = [i for i in billing_util.invoices(c, member_id=m["id"])]
    assert len(first) == 1
    row = shown(page, 'tr[data-invoice="%s"]' % first[0]["id"])
    assert "¥2,200" in row.text and "支払い済み" in row.text, row.text

    # the change: the plans on offer (not the archived one, not the current), then the preview
    page.find_element(*by("#plan-change")).click()
    options = [o.text for o in shown(page, "#change-plan").find_elements(*by("option"))]
    assert "プレミアム（¥3,000（税抜） / 毎月）" in options and not any("終了したプラン" in o or "ベーシック" in o for o in options)
    page.find_element(*by("#change-preview-button")).click()
    assert shown(page, "#change-plan-error").text == "選んでください。"
    from selenium.webdriver.support.ui import Select
    Select(page.find_element(*by("#change-plan"))).select_by_value(new["id"])
    page.find_element(*by("#change-preview-button")).click()
    # changed the same day: the whole period is left, so ¥2,200 is credited and ¥3,300 charged
    amounts = {e.get_attribute("data-amount"): e.find_element(*by("dd")).text
               for e in shown(page, "#preview-amounts").find_elements(*by("div"))}
    assert amounts == {"unused_credit": "¥2,200", "new_charge": "¥3,300", "amount_due": "¥1,100",
                       "credit_added": "¥0"}, amounts
    assert ok(c.get("/v1/subscriptions/" + s["id"]))["plan_id"] == old["id"]      # nothing yet
    confirm = page.find_element(*by("#change-confirm"))
    assert confirm.text == "¥1,100 を支払って変更する"
    confirm.click()
    assert shown(page, "#plan-message").text == "プランを変更しました。"
    assert ok(c.get("/v1/subscriptions/" + s["id"]))["plan_id"] == new["id"]
    upd = [i for i in billing_util.invoices(c, member_id=m["id"]) if i["billing_reason"] == "subscription_update"]
    assert [(i["status"], i["total"]) for i in upd] == [("paid", 1100)], upd
    assert "プレミアム" in text_of(page, "#plan-summary")

    # every invoice with its PDF, which the member's session may open
    link = shown(page, 'tr[data-invoice="%s"] a.pdf' % upd[0]["id"])
    assert link.get_attribute("href") == ps.url("/v1/invoices/%s/pdf" % upd[0]["id"])
    cookies = {k["name"]: k["value"] for k in page.get_cookies()}
    pdf = requests.get(link.get_attribute("href"), cookies=cookies, timeout=HTTP_TIMEOUT)
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")

    # a new card: an unknown token is refused next to its field; a known one becomes the default
    type_into(page, "#card-token", "tok_nonsense")
    page.find_element(*by("#card-save")).click()
    assert shown(page, "#card-token-error").text == "カードのトークンが正しくありません。"
    type_into(page, "#card-token", "tok_mastercard")
    page.find_element(*by("#card-save")).click()
    assert shown(page, "#card-done").text == "カード（mastercard 末尾 4444）を登録しました。"
    cards = ok(c.get("/v1/members/%s/payment-methods" % m["id"]))["data"]
    default = [p for p in cards if p["is_default"]]
    assert [(p["brand"], p["last4"]) for p in default] == [("mastercard", "4444")], cards
    assert ok(c.get("/v1/subscriptions/" + s["id"]))["payment_method_id"] == default[0]["id"]


def test_a_suspended_plan_says_since_when_and_which_invoices_to_pay(ps, c, page):
    """A company member on payment terms whose invoice stays unpaid 30 days past its due date:
    billing's scheduler suspends the subscription (its invoice due 2026-01-31 23:59:59.999 JST
    moved back, as test_console_terms.py does; this suite's clock does not move), from
    2026-03-03 00:00 JST. Their plan page says since when, what to do, which invoice is overdue
    (number, amount, due date) and leads to the invoices below; no next charge is shown, as a
    suspended subscription renews no more until it is paid."""
    m, password = member_with_password(c, name="株式会社 停止商事")
    ok(c.request("PUT", "/v1/members/%s/payment-terms" % m["id"],
                 json_body={"company": True, "closing_day": 31, "due_day": 31}))
    sub = subscribe(c, m["id"], create_plan(c, amount=3000, name="法人プラン"))        # 税抜: ¥3,300
    assert sub["status"] == "active" and sub["suspended_at"] is None, sub
    late, = billing_util.invoices(c, member_id=m["id"])
    assert (late["status"], late["amount_due"]) == ("open", 3300), late
    ps.sql("update billing.invoices set due_at = '2026-01-31T14:59:59.999Z' where id = '%s'" % late["id"])
    wait_for(lambda: c.get("/v1/subscriptions/" + sub["id"]).json()["status"] == "unpaid",
             timeout=30, what="the subscription suspended")
    assert ok(c.get("/v1/subscriptions/" + sub["id"]))["suspended_at"] == "2026-03-02T15:00:00.000Z"
    portal_sign_in(page, ps, m["email"], password)
    go(page, "plan")
    notice = shown(page, "#plan-suspended")
    assert notice.text.split("\n") == [
        "2026年3月3日 00:00 からご契約を停止しています。支払期限を過ぎた未払いの請求書があります。",
        "下の請求書をお支払いください。入金が確認されると、ご契約は自動で再開します。",
        "請求書 %s：¥3,300（支払期限 2026年1月31日）" % late["number"],
        "請求書の一覧へ"], notice.text
    assert [li.get_attribute("data-invoice") for li in notice.find_elements(*by("li"))] == [late["id"]]
    summary = text_of(page, "#plan-summary")
    assert "状態\n未払い" in summary and "次回のお支払い日" not in summary, summary
    page.find_element(*by("#plan-see-invoices")).click()
    assert page.switch_to.active_element.get_attribute("id") == "invoices-title"
    assert "未払い" in shown(page, 'tr[data-invoice="%s"]' % late["id"]).text


# --------------------------------------------------------------------------- 4. reset, the scenario
def test_member_resets_the_password_from_the_mail_signs_in_cancels_and_the_reason_reaches_the_dashboard(ps, c, page):
    plan = create_plan(c, amount=1000, name="スタンダード")
    m, old_password, s = subscriber(ps, c, plan, name="再設定 花子")
    reasons_before = this_month_reasons(c)
    page.get(ps.url("/healthz"))
    page.delete_all_cookies()
    page.get(ps.url("/portal/"))
    shown(page, "#forgot-link").click()
    shown(page, "#forgot-email").send_keys(m["email"])
    page.find_element(*by("#forgot-submit")).click()
    assert shown(page, "#forgot-sent p").text.startswith("入力されたアドレスが登録されていれば")
    assert m["email"] not in page.current_url

    token = reset_mail_token(ps, m["email"])
    page.get(ps.url("/portal/#reset=" + token))
    shown(page, "#reset-password")
    assert page.current_url == ps.url("/portal/#/reset")          # the token left the address
    new = new_password()
    page.find_element(*by("#reset-password")).send_keys("short")
    page.find_element(*by("#reset-again")).send_keys("short")
    page.find_element(*by("#reset-submit")).click()
    assert shown(page, "#reset-password-error").text == "12〜256 文字で入力してください。"
    type_into(page, "#reset-password", new)
    type_into(page, "#reset-again", new)
    page.find_element(*by("#reset-submit")).click()
    assert shown(page, ".form-error").text == "新しいパスワードを設定しました。ログインしてください。"
    assert login(ps, m["email"], old_password).status_code == 401

    from selenium.webdriver.common.keys import Keys
    shown(page, "#signin-email").send_keys(m["email"], Keys.TAB, new, Keys.ENTER)
    shown(page, "#welcome")
    go(page, "plan")
    shown(page, "#plan-cancel").click()
    page.find_element(*by("#cancel-confirm")).click()
    assert shown(page, "#cancel-reason-error").text == "入力してください。"
    from selenium.webdriver.support.ui import Select
    Select(page.find_element(*by("#cancel-reason"))).select_by_value("too_expensive")
    page.find_element(*by("#cancel-comment")).send_keys("学生には高い")
    page.find_element(*by("#cancel-confirm")).click()
    assert shown(page, "#plan-message").text.startswith("解約を受け付けました。")
    x = ok(c.get("/v1/subscriptions/" + s["id"]))
    assert (x["cancel_at_period_end"], x["cancel_reason"], x["cancel_comment"], x["status"]) == \
        (True, "too_expensive", "学生には高い", "active"), x
    assert shown(page, "#plan-resume")
    counted = reasons_before.get("too_expensive", 0) + 1
    wait_for(lambda: this_month_reasons(c).get("too_expensive") == counted, timeout=30, interval=0.3,
             what="analytics to count the reason")

    # the console's dashboard shows it among the cancel reasons
    owner, password = ps.create_staff("owner")
    sign_in(page, ps, owner["email"], password)
    page.find_element(*by('nav a[data-nav="dashboard"]')).click()
    reason = shown(page, '#cancel-reasons li[data-reason="too_expensive"]')
    assert reason.find_element(*by(".reason")).text == "料金が高い"
    assert reason.find_element(*by(".count")).text == "%d 件" % counted


# --------------------------------------------------------------------------- 5. withdrawal
def test_withdrawal_needs_the_typed_phrase_and_ends_the_session(ps, c, page):
    m, password = member_with_password(c, name="退会 次郎")
    other_session = ps.client_as(login(ps, m["email"], password).json()["token"])
    portal_sign_in(page, ps, m["email"], password)
    go(page, "withdraw")
    confirm = shown(page, "#withdraw-confirm")
    assert not confirm.is_enabled()
    page.find_element(*by("#withdraw-reason")).send_keys("引っ越しのため")
    page.find_element(*by("#withdraw-typed")).send_keys("退会")
    assert not confirm.is_enabled()
    assert member_of(c, m["id"])["status"] == "free"
    page.find_element(*by("#withdraw-typed")).send_keys("する")
    assert confirm.is_enabled()
    confirm.click()
    assert shown(page, ".form-error").text == "退会の手続きが完了しました。ご利用ありがとうございました。"
    after = member_of(c, m["id"])
    assert (after["status"], after["withdrawn_reason"]) == ("withdrawn", "引っ越しのため"), after
    assert other_session.get("/v1/member-auth/me").status_code == 401
    assert login(ps, m["email"], password).status_code == 401


# --------------------------------------------------------------------------- the member-side API
def test_a_members_session_reaches_no_other_members_data(ps, c):
    m, password = member_with_password(c, name="本人 一郎")
    own = ps.client_as(login(ps, m["email"], password).json()["token"])
    plan = create_plan(c, amount=1200)
    other, _, theirs = subscriber(ps, c, plan, name="他人 二郎")
    their_invoice = billing_util.invoices(c, member_id=other["id"])[0]

    # reading or writing another member by id: the gateway refuses
    for method, path, body in (("GET", "/v1/members/" + other["id"], None),
                               ("PATCH", "/v1/members/" + other["id"], {"name": "x"}),
                               ("POST", "/v1/members/%s/withdraw" % other["id"], {}),
                               ("GET", "/v1/members/%s/data-export" % other["id"], None),
                               ("POST", "/v1/members/%s/payment-methods" % other["id"], {"type": "card", "token": "tok_visa"}),
                               ("GET", "/v1/subscriptions?member_id=" + other["id"], None)):
        assert_problem(own.request(method, path, json_body=body), 403, "forbidden")
    # by an object's id: billing answers as if it did not exist
    assert_problem(own.get("/v1/invoices/" + their_invoice["id"]), 404, "not-found")
    assert_problem(own.post("/v1/subscriptions/%s/cancel-at-period-end" % theirs["id"], {"reason": "other"}),
                   404, "not-found")
    # its own record: only the caller's, only the fields a member writes
    r = own.patch("/v1/member-auth/me", {"id": other["id"], "name": "乗っ取り"})
    assert [e["field"] for e in assert_problem(r, 400, "invalid-request")["errors"]] == ["id"]
    for key, value in (("email", "x@example.com"), ("rank", "premium"), ("status", "paid"), ("note", "x"),
                       ("attributes", {"a": 1})):
        r = own.patch("/v1/member-auth/me", {key: value})
        assert [e["field"] for e in assert_problem(r, 400, "invalid-request")["errors"]] == [key], (key, r.text)
    r = own.patch("/v1/member-auth/me", {"marketing_consent": {"email_opt_in": True, "method": "paper"}})
    assert [e["field"] for e in assert_problem(r, 400, "invalid-request")["errors"]] == ["marketing_consent.method"]
    r = own.patch("/v1/member-auth/me", {"marketing_consent": {"email_opt_in": True, "method": "portal",
                                                               "at": "2026-01-01T00:00:00Z"}})
    assert [e["field"] for e in assert_problem(r, 400, "invalid-request")["errors"]] == ["marketing_consent.at"]
    r = own.patch("/v1/member-auth/me", {"name": "本人 一郎改"}, headers={"If-Match": '"%d"' % 99})
    assert_problem(r, 412, "precondition-failed")
    me = own.get("/v1/member-auth/me")
    r = own.patch("/v1/member-auth/me", {"name": "本人 一郎改"}, headers={"If-Match": me.headers["ETag"]})
    assert r.status_code == 200 and r.json()["id"] == m["id"] and r.json()["name"] == "本人 一郎改", r.text
    assert r.headers["ETag"] == '"%d"' % (int(me.headers["ETag"].strip('"')) + 1)
    assert member_of(c, other["id"])["name"] == "他人 二郎"
    # staff keep their own routes: the member's are a member's only, and portal is a member's word
    assert_problem(c.patch("/v1/member-auth/me", {"name": "x"}), 403, "forbidden")
    assert_problem(c.post("/v1/member-auth/withdraw", {}), 403, "forbidden")
    assert_problem(c.get("/v1/plans/offered"), 403, "forbidden")
    r = c.patch("/v1/members/" + m["id"], {"marketing_consent": {"email_opt_in": True, "method": "portal"}})
    assert [e["field"] for e in assert_problem(r, 400, "invalid-request")["errors"]] == ["marketing_consent.method"]
    # the plans on offer: the active ones only
    codes = [p["code"] for p in ok(own.get("/v1/plans/offered", params={"limit": 100}))["data"]]
    active = [p["code"] for p in ok(c.get("/v1/plans", params={"status": "active", "limit": 100}))["data"]]
    assert plan["code"] in codes and codes == active, (codes, active)
    # withdrawing takes the caller alone
    r = own.post("/v1/member-auth/withdraw", {"id": other["id"]})
    assert [e["field"] for e in assert_problem(r, 400, "invalid-request")["errors"]] == ["id"]
    r = own.post("/v1/member-auth/withdraw", {"reason": "テスト"})
    assert r.status_code == 200 and r.json()["status"] == "withdrawn" and r.json()["id"] == m["id"], r.text
    assert member_of(c, other["id"])["status"] != "withdrawn"
    assert own.get("/v1/member-auth/me").status_code == 401


def resets(ps, email):
    return ps.sql("select member_id is not null, token_sha256 is not null, ip from member.password_resets"
                  " where email = '%s' order by seq" % email.lower())


def events(ps, member_id):
    return int(ps.sql("select count(*) from member.outbox where type = '%s' and aggregate_id = '%s'"
                      % (RESET_EVENT, member_id))[0][0])


def ask_reset(ps, email, address="127.0.0.1"):
    with from_address(address) as s:
        return s.post(ps.url("/v1/member-auth/password-reset"), json={"email": email}, timeout=HTTP_TIMEOUT)


def test_reset_answers_alike_for_any_address_is_rate_limited_and_its_token_is_single_use(ps, c):
    m, password = member_with_password(c, name="忘れた 三郎")
    session = ps.client_as(login(ps, m["email"], password).json()["token"])
    unknown = harness.unique_email("nobody")
    a, b = ask_reset(ps, m["email"].upper()), ask_reset(ps, unknown)
    assert (a.status_code, a.content, b.status_code, b.content) == (202, b"{}", 202, b"{}")
    assert set(a.headers) - {"Date", "X-Request-Id"} == set(b.headers) - {"Date", "X-Request-Id"}
    assert [tuple(r[:2]) for r in resets(ps, unknown)] == [("f", "f")]
    assert [tuple(r[:2]) for r in resets(ps, m["email"])] == [("t", "t")]
    assert events(ps, m["id"]) == 1
    assert_problem(ask_reset(ps, "not an address"), 400, "invalid-request")

    # 3 an hour for one address: a fourth is answered alike and sends nothing
    for _ in range(3):
        assert ask_reset(ps, m["email"]).status_code == 202
    assert [tuple(r[:2]) for r in resets(ps, m["email"])] == [("t", "t")] * 3 + [("f", "f")]
    assert events(ps, m["id"]) == 3
    first = reset_mail_token(ps, m["email"], 3)         # the newest mail's
    # only the token's hash is kept
    digest = hashlib.sha256(first.encode()).hexdigest()
    assert ps.sql("select count(*) from member.password_resets where token_sha256 = '%s'" % digest)[0][0] == "1"
    assert ps.sql("select count(*) from member.password_resets where token_sha256 = '%s'" % first)[0][0] == "0"

    # 20 an hour from one client address, whatever the addresses asked for
    other, _ = member_with_password(c)
    for i in range(20):
        assert ask_reset(ps, harness.unique_email("flood"), "127.0.0.9").status_code == 202
    assert ask_reset(ps, other["email"], "127.0.0.9").status_code == 202
    assert [tuple(r) for r in resets(ps, other["email"])] == [("f", "f", "127.0.0.9")]
    assert events(ps, other["id"]) == 0

    # the confirmation: the password's rule first (the token stays good), then once only
    r = requests.post(ps.url("/v1/member-auth/password-reset/confirm"), json={"token": first, "new_password": "short"},
                      timeout=HTTP_TIMEOUT)
    assert [e["field"] for e in assert_problem(r, 400, "invalid-request")["errors"]] == ["new_password"]
    r = requests.post(ps.url("/v1/member-auth/password-reset/confirm"), json={"token": "XYZ", "new_password": new_password()},
                      timeout=HTTP_TIMEOUT)
    assert [e["field"] for e in assert_problem(r, 400, "invalid-request")["errors"]] == ["token"]
    fresh = new_password()
    r = requests.post(ps.url("/v1/member-auth/password-reset/confirm"), json={"token": first, "new_password": fresh},
                      timeout=HTTP_TIMEOUT)
    assert r.status_code == 204 and r.content == b"", r.text
    assert session.get("/v1/member-auth/me").status_code == 401          # its sessions ended
    assert login(ps, m["email"], password).status_code == 401
    assert login(ps, m["email"], fresh).status_code == 200
    r = requests.post(ps.url("/v1/member-auth/password-reset/confirm"), json={"token": first, "new_password": new_password()},
                      timeout=HTTP_TIMEOUT)
    assert [(e["field"], e["reason"]) for e in assert_problem(r, 400, "invalid-request")["errors"]] == \
        [("token", "is not a reset token, or it was used or has expired")]
    # the member's other tokens are spent with it
    assert ps.sql("select count(*) from member.password_resets where member_id = '%s' and used_at is null"
                  " and token_sha256 is not null" % m["id"])[0][0] == "0"
    audit = ok(c.get("/v1/audit-log", params={"target_id": m["id"], "action": "member.password_set"}))["data"]
    assert [(e["actor_id"], e["actor_role"]) for e in audit][0] == (m["id"], "member"), audit


def test_reset_requests_are_in_the_data_export_and_go_with_erasure(ps, c):
    m, _ = member_with_password(c, name="開示 五郎")
    assert ask_reset(ps, m["email"], "127.0.0.7").status_code == 202
    data = ok(c.get("/v1/members/%s/data-export" % m["id"]))
    assert [(r["ip"], r["used_at"]) for r in data["password_resets"]] == [("127.0.0.7", None)], data
    assert "token" not in str(data["password_resets"])
    ok(c.post("/v1/members/%s/erase" % m["id"], {"reason": "本人からの削除依頼"}))
    assert resets(ps, m["email"]) == []
    assert ps.sql("select count(*) from member.password_resets where member_id = '%s'" % m["id"]) == [["0"]]


def test_a_reset_token_expires_after_an_hour(ps, c):
    """Last: moves the suite's test clock."""
    m, password = member_with_password(c, name="期限 四郎")
    assert ask_reset(ps, m["email"]).status_code == 202
    token = reset_mail_token(ps, m["email"])
    clock(c, advance="PT61M")
    r = requests.post(ps.url("/v1/member-auth/password-reset/confirm"), json={"token": token, "new_password": new_password()},
                      timeout=HTTP_TIMEOUT)
    assert [e["field"] for e in assert_problem(r, 400, "invalid-request")["errors"]] == ["token"]
    assert login(ps, m["email"], password).status_code == 200
    # an hour on, the address may ask again
    assert ask_reset(ps, m["email"]).status_code == 202
    assert events(ps, m["id"]) == 2
