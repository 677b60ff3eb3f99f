"""test_console_terms.py - a company's payment terms (締め日・支払条件) on the member's screen in a
real headless Chromium (issue 17): an owner sets them (20日締め翌月末払い), changes them to N days
after the closing with a bad number named next to its field, a change made elsewhere meanwhile
is said (412) and nothing is overwritten; finance reads them without a form; a subscription
suspended for an invoice left unpaid past the limit shows as such. Checked through the API; the
browser is test_console.py's."""

from selenium.webdriver.support.ui import Select

from billing_util import create_plan, ok, subscribe, wait_for
from test_console import browser, by, page, shown, sign_in, staff, text_of, wait  # noqa: F401

__all__ = ["browser", "page"]      # fixtures used by name


def open_member(page, suite, member_id):
    page.get(suite.url("/#/members/" + member_id))
    shown(page, "#member-title")


def summary(page):
    wait(page, lambda d: d.find_elements(*by("#terms-summary")))
    return text_of(page, "#terms-summary")


def test_owner_sets_and_changes_the_terms_with_if_match(suite, client, page):
    m = client.create_member(name="株式会社 テスト商事")
    email, password, _ = staff(suite, "owner")
    sign_in(page, suite, email, password)
    open_member(page, suite, m["id"])
    assert summary(page) == "支払条件は設定されていません。請求はほかの会員と同じく、都度の請求・決済です。"

    # 20日締め翌月末払い: the closing day chosen, the rest as offered (翌月, 末日)
    shown(page, "#terms-edit").click()
    Select(shown(page, "#terms-closing_day")).select_by_value("20")
    assert page.find_element(*by("#terms-company")).is_selected()
    assert not page.find_element(*by("#terms-days-fields")).is_displayed()
    page.find_element(*by("#terms-save")).click()
    wait(page, lambda d: d.find_elements(*by("#terms-summary")))
    assert summary(page) == "20日締め・翌月末日払い"
    t = ok(client.get("/v1/members/%s/payment-terms" % m["id"]))
    assert (t["company"], t["closing_day"], t["due_months"], t["due_day"], t["due_days"], t["consolidate"],
            t["version"]) == (True, 20, 1, 31, None, False, 1), t

    # N days after the closing: 121 is refused next to its field, 45 is saved
    shown(page, "#terms-edit").click()
    Select(shown(page, "#terms-rule")).select_by_value("days")
    box = shown(page, "#terms-due_days")
    box.send_keys("121")
    page.find_element(*by("#terms-save")).click()
    assert shown(page, "#terms-due_days-error").text == "1〜120 の日数で入力してください。"
    assert ok(client.get("/v1/members/%s/payment-terms" % m["id"]))["version"] == 1
    box.clear()
    box.send_keys("45")
    page.find_element(*by("#terms-consolidate")).click()
    page.find_element(*by("#terms-save")).click()
    wait(page, lambda d: d.find_elements(*by("#terms-consolidate-note")))
    assert summary(page) == "20日締め・締め日の45日後払い"
    t = ok(client.get("/v1/members/%s/payment-terms" % m["id"]))
    assert (t["due_months"], t["due_day"], t["due_days"], t["consolidate"], t["version"]) == (None, None, 45, True, 2), t

    # someone else changes them meanwhile: the form's save is refused, nothing overwritten
    ok(client.request("PUT", "/v1/members/%s/payment-terms" % m["id"], headers={"If-Match": '"2"'},
                      json_body={"company": True, "closing_day": 31, "due_day": 10, "due_months": 2}))
    shown(page, "#terms-edit").click()
    Select(shown(page, "#terms-closing_day")).select_by_value("15")
    page.find_element(*by("#terms-save")).click()
    assert shown(page, "#terms-error").text == "ほかの人が先に変更しました。画面を読み込み直してからやり直してください。"
    t = ok(client.get("/v1/members/%s/payment-terms" % m["id"]))
    assert (t["closing_day"], t["due_months"], t["due_day"], t["version"]) == (31, 2, 10, 3), t
    page.refresh()
    assert summary(page) == "月末締め・翌々月10日払い"


def test_finance_reads_the_terms_and_a_suspended_subscription_shows(suite, client, page):
    m = client.create_member(name="株式会社 停止商事")
    ok(client.request("PUT", "/v1/members/%s/payment-terms" % m["id"],
                      json_body={"company": True, "closing_day": 31, "due_day": 31}))
    sub = subscribe(client, m["id"], create_plan(client, amount=3000))
    assert sub["status"] == "active", sub
    # Its invoice due 2026-01-31 (23:59:59.999 JST): 30 days past it, billing's scheduler
    # suspends the subscription at its next tick, from 2026-03-03 00:00 JST (this suite's clock
    # must not move; test_billing_terms_overdue.py moves one).
    suite.sql("update billing.invoices set due_at = '2026-01-31T14:59:59.999Z' where subscription_id = '%s'"
              % sub["id"])
    wait_for(lambda: client.get("/v1/subscriptions/" + sub["id"]).json()["status"] == "unpaid",
             timeout=30, what="the subscription suspended")
    assert ok(client.get("/v1/subscriptions/" + sub["id"]))["suspended_at"] == "2026-03-02T15:00:00.000Z"
    email, password, _ = staff(suite, "finance")
    sign_in(page, suite, email, password)
    open_member(page, suite, m["id"])
    assert summary(page) == "月末締め・翌月末日払い"
    assert not page.find_elements(*by("#terms-edit"))
    wait(page, lambda d: d.find_elements(*by("#member-subscriptions tbody tr")))
    cell = text_of(page, "#member-subscriptions tbody tr td:nth-child(2)")
    assert cell.startswith("未払い") and "2026年3月3日 00:00 から停止中：支払期限を過ぎた未払いの請求書があります" in cell, cell
