"""test_console_mail.py - the console's メール screens in a real headless Chromium (issue 12, item 3):
a template saved with syntax errors shown at the line and column the API names, then previewed
for a chosen member, as saved and as it is being typed; a segment edited with its live count; a campaign sent now, paused, resumed
and cancelled with its progress and figures, another scheduled at a time in Japan; automations
listed and turned on and off, and one automation's runs a page at a time; the suppression list
searched, added to and lifted, and a member's unsubscribe on it that staff cannot lift. Each scenario drives the page as a person does and checks the
outcome through the API. The shared suite's relay is a closed port, so a campaign's mails stay
queued and its progress is 0 of its recipients until it is cancelled."""

import datetime
import uuid

from selenium.webdriver.support.ui import Select

from billing_util import ok
from test_console import browser, by, menu, page, shown, sign_in, staff, text_of, wait  # noqa: F401
from test_console_screens import until

__all__ = ["browser", "page"]      # fixtures used by name


def count(client, filter_):
    return ok(client.post("/v1/messaging/segments/count", {"filter": filter_}))["count"]


def tagged_members(client, tag, names):
    """New members carrying tag, once messaging counts them all."""
    made = []
    for name in names:
        m = client.create_member(name=name)
        ok(client.post("/v1/members/%s/tags" % m["id"], {"add": [tag]}))
        made.append(m)
    until("messaging to know the members", lambda: count(client, {"field": "tags", "op": "has", "value": tag}) == len(names))
    return made


def replace(driver, css, text):
    box = driver.find_element(*by(css))
    box.clear()
    box.send_keys(text)
    return box


def test_template_errors_at_line_and_column_then_preview_for_a_chosen_member(suite, client, page):
    tag = "mail" + uuid.uuid4().hex[:8]
    hanako, = tagged_members(client, tag, ["<b>鈴木</b> 花子 " + tag])
    email, password, _ = staff(suite, "marketing")
    sign_in(page, suite, email, password)
    assert menu(page) == ["ダッシュボード", "会員", "問い合わせ", "メール", "請求", "設定"]
    page.find_element(*by('nav a[data-nav="mail"]')).click()
    shown(page, "#template-new").click()
    name = "ようこそメール " + tag
    shown(page, "#template-name").send_keys(name)
    page.find_element(*by("#template-subject")).send_keys("ようこそ {{member.name}} さん")
    page.find_element(*by("#template-html")).send_keys("<p>ok</p>\n<p>{{member.name</p>")
    page.find_element(*by("#template-text")).send_keys("{{member.name}} 様")
    page.find_element(*by("#template-save")).click()

    # the HTML part's error, where the API says it is: line 2, column 4, the caret put there
    error = shown(page, "#template-html-error")
    assert error.text == "2 行目 4 文字目: 「{{」が同じ行の「}}」で閉じられていません。"
    html = page.find_element(*by("#template-html"))
    assert html.get_attribute("aria-invalid") == "true" and page.switch_to.active_element == html
    assert page.execute_script("return arguments[0].selectionStart", html) == len("<p>ok</p>\n") + 3
    assert not [t for t in ok(client.get("/v1/messaging/templates", params={"limit": 100}))["data"] if t["name"] == name]

    replace(page, "#template-html", "<p>{{member.name}} 様</p>")
    replace(page, "#template-subject", "こんにちは {{member.nickname}}")
    page.find_element(*by("#template-save")).click()
    assert shown(page, "#template-subject-error").text == "1 行目 7 文字目: 「member.nickname」という差し込みはありません。"
    assert not page.find_element(*by("#template-html-error")).is_displayed()
    replace(page, "#template-subject", "ようこそ {{member.name}} さん")
    page.find_element(*by("#template-save")).click()
    wait(page, lambda d: "#/mail/templates/" in d.current_url and not d.current_url.endswith("/new"))
    saved = [t for t in ok(client.get("/v1/messaging/templates", params={"limit": 100}))["data"] if t["name"] == name]
    assert len(saved) == 1 and saved[0]["subject"] == "ようこそ {{member.name}} さん", saved
    assert saved[0]["id"] in page.current_url and saved[0]["kind"] == "transactional"

    # the preview for a member found by name: the values filled in, the HTML's escaped
    page.find_element(*by("#preview-search")).send_keys(tag)
    wait(page, lambda d: Select(d.find_element(*by("#preview-member"))).first_selected_option.get_attribute("value") == hanako["id"])
    assert shown(page, "#preview-subject").text == "ようこそ <b>鈴木</b> 花子 %s さん" % tag
    assert text_of(page, "#preview-to") == "宛先: " + hanako["email"]
    assert text_of(page, "#preview-text") == "<b>鈴木</b> 花子 %s 様" % tag
    frame = page.find_element(*by("#preview-html"))
    assert frame.get_attribute("srcdoc") == "<p>&lt;b&gt;鈴木&lt;/b&gt; 花子 %s 様</p>" % tag
    assert frame.get_attribute("sandbox") == ""                      # no script of the template runs
    page.switch_to.frame(frame)
    assert page.find_element(*by("p")).text == "<b>鈴木</b> 花子 %s 様" % tag
    page.switch_to.default_content()

    # a change saved is previewed at once
    replace(page, "#template-text", "{{member.email}} へ")
    page.find_element(*by("#template-save")).click()
    wait(page, lambda d: d.find_element(*by("#preview-text")).text == hanako["email"] + " へ")
    assert ok(client.get("/v1/messaging/templates/" + saved[0]["id"]))["text"] == "{{member.email}} へ"

    # what is being typed is previewed as it is typed, before any save; a mistake says so
    replace(page, "#template-text", "下書き {{member.name}}")
    wait(page, lambda d: d.find_element(*by("#preview-text")).text == "下書き <b>鈴木</b> 花子 %s" % tag)
    assert text_of(page, "#preview-status") == "<b>鈴木</b> 花子 %s（%s） あてのプレビュー（入力中の内容・未保存）" % (
        tag, hanako["email"])
    assert ok(client.get("/v1/messaging/templates/" + saved[0]["id"]))["text"] == "{{member.email}} へ"
    replace(page, "#template-text", "{{member.nick")
    wait(page, lambda d: d.find_element(*by("#preview-status")).text
         == "件名か本文に誤りがあります。直すとプレビューが更新されます。")
    assert not page.find_element(*by("#preview-text")).is_displayed()


def test_segment_live_count_then_campaign_sent_paused_resumed_cancelled_and_one_scheduled(suite, client, page):
    tag = "seg" + uuid.uuid4().hex[:8]
    members = tagged_members(client, tag, ["セグ 一郎", "セグ 二郎"])
    template = ok(client.post("/v1/messaging/templates", {"name": "お知らせ " + tag, "kind": "transactional",
                                                          "subject": "お知らせ", "text": "{{member.name}} 様"}), 201)
    email, password, _ = staff(suite, "marketing")
    sign_in(page, suite, email, password)
    page.get(suite.url("/#/mail/segments"))
    shown(page, "#segment-new").click()
    segment_name = "タグ " + tag
    shown(page, "#segment-name").send_keys(segment_name)
    assert Select(page.find_element(*by("#cond-0-field"))).first_selected_option.text == "タグ"
    page.find_element(*by("#cond-0-value")).send_keys(tag)
    wait(page, lambda d: d.find_element(*by("#segment-count")).text == "2 人")

    # a second condition changes the count as it is chosen; a bad value is named next to it
    page.find_element(*by("#segment-add")).click()
    Select(page.find_element(*by("#cond-1-field"))).select_by_value("purchase_count")
    Select(page.find_element(*by("#cond-1-op"))).select_by_value("gte")
    page.find_element(*by("#cond-1-value")).send_keys("多い")
    assert shown(page, "#cond-1-value-error").text == "整数で入力してください。"
    assert text_of(page, "#segment-count") == "—"
    replace(page, "#cond-1-value", "1")
    wait(page, lambda d: d.find_element(*by("#segment-count")).text == "0 人")
    assert not page.find_element(*by("#cond-1-value-error")).is_displayed()
    page.find_element(*by('li.condition[data-index="1"] button')).click()
    wait(page, lambda d: d.find_element(*by("#segment-count")).text == "2 人")
    page.find_element(*by("#segment-save")).click()
    wait(page, lambda d: d.current_url.endswith("#/mail/segments"))
    segment, = [s for s in ok(client.get("/v1/messaging/segments", params={"limit": 100}))["data"] if s["name"] == segment_name]
    assert segment["filter"] == {"and": [{"field": "tags", "op": "has", "value": tag}]}, segment

    # a campaign of the template to the segment, sent now: 0 of 2 sent while the relay is down
    page.get(suite.url("/#/mail/campaigns/new"))
    campaign_name = "キャンペーン " + tag
    shown(page, "#campaign-name").send_keys(campaign_name)
    wait(page, lambda d: len(d.find_elements(*by("#campaign-segment option"))) > 1)
    Select(page.find_element(*by("#campaign-template"))).select_by_value(template["id"])
    Select(page.find_element(*by("#campaign-segment"))).select_by_value(segment["id"])
    page.find_element(*by("#campaign-save")).click()
    wait(page, lambda d: d.find_elements(*by("#campaign-send")))
    campaign_id = page.current_url.rsplit("/", 1)[1]
    assert ok(client.get("/v1/messaging/campaigns/" + campaign_id))["status"] == "draft"
    assert text_of(page, "#campaign-title") == campaign_name
    page.find_element(*by("#campaign-send")).click()
    assert Select(shown(page, "#send-when")).first_selected_option.text == "今すぐ送る"
    page.find_element(*by("dialog .confirm")).click()
    wait(page, lambda d: d.find_elements(*by("#campaign-pause")))
    c = ok(client.get("/v1/messaging/campaigns/" + campaign_id))
    assert (c["status"], c["total"], c["sent"]) == ("sending", 2, 0), c
    assert "送信中" in text_of(page, "#campaign-state")
    assert "0 / 2 通" in text_of(page, "#campaign-progress")
    assert text_of(page, '#campaign-stats [data-figure="total"] dd') == "2"
    page.find_element(*by("#campaign-pause")).click()
    wait(page, lambda d: d.find_elements(*by("#campaign-resume")))
    assert ok(client.get("/v1/messaging/campaigns/" + campaign_id))["status"] == "paused"
    wait(page, lambda d: d.find_element(*by('#campaign-stats [data-figure="held"] dd')).text == "2")
    page.find_element(*by("#campaign-resume")).click()
    wait(page, lambda d: d.find_elements(*by("#campaign-pause")))
    assert ok(client.get("/v1/messaging/campaigns/" + campaign_id))["status"] == "sending"
    page.find_element(*by("#campaign-cancel")).click()
    shown(page, "dialog .confirm").click()
    wait(page, lambda d: "中止" in d.find_element(*by("#campaign-state")).text)
    assert not page.find_elements(*by("#campaign-actions button"))
    stats = ok(client.get("/v1/messaging/campaigns/%s/stats" % campaign_id))
    assert (stats["status"], stats["total"], stats["canceled"], stats["sent"]) == ("canceled", 2, 2, 0), stats
    assert text_of(page, '#campaign-stats [data-figure="canceled"] dd') == "2"

    # another, scheduled at 10:30 in Japan on a day to come: 01:30 UTC that day
    later = ok(client.post("/v1/messaging/campaigns", {"name": "予約 " + tag, "template_id": template["id"],
                                                      "segment_id": segment["id"]}), 201)
    page.get(suite.url("/#/mail/campaigns/" + later["id"]))
    shown(page, "#campaign-send").click()
    Select(shown(page, "#send-when")).select_by_value("at")
    page.find_element(*by("dialog .confirm")).click()
    assert shown(page, "#send-at-error").text == "送信日時を入力してください。"
    page.execute_script("arguments[0].value = '2031-01-15T10:30'", page.find_element(*by("#send-at")))
    page.find_element(*by("dialog .confirm")).click()
    wait(page, lambda d: "予約済み" in d.find_element(*by("#campaign-state")).text)
    c = ok(client.get("/v1/messaging/campaigns/" + later["id"]))
    assert (c["status"], c["send_at"]) == ("scheduled", "2031-01-15T01:30:00.000Z"), c
    assert "2031年1月15日 10:30 に送信予定" in text_of(page, "#campaign-state")
    page.find_element(*by("#campaign-cancel")).click()
    shown(page, "dialog .confirm").click()
    wait(page, lambda d: ok(client.get("/v1/messaging/campaigns/" + later["id"]))["status"] == "canceled")

    page.get(suite.url("/#/mail/campaigns"))
    row = shown(page, 'tr[data-campaign-id="%s"]' % campaign_id)
    assert "中止" in row.text and "0 / 2 通" in row.text, row.text
    assert members[0]["id"]


def test_automations_are_listed_and_turned_on_and_off_and_a_viewer_only_reads(suite, client, page):
    tag = uuid.uuid4().hex[:8]
    template = ok(client.post("/v1/messaging/templates", {"name": "7日後 " + tag, "kind": "marketing",
                                                          "subject": "その後いかがですか", "text": "t"}), 201)
    automation = ok(client.post("/v1/messaging/automations", {
        "name": "登録 7 日後 " + tag, "source": "member", "event_type": "member.registered",
        "delay_minutes": 7 * 24 * 60 + 90, "template_id": template["id"], "active": False}), 201)
    email, password, _ = staff(suite, "admin")
    sign_in(page, suite, email, password)
    page.get(suite.url("/#/mail/automations"))
    css = 'tr[data-automation-id="%s"]' % automation["id"]
    shown(page, css)
    # read afresh each time: a row the list redrew since is stale, and would be read in vain
    wait(page, lambda d: "7日後 " + tag in d.find_element(*by(css)).text)
    row = page.find_element(*by(css))
    assert "会員登録のたびに、7 日 1 時間 30 分後に送る" in row.text, row.text
    # the seeded receipt mail says that it carries the 領収書 (migration 009)
    receipt = next(a for a in ok(client.get("/v1/messaging/automations", params={"limit": 100}))["data"]
                   if a["name"] == "領収（お支払い完了）")
    wait(page, lambda d: "領収（お支払い完了）＋領収書 PDF"
         in d.find_element(*by('tr[data-automation-id="%s"]' % receipt["id"])).text)
    box = row.find_element(*by("input.automation-active"))
    assert not box.is_selected()
    box.click()
    wait(page, lambda d: ok(client.get("/v1/messaging/automations/" + automation["id"]))["active"] is True)
    wait(page, lambda d: box.is_enabled())
    box.click()
    wait(page, lambda d: ok(client.get("/v1/messaging/automations/" + automation["id"]))["active"] is False)

    viewer, viewer_password, _ = staff(suite, "viewer")
    sign_in(page, suite, viewer, viewer_password)
    assert "メール" in menu(page)
    page.get(suite.url("/#/mail/automations"))
    row = shown(page, 'tr[data-automation-id="%s"]' % automation["id"])
    assert not row.find_element(*by("input.automation-active")).is_enabled()
    page.get(suite.url("/#/mail/templates"))
    shown(page, "#templates-summary")
    assert not page.find_elements(*by("#template-new"))


def jst(rfc3339):
    """An API time as the console shows it (format.js, dateTime): 2026年12月7日 09:05 in Japan."""
    at = datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).astimezone(
        datetime.timezone(datetime.timedelta(hours=9)))
    return "%d年%d月%d日 %02d:%02d" % (at.year, at.month, at.day, at.hour, at.minute)


def suppression_row(driver, address):
    return driver.find_element(*by('#suppressions tr[data-email="%s"]' % address))


def test_suppression_list_searched_added_to_and_lifted_and_a_viewer_only_reads(suite, client, page):
    """メール › 配信停止リスト: an address listed by the API shows with its reason and note; the
    search finds it by its whole address in another case; marketing adds one with a note (named
    as the one who added it), is told when an address is listed already or is no address, and
    lifts one after confirming; a viewer reads the list and can change nothing."""
    tag = uuid.uuid4().hex[:8]
    phoned = "phoned-%s@example.com" % tag
    listed = ok(client.post("/v1/messaging/suppressions", {"email": phoned, "note": "電話で苦情 " + tag}))
    email, password, staff_id = staff(suite, "marketing", name="配信 担当" + tag)
    sign_in(page, suite, email, password)
    page.get(suite.url("/#/mail/suppressions"))
    assert text_of(page, 'nav.tabs a[aria-current="page"]') == "配信停止リスト"
    wait(page, lambda d: suppression_row(d, phoned))
    cells = [c.text for c in suppression_row(page, phoned).find_elements(*by("td"))]
    assert cells == [phoned, "手動で追加", "電話で苦情 " + tag, "初期設定用トークン", jst(listed["at"]), "解除"], cells

    # the search: the whole address, any case; a part of one is refused with a hint
    page.find_element(*by("#suppression-search")).send_keys(phoned.upper())
    wait(page, lambda d: d.find_element(*by("#suppressions-summary")).text == "1 件")
    assert [r.get_attribute("data-email") for r in page.find_elements(*by("#suppressions tbody tr"))] == [phoned]
    replace(page, "#suppression-search", "phoned-")
    wait(page, lambda d: d.find_element(*by("#suppressions-summary")).text
         == "アドレス全体を入力してください（例: hanako@example.com）。")
    page.find_element(*by("#suppression-search")).clear()
    page.find_element(*by("#suppression-search")).send_keys(" ")

    # added by hand: typed in capitals, listed in lower case, the note and who added it kept
    added = "Closed-%s@Example.com" % tag
    page.find_element(*by("#suppression-email")).send_keys(added)
    page.find_element(*by("#suppression-note")).send_keys("解約済み。郵便で依頼あり")
    page.find_element(*by("#suppression-add")).click()
    wait(page, lambda d: suppression_row(d, added.lower()))
    entry, = ok(client.get("/v1/messaging/suppressions", params={"email": added}))["data"]
    assert (entry["email"], entry["reason"], entry["detail"], entry["added_by"]) == (
        added.lower(), "manual", "解約済み。郵便で依頼あり", staff_id), entry
    assert suppression_row(page, added.lower()).find_elements(*by("td"))[3].text == "配信 担当" + tag
    assert page.find_element(*by("#suppression-email")).get_attribute("value") == ""
    # listed already: said so, nothing changed; no address: named under the field
    page.find_element(*by("#suppression-email")).send_keys(phoned)
    page.find_element(*by("#suppression-add")).click()
    wait(page, lambda d: d.find_element(*by("#suppression-form .form-error")).text
         == "「%s」は既にリストにあります（%s に追加）。" % (phoned, jst(listed["at"])))
    replace(page, "#suppression-email", "not-an-address")
    page.find_element(*by("#suppression-add")).click()
    assert shown(page, "#suppression-email-error").text == "メールアドレスの形式が正しくありません（例: hanako@example.com）。"
    assert ok(client.get("/v1/messaging/suppressions", params={"email": phoned}))["data"] == [listed]

    # lifted after confirming; cancelling first lifts nothing
    suppression_row(page, phoned).find_element(*by("button.lift")).click()
    dialog = shown(page, "dialog")
    assert dialog.find_element(*by("h2")).text == "「%s」の配信停止を解除しますか？" % phoned
    dialog.find_element(*by("button.cancel")).click()
    wait(page, lambda d: not d.find_elements(*by("dialog")))
    assert ok(client.get("/v1/messaging/suppressions", params={"email": phoned}))["data"] == [listed]
    suppression_row(page, phoned).find_element(*by("button.lift")).click()
    shown(page, "dialog button.confirm").click()
    wait(page, lambda d: not d.find_elements(*by('#suppressions tr[data-email="%s"]' % phoned)))
    assert ok(client.get("/v1/messaging/suppressions", params={"email": phoned}))["data"] == []
    assert text_of(page, "#announce") == "「%s」の配信停止を解除しました。" % phoned

    viewer, viewer_password, _ = staff(suite, "viewer")
    sign_in(page, suite, viewer, viewer_password)
    page.get(suite.url("/#/mail/suppressions"))
    row = wait(page, lambda d: suppression_row(d, added.lower()))
    assert not row.find_elements(*by("button.lift")) and not page.find_elements(*by("#suppression-form"))
    assert lift_api(client, added.lower()).status_code == 200


def lift_api(client, address):
    return client.request("DELETE", "/v1/messaging/suppressions/" + address)


def test_a_members_unsubscribe_shows_how_and_has_no_lift_button(suite, client, page):
    """A consenting member turns their consent to no in the portal: the list shows them as
    配信停止（本人）, their record's source, who and how (会員本人（マイページ）) and when, and
    in place of the lift button that only their own opt-in lifts it (the API answers 409)."""
    tag = uuid.uuid4().hex[:8]
    m = client.create_member(email="optout-%s@example.com" % tag, marketing_consent={
        "email_opt_in": True, "method": "web_form", "source": "signup form"})
    password = "pw-%s-Aa1!" % tag
    assert client.post("/v1/members/%s/password" % m["id"], {"password": password}).status_code == 204
    r = client.request("POST", "/v1/member-auth/login", auth=False,
                       json_body={"email": m["email"], "password": password})
    assert r.status_code == 200, r.text
    own = suite.client_as(r.json()["token"])
    r = own.patch("/v1/member-auth/me", {"marketing_consent": {
        "email_opt_in": False, "method": "portal", "source": "portal: mail settings"}})
    assert r.status_code == 200, r.text
    entry = until("the unsubscribe listed", lambda: (ok(client.get(
        "/v1/messaging/suppressions", params={"email": m["email"]}))["data"] or [None])[0])
    assert (entry["reason"], entry["channel"], entry["at"]) == (
        "unsubscribe", "portal", r.json()["marketing_consent"]["at"]), entry
    email, password, _ = staff(suite, "marketing")
    sign_in(page, suite, email, password)
    page.get(suite.url("/#/mail/suppressions"))
    shown(page, "#suppression-search").send_keys(m["email"])
    wait(page, lambda d: d.find_element(*by("#suppressions-summary")).text == "1 件")
    expected = [m["email"], "配信停止（本人）", "portal: mail settings", "会員本人（マイページ）",
                jst(entry["at"]), "本人の再同意でのみ解除"]
    # the list is drawn again as the search settles: read the row as it is last drawn
    wait(page, lambda d: [c.text for c in suppression_row(d, m["email"]).find_elements(*by("td"))] == expected)
    assert not page.find_elements(*by('#suppressions tr[data-email="%s"] button.lift' % m["email"]))
    assert lift_api(client, m["email"]).status_code == 409


def test_an_automations_runs_a_page_at_a_time_by_status(suite, client, page):
    """メール › 自動配信 › one automation: its runs, newest first, 20 a page: who entered (by
    name), the status, the next step and when it is due, when they entered, and the last mail
    (its subject, or its template's name when it was not sent, and its status); the status filter. 21 members enter a scenario that mails at once
    (marketing: they have no consent, so their mails are suppressed) and then waits a day."""
    tag = uuid.uuid4().hex[:8]
    template = ok(client.post("/v1/messaging/templates", {"name": "実行 " + tag, "kind": "marketing",
                                                          "subject": "ようこそ " + tag, "text": "t"}), 201)
    automation = ok(client.post("/v1/messaging/automations", {
        "name": "登録直後と翌日 " + tag, "source": "member", "event_type": "member.registered",
        "scenario": {"steps": [{"send": {"template_id": template["id"]}}, {"wait": {"minutes": 24 * 60}},
                               {"send": {"template_id": template["id"]}}]}}), 201)
    try:
        members = [client.create_member(name="実行 %02d %s" % (i, tag)) for i in range(21)]
        path = "/v1/messaging/automations/%s/runs" % automation["id"]
        runs = until("every member's run past its first mail", lambda: (
            lambda r: len(r) == 21 and all(x["position"] == 2 for x in r) and r)(
            ok(client.get(path, params={"limit": 100}))["data"]))
        mails = {r["last_mail_id"]: r for r in runs}
        until("the first mails suppressed", lambda: all(
            ok(client.get("/v1/messaging/mails/" + m))["status"] == "suppressed" for m in mails))
    finally:
        ok(client.patch("/v1/messaging/automations/" + automation["id"], {"active": False}))
    email, password, _ = staff(suite, "viewer")
    sign_in(page, suite, email, password)
    page.get(suite.url("/#/mail/automations"))
    shown(page, 'tr[data-automation-id="%s"] a.automation-link' % automation["id"]).click()
    wait(page, lambda d: d.find_element(*by("#automation-title")).text == "登録直後と翌日 " + tag)
    assert text_of(page, "#automation-rule") == "会員登録のたびに、3 ステップのシナリオ（メール 2 通）を進める"
    assert text_of(page, "#automation-state") == "配信: オフ（版 2）"
    wait(page, lambda d: d.find_element(*by("#runs-summary")).text == "20 件を表示中（続きがあります）")
    newest = runs[0]
    assert newest["member_id"] == members[20]["id"], newest
    row = page.find_element(*by('#runs tr[data-run-id="%s"]' % newest["id"]))
    wait(page, lambda d: "読み込み中" not in row.text)
    cells = [c.text for c in row.find_elements(*by("td"))]
    assert cells == ["実行 20 " + tag, "進行中", "ステップ 3", jst(newest["due_at"]), jst(newest["entered_at"]),
                     "実行 %s（送信対象外）" % tag], cells       # not sent: named by its template
    page.find_element(*by("#runs-more")).click()
    wait(page, lambda d: d.find_element(*by("#runs-summary")).text == "21 件")
    assert [r.get_attribute("data-run-id") for r in page.find_elements(*by("#runs tbody tr"))] == [r["id"] for r in runs]
    Select(page.find_element(*by("#run-status"))).select_by_value("done")
    wait(page, lambda d: d.find_element(*by("#runs-summary")).text == "該当する実行はありません。")
    Select(page.find_element(*by("#run-status"))).select_by_value("active")
    wait(page, lambda d: d.find_element(*by("#runs-summary")).text == "20 件を表示中（続きがあります）")
