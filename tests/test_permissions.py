"""test_permissions.py - who may do what: every route × every role (sessions, API keys and the
bootstrap token), 403s that change nothing, owner-only rules, and the viewer's masked phone.
The matrix is docs/permissions.md; the gateway enforces it per route, the member service again
per object and field."""

import random
import re
import uuid

import pytest

from harness import new_password, opened_row, unique_email

ROLES = ["owner", "admin", "support", "marketing", "finance", "viewer"]
KEY_ROLES = ROLES[1:]                      # an API key is never an owner
WRITERS = {"owner", "admin", "support"}    # members write
MANAGERS = {"owner", "admin"}              # staff and API keys


def assert_forbidden(r, role):
    assert r.status_code == 403, (r.status_code, r.text)
    assert r.headers.get("Content-Type", "").startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["type"] == "/problems/forbidden" and body["status"] == 403, body
    assert body["request_id"] == r.headers.get("X-Request-Id"), body
    assert "errors" not in body, body
    return body


@pytest.fixture(scope="module")
def callers(suite):
    """(kind, role) → {"client", "id"}: one logged-in staff account per role, one API key per role
    a key may have, and the bootstrap token."""
    out = {("bootstrap", "owner"): {"client": suite.client, "id": "bootstrap"}}
    for role in ROLES:
        staff, pw = suite.create_staff(role, name="Perm " + role)
        out[("session", role)] = {"client": suite.client_as(suite.login(staff["email"], pw)),
                                  "id": staff["id"], "email": staff["email"], "password": pw}
    for role in KEY_ROLES:
        r = suite.client.post("/v1/api-keys", {"name": "perm-" + role, "role": role})
        assert r.status_code == 201, r.text
        key = r.json()
        out[("api_key", role)] = {"client": suite.client_as(key["secret"]), "id": key["id"]}
    return out


@pytest.fixture(scope="module")
def target(suite):
    """A viewer account every caller tries to read and rename."""
    staff, _ = suite.create_staff("viewer", name="Target")
    return staff


def _audit_rows(suite, request_id):
    return suite.sql("select actor_id, actor_role, action from member.audit_log "
                     "where request_id = '%s'" % request_id)


CALLERS = ([("bootstrap", "owner")] + [("session", r) for r in ROLES]
           + [("api_key", r) for r in KEY_ROLES])


@pytest.mark.parametrize("kind,role", CALLERS, ids=["%s-%s" % c for c in CALLERS])
def test_route_matrix(suite, callers, target, kind, role):
    """Every /v1 route as this caller: the documented answer, and a 403 changes nothing (no row,
    no audit entry); an allowed write is audited with the caller as actor."""
    me = callers[(kind, role)]
    c = me["client"]
    bs = suite.client
    m1 = bs.create_member(name="Matrix", phone="090-1234-5678")
    m2 = bs.create_member()
    r = bs.post("/v1/api-keys", {"name": "victim-" + uuid.uuid4().hex[:8], "role": "viewer"})
    assert r.status_code == 201, r.text
    victim_key = r.json()["id"]
    new_member = unique_email("matrix")
    new_staff = unique_email("matrix-staff")
    key_name = "matrix-" + uuid.uuid4().hex
    new_name = "Renamed " + uuid.uuid4().hex[:8]
    failures = []

    def call(method, path, body, allowed, ok, check_changed):
        rid = "perm-" + uuid.uuid4().hex
        r = c.request(method, path, json_body=body, headers={"X-Request-Id": rid})
        if allowed:
            if r.status_code != ok:
                failures.append("%s %s: expected %d, got %d %s" % (method, path, ok, r.status_code,
                                                                  r.text[:300]))
                return r
        else:
            if r.status_code != 403:
                failures.append("%s %s: expected 403, got %d %s" % (method, path, r.status_code,
                                                                   r.text[:300]))
                return r
            body = assert_forbidden(r, role)
            if body["detail"] != "the role '%s' may not do this" % role:
                failures.append("%s %s: detail %r" % (method, path, body["detail"]))
        changed = check_changed()
        if changed is not None and changed != allowed:
            failures.append("%s %s: %s, but the row %s" % (method, path,
                            "allowed" if allowed else "refused",
                            "changed" if changed else "did not change"))
        if method != "GET" and changed is not None:
            rows = _audit_rows(suite, rid)
            if allowed and not (rows and rows[0][:2] == [me["id"], role]):
                failures.append("%s %s: audit rows %r, expected actor %s/%s"
                                % (method, path, rows, me["id"], role))
            if not allowed and rows:
                failures.append("%s %s: a refused request left audit rows %r" % (method, path, rows))
        return r

    def exists(sql):
        return lambda: suite.sql(sql)[0][0] == "1"

    # members: read by all, written by owner/admin/support
    r = call("GET", "/v1/members?limit=2", None, True, 200, lambda: None)
    r = call("GET", "/v1/members/" + m1["id"], None, True, 200, lambda: None)
    call("POST", "/v1/members", {"email": new_member}, role in WRITERS, 201,
         exists("select count(*) from member.members where email = '%s'" % new_member))
    call("PATCH", "/v1/members/" + m1["id"], {"name": new_name}, role in WRITERS, 200,
         exists("select count(*) from member.members where id = '%s' and name = '%s'"
                % (m1["id"], new_name)))
    call("POST", "/v1/members/%s/withdraw" % m2["id"], {"reason": "matrix"}, role in WRITERS, 200,
         exists("select count(*) from member.members where id = '%s' and status = 'withdrawn'"
                % m2["id"]))
    # staff and API keys: owner/admin
    manage = role in MANAGERS
    call("GET", "/v1/staff?limit=2", None, manage, 200, lambda: None)
    call("GET", "/v1/staff/" + target["id"], None, manage, 200, lambda: None)
    call("POST", "/v1/staff", {"email": new_staff, "role": "viewer", "password": new_password()},
         manage, 201, exists("select count(*) from member.staff where email = '%s'" % new_staff))
    call("PATCH", "/v1/staff/" + target["id"], {"name": new_name}, manage, 200,
         exists("select count(*) from member.staff where id = '%s' and name = '%s'"
                % (target["id"], new_name)))
    call("GET", "/v1/api-keys", None, manage, 200, lambda: None)
    call("POST", "/v1/api-keys", {"name": key_name, "role": "viewer"}, manage, 201,
         exists("select count(*) from member.api_keys where name = '%s'" % key_name))
    call("POST", "/v1/api-keys/%s/revoke" % victim_key, None, manage, 200,
         exists("select count(*) from member.api_keys where id = '%s' and revoked_at is not null"
                % victim_key))
    # signed in: every valid token
    r = call("GET", "/v1/me", None, True, 200, lambda: None)
    if r.status_code == 200:
        mine = r.json()
        if (mine["kind"], mine["id"], mine["role"]) != (kind, me["id"], role):
            failures.append("GET /v1/me: %r" % mine)
        if (mine["staff"] is None) != (kind != "session"):
            failures.append("GET /v1/me: staff %r for kind %s" % (mine["staff"], kind))
        elif kind == "session" and mine["staff"]["id"] != me["id"]:
            failures.append("GET /v1/me: staff %r" % mine["staff"])
    if kind != "session":
        # only sessions can be logged out (sessions: test_every_role_logs_out)
        r = c.post("/v1/auth/logout")
        if r.status_code != 400:
            failures.append("POST /v1/auth/logout: expected 400, got %d" % r.status_code)
        if c.get("/v1/me").status_code != 200:
            failures.append("the token stopped working after a refused logout")
    # open routes need no token at all, and a token does not hurt
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.yaml"):
        if c.get(path).status_code != 200:
            failures.append("GET %s with a %s token is not 200" % (path, role))
    assert not failures, "\n".join(failures)


def test_every_role_logs_out(suite, callers):
    """POST /v1/auth/logout is for every signed-in role: 204, and that token is dead after."""
    for role in ROLES:
        me = callers[("session", role)]
        token = suite.login(me["email"], me["password"])       # a second session of the account
        c = suite.client_as(token)
        r = c.post("/v1/auth/logout")
        assert r.status_code == 204, (role, r.status_code, r.text)
        assert r.content == b""
        assert c.get("/v1/me").status_code == 401, role
        assert me["client"].get("/v1/me").status_code == 200, "logout ended another session"


def test_no_token_or_bad_token_is_401_everywhere(suite):
    routes = [("GET", "/v1/members"), ("POST", "/v1/members"), ("GET", "/v1/staff"),
              ("POST", "/v1/staff"), ("GET", "/v1/api-keys"), ("POST", "/v1/api-keys"),
              ("GET", "/v1/me"), ("POST", "/v1/auth/logout"),
              ("PATCH", "/v1/staff/" + str(uuid.uuid4())),
              ("POST", "/v1/api-keys/%s/revoke" % uuid.uuid4())]
    for token in (None, "kss_" + "0" * 64, "kak_" + "0" * 64, "kss_short", "nonsense",
                  suite.token + "x", suite.token[:-1]):
        for method, path in routes:
            h = {"Authorization": None if token is None else "Bearer " + token}
            r = suite.client.request(method, path, json_body={}, headers=h)
            assert r.status_code == 401, (token, method, path, r.status_code, r.text)
            assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), r.headers
            assert r.json()["type"] == "/problems/unauthenticated"


# ------------------------------------------------------------------ object and field rules


def test_marketing_cannot_create_members_and_table_is_unchanged(suite, callers):
    c = callers[("session", "marketing")]["client"]
    before = suite.sql("select count(*), coalesce(max(seq), 0) from member.members")
    outbox = suite.sql("select count(*) from member.outbox")
    for body in ({"email": unique_email()}, {"email": unique_email(), "name": "x", "phone": "0312345678"},
                 {"email": "not-an-email"}, {"status": "paid"}):
        assert_forbidden(c.post("/v1/members", body), "marketing")
    m = suite.client.create_member(name="Kept")
    n = suite.sql("select count(*) from member.members")
    assert_forbidden(c.patch("/v1/members/" + m["id"], {"name": "Changed"}), "marketing")
    assert_forbidden(c.post("/v1/members/%s/withdraw" % m["id"], {}), "marketing")
    assert suite.sql("select name, status, version from member.members where id = '%s'"
                     % m["id"]) == [["Kept", "free", "1"]]
    assert suite.sql("select count(*) from member.members") == n
    assert int(n[0][0]) == int(before[0][0]) + 1
    assert int(suite.sql("select count(*) from member.outbox")[0][0]) == int(outbox[0][0]) + 1


def test_support_cannot_patch_staff(suite, callers, target):
    me = callers[("session", "support")]
    c = me["client"]
    cols = "select name, role, disabled, version, password_hash from member.staff where id = '%s'"
    before_self = suite.sql(cols % me["id"])
    before_target = suite.sql(cols % target["id"])
    for body in ({"role": "owner"}, {"role": "admin"}, {"name": "Mine now"},
                 {"password": new_password()}):
        assert_forbidden(c.patch("/v1/staff/" + me["id"], body), "support")
        assert_forbidden(c.patch("/v1/staff/" + target["id"], body), "support")
    assert_forbidden(c.patch("/v1/staff/" + target["id"], {"disabled": True}), "support")
    assert suite.sql(cols % me["id"]) == before_self
    assert suite.sql(cols % target["id"]) == before_target
    assert c.get("/v1/me").json()["role"] == "support"      # the session is untouched


def _staff_row(suite, sid):
    return suite.sql("select name, role, disabled, version, password_hash from member.staff "
                     "where id = '%s'" % sid)


def test_admin_cannot_create_or_change_an_owner(suite, callers):
    admin = callers[("session", "admin")]
    c = admin["client"]
    email = unique_email("want-owner")
    body = assert_forbidden(c.post("/v1/staff", {"email": email, "role": "owner",
                                                 "password": new_password()}), "admin")
    assert "owner" in body["detail"], body
    assert suite.sql("select count(*) from member.staff where lower(email) = lower('%s')" % email) \
        == [["0"]]
    owner, owner_pw = suite.create_staff("owner", name="Untouchable")
    owner_token = suite.login(owner["email"], owner_pw)
    before = _staff_row(suite, owner["id"])
    for patch in ({"name": "Renamed"}, {"role": "admin"}, {"role": "viewer"}, {"disabled": True},
                  {"password": new_password()}, {"role": "owner"}):
        assert_forbidden(c.patch("/v1/staff/" + owner["id"], patch), "admin")
    assert _staff_row(suite, owner["id"]) == before
    assert suite.client_as(owner_token).get("/v1/me").status_code == 200   # not logged out
    # nor make anyone an owner: another account, or itself
    viewer, _ = suite.create_staff("viewer")
    assert_forbidden(c.patch("/v1/staff/" + viewer["id"], {"role": "owner"}), "admin")
    assert _staff_row(suite, viewer["id"])[0][1] == "viewer"
    assert_forbidden(c.patch("/v1/staff/" + admin["id"], {"role": "owner"}), "admin")
    assert _staff_row(suite, admin["id"])[0][1] == "admin"
    # an admin API key is no different
    k = callers[("api_key", "admin")]["client"]
    assert_forbidden(k.post("/v1/staff", {"email": email, "role": "owner",
                                          "password": new_password()}), "admin")
    assert_forbidden(k.patch("/v1/staff/" + owner["id"], {"disabled": True}), "admin")
    assert _staff_row(suite, owner["id"]) == before
    # what an admin may do: manage non-owners, including other admins
    other, _ = suite.create_staff("admin", client=c)
    r = c.patch("/v1/staff/" + other["id"], {"role": "support"})
    assert r.status_code == 200 and r.json()["role"] == "support", r.text


def test_owner_may_create_and_change_owners(suite, callers):
    c = callers[("session", "owner")]["client"]
    owner, _ = suite.create_staff("owner", client=c)
    assert owner["role"] == "owner"
    r = c.patch("/v1/staff/" + owner["id"], {"name": "Second owner", "role": "admin"})
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["role"]) == ("Second owner", "admin")
    r = c.patch("/v1/staff/" + owner["id"], {"role": "owner"})
    assert r.status_code == 200 and r.json()["role"] == "owner", r.text


# ------------------------------------------------------------------ the viewer's masked phone


def _phones(c, mids, email):
    one = [c.get("/v1/members/" + mid).json()["phone"] for mid in mids]
    r = c.get("/v1/members", params={"email": email})
    assert r.status_code == 200, r.text
    listed = [m["phone"] for m in r.json()["data"]]
    return one, listed


def test_viewer_sees_masked_phone_support_sees_it_whole(suite, callers):
    cases = {"090-1234-5678": "***-****-5678", "+81-90-1234-5678": "+**-**-****-5678",
             "(03) 1234 5678": "(**) **** 5678", "0312345678": "******5678"}
    for phone, masked in cases.items():
        m = suite.client.create_member(phone=phone)
        for key in (("session", "viewer"), ("api_key", "viewer")):
            c = callers[key]["client"]
            one, listed = _phones(c, [m["id"]], m["email"])
            assert one == [masked] and listed == [masked], (key, phone, one, listed)
        for key in (("session", "support"), ("session", "owner"), ("session", "marketing"),
                    ("session", "finance"), ("api_key", "support"), ("bootstrap", "owner")):
            c = callers[key]["client"]
            one, listed = _phones(c, [m["id"]], m["email"])
            assert one == [phone] and listed == [phone], (key, phone, one, listed)
        # the row keeps the whole number: masking is on the way out
        stored = suite.sql("select phone from member.members where id = '%s'" % m["id"])[0][0]
        assert stored.startswith("k1:") and opened_row(suite, m["id"], {"phone": stored}) == {"phone": phone}
    m = suite.client.create_member()          # no phone: null for everyone
    one, listed = _phones(callers[("session", "viewer")]["client"], [m["id"]], m["email"])
    assert one == [None] and listed == [None]


def test_viewer_list_pages_never_show_a_whole_phone(suite, callers):
    for i in range(3):
        suite.client.create_member(phone="080-5555-%04d" % i)
    c = callers[("session", "viewer")]["client"]
    r = c.get("/v1/members", params={"limit": 100})
    assert r.status_code == 200
    phones = [m["phone"] for m in r.json()["data"] if m["phone"]]
    assert phones
    for p in phones:
        digits = re.findall(r"[0-9]", p)
        assert len(digits) <= 4, "viewer sees more than four digits: %r" % p


def test_viewer_mask_keeps_the_last_four_digits_not_characters(suite, callers):
    """The contract: every digit but the last four becomes '*'. With a separator among the last
    four characters, the last four digits must still show."""
    m = suite.client.create_member(phone="03-1234-56-78")
    c = callers[("session", "viewer")]["client"]
    one, listed = _phones(c, [m["id"]], m["email"])
    assert one == ["**-****-56-78"] and listed == ["**-****-56-78"], (one, listed)


def test_viewer_cannot_find_the_hidden_digits_by_searching(suite, callers):
    """A field a role reads masked cannot be searched by that role either: otherwise `q=` finds
    the hidden digits one at a time. Support, who reads the phone whole, finds it by the whole
    number (the phone is sealed: an exact match through its keyed hash), not by a part."""
    hidden = "%08d" % random.randrange(10 ** 8)
    phone = "090-%s-%s" % (hidden[:4], hidden[4:])
    m = suite.client.create_member(phone=phone, name="探索 試験")
    viewer = callers[("session", "viewer")]["client"]
    support = callers[("session", "support")]["client"]

    def found(c, q):
        r = c.get("/v1/members", params={"q": q, "email": m["email"]})
        assert r.status_code == 200, r.text
        return m["id"] in [x["id"] for x in r.json()["data"]]

    for q in (phone, "090" + hidden):
        assert found(support, q), q
        assert not found(viewer, q), q
    for q in (hidden, hidden[:4], hidden[2:6]):
        assert not found(support, q) and not found(viewer, q), q
    # what the viewer reads whole still finds the member: its name and its email
    local = m["email"].split("@")[0]
    for q in ("探索", local, m["email"]):
        assert found(viewer, q), q
    assert viewer.get("/v1/members/" + m["id"]).json()["phone"] == "***-****-" + hidden[4:]
