"""test_member_auth.py - members' passwords, login and sessions, BOLA on member sessions, login
history, activities, and the login throttle (docs: README "Member login and history")."""

import hashlib
import json
import re
import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from requests.adapters import HTTPAdapter

import test_openapi as spec_check
from harness import HTTP_TIMEOUT, new_password, unique_email

TOKEN_RE = re.compile(r"^kms_[0-9a-f]{64}$")
REFUSED = "the email or the password is wrong, or the member has withdrawn"
ADDRESSES = ["127.0.0.%d" % i for i in range(1, 20)]


class SourceAdapter(HTTPAdapter):
    """Connects from a given loopback address, so that tests can be "another IP"."""

    def __init__(self, address, **kw):
        self.address = address
        super().__init__(**kw)

    def init_poolmanager(self, *args, **kw):
        kw["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kw)


def from_address(address):
    s = requests.Session()
    s.mount("http://", SourceAdapter(address))
    return s


def login(suite, email, password, address="127.0.0.1", agent="kaiin-test/1.0"):
    with from_address(address) as s:
        return s.post(suite.url("/v1/member-auth/login"), json={"email": email, "password": password},
                      headers={"User-Agent": agent}, timeout=HTTP_TIMEOUT)


def account_hash(email):
    return hashlib.sha256(email.lower().encode()).hexdigest()


def session_key(token):
    return "kaiin:member-session:" + hashlib.sha256(token.encode()).hexdigest()


def member_with_password(client, password=None, **fields):
    m = client.create_member(**fields)
    password = password or new_password()
    r = client.post("/v1/members/%s/password" % m["id"], {"password": password})
    assert r.status_code == 204, r.text
    return m, password


def member_session(suite, client, address="127.0.0.1"):
    m, password = member_with_password(client)
    r = login(suite, m["email"], password, address)
    assert r.status_code == 200, r.text
    return m, password, suite.client_as(r.json()["token"])


def logins(suite, mid):
    return suite.sql("select coalesce(member_id::text, ''), email, ip, user_agent, succeeded, reason "
                     "from member.member_logins where member_id = '%s' order by seq" % mid)


def outbox(suite, mid, kind):
    return suite.sql("select count(*) from member.outbox where aggregate_id = '%s' and type = '%s'"
                     % (mid, kind))[0][0]


@pytest.fixture(autouse=True)
def clean_throttle(suite):
    """Per-address failure counts are shared by every test that logs in from an address."""
    suite.redis_cli("DEL", *["kaiin:member-login-failures:ip:" + a for a in ADDRESSES])
    yield


# --------------------------------------------------------------------------- passwords, login

def test_login_gives_a_fresh_token_session_and_records(suite, client):
    m, password = member_with_password(client)
    row = suite.sql("select password_hash from member.member_credentials where member_id = '%s'"
                    % m["id"])
    assert row[0][0].startswith("$argon2id$v=19$m=19456,t=2,p=1$"), row
    assert password not in json.dumps(client.get("/v1/members/" + m["id"]).json())
    tokens = set()
    for _ in range(2):
        r = login(suite, m["email"].upper(), password, agent="Mozilla/5.0 (kaiin test)")
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"token", "token_type", "expires_in", "member_id"}, body
        assert TOKEN_RE.match(body["token"]), body
        assert body["token_type"] == "Bearer" and body["expires_in"] == 1800
        assert body["member_id"] == m["id"]
        tokens.add(body["token"])
        ttl = int(suite.redis_cli("TTL", session_key(body["token"])))
        assert 0 < ttl <= 1800, ttl
        assert suite.redis_cli("HGET", session_key(body["token"]), "member_id") == m["id"]
    assert len(tokens) == 2                              # new on every login
    rows = logins(suite, m["id"])
    assert rows == [[m["id"], m["email"].upper(), "127.0.0.1", "Mozilla/5.0 (kaiin test)", "t", "ok"]] * 2
    assert suite.sql("select last_login_at is not null from member.members where id = '%s'"
                     % m["id"]) == [["t"]]
    assert outbox(suite, m["id"], "member.logged_in") == "2"
    assert suite.sql("select count(*) from member.audit_log where action = 'member.login' "
                     "and target_id = '%s'" % m["id"]) == [["2"]]


def test_login_refusals_look_the_same(suite, client):
    m, password = member_with_password(client)
    withdrawn, withdrawn_pw = member_with_password(client)
    assert client.post("/v1/members/%s/withdraw" % withdrawn["id"], {}).status_code == 200
    nopw = client.create_member()
    unknown = unique_email("nobody")
    cases = [(m["email"], "wrong-" + password), (unknown, password),
             (withdrawn["email"], withdrawn_pw), (nopw["email"], new_password())]
    for email, pw in cases:
        r = login(suite, email, pw)
        assert r.status_code == 401, r.text
        assert r.json()["detail"] == REFUSED and r.json()["type"] == "/problems/unauthenticated"
    assert [r[5] for r in logins(suite, m["id"])] == ["bad_password"]
    assert [r[5] for r in logins(suite, withdrawn["id"])] == ["withdrawn"]
    assert [r[5] for r in logins(suite, nopw["id"])] == ["bad_password"]
    assert suite.sql("select member_id is null, reason, succeeded from member.member_logins "
                     "where email = '%s'" % unknown) == [["t", "unknown_email", "f"]]
    assert outbox(suite, m["id"], "member.logged_in") == "0"
    assert suite.sql("select last_login_at from member.members where id = '%s'" % m["id"]) == [[None]]


def test_password_rules_and_permissions(suite, client):
    m = client.create_member()
    path = "/v1/members/%s/password" % m["id"]
    for bad in ("x" * 11, "y" * 257):
        r = client.post(path, {"password": bad})
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "password", r.text
    assert client.post(path, {"password": "ひらがなのパスワードです"}).status_code == 204   # 12 characters
    r = client.post(path, {"password": new_password(), "role": "x"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "role", r.text
    assert client.post("/v1/members/%s/password" % uuid.uuid4(), {"password": new_password()}).status_code == 404
    for role in ("viewer", "marketing", "finance"):
        staff, pw = suite.create_staff(role)
        r = suite.client_as(suite.login(staff["email"], pw)).post(path, {"password": new_password()})
        assert r.status_code == 403, (role, r.text)
    staff, pw = suite.create_staff("support")
    assert suite.client_as(suite.login(staff["email"], pw)).post(path, {"password": new_password()}).status_code == 204
    assert suite.sql("select count(*) from member.audit_log where action = 'member.password_set' "
                     "and target_id = '%s'" % m["id"]) == [["2"]]


def test_me_logout(suite, client):
    m, _, member = member_session(suite, client)
    r = member.get("/v1/member-auth/me")
    assert r.status_code == 200, r.text
    staff_view = client.get("/v1/members/" + m["id"])
    assert r.json() == staff_view.json() and r.headers["ETag"] == staff_view.headers["ETag"]
    assert member.post("/v1/member-auth/logout").status_code == 204
    for path in ("/v1/member-auth/me", "/v1/members/" + m["id"]):
        r = member.get(path)
        assert r.status_code == 401 and r.headers.get("WWW-Authenticate", "").startswith("Bearer"), r.text
    assert suite.client_as("kms_" + "0" * 64).get("/v1/member-auth/me").status_code == 401


def test_idle_and_absolute_expiry(suite, client):
    m, password, member = member_session(suite, client)
    key = session_key(member.token)
    assert member.get("/v1/member-auth/me").status_code == 200
    suite.redis_cli("EXPIRE", key, "1")                  # as if idle for 30 minutes
    time.sleep(1.3)
    assert member.get("/v1/member-auth/me").status_code == 401
    r = login(suite, m["email"], password)
    second = suite.client_as(r.json()["token"])
    key = session_key(second.token)
    assert second.get("/v1/member-auth/me").status_code == 200
    assert 0 < int(suite.redis_cli("TTL", key)) <= 1800     # use slides the idle timeout
    old = int(time.time() * 1000) - 12 * 3600 * 1000 - 1000
    suite.redis_cli("HSET", key, "created_ms", str(old))    # logged in 12 hours ago
    assert second.get("/v1/member-auth/me").status_code == 401
    assert suite.redis_cli("EXISTS", key) == "0"


def test_member_session_reads_only_its_own_member(suite, client):
    """BOLA: a member session reaches its own record and nothing else; staff routes say 403."""
    m, _, member = member_session(suite, client)
    other = client.create_member()
    assert member.get("/v1/members/" + m["id"]).status_code == 200
    denied = [
        ("GET", "/v1/members/" + other["id"], None),
        ("GET", "/v1/members", None),
        ("POST", "/v1/members", {"email": unique_email()}),
        ("PATCH", "/v1/members/" + m["id"], {"name": "self edit"}),
        ("POST", "/v1/members/%s/withdraw" % m["id"], {}),
        ("POST", "/v1/members/%s/password" % m["id"], {"password": new_password()}),
        ("GET", "/v1/members/%s/logins" % m["id"], None),
        ("GET", "/v1/members/%s/activities" % m["id"], None),
        ("POST", "/v1/members/%s/activities" % other["id"], {"type": "page.view"}),
        ("GET", "/v1/me", None),
        ("POST", "/v1/auth/logout", None),
        ("GET", "/v1/staff", None),
        ("POST", "/v1/api-keys", {"name": "x", "role": "viewer"}),
    ]
    for method, path, body in denied:
        r = member.request(method, path, json_body=body)
        assert r.status_code == 403, (method, path, r.status_code, r.text)
        assert r.json()["type"] == "/problems/forbidden"
    assert suite.sql("select count(*) from member.member_activities where member_id = '%s'"
                     % other["id"]) == [["0"]]
    # and staff tokens are not member sessions
    for path in ("/v1/member-auth/me",):
        assert client.get(path).status_code == 403
    assert client.post("/v1/member-auth/logout").status_code == 403


def test_member_changes_own_password(suite, client):
    m, password, member = member_session(suite, client)
    other_session = suite.client_as(login(suite, m["email"], password).json()["token"])
    new = new_password()
    r = member.post("/v1/member-auth/password", {"current_password": "wrong-" + password,
                                                 "new_password": new})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "current_password", r.text
    r = member.post("/v1/member-auth/password", {"current_password": password, "new_password": "short"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "new_password", r.text
    r = member.post("/v1/member-auth/password", {"current_password": password, "new_password": new})
    assert r.status_code == 204, r.text
    assert member.get("/v1/member-auth/me").status_code == 200          # this session stays
    assert other_session.get("/v1/member-auth/me").status_code == 401   # the others end
    assert login(suite, m["email"], password).status_code == 401
    assert login(suite, m["email"], new).status_code == 200


def test_staff_password_reset_ends_member_sessions(suite, client):
    m, _, member = member_session(suite, client)
    r = client.post("/v1/members/%s/password" % m["id"], {"password": new_password()})
    assert r.status_code == 204
    assert member.get("/v1/member-auth/me").status_code == 401


# --------------------------------------------------------------------------- activities

def test_activities_single_batch_and_events(suite, client):
    m, _, member = member_session(suite, client)
    path = "/v1/members/%s/activities" % m["id"]
    r = client.post(path, {"type": "page.view", "path": "/courses/12?ref=mail",
                           "occurred_at": "2026-11-25T17:11:10.123+09:00",
                           "properties": {"title": "講座 12", "ms": 1234}})
    assert r.status_code == 201, r.text
    a = r.json()
    assert set(a) == {"id", "member_id", "type", "path", "occurred_at", "received_at", "properties"}
    assert a["occurred_at"] == "2026-11-25T08:11:10.123Z" and a["member_id"] == m["id"]
    assert a["properties"] == {"title": "講座 12", "ms": 1234} and a["path"] == "/courses/12?ref=mail"
    r = member.post(path, {"type": "login.app"})                       # its own session
    assert r.status_code == 201, r.text
    assert r.json()["path"] is None and r.json()["properties"] == {}
    events = [{"type": "video.play", "properties": {"n": i}} for i in range(3)]
    r = client.post(path, {"events": events})
    assert r.status_code == 201, r.text
    assert [x["properties"]["n"] for x in r.json()["data"]] == [0, 1, 2]
    rows = suite.sql("select type, coalesce(path, ''), properties->>'title' from member.member_activities "
                     "where member_id = '%s' order by seq" % m["id"])
    assert [r[0] for r in rows] == ["page.view", "login.app", "video.play", "video.play", "video.play"]
    assert rows[0][1:] == ["/courses/12?ref=mail", "講座 12"]
    assert outbox(suite, m["id"], "member.activity") == "5"
    r = client.post(path, {"events": [{"type": "ok"}] * 500})
    assert r.status_code == 201 and len(r.json()["data"]) == 500


@pytest.mark.parametrize("body,field", [
    ({"type": "Page View"}, "type"),
    ({"type": "x" * 51}, "type"),
    ({}, "type"),
    ({"type": "a", "path": "/" + "p" * 2000}, "path"),
    ({"type": "a", "occurred_at": "yesterday"}, "occurred_at"),
    ({"type": "a", "occurred_at": "2026-02-30T00:00:00Z"}, "occurred_at"),
    ({"type": "a", "occurred_at": "1999-12-31T23:59:59Z"}, "occurred_at"),
    ({"type": "a", "properties": [1, 2]}, "properties"),
    ({"type": "a", "properties": {"big": "x" * 8200}}, "properties"),
    ({"type": "a", "extra": 1}, "extra"),
    ({"events": []}, "events"),
    ({"events": [{"type": "a"}] * 501}, "events"),
    ({"events": [{"type": "a"}, {"type": "B"}]}, "events[1].type"),
    ({"events": [{"type": "a"}], "type": "a"}, "type"),
])
def test_activity_validation(suite, client, body, field):
    m = client.create_member()
    r = client.post("/v1/members/%s/activities" % m["id"], body)
    assert r.status_code == 400, r.text
    assert field in [e["field"] for e in r.json()["errors"]], r.json()
    assert suite.sql("select count(*) from member.member_activities where member_id = '%s'"
                     % m["id"]) == [["0"]]


def test_activity_permissions_and_unknown_member(suite, client):
    m = client.create_member()
    assert client.post("/v1/members/%s/activities" % uuid.uuid4(), {"type": "a"}).status_code == 404
    staff, pw = suite.create_staff("viewer")
    viewer = suite.client_as(suite.login(staff["email"], pw))
    assert viewer.post("/v1/members/%s/activities" % m["id"], {"type": "a"}).status_code == 403
    r = client.post("/v1/api-keys", {"name": "site", "role": "support"})
    site = suite.client_as(r.json()["secret"])
    assert site.post("/v1/members/%s/activities" % m["id"], {"type": "a"}).status_code == 201
    assert viewer.get("/v1/members/%s/activities" % m["id"]).status_code == 200


def test_activity_history_pagination_and_filters(suite, client):
    m = client.create_member()
    path = "/v1/members/%s/activities" % m["id"]
    events = [{"type": "page.view" if i % 2 else "video.play",
               "occurred_at": "2026-01-01T00:00:%02d.000Z" % i} for i in range(9)]
    events.append({"type": "page.view", "occurred_at": "2026-01-01T00:00:05.000Z"})   # a tie
    assert client.post(path, {"events": events}).status_code == 201
    seen, cursor, pages = [], None, 0
    while True:
        r = client.get(path, params=dict({"limit": 3}, **({"cursor": cursor} if cursor else {})))
        assert r.status_code == 200, r.text
        seen += r.json()["data"]
        cursor = r.json()["next_cursor"]
        pages += 1
        if cursor is None:
            break
    assert pages == 4 and len(seen) == 10 and len({a["id"] for a in seen}) == 10
    times = [a["occurred_at"] for a in seen]
    assert times == sorted(times, reverse=True), times            # newest first
    r = client.get(path, params={"type": "page.view"})
    assert [a["type"] for a in r.json()["data"]] == ["page.view"] * 5
    r = client.get(path, params={"from": "2026-01-01T00:00:03Z", "to": "2026-01-01T09:00:06+09:00"})
    assert [a["occurred_at"][17:19] for a in r.json()["data"]] == ["05", "05", "04", "03"]
    for params, field in (({"cursor": "zz"}, "cursor"), ({"limit": 0}, "limit"),
                          ({"from": "soon"}, "from"), ({"type": "A B"}, "type"),
                          ({"sort": "x"}, "sort"),
                          ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "to")):
        r = client.get(path, params=params)
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == field, (params, r.text)
    assert client.get("/v1/members/%s/activities" % uuid.uuid4()).status_code == 404


# --------------------------------------------------------------------------- login history

def test_login_history_for_staff(suite, client):
    m, password = member_with_password(client)
    assert login(suite, m["email"], "wrong-" + password, "127.0.0.2", "agent/1").status_code == 401
    assert login(suite, m["email"], password, "127.0.0.3", "agent/2").status_code == 200
    assert login(suite, m["email"], password, "127.0.0.1", "agent/3").status_code == 200
    path = "/v1/members/%s/logins" % m["id"]
    r = client.get(path)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert [(x["ip"], x["user_agent"], x["succeeded"], x["reason"]) for x in data] == [
        ("127.0.0.1", "agent/3", True, "ok"), ("127.0.0.3", "agent/2", True, "ok"),
        ("127.0.0.2", "agent/1", False, "bad_password")]
    assert all(x["member_id"] == m["id"] and x["email"] == m["email"] for x in data)
    first = client.get(path, params={"limit": 2})
    assert len(first.json()["data"]) == 2 and first.json()["next_cursor"]
    rest = client.get(path, params={"limit": 2, "cursor": first.json()["next_cursor"]})
    assert rest.json()["data"] == data[2:] and rest.json()["next_cursor"] is None
    r = client.get(path, params={"from": data[1]["at"]})
    assert [x["user_agent"] for x in r.json()["data"]] == ["agent/3", "agent/2"]
    staff, pw = suite.create_staff("viewer")
    assert suite.client_as(suite.login(staff["email"], pw)).get(path).status_code == 200
    assert client.get("/v1/members/%s/logins" % uuid.uuid4()).status_code == 404


# --------------------------------------------------------------------------- throttle

def test_pair_lock_spares_the_member_elsewhere(suite, client):
    """10 failures for (account, address) lock that pair for 15 minutes, not the account."""
    m, password = member_with_password(client)
    for _ in range(10):
        assert login(suite, m["email"], "wrong-" + password, "127.0.0.5").status_code == 401
    r = login(suite, m["email"], password, "127.0.0.5")
    assert r.status_code == 429 and r.json()["type"] == "/problems/rate-limited", r.text
    assert 890 <= int(r.headers["Retry-After"]) <= 900, r.headers
    assert login(suite, m["email"], password, "127.0.0.6").status_code == 200
    reasons = [(row[2], row[5]) for row in logins(suite, m["id"])]
    assert reasons == [("127.0.0.5", "bad_password")] * 10 + [("127.0.0.5", "locked"), ("127.0.0.6", "ok")]


def test_account_cap_spares_addresses_the_member_used(suite, client):
    """100 failures from new addresses in an hour: only addresses the member logged in from go on."""
    m, password = member_with_password(client)
    assert login(suite, m["email"], password, "127.0.0.2").status_code == 200      # known address
    key = "kaiin:member-login-failures:account:" + account_hash(m["email"])
    suite.redis_cli("SET", key, "100", "EX", "3000")
    for address in ("127.0.0.1", "127.0.0.3"):
        r = login(suite, m["email"], password, address)
        assert r.status_code == 429, r.text
        assert 2990 <= int(r.headers["Retry-After"]) <= 3000
    assert login(suite, m["email"], password, "127.0.0.2").status_code == 200
    assert suite.redis_cli("GET", key) == "100"          # a success takes nothing away


def test_address_cap(suite, client):
    m, password = member_with_password(client)
    suite.redis_cli("SET", "kaiin:member-login-failures:ip:127.0.0.4", "100", "EX", "600")
    r = login(suite, m["email"], password, "127.0.0.4")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) <= 600, r.text
    assert login(suite, m["email"], password, "127.0.0.7").status_code == 200


def test_parallel_attempts_cannot_slip_past_the_lock(suite, client):
    m, password = member_with_password(client)
    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = list(pool.map(lambda _: login(suite, m["email"], "wrong", "127.0.0.8").status_code,
                              range(40)))
    assert sorted(codes).count(401) == 10 and codes.count(429) == 30, codes
    assert int(suite.redis_cli("GET", "kaiin:member-login-failures:account:" + account_hash(m["email"]))) == 10


def test_success_clears_the_pair_and_takes_back_its_count(suite, client):
    m, password = member_with_password(client)
    for _ in range(9):
        assert login(suite, m["email"], "wrong", "127.0.0.9").status_code == 401
    assert login(suite, m["email"], password, "127.0.0.9").status_code == 200
    h = account_hash(m["email"])
    assert suite.redis_cli("EXISTS", "kaiin:member-login-failures:pair:%s:127.0.0.9" % h) == "0"
    assert suite.redis_cli("GET", "kaiin:member-login-failures:account:" + h) == "9"
    assert suite.redis_cli("EXISTS", "kaiin:member-login-known:%s:127.0.0.9" % h) == "1"
    assert login(suite, m["email"], "wrong", "127.0.0.9").status_code == 401   # counting again


@pytest.mark.heavy
def test_login_stays_responsive_during_brute_force(suite, client):
    """200 wrong passwords in parallel against A; B's logins meanwhile stay fast. Heavy: a
    bound in seconds, which the sanitizers' slowdown distorts (it failed once under them, at
    3.7 s, on a machine also building images)."""
    a, _ = member_with_password(client)
    b, b_password = member_with_password(client)
    assert login(suite, b["email"], b_password, "127.0.0.11").status_code == 200
    stop = threading.Event()
    attack_codes = []

    def attack(i):
        return login(suite, a["email"], "guess-%d" % i, "127.0.0.1%d" % (2 + i % 5)).status_code

    def attacker():
        with ThreadPoolExecutor(max_workers=16) as pool:
            attack_codes.extend(pool.map(attack, range(200)))
        stop.set()

    t = threading.Thread(target=attacker)
    t0 = time.monotonic()
    t.start()
    b_times = []
    while not stop.is_set() or len(b_times) < 10:
        r = login(suite, b["email"], b_password, "127.0.0.11")
        assert r.status_code == 200, r.text
        b_times.append(r.elapsed.total_seconds())
    t.join()
    elapsed = time.monotonic() - t0
    assert len(attack_codes) == 200 and set(attack_codes) <= {401, 429}, attack_codes
    assert attack_codes.count(401) <= 50                   # 5 addresses x 10 attempts
    b_times.sort()
    p95 = b_times[max(0, int(len(b_times) * 0.95) - 1)]
    print("\nbrute force: 200 attempts in %.2fs (%d reached the hash); B: %d logins, "
          "median %.0f ms, p95 %.0f ms" % (elapsed, attack_codes.count(401), len(b_times),
                                          statistics.median(b_times) * 1000, p95 * 1000))
    # The figure itself belongs to `make bench`; here the point is that member B is never
    # queued behind the attack (throttled attempts cost no hash). The bound leaves room for a
    # loaded machine and the sanitizer build.
    assert p95 < 3.0, b_times


# --------------------------------------------------------------------------- the document

def test_responses_match_the_document(suite, client):
    spec = spec_check.fetch(client)
    m, password = member_with_password(client)
    r = login(suite, m["email"], password)
    spec_check.check(spec, "post", "/v1/member-auth/login", r)
    member = suite.client_as(r.json()["token"])
    spec_check.check(spec, "get", "/v1/member-auth/me", member.get("/v1/member-auth/me"))
    spec_check.check(spec, "post", "/v1/member-auth/login", login(suite, m["email"], "wrong"))
    suite.redis_cli("SET", "kaiin:member-login-failures:pair:%s:127.0.0.1" % account_hash(m["email"]),
                    "10", "EX", "60")
    r = login(suite, m["email"], password)
    assert r.status_code == 429
    spec_check.check(spec, "post", "/v1/member-auth/login", r)
    path = "/v1/members/%s/activities" % m["id"]
    r = client.post(path, {"type": "page.view", "properties": {"a": [1]}})
    assert r.status_code == 201 and "id" in r.json()           # one event: the activity
    spec_check.check(spec, "post", "/v1/members/{id}/activities", r)
    r = member.post(path, {"events": [{"type": "a", "path": "/x"}, {"type": "b"}]})
    assert r.status_code == 201 and len(r.json()["data"]) == 2  # a batch: them all
    spec_check.check(spec, "post", "/v1/members/{id}/activities", r)
    spec_check.check(spec, "post", "/v1/members/{id}/activities", client.post(path, {"type": "Bad"}))
    spec_check.check(spec, "get", "/v1/members/{id}/activities", client.get(path, params={"limit": 1}))
    spec_check.check(spec, "get", "/v1/members/{id}/logins",
                     client.get("/v1/members/%s/logins" % m["id"]))
    spec_check.check(spec, "post", "/v1/member-auth/logout", client.post("/v1/member-auth/logout"))
    spec_check.check(spec, "post", "/v1/members/{id}/password",
                     client.post("/v1/members/%s/password" % m["id"], {"password": "short"}))
    r = member.post("/v1/member-auth/password", {"current_password": password, "new_password": "x"})
    spec_check.check(spec, "post", "/v1/member-auth/password", r)
    assert member.post("/v1/member-auth/logout").status_code == 204
