"""test_console_members.py - the members' list's wizards in a real headless Chromium (issue 12,
item 3): the CSV import (a CP932 file with one bad row: the dry run names the row and column,
apply imports the rest), saved segments filtering the list, and tagging the selected members at
once. Each scenario drives the page as a person does and checks the outcome through the API; the
browser is test_console.py's, a screenshot of each scenario's end in build/test-artifacts/console/."""

import os
import re
import tempfile
import uuid

from selenium.webdriver.support.ui import Select

from test_console import browser, by, page, shown, sign_in, staff, text_of, wait  # noqa: F401
from test_console_screens import no_wider_than, until

__all__ = ["browser", "page"]      # fixtures used by name

HEADER = ["メールアドレス", "氏名", "フリガナ", "電話番号", "タグ"]


def cp932_file(rows):
    """rows (the header first) as Excel's 「CSV (コンマ区切り)」 saves them: CP932, CRLF; the path
    of a temporary .csv file holding them (the browser uploads it from disk)."""
    data = "".join(",".join(row) + "\r\n" for row in rows).encode("cp932")
    fd, path = tempfile.mkstemp(suffix=".csv", prefix="kaiin-import-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


def by_email(client, email):
    r = client.get("/v1/members", params={"email": email})
    assert r.status_code == 200, r.text
    return r.json()["data"]


def test_cp932_csv_with_one_bad_row_preview_names_row_and_column_and_apply_imports_the_rest(suite, client, page):
    run = uuid.uuid4().hex[:8]
    tag = "imp" + run
    emails = ["imp-%s-%d@example.jp" % (run, i) for i in range(3)]
    path = cp932_file([HEADER,
                       [emails[0], "髙橋 花子", "タカハシ ハナコ", "090-1234-5678", tag],   # 髙: CP932 only
                       [emails[1], "渡邉 一郎", "ワタナベ イチロウ", "12345", tag],          # row 3: phone
                       [emails[2], "斎藤 三郎", "サイトウ サブロウ", "", tag]])
    email, password, _ = staff(suite, "admin")
    page.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",            # a phone's width
                         {"width": 375, "height": 812, "deviceScaleFactor": 1, "mobile": True})
    try:
        sign_in(page, suite, email, password)
        shown(page, "#members-import").click()
        chooser = shown(page, "#import-file")
        assert page.switch_to.active_element == chooser
        page.find_element(*by("#import-check")).click()           # no file: said next to the field
        assert shown(page, "#import-file-error").text == "ファイルを選んでください。"
        chooser.send_keys(path)
        assert Select(page.find_element(*by("#import-mode"))).first_selected_option.text == "問題のない行だけ取り込む"
        page.find_element(*by("#import-check")).click()

        # the dry run: the encoding, what would happen, and the bad row by number and column
        shown(page, "#import-preview")
        counts = text_of(page, "#import-counts")
        for label, value in (("文字コード", "Shift_JIS（CP932）"), ("データ行", "3"), ("新しく登録される会員", "2"),
                             ("更新される会員", "0"), ("問題のある行", "1")):
            assert "%s\n%s" % (label, value) in counts, counts
        bad = page.find_elements(*by("#import-errors tbody tr"))
        assert len(bad) == 1
        assert bad[0].get_attribute("data-row") == "3" and bad[0].get_attribute("data-column") == "電話番号"
        cells = [td.text for td in bad[0].find_elements(*by("td"))]
        assert cells == ["3 行目", "電話番号", "電話番号は 10〜15 桁の数字で入力してください（例: 090-1234-5678）。"], cells
        assert not any(by_email(client, e) for e in emails)          # a dry run changes nothing
        no_wider_than(page, 375)

        apply = page.find_element(*by("#import-apply"))
        assert apply.text == "問題のない行を取り込む"
        apply.click()
        result = shown(page, "#import-result")
        assert result.find_element(*by("h2")).text == "取り込みました"
        done = text_of(page, "#import-done-counts")
        assert "登録した会員\n2" in done and "更新した会員\n0" in done and "問題のある行\n1" in done, done
        assert page.find_element(*by('#import-result #import-errors tr[data-row="3"]'))
        # partial: applied as a job (/v1/members/import-jobs), which ended with these counts
        assert suite.sql("select state, rows_total, created, rejected from member.import_jobs"
                         " order by created_at desc limit 1") == \
            [["succeeded", "3", "2", "1"]]

        # the other two are members now, with their kanji as written and the tag; the bad one is not
        first, = by_email(client, emails[0])
        assert (first["name"], first["name_kana"], first["phone"], first["tags"]) == \
            ("髙橋 花子", "タカハシ ハナコ", "090-1234-5678", [tag])
        third, = by_email(client, emails[2])
        assert (third["name"], third["phone"]) == ("斎藤 三郎", None)
        assert by_email(client, emails[1]) == []
    finally:
        page.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        os.unlink(path)


def shown_within(page, css, timeout):
    from selenium.webdriver.support import expected_conditions as EC
    return wait(page, EC.visibility_of_element_located(by(css)), timeout)


def test_apply_shows_the_jobs_rows_done_of_total_until_it_ends(suite, client, page):
    """4 000 rows (4 batches of the job): after the check, the apply shows 「N / 4,000 行」 with
    a progress bar while the job runs, then what was done."""
    run = uuid.uuid4().hex[:8]
    emails = ["prog-%s-%04d@example.jp" % (run, i) for i in range(4000)]
    path = cp932_file([HEADER] + [[e, "会員 %d" % i, "", "", ""] for i, e in enumerate(emails)])
    email, password, _ = staff(suite, "admin")
    try:
        sign_in(page, suite, email, password)
        shown(page, "#members-import").click()
        shown(page, "#import-file").send_keys(path)
        page.find_element(*by("#import-check")).click()
        shown_within(page, "#import-apply", 60).click()
        words = shown_within(page, "#import-progress-text", 30).text
        assert re.fullmatch(r"[\d,]+ / 4,000 行", words), words
        assert page.find_element(*by("#import-progress")).get_attribute("max") == "4000"
        result = shown_within(page, "#import-result", 120)
        assert result.find_element(*by("h2")).text == "取り込みました"
        assert "登録した会員\n4,000" in text_of(page, "#import-done-counts")
        assert by_email(client, emails[-1])
    finally:
        os.unlink(path)


def test_import_is_offered_only_to_the_roles_that_may(suite, page):
    email, password, _ = staff(suite, "support")
    sign_in(page, suite, email, password)
    assert not page.find_elements(*by("#members-import"))
    page.get(suite.url("/#/members/import"))
    wait(page, lambda d: "この画面は使えません" in d.find_element(*by("main")).text)
    assert not page.find_elements(*by("#import-file"))


def tags_of(client, member_id):
    r = client.get("/v1/members/" + member_id)
    assert r.status_code == 200, r.text
    return r.json()["tags"]


def test_bulk_tag_of_the_ticked_members_then_of_every_member_the_filters_select(suite, client, page):
    run = uuid.uuid4().hex[:8]
    group = "grp" + run
    members = []
    for name in ("一括 一郎", "一括 二郎", "一括 三郎"):
        m = client.create_member(name=name)
        assert client.post("/v1/members/%s/tags" % m["id"], {"add": [group]}).status_code == 200
        members.append(m)
    vip = "vip" + run
    email, password, _ = staff(suite, "marketing")
    sign_in(page, suite, email, password)
    assert not page.find_elements(*by("#members-import"))            # marketing may not import
    page.find_element(*by("#member-tag")).send_keys(group)
    wait(page, lambda d: len(d.find_elements(*by("#members-table tbody tr"))) == 3
         and not d.find_elements(*by("#members-table[aria-busy]")))
    assert text_of(page, "#bulk-status") == "0 人をチェック中"
    page.find_element(*by("#bulk-add")).click()                        # no tag typed: said next to the field
    assert shown(page, "#bulk-tag-error").text == "入力してください。"
    page.find_element(*by("#bulk-tag")).send_keys(vip)
    page.find_element(*by("#bulk-add")).click()
    assert text_of(page, "#bulk-status") == "会員をチェックしてください。"
    for m in members[:2]:
        page.find_element(*by("#tick-" + m["id"])).click()
    assert text_of(page, "#bulk-status") == "2 人をチェック中"
    page.find_element(*by("#bulk-add")).click()
    wait(page, lambda d: d.find_element(*by("#bulk-status")).text == "2 人にタグ「%s」を付けました。" % vip)
    assert [vip in tags_of(client, m["id"]) for m in members] == [True, True, False]

    # every member the filters select: the three, the ticks aside
    Select(page.find_element(*by("#bulk-scope"))).select_by_value("filtered")
    page.find_element(*by("#bulk-remove")).click()
    wait(page, lambda d: d.find_element(*by("#bulk-status")).text == "3 人からタグ「%s」を外しました。" % vip)
    assert [tags_of(client, m["id"]) for m in members] == [[group]] * 3


def test_a_saved_segment_filters_the_list_and_its_members_are_tagged_at_once(suite, client, page):
    run = uuid.uuid4().hex[:8]
    chosen, other = "in" + run, "out" + run
    inside = []
    for name, tag in (("セグメント 一郎", chosen), ("セグメント 二郎", chosen), ("セグメント 三郎", other)):
        m = client.create_member(name=name)
        assert client.post("/v1/members/%s/tags" % m["id"], {"add": [tag]}).status_code == 200
        if tag == chosen:
            inside.append(m["id"])
    r = client.post("/v1/messaging/segments", {"name": "セグメント " + run,
                                               "filter": {"and": [{"field": "tags", "op": "has", "value": chosen}]}})
    assert r.status_code == 201, r.text
    segment = r.json()
    until("messaging to count the segment's members",
          lambda: client.get("/v1/messaging/segments/%s/count" % segment["id"]).json()["count"] == 2)
    email, password, _ = staff(suite, "marketing")
    sign_in(page, suite, email, password)
    wait(page, lambda d: d.find_elements(*by('#member-segment option[value="%s"]' % segment["id"])))
    Select(page.find_element(*by("#member-segment"))).select_by_value(segment["id"])
    wait(page, lambda d: sorted(r.get_attribute("data-member-id") for r in d.find_elements(*by("#members-table tbody tr")))
         == sorted(inside) and not d.find_elements(*by("#members-table[aria-busy]")))
    assert not page.find_element(*by("#member-search")).is_enabled()     # the segment alone selects
    assert not page.find_element(*by("#members-export")).is_enabled()
    assert "セグメント 一郎" in text_of(page, "#members-table")

    after = "after" + run
    page.find_element(*by("#bulk-tag")).send_keys(after)
    Select(page.find_element(*by("#bulk-scope"))).select_by_value("filtered")
    page.find_element(*by("#bulk-add")).click()
    wait(page, lambda d: d.find_element(*by("#bulk-status")).text == "2 人にタグ「%s」を付けました。" % after)
    tagged = client.get("/v1/members", params={"tag": after, "limit": 10}).json()["data"]
    assert sorted(m["id"] for m in tagged) == sorted(inside)

    Select(page.find_element(*by("#member-segment"))).select_by_value("")
    wait(page, lambda d: d.find_element(*by("#member-search")).is_enabled())
