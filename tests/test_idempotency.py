"""test_idempotency.py - Idempotency-Key on POST: replay, mismatch, in progress, validation.

member.Create (POST /v1/members) is marked idempotent, so the generic runtime (common/svc.c)
is exercised here through a real gateway and member service."""

import secrets
import threading
import time

from harness import unique_email


def key():
    return "test-" + secrets.token_hex(12)


def count_members(suite, email):
    return int(suite.sql("select count(*) from member.members where email = '%s'" % email)[0][0])


def test_same_key_same_body_replays_the_first_reply(suite, client):
    k, email = key(), unique_email("Idem")
    first = client.post("/v1/members", {"email": email}, headers={"Idempotency-Key": k})
    assert first.status_code == 201, first.text
    assert "Idempotency-Replayed" not in first.headers
    again = client.post("/v1/members", {"email": email}, headers={"Idempotency-Key": k})
    assert again.status_code == 201, again.text
    assert again.headers.get("Idempotency-Replayed") == "true"
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert count_members(suite, email) == 1
    rows = suite.sql("select method, length(request_sha256), length(reply) > 0 from "
                     "member.idempotency_keys where key = '%s'" % k)
    assert rows == [["member.Create", "64", "t"]], rows
    events = suite.sql("select count(*) from member.outbox where aggregate_id = '%s'" % first.json()["id"])
    assert events == [["1"]]


def test_same_key_other_body_is_422(suite, client):
    k = key()
    r = client.post("/v1/members", {"email": unique_email("IdemA")}, headers={"Idempotency-Key": k})
    assert r.status_code == 201, r.text
    other = unique_email("IdemB")
    r = client.post("/v1/members", {"email": other}, headers={"Idempotency-Key": k})
    assert r.status_code == 422, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == ["Idempotency-Key"]
    assert count_members(suite, other) == 0


def test_an_error_keeps_nothing(suite, client):
    k = key()
    r = client.post("/v1/members", {"email": "not-an-email"}, headers={"Idempotency-Key": k})
    assert r.status_code == 400, r.text
    assert suite.sql("select count(*) from member.idempotency_keys where key = '%s'" % k) == [["0"]]
    email = unique_email("IdemFix")
    r = client.post("/v1/members", {"email": email}, headers={"Idempotency-Key": k})
    assert r.status_code == 201, r.text
    assert "Idempotency-Replayed" not in r.headers


def test_keys_belong_to_their_caller(suite, client):
    k = key()
    r = client.post("/v1/members", {"email": unique_email("IdemC1")}, headers={"Idempotency-Key": k})
    assert r.status_code == 201, r.text
    # Another caller (an admin's session) may use the same key for its own request.
    staff, password = suite.create_staff("admin")
    admin = suite.client_as(suite.login(staff["email"], password))
    other = unique_email("IdemC2")
    r = admin.post("/v1/members", {"email": other}, headers={"Idempotency-Key": k})
    assert r.status_code == 201, r.text
    assert "Idempotency-Replayed" not in r.headers
    assert count_members(suite, other) == 1


def test_in_progress_is_409(suite, client):
    """While one request holds the key (its transaction's advisory lock), another gets 409."""
    k = key()
    email = unique_email("IdemBusy")
    # Hold the members table so the first request waits inside its transaction, lock taken.
    holder = suite.hold_lock("lock table member.members in exclusive mode")
    results = {}

    def first():
        results["first"] = client.post("/v1/members", {"email": email},
                                       headers={"Idempotency-Key": k})
    t = threading.Thread(target=first)
    try:
        t.start()
        for _ in range(250):                 # until the first waits on the table lock
            if suite.sql("select count(*) from pg_stat_activity where wait_event_type = 'Lock'"
                         " and usename = 'kaiin_member'") != [["0"]]:
                break
            time.sleep(0.02)
        busy = client.post("/v1/members", {"email": email}, headers={"Idempotency-Key": k})
        assert busy.status_code == 409, busy.text
        assert busy.headers["Content-Type"].startswith("application/problem+json")
        assert [e["field"] for e in busy.json()["errors"]] == ["Idempotency-Key"]
    finally:
        holder.release()
    t.join(30)
    assert results["first"].status_code == 201, results["first"].text
    assert count_members(suite, email) == 1


def test_invalid_keys_are_400(client):
    for bad in ["", "x" * 256, "has space", "tab\there", "ключ"]:
        r = client.request("POST", "/v1/members", json_body={"email": unique_email()},
                           headers={"Idempotency-Key": bad.encode("utf-8")})
        assert r.status_code == 400, (bad, r.text)
        assert [e["field"] for e in r.json()["errors"]] == ["Idempotency-Key"], r.text
    r = client.post("/v1/members", {"email": unique_email()}, headers={"Idempotency-Key": "k" * 255})
    assert r.status_code == 201, r.text


def test_key_is_ignored_by_methods_not_marked_idempotent(client):
    m = client.create_member()
    k = key()
    for _ in range(2):
        r = client.request("PATCH", "/v1/members/" + m["id"], json_body={"name": "Same"},
                           headers={"Idempotency-Key": k})
        assert r.status_code == 200, r.text
        assert "Idempotency-Replayed" not in r.headers


def test_answers_match_the_openapi_document(suite, client):
    from test_openapi import check, fetch
    spec = fetch(client)
    k = key()
    body = {"email": unique_email("IdemSpec")}
    for _ in range(2):
        r = client.post("/v1/members", body, headers={"Idempotency-Key": k})
        assert r.status_code == 201, r.text
        check(spec, "post", "/v1/members", r)
    r = client.post("/v1/members", {"email": unique_email("IdemSpec2")}, headers={"Idempotency-Key": k})
    assert r.status_code == 422, r.text
    check(spec, "post", "/v1/members", r)
    r = client.post("/v1/members", body, headers={"Idempotency-Key": "bad key"})
    assert r.status_code == 400, r.text
    check(spec, "post", "/v1/members", r)
