"""Every problem+json carries a stable machine `code` (docs/errors.md): at the top, and on each
item of errors[]. The code is the same for English and Japanese callers while the words differ;
a problem without a code of its own has its type's."""
import uuid

from harness import unique_email
from test_members import assert_problem

JA = {"Accept-Language": "ja"}


def test_an_unknown_member_is_member_not_found_in_both_languages(client):
    path = "/v1/members/" + str(uuid.uuid4())
    english = assert_problem(client.get(path), 404, "not-found", code="member_not_found")
    japanese = assert_problem(client.get(path, headers=JA), 404, "not-found", code="member_not_found")
    assert (english["detail"], japanese["detail"]) == ("no such member", "会員が見つかりません")


def test_bad_fields_have_their_codes_the_same_in_both_languages(client):
    body = {"email": unique_email(), "name_kana": "山田", "bogus": 1, "phone": 5}
    english = assert_problem(client.post("/v1/members", body), 400, "invalid-request",
                             code="invalid_fields")
    japanese = assert_problem(client.post("/v1/members", body, headers=JA), 400, "invalid-request",
                              code="invalid_fields")
    codes = {e["field"]: e["code"] for e in english["errors"]}
    assert codes == {e["field"]: e["code"] for e in japanese["errors"]}, (english, japanese)
    assert codes == {"bogus": "unknown_field", "phone": "not_string"}, english
    reasons = {e["field"]: e["reason"] for e in japanese["errors"]}
    assert reasons["bogus"] == "このリクエストの項目ではありません", japanese
    assert {e["field"]: e["reason"] for e in english["errors"]}["bogus"] == "is not a field of this request"


def test_a_service_rule_and_an_integer_out_of_range(client):
    r = client.post("/v1/members", {"email": unique_email(), "name_kana": "山田"})
    body = assert_problem(r, 400, "invalid-request", code="invalid_fields")
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("name_kana", "not_katakana")], body
    r = client.get("/v1/members", params={"limit": "1000"})
    body = assert_problem(r, 400, "invalid-request", code="invalid_fields")
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("limit", "integer_out_of_range")], body


def test_a_taken_email_is_a_conflict_with_its_own_code(client):
    email = unique_email()
    assert client.post("/v1/members", {"email": email}).status_code == 201
    body = assert_problem(client.post("/v1/members", {"email": email}, headers=JA), 409, "conflict",
                          code="member_already_exists")
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("email", "email_taken")], body


def test_the_gateways_own_problems_have_codes(client):
    r = client.request("POST", "/v1/members", data=b"not json", headers={"Content-Type": "application/json"})
    body = assert_problem(r, 400, "invalid-request", code="invalid_fields")
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("body", "invalid_json")], body
    assert_problem(client.get("/v1/no-such-thing"), 404, "not-found", code="route_not_found")
    body = assert_problem(client.request("GET", "/v1/members", auth=False, headers=JA), 401,
                          "unauthenticated", code="token_required")
    assert body["detail"] == "有効なベアラートークンが必要です", body


def test_a_problem_without_a_code_of_its_own_has_its_types(client):
    r = client.request("DELETE", "/v1/members")                 # the gateway's 405: no code of its own
    assert_problem(r, 405, "method-not-allowed", code="method_not_allowed")
