"""test_search.py - GET /v1/members as a search: normalised partial match, filters, every sort
with keyset cursors that return each member exactly once."""

import random
import unicodedata
import uuid

import pytest

from harness import unique_email
from test_members import assert_problem

# Katakana with a simple half-width form, to spell unique names three ways.
KANA = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワ"


def half_width(katakana):
    table = {unicodedata.normalize("NFKC", chr(c)): chr(c) for c in range(0xFF66, 0xFF9E)}
    return "".join(table[ch] for ch in katakana)


def hiragana(katakana):
    return "".join(chr(ord(ch) - 0x60) for ch in katakana)


def unique_kana(n=6):
    return "".join(random.choice(KANA) for _ in range(n))


def unique_tag():
    return "s-" + uuid.uuid4().hex[:12]


def search_all(client, limit=3, **params):
    """Follows next_cursor to the end; returns the members in the order returned."""
    out, cursor, pages = [], None, 0
    while True:
        q = dict(params, limit=limit)
        if cursor:
            q["cursor"] = cursor
        r = client.get("/v1/members", params=q)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["data"]) <= limit
        out.extend(body["data"])
        pages += 1
        assert pages < 1000
        cursor = body["next_cursor"]
        if cursor is None:
            return out


def ids(members):
    return [m["id"] for m in members]


def found(client, **params):
    r = client.get("/v1/members", params=dict(params, limit=100))
    assert r.status_code == 200, r.text
    return set(ids(r.json()["data"]))


def test_normalised_partial_match(client):
    word = unique_kana()
    latin = uuid.uuid4().hex[:8]
    m = client.create_member(name="山田 " + word, name_kana="ヤマダ " + word,
                             email="%s.Tanaka@example.com" % latin, phone="090-%s-5678" % "4321")
    other = client.create_member(name="別人", name_kana="ベツジン")
    for q in (word, half_width(word), hiragana(word), word[1:4], hiragana(word[2:]),
              "ﾔﾏﾀﾞ " + half_width(word[:2]), "やまだ" + hiragana(word[:3]), "ヤマダ　" + word[:2]):
        assert m["id"] in found(client, q=q), q
        assert other["id"] not in found(client, q=q), q
    # full-width Latin, upper case, and the email's parts
    full_width_latin = "".join(chr(ord(c) + 0xFEE0) for c in latin.upper())
    for q in (latin, latin.upper(), full_width_latin, "ＴＡＮＡＫＡ@ＥＸＡＭＰＬＥ", "tanaka@exa"):
        assert m["id"] in found(client, q=q), q
    # the whole phone number, as written or digits only, full-width too; a fragment no longer
    # (the phone is sealed: an exact match through its keyed hash)
    for q in ("090-4321-5678", "09043215678", "０９０４３２１５６７８", "(090) 4321 5678"):
        assert m["id"] in found(client, q=q + "") and m["id"] in found(client, q=q, tag=[]), q
    for q in ("090-4321", "0904321", "4321-5678"):
        assert m["id"] not in found(client, q=q), q
    # LIKE's wildcards are plain characters in q; no match across two fields
    assert found(client, q="%") & {m["id"]} == set()
    assert found(client, q="_" + latin) == set()
    assert m["id"] not in found(client, q=word[-2:] + "ヤマ")         # name's end + kana's start


def test_filters(suite, client):
    tag_a, tag_b = unique_tag(), unique_tag()
    plan = "plan_" + uuid.uuid4().hex[:8]
    assert client.post("/v1/member-attributes", {"key": plan, "label": "Plan", "type": "select",
                                                 "options": ["gold", "silver"]}).status_code == 201
    points = "pts_" + uuid.uuid4().hex[:8]
    assert client.post("/v1/member-attributes", {"key": points, "label": "Points",
                                                 "type": "number"}).status_code == 201
    a = client.create_member(attributes={plan: "gold", points: 10})
    b = client.create_member(attributes={plan: "silver", points: 10.0}, rank="premium")
    c = client.create_member(attributes={plan: "gold"})
    for m, tags in ((a, [tag_a]), (b, [tag_a, tag_b]), (c, [tag_b])):
        assert client.post("/v1/members/%s/tags" % m["id"], {"add": tags}).status_code == 200
    suite.sql("update member.members set status = 'paid' where id = '%s'" % c["id"])
    suite.sql("update member.members set last_login_at = '2026-03-01T00:00:00Z' where id = '%s'" % a["id"])
    suite.sql("update member.members set last_login_at = '2026-05-01T00:00:00Z' where id = '%s'" % b["id"])
    suite.sql("update member.members set created_at = '2020-01-01T00:00:00Z' where id = '%s'" % c["id"])
    everyone = {a["id"], b["id"], c["id"]}
    assert found(client, tag=[tag_a, tag_b]) == everyone                      # any, the default
    assert found(client, tag=[tag_a, tag_b], tags_mode="any") == everyone
    assert found(client, tag=[tag_a, tag_b], tags_mode="all") == {b["id"]}
    assert found(client, tag=tag_a) == {a["id"], b["id"]}
    assert found(client, tag=[tag_a, tag_b], status="paid") == {c["id"]}
    assert found(client, tag=[tag_a, tag_b], rank="premium") == {b["id"]}
    assert found(client, tag=[tag_a, tag_b], rank="basic", status="free") == {a["id"]}
    assert found(client, **{"tag": [tag_a, tag_b], "attr." + plan: "gold"}) == {a["id"], c["id"]}
    assert found(client, **{"attr." + plan: "gold", "attr." + points: "10"}) == {a["id"]}
    assert found(client, **{"attr." + points: "10.0"}) == {a["id"], b["id"]}
    assert found(client, tag=[tag_a, tag_b], last_login_from="2026-04-01T00:00:00+09:00") == {b["id"]}
    assert found(client, tag=[tag_a, tag_b], last_login_to="2026-04-01T00:00:00Z") == {a["id"]}
    assert found(client, tag=[tag_a, tag_b], last_login_from="2026-02-01T00:00:00Z",
                 last_login_to="2026-06-01T00:00:00Z") == {a["id"], b["id"]}
    assert found(client, tag=[tag_a, tag_b], created_to="2021-01-01T00:00:00Z") == {c["id"]}
    assert found(client, tag=[tag_a, tag_b], created_from="2021-01-01T00:00:00.5+00:00") == \
        {a["id"], b["id"]}


@pytest.mark.parametrize("params,field", [
    ({"sort": "email"}, "sort"), ({"sort": "-seq"}, "sort"), ({"tags_mode": "some"}, "tags_mode"),
    ({"created_from": "2026-01-01"}, "created_from"), ({"created_to": "yesterday"}, "created_to"),
    ({"last_login_from": "2026-13-01T00:00:00Z"}, "last_login_from"),
    ({"last_login_to": "2026-01-01T00:00:00"}, "last_login_to"),
    ({"attr.no_such_attribute": "x"}, "attr.no_such_attribute"), ({"attr.": "x"}, "attr."),
    ({"q": "あ" * 101}, "q"), ({"tag": ["x" * 51]}, "tag"), ({"tag": ["t%d" % i for i in range(21)]}, "tag"),
    ({"status": "gold"}, "status"), ({"limit": 0}, "limit"), ({"rank": "r" * 40}, "rank"),
    ({"q": ["a", "b"]}, "q"), ({"filter": "x"}, "filter"),
    ({"sort": "name_kana", "cursor": "m1f"}, "cursor"), ({"cursor": "a1.1"}, "cursor"),
    ({"sort": "created_at", "cursor": "k41.1"}, "cursor"), ({"sort": "name_kana", "cursor": "kzz.1"}, "cursor"),
])
def test_bad_parameters_named(client, params, field):
    b = assert_problem(client.get("/v1/members", params=params), 400, "invalid-request")
    assert field in [e["field"] for e in b["errors"]], (params, b)


def test_attribute_filter_value_checked(client):
    key = "num_" + uuid.uuid4().hex[:8]
    assert client.post("/v1/member-attributes", {"key": key, "label": "n", "type": "number"}).status_code == 201
    b = assert_problem(client.get("/v1/members", params={"attr." + key: "ten"}), 400, "invalid-request")
    assert [e["field"] for e in b["errors"]] == ["attr." + key]


SORTS = {
    "created_at": (lambda m: (m["created_at"], m["_seq"]), False),
    "-created_at": (lambda m: (m["created_at"], m["_seq"]), True),
    "name_kana": (lambda m: (m["name_kana"] or "", m["_seq"]), False),
    "-name_kana": (lambda m: (m["name_kana"] or "", m["_seq"]), True),
}


@pytest.mark.parametrize("sort", [None] + sorted(SORTS))
@pytest.mark.parametrize("limit", [1, 2, 5])
def test_every_sort_pages_each_member_once(suite, client, sort, limit):
    tag = unique_tag()
    kanas = ["アオキ", "イトウ", "アオキ", None, "ワタナベ", "カトウ", "イトウ", "アベ", None]
    made = []
    for kana in kanas:
        m = client.create_member(**({"name_kana": kana} if kana else {}))
        made.append(m)
        assert client.post("/v1/members/%s/tags" % m["id"], {"add": [tag]}).status_code == 200
    # several members created in the same millisecond: seq breaks the tie
    suite.sql("update member.members set created_at = '2026-01-01T00:00:00Z' where id in ('%s', '%s', '%s')"
              % (made[0]["id"], made[3]["id"], made[5]["id"]))
    seqs = dict(suite.sql("select id, seq from member.members where id in (%s)"
                          % ",".join("'%s'" % m["id"] for m in made)))
    params = {"tag": tag}
    if sort:
        params["sort"] = sort
    got = search_all(client, limit=limit, **params)
    assert len(got) == len(made) and len(set(ids(got))) == len(made), "a member missing or twice"
    for m in got:
        m["_seq"] = int(seqs[m["id"]])
    if sort is None:
        expected = sorted(got, key=lambda m: m["_seq"])
    else:
        key, reverse = SORTS[sort]
        expected = sorted(got, key=key, reverse=reverse)
    assert ids(got) == ids(expected)


def test_cursor_of_one_sort_refused_by_another(client):
    tag = unique_tag()
    for kana in ("アア", "イイ", "ウウ"):
        m = client.create_member(name_kana=kana)
        client.post("/v1/members/%s/tags" % m["id"], {"add": [tag]})
    r = client.get("/v1/members", params={"tag": tag, "sort": "name_kana", "limit": 1})
    cursor = r.json()["next_cursor"]
    assert cursor
    assert client.get("/v1/members", params={"tag": tag, "sort": "name_kana", "limit": 1,
                                             "cursor": cursor}).json()["data"][0]["name_kana"] == "イイ"
    for other in ("-name_kana", "created_at", None):
        params = {"tag": tag, "cursor": cursor}
        if other:
            params["sort"] = other
        b = assert_problem(client.get("/v1/members", params=params), 400, "invalid-request")
        assert [e["field"] for e in b["errors"]] == ["cursor"]


def test_search_sees_changes(client):
    word = unique_kana(7)
    m = client.create_member(name_kana="サトウ")
    assert m["id"] not in found(client, q=hiragana(word))
    assert client.patch("/v1/members/" + m["id"], {"name_kana": word}).status_code == 200
    assert found(client, q=half_width(word)) == {m["id"]}
    assert client.patch("/v1/members/" + m["id"], {"name_kana": None}).status_code == 200
    assert found(client, q=word) == set()
