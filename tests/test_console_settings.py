"""test_console_settings.py - 設定 in a real headless Chromium (issue 12, item 3): messaging's sender
and legal footer and billing's invoice issuer, registration number and dunning days saved through
their APIs with If-Match, the APIs' field errors next to their fields in Japanese, analytics'
inactivity days, churn-risk threshold and purchase milestones, the rank automation's rules, and a
role that may only read them. The settings are put back as they were, for the shared suite's other
tests."""

import uuid

import pytest
from selenium.webdriver.support.ui import Select

from billing_util import ok
from test_console import browser, by, menu, page, shown, sign_in, staff, text_of, wait  # noqa: F401

__all__ = ["browser", "page"]      # fixtures used by name

MESSAGING = ["from_name", "from_address", "reply_to", "business_name", "postal_address", "contact",
             "rate_per_minute", "domain_rates", "charset"]
BILLING = ["issuer_name", "registration_number", "retry_days", "final_action", "konbini_expiry_days",
           "invoice_due_days"]


@pytest.fixture
def settings_kept(client):
    """The settings as they were before the test, written back after it."""
    before = {path: ok(client.get(path)) for path in ("/v1/messaging/settings", "/v1/billing/settings")}
    yield before
    ok(client.patch("/v1/messaging/settings", {k: before["/v1/messaging/settings"][k] for k in MESSAGING}))
    ok(client.patch("/v1/billing/settings", {k: before["/v1/billing/settings"][k] for k in BILLING}))


def replace(driver, css, text):
    box = driver.find_element(*by(css))
    box.clear()
    box.send_keys(text)


def test_owner_saves_sender_footer_and_invoice_issuer_with_errors_next_to_the_fields(suite, client, page, settings_kept):
    email, password, _ = staff(suite, "owner")
    sign_in(page, suite, email, password)
    assert menu(page)[-1] == "設定"
    page.find_element(*by('nav a[data-nav="settings"]')).click()
    wait(page, lambda d: not d.find_elements(*by("form[aria-busy]")))
    before = settings_kept["/v1/messaging/settings"]
    assert page.find_element(*by("#settings-messaging-from_address")).get_attribute("value") == before["from_address"]

    # messaging: a bad address is named next to its field; nothing changes until it is right
    replace(page, "#settings-messaging-business_name", "株式会社ヨガスタジオ会員")
    replace(page, "#settings-messaging-postal_address", "東京都渋谷区神南1-2-3")
    replace(page, "#settings-messaging-contact", "03-1234-5678")
    replace(page, "#settings-messaging-reply_to", "not-an-address")
    page.find_element(*by("#settings-messaging-save")).click()
    assert shown(page, "#settings-messaging-reply_to-error").text == \
        "メールアドレスの形式で入力してください（例: support@example.jp）。"
    assert ok(client.get("/v1/messaging/settings"))["business_name"] == before["business_name"]
    replace(page, "#settings-messaging-reply_to", "support@yoga.example.jp")
    page.find_element(*by("#settings-messaging-save")).click()
    wait(page, lambda d: ok(client.get("/v1/messaging/settings"))["reply_to"] == "support@yoga.example.jp")
    saved = ok(client.get("/v1/messaging/settings"))
    assert (saved["business_name"], saved["postal_address"], saved["contact"]) == \
        ("株式会社ヨガスタジオ会員", "東京都渋谷区神南1-2-3", "03-1234-5678"), saved
    assert saved["version"] == before["version"] + 1

    # billing: the registration number and the dunning days
    replace(page, "#settings-billing-issuer_name", "株式会社ヨガスタジオ")
    replace(page, "#settings-billing-registration_number", "T123")
    replace(page, "#settings-billing-retry_days", "7, 3")
    page.find_element(*by("#settings-billing-save")).click()
    assert shown(page, "#settings-billing-registration_number-error").text == "登録番号は T と 13 桁の数字で入力してください。"
    assert text_of(page, "#settings-billing-retry_days-error") == \
        "1〜60 の日数を、増えていく順にカンマ区切りで 10 個まで入力してください。"
    replace(page, "#settings-billing-registration_number", "T1234567890123")
    replace(page, "#settings-billing-retry_days", "2, 5、9")
    Select(page.find_element(*by("#settings-billing-final_action"))).select_by_value("unpaid")
    page.find_element(*by("#settings-billing-save")).click()
    wait(page, lambda d: ok(client.get("/v1/billing/settings"))["registration_number"] == "T1234567890123")
    billing = ok(client.get("/v1/billing/settings"))
    assert (billing["issuer_name"], billing["retry_days"], billing["final_action"]) == \
        ("株式会社ヨガスタジオ", [2, 5, 9], "unpaid"), billing
    wait(page, lambda d: d.find_element(*by("#settings-billing-retry_days")).get_attribute("value") == "2, 5, 9")

    # a change made elsewhere meanwhile: the stale form's save is refused, nothing overwritten
    ok(client.patch("/v1/billing/settings", {"issuer_name": "別の発行者"}))
    replace(page, "#settings-billing-issuer_name", "古い画面から")
    page.find_element(*by("#settings-billing-save")).click()
    assert shown(page, "#settings-billing .form-error").text == \
        "ほかの人が先に変更しました。画面を読み込み直してからやり直してください。"
    assert ok(client.get("/v1/billing/settings"))["issuer_name"] == "別の発行者"

    # analytics' days of inactivity and churn-risk threshold, saved as the API's settings
    if "analytics" in suite.service_list:
        wait(page, lambda d: d.find_element(*by("#settings-analytics-inactive_days")).get_attribute("value") == "10")
        replace(page, "#settings-analytics-inactive_days", "14")
        page.find_element(*by("#settings-analytics-save")).click()
        try:
            wait(page, lambda d: ok(client.get("/v1/analytics/settings"))["inactive_days"] == 14)
            assert ok(client.get("/v1/analytics/settings"))["churn_risk_threshold"] == 60
            replace(page, "#settings-analytics-churn_risk_threshold", "101")
            page.find_element(*by("#settings-analytics-save")).click()
            assert shown(page, "#settings-analytics-churn_risk_threshold-error").text == "1〜100 の整数で入力してください。"
            assert text_of(page, "#settings-analytics .form-error") == \
                "入力内容に誤りがあります。各項目のメッセージを確認してください。"

            # the purchase milestones: out of order is named next to the field, nothing saved;
            # in order they are saved and shown again after a reload
            replace(page, "#settings-analytics-churn_risk_threshold", "60")
            assert page.find_element(*by("#settings-analytics-purchase_milestones")).get_attribute("value") == \
                "10, 50, 100"
            assert page.find_element(*by("#settings-analytics-spend_milestones")).get_attribute("value") == \
                "50000, 100000, 300000"
            replace(page, "#settings-analytics-purchase_milestones", "5, 3")
            page.find_element(*by("#settings-analytics-save")).click()
            assert shown(page, "#settings-analytics-purchase_milestones-error").text == \
                "1〜1,000,000 の整数を、増えていく順にカンマ区切りで 8 個まで入力してください。"
            assert ok(client.get("/v1/analytics/settings"))["purchase_milestones"] == [10, 50, 100]
            replace(page, "#settings-analytics-purchase_milestones", "3, 5")
            page.find_element(*by("#settings-analytics-save")).click()
            wait(page, lambda d: ok(client.get("/v1/analytics/settings"))["purchase_milestones"] == [3, 5])
            saved = ok(client.get("/v1/analytics/settings"))
            assert (saved["inactive_days"], saved["churn_risk_threshold"], saved["spend_milestones"]) == \
                (14, 60, [50000, 100000, 300000]), saved
            page.refresh()
            wait(page, lambda d: d.find_elements(*by("#settings-analytics-purchase_milestones"))
                 and d.find_element(*by("#settings-analytics-purchase_milestones")).get_attribute("value") == "3, 5")
        finally:
            ok(client.patch("/v1/analytics/settings", {"inactive_days": 10, "purchase_milestones": [10, 50, 100]}))


def test_owner_sets_the_sending_rates_and_iso_2022_jp_whose_substitutions_the_preview_shows(suite, client, page, settings_kept):
    email, password, _ = staff(suite, "owner")
    sign_in(page, suite, email, password)
    page.get(suite.url("/#/settings"))
    wait(page, lambda d: d.find_elements(*by("#settings-messaging")) and not d.find_elements(*by("form[aria-busy]")))
    assert page.find_element(*by("#settings-messaging-domain_rates")).get_attribute("value") == ""
    replace(page, "#settings-messaging-rate_per_minute", "1200")
    replace(page, "#settings-messaging-domain_rates", "docomo.ne.jp 300\nEZweb.ne.jp 600\nsoftbank.ne.jp")
    Select(page.find_element(*by("#settings-messaging-charset"))).select_by_value("iso-2022-jp")
    page.find_element(*by("#settings-messaging-save")).click()
    # the third line has no number: named next to the field, nothing saved
    assert shown(page, "#settings-messaging-domain_rates-error").text == \
        "1 行に「ドメイン 数」の形で入力してください（例: docomo.ne.jp 300）。数は 1〜100000 です。"
    assert ok(client.get("/v1/messaging/settings"))["domain_rates"] == []
    replace(page, "#settings-messaging-domain_rates", "docomo.ne.jp 300\nEZweb.ne.jp：600")
    page.find_element(*by("#settings-messaging-save")).click()
    wait(page, lambda d: ok(client.get("/v1/messaging/settings"))["charset"] == "iso-2022-jp")
    saved = ok(client.get("/v1/messaging/settings"))
    assert (saved["rate_per_minute"], saved["domain_rates"]) == (1200, [
        {"domain": "docomo.ne.jp", "per_minute": 300}, {"domain": "ezweb.ne.jp", "per_minute": 600}]), saved
    wait(page, lambda d: d.find_element(*by("#settings-messaging-domain_rates")).get_attribute("value")
         == "docomo.ne.jp 300\nezweb.ne.jp 600")

    # a template's preview says what ISO-2022-JP cannot carry, as it will be sent
    member = client.create_member(name="髙田 花子")
    template = ok(client.post("/v1/messaging/templates", {"name": "JIS " + member["id"], "kind": "transactional",
                                                         "subject": "①のご案内", "text": "{{member.name}} 様", "html": ""}), 201)
    until_known = lambda: client.post("/v1/messaging/templates/%s/preview" % template["id"],  # noqa: E731
                                      {"member_id": member["id"]}).status_code == 200
    wait(page, lambda d: until_known())
    page.get(suite.url("/#/mail/templates/" + template["id"]))
    shown(page, "#preview-search").send_keys(member["email"])
    wait(page, lambda d: d.find_element(*by("#preview-text")).is_displayed())
    assert text_of(page, "#preview-subject") == "(1)のご案内"
    assert text_of(page, "#preview-text") == "〓田 花子 様"
    assert text_of(page, "#preview-substitutions") == "ISO-2022-JP で送るため置き換わる文字: ① → (1)、髙 → 〓"


def test_owner_sets_the_rank_rules_with_a_bad_line_named(suite, client, page):
    """The rank automation's rules, one a line (services/analytics/README.md, "Rank automation"):
    a threshold no member of the shared suite reaches, so none is raised; put back to none after."""
    code = "r" + uuid.uuid4().hex[:8]
    ok(client.post("/v1/member-ranks", {"code": code, "label": "ゴールド"}), 201)
    email, password, _ = staff(suite, "owner")
    sign_in(page, suite, email, password)
    try:
        page.get(suite.url("/#/settings"))
        wait(page, lambda d: d.find_elements(*by("#settings-ranks")) and not d.find_elements(*by("form[aria-busy]")))
        assert page.find_element(*by("#settings-ranks-rules")).get_attribute("value") == ""
        replace(page, "#settings-ranks-rules", "%s cumulative_spend 50000\nnosuch purchase_count 3" % code)
        page.find_element(*by("#settings-ranks-save")).click()
        assert shown(page, "#settings-ranks-rules-error").text == (
            "1 行に「ランク 指標 数」の形で入力してください（例: gold cumulative_spend 50000）。"
            "ランクは会員ランクのコード、指標は cumulative_spend か purchase_count、20 行までです。")
        assert ok(client.get("/v1/analytics/rank-rules"))["rules"] == []
        replace(page, "#settings-ranks-rules", "%s cumulative_spend 1000000000000\nbasic purchase_count 0" % code)
        page.find_element(*by("#settings-ranks-save")).click()
        wait(page, lambda d: ok(client.get("/v1/analytics/rank-rules"))["rules"] == [
            {"rank": code, "metric": "cumulative_spend", "threshold": 1000000000000},
            {"rank": "basic", "metric": "purchase_count", "threshold": 0}])
        page.refresh()
        wait(page, lambda d: d.find_elements(*by("#settings-ranks-rules"))
             and d.find_element(*by("#settings-ranks-rules")).get_attribute("value")
             == "%s cumulative_spend 1000000000000\nbasic purchase_count 0" % code)
    finally:
        ok(client.request("PUT", "/v1/analytics/rank-rules", json_body={"rules": []}))


def test_a_viewer_reads_the_sender_and_sees_no_billing_settings_and_no_save(suite, page):
    email, password, _ = staff(suite, "viewer")
    sign_in(page, suite, email, password)
    page.get(suite.url("/#/settings"))
    shown(page, "#settings-messaging")
    wait(page, lambda d: not d.find_elements(*by("form[aria-busy]")))
    assert page.find_element(*by("#settings-messaging-from_name")).get_attribute("readonly") == "true"
    assert not page.find_elements(*by("#settings-messaging-save"))
    assert not page.find_elements(*by("#settings-billing"))
    assert "表示だけ" in text_of(page, "#settings-messaging")
    # and no ticks or bulk tag on the members' list (one member at least, whatever ran before)
    suite.client.create_member()
    page.get(suite.url("/#/members"))
    shown(page, "#members-table tbody tr")
    assert not page.find_elements(*by("#bulk-bar")) and not page.find_elements(*by("input.tick"))
