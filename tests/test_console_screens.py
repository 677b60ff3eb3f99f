"""test_console_screens.py - the console's screens after the members' (issue 12, item 3) in a real
headless Chromium: the dashboard against analytics' own figures, billing (plans, subscriptions,
invoices, refunds), the inquiries' inbox, API keys with the audit log, and what a viewer may not
do. Each scenario drives the page as a person does and checks the outcome through the API; one
browser for the module (test_console.py's), a screenshot of each scenario's end in
build/test-artifacts/console/."""

import re
import time
import uuid

import requests
from selenium.webdriver.support.ui import Select

import billing_util
from harness import HTTP_TIMEOUT
from test_console import browser, by, menu, page, screenshot, shown, sign_in, staff, text_of, wait  # noqa: F401

__all__ = ["browser", "page"]      # fixtures used by name


def yen(amount):
    return ("-¥" if amount < 0 else "¥") + "{:,}".format(abs(amount))


def this_month(client):
    """Analytics' current month of the subscription metrics and of churn, through the API."""
    metrics = client.get("/v1/metrics/subscriptions")
    churn = client.get("/v1/metrics/churn")
    assert metrics.status_code == 200 and churn.status_code == 200, (metrics.text, churn.text)
    return metrics.json()["months"][-1], churn.json()["months"][-1]


def reasons_of(churn_month):
    return {r["reason"]: r["count"] for r in churn_month["cancel_reasons"]}


def until(what, check, timeout=20):
    """check() until it returns something true (analytics reads events a moment later)."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, "waited %ds for %s" % (timeout, what)
        time.sleep(0.2)


def subscribed(client, plan, name):
    m = client.create_member(name=name)
    billing_util.attach(client, m["id"])
    return m, billing_util.subscribe(client, m["id"], plan)


def find_row(driver, list_id, css):
    """The row css of the list list_id once the list shows its latest filters' rows, pressing
    its "show more" button until the row comes (lists are newest first, yet the shared suite
    may hold many rows)."""
    def found_or_more(d):
        if d.find_elements(*by("#%s[aria-busy]" % list_id)):
            return False
        if d.find_elements(*by("#%s %s" % (list_id, css))):
            return d.find_element(*by("#%s %s" % (list_id, css)))
        button = d.find_elements(*by("#%s-more" % list_id))
        if button and button[0].is_displayed() and button[0].is_enabled():
            button[0].click()
        return False
    return wait(driver, found_or_more)


def no_wider_than(driver, width):
    assert driver.execute_script("return document.documentElement.scrollWidth") <= width


def test_dashboard_shows_the_metrics_mrr_and_a_cancel_reason_given_through_the_api(suite, client, page):
    before, churn_before = this_month(client)
    plan = billing_util.create_plan(client, amount=1000, tax_mode="exclusive", tax_rate=10)
    subscribed(client, plan, "ダッシュ 一郎")                         # MRR +¥1,000
    _, leaving = subscribed(client, plan, "ダッシュ 二郎")
    r = client.post("/v1/subscriptions/%s/cancel" % leaving["id"], {"reason": "switched_service", "comment": "他社へ"})
    assert r.status_code == 200, r.text
    switched = reasons_of(churn_before).get("switched_service", 0) + 1
    subject = "お問い合わせ " + uuid.uuid4().hex[:8]
    asking = client.create_member(name="問い合わせ 花子")
    assert client.post("/v1/members/%s/inquiries" % asking["id"], {"subject": subject, "body": "営業時間は？",
                                                                    "channel": "phone", "category": "other"}).status_code == 201
    mrr, churn = until("analytics to count the subscriptions and the cancel reason", lambda: (lambda m, c: (
        m["mrr"] == before["mrr"] + 1000 and reasons_of(c).get("switched_service") == switched
        and any(p["plan"] == plan["code"] for p in c["plans"]) and (m, c)))(*this_month(client)))

    email, password, _ = staff(suite, "owner")
    sign_in(page, suite, email, password)
    page.find_element(*by('nav a[data-nav="dashboard"]')).click()
    value = shown(page, "#kpi-mrr .kpi-value")
    assert value.text == yen(mrr["mrr"]) and mrr["mrr"] >= 1000, (value.text, mrr)
    assert yen(mrr["arr"]) in text_of(page, "#kpi-mrr")
    assert text_of(page, "#kpi-subscribers .kpi-value") == "%s 人" % "{:,}".format(mrr["subscribers"])
    assert text_of(page, "#kpi-arpa .kpi-value") == yen(mrr["arpa"])
    members = text_of(page, "#kpi-members")
    now, _ = this_month(client)         # the member who asked may be counted since the wait above
    assert "アクティブ {:,} 人・非アクティブ {:,} 人".format(now["active_members"], now["inactive_members"]) in members, members
    # the cancel reason given through the API, counted as analytics counts it
    reason = shown(page, '#cancel-reasons li[data-reason="switched_service"]')
    assert reason.find_element(*by(".reason")).text == "他のサービスに乗り換え"
    assert reason.find_element(*by(".count")).text == "%d 件" % switched
    assert text_of(page, "#cancellations") == "この月の解約の申し込み: %d 件" % churn["cancellations"]
    mine = [p for p in churn["plans"] if p["plan"] == plan["code"]][0]
    row = page.find_element(*by('#churn-by-plan tr[data-plan="%s"]' % plan["code"]))
    assert yen(mine["churn"]) in row.text and mine["churn"] == -1000, (row.text, mine)
    # twelve months drawn, the last one's bar titled with the same MRR; the open inquiry waits
    bars = page.find_elements(*by("#mrr-chart g.column"))
    assert len(bars) == 12
    assert yen(mrr["mrr"]) in bars[-1].find_element(*by("title")).get_attribute("textContent")
    assert subject in text_of(page, "#open-inquiries")
    wait(page, lambda d: not d.find_elements(*by("main [aria-busy]")))
    assert not page.find_elements(*by("main .form-error")), text_of(page, "main")
    assert this_month(client)[0]["mrr"] == mrr["mrr"]                 # nothing moved meanwhile
    screenshot(page, "dashboard")
    # the shown month's report, downloaded as a file in the screen's language
    page.find_element(*by("#dashboard-report")).click()
    wait(page, lambda d: text_of(d, "#announce") == "月次レポートをダウンロードしました。")
    names = page.execute_script("return performance.getEntries().map(e => e.name)")
    assert any("/v1/reports/monthly?month=%s&format=csv" % mrr["month"] in n for n in names), names


def test_dashboard_lists_the_open_alerts_an_owner_acknowledges_one_a_viewer_only_reads(suite, client, page):
    tag = uuid.uuid4().hex[:8]
    # An alert as analytics raises it (test_analytics_alerts.py makes them from real spikes),
    # written here into analytics' table so that this screen has one of its own to show.
    [[alert_id]] = suite.sql(
        "insert into analytics.alerts (rule, subject, period, value, baseline, message, raised_at_ms)"
        " values ('inquiries_spike', '%s', '2026-W49', 9, 4, '直近7日間の問い合わせ 9件 %s',"
        " (extract (epoch from now ()) * 1000)::bigint) returning id" % (tag, tag))
    row = '#open-alerts li[data-alert-id="%s"]' % alert_id

    def count_shown():
        """The open alerts the screen counts (analytics may raise one of its own meanwhile: the
        shared suite's inquiries come in bursts, so the count is read from the page)."""
        found = re.fullmatch(r"未確認のアラートが (\d+) 件あります。", text_of(page, "#open-alerts-count"))
        return int(found.group(1)) if found else 0

    viewer, viewer_password, _ = staff(suite, "viewer")
    sign_in(page, suite, viewer, viewer_password)
    page.get(suite.url("/#/dashboard"))
    item = shown(page, row)
    assert "問い合わせの急増" in item.text and "直近7日間の問い合わせ 9件 " + tag in item.text, item.text
    assert count_shown() >= 1
    assert not item.find_elements(*by("button.acknowledge"))

    email, password, owner_id = staff(suite, "owner")
    sign_in(page, suite, email, password)
    page.get(suite.url("/#/dashboard"))
    button = shown(page, row).find_element(*by("button.acknowledge"))
    open_alerts = count_shown()
    button.click()
    wait(page, lambda d: not d.find_elements(*by(row)))
    left = open_alerts - 1
    assert text_of(page, "#open-alerts-count") == (
        "未確認のアラートが %d 件あります。" % left if left else "未確認のアラートはありません。")
    done = [a for a in client.get("/v1/analytics/alerts", params={"status": "acknowledged", "limit": 100}).json()["data"]
            if a["id"] == int(alert_id)]
    assert len(done) == 1 and done[0]["acknowledged_by"] == owner_id, done
    screenshot(page, "dashboard-alerts")


def test_billing_creates_a_plan_cancels_with_a_reason_and_refunds_part_of_an_invoice(suite, client, page):
    plan = billing_util.create_plan(client, amount=1000, tax_mode="exclusive", tax_rate=10)
    m, sub = subscribed(client, plan, "請求 花子")
    invoice = billing_util.invoices(client, member_id=m["id"])[0]
    email, password, _ = staff(suite, "finance")
    sign_in(page, suite, email, password)
    assert menu(page) == ["ダッシュボード", "会員", "問い合わせ", "請求", "設定"]
    page.find_element(*by('nav a[data-nav="billing"]')).click()

    # a plan: the API's field errors next to their fields, in Japanese; then created
    shown(page, "#plan-create").click()
    shown(page, "#plan-code").send_keys("Bad Code")
    page.find_element(*by("#plan-name")).send_keys("回数券プラン")
    page.find_element(*by("#plan-amount")).send_keys("千円")
    page.find_element(*by("#plan-save")).click()
    assert shown(page, "#plan-amount-error").text == "金額は 0 以上の整数（円）で入力してください。"
    assert text_of(page, "#plan-code-error") == "コードは半角英小文字・数字・-・_ で入力してください。"
    assert page.find_element(*by("#plan-code")).get_attribute("aria-invalid") == "true"
    code = "kaisuu-" + uuid.uuid4().hex[:8]
    for css, text in (("#plan-code", code), ("#plan-amount", "3000")):
        page.find_element(*by(css)).clear()
        page.find_element(*by(css)).send_keys(text)
    Select(page.find_element(*by("#plan-tax_mode"))).select_by_value("exclusive")
    Select(page.find_element(*by("#plan-tax_rate"))).select_by_value("8")
    page.find_element(*by("#plan-save")).click()
    row = find_row(page, "plans", 'tr[data-plan-code="%s"]' % code)
    assert "¥3,000（税抜）" in row.text and "8%" in row.text and "毎月" in row.text, row.text
    created = client.get("/v1/plans/" + code).json()
    assert (created["name"], created["amount"], created["tax_mode"], created["tax_rate"]) == ("回数券プラン", 3000, "exclusive", 8)
    row.find_element(*by("button.small")).click()                      # 販売を終了
    wait(page, lambda d: "販売終了" in find_row(d, "plans", 'tr[data-plan-code="%s"]' % code).text)
    assert client.get("/v1/plans/" + code).json()["status"] == "archived"

    # a subscription cancelled with a reason (none chosen: the dialog says so, nothing sent)
    page.find_element(*by('.tabs a[data-tab="billing/subscriptions"]')).click()
    Select(shown(page, "#subscription-status")).select_by_value("active")
    row = find_row(page, "subscriptions", 'tr[data-subscription-id="%s"]' % sub["id"])
    wait(page, lambda d: "請求 花子" in row.text)
    row.find_element(*by(".cancel-subscription")).click()
    shown(page, "dialog .confirm").click()
    assert shown(page, "#cancel-reason-error").text == "選んでください。"
    assert billing_util.subscription(client, sub["id"])["status"] == "active"
    Select(page.find_element(*by("#cancel-reason"))).select_by_value("missing_features")
    page.find_element(*by("#cancel-comment")).send_keys("予約機能がほしい")
    page.find_element(*by("dialog .confirm")).click()
    wait(page, lambda d: not d.find_elements(*by("dialog")))
    after = billing_util.subscription(client, sub["id"])
    assert (after["status"], after["cancel_reason"], after["cancel_comment"]) == ("canceled", "missing_features", "予約機能がほしい")
    wait(page, lambda d: not d.find_elements(*by('tr[data-subscription-id="%s"]' % sub["id"])))   # not active now

    # the invoice: its lines and the tax per rate; a refund of part of its payment
    page.find_element(*by('.tabs a[data-tab="billing/invoices"]')).click()
    Select(shown(page, "#invoice-status")).select_by_value("paid")
    find_row(page, "invoices", 'tr[data-invoice-id="%s"]' % invoice["id"]).find_element(*by(".invoice-link")).click()
    assert shown(page, "#invoice-title").text == "請求書 " + invoice["number"]
    assert invoice["id"] in page.current_url
    tax = page.find_element(*by('#invoice-taxes tr[data-rate="10"]')).text
    assert "10% 対象" in tax and "¥1,000" in tax and "¥100" in tax, tax
    assert text_of(page, "#invoice-totals .total dd") == "¥1,100"
    assert plan["name"] in text_of(page, "#invoice-lines")
    shown(page, ".refund-payment").click()
    amount = shown(page, "#refund-amount")
    assert amount.get_attribute("value") == "1100"
    amount.clear()
    amount.send_keys("2000")
    page.find_element(*by("dialog .confirm")).click()
    assert shown(page, "#refund-amount-error").text == "1 円から ¥1,100 までの整数で入力してください。"
    amount.clear()
    amount.send_keys("300")
    page.find_element(*by("dialog .confirm")).click()
    refund = shown(page, "#refund-list tbody tr")
    assert "CN-" in refund.text and "¥300" in refund.text and "お客様からの依頼" in refund.text, refund.text
    assert text_of(page, "#invoice-totals .refunded dd") == "¥300"
    refunds = billing_util.get(client, "/v1/refunds", invoice_id=invoice["id"])["data"]
    assert [(x["amount"], x["reason"]) for x in refunds] == [(300, "requested_by_customer")]
    assert billing_util.invoice(client, invoice["id"])["amount_refunded"] == 300

    page.find_element(*by("#invoice-title"))                   # the list of every refund has it
    page.get(suite.url("/#/billing/refunds"))
    assert "¥300" in find_row(page, "refunds", 'tr[data-refund-id="%s"]' % refunds[0]["id"]).text
    screenshot(page, "billing")


def test_inquiry_inbox_reply_status_and_assignee_at_375px(suite, client, page):
    m = client.create_member(name="問い合わせ 太郎")
    word = uuid.uuid4().hex[:10]
    subject = "ログインできません " + word
    inquiry = client.post("/v1/members/%s/inquiries" % m["id"], {"subject": subject, "body": "パスワードを忘れました。",
                                                                  "channel": "phone", "category": "account"}).json()
    email, password, sid = staff(suite, "support", name="サポート 次郎")
    page.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                         {"width": 375, "height": 812, "deviceScaleFactor": 1, "mobile": True})
    try:
        sign_in(page, suite, email, password)
        assert menu(page) == ["ダッシュボード", "会員", "問い合わせ", "メール", "請求", "設定"]
        page.find_element(*by('nav a[data-nav="inquiries"]')).click()
        assert Select(shown(page, "#inquiry-status")).first_selected_option.text == "未対応"
        page.find_element(*by("#inquiry-search")).send_keys(word)
        row = wait(page, lambda d: len(d.find_elements(*by("#inquiries tbody tr"))) == 1
                   and d.find_element(*by("#inquiries tbody tr")))
        assert row.get_attribute("data-inquiry-id") == inquiry["id"]
        wait(page, lambda d: "問い合わせ 太郎" in row.text)
        assert "未対応" in row.text and "未割り当て" in row.text and word not in page.current_url
        no_wider_than(page, 375)
        row.find_element(*by(".inquiry-link")).click()
        assert shown(page, "#inquiry-title").text == subject
        assert "パスワードを忘れました。" in text_of(page, "#inquiry-thread")

        # a reply (the box says to wait for the member), then resolved and assigned to me
        assert page.find_element(*by("#reply-pending")).is_selected()
        page.find_element(*by("#reply-send")).click()
        assert shown(page, "#reply-body-error").text == "入力してください。"
        page.find_element(*by("#reply-body")).send_keys("再設定メールを送りました。\nご確認ください。")
        page.find_element(*by("#reply-send")).click()
        wait(page, lambda d: len(d.find_elements(*by("#inquiry-thread li"))) == 2)
        assert text_of(page, "#inquiry-state") == "返信待ち"
        last = page.find_elements(*by("#inquiry-thread li"))[-1].text
        assert "サポート 次郎" in last and "再設定メールを送りました。\nご確認ください。" in last, last
        stored = client.get("/v1/inquiries/" + inquiry["id"]).json()
        assert stored["status"] == "pending"
        assert [(x["author_type"], x["author_id"]) for x in stored["messages"]][-1] == ("staff", sid)

        Select(page.find_element(*by("#inquiry-set-status"))).select_by_value("resolved")
        Select(page.find_element(*by("#inquiry-set-assignee"))).select_by_value(sid)
        assert Select(page.find_element(*by("#inquiry-set-assignee"))).first_selected_option.text == "サポート 次郎（自分）"
        page.find_element(*by("#inquiry-save")).click()
        wait(page, lambda d: text_of(d, "#inquiry-state") == "解決済み")
        assert text_of(page, ".assignee dd") == "サポート 次郎"
        stored = client.get("/v1/inquiries/" + inquiry["id"]).json()
        assert (stored["status"], stored["assignee_id"]) == ("resolved", sid) and stored["resolved_at"]
        no_wider_than(page, 375)
        screenshot(page, "inquiry-375px")
    finally:
        page.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_api_key_secret_shown_once_revoked_and_both_in_the_audit_log(suite, client, page):
    email, password, admin_id = staff(suite, "admin", name="管理 三郎")
    sign_in(page, suite, email, password)
    assert menu(page)[-3:] == ["API キー", "監査ログ", "設定"]
    page.find_element(*by('nav a[data-nav="api-keys"]')).click()
    shown(page, "#api-key-create").click()
    assert shown(page, "#api-key-name-error").text == "入力してください。"
    name = "夜間エクスポート " + uuid.uuid4().hex[:6]
    page.find_element(*by("#api-key-name")).send_keys(name)
    Select(page.find_element(*by("#api-key-role"))).select_by_value("marketing")
    page.find_element(*by("#api-key-create")).click()
    secret = shown(page, "#api-key-secret").text
    assert re.fullmatch(r"kak_[0-9a-f]{64}", secret), secret
    me = requests.get(suite.url("/v1/me"), headers={"Authorization": "Bearer " + secret}, timeout=HTTP_TIMEOUT)
    assert me.status_code == 200 and (me.json()["kind"], me.json()["role"]) == ("api_key", "marketing"), me.text
    key_id = me.json()["id"]
    row = shown(page, 'tr[data-key-id="%s"]' % key_id)
    assert name in row.text and "マーケティング" in row.text and secret[:12] in row.text and "有効" in row.text
    kept = page.execute_script("return [location.href, JSON.stringify(Object.entries(localStorage)), "
                               "JSON.stringify(Object.entries(sessionStorage)), document.cookie]")
    assert not any(secret in k or secret[4:20] in k for k in kept), kept

    # shown once: leaving the screen and coming back, it is nowhere on the page
    page.find_element(*by('nav a[data-nav="audit"]')).click()
    shown(page, "#audit-action")
    page.find_element(*by('nav a[data-nav="api-keys"]')).click()
    shown(page, 'tr[data-key-id="%s"]' % key_id)
    assert secret not in page.page_source and not page.find_elements(*by("#api-key-secret"))

    page.find_element(*by('tr[data-key-id="%s"] .revoke-key' % key_id)).click()
    shown(page, "dialog .confirm").click()
    wait(page, lambda d: "無効（" in text_of(d, 'tr[data-key-id="%s"]' % key_id))
    assert not page.find_elements(*by('tr[data-key-id="%s"] .revoke-key' % key_id))
    gone = requests.get(suite.url("/v1/me"), headers={"Authorization": "Bearer " + secret}, timeout=HTTP_TIMEOUT)
    assert gone.status_code == 401

    # the audit log: this key's creation and revocation, by this admin, newest first
    page.find_element(*by('nav a[data-nav="audit"]')).click()
    shown(page, "#audit-action").send_keys("api_key.")
    Select(page.find_element(*by("#audit-target-type"))).select_by_value("api_key")
    page.find_element(*by("#audit-target-id")).send_keys(key_id)
    wait(page, lambda d: d.execute_script(
        "return !document.getElementById('audit').hasAttribute('aria-busy') && "
        "document.querySelectorAll('#audit tbody tr').length === 2"))
    rows = page.find_elements(*by("#audit tbody tr"))
    assert [r.get_attribute("data-action") for r in rows] == ["api_key.revoke", "api_key.create"]
    wait(page, lambda d: all("管理 三郎（管理者）" in r.text for r in rows))
    assert "API キーの無効化" in rows[0].text and "API キーの作成" in rows[1].text
    assert name in rows[1].text and "marketing" in rows[1].text                  # its changes
    entries = client.get("/v1/audit-log", params={"target_id": key_id}).json()["data"]
    assert [(e["action"], e["actor_id"]) for e in entries] == [("api_key.revoke", admin_id), ("api_key.create", admin_id)]
    assert secret not in page.page_source
    screenshot(page, "api-keys-audit")


def test_a_viewer_reads_every_screen_at_375px_without_the_buttons_of_writes(suite, client, page):
    plan = billing_util.create_plan(client, amount=500)
    m, sub = subscribed(client, plan, "閲覧 確認")
    invoice = billing_util.invoices(client, member_id=m["id"])[0]
    inquiry = client.post("/v1/members/%s/inquiries" % m["id"], {"subject": "閲覧のみ", "body": "確認",
                                                                  "channel": "email", "category": "other"}).json()
    email, password, _ = staff(suite, "viewer")
    page.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                         {"width": 375, "height": 812, "deviceScaleFactor": 1, "mobile": True})
    try:
        sign_in(page, suite, email, password)
        page.get(suite.url("/#/billing/plans"))
        find_row(page, "plans", 'tr[data-plan-code="%s"]' % plan["code"])
        assert not page.find_elements(*by("#plan-create")) and not page.find_elements(*by("#plans button.small"))
        no_wider_than(page, 375)
        page.get(suite.url("/#/billing/subscriptions"))
        find_row(page, "subscriptions", 'tr[data-subscription-id="%s"]' % sub["id"])
        assert not page.find_elements(*by(".cancel-subscription"))
        no_wider_than(page, 375)
        page.get(suite.url("/#/billing/invoices/" + invoice["id"]))
        shown(page, "#invoice-payments tbody tr")
        assert not page.find_elements(*by(".refund-payment"))
        no_wider_than(page, 375)
        page.get(suite.url("/#/inquiries/" + inquiry["id"]))
        assert shown(page, "#inquiry-title").text == "閲覧のみ"
        assert not page.find_elements(*by("#reply-form")) and not page.find_elements(*by("#inquiry-form"))
        no_wider_than(page, 375)
        for path in ("#/api-keys", "#/audit"):                      # not in the menu, refused if typed
            page.get(suite.url("/" + path))
            assert shown(page, "main h1").text == "この画面は使えません"
        page.get(suite.url("/#/dashboard"))
        shown(page, "#kpi-mrr .kpi-value")
        wait(page, lambda d: not d.find_elements(*by("main [aria-busy]")))
        no_wider_than(page, 375)
        screenshot(page, "viewer-dashboard-375px")
    finally:
        page.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
