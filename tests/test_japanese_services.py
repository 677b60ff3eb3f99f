"""test_japanese_services.py - Japanese-first (issue 13) beyond member: billing's, messaging's and
analytics' problems through the gateway, in Japanese for Accept-Language: ja (each service's
table, services/<name>/<name>_messages.c, and the sentences they share in common/messages.c)
and in English, word for word as before, without it. Each answer is asserted as written."""

import uuid

import pytest

from billing_util import billing_suite, finish_suite, item, member_with_card, ok, uniq

JA = {"Accept-Language": "ja-JP,ja;q=0.9,en;q=0.8"}


@pytest.fixture(scope="module")
def c():
    s = billing_suite("ja-services")
    missing = {"messaging", "analytics"} - set(s.service_list)
    if missing:
        s.stop()
        pytest.skip("not in the suite (built and in services/list): %s" % ", ".join(sorted(missing)))
    yield s.client
    finish_suite(s)


def both(c, method, path, body=None, **kw):
    """The same request without Accept-Language and with ja: the two answers' JSON."""
    english = c.request(method, path, json_body=body, **kw)
    japanese = c.request(method, path, json_body=body, headers=JA, **kw)
    assert english.status_code == japanese.status_code, (english.text, japanese.text)
    return english.status_code, english.json(), japanese.json()


def said(problem):
    """What a problem says: its title, its detail and each field's reason."""
    return (problem["title"], problem["detail"],
            [(e["field"], e["reason"]) for e in problem.get("errors", [])])


# Per service: a request one field of which its own rules refuse, that field, and its reason in
# English and in Japanese (a printf format's arguments in both).
FIELD_REASONS = [
    ("billing", "POST", "/v1/coupons", {"code": "JA10", "percent_off": 10, "amount_off": 500}, None,
     "amount_off", "exactly one of percent_off and amount_off must be given",
     "percent_off と amount_off のどちらか一方だけを指定してください"),
    ("billing-amount", "POST", "/v1/invoices",
     {"member_id": str(uuid.uuid4()), "lines": [{"description": "入会金", "quantity": 100000,
                                                 "unit_amount": 10 ** 12}]}, None,
     "lines[0].unit_amount", "quantity times unit_amount must be at most 1000000000000",
     "quantity × unit_amount は 1000000000000 以下にしてください"),
    ("messaging", "POST", "/v1/messaging/templates",
     {"name": "お知らせ", "kind": "transactional", "subject": "件名"}, None,
     "text", "html or text must be given", "html か text のどちらかを指定してください"),
    ("analytics", "GET", "/v1/metrics/subscriptions", None, {"from": "2025-13"},
     "from", "must be a month, YYYY-MM", "月を YYYY-MM の形式で指定してください"),
]


@pytest.mark.parametrize("case, method, path, body, params, field, english, japanese", FIELD_REASONS,
                         ids=[case[0] for case in FIELD_REASONS])
def test_field_reason(c, case, method, path, body, params, field, english, japanese):
    status, e, j = both(c, method, path, body, params=params)
    assert status == 400
    assert said(e) == ("The request is not valid", "the request has invalid fields", [(field, english)])
    assert said(j) == ("リクエストが正しくありません", "リクエストに不正な項目があります", [(field, japanese)])


# Per service: a request for something that is not there, and the detail in both languages.
NOT_FOUND = [
    ("billing", "GET", "/v1/invoices/%s", None, "invoice not found", "請求書が見つかりません"),
    ("messaging", "POST", "/v1/messaging/campaigns/%s/send", {},
     "campaign not found", "キャンペーンが見つかりません"),
    ("analytics", "GET", "/v1/members/%s/timeline", None, "member not found", "会員が見つかりません"),
    # the thing missing named in the sentence, not an English noun inside a Japanese one
    ("billing-plan", "GET", "/v1/plans/%s", None, "plan not found", "プランが見つかりません"),
    ("messaging-template", "GET", "/v1/messaging/templates/%s", None,
     "template not found", "テンプレートが見つかりません"),
    ("member-inquiry", "GET", "/v1/inquiries/%s", None, "no such inquiry", "問い合わせが見つかりません"),
]


@pytest.mark.parametrize("case, method, path, body, english, japanese", NOT_FOUND,
                         ids=[case[0] for case in NOT_FOUND])
def test_not_found(c, case, method, path, body, english, japanese):
    status, e, j = both(c, method, path % uuid.uuid4(), body)
    assert status == 404
    assert said(e) == ("Not found", english, [])
    assert said(j) == ("見つかりません", japanese, [])


def test_billing_conflict_with_its_field(c):
    plan = {"code": uniq("ja-plan"), "name": "ベーシック", "amount": 980, "interval": "month"}
    r = c.post("/v1/plans", plan)
    assert r.status_code == 201, r.text
    status, e, j = both(c, "POST", "/v1/plans", plan)
    assert status == 409
    assert said(e) == ("Conflict", "a plan with this code exists", [("code", "is taken by another plan")])
    assert said(j) == ("競合しています", "このコードのプランはすでに存在します",
                       [("code", "別のプランで使われています")])


def test_coupon_refused_says_why(c):
    code = uniq("JAOFF").upper()
    coupon = ok(c.post("/v1/coupons", {"code": code, "name": "終了したクーポン", "duration": "once",
                                       "percent_off": 10}), 201)
    ok(c.post("/v1/coupons/%s/deactivate" % coupon["id"], {}))
    member, _ = member_with_card(c)
    status, e, j = both(c, "POST", "/v1/purchases", {"member_id": member["id"], "items": [item(1000)],
                                                      "coupon_code": code})
    assert status == 400
    assert said(e) == ("The request is not valid", "the request has invalid fields",
                       [("coupon_code", "is no longer active")])
    assert said(j) == ("リクエストが正しくありません", "リクエストに不正な項目があります",
                       [("coupon_code", "現在は使えないクーポンです")])


def test_template_syntax_error_with_its_line_and_column(c):
    template = {"name": "ご案内", "kind": "transactional", "subject": "件名",
                "text": "ご案内です\n  {{member.nickname}} 様"}
    status, e, j = both(c, "POST", "/v1/messaging/templates", template)
    assert status == 400
    assert said(e) == ("The request is not valid", "the request has invalid fields",
                       [("text", "line 2, column 3: unknown variable 'member.nickname'")])
    assert said(j) == ("リクエストが正しくありません", "リクエストに不正な項目があります",
                       [("text", "2 行目 3 列目: 不明な変数 'member.nickname' です")])


SEGMENT_FILTERS = [
    ("key", {"sql": "true"}, "filter.sql", "is not a key of a filter: and, or, not, field, op, value",
     "フィルタのキーではありません(使えるキー: and、or、not、field、op、value)"),
    ("value", {"field": "last_login_at", "op": "before", "value": "last week"}, "filter.value",
     'must be an RFC 3339 time: "2026-04-01T10:00:00+09:00"',
     'RFC 3339 の日時を指定してください: "2026-04-01T10:00:00+09:00"'),
]


@pytest.mark.parametrize("case, filter_, field, english, japanese", SEGMENT_FILTERS,
                         ids=[case[0] for case in SEGMENT_FILTERS])
def test_segment_filter_error(c, case, filter_, field, english, japanese):
    status, e, j = both(c, "POST", "/v1/messaging/segments", {"name": "不正なセグメント", "filter": filter_})
    assert status == 400
    assert said(e) == ("The request is not valid", "the request has invalid fields", [(field, english)])
    assert said(j) == ("リクエストが正しくありません", "リクエストに不正な項目があります", [(field, japanese)])


# The member service's sentences that reached Japanese clients in English: why an activity's
# field is refused (events[i] in a batch), an attribute's, a login's and an inquiry's.
def test_member_activity_field(c):
    member = c.create_member()
    path = "/v1/members/%s/activities" % member["id"]
    status, e, j = both(c, "POST", path, {"events": [{"type": "page.view", "path": "/" + "p" * 2000},
                                                     {"type": "Page View"}]})
    assert status == 400
    assert said(e) == ("The request is not valid", "the request has invalid fields",
                       [("events[0].path", "must be at most 2000 characters"),
                        ("events[1].type", "must be 1 to 50 of a-z, 0-9, '_' and '.'")])
    assert said(j) == ("リクエストが正しくありません", "リクエストに不正な項目があります",
                       [("events[0].path", "2000 文字以内で入力してください"),
                        ("events[1].type", "a-z、0-9、'_'、'.' の 1〜50 文字で入力してください")])


def test_member_attribute_defined_twice_and_its_value(c):
    key = "ja_" + uniq("d").replace("-", "_")
    definition = {"key": key, "label": "入会日", "type": "date"}
    assert c.post("/v1/member-attributes", definition).status_code == 201
    status, e, j = both(c, "POST", "/v1/member-attributes", definition)
    assert status == 409
    assert said(e) == ("Conflict", "an attribute with this key exists", [("key", "is already defined")])
    assert said(j) == ("競合しています", "このキーの属性はすでに存在します", [("key", "すでに定義されています")])
    member = c.create_member()
    status, e, j = both(c, "PATCH", "/v1/members/" + member["id"], {"attributes": {key: "2026-02-30"}})
    assert status == 400
    assert said(e) == ("The request is not valid", "the request has invalid fields",
                       [("attributes." + key, "must be a date YYYY-MM-DD")])
    assert said(j) == ("リクエストが正しくありません", "リクエストに不正な項目があります",
                       [("attributes." + key, "日付を YYYY-MM-DD の形式で指定してください")])


def test_member_login_refused(c):
    status, e, j = both(c, "POST", "/v1/member-auth/login",
                        {"email": uniq("nobody") + "@example.com", "password": "correct-horse-battery"},
                        auth=False)
    assert status == 401
    assert said(e) == ("Authentication is required",
                       "the email or the password is wrong, or the member has withdrawn", [])
    assert said(j) == ("認証が必要です", "メールアドレスかパスワードが間違っているか、退会済みの会員です", [])


def test_inquiry_status_refused(c):
    member = c.create_member()
    opened = c.post("/v1/members/%s/inquiries" % member["id"],
                    {"subject": "ログインできません", "body": "パスワードを忘れました。",
                     "channel": "email", "category": "account"})
    assert opened.status_code == 201, opened.text
    iid = opened.json()["id"]
    resolved = c.patch("/v1/inquiries/" + iid, {"status": "resolved"})
    assert resolved.status_code == 200, resolved.text
    status, e, j = both(c, "POST", "/v1/inquiries/%s/messages" % iid, {"body": "再設定しました。",
                                                                       "status": "pending"})
    assert status == 409
    assert said(e) == ("Conflict", "only an open inquiry moves to pending with a reply; this one is resolved", [])
    assert said(j) == ("競合しています", "返信で pending にできるのは open の問い合わせだけです。"
                       "この問い合わせは解決済み(resolved)です", [])
    status, e, j = both(c, "POST", "/v1/inquiries/%s/messages" % iid, {"body": "再設定しました。",
                                                                       "status": "resolved"})
    assert status == 400
    assert said(e) == ("The request is not valid", "the request has invalid fields",
                       [("status", "a reply can only move an inquiry to pending")])
    assert said(j) == ("リクエストが正しくありません", "リクエストに不正な項目があります",
                       [("status", "返信で変更できる状態は pending だけです")])
    stale = {"If-Match": '"1"'}                      # opened at 1, resolved at 2
    e = c.request("PATCH", "/v1/inquiries/" + iid, json_body={"status": "open"}, headers=stale)
    j = c.request("PATCH", "/v1/inquiries/" + iid, json_body={"status": "open"}, headers=dict(stale, **JA))
    assert (e.status_code, j.status_code) == (412, 412)
    assert said(e.json()) == ("The resource changed", "the inquiry changed since the version given in If-Match", [])
    assert said(j.json()) == ("対象が更新されています", "If-Match の版の後に問い合わせが更新されています", [])
