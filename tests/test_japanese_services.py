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
