"""test_input.py - bad input, authentication, routing errors and request ids at the gateway."""

import json
import re
import socket
import time
import uuid

import pytest
import requests

from harness import unique_email
from test_members import assert_problem

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# A member id in a test's name: fixed, since pytest-xdist's workers must collect the same names.
FIXED_ID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"


def fields(body):
    return [e["field"] for e in body.get("errors", [])]


def post_raw(client, data, content_type="application/json", path="/v1/members"):
    return client.request("POST", path, data=data, headers={"Content-Type": content_type})


def count_members(suite):
    return int(suite.sql("select count(*) from member.members")[0][0])


def test_malformed_json_names_body(suite, client):
    n = count_members(suite)
    for data in ('{"email": "a@b.co"', "not json", "", '{"email": "a@b.co"} trailing'):
        body = assert_problem(post_raw(client, data), 400, "invalid-request")
        assert fields(body) == ["body"], (data, body)
        assert body["instance"] == "/v1/members"
    assert count_members(suite) == n


def test_not_an_object(client):
    for data in ("[]", '"a@b.co"', "42", "null", '[{"email":"a@b.co"}]'):
        body = assert_problem(post_raw(client, data), 400, "invalid-request")
        assert fields(body) == ["body"], (data, body)


@pytest.mark.parametrize("field", ["id", "status", "foo", "created_at", "version"])
def test_unknown_field_named(client, field):
    body = assert_problem(client.post("/v1/members", {"email": unique_email(), field: "x"}),
                          400, "invalid-request")
    assert field in fields(body), body


@pytest.mark.parametrize("body,field", [
    ({"email": 5}, "email"), ({"email": ["a@b.co"]}, "email"), ({"email": None}, "email"),
    ({}, "email"), ({"name": "no email"}, "email"),
    ({"email": "E", "name": 5}, "name"), ({"email": "E", "name_kana": True}, "name_kana"),
    ({"email": "E", "phone": {"n": 1}}, "phone"), ({"email": "E", "phone": 9012345678}, "phone"),
])
def test_missing_or_wrong_type(client, body, field):
    body = {k: (unique_email() if v == "E" else v) for k, v in body.items()}
    r = client.post("/v1/members", body)
    b = assert_problem(r, 400, "invalid-request")
    assert field in fields(b), b
    assert all(e.get("reason") for e in b["errors"]), b


@pytest.mark.parametrize("email", ["plainaddress", "a b@example.com", "a@example", "@example.com",
                                   "a@", "a@@example.com", "a@exa mple.com",
                                   "x" * 245 + "@example.com"])
def test_invalid_email(client, email):
    b = assert_problem(client.post("/v1/members", {"email": email}), 400, "invalid-request")
    assert fields(b) == ["email"], b


def test_email_length_limit(client):
    domain = "a" * 63 + "." + "b" * 63 + "." + "c" * 58 + ".jp"      # 189 chars
    ok = "x" * 64 + "@" + domain
    assert len(ok) == 254
    r = client.post("/v1/members", {"email": ok})
    assert r.status_code == 201, r.text
    too_long = "y" * 64 + "@" + domain.replace("c" * 58, "c" * 59)
    assert len(too_long) == 255
    b = assert_problem(client.post("/v1/members", {"email": too_long}), 400, "invalid-request")
    assert fields(b) == ["email"]


@pytest.mark.parametrize("name,ok", [("あ" * 100, True), ("a" * 100, True), ("あ" * 101, False),
                                     ("a" * 101, False)])
def test_name_length_counts_characters(client, name, ok):
    r = client.post("/v1/members", {"email": unique_email(), "name": name})
    if ok:
        assert r.status_code == 201, r.text
        assert r.json()["name"] == name
    else:
        assert fields(assert_problem(r, 400, "invalid-request")) == ["name"]


@pytest.mark.parametrize("kana,stored", [("ヤマダ タロウ", "ヤマダ タロウ"), ("サトウ・ハナコ", "サトウ・ハナコ"),
                                         ("ラーメン", "ラーメン"), ("ア" * 100, "ア" * 100),
                                         ("ア" * 101, None), ("やまだ", "ヤマダ"), ("YAMADA", None),
                                         ("山田", None), ("ﾔﾏﾀﾞ", "ヤマダ"), ("ヤマダ　タロウ", "ヤマダ タロウ"),
                                         ("ヤマダ1", None)])
def test_name_kana_rules(client, kana, stored):
    """Hiragana and half-width katakana are taken as the katakana they spell (member_text.c)."""
    r = client.post("/v1/members", {"email": unique_email(), "name_kana": kana})
    if stored:
        assert r.status_code == 201, r.text
        assert r.json()["name_kana"] == stored
    else:
        assert fields(assert_problem(r, 400, "invalid-request")) == ["name_kana"]


@pytest.mark.parametrize("phone,ok", [("0312345678", True), ("+81-90-1234-5678", True),
                                      ("(03) 1234 5678", True), ("+123456789012345", True),
                                      ("123456789", False), ("1234567890123456", False),
                                      ("090-1234-567a", False), ("81+9012345678", False),
                                      ("090.1234.5678", False)])
def test_phone_rules(client, phone, ok):
    r = client.post("/v1/members", {"email": unique_email(), "phone": phone})
    if ok:
        assert r.status_code == 201, r.text
        assert r.json()["phone"] == phone
    else:
        assert fields(assert_problem(r, 400, "invalid-request")) == ["phone"]


def test_empty_optional_text_means_not_set(client):
    """As in Stripe's API, an empty string unsets an optional field: it reads back as null."""
    r = client.post("/v1/members", {"email": unique_email(), "phone": "", "name": "", "name_kana": ""})
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["phone"], body["name"], body["name_kana"]) == (None, None, None)


def test_several_bad_fields_all_named(client):
    b = assert_problem(client.post("/v1/members", {"email": "bad", "phone": "1", "name_kana": "x"}),
                       400, "invalid-request")
    assert set(fields(b)) >= {"email"}, b


def test_body_over_1mib_is_413(suite, client):
    n = count_members(suite)
    big = json.dumps({"email": unique_email(), "name": "x" * (1024 * 1024)})
    try:
        r = post_raw(client, big)
    except requests.ConnectionError:
        pytest.fail("connection dropped instead of a 413 answer")
    assert_problem(r, 413, "payload-too-large")
    assert count_members(suite) == n


def test_body_just_under_1mib_reaches_validation(client):
    body = json.dumps({"email": unique_email(), "name": "x" * (1024 * 1024 - 200)})
    assert len(body) < 1024 * 1024
    b = assert_problem(post_raw(client, body), 400, "invalid-request")
    assert fields(b) == ["name"]


def test_unsupported_media_type(suite, client):
    n = count_members(suite)
    data = json.dumps({"email": unique_email()})
    for ct in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        assert_problem(post_raw(client, data, ct), 415, "unsupported-media-type")
    r = client.request("POST", "/v1/members", data=data, headers={"Content-Type": None})
    assert_problem(r, 415, "unsupported-media-type")
    m = client.create_member()
    r = client.request("PATCH", "/v1/members/" + m["id"], data='{"name":"x"}',
                       headers={"Content-Type": "text/plain"})
    assert_problem(r, 415, "unsupported-media-type")
    assert count_members(suite) == n + 1


def test_json_with_charset_accepted(client):
    r = post_raw(client, json.dumps({"email": unique_email()}), "application/json; charset=utf-8")
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("method,path", [("GET", "/v1"),
                                         ("GET", "/v1/nope"), ("POST", "/v1/things"),
                                         ("GET", "/v1/members/%s/nope" % FIXED_ID),
                                         ("GET", "/healthz/extra")])
def test_unknown_route_404(client, method, path):
    r = client.request(method, path)
    b = assert_problem(r, 404, "not-found")
    assert b["instance"] == path


@pytest.mark.parametrize("method,path,allowed", [
    ("DELETE", "/v1/members/{id}", {"GET", "PATCH"}),
    ("PUT", "/v1/members/{id}", {"GET", "PATCH"}),
    ("PUT", "/v1/members", {"GET", "POST"}),
    ("DELETE", "/v1/members", {"GET", "POST"}),
    ("GET", "/v1/members/{id}/withdraw", {"POST"}),
    ("POST", "/healthz", {"GET"}),
    ("POST", "/readyz", {"GET"}),
    ("DELETE", "/metrics", {"GET"}),
])
def test_wrong_method_405_with_allow(client, method, path, allowed):
    path = path.replace("{id}", str(uuid.uuid4()))
    r = client.request(method, path)
    assert_problem(r, 405, "method-not-allowed")
    allow = {m.strip() for m in r.headers.get("Allow", "").split(",") if m.strip()}
    assert allowed <= allow, (r.headers.get("Allow"), allowed)
    assert method not in allow


@pytest.mark.parametrize("auth", [None, "Bearer wrong-token", "Basic YWRtaW46YWRtaW4=", "Bearer",
                                  "bearer"])
def test_unauthenticated_401(suite, client, auth):
    for method, path in (("GET", "/v1/members"), ("POST", "/v1/members"),
                         ("GET", "/v1/members/" + str(uuid.uuid4()))):
        h = {"Authorization": auth} if auth else {}
        data = json.dumps({"email": unique_email()}) if method == "POST" else None
        if data:
            h["Content-Type"] = "application/json"
        r = client.request(method, path, auth=False, headers=h, data=data)
        assert_problem(r, 401, "unauthenticated")
        assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), r.headers


def test_token_is_not_a_prefix_match(suite, client):
    r = client.get("/v1/members", auth=False,
                   headers={"Authorization": "Bearer " + suite.token + "x"})
    assert r.status_code == 401
    r = client.get("/v1/members", auth=False,
                   headers={"Authorization": "Bearer " + suite.token[:-1]})
    assert r.status_code == 401


def test_request_id_echoed(client):
    rid = "test-" + uuid.uuid4().hex + ":a.b_c"
    for r in (client.get("/healthz", headers={"X-Request-Id": rid}),
              client.get("/v1/members", headers={"X-Request-Id": rid}),
              client.get("/v1/members/" + str(uuid.uuid4()), headers={"X-Request-Id": rid}),
              client.get("/nope", headers={"X-Request-Id": rid}),
              client.get("/v1/members", auth=False, headers={"X-Request-Id": rid})):
        assert r.headers.get("X-Request-Id") == rid, (r.status_code, r.headers)
        if r.status_code >= 400:
            assert r.json()["request_id"] == rid
    r = client.get("/healthz", headers={"X-Request-Id": "x" * 128})
    assert r.headers["X-Request-Id"] == "x" * 128


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "semi;colon", "slash/", "ü"])
def test_invalid_request_id_replaced(client, bad):
    r = client.get("/v1/members/" + str(uuid.uuid4()),
                   headers={"X-Request-Id": bad.encode("utf-8")})
    got = r.headers.get("X-Request-Id")
    assert got and got != bad and REQUEST_ID_RE.match(got), got
    assert r.json()["request_id"] == got


def test_every_kind_of_response_carries_request_id(suite, client):
    m = client.create_member()
    responses = [
        client.get("/healthz"), client.get("/readyz"), client.get("/metrics"),
        client.get("/openapi.yaml"), client.get("/v1/members"), client.get("/v1/members/" + m["id"]),
        client.post("/v1/members", {"email": unique_email()}),
        client.patch("/v1/members/" + m["id"], {}),
        client.request("DELETE", "/v1/members"),                              # 405
        client.get("/v1/members", auth=False),                                # 401
        post_raw(client, "{}", "text/plain"),                                 # 415
        post_raw(client, "x" * (1024 * 1024 + 10)),                           # 413
        client.get("/v1/members", params={"limit": 0}),                       # 400
        client.get("/nowhere"),                                               # 404
    ]
    for r in responses:
        rid = r.headers.get("X-Request-Id")
        assert rid and REQUEST_ID_RE.match(rid), (r.request.method, r.url, r.status_code)
    rid = "fixed-id-123"
    for r in (client.request("DELETE", "/v1/members", headers={"X-Request-Id": rid}),
              client.request("POST", "/v1/members", data="x" * (1024 * 1024 + 10),
                             headers={"X-Request-Id": rid, "Content-Type": "application/json"}),
              client.get("/metrics", headers={"X-Request-Id": rid})):
        assert r.headers.get("X-Request-Id") == rid, (r.status_code, r.headers)


def test_generated_request_ids_differ(client):
    ids = {client.get("/healthz").headers.get("X-Request-Id") for _ in range(5)}
    assert None not in ids and len(ids) == 5
    assert all(REQUEST_ID_RE.match(i) for i in ids)


def test_garbage_on_the_socket_does_not_kill_gateway(suite, client):
    with socket.create_connection(("127.0.0.1", suite.http_port), timeout=3) as s:
        s.sendall(b"\x00\x01\x02 GARBAGE / HTTP/9.9\r\n\r\n")
        try:
            s.recv(4096)
        except OSError:
            pass
    with socket.create_connection(("127.0.0.1", suite.http_port), timeout=3) as s:
        s.sendall(b"POST /v1/members HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"em")
    assert client.get("/healthz").status_code == 200
    assert suite.gateway.alive()


def _body_bytes(client):
    """The gateway's kaiin_http_request_body_bytes: bodies it holds now."""
    text = client.get("/metrics").text
    return int(re.search(r"^kaiin_http_request_body_bytes (\d+)$", text, re.M).group(1))


def _settled(client, before, timeout=30):
    """The bodies held once the requests of earlier uploads have ended (a closed connection's
    request ends when the gateway reads the close: later under the sanitizers)."""
    deadline = time.monotonic() + timeout
    while _body_bytes(client) > before and time.monotonic() < deadline:
        time.sleep(0.1)
    return _body_bytes(client)


def _upload_head(length, token=None):
    """The head of a CSV import of length bytes, as bytes."""
    auth = "Authorization: Bearer %s\r\n" % token if token else ""
    return ("POST /v1/members/import HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n%s"
            "Content-Length: %d\r\n\r\n" % (auth, length)).encode()


def test_an_anonymous_upload_is_answered_401_and_not_kept(suite, client):
    """The import route takes up to 32 MiB. Its body is kept in the gateway's memory only for a
    caller who shows a credential: one with none is answered 401 once the body is read, and the
    body is dropped as it comes. Seen in kaiin_http_request_body_bytes with 20 MiB of a 30 MiB
    body sent: most of it is held for the bearer of a token, none for the anonymous."""
    length, sent = 30 << 20, 20 << 20
    chunk = b"x" * (1 << 20)
    held = {}
    before = _body_bytes(client)            # an earlier test's half-sent request may linger
    for who, token in (("anonymous", None), ("token", suite.token)):
        _settled(client, before)
        with socket.create_connection(("127.0.0.1", suite.http_port), timeout=10) as s:
            s.sendall(_upload_head(length, token))
            for _ in range(sent // len(chunk)):
                s.sendall(chunk)
            time.sleep(1.0)                     # the gateway reads what the kernel holds
            held[who] = _body_bytes(client)
            if token:
                continue                        # gone before the end: nothing is imported
            for _ in range((length - sent) // len(chunk)):
                s.sendall(chunk)
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                got = s.recv(65536)
                if not got:
                    break
                answer += got
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 401 "), answer[:300]
        assert b"application/problem+json" in head and json.loads(body)["detail"] == \
            "a valid bearer token is required", answer[:600]
    assert held["token"] - before > 12 << 20, (before, held)   # most of the 20 MiB sent is in
    assert held["anonymous"] <= before, (before, held)           # none of it
    assert _settled(client, before) <= before           # the token's request ends as it closes


def test_every_problem_type_resolves_to_a_page_that_explains_it(suite, client):
    """RFC 9457: a problem's type URI, dereferenced, is a page a person reads: what it means and
    what to do, in Japanese when Accept-Language prefers it."""
    m = client.create_member()
    answers = [
        client.post("/v1/members", {"email": "bad"}),                         # 400
        client.get("/v1/members", auth=False),                                # 401
        client.get("/v1/members/00000000-0000-4000-8000-000000000000"),       # 404
        client.request("DELETE", "/v1/members"),                              # 405
        client.patch("/v1/members/" + m["id"], {"name": "x"}, headers={"If-Match": '"999"'}),  # 412
        post_raw(client, "x" * (1024 * 1024 + 10)),                           # 413
        post_raw(client, "{}", "text/plain"),                                 # 415
    ]
    assert [r.status_code for r in answers] == [400, 401, 404, 405, 412, 413, 415]
    for r in answers:
        problem = r.json()
        page = client.get(problem["type"], auth=False)
        assert page.status_code == 200, (problem["type"], page.text)
        assert page.headers["Content-Type"] == "text/html; charset=utf-8"
        assert page.headers["Content-Security-Policy"] == "default-src 'none'"
        assert "<h1>%s</h1>" % problem["title"] in page.text and "(HTTP %d)" % r.status_code in page.text
    ja = client.get("/problems/precondition-failed", auth=False, headers={"Accept-Language": "ja"})
    assert '<html lang="ja">' in ja.text and "<h1>対象が更新されています</h1>" in ja.text, ja.text
    assert "読み込んだ後に記録が変更されました" in ja.text, ja.text
    for named in ("csrf", "not-ready", "import-refused"):     # types named where they are raised
        assert client.get("/problems/" + named, auth=False).status_code == 200, named
    r = client.get("/problems/no-such-thing", auth=False)
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("application/problem+json")
    assert r.json()["detail"] == "no such problem type"


def test_query_parameter_without_a_name_is_ignored(client):
    """A stray '&' ("?&limit=1") or "?=x" names no field: ignored (found by make fuzz, which
    saw the refusal name the field ""); an unknown name is still refused, named as sent."""
    client.create_member()
    for query in ("?&limit=1", "?limit=1&", "?=x&limit=1", "?limit=1&&="):
        r = client.get("/v1/members" + query)
        assert r.status_code == 200 and len(r.json()["data"]) == 1, (query, r.text)
    body = assert_problem(client.get("/v1/members?limit=1&bogus=2"), 400, "invalid-request")
    assert body["errors"] == [{"field": "bogus", "code": "unknown_parameter",
                               "reason": "is not a query parameter of this route"}], body
    # a name that is not UTF-8 is named as it was sent, not as "" (also found by make fuzz)
    body = assert_problem(client.get("/v1/members?limit=1&%DE=2"), 400, "invalid-request")
    assert body["errors"] == [{"field": "%DE", "code": "unknown_parameter",
                               "reason": "is not a query parameter of this route"}], body
