"""test_member_record.py - the whole member record: profile fields, rank, tags, custom attributes,
note, marketing-mail consent; their validation, events, audit entries, and who may write what."""

import uuid

import pytest

from harness import Client, opened_row, unique_email
from test_members import assert_problem, outbox_types


def fields(body):
    return [e["field"] for e in body.get("errors", [])]


def db_row(suite, mid, columns):
    rows = suite.sql("select %s from member.members where id = '%s'" % (", ".join(columns), mid))
    return opened_row(suite, mid, dict(zip(columns, rows[0]))) if rows else None


def audit_changes(suite, mid, action):
    """The changes of member mid's entries of action, oldest first, as the audit log's route
    answers them (the sealed values opened)."""
    r = Client(suite).get("/v1/audit-log", params={"target_id": mid, "action": action, "limit": 200})
    assert r.status_code == 200, r.text
    return [e["changes"] for e in reversed(r.json()["data"])]


def unique_key(prefix="a"):
    return "%s_%s" % (prefix, uuid.uuid4().hex[:12])


@pytest.fixture(scope="module")
def sessions(suite):
    """Session clients for a support, an admin, a marketing and a viewer account."""
    out = {}
    for role in ("support", "admin", "marketing", "viewer"):
        staff, password = suite.create_staff(role)
        out[role] = suite.client_as(suite.login(staff["email"], password))
    return out


FULL = {
    "name": "山田 花子", "name_kana": "ヤマダ ハナコ", "phone": "090-1234-5678",
    "birthday": "1990-04-01", "postal_code": "１５０－０００１", "prefecture": "東京都",
    "address": "渋谷区神宮前1-2-3 ハイツ101", "note": "電話は夕方に。\n二行目",
    "marketing_consent": {"email_opt_in": True, "method": "web_form", "source": "signup form",
                          "at": "2026-01-05T10:00:00+09:00"},
}


def test_record_round_trip_create_get_list_patch(suite, client):
    email = unique_email("record")
    r = client.post("/v1/members", dict(FULL, email=email))
    assert r.status_code == 201, r.text
    m = r.json()
    assert m["birthday"] == "1990-04-01"
    assert m["postal_code"] == "150-0001"                       # full-width in, 123-4567 stored
    assert m["prefecture"] == "東京都" and m["address"] == FULL["address"]
    assert m["note"] == FULL["note"] and m["rank"] == "basic"
    assert m["tags"] == [] and m["attributes"] == {} and m["last_login_at"] is None
    assert m["marketing_consent"] == {"email_opt_in": True, "at": "2026-01-05T01:00:00.000Z",
                                      "method": "web_form", "source": "signup form"}
    assert client.get("/v1/members/" + m["id"]).json() == m
    listed = client.get("/v1/members", params={"email": email}).json()["data"]
    assert listed == [m]
    note = "replace(note, chr(10), '|')"         # psql prints one row per line
    row = db_row(suite, m["id"], ["birthday", "postal_code", "prefecture", "address", "rank", note,
                                  "consent_opt_in", "consent_method", "consent_source"])
    assert row == {"birthday": "1990-04-01", "postal_code": "150-0001", "prefecture": "東京都",
                   "address": FULL["address"], "rank": "basic", note: "電話は夕方に。|二行目",
                   "consent_opt_in": "t", "consent_method": "web_form", "consent_source": "signup form"}
    # PATCH each field; null clears the optional ones
    r = client.patch("/v1/members/" + m["id"], {"birthday": None, "postal_code": "9000001",
                                                "prefecture": "沖縄県", "address": None,
                                                "note": "更新"})
    assert r.status_code == 200, r.text
    p = r.json()
    assert (p["birthday"], p["postal_code"], p["prefecture"], p["address"], p["note"]) == \
        (None, "900-0001", "沖縄県", None, "更新")
    assert p["marketing_consent"] == m["marketing_consent"]     # untouched fields stay
    assert client.get("/v1/members/" + m["id"]).json() == p
    # events: the member.updated payload carries the new values; the audit log before/after
    assert outbox_types(suite, m["id"]) == ["member.registered", "member.updated"]
    hit = suite.sql("select count(*) from member.outbox where aggregate_id::text = '%s' and "
                    "type = 'member.updated' and position(convert_to('900-0001', 'UTF8') in payload) > 0 "
                    "and position(convert_to('沖縄県', 'UTF8') in payload) > 0" % m["id"])
    assert hit == [["1"]]
    created = audit_changes(suite, m["id"], "member.registered")[0]
    assert created["postal_code"] == [None, "150-0001"] and created["prefecture"] == [None, "東京都"]
    assert created["marketing_consent"][1]["method"] == "web_form"
    updated = audit_changes(suite, m["id"], "member.updated")[0]
    assert updated["birthday"] == ["1990-04-01", None]
    assert updated["postal_code"] == ["150-0001", "900-0001"]
    assert updated["prefecture"] == ["東京都", "沖縄県"]
    assert updated["note"] == [FULL["note"], "更新"]
    assert "email" not in updated and "marketing_consent" not in updated


@pytest.mark.parametrize("body,field", [
    ({"birthday": "1990-02-30"}, "birthday"), ({"birthday": "1899-12-31"}, "birthday"),
    ({"birthday": "2999-01-01"}, "birthday"), ({"birthday": "19900401"}, "birthday"),
    ({"birthday": 19900401}, "birthday"),
    ({"postal_code": "123-456"}, "postal_code"), ({"postal_code": "12-34567"}, "postal_code"),
    ({"postal_code": "abc-defg"}, "postal_code"), ({"postal_code": "1234-5678"}, "postal_code"),
    ({"prefecture": "東京県"}, "prefecture"), ({"prefecture": "Tokyo"}, "prefecture"),
    ({"address": "あ" * 201}, "address"), ({"address": "a\nb"}, "address"),
    ({"note": "x" * 2001}, "note"), ({"note": "bell\u0007"}, "note"),
    ({"marketing_consent": {"email_opt_in": True, "method": "fax"}}, "marketing_consent.method"),
    ({"marketing_consent": {"email_opt_in": True}}, "marketing_consent.method"),
    ({"marketing_consent": {"method": "paper"}}, "marketing_consent.email_opt_in"),
    ({"marketing_consent": {"email_opt_in": True, "method": "paper", "at": "yesterday"}},
     "marketing_consent.at"),
    ({"marketing_consent": {"email_opt_in": True, "method": "paper", "at": "2999-01-01T00:00:00Z"}},
     "marketing_consent.at"),
    ({"marketing_consent": {"email_opt_in": True, "method": "paper", "x": 1}}, "marketing_consent.x"),
    ({"marketing_consent": True}, "marketing_consent"),
    ({"attributes": [1]}, "attributes"), ({"attributes": {"no_such_key_xyz": 1}}, "attributes.no_such_key_xyz"),
    ({"rank": "gold-member"}, "rank"), ({"tags": ["a"]}, "tags"),
])
def test_validation_names_the_field(suite, client, body, field):
    before = int(suite.sql("select count(*) from member.members")[0][0])
    r = client.post("/v1/members", dict(body, email=unique_email("bad")))
    b = assert_problem(r, 400, "invalid-request")
    assert field in fields(b), b
    assert int(suite.sql("select count(*) from member.members")[0][0]) == before
    m = client.create_member()
    if field not in ("tags",):
        r = client.patch("/v1/members/" + m["id"], body)
        b = assert_problem(r, 400, "invalid-request")
        assert field in fields(b), b
        assert db_row(suite, m["id"], ["version"])["version"] == "1"


def test_postal_code_forms_accepted(client):
    for given in ("1500001", "150-0001", "１５００００１", "１５０－０００１", "150ー0001"):
        m = client.create_member(postal_code=given)
        assert m["postal_code"] == "150-0001", (given, m)


def test_every_prefecture_accepted(client):
    m = client.create_member(prefecture="北海道")
    for pref in ("青森県", "京都府", "大阪府", "神奈川県", "和歌山県", "鹿児島県", "沖縄県"):
        r = client.patch("/v1/members/" + m["id"], {"prefecture": pref})
        assert r.status_code == 200 and r.json()["prefecture"] == pref, r.text


def test_tags_add_remove_events_and_audit(suite, client):
    m = client.create_member()
    path = "/v1/members/%s/tags" % m["id"]
    r = client.post(path, {"add": ["vip", "ヨガ", "2026春"]})
    assert r.status_code == 200, r.text
    assert r.json()["tags"] == sorted(["vip", "ヨガ", "2026春"])
    assert r.headers["ETag"] == '"2"'
    r = client.post(path, {"add": ["vip", "new"], "remove": ["ヨガ", "absent"]})
    assert r.status_code == 200, r.text
    assert r.json()["tags"] == sorted(["vip", "new", "2026春"])
    rows = suite.sql("select t.tag from member.member_tags t join member.members m on m.seq = t.member_seq"
                     " where m.id = '%s' order by t.tag" % m["id"])
    assert [x[0] for x in rows] == sorted(["vip", "new", "2026春"])
    events = suite.sql("select type, position(convert_to(x.tag, 'UTF8') in payload) > 0 from member.outbox,"
                       " lateral (select unnest (array['vip', 'ヨガ', '2026春', 'new']) tag) x"
                       " where aggregate_id::text = '%s' and type like 'member.%%tagged'"
                       " and position(convert_to(x.tag, 'UTF8') in payload) > 0 order by id, x.tag"
                       % m["id"])
    # one event per tag that changed: three added, then "new" added and "ヨガ" removed
    types = suite.sql("select type from member.outbox where aggregate_id::text = '%s' order by id" % m["id"])
    assert [t[0] for t in types] == ["member.registered", "member.tagged", "member.tagged",
                                     "member.tagged", "member.untagged", "member.tagged"]
    assert len(events) >= 5
    changes = audit_changes(suite, m["id"], "member.tagged")
    assert changes[0]["tags"] == [[], sorted(["vip", "ヨガ", "2026春"])]
    assert changes[1]["tags"][1] == sorted(["vip", "new", "2026春"])
    # nothing changes: no event, same version
    n = len(types)
    r = client.post(path, {"add": ["vip"], "remove": ["absent"]})
    assert r.status_code == 200 and r.headers["ETag"] == '"3"'
    assert len(outbox_types(suite, m["id"])) == n
    # If-Match
    assert_problem(client.post(path, {"add": ["x"]}, headers={"If-Match": '"1"'}), 412,
                   "precondition-failed")


@pytest.mark.parametrize("body,field", [
    ({"add": ["x" * 51]}, "add"), ({"add": [""]}, "add"), ({"add": "vip"}, "add"),
    ({"add": [1]}, "add[0]"), ({"add": ["a", "a"]}, "add"), ({"add": ["a"], "remove": ["a"]}, "remove"),
    ({}, "add"), ({"tags": ["a"]}, "tags"), ({"add": ["t%d" % i for i in range(101)]}, "add"),
])
def test_tag_validation(suite, client, body, field):
    m = client.create_member()
    b = assert_problem(client.post("/v1/members/%s/tags" % m["id"], body), 400, "invalid-request")
    assert field in fields(b), b
    assert outbox_types(suite, m["id"]) == ["member.registered"]


def test_at_most_100_tags_per_member(suite, client):
    m = client.create_member()
    path = "/v1/members/%s/tags" % m["id"]
    assert client.post(path, {"add": ["t%03d" % i for i in range(100)]}).status_code == 200
    b = assert_problem(client.post(path, {"add": ["one-more"]}), 400, "invalid-request")
    assert fields(b) == ["add"]
    assert suite.sql("select count(*) from member.member_tags t join member.members m on m.seq ="
                     " t.member_seq where m.id = '%s'" % m["id"]) == [["100"]]
    assert client.post(path, {"add": ["one-more"], "remove": ["t000"]}).status_code == 200
    assert_problem(client.post("/v1/members/%s/tags" % uuid.uuid4(), {"add": ["x"]}), 404, "not-found")


def test_attributes_defined_and_validated_by_type(suite, client):
    k = {t: unique_key(t[:3]) for t in ("string", "number", "date", "boolean", "select")}
    for t, key in k.items():
        body = {"key": key, "label": "ラベル " + t, "type": t}
        if t == "select":
            body["options"] = ["ゴールド", "シルバー"]
        r = client.post("/v1/member-attributes", body)
        assert r.status_code == 201, r.text
        d = r.json()
        assert (d["key"], d["type"], d["required"]) == (key, t, False)
        assert d["options"] == (["ゴールド", "シルバー"] if t == "select" else [])
    listed = {d["key"]: d for d in client.get("/v1/member-attributes").json()["data"]}
    assert set(k.values()) <= set(listed)
    good = {k["string"]: "メモ", k["number"]: 12.5, k["date"]: "2026-03-31",
            k["boolean"]: True, k["select"]: "ゴールド"}
    m = client.create_member(attributes=good)
    assert m["attributes"] == good
    assert client.get("/v1/members/" + m["id"]).json()["attributes"] == good
    bad = [(k["string"], 5), (k["number"], "12"), (k["number"], True), (k["date"], "2026-02-30"),
           (k["date"], 20260331), (k["boolean"], "true"), (k["select"], "ブロンズ"),
           (k["select"], 1), (k["string"], "x" * 501)]
    for key, value in bad:
        b = assert_problem(client.patch("/v1/members/" + m["id"], {"attributes": {key: value}}),
                           400, "invalid-request")
        assert fields(b) == ["attributes." + key], (key, value, b)
    assert db_row(suite, m["id"], ["version"])["version"] == "1"
    # a merge patch: one value changes, null removes one, the others stay
    r = client.patch("/v1/members/" + m["id"], {"attributes": {k["number"]: 3, k["boolean"]: None}})
    assert r.status_code == 200, r.text
    expect = dict(good, **{k["number"]: 3})
    del expect[k["boolean"]]
    assert r.json()["attributes"] == expect
    changes = audit_changes(suite, m["id"], "member.updated")[-1]
    assert changes["attributes"] == [good, expect]
    # definitions are checked
    assert_problem(client.post("/v1/member-attributes", {"key": k["string"], "label": "x",
                                                         "type": "string"}), 409, "conflict")
    for body, field in [({"key": "Bad", "label": "x", "type": "string"}, "key"),
                        ({"key": unique_key(), "label": "x", "type": "list"}, "type"),
                        ({"key": unique_key(), "label": "x", "type": "select"}, "options"),
                        ({"key": unique_key(), "label": "x", "type": "string", "options": ["a"]}, "options"),
                        ({"key": unique_key(), "label": "", "type": "string"}, "label"),
                        ({"key": unique_key(), "type": "string"}, "label"),
                        ({"key": unique_key(), "label": "x", "type": "string", "required": "yes"}, "required")]:
        b = assert_problem(client.post("/v1/member-attributes", body), 400, "invalid-request")
        assert field in fields(b), (body, b)


def test_required_attribute(suite, client):
    key = unique_key("req")
    assert client.post("/v1/member-attributes", {"key": key, "label": "会員番号", "type": "number",
                                                 "required": True}).status_code == 201
    try:
        b = assert_problem(client.post("/v1/members", {"email": unique_email()}), 400, "invalid-request")
        assert "attributes." + key in fields(b), b
        m = client.create_member(attributes={key: 1001})
        b = assert_problem(client.patch("/v1/members/" + m["id"], {"attributes": {key: None}}),
                           400, "invalid-request")
        assert fields(b) == ["attributes." + key]
        assert client.patch("/v1/members/" + m["id"], {"attributes": {key: 1002}}).json()["attributes"] \
            == {key: 1002}
    finally:
        # leave the shared suite as found: other tests create members without this attribute
        suite.sql("delete from member.member_attributes where key = '%s'" % key)


def test_consent_record_kept(suite, client):
    m = client.create_member(marketing_consent={"email_opt_in": True, "method": "paper",
                                                "source": "店頭の申込書"})
    assert m["marketing_consent"]["email_opt_in"] is True
    assert m["marketing_consent"]["at"] == m["created_at"]            # "at" defaults to now
    path = "/v1/members/" + m["id"]
    b = assert_problem(client.patch(path, {"marketing_consent": None}), 400, "invalid-request")
    assert fields(b) == ["marketing_consent"]
    assert client.patch(path, {"name": "別の変更"}).json()["marketing_consent"] == m["marketing_consent"]
    r = client.patch(path, {"marketing_consent": {"email_opt_in": False, "method": "verbal",
                                                  "at": "2026-02-01T12:00:00Z"}})
    assert r.status_code == 200, r.text
    assert r.json()["marketing_consent"] == {"email_opt_in": False, "at": "2026-02-01T12:00:00.000Z",
                                             "method": "verbal", "source": None}
    history = suite.sql("select c.email_opt_in, c.method, c.source, c.recorded_by from member.member_consents c"
                        " join member.members m on m.seq = c.member_seq where m.id = '%s' order by c.seq"
                        % m["id"])
    assert history == [["t", "paper", "店頭の申込書", "bootstrap"], ["f", "verbal", "", "bootstrap"]]
    changes = audit_changes(suite, m["id"], "member.updated")[-1]
    assert changes["marketing_consent"][0]["email_opt_in"] is True
    assert changes["marketing_consent"][1]["email_opt_in"] is False
    # a member without any consent shows null
    assert client.create_member()["marketing_consent"] is None


def test_ranks(suite, client, sessions):
    ranks = client.get("/v1/member-ranks")
    assert ranks.status_code == 200, ranks.text
    codes = [x["code"] for x in ranks.json()["data"]]
    assert codes[:2] == ["basic", "premium"]
    code = unique_key("r")[:30]
    r = client.post("/v1/member-ranks", {"code": code, "label": "プラチナ"})
    assert r.status_code == 201, r.text
    assert r.json()["code"] == code and r.json()["label"] == "プラチナ"
    assert_problem(client.post("/v1/member-ranks", {"code": code, "label": "again"}), 409, "conflict")
    b = assert_problem(client.post("/v1/member-ranks", {"code": "Bad Code", "label": "x"}), 400,
                       "invalid-request")
    assert fields(b) == ["code"]
    m = client.create_member(rank=code)
    assert m["rank"] == code
    b = assert_problem(client.patch("/v1/members/" + m["id"], {"rank": "no_such_rank"}), 400,
                       "invalid-request")
    assert fields(b) == ["rank"]
    b = assert_problem(client.patch("/v1/members/" + m["id"], {"rank": None}), 400, "invalid-request")
    assert fields(b) == ["rank"]
    assert db_row(suite, m["id"], ["rank", "version"]) == {"rank": code, "version": "1"}
    assert suite.sql("select action from member.audit_log where target_id = '%s'" % code) == [["rank.create"]]
    for role in ("support", "marketing", "viewer"):
        assert_problem(sessions[role].get("/v1/member-ranks"), 403, "forbidden")
        assert_problem(sessions[role].post("/v1/member-ranks", {"code": unique_key("r")[:30],
                                                               "label": "x"}), 403, "forbidden")
        assert_problem(sessions[role].get("/v1/member-attributes"), 403, "forbidden")
    assert sessions["admin"].get("/v1/member-ranks").status_code == 200


def forbidden_fields(r):
    assert r.status_code == 403, r.text
    body = r.json()
    assert body["type"] == "/problems/forbidden", body
    return fields(body)


def test_bopla_status_and_rank(suite, client, sessions):
    support, admin = sessions["support"], sessions["admin"]
    m = client.create_member(name="BOPLA")
    path = "/v1/members/" + m["id"]
    before = db_row(suite, m["id"], ["status", "rank", "name", "version", "updated_at"])
    events = outbox_types(suite, m["id"])
    assert forbidden_fields(support.patch(path, {"status": "paid"})) == ["status"]
    assert forbidden_fields(support.patch(path, {"rank": "premium"})) == ["rank"]
    assert sorted(forbidden_fields(support.patch(path, {"status": "paid", "rank": "premium",
                                                        "name": "changed"}))) == ["rank", "status"]
    assert db_row(suite, m["id"], ["status", "rank", "name", "version", "updated_at"]) == before
    assert outbox_types(suite, m["id"]) == events
    assert forbidden_fields(support.post("/v1/members", {"email": unique_email(), "rank": "premium"})) \
        == ["rank"]
    # support still edits the rest
    r = support.patch(path, {"name": "サポート編集", "note": "ok"})
    assert r.status_code == 200, r.text
    # admin may
    r = admin.patch(path, {"status": "paid", "rank": "premium"})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["rank"]) == ("paid", "premium")
    assert db_row(suite, m["id"], ["status", "rank"]) == {"status": "paid", "rank": "premium"}
    changes = audit_changes(suite, m["id"], "member.updated")[-1]
    assert changes["status"] == ["free", "paid"] and changes["rank"] == ["basic", "premium"]
    assert suite.sql("select actor_role from member.audit_log where target_id = '%s' and "
                     "action = 'member.updated' order by seq desc limit 1" % m["id"]) == [["admin"]]
    # status values: withdrawn goes through /withdraw; unknown is refused
    for value in ("withdrawn", "gold"):
        b = assert_problem(admin.patch(path, {"status": value}), 400, "invalid-request")
        assert fields(b) == ["status"]
    assert admin.post(path + "/withdraw", {}).status_code == 200
    assert_problem(admin.patch(path, {"status": "free"}), 409, "conflict")


def test_tags_by_role(client, sessions):
    m = client.create_member()
    path = "/v1/members/%s/tags" % m["id"]
    assert sessions["marketing"].post(path, {"add": ["campaign"]}).status_code == 200
    assert sessions["support"].post(path, {"remove": ["campaign"]}).status_code == 200
    assert_problem(sessions["viewer"].post(path, {"add": ["x"]}), 403, "forbidden")


def test_viewer_sees_address_masked(client, sessions):
    m = client.create_member(address="港区六本木1-1-1", phone="03-1234-5678")
    v = sessions["viewer"].get("/v1/members/" + m["id"]).json()
    assert v["address"] == "***" and v["phone"] == "**-****-5678"
    assert client.get("/v1/members/" + m["id"]).json()["address"] == "港区六本木1-1-1"


def test_record_routes_match_openapi(client):
    from test_openapi import check, fetch
    sys_path_spec = fetch(client)
    m = client.create_member(**FULL)
    cases = [("post", "/v1/members/{id}/tags",
              client.post("/v1/members/%s/tags" % m["id"], {"add": ["spec"]}), 200),
             ("post", "/v1/members/{id}/tags",
              client.post("/v1/members/%s/tags" % m["id"], {"add": [""]}), 400),
             ("get", "/v1/member-attributes", client.get("/v1/member-attributes"), 200),
             ("post", "/v1/member-attributes",
              client.post("/v1/member-attributes", {"key": unique_key(), "label": "x", "type": "select",
                                                    "options": ["a"]}), 201),
             ("get", "/v1/member-ranks", client.get("/v1/member-ranks"), 200),
             ("post", "/v1/member-ranks", client.post("/v1/member-ranks",
                                                      {"code": unique_key("s")[:30], "label": "x"}), 201),
             ("post", "/v1/member-ranks", client.post("/v1/member-ranks", {"code": "basic", "label": "x"}), 409),
             ("get", "/v1/members/{id}", client.get("/v1/members/" + m["id"]), 200),
             ("get", "/v1/members", client.get("/v1/members", params={"q": "ヤマダ", "sort": "name_kana",
                                                                      "limit": 2}), 200)]
    for method, path, r, status in cases:
        assert r.status_code == status, (method, path, r.status_code, r.text)
        check(sys_path_spec, method, path, r)
