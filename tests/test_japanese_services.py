"""test_japanese_services.py - Japanese-first (issue 13) beyond member: billing's, messaging's and
analytics' problems through the gateway, in Japanese for Accept-Language: ja (each service's
table, services/<name>/<name>_messages.c, and the sentences they share in common/messages.c)
and in English, word for word as before, without it. Each answer is asserted as written."""

import uuid

import pytest

from billing_util import billing_suite, finish_suite, uniq

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
