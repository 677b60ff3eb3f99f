"""test_inquiries.py - support inquiries (問い合わせ履歴): open, reply, assign, status, the member's
history, search; the rows, outbox events (protobuf payloads decoded here) and audit entries behind
them; permissions and bad input."""

import json
import re
import uuid

import pytest

from harness import unique_email

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
INQUIRY_KEYS = {"id", "member_id", "subject", "status", "channel", "category", "assignee_id",
                "opened_by", "created_at", "updated_at", "resolved_at", "messages"}
MESSAGE_KEYS = {"id", "author_type", "author_id", "body", "created_at"}


# ---------------------------------------------------------------- helpers

def _varint(data, i):
    shift = value = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def pb_fields(data):
    """A protobuf message's wire form → {field number: [values]} (varints as int, the
    length-delimited as bytes)."""
    out, i = {}, 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 2:
            size, i = _varint(data, i)
            value, i = data[i:i + size], i + size
        else:
            raise AssertionError("unexpected wire type %d" % wire)
        out.setdefault(number, []).append(value)
    return out


def pb_inquiry(data):
    """kaiin.inquiry.Inquiry → dict (proto3: absent fields are their defaults)."""
    f = pb_fields(data)

    def s(n, fields=f):
        return fields.get(n, [b""])[-1].decode()

    messages = []
    for raw in f.get(13, []):
        mf = pb_fields(raw)
        messages.append({"id": s(1, mf), "inquiry_id": s(2, mf), "author_type": s(3, mf),
                         "author_id": s(4, mf), "body": s(5, mf)})
    return {"id": s(1), "member_id": s(2), "subject": s(3), "status": s(4), "channel": s(5),
            "category": s(6), "assignee_id": s(7), "opened_by": s(8),
            "version": f.get(9, [0])[-1], "resolved_at_ms": f.get(12, [0])[-1],
            "messages": messages}


def events(suite, iid):
    """The outbox events of an inquiry: [(type, decoded payload)] in order."""
    rows = suite.sql("select type, encode(payload, 'hex') from member.outbox "
                     "where aggregate_id = '%s' order by id" % iid)
    return [(t, pb_inquiry(bytes.fromhex(p))) for t, p in rows]


def audit(suite, iid):
    rows = suite.sql("select action, actor_id, actor_role, changes::text from member.audit_log "
                     "where target_type = 'inquiry' and target_id = '%s' order by seq" % iid)
    return [(a, actor, role, json.loads(c)) for a, actor, role, c in rows]


def db_inquiry(suite, iid):
    rows = suite.sql("select member_id, subject, status, channel, category, assignee_id, opened_by, "
                     "version, resolved_at is not null from member.inquiries where id = '%s'" % iid)
    if not rows:
        return None
    keys = ["member_id", "subject", "status", "channel", "category", "assignee_id", "opened_by",
            "version", "resolved"]
    return dict(zip(keys, rows[0]))


def db_messages(suite, iid):
    """[[author_type, author_id, body]] in order (bodies travel hex-encoded: they hold newlines)."""
    rows = suite.sql("select author_type, author_id, encode(convert_to(body, 'UTF8'), 'hex') "
                     "from member.inquiry_messages where inquiry_id = '%s' order by seq" % iid)
    return [[t, a, bytes.fromhex(b).decode()] for t, a, b in rows]


def counts(suite):
    return suite.sql("select (select count(*) from member.inquiries),"
                     " (select count(*) from member.inquiry_messages),"
                     " (select count(*) from member.outbox where type like 'inquiry.%'),"
                     " (select count(*) from member.audit_log where target_type = 'inquiry')")[0]


def problem_fields(r, status=400):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers
    return sorted(e["field"] for e in r.json().get("errors", []))


def open_body(**over):
    body = {"subject": "ログインできません", "body": "パスワードを忘れました。\n再設定したいです。",
            "channel": "email", "category": "account"}
    body.update(over)
    return body


def open_inquiry(c, mid, **over):
    r = c.post("/v1/members/%s/inquiries" % mid, open_body(**over))
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture(scope="module")
def staff(suite):
    """Sessions for a support agent, a viewer, a finance and a marketing account, and another
    (enabled) support agent and a disabled one to assign to."""
    out = {}
    for role in ("support", "viewer", "finance", "marketing"):
        account, pw = suite.create_staff(role, name="Inq " + role)
        out[role] = {"id": account["id"], "client": suite.client_as(suite.login(account["email"], pw))}
    agent, _ = suite.create_staff("support", name="Agent")
    out["agent"] = agent["id"]
    gone, _ = suite.create_staff("support", name="Gone")
    r = suite.client.patch("/v1/staff/" + gone["id"], {"disabled": True})
    assert r.status_code == 200, r.text
    out["disabled"] = gone["id"]
    return out


# ---------------------------------------------------------------- the whole lifecycle

def test_lifecycle_rows_events_and_audit(suite, client, staff):
    support = staff["support"]["client"]
    sid = staff["support"]["id"]
    m = client.create_member(name="問合 花子")
    r = support.post("/v1/members/%s/inquiries" % m["id"],
                     open_body(channel="phone", category="billing", assignee_id=staff["agent"]))
    assert r.status_code == 201, r.text
    inq = r.json()
    assert set(inq) == INQUIRY_KEYS, inq
    assert UUID_RE.match(inq["id"])
    assert r.headers["Location"] == "/v1/inquiries/" + inq["id"]
    assert r.headers["ETag"] == '"1"'
    assert (inq["member_id"], inq["subject"], inq["status"], inq["channel"], inq["category"],
            inq["assignee_id"], inq["opened_by"], inq["resolved_at"]) == \
        (m["id"], "ログインできません", "open", "phone", "billing", staff["agent"], sid, None)
    assert TS_RE.match(inq["created_at"]) and inq["updated_at"] == inq["created_at"]
    assert len(inq["messages"]) == 1
    first = inq["messages"][0]
    assert set(first) == MESSAGE_KEYS
    assert (first["author_type"], first["author_id"], first["body"]) == \
        ("staff", sid, "パスワードを忘れました。\n再設定したいです。")
    iid = inq["id"]

    row = db_inquiry(suite, iid)
    assert row == {"member_id": m["id"], "subject": "ログインできません", "status": "open",
                   "channel": "phone", "category": "billing", "assignee_id": staff["agent"],
                   "opened_by": sid, "version": "1", "resolved": "f"}
    assert db_messages(suite, iid) == [["staff", sid, "パスワードを忘れました。\n再設定したいです。"]]
    ev = events(suite, iid)
    assert [t for t, _ in ev] == ["inquiry.opened"]
    payload = ev[0][1]
    assert (payload["id"], payload["member_id"], payload["status"], payload["assignee_id"],
            payload["version"]) == (iid, m["id"], "open", staff["agent"], 1)
    assert [x["body"] for x in payload["messages"]] == [first["body"]]
    a = audit(suite, iid)
    assert len(a) == 1
    assert a[0][:3] == ("inquiry.opened", sid, "support")
    assert a[0][3]["status"] == [None, "open"]
    assert a[0][3]["assignee_id"] == [None, staff["agent"]]
    assert a[0][3]["member_id"] == [None, m["id"]]
    assert a[0][3]["message_id"] == [None, first["id"]]

    # A staff reply that moves it to pending, then the member's answer recorded by staff.
    r = support.post("/v1/inquiries/%s/messages" % iid,
                     {"body": "再設定のメールを送りました。", "status": "pending"})
    assert r.status_code == 201, r.text
    msg = r.json()
    assert set(msg) == MESSAGE_KEYS
    assert (msg["author_type"], msg["author_id"], msg["body"]) == ("staff", sid, "再設定のメールを送りました。")
    r = support.post("/v1/inquiries/%s/messages" % iid,
                     {"body": "届きました、ありがとうございます。", "author_type": "member"})
    assert r.status_code == 201, r.text
    assert (r.json()["author_type"], r.json()["author_id"]) == ("member", m["id"])

    r = staff["viewer"]["client"].get("/v1/inquiries/" + iid)
    assert r.status_code == 200, r.text
    got = r.json()
    assert r.headers["ETag"] == '"3"'
    assert got["status"] == "pending" and got["resolved_at"] is None
    assert [(x["author_type"], x["body"]) for x in got["messages"]] == [
        ("staff", "パスワードを忘れました。\n再設定したいです。"),
        ("staff", "再設定のメールを送りました。"),
        ("member", "届きました、ありがとうございます。")]
    assert db_inquiry(suite, iid)["status"] == "pending"
    assert [x[0] for x in audit(suite, iid)] == ["inquiry.opened", "inquiry.replied", "inquiry.replied"]
    assert audit(suite, iid)[1][3]["status"] == ["open", "pending"]
    assert "status" not in audit(suite, iid)[2][3]
    assert [t for t, _ in events(suite, iid)] == ["inquiry.opened"]

    # Resolve: resolved_at set, inquiry.resolved with the whole thread.
    r = support.patch("/v1/inquiries/" + iid, {"status": "resolved"}, headers={"If-Match": '"3"'})
    assert r.status_code == 200, r.text
    resolved = r.json()
    assert r.headers["ETag"] == '"4"'
    assert resolved["status"] == "resolved" and TS_RE.match(resolved["resolved_at"])
    assert len(resolved["messages"]) == 3
    assert db_inquiry(suite, iid)["resolved"] == "t"
    ev = events(suite, iid)
    assert [t for t, _ in ev] == ["inquiry.opened", "inquiry.resolved"]
    assert ev[1][1]["status"] == "resolved" and ev[1][1]["resolved_at_ms"] > 0
    assert len(ev[1][1]["messages"]) == 3
    last = audit(suite, iid)[-1]
    assert last[0] == "inquiry.resolved" and last[3] == {"status": ["pending", "resolved"]}

    # Reopen: resolved_at cleared, no new event; reassign and unassign.
    r = support.patch("/v1/inquiries/" + iid, {"status": "open", "assignee_id": None,
                                               "category": "account"})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["resolved_at"], r.json()["assignee_id"],
            r.json()["category"]) == ("open", None, None, "account")
    row = db_inquiry(suite, iid)
    assert (row["status"], row["resolved"], row["assignee_id"], row["version"]) == \
        ("open", "f", None, "5")
    assert [t for t, _ in events(suite, iid)] == ["inquiry.opened", "inquiry.resolved"]
    last = audit(suite, iid)[-1]
    assert last[0] == "inquiry.updated"
    assert last[3] == {"status": ["resolved", "open"], "assignee_id": [staff["agent"], None],
                       "category": ["billing", "account"]}


def test_withdrawn_member_unknown_and_malformed_ids(suite, client):
    m = client.create_member()
    assert client.post("/v1/members/%s/withdraw" % m["id"], {}).status_code == 200
    inq = open_inquiry(client, m["id"], channel="web_form", category="cancellation")
    assert inq["opened_by"] == "bootstrap" and inq["messages"][0]["author_id"] == "bootstrap"
    before = counts(suite)
    for mid in (str(uuid.uuid4()), "not-a-uuid", "1234"):
        r = client.post("/v1/members/%s/inquiries" % mid, open_body())
        assert r.status_code == 404, r.text
        assert r.json()["type"] == "/problems/not-found"
        assert client.get("/v1/members/%s/inquiries" % mid).status_code == 404
    for iid in (str(uuid.uuid4()), "nope"):
        assert client.get("/v1/inquiries/" + iid).status_code == 404
        assert client.patch("/v1/inquiries/" + iid, {"status": "resolved"}).status_code == 404
        assert client.post("/v1/inquiries/%s/messages" % iid, {"body": "x"}).status_code == 404
    assert counts(suite) == before


# ---------------------------------------------------------------- history and search

def test_history_newest_first_with_pagination(client):
    m, other = client.create_member(), client.create_member()
    opened = [open_inquiry(client, m["id"], subject="件名 %d" % i)["id"] for i in range(5)]
    open_inquiry(client, other["id"])
    r = client.post("/v1/inquiries/%s/messages" % opened[1], {"body": "追記"})
    assert r.status_code == 201
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        r = client.get("/v1/members/%s/inquiries" % m["id"], params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert set(page) == {"data", "next_cursor"}
        assert len(page["data"]) <= 2
        seen += page["data"]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == 3
    assert [x["id"] for x in seen] == list(reversed(opened))
    assert all(x["member_id"] == m["id"] for x in seen)
    threads = {x["id"]: [y["body"] for y in x["messages"]] for x in seen}
    assert threads[opened[1]] == [open_body()["body"], "追記"]
    r = client.get("/v1/members/%s/inquiries" % m["id"])
    assert [x["id"] for x in r.json()["data"]] == list(reversed(opened))
    assert r.json()["next_cursor"] is None
    empty = client.create_member()
    r = client.get("/v1/members/%s/inquiries" % empty["id"])
    assert r.status_code == 200 and r.json() == {"data": [], "next_cursor": None}
    for params, field in (({"limit": 0}, "limit"), ({"limit": "x"}, "limit"),
                          ({"cursor": "garbage"}, "cursor"), ({"status": "open"}, "status")):
        r = client.get("/v1/members/%s/inquiries" % m["id"], params=params)
        assert problem_fields(r) == [field], params


def test_search_by_q_and_filters(client, staff):
    token = uuid.uuid4().hex[:10]
    m = client.create_member()
    a = open_inquiry(client, m["id"], subject="Refund %s please" % token.upper(), channel="chat",
                     category="billing", assignee_id=staff["agent"])
    b = open_inquiry(client, m["id"], subject="別件", body="本文に %s があります" % token,
                     channel="email", category="technical")
    c = open_inquiry(client, m["id"], subject="返信で", channel="email", category="technical")
    r = client.post("/v1/inquiries/%s/messages" % c["id"],
                    {"body": "the code is %s-x" % token.upper(), "author_type": "member"})
    assert r.status_code == 201
    open_inquiry(client, m["id"], subject="unrelated")
    r = client.patch("/v1/inquiries/" + b["id"], {"status": "resolved"})
    assert r.status_code == 200

    def search(**params):
        r = client.get("/v1/inquiries", params=params)
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["data"]]

    assert search(q=token) == [c["id"], b["id"], a["id"]]             # subject, body, reply
    assert search(q=token.upper()) == [c["id"], b["id"], a["id"]]
    assert search(q=token, status="resolved") == [b["id"]]
    assert search(q=token, status="open") == [c["id"], a["id"]]
    assert search(q=token, channel="email") == [c["id"], b["id"]]
    assert search(q=token, category="billing") == [a["id"]]
    assert search(q=token, assignee_id=staff["agent"]) == [a["id"]]
    assert search(q=token, assignee_id=staff["agent"], channel="email") == []
    assert search(q=token + "-X") == [c["id"]]
    assert search(q="%" + token) == []                                 # % is literal
    assert search(q=token[2:8]) == [c["id"], b["id"], a["id"]]         # partial
    page1 = client.get("/v1/inquiries", params={"q": token, "limit": 2}).json()
    assert [x["id"] for x in page1["data"]] == [c["id"], b["id"]] and page1["next_cursor"]
    page2 = client.get("/v1/inquiries", params={"q": token, "limit": 2,
                                               "cursor": page1["next_cursor"]}).json()
    assert [x["id"] for x in page2["data"]] == [a["id"]] and page2["next_cursor"] is None
    # Without q: every inquiry, newest first.
    everything = search(limit=100)
    assert everything[:5] == search(limit=5)
    ids = client.get("/v1/inquiries", params={"limit": 100}).json()["data"]
    assert [x["created_at"] for x in ids] == sorted((x["created_at"] for x in ids), reverse=True)
    for params, field in (({"status": "closed"}, "status"), ({"channel": "fax"}, "channel"),
                          ({"category": "misc"}, "category"), ({"assignee_id": "bob"}, "assignee_id"),
                          ({"q": "x" * 201}, "q"), ({"limit": 101}, "limit"),
                          ({"cursor": "i0"}, "cursor"), ({"member_id": m["id"]}, "member_id")):
        assert problem_fields(client.get("/v1/inquiries", params=params)) == [field], params


# ---------------------------------------------------------------- assignment and status

def test_assignment_existing_unknown_disabled(suite, client, staff):
    m = client.create_member()
    before = counts(suite)
    for bad in (str(uuid.uuid4()), staff["disabled"], "not-a-uuid"):
        r = client.post("/v1/members/%s/inquiries" % m["id"], open_body(assignee_id=bad))
        assert problem_fields(r) == ["assignee_id"], bad
    assert counts(suite) == before
    inq = open_inquiry(client, m["id"], assignee_id=None)
    assert inq["assignee_id"] is None
    iid = inq["id"]
    for bad in (str(uuid.uuid4()), staff["disabled"], "not-a-uuid", 7):
        r = client.patch("/v1/inquiries/" + iid, {"assignee_id": bad})
        assert problem_fields(r) == ["assignee_id"], bad
    assert db_inquiry(suite, iid)["version"] == "1" and db_inquiry(suite, iid)["assignee_id"] is None
    r = client.patch("/v1/inquiries/" + iid, {"assignee_id": staff["agent"]})
    assert r.status_code == 200 and r.json()["assignee_id"] == staff["agent"]
    assert db_inquiry(suite, iid)["assignee_id"] == staff["agent"]
    r = client.patch("/v1/inquiries/" + iid, {"assignee_id": staff["support"]["id"]})
    assert r.status_code == 200 and r.json()["assignee_id"] == staff["support"]["id"]
    r = client.patch("/v1/inquiries/" + iid, {"assignee_id": None})
    assert r.status_code == 200 and r.json()["assignee_id"] is None
    assert db_inquiry(suite, iid)["assignee_id"] is None


def test_status_transitions_and_resolved_at(suite, client):
    m = client.create_member()
    iid = open_inquiry(client, m["id"])["id"]

    def status(to):
        r = client.patch("/v1/inquiries/" + iid, {"status": to})
        assert r.status_code == 200, r.text
        return r.json()

    assert status("pending")["resolved_at"] is None
    first = status("resolved")["resolved_at"]
    assert first
    assert status("resolved")["resolved_at"] == first          # resolving again keeps the time
    assert status("pending")["resolved_at"] is None
    assert status("resolved")["resolved_at"]
    assert status("open")["resolved_at"] is None
    assert [t for t, _ in events(suite, iid)] == ["inquiry.opened", "inquiry.resolved",
                                                  "inquiry.resolved"]
    assert problem_fields(client.patch("/v1/inquiries/" + iid, {"status": "closed"})) == ["status"]
    assert problem_fields(client.patch("/v1/inquiries/" + iid, {"status": None})) == ["status"]
    # A reply moves only an open (or pending) inquiry to pending, and only a staff reply does.
    r = client.post("/v1/inquiries/%s/messages" % iid, {"body": "x", "status": "resolved"})
    assert problem_fields(r) == ["status"]
    r = client.post("/v1/inquiries/%s/messages" % iid, {"body": "x", "status": "pending",
                                                        "author_type": "member"})
    assert problem_fields(r) == ["status"]
    status("resolved")
    n = len(db_messages(suite, iid))
    r = client.post("/v1/inquiries/%s/messages" % iid, {"body": "x", "status": "pending"})
    assert r.status_code == 409, r.text
    assert len(db_messages(suite, iid)) == n
    assert db_inquiry(suite, iid)["status"] == "resolved"
    r = client.post("/v1/inquiries/%s/messages" % iid, {"body": "補足のメモ"})
    assert r.status_code == 201
    assert db_inquiry(suite, iid)["status"] == "resolved"      # a plain reply changes no status


def test_if_match(suite, client):
    m = client.create_member()
    iid = open_inquiry(client, m["id"])["id"]
    r = client.post("/v1/inquiries/%s/messages" % iid, {"body": "reply"})
    assert r.status_code == 201
    assert client.get("/v1/inquiries/" + iid).headers["ETag"] == '"2"'    # a reply is a change
    for tag in ('"1"', '"99"', 'W/"2"'):
        r = client.patch("/v1/inquiries/" + iid, {"status": "resolved"}, headers={"If-Match": tag})
        assert r.status_code == 412, (tag, r.text)
        assert r.json()["type"] == "/problems/precondition-failed"
    row = db_inquiry(suite, iid)
    assert (row["status"], row["version"]) == ("open", "2")
    assert [t for t, _ in events(suite, iid)] == ["inquiry.opened"]
    r = client.patch("/v1/inquiries/" + iid, {}, headers={"If-Match": '"1"'})
    assert r.status_code == 412
    r = client.patch("/v1/inquiries/" + iid, {}, headers={"If-Match": '"2"'})
    assert r.status_code == 200 and r.headers["ETag"] == '"2"'
    r = client.patch("/v1/inquiries/" + iid, {"status": "resolved"}, headers={"If-Match": '"2"'})
    assert r.status_code == 200 and r.headers["ETag"] == '"3"'


# ---------------------------------------------------------------- who may do what

def test_permissions(suite, client, staff):
    m = client.create_member()
    iid = open_inquiry(staff["support"]["client"], m["id"])["id"]
    before = counts(suite)
    row = db_inquiry(suite, iid)
    for role in ("viewer", "finance", "marketing"):
        c = staff[role]["client"]
        for r in (c.post("/v1/members/%s/inquiries" % m["id"], open_body()),
                  c.post("/v1/inquiries/%s/messages" % iid, {"body": "x"}),
                  c.patch("/v1/inquiries/" + iid, {"status": "resolved"})):
            assert r.status_code == 403, (role, r.status_code, r.text)
            assert r.json()["detail"] == "the role '%s' may not do this" % role
        r = c.get("/v1/inquiries/" + iid)
        assert r.status_code == 200 and r.json()["id"] == iid
        r = c.get("/v1/members/%s/inquiries" % m["id"])
        assert r.status_code == 200 and [x["id"] for x in r.json()["data"]] == [iid]
        r = c.get("/v1/inquiries", params={"limit": 1})
        assert r.status_code == 200
    assert counts(suite) == before and db_inquiry(suite, iid) == row
    r = staff["support"]["client"].patch("/v1/inquiries/" + iid, {"status": "resolved"})
    assert r.status_code == 200
    r = client.get("/v1/members/%s/inquiries" % m["id"], auth=False)
    assert r.status_code == 401


# ---------------------------------------------------------------- bad input

def test_bad_input_names_the_fields(suite, client):
    m = client.create_member()
    path = "/v1/members/%s/inquiries" % m["id"]
    iid = open_inquiry(client, m["id"])["id"]
    before = counts(suite)
    cases = [
        ({"subject": "x", "body": "y", "channel": "email", "category": "other", "id": "1",
          "status": "open"}, ["id", "status"]),
        ({}, ["body", "category", "channel", "subject"]),
        (open_body(subject=""), ["subject"]),
        (open_body(subject="あ" * 201), ["subject"]),
        (open_body(subject="tab\there"), ["subject"]),
        (open_body(body=""), ["body"]),
        (open_body(body="x" * 10001), ["body"]),
        (open_body(channel="fax", category="misc"), ["category", "channel"]),
        (open_body(subject=1, body=None), ["body", "subject"]),
        (open_body(channel=None), ["channel"]),
    ]
    for body, fields in cases:
        assert problem_fields(client.post(path, body)) == fields, body
    assert problem_fields(client.request("POST", path, data="{not json",
                                         headers={"Content-Type": "application/json"})) == ["body"]
    assert problem_fields(client.request("POST", path, data="[]",
                                         headers={"Content-Type": "application/json"})) == ["body"]
    r = client.request("POST", path, data=json.dumps(open_body()), headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    reply = "/v1/inquiries/%s/messages" % iid
    for body, fields in (({}, ["body"]), ({"body": "x", "author": "me"}, ["author"]),
                         ({"body": "x", "author_type": "bot"}, ["author_type"]),
                         ({"body": "x", "author_type": None}, ["author_type"]),
                         ({"body": "x" * 10001}, ["body"])):
        assert problem_fields(client.post(reply, body)) == fields, body
    patch = "/v1/inquiries/" + iid
    for body, fields in (({"subject": "new"}, ["subject"]), ({"channel": "fax"}, ["channel"]),
                         ({"category": None}, ["category"]), ({"status": 3}, ["status"])):
        assert problem_fields(client.patch(patch, body)) == fields, body
    assert counts(suite) == before
    assert db_inquiry(suite, iid)["version"] == "1"
    # Limits are inclusive: 200 characters of subject and 10 000 of body are fine.
    inq = open_inquiry(client, m["id"], subject="あ" * 200, body="い" * 10000)
    assert len(inq["subject"]) == 200 and len(inq["messages"][0]["body"]) == 10000


# ---------------------------------------------------------------- the OpenAPI document

def test_responses_match_openapi(client, staff):
    """Each inquiry route's answers, and its problems, match the OpenAPI document."""
    from test_openapi import check, fetch
    spec = fetch(client)
    m = client.create_member()
    r = client.post("/v1/members/%s/inquiries" % m["id"], open_body(assignee_id=staff["agent"]))
    cases = [("post", "/v1/members/{id}/inquiries", r, 201)]
    iid = r.json()["id"]
    cases += [
        ("get", "/v1/members/{id}/inquiries", client.get("/v1/members/%s/inquiries" % m["id"]), 200),
        ("get", "/v1/inquiries", client.get("/v1/inquiries", params={"q": "ログイン", "limit": 2}), 200),
        ("get", "/v1/inquiries/{id}", client.get("/v1/inquiries/" + iid), 200),
        ("post", "/v1/inquiries/{id}/messages",
         client.post("/v1/inquiries/%s/messages" % iid, {"body": "返信", "status": "pending"}), 201),
        ("patch", "/v1/inquiries/{id}", client.patch("/v1/inquiries/" + iid, {"status": "resolved"}), 200),
        ("post", "/v1/inquiries/{id}/messages",
         client.post("/v1/inquiries/%s/messages" % iid, {"body": "x", "status": "pending"}), 409),
        ("patch", "/v1/inquiries/{id}", client.patch("/v1/inquiries/" + iid, {"status": "open"},
                                                     headers={"If-Match": '"1"'}), 412),
        ("post", "/v1/members/{id}/inquiries",
         client.post("/v1/members/%s/inquiries" % m["id"], {"subject": ""}), 400),
        ("get", "/v1/inquiries", client.get("/v1/inquiries", params={"status": "x"}), 400),
        ("get", "/v1/inquiries/{id}", client.get("/v1/inquiries/" + str(uuid.uuid4())), 404),
        ("get", "/v1/members/{id}/inquiries", client.get("/v1/members/%s/inquiries" % uuid.uuid4()), 404),
        ("patch", "/v1/inquiries/{id}", staff["viewer"]["client"].patch("/v1/inquiries/" + iid,
                                                                        {"status": "open"}), 403),
    ]
    for method, path, r, status in cases:
        assert r.status_code == status, (method, path, r.status_code, r.text)
        check(spec, method, path, r)


# ---------------------------------------------------------------- search indexes

def test_trigram_indexes_when_pg_trgm_is_installed():
    """With pg_trgm installed by a superuser in schema member before the member service first
    starts (the line proposed for scripts/db-init.sh: the extension needs rights the service's
    roles lack), migration 004 builds trigram indexes that serve the case-insensitive partial
    match of q, search answers the same, and no function is left executable by PUBLIC."""
    import harness
    s = harness.Suite("inquiry-trgm", member_workers=1, services=["member"])  # it starts member alone
    try:
        s.start_pg()
        s.db_init()
        s.sql("create extension if not exists pg_trgm with schema member; "
              "revoke execute on all functions in schema member from public")
        s.start_redis()
        s.start_gateway(wait=False)
        s.start_member(wait=False)
        s.wait_ready()
        rows = s.sql("select indexname from pg_indexes where schemaname = 'member' "
                     "and indexdef like '%gin_trgm_ops%' and indexname like 'inquir%' order by 1")
        assert rows == [["inquiries_subject_trgm"], ["inquiry_messages_body_trgm"]], rows
        c = s.client
        m = c.create_member()
        a = open_inquiry(c, m["id"], subject="Kaiyaku no soudan")
        b = open_inquiry(c, m["id"], body="解約したいのですが")
        r = c.get("/v1/inquiries", params={"q": "KAIYAKU"})
        assert [x["id"] for x in r.json()["data"]] == [a["id"]]
        r = c.get("/v1/inquiries", params={"q": "解約"})
        assert [x["id"] for x in r.json()["data"]] == [b["id"]]
        for table, column, index in (("inquiries", "subject", "inquiries_subject_trgm"),
                                     ("inquiry_messages", "body", "inquiry_messages_body_trgm")):
            plan = s.sql("set enable_seqscan = off; explain select seq from member.%s "
                         "where %s ilike '%%kaiyaku%%'" % (table, column))
            assert index in "\n".join(r[0] for r in plan), plan
        fn = s.sql("select count(*) from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
                   "where n.nspname = 'member' and (p.proacl is null or exists "
                   "(select 1 from aclexplode(p.proacl) a where a.grantee = 0))")
        assert fn == [["0"]], fn
    finally:
        s.stop()
        problems = s.take_problems()
        s.cleanup_dir()
    assert not problems, problems
