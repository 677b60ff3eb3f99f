"""test_bulk_tag.py - POST /v1/members/tags: one tag change for many members at once (issue 12),
in one transaction, each changed member as POST /v1/members/{id}/tags changes one (its version,
one event a tag, one audit entry), the unchanged left alone; its counts, its validation, who may
call it, and its answers as the OpenAPI document describes them."""

import uuid

import pytest
from selenium.webdriver.support.ui import Select

import harness

from test_console import browser, by, page, sign_in, staff, text_of, wait  # noqa: F401
from test_members import assert_problem, outbox_types
from test_member_record import audit_changes, fields, sessions  # noqa: F401 (a fixture)

__all__ = ["browser", "page"]      # fixtures used by name

PATH = "/v1/members/tags"


@pytest.fixture(scope="module")
def suite():
    """A suite of this module's own: one test imports and tags 1 000 members, which would change
    what the shared suite's other tests count and list (its dashboard, its first list pages)."""
    s = harness.Suite("bulk-tag").start()
    yield s
    s.stop()
    probs = s.take_problems()
    if probs:
        pytest.fail("bulk-tag suite end: Kaiin process problems:\n\n%s" % "\n\n".join(probs), pytrace=False)
    s.cleanup_dir()


def version(suite, mid):
    return int(suite.sql("select version from member.members where id = '%s'" % mid)[0][0])


def tags(suite, mid):
    rows = suite.sql("select t.tag from member.member_tags t join member.members m on m.seq = t.member_seq"
                     " where m.id = '%s' order by t.tag" % mid)
    return [r[0] for r in rows]


def tag_events(suite, mids):
    """(member id, type, tag) of the member.tagged and member.untagged events of mids, in order."""
    rows = suite.sql("select aggregate_id, type, encode(payload, 'hex') from member.outbox"
                     " where aggregate_id in (%s) and type like 'member.%%tagged' order by id"
                     % ", ".join("'%s'" % m for m in mids))
    return [(r[0], r[1], r[2]) for r in rows]


def audited(suite, mids):
    rows = suite.sql("select target_id from member.audit_log where action = 'member.tagged'"
                     " and target_id in (%s) order by seq" % ", ".join("'%s'" % m for m in mids))
    return [r[0] for r in rows]


def test_three_members_tagged_at_once_one_had_the_tag(suite, client):
    tag = "bulk" + uuid.uuid4().hex[:8]
    a, b, c = (client.create_member() for _ in range(3))
    assert client.post("/v1/members/%s/tags" % c["id"], {"add": [tag]}).status_code == 200
    ids = [a["id"], b["id"], c["id"]]
    before = {m: version(suite, m) for m in ids}
    events_before = {m: outbox_types(suite, m) for m in ids}

    r = client.post(PATH, {"member_ids": ids, "add": [tag]})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {"matched": 3, "changed": 2, "not_found": []}
    assert [tags(suite, m) for m in ids] == [[tag]] * 3
    # a and b: their version once more, one member.tagged each, one audit entry each
    assert [version(suite, m) for m in ids] == [before[a["id"]] + 1, before[b["id"]] + 1, before[c["id"]]]
    for m in ids[:2]:
        assert outbox_types(suite, m) == events_before[m] + ["member.tagged"]
        assert audit_changes(suite, m, "member.tagged") == [{"tags": [[], [tag]]}]
    # c already had it: no version, no event, no audit entry besides the single route's
    assert outbox_types(suite, c["id"]) == events_before[c["id"]]
    entries = audited(suite, ids)                     # the members are changed in id order
    assert entries[0] == c["id"] and sorted(entries[1:]) == sorted(ids[:2])
    # the event carries the tag, as the single route's does
    events = tag_events(suite, ids[:2])
    assert sorted((e[0], e[1]) for e in events) == sorted([(a["id"], "member.tagged"), (b["id"], "member.tagged")])
    assert all(tag.encode().hex() in e[2] for e in events)
    # the member as read shows the tag and the new version
    got = client.get("/v1/members/" + a["id"])
    assert got.json()["tags"] == [tag] and got.headers["ETag"] == '"%d"' % (before[a["id"]] + 1)


def test_remove_and_add_together_and_nothing_to_change(suite, client):
    keep, drop = "keep" + uuid.uuid4().hex[:8], "drop" + uuid.uuid4().hex[:8]
    a, b = client.create_member(), client.create_member()
    assert client.post("/v1/members/%s/tags" % a["id"], {"add": [drop]}).status_code == 200
    ids = [a["id"], b["id"]]
    n_events = {m: len(outbox_types(suite, m)) for m in ids}
    r = client.post(PATH, {"member_ids": ids, "remove": [drop]})
    assert r.status_code == 200, r.text
    assert r.json() == {"matched": 2, "changed": 1, "not_found": []}
    assert outbox_types(suite, a["id"])[n_events[a["id"]]:] == ["member.untagged"]
    assert len(outbox_types(suite, b["id"])) == n_events[b["id"]]
    assert audit_changes(suite, a["id"], "member.tagged")[-1] == {"tags": [[drop], []]}

    r = client.post(PATH, {"member_ids": ids, "add": [keep], "remove": [drop]})
    assert r.json() == {"matched": 2, "changed": 2, "not_found": []}, r.text
    assert [tags(suite, m) for m in ids] == [[keep], [keep]]
    # asked again: nothing changes, no version, no event, no audit entry
    versions = [version(suite, m) for m in ids]
    events = [outbox_types(suite, m) for m in ids]
    entries = audited(suite, ids)
    r = client.post(PATH, {"member_ids": ids, "add": [keep], "remove": [drop]})
    assert r.json() == {"matched": 2, "changed": 0, "not_found": []}, r.text
    assert [version(suite, m) for m in ids] == versions
    assert [outbox_types(suite, m) for m in ids] == events
    assert audited(suite, ids) == entries


def test_missing_ids_are_reported_as_given(suite, client):
    tag = "nf" + uuid.uuid4().hex[:8]
    m = client.create_member()
    missing = [str(uuid.uuid4()), str(uuid.uuid4()).upper()]
    r = client.post(PATH, {"member_ids": [missing[0], m["id"].upper(), missing[1]], "add": [tag]})
    assert r.status_code == 200, r.text
    assert r.json() == {"matched": 1, "changed": 1, "not_found": missing}
    assert tags(suite, m["id"]) == [tag]
    assert outbox_types(suite, missing[0]) == []


def test_a_withdrawn_member_is_tagged_as_the_single_route_tags_one(suite, client):
    tag = "wd" + uuid.uuid4().hex[:8]
    gone, other = client.create_member(), client.create_member()
    assert client.post("/v1/members/%s/withdraw" % gone["id"], {}).status_code == 200
    single = client.post("/v1/members/%s/tags" % gone["id"], {"add": ["single" + tag]})
    assert single.status_code == 200, single.text
    r = client.post(PATH, {"member_ids": [gone["id"], other["id"]], "add": [tag]})
    assert r.json() == {"matched": 2, "changed": 2, "not_found": []}, r.text
    assert tags(suite, gone["id"]) == sorted(["single" + tag, tag])


def test_one_member_over_the_tag_limit_changes_no_one(suite, client):
    full, other = client.create_member(), client.create_member()
    path = "/v1/members/%s/tags" % full["id"]
    assert client.post(path, {"add": ["t%03d" % i for i in range(100)]}).status_code == 200
    events = outbox_types(suite, other["id"])
    b = assert_problem(client.post(PATH, {"member_ids": [other["id"], full["id"]], "add": ["one-more"]}),
                       400, "invalid-request")
    # the member over the limit is named by its place in member_ids
    assert b["errors"] == [{"field": "member_ids[1]", "code": "this_member_would_have_more_than_tags",
                            "reason": "this member would have more than 100 tags"}]
    assert tags(suite, other["id"]) == [] and outbox_types(suite, other["id"]) == events
    assert len(tags(suite, full["id"])) == 100


def ids(n):
    return [str(uuid.uuid4()) for _ in range(n)]


@pytest.mark.parametrize("body,field", [
    ({"member_ids": [], "add": ["x"]}, "member_ids"),
    ({"add": ["x"]}, "member_ids"),
    ({"member_ids": ids(1001), "add": ["x"]}, "member_ids"),
    ({"member_ids": ["not-a-uuid"], "add": ["x"]}, "member_ids[0]"),
    ({"member_ids": ids(1) + ["12345"], "add": ["x"]}, "member_ids[1]"),
    ({"member_ids": "0f8fad5b-d9cb-469f-a165-70867728950e", "add": ["x"]}, "member_ids"),
    ({"member_ids": [7], "add": ["x"]}, "member_ids[0]"),
    ({"member_ids": ["0f8fad5b-d9cb-469f-a165-70867728950e", "a", "0F8FAD5B-D9CB-469F-A165-70867728950E"],
      "add": ["x"]}, "member_ids[1] member_ids[2]"),
    ({"member_ids": ids(1)}, "add"),
    ({"member_ids": ids(1), "add": [""]}, "add"),
    ({"member_ids": ids(1), "add": ["x" * 51]}, "add"),
    ({"member_ids": ids(1), "add": ["a", "a"]}, "add"),
    ({"member_ids": ids(1), "add": ["a"], "remove": ["a"]}, "remove"),
    ({"member_ids": ids(1), "tags": ["a"]}, "tags"),
])
def test_validation_names_the_field(suite, client, body, field):
    before = suite.sql("select count(*) from member.outbox")
    b = assert_problem(client.post(PATH, body), 400, "invalid-request")
    assert fields(b) == field.split(), b
    assert suite.sql("select count(*) from member.outbox") == before


def test_reasons_in_japanese(client):
    first = str(uuid.uuid4())
    r = client.post(PATH, {"member_ids": [first, first.upper()], "add": ["x"]},
                    headers={"Accept-Language": "ja"})
    b = assert_problem(r, 400, "invalid-request")
    assert b["errors"] == [{"field": "member_ids[1]", "code": "repeats_member_ids", "reason": "member_ids[0] と同じ会員です"}]
    r = client.post(PATH, {"member_ids": ids(1001), "add": ["x"]}, headers={"Accept-Language": "ja"})
    assert assert_problem(r, 400, "invalid-request")["errors"] == [
        {"field": "member_ids", "code": "may_name_at_most_members", "reason": "会員は 1000 人まで指定できます"}]


def test_a_thousand_ids_in_one_call(suite, client):
    tag = "k" + uuid.uuid4().hex[:8]
    real = [client.create_member()["id"] for _ in range(3)]
    others = ids(997)
    r = client.post(PATH, {"member_ids": others[:500] + real + others[500:], "add": [tag]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["matched"], body["changed"]) == (3, 3)
    assert body["not_found"] == others
    assert [tags(suite, m) for m in real] == [[tag]] * 3


@pytest.mark.heavy
def test_a_thousand_members_changed_in_one_call(suite, client):
    run = uuid.uuid4().hex[:8]
    emails = ["k%s-%04d@example.com" % (run, i) for i in range(1000)]
    r = client.request("POST", "/v1/members/import", data="email\n" + "\n".join(emails) + "\n",
                       headers={"Content-Type": "text/csv"}, timeout=(3.0, 60.0))
    assert r.status_code == 200 and r.json()["created"] == 1000, r.text
    rows = suite.sql("select id from member.members where email like 'k%s-%%'" % run)
    members = [row[0] for row in rows]
    tag = "all" + run
    r = client.post(PATH, {"member_ids": members, "add": [tag]}, timeout=(3.0, 60.0))
    assert r.status_code == 200, r.text                # within the route's deadline (60 s)
    assert r.json() == {"matched": 1000, "changed": 1000, "not_found": []}
    assert suite.sql("select count(*) from member.outbox where type = 'member.tagged' and"
                     " aggregate_id in (%s)" % ", ".join("'%s'" % m for m in members)) == [["1000"]]
    assert suite.sql("select count(*) from member.member_tags where tag = '%s'" % tag) == [["1000"]]


def test_roles(suite, client, sessions):
    m = client.create_member()
    tag = "role" + uuid.uuid4().hex[:8]
    r = sessions["marketing"].post(PATH, {"member_ids": [m["id"]], "add": [tag]})
    assert r.status_code == 200 and r.json()["changed"] == 1, r.text
    events = outbox_types(suite, m["id"])
    assert_problem(sessions["viewer"].post(PATH, {"member_ids": [m["id"]], "remove": [tag]}), 403, "forbidden")
    assert tags(suite, m["id"]) == [tag] and outbox_types(suite, m["id"]) == events
    assert_problem(client.post(PATH, {"member_ids": [m["id"]], "add": ["x"]}, auth=False), 401,
                   "unauthenticated")
    actor = suite.sql("select actor_role from member.audit_log where target_id = '%s'"
                      " and action = 'member.tagged' order by seq" % m["id"])
    assert actor == [["marketing"]]


def test_no_clash_with_a_member_path(client):
    """/v1/members/tags is the bulk route's only by POST: read as a member id it names none."""
    assert_problem(client.get(PATH), 404, "not-found")
    assert_problem(client.post("/v1/members/%s/tags" % uuid.uuid4(), {"add": ["x"]}), 404, "not-found")


def test_answers_match_openapi(client):
    from test_openapi import check, fetch
    spec = fetch(client)
    m = client.create_member()
    op = spec["paths"][PATH]["post"]
    assert op["operationId"] == "member.TagMany"
    assert "roles owner admin support marketing" in op["description"]
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["member_ids"] and set(schema["properties"]) == {"member_ids", "add", "remove"}
    check(spec, "post", PATH, client.post(PATH, {"member_ids": [m["id"], str(uuid.uuid4())], "add": ["spec"]}))
    check(spec, "post", PATH, client.post(PATH, {"member_ids": [m["id"]], "add": ["spec"]}))
    check(spec, "post", PATH, client.post(PATH, {"member_ids": ["x"], "add": ["spec"]}))


def test_console_tags_the_ticked_members_in_one_call_and_shows_the_counts(suite, client, page):
    run = uuid.uuid4().hex[:8]
    group, vip = "grp" + run, "vip" + run
    members = [client.create_member(name=name) for name in ("一括 一郎", "一括 二郎", "一括 三郎")]
    for m in members:
        assert client.post("/v1/members/%s/tags" % m["id"], {"add": [group]}).status_code == 200
    assert client.post("/v1/members/%s/tags" % members[2]["id"], {"add": [vip]}).status_code == 200
    ids = [m["id"] for m in members]
    email, password, _ = staff(suite, "marketing")
    sign_in(page, suite, email, password)
    page.find_element(*by("#member-tag")).send_keys(group)
    wait(page, lambda d: len(d.find_elements(*by("#members-table tbody tr"))) == 3
         and not d.find_elements(*by("#members-table[aria-busy]")))
    for m in members:
        page.find_element(*by("#tick-" + m["id"])).click()
    assert text_of(page, "#bulk-status") == "3 人をチェック中"
    page.find_element(*by("#bulk-tag")).send_keys(vip)
    page.find_element(*by("#bulk-add")).click()
    wait(page, lambda d: d.find_element(*by("#bulk-status")).text == "3 人にタグ「%s」を付けました。" % vip)
    assert text_of(page, "#bulk-counts") == "2 人のタグを変更しました（1 人は変更なし）。"
    assert [tags(suite, m) for m in ids] == [sorted([group, vip])] * 3
    # one call: the two changes' audit entries share one request
    requests = suite.sql("select distinct request_id from member.audit_log where action = 'member.tagged'"
                         " and target_id in ('%s', '%s') and changes::text like '%%%s%%'"
                         % (ids[0], ids[1], vip))
    assert len(requests) == 1 and requests[0][0], requests

    # every member the filters select, the ticks aside: removed from the three
    Select(page.find_element(*by("#bulk-scope"))).select_by_value("filtered")
    page.find_element(*by("#bulk-remove")).click()
    wait(page, lambda d: d.find_element(*by("#bulk-status")).text == "3 人からタグ「%s」を外しました。" % vip)
    assert text_of(page, "#bulk-counts") == "3 人のタグを変更しました（0 人は変更なし）。"
    assert [tags(suite, m) for m in ids] == [[group]] * 3
