"""test_suppressions.py - messaging's suppression list through the API (services/messaging/
README.md, "Suppression list"): a hard bounce lists its address, staff add one by hand and lift
one, a listed address gets no mail (its mails are `suppressed`) and a lifted one gets the next;
a member who unsubscribes (the one-click link of a received mail, or their consent turned to no
in the member portal) is listed as such, gets transactional mail still, cannot be lifted by
staff (409) and leaves the list by opting in again; the list's pages, bad input, roles, and the
answers against the served OpenAPI document.

The suite is test_messaging's (member, messaging, mailpit), this module's own."""

import urllib.parse

import pytest
import requests

from billing_util import clock, now_ms, ok, uniq, wait_for
from billing_util import ms as ms_of
from test_messaging import (c, consenting_member, message, ms, problem_fields, received,  # noqa: F401
                            send, settle, template)
from test_openapi import fetch, response_schema, validate

PATH = "/v1/messaging/suppressions"
KEYS = {"email", "reason", "detail", "mail_id", "added_by", "at", "channel", "member_id"}
UNSUBSCRIBED = ("the member unsubscribed: only their own opt-in lifts it, as 特定電子メール法 "
                "requires their consent")


def listed(c, email):
    """The entries the list holds for email (any case): [] or [entry]."""
    return ok(c.get(PATH, params={"email": email}))["data"]


def lift(c, email):
    return c.request("DELETE", "%s/%s" % (PATH, email))


def outbox(suite, type_, address):
    """The events of type_ about address in messaging's outbox, with whether their payload
    names the bootstrap caller."""
    return suite.sql("select count(*), bool_and (position ('bootstrap'::bytea in payload) > 0)"
                     " from messaging.outbox where type = '%s' and aggregate_id = '%s'" % (type_, address))


def test_a_hard_bounce_lists_the_address(ms, c):
    """mailpit answers 550 to every domain but example.com's and kaiin.example.jp's: the mail
    to Gone-…@Bounce.Example.org bounces, and its address is listed in lower case with the
    relay's answer and the mail; the filter finds it in any case."""
    address = "Gone-%s@Bounce.Example.org" % uniq("b")
    gone = c.create_member(email=address)
    settle(c)
    notice = template(c, subject="ご登録の確認", text="本文", html="")
    ms.mailpit.stop()
    try:
        ms.start_mailpit("--smtp-allowed-recipients", r"@(example\.com|kaiin\.example\.jp)$")
        mail = send(c, notice["id"], gone["id"])
        clock(c, advance="PT5M")            # past a retry, if the restart cut a kept connection
        bounced = ok(c.get("/v1/messaging/mails/" + mail["id"]))
        answer = "cannot send to '%s' through 'smtp://127.0.0.1:%d': Failed sending data to the peer (550)" % (
            address, ms.smtp_port)
        assert (bounced["status"], bounced["last_error"]) == ("bounced", answer), bounced
        entries = listed(c, address.lower())
        assert len(entries) == 1, entries
        entry = entries[0]
        assert set(entry) == KEYS, entry
        assert (entry["email"], entry["reason"], entry["detail"], entry["mail_id"], entry["added_by"],
                entry["channel"], entry["member_id"]) == (
            address.lower(), "bounce", answer, mail["id"], None, None, None), entry
        assert ms_of(bounced["created_at"]) <= ms_of(entry["at"]) <= now_ms(c)
        assert listed(c, address.upper()) == [entry]
        assert ok(c.get("/v1/messaging/members/%s/consent" % gone["id"]))["suppressed"] is True
        # the bounce's event is message.bounced, as before: no suppression.added beside it
        assert outbox(ms, "suppression.added", address.lower())[0][0] == "0"
    finally:
        ms.mailpit.stop()
        ms.start_mailpit()
        # A mail tried while the relay was swapped may have held every mail for a minute
        # (migration 016): that hold is this test's doing, not the next one's to wait out.
        ms.sql("update messaging.relay_hold set until_ms = 0")


def test_a_listed_address_gets_nothing_until_staff_lift_it(ms, c):
    """Staff add a consenting member's address by hand (a complaint by phone, typed in another
    case): it is listed once, a second add answers the same entry, its marketing and its
    transactional mail are `suppressed`; lifted, the next mail goes out."""
    fan = consenting_member(c, email="fan-%s@example.com" % uniq("s"))
    settle(c)
    promo = template(c, kind="marketing", subject="秋のご案内", text="{{member.name}}様", html="")
    notice = template(c, subject="お支払いの確認", text="本文", html="")
    typed = fan["email"].upper()
    before = now_ms(c)
    r = c.post(PATH, {"email": typed, "note": "電話で配信停止の依頼（12/7 山田）"})
    assert r.status_code == 200, r.text
    entry = r.json()
    assert set(entry) == KEYS, entry
    assert (entry["email"], entry["reason"], entry["detail"], entry["mail_id"], entry["added_by"],
            entry["channel"], entry["member_id"]) == (
        fan["email"], "manual", "電話で配信停止の依頼（12/7 山田）", None, "bootstrap", None, None), entry
    assert before <= ms_of(entry["at"]) <= now_ms(c), (before, entry)
    # the same address again, with another note: 200 and the entry as it was
    again = c.post(PATH, {"email": fan["email"], "note": "二度目"})
    assert again.status_code == 200 and again.json() == entry, again.text
    assert listed(c, fan["email"]) == [entry]
    assert outbox(ms, "suppression.added", fan["email"]) == [["1", "t"]]
    assert ok(c.get("/v1/messaging/members/%s/consent" % fan["id"]))["suppressed"] is True
    blocked = [send(c, promo["id"], fan["id"]), send(c, notice["id"], fan["id"])]
    settle(c)
    for mail in blocked:
        got = ok(c.get("/v1/messaging/mails/" + mail["id"]))
        assert (got["status"], got["last_error"]) == ("suppressed", "the address is on the suppression list"), got
    assert received(ms, fan["email"]) == []
    # lifted (in yet another case): the entry as it was, an event naming who, and 404 after
    r = lift(c, "Fan" + fan["email"][3:])
    assert r.status_code == 200 and r.json() == entry, r.text
    assert outbox(ms, "suppression.lifted", fan["email"]) == [["1", "t"]]
    assert listed(c, fan["email"]) == []
    r = lift(c, fan["email"])
    assert r.status_code == 404 and r.json()["detail"] == "the address is not on the suppression list", r.text
    assert ok(c.get("/v1/messaging/members/%s/consent" % fan["id"]))["suppressed"] is False
    # the mails suppressed stay so; the next goes out
    assert [ok(c.get("/v1/messaging/mails/" + m["id"]))["status"] for m in blocked] == ["suppressed"] * 2
    after = send(c, promo["id"], fan["id"])
    settle(c)
    assert ok(c.get("/v1/messaging/mails/" + after["id"]))["status"] == "sent"
    got = wait_for(lambda: received(ms, fan["email"]), what="the mail after the lift")
    assert [m["Subject"] for m in got] == ["秋のご案内"], got


def member_session(ms, c, member):
    """A member portal session of member: a password set by staff, then the member's login."""
    password = "pw-" + uniq("m") + "-Aa1!"
    r = c.post("/v1/members/%s/password" % member["id"], {"password": password})
    assert r.status_code == 204, r.text
    r = c.request("POST", "/v1/member-auth/login", auth=False,
                  json_body={"email": member["email"], "password": password})
    assert r.status_code == 200, r.text
    return ms.client_as(r.json()["token"])


def consent(own, opt_in):
    """The member's own choice in the portal, as the portal records it."""
    r = own.patch("/v1/member-auth/me", {"marketing_consent": {
        "email_opt_in": opt_in, "method": "portal", "source": "portal: mail settings"}})
    assert r.status_code == 200, r.text
    return r.json()["marketing_consent"]


def test_a_one_click_unsubscribe_is_listed_until_the_member_opts_in_again(ms, c):
    """A consenting member clicks the List-Unsubscribe link of a campaign mail they received
    (RFC 8058's POST): they are listed, reason unsubscribe, channel one_click, the mail and the
    moment of the click; marketing mail to them is suppressed, transactional mail still
    arrives; staff cannot lift the entry (409, in Japanese too) and it stays; the member opts in
    again in the portal: no longer listed, and marketing mail arrives again."""
    fan = consenting_member(c, email="click-%s@example.com" % uniq("u"))
    own = member_session(ms, c, fan)
    settle(c)
    promo = template(c, kind="marketing", subject="冬のご案内", text="{{member.name}}様", html="")
    notice = template(c, subject="ご利用明細", text="本文", html="")
    first = send(c, promo["id"], fan["id"])
    settle(c)
    got = wait_for(lambda: received(ms, fan["email"]), what="the marketing mail")
    _, parsed = message(ms, got[0])
    url = parsed["List-Unsubscribe"][1:-1]
    assert listed(c, fan["email"]) == []
    r = requests.post(url, data="List-Unsubscribe=One-Click", timeout=10,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and r.json()["unsubscribed"] is True, r.text
    clicked = r.json()["at"]
    settle(c)                        # member records the no, and messaging reads it back
    entry = {"email": fan["email"], "reason": "unsubscribe", "detail": "", "mail_id": first["id"],
             "added_by": None, "at": clicked, "channel": "one_click", "member_id": fan["id"]}
    assert listed(c, fan["email"].upper()) == [entry]
    assert ok(c.get(PATH, params={"email": fan["email"], "reason": "unsubscribe"}))["data"] == [entry]
    assert ok(c.get(PATH, params={"email": fan["email"], "reason": "bounce"}))["data"] == []
    # marketing mail stops; transactional mail still reaches the member
    again = send(c, promo["id"], fan["id"])
    bill = send(c, notice["id"], fan["id"])
    settle(c)
    got = ok(c.get("/v1/messaging/mails/" + again["id"]))
    assert (got["status"], got["last_error"]) == ("suppressed", "no marketing consent"), got
    assert ok(c.get("/v1/messaging/mails/" + bill["id"]))["status"] == "sent"
    got = wait_for(lambda: len(received(ms, fan["email"])) == 2 and received(ms, fan["email"]),
                   what="the transactional mail")
    assert sorted(m["Subject"] for m in got) == ["ご利用明細", "冬のご案内"], got
    assert ok(c.get("/v1/messaging/members/%s/consent" % fan["id"]))["suppressed"] is False
    # staff cannot lift it: 409 naming why, and it stays listed
    r = lift(c, fan["email"])
    assert r.status_code == 409 and r.headers["Content-Type"].startswith("application/problem+json"), r.text
    assert (r.json()["code"], r.json()["detail"]) == ("unsubscribe_lifted_by_member_only", UNSUBSCRIBED), r.text
    r = c.request("DELETE", "%s/%s" % (PATH, fan["email"]), headers={"Accept-Language": "ja"})
    assert r.status_code == 409 and r.json()["detail"] == (
        "会員本人が配信を停止しました。特定電子メール法により本人の同意が必要なため、解除できるのは本人の再同意だけです"), r.text
    assert listed(c, fan["email"]) == [entry]
    assert outbox(ms, "suppression.lifted", fan["email"])[0][0] == "0"
    # the member's own opt-in lifts it
    consent(own, True)
    settle(c)
    assert listed(c, fan["email"]) == []
    after = send(c, promo["id"], fan["id"])
    settle(c)
    assert ok(c.get("/v1/messaging/mails/" + after["id"]))["status"] == "sent"
    wait_for(lambda: len(received(ms, fan["email"])) == 3, what="the marketing mail after the opt-in")


def test_a_consent_withdrawn_in_the_portal_is_listed_with_its_record(ms, c):
    """A consenting member turns their consent to no in the portal: listed, channel portal, the
    consent record's source and time, once (a later update of their record does not list them
    again); a member who never opted in is not listed; opting in again takes them off, and a
    second withdrawal lists them anew, newest first."""
    fan = consenting_member(c, email="portal-%s@example.com" % uniq("u"))
    never = c.create_member(email="never-%s@example.com" % uniq("u"))
    own = member_session(ms, c, fan)
    settle(c)
    withdrawn = consent(own, False)
    settle(c)
    entry = {"email": fan["email"], "reason": "unsubscribe", "detail": "portal: mail settings",
             "mail_id": None, "added_by": None, "at": withdrawn["at"], "channel": "portal",
             "member_id": fan["id"]}
    assert listed(c, fan["email"]) == [entry]
    assert listed(c, never["email"]) == []
    ok(c.patch("/v1/members/" + fan["id"], {"name": "改名 花子"}))
    settle(c)
    assert listed(c, fan["email"]) == [entry]
    newest = ok(c.get(PATH, params={"reason": "unsubscribe", "limit": 1}))
    assert newest["data"] == [entry], newest
    assert lift(c, fan["email"]).status_code == 409
    consent(own, True)
    settle(c)
    assert listed(c, fan["email"]) == []
    manual = ok(c.post(PATH, {"email": "later-%s@example.com" % uniq("u")}))
    again = consent(own, False)
    settle(c)
    entry["at"] = again["at"]
    page = ok(c.get(PATH, params={"limit": 2}))["data"]
    assert page == [entry, manual], page
    assert ok(c.get(PATH, params={"reason": "manual", "limit": 1}))["data"] == [manual]
    spec = fetch(c)
    errors = validate(spec, response_schema(spec, "get", PATH, 200, "application/json"),
                      ok(c.get(PATH, params={"email": fan["email"]})))
    assert errors == [], errors
    assert lift(c, manual["email"]).status_code == 200


def test_the_list_is_newest_first_a_page_at_a_time(c):
    """Three addresses added one after the other: the first page of two holds the last two,
    the next page starts with the first; every entry comes once, and the last page has no
    next_cursor."""
    added = [ok(c.post(PATH, {"email": "page+%d-%s@example.net" % (i, uniq("p"))}))["email"]
             for i in range(3)]
    first = ok(c.get(PATH, params={"limit": 2}))
    assert [e["email"] for e in first["data"]] == [added[2], added[1]] and first["next_cursor"], first
    second = ok(c.get(PATH, params={"limit": 2, "cursor": first["next_cursor"]}))
    assert second["data"][0]["email"] == added[0], second
    seen, cursor = [], None
    while True:
        page = ok(c.get(PATH, params={"limit": 100, **({"cursor": cursor} if cursor else {})}))
        seen += [e["email"] for e in page["data"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert seen[:3] == added[::-1] and len(seen) == len(set(seen)), seen
    # an address as long as addresses may be (254 bytes) is lifted by its path as well
    longest = ok(c.post(PATH, {"email": "l" * 64 + "@" + "d" * 63 + "." + "e" * 63 + "." + "f" * 58 + ".jp"}))
    assert len(longest["email"]) == 254 and lift(c, longest["email"]).json() == longest
    # as the console sends them: the address percent-encoded in the path
    for e in added:
        assert lift(c, urllib.parse.quote(e, safe="")).status_code == 200
    assert [e for e in added if listed(c, e)] == []


@pytest.mark.parametrize("body,field", [
    ({"email": "not an address"}, "email"),
    ({"email": "two@@example.com"}, "email"),
    ({"email": "someone@localhost"}, "email"),
    ({"email": "a <b@example.com>"}, "email"),
    ({"note": "no address"}, "email"),
    ({"email": "long@example.com", "note": "あ" * 501}, "note"),
])
def test_bad_additions_are_400_naming_the_field(c, body, field):
    r = c.post(PATH, body)
    assert r.status_code == 400 and problem_fields(r).keys() == {field}, r.text


def test_bad_reads_are_400_naming_the_field_and_unknown_addresses_404(c):
    for params, field in (({"limit": 0}, "limit"), ({"limit": 101}, "limit"),
                          ({"cursor": "next"}, "cursor"), ({"email": "nobody"}, "email"),
                          ({"reason": "spam"}, "reason")):
        r = c.get(PATH, params=params)
        assert r.status_code == 400 and problem_fields(r).keys() == {field}, (params, r.text)
    r = c.post(PATH, {"email": "x"}, headers={"Accept-Language": "ja"})
    assert problem_fields(r) == {"email": "メールアドレスを入力してください"}, r.text
    for unknown in ("never-%s@example.com" % uniq("n"), "nope", "a" * 200 + "@example.com"):
        r = lift(c, unknown)
        assert r.status_code == 404 and r.json()["detail"] == "the address is not on the suppression list", r.text
    r = c.request("DELETE", "%s/%s" % (PATH, "nope"), headers={"Accept-Language": "ja"})
    assert r.status_code == 404 and r.json()["detail"] == "配信停止リストにないアドレスです", r.text


@pytest.mark.parametrize("role,read,manage", [
    ("admin", 200, 200), ("marketing", 200, 200), ("support", 200, 403), ("viewer", 200, 403),
    ("finance", 403, 403),
])
def test_roles(ms, c, role, read, manage):
    """docs/permissions.md, "Messaging": messaging.read reads the list; messaging.campaigns
    (owner, admin, marketing) adds and lifts."""
    staff, password = ms.create_staff(role)
    as_role = ms.client_as(ms.login(staff["email"], password))
    assert as_role.get(PATH).status_code == read
    mine = "role-%s@example.com" % uniq(role)
    r = as_role.post(PATH, {"email": mine, "note": role})
    assert r.status_code == manage, r.text
    if manage == 200:
        assert r.json()["added_by"] == staff["id"], r.text
    else:
        assert listed(c, mine) == []
        ok(c.post(PATH, {"email": mine}))
    assert lift(as_role, mine).status_code == manage
    assert len(listed(c, mine)) == (0 if manage == 200 else 1)
    if manage != 200:
        assert lift(c, mine).status_code == 200


def test_answers_match_the_openapi_document(c):
    spec = fetch(c)
    address = "doc-%s@example.com" % uniq("d")
    added = ok(c.post(PATH, {"email": address, "note": "doc"}))
    answers = [
        ("get", PATH, 200, ok(c.get(PATH))),
        ("post", PATH, 200, added),
        ("delete", PATH + "/{email}", 200, ok(lift(c, address))),
    ]
    for method, path, status, body in answers:
        errors = validate(spec, response_schema(spec, method, path, status, "application/json"), body)
        assert errors == [], (method, path, errors)
