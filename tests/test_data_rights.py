"""test_data_rights.py - a member's data rights under APPI: a full machine-readable copy of what
the member service holds, and erasure (anonymisation that keeps what the law lets us keep)."""

import json

from harness import new_password, unique_email
from test_member_auth import login, member_with_password


def problem(r, status):
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")
    return r.json()


def test_data_export_holds_everything(suite, client):
    m, password = member_with_password(client, name="開示 花子", phone="090-1234-5678",
                                       email=unique_email("disclose"))
    assert login(suite, m["email"], password).status_code == 200
    assert client.post("/v1/members/%s/tags" % m["id"], {"add": ["vip"]}).status_code == 200
    r = client.post("/v1/members/%s/activities" % m["id"], {"type": "page.view", "path": "/courses/1"})
    assert r.status_code == 201, r.text
    r = client.post("/v1/members/%s/inquiries" % m["id"],
                    {"subject": "退会について", "body": "手続きを教えてください", "channel": "email",
                     "category": "cancellation"})
    assert r.status_code == 201, r.text
    r = client.get("/v1/members/%s/data-export" % m["id"])
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    data = r.json()
    assert data["member"]["email"] == m["email"] and data["member"]["name"] == "開示 花子"
    assert data["tags"] == ["vip"]
    assert data["has_password"] is True
    assert "password_hash" not in json.dumps(data)
    assert [l["succeeded"] for l in data["logins"]] == [True]
    assert [a["type"] for a in data["activities"]] == ["page.view"]
    assert data["inquiries"][0]["subject"] == "退会について"
    assert data["inquiries"][0]["messages"][0]["body"] == "手続きを教えてください"
    assert any(e["action"] == "member.registered" for e in data["audit_log"])


def test_data_export_permissions(suite, client):
    m, password = member_with_password(client, email=unique_email("own"))
    other = client.create_member()
    token = login(suite, m["email"], password).json()["token"]
    own = suite.client_as(token)
    assert own.get("/v1/members/%s/data-export" % m["id"]).status_code == 200
    problem(own.get("/v1/members/%s/data-export" % other["id"]), 403)
    support, pw = suite.create_staff("support")
    problem(suite.client_as(suite.login(support["email"], pw)).get(
        "/v1/members/%s/data-export" % m["id"]), 403)
    problem(client.get("/v1/members/00000000-0000-4000-8000-000000000000/data-export"), 404)


def test_erase_anonymises_and_keeps_the_records_the_law_needs(suite, client):
    m, password = member_with_password(client, name="削除 太郎", phone="090-0000-1111",
                                       address="大阪市北区1-1", email=unique_email("erase"))
    token = login(suite, m["email"], password).json()["token"]
    client.post("/v1/members/%s/tags" % m["id"], {"add": ["trial"]})
    client.post("/v1/members/%s/inquiries" % m["id"],
                {"subject": "個人的な相談", "body": "電話番号は090-0000-1111です", "channel": "phone",
                 "category": "account"})
    before_audit = suite.sql("select count(*) from member.audit_log where target_id = '%s'" % m["id"])
    r = client.post("/v1/members/%s/erase" % m["id"], {"reason": "本人からの削除依頼"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "withdrawn" and body["email"].endswith("@erased.invalid")
    assert (body["name"], body["phone"], body["address"], body["tags"]) == (None, None, None, [])
    row = suite.sql("select name, phone, address, email, erased_at is not null from member.members"
                    " where id = '%s'" % m["id"])
    assert row == [["", "", "", body["email"], "t"]]
    assert suite.sql("select count(*) from member.member_credentials where member_id = '%s'" % m["id"]) == [["0"]]
    assert suite.sql("select count(*) from member.member_logins where member_id = '%s' and"
                     " (ip <> '' or email <> '' or user_agent <> '')" % m["id"]) == [["0"]]
    assert suite.sql("select count(*) from member.inquiry_messages x join member.inquiries i"
                     " on i.id = x.inquiry_id where i.member_id = '%s' and x.body <> '(erased)'" % m["id"]) == [["0"]]
    # the login history itself (times, outcomes) and the audit trail are kept
    assert suite.sql("select count(*) from member.member_logins where member_id = '%s'" % m["id"]) == [["1"]]
    after_audit = suite.sql("select count(*) from member.audit_log where target_id = '%s'" % m["id"])
    assert int(after_audit[0][0]) == int(before_audit[0][0]) + 1
    assert suite.sql("select changes->>'reason' from member.audit_log where target_id = '%s'"
                     " and action = 'member.erased'" % m["id"]) == [["本人からの削除依頼"]]
    assert suite.sql("select type from member.outbox where aggregate_id = '%s' order by id desc limit 1"
                     % m["id"]) == [["member.erased"]]
    # the member's sessions end, and a second erasure is refused
    assert suite.client_as(token).get("/v1/member-auth/me").status_code == 401
    problem(client.post("/v1/members/%s/erase" % m["id"], {}), 409)


def test_erase_permissions_and_input(suite, client):
    m = client.create_member()
    for role in ("support", "marketing", "viewer"):
        staff, pw = suite.create_staff(role)
        problem(suite.client_as(suite.login(staff["email"], pw)).post(
            "/v1/members/%s/erase" % m["id"], {}), 403)
    assert suite.sql("select erased_at is null from member.members where id = '%s'" % m["id"]) == [["t"]]
    b = problem(client.post("/v1/members/%s/erase" % m["id"], {"reason": 1}), 400)
    assert b["errors"][0]["field"] == "reason"
    b = problem(client.post("/v1/members/%s/erase" % m["id"], {"why": "x"}), 400)
    assert b["errors"][0]["field"] == "why"
    problem(client.post("/v1/members/not-a-uuid/erase", {}), 404)


def test_audit_log_route(suite, client):
    m = client.create_member()
    client.patch("/v1/members/" + m["id"], {"phone": "080-1111-2222"})
    r = client.get("/v1/audit-log", params={"target_id": m["id"], "limit": 1})
    assert r.status_code == 200, r.text
    page = r.json()
    assert [e["action"] for e in page["data"]] == ["member.updated"]
    assert page["data"][0]["changes"]["phone"] == [None, "080-1111-2222"] or \
        page["data"][0]["changes"]["phone"][1] == "080-1111-2222"
    assert page["next_cursor"]
    older = client.get("/v1/audit-log", params={"target_id": m["id"], "cursor": page["next_cursor"]})
    assert [e["action"] for e in older.json()["data"]] == ["member.registered"]
    prefixed = client.get("/v1/audit-log", params={"target_id": m["id"], "action": "member."}).json()
    assert len(prefixed["data"]) == 2
    bad = client.get("/v1/audit-log", params={"from": "yesterday", "colour": "red"})
    assert bad.status_code == 400
    assert sorted(e["field"] for e in bad.json()["errors"]) == ["colour", "from"]
    support, pw = suite.create_staff("support")
    assert suite.client_as(suite.login(support["email"], pw)).get("/v1/audit-log").status_code == 403
