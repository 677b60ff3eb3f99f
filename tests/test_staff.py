"""test_staff.py - staff accounts, login, sessions in Redis, throttling, API keys, the audit log,
the last owner, and the bootstrap token turned off. Real servers; Redis is poked with redis-cli."""

import hashlib
import json
import re
import statistics
import threading
import time
import uuid

import pytest

import harness
from harness import new_password, unique_email

STAFF_KEYS = {"id", "email", "name", "role", "disabled", "created_at", "updated_at",
              "last_login_at"}
KEY_KEYS = {"id", "name", "role", "prefix", "created_by", "created_at", "revoked_at"}
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
LOGIN_REFUSED = "the email or the password is wrong, or the account is disabled"


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def session_key(token):
    return "kaiin:session:" + sha(token)


def account_key(email):
    return "kaiin:login-failures:account:" + sha(email.lower())


def login(suite, email, password, **kw):
    return suite.client.post("/v1/auth/login", {"email": email, "password": password},
                             auth=False, **kw)


def problem(r, status, slug):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers.get("Content-Type", "").startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["type"] == "/problems/" + slug and body["status"] == status, body
    assert body["request_id"] == r.headers.get("X-Request-Id"), body
    return body


def fields(body):
    return sorted(e["field"] for e in body.get("errors", []))


def staff_row(suite, sid):
    rows = suite.sql("select email, name, role, disabled, version, password_hash, "
                     "last_login_at is not null from member.staff where id = '%s'" % sid)
    if not rows:
        return None
    return dict(zip(["email", "name", "role", "disabled", "version", "password_hash", "logged_in"],
                    rows[0]))


def audit(suite, where):
    rows = suite.sql("select actor_id, actor_role, action, target_type, target_id, changes::text, "
                     "request_id, ip from member.audit_log where %s order by seq" % where)
    keys = ["actor_id", "actor_role", "action", "target_type", "target_id", "changes",
            "request_id", "ip"]
    out = [dict(zip(keys, r)) for r in rows]
    for a in out:
        a["changes"] = json.loads(a["changes"])
    return out


# ------------------------------------------------------------------ staff accounts


def test_create_staff_returns_staff_etag_location_and_row(suite, client):
    email, pw = unique_email("Create-Staff"), new_password()
    r = client.post("/v1/staff", {"email": email, "name": "佐藤 花子", "role": "support",
                                  "password": pw})
    assert r.status_code == 201, r.text
    s = r.json()
    assert set(s) == STAFF_KEYS, s
    assert UUID_RE.match(s["id"])
    assert (s["email"], s["name"], s["role"], s["disabled"], s["last_login_at"]) == \
        (email, "佐藤 花子", "support", False, None)
    assert TS_RE.match(s["created_at"]) and TS_RE.match(s["updated_at"])
    assert r.headers["Location"] == "/v1/staff/" + s["id"]
    assert r.headers["ETag"] == '"1"'
    assert pw not in r.text
    row = staff_row(suite, s["id"])
    assert (row["email"], row["name"], row["role"], row["disabled"], row["version"]) == \
        (email, "佐藤 花子", "support", "f", "1")
    # argon2id with OWASP's minimum parameters, and a salt of its own
    assert row["password_hash"].startswith("$argon2id$v=19$m=19456,t=2,p=1$"), row["password_hash"]
    assert pw not in row["password_hash"]
    other, _ = suite.create_staff("viewer", password=pw)
    assert staff_row(suite, other["id"])["password_hash"] != row["password_hash"]
    # audited, without the password or its hash
    a = audit(suite, "action = 'staff.create' and target_id = '%s'" % s["id"])
    assert len(a) == 1 and (a[0]["actor_id"], a[0]["actor_role"]) == ("bootstrap", "owner"), a
    assert a[0]["changes"]["role"] == [None, "support"], a
    assert a[0]["request_id"] == r.headers["X-Request-Id"] and a[0]["ip"] == "127.0.0.1", a
    text = json.dumps(a[0]["changes"])
    assert pw not in text and "argon2" not in text, text


def test_get_and_list_staff(suite, client):
    made = [suite.create_staff("viewer")[0] for _ in range(3)]
    r = client.get("/v1/staff/" + made[0]["id"])
    assert r.status_code == 200 and r.json() == made[0], r.text
    assert r.headers["ETag"] == '"1"'
    problem(client.get("/v1/staff/" + str(uuid.uuid4())), 404, "not-found")
    problem(client.get("/v1/staff/not-a-uuid"), 404, "not-found")
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        r = client.get("/v1/staff", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert set(page) == {"data", "next_cursor"} and len(page["data"]) <= 2
        for s in page["data"]:
            assert set(s) == STAFF_KEYS and "password" not in json.dumps(s)
        seen += [s["id"] for s in page["data"]]
        cursor, pages = page["next_cursor"], pages + 1
        if cursor is None:
            break
        assert pages < 1000
    assert len(seen) == len(set(seen)), "a staff account listed twice"
    assert set(m["id"] for m in made) <= set(seen)
    assert len(seen) == int(suite.sql("select count(*) from member.staff")[0][0])
    for params, field in (({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"limit": "x"}, "limit"),
                          ({"cursor": "bogus"}, "cursor"), ({"role": "owner"}, "role")):
        assert field in fields(problem(client.get("/v1/staff", params=params), 400,
                                       "invalid-request")), params


@pytest.mark.parametrize("change,field", [
    ({"password": "x" * 11}, "password"),
    ({"password": "x" * 257}, "password"),
    ({"role": "boss"}, "role"),
    ({"role": None}, "role"),
    ({"email": "not-an-email"}, "email"),
    ({"email": None}, "email"),
    ({"disabled": True}, "disabled"),
    ({"id": "3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7"}, "id"),   # fixed: it names the test
    ({"name": 5}, "name"),
], ids=lambda v: json.dumps(v) if isinstance(v, dict) else v)
def test_create_staff_rejects_bad_input(suite, client, change, field):
    body = {"email": unique_email("bad"), "role": "viewer", "password": new_password()}
    body.update(change)
    n = suite.sql("select count(*) from member.staff")
    b = problem(client.post("/v1/staff", body), 400, "invalid-request")
    assert field in fields(b), b
    assert suite.sql("select count(*) from member.staff") == n


def test_create_staff_required_fields_and_password_bounds(suite, client):
    for missing in ("email", "role", "password"):
        body = {"email": unique_email(), "role": "viewer", "password": new_password()}
        del body[missing]
        assert missing in fields(problem(client.post("/v1/staff", body), 400, "invalid-request"))
    for length in (12, 256):
        pw = ("p%d-" % length + "x" * 300)[:length]
        s, _ = suite.create_staff("viewer", password=pw)
        assert login(suite, s["email"], pw).status_code == 200, length
    problem(client.request("POST", "/v1/staff", data="{}", headers={"Content-Type": "text/plain"}),
            415, "unsupported-media-type")


def test_create_staff_name_is_limited_to_100_characters(suite, client):
    ok = client.post("/v1/staff", {"email": unique_email(), "role": "viewer",
                                   "password": new_password(), "name": "ア" * 100})
    assert ok.status_code == 201, ok.text
    r = client.post("/v1/staff", {"email": unique_email(), "role": "viewer",
                                  "password": new_password(), "name": "n" * 101})
    assert "name" in fields(problem(r, 400, "invalid-request"))


def test_duplicate_staff_email_is_409_regardless_of_case(suite, client):
    s, _ = suite.create_staff("viewer", email=unique_email("Dup"))
    r = client.post("/v1/staff", {"email": s["email"].upper(), "role": "admin",
                                  "password": new_password()})
    b = problem(r, 409, "conflict")
    assert b["errors"][0]["field"] == "email", b
    assert suite.sql("select count(*) from member.staff where lower(email) = lower('%s')"
                     % s["email"]) == [["1"]]


def test_patch_staff(suite, client):
    s, pw = suite.create_staff("viewer", name="Before")
    r = client.patch("/v1/staff/" + s["id"], {"name": "After"}, headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["name"] == "After", r.text
    assert r.headers["ETag"] == '"2"'
    problem(client.patch("/v1/staff/" + s["id"], {"name": "Stale"}, headers={"If-Match": '"1"'}),
            412, "precondition-failed")
    r = client.request("PATCH", "/v1/staff/" + s["id"], data=json.dumps({"name": None}),
                       headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200 and r.json()["name"] is None, r.text
    for body, field in (({"email": unique_email()}, "email"), ({"disabled": "yes"}, "disabled"),
                        ({"role": "boss"}, "role"), ({"password": "short"}, "password"),
                        ({"id": str(uuid.uuid4())}, "id")):
        assert field in fields(problem(client.patch("/v1/staff/" + s["id"], body), 400,
                                       "invalid-request")), body
    problem(client.patch("/v1/staff/" + str(uuid.uuid4()), {"name": "x"}), 404, "not-found")
    row = staff_row(suite, s["id"])
    assert (row["email"], row["role"], row["version"]) == (s["email"], "viewer", "3")
    a = audit(suite, "action = 'staff.update' and target_id = '%s'" % s["id"])
    assert [x["changes"] for x in a][0] == {"name": ["Before", "After"]}, a
    # a new password: audited as changed, never shown
    newpw = new_password()
    assert client.patch("/v1/staff/" + s["id"], {"password": newpw}).status_code == 200
    a = audit(suite, "action = 'staff.update' and target_id = '%s'" % s["id"])[-1]
    assert "password" in a["changes"] and newpw not in json.dumps(a["changes"]), a
    assert staff_row(suite, s["id"])["password_hash"].startswith("$argon2id$v=19$m=19456,t=2,p=1$")


# ------------------------------------------------------------------ login


def test_login_returns_a_fresh_strong_token_each_time(suite):
    s, pw = suite.create_staff("support")
    r = login(suite, s["email"], pw)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"token", "token_type", "expires_in", "staff"}, body
    assert re.match(r"^kss_[0-9a-f]{64}$", body["token"]), body["token"]    # 256 random bits
    assert body["token_type"] == "Bearer" and body["expires_in"] == 1800
    assert set(body["staff"]) == STAFF_KEYS and body["staff"]["id"] == s["id"]
    assert TS_RE.match(body["staff"]["last_login_at"]), body["staff"]
    assert staff_row(suite, s["id"])["logged_in"] == "t"
    tokens = {body["token"]} | {login(suite, s["email"], pw).json()["token"] for _ in range(2)}
    assert len(tokens) == 3, "a login reused a token"
    for t in tokens:                                   # every session works on its own
        me = suite.client_as(t).get("/v1/me").json()
        assert (me["kind"], me["id"], me["role"]) == ("session", s["id"], "support")
    # Redis keeps the token's SHA-256 only, with the staff id, role and creation time
    t = body["token"]
    h = suite.redis_cli("HGETALL", session_key(t)).splitlines()
    h = dict(zip(h[::2], h[1::2]))
    assert h["staff_id"] == s["id"] and h["role"] == "support", h
    assert abs(int(h["created_ms"]) - time.time() * 1000) < 60000, h
    assert suite.redis_cli("EXISTS", "kaiin:session:" + t) == "0"
    for key in suite.redis_cli("KEYS", "kaiin:session:*").splitlines():
        assert t[4:] not in key
    # the email is matched regardless of case
    assert login(suite, s["email"].upper(), pw).status_code == 200


def test_login_refusals_look_the_same(suite):
    s, pw = suite.create_staff("viewer")
    d, dpw = suite.create_staff("viewer")
    assert suite.client.patch("/v1/staff/" + d["id"], {"disabled": True}).status_code == 200
    answers = [login(suite, s["email"], pw + "x"),              # wrong password
               login(suite, unique_email("nobody"), pw),        # unknown email
               login(suite, d["email"], dpw)]                   # disabled, right password
    for r in answers:
        b = problem(r, 401, "unauthenticated")
        assert b["detail"] == LOGIN_REFUSED, b
        assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), r.headers
        assert "token" not in b and "errors" not in b
    assert len({(r.json()["title"], r.json()["detail"]) for r in answers}) == 1


def test_login_audit_rows_with_ip(suite):
    s, pw = suite.create_staff("finance")
    ok = login(suite, s["email"], pw, headers={"User-Agent": "kaiin-test/1"})
    bad = login(suite, s["email"], "wrong-" + pw)
    ghost = unique_email("ghost")
    unknown = login(suite, ghost, pw)
    assert (ok.status_code, bad.status_code, unknown.status_code) == (200, 401, 401)
    rows = audit(suite, "target_type = 'staff' and target_id = '%s' and action like 'staff.login%%'"
                 % s["id"])
    assert [r["action"] for r in rows] == ["staff.login", "staff.login_failed"], rows
    for r, resp in zip(rows, (ok, bad)):
        assert r["ip"] == "127.0.0.1" and r["request_id"] == resp.headers["X-Request-Id"], r
        assert r["changes"]["email"] == s["email"], r
        assert pw not in json.dumps(r["changes"])
    assert rows[0]["actor_id"] == s["id"] and rows[0]["actor_role"] == "finance"
    assert rows[0]["changes"]["user_agent"] == "kaiin-test/1"
    rows = audit(suite, "action = 'staff.login_failed' and request_id = '%s'"
                 % unknown.headers["X-Request-Id"])
    assert len(rows) == 1 and rows[0]["ip"] == "127.0.0.1", rows
    assert rows[0]["changes"]["email"] == ghost


def test_login_rejects_bad_input(suite):
    c = suite.client
    for body, field in (({"email": "a@b.co"}, "password"), ({"password": "x" * 12}, "email"),
                        ({"email": "", "password": "x" * 12}, "email"),
                        ({"email": "a@b.co", "password": 12}, "password"),
                        ({"email": "a@b.co", "password": "x" * 12, "role": "owner"}, "role")):
        r = c.post("/v1/auth/login", body, auth=False)
        assert field in fields(problem(r, 400, "invalid-request")), body
    problem(c.request("POST", "/v1/auth/login", auth=False, data="{",
                      headers={"Content-Type": "application/json"}), 400, "invalid-request")
    problem(c.request("POST", "/v1/auth/login", auth=False, data="{}",
                      headers={"Content-Type": "text/plain"}), 415, "unsupported-media-type")


def test_unknown_email_costs_about_as_much_as_a_wrong_password(suite):
    """No cheap user enumeration: an unknown email still runs a password hash."""
    s, pw = suite.create_staff("viewer")

    def median(email):
        times = []
        for _ in range(3):
            r = login(suite, email, "wrong-" + pw)
            assert r.status_code == 401
            times.append(r.elapsed_s)
        return statistics.median(times)

    known, unknown = median(s["email"]), median(unique_email("nobody"))
    assert unknown > 0.5 * known, (known, unknown)


# ------------------------------------------------------------------ sessions


def test_logout_ends_the_session_only(suite):
    s, pw = suite.create_staff("viewer")
    a, b = suite.login(s["email"], pw), suite.login(s["email"], pw)
    r = suite.client_as(a).post("/v1/auth/logout")
    assert r.status_code == 204 and r.content == b""
    problem(suite.client_as(a).get("/v1/me"), 401, "unauthenticated")
    problem(suite.client_as(a).post("/v1/auth/logout"), 401, "unauthenticated")
    assert suite.redis_cli("EXISTS", session_key(a)) == "0"
    assert suite.client_as(b).get("/v1/me").status_code == 200
    problem(suite.client.post("/v1/auth/logout"), 400, "invalid-request")   # bootstrap token
    assert suite.client.get("/v1/me").json()["kind"] == "bootstrap"


def test_disabling_ends_sessions_and_blocks_login(suite):
    s, pw = suite.create_staff("support")
    tokens = [suite.login(s["email"], pw) for _ in range(2)]
    r = suite.client.patch("/v1/staff/" + s["id"], {"disabled": True})
    assert r.status_code == 200 and r.json()["disabled"] is True, r.text
    for t in tokens:
        problem(suite.client_as(t).get("/v1/members"), 401, "unauthenticated")
        assert suite.redis_cli("EXISTS", session_key(t)) == "0"
    assert login(suite, s["email"], pw).status_code == 401
    r = suite.client.patch("/v1/staff/" + s["id"], {"disabled": False})
    assert r.status_code == 200 and r.json()["disabled"] is False
    assert login(suite, s["email"], pw).status_code == 200
    for t in tokens:                              # re-enabling does not revive old sessions
        assert suite.client_as(t).get("/v1/me").status_code == 401


def test_role_change_ends_sessions(suite):
    s, pw = suite.create_staff("admin")
    old = suite.client_as(suite.login(s["email"], pw))
    assert old.get("/v1/staff").status_code == 200
    r = suite.client.patch("/v1/staff/" + s["id"], {"role": "viewer"})
    assert r.status_code == 200 and r.json()["role"] == "viewer"
    problem(old.get("/v1/staff"), 401, "unauthenticated")
    problem(old.get("/v1/me"), 401, "unauthenticated")
    new = suite.client_as(suite.login(s["email"], pw))
    assert new.get("/v1/me").json()["role"] == "viewer"
    assert new.get("/v1/staff").status_code == 403


def test_password_change_ends_sessions(suite):
    s, pw = suite.create_staff("support")
    old = suite.client_as(suite.login(s["email"], pw))
    newpw = new_password()
    assert suite.client.patch("/v1/staff/" + s["id"], {"password": newpw}).status_code == 200
    problem(old.get("/v1/me"), 401, "unauthenticated")
    assert login(suite, s["email"], pw).status_code == 401
    assert login(suite, s["email"], newpw).status_code == 200


def test_name_change_keeps_sessions(suite):
    s, pw = suite.create_staff("support")
    c = suite.client_as(suite.login(s["email"], pw))
    assert suite.client.patch("/v1/staff/" + s["id"], {"name": "New name"}).status_code == 200
    assert c.get("/v1/me").json()["staff"]["name"] == "New name"


def test_id_in_upper_case_still_ends_sessions(suite):
    """The path id is a UUID however it is spelled: disabling or demoting through the upper-case
    spelling must end the account's sessions just the same."""
    s, pw = suite.create_staff("admin")
    c = suite.client_as(suite.login(s["email"], pw))
    r = suite.client.patch("/v1/staff/" + s["id"].upper(), {"role": "viewer"})
    assert r.status_code == 200 and r.json()["role"] == "viewer", r.text
    r = c.get("/v1/staff")
    assert r.status_code == 401, "a demoted admin's session still manages staff: %d" % r.status_code
    c = suite.client_as(suite.login(s["email"], pw))
    r = suite.client.patch("/v1/staff/" + s["id"].upper(), {"disabled": True})
    assert r.status_code == 200, r.text
    assert c.get("/v1/members").status_code == 401, "a disabled account's session still works"


def test_idle_expiry(suite):
    s, pw = suite.create_staff("viewer")
    t = suite.login(s["email"], pw)
    c = suite.client_as(t)
    ttl = int(suite.redis_cli("TTL", session_key(t)))
    assert 1790 <= ttl <= 1800, ttl
    suite.redis_cli("EXPIRE", session_key(t), 100)       # each use slides the 30 minutes again
    assert c.get("/v1/me").status_code == 200
    assert int(suite.redis_cli("TTL", session_key(t))) >= 1790
    suite.redis_cli("EXPIRE", session_key(t), 1)
    time.sleep(1.3)
    problem(c.get("/v1/me"), 401, "unauthenticated")


def test_absolute_expiry_after_12_hours(suite):
    s, pw = suite.create_staff("viewer")
    t = suite.login(s["email"], pw)
    c = suite.client_as(t)
    now_ms = int(time.time() * 1000)
    suite.redis_cli("HSET", session_key(t), "created_ms", now_ms - 11 * 3600 * 1000)
    assert c.get("/v1/me").status_code == 200             # 11 h old, in use: still fine
    suite.redis_cli("HSET", session_key(t), "created_ms", now_ms - 13 * 3600 * 1000)
    problem(c.get("/v1/me"), 401, "unauthenticated")
    assert suite.redis_cli("EXISTS", session_key(t)) == "0"


# ------------------------------------------------------------------ login throttling


def test_account_failure_counter_blocks_even_the_right_password(suite):
    s, pw = suite.create_staff("support")
    other, opw = suite.create_staff("support")
    key = account_key(s["email"])
    assert login(suite, s["email"], "wrong-" + pw).status_code == 401
    assert suite.redis_cli("GET", key) == "1"
    assert 0 < int(suite.redis_cli("TTL", key)) <= 3600
    suite.redis_cli("SET", key, 100, "EX", 3600)
    try:
        sessions = suite.redis_cli("KEYS", "kaiin:session:*").splitlines()
        for email in (s["email"], s["email"].upper()):
            r = login(suite, email, pw)
            b = problem(r, 429, "rate-limited")
            assert r.headers.get("Retry-After") == "3600", r.headers
            assert "token" not in b
        assert sorted(suite.redis_cli("KEYS", "kaiin:session:*").splitlines()) == sorted(sessions)
        assert login(suite, other["email"], opw).status_code == 200     # others are not blocked
        suite.redis_cli("SET", key, 99, "EX", 3600)
        assert login(suite, s["email"], pw).status_code == 200           # under the limit
    finally:
        suite.redis_cli("DEL", key)
    assert login(suite, s["email"], pw).status_code == 200


def test_address_failure_counter_blocks_every_account(suite):
    s, pw = suite.create_staff("viewer")
    key = "kaiin:login-failures:ip:127.0.0.1"
    before, ttl = suite.redis_cli("GET", key), int(suite.redis_cli("TTL", key))
    suite.redis_cli("SET", key, 300, "EX", 3600)
    try:
        r = login(suite, s["email"], pw)
        problem(r, 429, "rate-limited")
        assert r.headers.get("Retry-After") == "3600"
        assert suite.client.get("/v1/me").status_code == 200     # other routes are not throttled
    finally:
        if before:
            suite.redis_cli("SET", key, before, "EX", max(ttl, 1))
        else:
            suite.redis_cli("DEL", key)
    assert login(suite, s["email"], pw).status_code == 200


# ------------------------------------------------------------------ API keys


def test_api_key_lifecycle(suite, client):
    r = client.post("/v1/api-keys", {"name": "export", "role": "support"})
    assert r.status_code == 201, r.text
    key = r.json()
    assert set(key) == KEY_KEYS | {"secret"}, key
    secret = key["secret"]
    assert re.match(r"^kak_[0-9a-f]{64}$", secret), secret
    assert key["prefix"] == secret[:12] and key["role"] == "support" and key["name"] == "export"
    assert key["created_by"] == "bootstrap" and key["revoked_at"] is None
    assert r.headers.get("Location") == "/v1/api-keys/" + key["id"]
    # only the SHA-256 is stored, never the secret
    row = suite.sql("select secret_sha256, prefix, role, created_by from member.api_keys "
                    "where id = '%s'" % key["id"])
    assert row == [[sha(secret), secret[:12], "support", "bootstrap"]], row
    dump = suite.sql("select string_agg(t::text, '|') from member.api_keys t")[0][0]
    assert secret not in dump and secret[4:] not in dump
    # the list never shows it again
    r = client.get("/v1/api-keys")
    assert r.status_code == 200 and set(r.json()) == {"data"}
    listed = [k for k in r.json()["data"] if k["id"] == key["id"]]
    assert listed and set(listed[0]) == KEY_KEYS, listed
    assert secret not in r.text and secret[4:] not in r.text
    # works as a bearer token, cached for 60 s
    k = suite.client_as(secret)
    me = k.get("/v1/me").json()
    assert me == {"kind": "api_key", "id": key["id"], "role": "support", "staff": None}, me
    m = k.create_member()
    assert k.get("/v1/members/" + m["id"]).status_code == 200
    assert 0 < int(suite.redis_cli("TTL", "kaiin:api-key:" + sha(secret))) <= 60
    problem(k.get("/v1/staff"), 403, "forbidden")
    problem(k.post("/v1/auth/logout"), 400, "invalid-request")
    # revoked: 401 at once, even though the gateway had it cached
    r = client.post("/v1/api-keys/%s/revoke" % key["id"])
    assert r.status_code == 200, r.text
    assert set(r.json()) == KEY_KEYS and TS_RE.match(r.json()["revoked_at"]), r.json()
    for _ in range(3):
        problem(k.get("/v1/me"), 401, "unauthenticated")
        problem(k.get("/v1/members"), 401, "unauthenticated")
    assert suite.sql("select revoked_at is not null from member.api_keys where id = '%s'"
                     % key["id"]) == [["t"]]
    listed = [x for x in client.get("/v1/api-keys").json()["data"] if x["id"] == key["id"]]
    assert listed[0]["revoked_at"] == r.json()["revoked_at"]
    acts = [a["action"] for a in audit(suite, "target_type = 'api_key' and target_id = '%s'"
                                       % key["id"])]
    assert acts == ["api_key.create", "api_key.revoke"], acts
    # its member writes were audited with the key as the actor
    a = audit(suite, "action = 'member.registered' and target_id = '%s'" % m["id"])
    assert [(x["actor_id"], x["actor_role"]) for x in a] == [(key["id"], "support")], a


def test_api_key_rules(suite, client):
    n = suite.sql("select count(*) from member.api_keys")
    for body, field in (({"name": "o", "role": "owner"}, "role"), ({"name": "b", "role": "boss"}, "role"),
                        ({"role": "viewer"}, "name"), ({"name": "x"}, "role"),
                        ({"name": "", "role": "viewer"}, "name"),
                        ({"name": "x", "role": "viewer", "secret": "kak_" + "0" * 64}, "secret")):
        r = client.post("/v1/api-keys", body)
        assert field in fields(problem(r, 400, "invalid-request")), (body, r.text)
    assert suite.sql("select count(*) from member.api_keys") == n
    problem(client.post("/v1/api-keys/%s/revoke" % uuid.uuid4()), 404, "not-found")
    problem(client.post("/v1/api-keys/nope/revoke"), 404, "not-found")
    problem(suite.client_as("kak_" + "f" * 64).get("/v1/me"), 401, "unauthenticated")
    # keys made by a session name their maker
    s, pw = suite.create_staff("admin")
    a = suite.client_as(suite.login(s["email"], pw))
    r = a.post("/v1/api-keys", {"name": "by admin", "role": "admin"})
    assert r.status_code == 201 and r.json()["created_by"] == s["id"], r.text
    assert suite.client_as(r.json()["secret"]).get("/v1/staff").status_code == 200


# ------------------------------------------------------------------ audit log


def test_member_writes_by_a_session_are_audited(suite):
    s, pw = suite.create_staff("support")
    c = suite.client_as(suite.login(s["email"], pw))
    email = unique_email("audited")
    r = c.post("/v1/members", {"email": email, "name": "Before", "phone": "0312345678"},
               headers={"X-Request-Id": "audit-create-1"})
    assert r.status_code == 201, r.text
    mid = r.json()["id"]
    assert c.patch("/v1/members/" + mid, {"name": "After", "phone": None}).status_code == 200
    assert c.post("/v1/members/%s/withdraw" % mid, {"reason": "moving"}).status_code == 200
    rows = audit(suite, "target_type = 'member' and target_id = '%s'" % mid)
    assert [r["action"] for r in rows] == ["member.registered", "member.updated",
                                           "member.withdrawn"], rows
    for r in rows:
        assert (r["actor_id"], r["actor_role"], r["ip"]) == (s["id"], "support", "127.0.0.1"), r
    assert rows[0]["request_id"] == "audit-create-1"
    assert rows[0]["changes"]["email"] == [None, email], rows[0]
    assert rows[0]["changes"]["status"] == [None, "free"], rows[0]
    upd = rows[1]["changes"]
    assert upd["name"] == ["Before", "After"], upd
    # the old phone is stored sealed with the member's key (member README, "Encryption at rest");
    # the audit log's route opens it
    assert upd["phone"][0].startswith("k1:") and "0312345678" not in upd["phone"][0], upd
    assert not upd["phone"][1], upd
    served = suite.client.get("/v1/audit-log", params={"target_id": mid}).json()["data"]
    [changed] = [e["changes"] for e in served if e["action"] == "member.updated"]
    assert changed["phone"][0] == "0312345678" and not changed["phone"][1], changed
    assert "email" not in upd and "status" not in upd, upd          # only what changed
    assert rows[2]["changes"]["status"] == ["free", "withdrawn"], rows[2]
    assert rows[2]["changes"]["withdrawn_reason"][1] == "moving", rows[2]


def test_member_role_cannot_change_or_remove_audit_rows(suite, client):
    client.create_member()
    before = suite.sql("select count(*), max(seq) from member.audit_log")
    for sql in ("update member.audit_log set actor_id = 'mallory'",
                "delete from member.audit_log",
                "truncate member.audit_log"):
        r = suite.sql_as_member(sql)
        assert r.returncode != 0, (sql, r.stdout)
        assert "permission denied" in r.stderr, (sql, r.stderr)
    r = suite.sql_as_member("select count(*) from member.audit_log")
    assert r.returncode == 0 and int(r.stdout.strip()) >= int(before[0][0]), r.stderr
    assert suite.sql("select count(*), max(seq) from member.audit_log")[0][0] >= before[0][0]
    assert suite.sql("select count(*) from member.audit_log where actor_id = 'mallory'") == [["0"]]


# ------------------------------------------------------------------ a fresh installation


@pytest.fixture(scope="module")
def fresh():
    """A second, small suite walked through the bootstrap token's life: the token creates the
    first owner, then the gateway restarts with KAIIN_ADMIN_TOKEN_DISABLED=1."""
    s = harness.Suite("staff-fresh", member_workers=2).start()
    try:
        owner, pw = s.create_staff("owner", email=unique_email("first-owner"))
        s.first_owner, s.first_pw = owner, pw
        s.early_token = s.login(owner["email"], pw)
        s.restart_gateway(bootstrap_disabled=True)
        yield s
    finally:
        s.stop()
        probs = s.take_problems()
        s.cleanup_dir()
    if probs:
        pytest.fail("staff-fresh suite problems:\n\n%s" % "\n\n".join(probs), pytrace=False)


def test_bootstrap_token_off(fresh):
    s = fresh
    for method, path in (("GET", "/v1/me"), ("GET", "/v1/members"), ("GET", "/v1/staff"),
                         ("POST", "/v1/staff"), ("POST", "/v1/api-keys")):
        r = s.client.request(method, path, json_body={} if method == "POST" else None)
        problem(r, 401, "unauthenticated")
    assert s.sql("select count(*) from member.staff") == [["1"]]
    # a session from before the restart lives on (Redis), and new logins work
    early = s.client_as(s.early_token)
    assert early.get("/v1/me").json()["id"] == s.first_owner["id"]
    owner = s.client_as(s.login(s.first_owner["email"], s.first_pw))
    m = owner.create_member()
    assert owner.get("/v1/members/" + m["id"]).status_code == 200
    r = owner.post("/v1/api-keys", {"name": "ops", "role": "viewer"})
    assert r.status_code == 201, r.text
    assert s.client_as(r.json()["secret"]).get("/v1/members/" + m["id"]).status_code == 200


def test_last_owner_cannot_be_disabled_or_demoted(fresh):
    s = fresh
    a = s.first_owner
    ca = s.client_as(s.login(a["email"], s.first_pw))
    before = staff_row(s, a["id"])
    for body in ({"disabled": True}, {"role": "admin"}, {"role": "viewer"},
                 {"role": "admin", "name": "x"}):
        problem(ca.patch("/v1/staff/" + a["id"], body), 409, "conflict")
    assert staff_row(s, a["id"]) == before
    assert ca.get("/v1/me").status_code == 200       # a refused change ends no session
    # a second owner makes the first one free to go
    c, cpw = s.create_staff("owner", client=ca)
    cc = s.client_as(s.login(c["email"], cpw))
    r = cc.patch("/v1/staff/" + a["id"], {"role": "admin"})
    assert r.status_code == 200 and r.json()["role"] == "admin", r.text
    problem(ca.get("/v1/me"), 401, "unauthenticated")
    problem(cc.patch("/v1/staff/" + c["id"], {"disabled": True}), 409, "conflict")
    # a disabled owner does not count as one
    d, _ = s.create_staff("owner", client=cc)
    assert cc.patch("/v1/staff/" + d["id"], {"disabled": True}).status_code == 200
    problem(cc.patch("/v1/staff/" + c["id"], {"role": "support"}), 409, "conflict")
    assert s.sql("select count(*) from member.staff where role = 'owner' and not disabled") \
        == [["1"]]
    s.remaining_owner, s.remaining_client, s.demoted = c, cc, a


def test_two_owners_demoted_at_once_leave_one(fresh):
    """The last-owner rule holds under concurrency: with two owners, demoting both at the same
    time must leave one of them an enabled owner."""
    s = fresh
    c, cc, a = s.remaining_owner, s.remaining_client, s.demoted
    assert cc.patch("/v1/staff/" + a["id"], {"role": "owner"}).status_code == 200
    lock = s.hold_lock("update member.staff set name = name where id = '%s'" % a["id"])
    results = {}

    def demote(key, who):
        results[key] = cc.patch("/v1/staff/" + who["id"], {"role": "admin"})

    first = threading.Thread(target=demote, args=("a", a))
    second = threading.Thread(target=demote, args=("c", c))
    try:
        first.start()
        deadline = time.monotonic() + 3
        while s.sql("select count(*) from pg_stat_activity where wait_event_type = 'Lock' "
                    "and usename = 'kaiin_member'") == [["0"]]:
            assert time.monotonic() < deadline, "the demotion never waited for the row lock"
            time.sleep(0.05)
        # The second demotion starts while the first is undecided: it must wait for it, since
        # only the first one's outcome says whether c is the last owner.
        second.start()
        time.sleep(0.3)
    finally:
        lock.release()
        first.join(10)
        second.join(10)
    owners = s.sql("select count(*) from member.staff where role = 'owner' and not disabled")
    if owners == [["0"]]:             # put an owner back for whatever runs next
        s.sql("update member.staff set role = 'owner' where id = '%s'" % c["id"])
    statuses = sorted(r.status_code for r in results.values())
    assert owners == [["1"]] and statuses == [200, 409], (owners, statuses)
