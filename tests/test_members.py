"""test_members.py - /v1/members: create, get, patch, withdraw, list, and the rows behind them."""

import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from harness import unique_email

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CODE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
MEMBER_KEYS = {"id", "email", "name", "name_kana", "phone", "status", "created_at", "updated_at",
               "withdrawn_at", "withdrawn_reason",
               # the whole member record (issue 3)
               "birthday", "postal_code", "prefecture", "address", "rank", "tags", "attributes",
               "note", "marketing_consent", "last_login_at"}


def db_member(suite, mid):
    rows = suite.sql("select email, name, name_kana, phone, status, version, withdrawn_reason, "
                     "withdrawn_at is not null, updated_at from member.members where id = '%s'" % mid)
    if not rows:
        return None
    keys = ["email", "name", "name_kana", "phone", "status", "version", "withdrawn_reason",
            "withdrawn", "updated_at"]
    return dict(zip(keys, rows[0]))


def outbox_types(suite, mid):
    rows = suite.sql("select type from member.outbox where aggregate_id::text = '%s' order by id" % mid)
    return [r[0] for r in rows]


def assert_problem(r, status, slug, code=None):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers.get("Content-Type", "").startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["type"] == "/problems/" + slug, body
    assert body["status"] == status, body
    assert isinstance(body.get("title"), str) and body["title"], body
    assert isinstance(body.get("detail"), str), body
    assert body.get("instance") == r.request.path_url.split("?")[0], body
    assert body.get("request_id") and body["request_id"] == r.headers.get("X-Request-Id"), body
    if slug not in ("invalid-request", "conflict"):
        assert "errors" not in body, body                 # errors[] only on field errors
    if "errors" in body:
        assert body["errors"] and all(set(e) == {"field", "code", "reason"} for e in body["errors"]), body
        assert all(CODE_RE.match(e["code"]) for e in body["errors"]), body
    assert CODE_RE.match(body.get("code") or ""), body     # a stable machine code, always
    if code is not None:
        assert body["code"] == code, body
    return body


def test_create_returns_member_etag_location_and_row(suite, client):
    email = unique_email("Create")
    r = client.post("/v1/members", {"email": email, "name": "山田 太郎", "name_kana": "ヤマダ タロウ",
                                    "phone": "+81-90-1234-5678"})
    assert r.status_code == 201, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    m = r.json()
    assert set(m) == MEMBER_KEYS, m
    assert UUID_RE.match(m["id"]), m["id"]
    assert r.headers["Location"] == "/v1/members/" + m["id"]
    assert r.headers["ETag"] == '"1"'
    assert m["email"] == email
    assert m["name"] == "山田 太郎"
    assert m["name_kana"] == "ヤマダ タロウ"
    assert m["phone"] == "+81-90-1234-5678"
    assert m["status"] == "free"
    assert TS_RE.match(m["created_at"]) and TS_RE.match(m["updated_at"]), m
    assert m["withdrawn_at"] is None and m["withdrawn_reason"] is None
    row = db_member(suite, m["id"])
    assert row is not None
    assert (row["email"], row["name"], row["name_kana"], row["status"],
            row["version"]) == (email, "山田 太郎", "ヤマダ タロウ", "free", "1")
    assert row["phone"].startswith("k1:")      # sealed with the member's key (test_encryption_at_rest)
    assert outbox_types(suite, m["id"]) == ["member.registered"]


def test_create_minimal_has_nulls(suite, client):
    r = client.post("/v1/members", {"email": unique_email(), "name": None, "phone": None})
    assert r.status_code == 201, r.text
    m = r.json()
    assert m["name"] is None and m["name_kana"] is None and m["phone"] is None
    r = client.get("/v1/members/" + m["id"])
    assert (r.json()["name"], r.json()["name_kana"], r.json()["phone"]) == (None, None, None)
    # "not set" in the row: NULL (or the empty string the protobuf mapping uses)
    row = db_member(suite, m["id"])
    assert all(row[k] in (None, "") for k in ("name", "phone", "name_kana")), row


def test_get_returns_same_member_and_etag(client):
    m = client.create_member(name="Get Me")
    r = client.get("/v1/members/" + m["id"])
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == '"1"'
    assert r.json() == m


def test_get_unknown_and_malformed_id_404(client):
    assert_problem(client.get("/v1/members/" + str(uuid.uuid4())), 404, "not-found")
    assert_problem(client.get("/v1/members/not-a-uuid"), 404, "not-found")
    assert_problem(client.get("/v1/members/12345"), 404, "not-found")


def test_duplicate_email_other_case_409(suite, client):
    email = unique_email("dup")
    client.create_member(email=email)
    before = suite.sql("select count(*) from member.members")[0][0]
    r = client.post("/v1/members", {"email": email.upper()})
    body = assert_problem(r, 409, "conflict")
    assert body["errors"][0]["field"] == "email", body
    assert suite.sql("select count(*) from member.members where lower(email) = lower('%s')"
                     % email) == [["1"]]
    assert int(suite.sql("select count(*) from member.members")[0][0]) == int(before)


def test_patch_changes_fields_and_bumps_etag(suite, client):
    m = client.create_member(name="Before", phone="03-1234-5678")
    r = client.patch("/v1/members/" + m["id"], {"name": "After", "phone": None})
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == '"2"'
    p = r.json()
    assert p["name"] == "After" and p["phone"] is None
    assert p["email"] == m["email"] and p["created_at"] == m["created_at"]
    assert p["updated_at"] >= m["updated_at"]
    row = db_member(suite, m["id"])
    assert row["name"] == "After" and row["phone"] in (None, "") and row["version"] == "2"
    assert outbox_types(suite, m["id"]) == ["member.registered", "member.updated"]
    g = client.get("/v1/members/" + m["id"])
    assert g.json() == p and g.headers["ETag"] == '"2"'


def test_patch_merge_patch_content_type(client):
    m = client.create_member()
    r = client.request("PATCH", "/v1/members/" + m["id"], data='{"name":"MP"}',
                       headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "MP"


def test_patch_if_match(suite, client):
    m = client.create_member(name="IfMatch")
    path = "/v1/members/" + m["id"]
    r = client.patch(path, {"name": "v2"}, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == '"2"'
    before = db_member(suite, m["id"])
    r = client.patch(path, {"name": "lost update", "email": unique_email()},
                     headers={"If-Match": '"1"'})
    assert_problem(r, 412, "precondition-failed")
    assert db_member(suite, m["id"]) == before
    assert outbox_types(suite, m["id"]) == ["member.registered", "member.updated"]
    r = client.patch(path, {"name": "v3"}, headers={"If-Match": '"2"'})
    assert r.status_code == 200 and r.json()["name"] == "v3"


def test_patch_empty_object_changes_nothing(suite, client):
    m = client.create_member(name="Same")
    before = db_member(suite, m["id"])
    r = client.patch("/v1/members/" + m["id"], {})
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == '"1"'
    assert r.json() == m
    assert db_member(suite, m["id"]) == before
    assert outbox_types(suite, m["id"]) == ["member.registered"]


def test_patch_email_conflict_and_bad_values(suite, client):
    a = client.create_member()
    b = client.create_member()
    path = "/v1/members/" + b["id"]
    body = assert_problem(client.patch(path, {"email": a["email"].upper()}), 409, "conflict")
    assert body["errors"][0]["field"] == "email"
    body = assert_problem(client.patch(path, {"email": None}), 400, "invalid-request")
    assert [e["field"] for e in body["errors"]] == ["email"], body
    for field in ("status", "id", "created_at", "foo"):
        body = assert_problem(client.patch(path, {field: "x"}), 400, "invalid-request")
        assert field in [e["field"] for e in body["errors"]], body
    body = assert_problem(client.patch(path, {"name_kana": "山田"}), 400, "invalid-request")
    assert body["errors"][0]["field"] == "name_kana"
    assert db_member(suite, b["id"])["version"] == "1"
    assert_problem(client.patch("/v1/members/" + str(uuid.uuid4()), {"name": "x"}), 404, "not-found")


def test_withdraw(suite, client):
    m = client.create_member()
    path = "/v1/members/%s/withdraw" % m["id"]
    r = client.post(path, {"reason": "moved away"})
    assert r.status_code == 200, r.text
    w = r.json()
    assert w["status"] == "withdrawn"
    assert w["withdrawn_reason"] == "moved away"
    assert TS_RE.match(w["withdrawn_at"] or ""), w
    assert r.headers["ETag"] == '"2"'
    row = db_member(suite, m["id"])
    assert row["status"] == "withdrawn" and row["withdrawn"] == "t"
    assert row["withdrawn_reason"] == "moved away"
    assert outbox_types(suite, m["id"]) == ["member.registered", "member.withdrawn"]
    body = assert_problem(client.post(path, {}), 409, "conflict")
    assert body["status"] == 409
    assert db_member(suite, m["id"]) == row
    assert client.get("/v1/members/" + m["id"]).json()["status"] == "withdrawn"


def test_withdraw_without_reason_if_match_and_bad_input(suite, client):
    m = client.create_member()
    path = "/v1/members/%s/withdraw" % m["id"]
    body = assert_problem(client.post(path, {"reason": "x" * 501}), 400, "invalid-request")
    assert body["errors"][0]["field"] == "reason"
    body = assert_problem(client.post(path, {"reason": 5}), 400, "invalid-request")
    assert body["errors"][0]["field"] == "reason"
    body = assert_problem(client.post(path, {"why": "x"}), 400, "invalid-request")
    assert body["errors"][0]["field"] == "why"
    assert_problem(client.post(path, {}, headers={"If-Match": '"7"'}), 412, "precondition-failed")
    assert db_member(suite, m["id"])["status"] == "free"
    r = client.post(path, {}, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["withdrawn_reason"] is None and r.json()["status"] == "withdrawn"
    assert_problem(client.post("/v1/members/%s/withdraw" % uuid.uuid4(), {}), 404, "not-found")


def list_all(client, limit=None, **params):
    """Follows next_cursor to the end; returns (members, pages)."""
    out, pages, cursor = [], 0, None
    while True:
        q = dict(params)
        if limit:
            q["limit"] = limit
        if cursor:
            q["cursor"] = cursor
        r = client.get("/v1/members", params=q)
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"data", "next_cursor"}, body
        if limit:
            assert len(body["data"]) <= limit
        out.extend(body["data"])
        pages += 1
        assert pages < 10000
        cursor = body["next_cursor"]
        if cursor is None:
            return out, pages
        assert isinstance(cursor, str) and cursor


def test_list_default_limit_and_bounds(client):
    for _ in range(21):
        client.create_member()
    r = client.get("/v1/members")
    assert r.status_code == 200
    body = r.json()
    assert len(body["data"]) == 20 and body["next_cursor"]
    r = client.get("/v1/members", params={"limit": 1})
    assert len(r.json()["data"]) == 1
    r = client.get("/v1/members", params={"limit": 100})
    assert r.status_code == 200 and 21 <= len(r.json()["data"]) <= 100


def test_list_pages_in_creation_order_exactly_once(client):
    created = [client.create_member()["id"] for _ in range(7)]
    members, pages = list_all(client, limit=3)
    ids = [m["id"] for m in members]
    assert len(ids) == len(set(ids)), "a member was listed twice"
    pos = [ids.index(i) for i in created]
    assert pos == sorted(pos), "not in creation order"
    assert pages >= 3


def test_list_exactly_once_while_inserting(client):
    for _ in range(30):
        client.create_member()
    before, _ = list_all(client, limit=100)
    stop = threading.Event()
    added = []

    def writer():
        while not stop.is_set():
            added.append(client.create_member()["id"])

    with ThreadPoolExecutor(2) as ex:
        futs = [ex.submit(writer) for _ in range(2)]
        try:
            seen, pages = list_all(client, limit=7)
        finally:
            stop.set()
        for f in futs:
            f.result()
    ids = [m["id"] for m in seen]
    assert len(ids) == len(set(ids)), "a member was listed twice while others were added"
    missing = {m["id"] for m in before} - set(ids)
    assert not missing, "members missing from the listing: %s" % sorted(missing)[:5]
    assert added, "the writers added nothing during the listing"
    # After the writers stopped, one more walk sees every member exactly once.
    final, _ = list_all(client, limit=50)
    final_ids = [m["id"] for m in final]
    assert len(final_ids) == len(set(final_ids))
    assert set(added) <= set(final_ids)


def test_list_filters(suite, client):
    email = unique_email("Filter")
    m = client.create_member(email=email)
    r = client.get("/v1/members", params={"email": email.upper()})
    assert r.status_code == 200, r.text
    assert [x["id"] for x in r.json()["data"]] == [m["id"]]
    r = client.get("/v1/members", params={"email": "nobody-" + email})
    assert r.json() == {"data": [], "next_cursor": None}
    # status: withdrawn
    w = client.create_member()
    assert client.post("/v1/members/%s/withdraw" % w["id"], {}).status_code == 200
    got, _ = list_all(client, limit=100, status="withdrawn")
    assert got and all(x["status"] == "withdrawn" for x in got)
    assert w["id"] in [x["id"] for x in got] and m["id"] not in [x["id"] for x in got]
    # status: paid (only the database can make one today)
    p = client.create_member()
    suite.sql("update member.members set status = 'paid' where id = '%s'" % p["id"])
    got, _ = list_all(client, limit=100, status="paid")
    assert p["id"] in [x["id"] for x in got] and all(x["status"] == "paid" for x in got)
    got, _ = list_all(client, limit=100, status="free")
    ids = [x["id"] for x in got]
    assert m["id"] in ids and p["id"] not in ids and w["id"] not in ids


def test_list_bad_parameters(client):
    cases = [({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"limit": "ten"}, "limit"),
             ({"limit": -1}, "limit"), ({"status": "gold"}, "status"),
             ({"cursor": "!!garbage!!"}, "cursor"), ({"foo": "1"}, "foo"), ({"sort": "email"}, "sort")]
    for params, field in cases:
        r = client.get("/v1/members", params=params)
        body = assert_problem(r, 400, "invalid-request")
        assert field in [e["field"] for e in body.get("errors", [])], (params, body)


def test_concurrent_creates_same_email_one_wins(suite, client):
    email = unique_email("race")
    variants = [email, email.upper(), email.title(), email.capitalize()] * 2

    def create(e):
        return client.post("/v1/members", {"email": e}).status_code

    with ThreadPoolExecutor(8) as ex:
        codes = list(ex.map(create, variants))
    assert sorted(codes) == [201] + [409] * 7, codes
    assert suite.sql("select count(*) from member.members where lower(email) = lower('%s')"
                     % email) == [["1"]]
