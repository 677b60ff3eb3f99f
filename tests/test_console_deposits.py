"""test_console_deposits.py - 入金消込 in the console (issue 12's screens for issue 17's 消込) in a
real headless Chromium: a Zengin statement checked (each row's outcome), imported (the invoices
paid), refused (each fault as billing words it in Japanese) and refused again once imported; a
deposit assigned to an invoice found by its member's name, one set aside, one unassigned; an
invoice marked paid in cash at the desk; a viewer reading the deposits without buttons. The
outcomes are checked through the API. The statement files are made by test_bank_reconcile.py's
builder; names are random so that the shared suite's other open invoices never match them."""

import datetime
import random

from selenium.webdriver.support.ui import Select

import billing_util
from test_bank_reconcile import deposit, open_invoice, upload, zengin
from test_console import browser, by, page, shown, sign_in, staff, text_of, wait  # noqa: F401
from test_console_screens import find_row

__all__ = ["browser", "page"]      # fixtures used by name

FULL = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワ"
HALF = "ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜ"


JST = datetime.timezone(datetime.timedelta(hours=9))


def reading():
    """A random reading of six letters: (full-width for the member, half-width as a bank writes it)."""
    picks = [random.randrange(len(FULL)) for _ in range(6)]
    return "".join(FULL[i] for i in picks), "".join(HALF[i] for i in picks)


def member_with_reading(client):
    kana, half = reading()
    m = client.create_member(name="消込 " + kana, name_kana=kana)
    return m, kana, half


def deposits_of(client, state):
    return billing_util.get(client, "/v1/deposits", state=state, limit=100)["data"]


def choose_file(page, tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    chooser = shown(page, "#statement-file")
    chooser.clear()
    chooser.send_keys(str(path))
    page.find_element(*by("#statement-check")).click()


def confirm_dialog(page):
    shown(page, "dialog .confirm").click()
    wait(page, lambda d: not d.find_elements(*by("dialog")))


def test_a_statement_is_checked_imported_and_its_deposits_decided_by_a_person(suite, client, page, tmp_path):
    (a, _, a_half), (b, _, b_half), (c, _, c_half) = [member_with_reading(client) for _ in range(3)]
    e, e_kana, _ = member_with_reading(client)
    _, stranger = reading()
    inv_a, inv_b, inv_c = open_invoice(client, a["id"], 5500), open_invoice(client, b["id"], 7700), \
        open_invoice(client, c["id"], 11000)
    inv_e = open_invoice(client, e["id"], 3000)
    ref = random.randrange(100000, 900000)
    rows = [deposit(ref, 5500, "%d %s" % (int(inv_a["number"][4:]), a_half)),   # row 2: by number
            deposit(ref + 1, 7700, b_half),                                    # row 3: name and amount
            deposit(ref + 2, 10000, c_half),                                   # row 4: ¥1,000 short
            deposit(ref + 3, 3000, stranger)]                                  # row 5: nobody
    email, password, _ = staff(suite, "finance")
    sign_in(page, suite, email, password)
    page.find_element(*by('nav a[data-nav="billing"]')).click()
    shown(page, '.tabs a[data-tab="billing/deposits"]').click()

    # a file whose trailer does not add up: 5,500 + 7,700 + 10,000 + 3,000 = 26,200, not 26,300
    choose_file(page, tmp_path, "bad.txt", zengin(rows, total=26300))
    assert shown(page, "#statement-errors li").text == \
        "6 行目: トレーラーの合計金額は 26300 円ですが、明細の合計は 26200 円です"
    assert text_of(page, "#statement-file-error") == "このファイルは取り込めません（1 件の問題）。"

    # the dry run: each row's outcome, nothing paid yet
    statement = zengin(rows)
    choose_file(page, tmp_path, "statement.txt", statement)
    shown(page, "#statement-preview-title")
    outcome = lambda table, row: text_of(page, '#%s tr[data-row="%d"] td.outcome' % (table, row))  # noqa: E731
    assert outcome("statement-rows", 2) == "請求書 %s に消込（請求書番号）" % inv_a["number"]
    assert outcome("statement-rows", 3) == "請求書 %s に消込（名義と金額）" % inv_b["number"]
    assert outcome("statement-rows", 4) == "一部入金（請求書 %s）" % inv_c["number"]
    assert outcome("statement-rows", 5) == "該当なし: この名義と金額の未払いの請求書がありません"
    row3 = text_of(page, '#statement-rows tr[data-row="3"]')
    assert "2026年4月1日" in row3 and "¥7,700" in row3 and b_half in row3, row3
    assert "¥26,200" in text_of(page, "#statement-counts")
    assert [billing_util.invoice(client, i["id"])["status"] for i in (inv_a, inv_b, inv_c)] == ["open"] * 3

    # imported: A and B paid by their deposits, C still owing all of it
    page.find_element(*by("#statement-apply")).click()
    shown(page, "#statement-result-title")
    assert page.switch_to.active_element.get_attribute("id") == "statement-result"
    assert outcome("statement-done-rows", 2) == "請求書 %s に消込（請求書番号）" % inv_a["number"]
    assert [billing_util.invoice(client, i["id"])["status"] for i in (inv_a, inv_b, inv_c)] == ["paid", "paid", "open"]
    [pay_b] = billing_util.payments(client, invoice_id=inv_b["id"])
    assert (pay_b["method_type"], pay_b["amount"], pay_b["bank_reference"]) == ("bank_transfer", 7700, "%06d" % (ref + 1))

    # the same file again: refused as imported already
    choose_file(page, tmp_path, "statement.txt", statement)
    wait(page, lambda d: d.find_element(*by("#statement-file-error")).text == "この明細はすでに取り込まれています。")

    # the stranger's ¥3,000 assigned to E's invoice, found by E's reading
    [lost] = [d for d in deposits_of(client, "unmatched") if d["payer_name"] == stranger]
    row = find_row(page, "deposits-unmatched", 'tr[data-deposit-id="%s"]' % lost["id"])
    assert "2026年4月1日" in row.text and "¥3,000" in row.text and "この名義と金額の未払いの請求書がありません" in row.text
    row.find_element(*by("button.assign-deposit")).click()
    shown(page, "#assign-search").send_keys(e_kana)
    page.find_element(*by("#assign-find")).click()
    wait(page, lambda d: not d.find_elements(*by("#assign-invoices[aria-busy]"))
         and d.find_element(*by("#assign-summary")).text == "1 件")
    shown(page, '#assign-invoices input[value="%s"]' % inv_e["id"]).click()
    assert "¥3,000" in text_of(page, 'label[for="assign-invoice-%s"]' % inv_e["id"])
    confirm_dialog(page)
    wait(page, lambda d: not d.find_elements(*by('#deposits-unmatched tr[data-deposit-id="%s"]' % lost["id"])))
    paid = billing_util.invoice(client, inv_e["id"])
    assert (paid["status"], paid["amount_paid"]) == ("paid", 3000), paid
    assert billing_util.get(client, "/v1/deposits/" + lost["id"])["match_reason"] == "assigned"

    # C's ¥10,000 set aside
    [short] = [d for d in deposits_of(client, "partial") if d["payer_name"] == c_half]
    row = find_row(page, "deposits-partial", 'tr[data-deposit-id="%s"]' % short["id"])
    assert "この名義の未払いの請求書の金額に足りません" in row.text, row.text
    row.find_element(*by("button.ignore-deposit")).click()
    confirm_dialog(page)
    wait(page, lambda d: not d.find_elements(*by('#deposits-partial tr[data-deposit-id="%s"]' % short["id"])))
    assert billing_util.get(client, "/v1/deposits/" + short["id"])["state"] == "ignored"
    assert billing_util.invoice(client, inv_c["id"])["status"] == "open"

    # A's deposit unassigned: A's invoice open again
    [by_number] = [d for d in deposits_of(client, "matched") if d["invoice_id"] == inv_a["id"]]
    Select(page.find_element(*by("#deposit-state"))).select_by_value("matched")
    row = find_row(page, "deposits-matched", 'tr[data-deposit-id="%s"]' % by_number["id"])
    assert "請求書番号で消込" in row.text and inv_a["number"] in row.text, row.text
    row.find_element(*by("button.unassign-deposit")).click()
    assert inv_a["number"] in text_of(page, "dialog")
    confirm_dialog(page)
    wait(page, lambda d: not d.find_elements(*by('#deposits-matched tr[data-deposit-id="%s"]' % by_number["id"])))
    again = billing_util.invoice(client, inv_a["id"])
    assert (again["status"], again["amount_paid"]) == ("open", 0), again
    assert billing_util.get(client, "/v1/deposits/" + by_number["id"])["state"] == "unmatched"


def test_an_invoice_is_marked_paid_in_cash_with_a_note(suite, client, page):
    m = client.create_member(name="現金 払子")
    inv = open_invoice(client, m["id"], 2200)
    email, password, _ = staff(suite, "finance")
    sign_in(page, suite, email, password)
    page.get(suite.url("/#/billing/invoices/" + inv["id"]))
    shown(page, "#invoice-mark-paid").click()
    assert "¥2,200" in text_of(page, "dialog")
    shown(page, "dialog .confirm").click()                     # no note: refused on the page
    assert shown(page, "#mark-paid-note-error").text == "入力してください。"
    Select(page.find_element(*by("#mark-paid-method"))).select_by_value("cash")
    page.find_element(*by("#mark-paid-note")).send_keys("受付で現金受領（山田）")
    # received two days before today (in Japan): paid at that day's start, JST
    paid_on = page.find_element(*by("#mark-paid-paid_at"))
    today = datetime.datetime.now(JST).date()
    assert paid_on.get_attribute("value") == today.isoformat()
    day = today - datetime.timedelta(days=2)
    page.execute_script("arguments[0].value = arguments[1]", paid_on, day.isoformat())
    confirm_dialog(page)
    wait(page, lambda d: d.find_element(*by("#invoice-status")).text == "支払い済み")
    assert not page.find_elements(*by("#invoice-mark-paid"))
    [p] = billing_util.payments(client, invoice_id=inv["id"])
    assert (p["method_type"], p["amount"], p["note"], p["status"]) == ("cash", 2200, "受付で現金受領（山田）", "succeeded"), p
    paid = billing_util.invoice(client, inv["id"])
    start = datetime.datetime(day.year, day.month, day.day, tzinfo=JST)
    assert paid["status"] == "paid" and billing_util.ms(paid["paid_at"]) == int(start.timestamp() * 1000), paid


def test_a_viewer_reads_the_deposits_without_buttons(suite, client, page):
    _, stranger = reading()
    r = upload(client, zengin([deposit(random.randrange(100000, 900000), 4321, stranger)], made=b"080402"))
    assert r.status_code == 200, r.text
    [d] = r.json()["deposits"]
    email, password, _ = staff(suite, "viewer")
    sign_in(page, suite, email, password)
    page.get(suite.url("/#/billing/deposits"))
    row = find_row(page, "deposits-unmatched", 'tr[data-deposit-id="%s"]' % d["id"])
    assert "¥4,321" in row.text and stranger in row.text, row.text
    assert not row.find_elements(*by("button"))
    assert not page.find_elements(*by("#statement-form"))
    m = client.create_member(name="閲覧 確認")
    inv = open_invoice(client, m["id"], 1100)
    page.get(suite.url("/#/billing/invoices/" + inv["id"]))
    shown(page, "#invoice-title")
    assert not page.find_elements(*by("#invoice-mark-paid"))
