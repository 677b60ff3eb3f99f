"""test_billing_get.py - one payment method and one refund by id (GET /v1/payment-methods/{id},
GET /v1/refunds/{id}), through HTTP against real servers: the Location a create answers leads
to the same object, unknown and malformed ids are 404 (as for every get by id), and the routes keep to
the roles that may list them (docs/permissions.md, "Billing")."""

import uuid

import pytest

from billing_util import attach, billing_suite, create_plan, finish_suite, item, member_with_card, \
    ok, payments, purchase, subscribe
from test_member_auth import member_session
from test_members import assert_problem

UNKNOWN = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def bs():
    s = billing_suite("billing-get")
    yield s
    finish_suite(s)


@pytest.fixture
def c(bs):
    return bs.client


@pytest.fixture(scope="module")
def staff(bs):
    """role → a client with that role's staff session."""
    out = {}
    for role in ("viewer", "marketing"):
        account, password = bs.create_staff(role)
        out[role] = bs.client_as(bs.login(account["email"], password))
    return out


@pytest.fixture(scope="module")
def method(bs):
    """A card attached through HTTP: (the 201 body, its Location)."""
    m = bs.client.create_member()
    r = bs.client.post("/v1/members/%s/payment-methods" % m["id"], {"type": "card", "token": "tok_visa"})
    return ok(r, 201), r.headers["Location"]


@pytest.fixture(scope="module")
def refund(bs):
    """A refund of a purchase taxed at two rates, made through HTTP: (the 201 body, its Location)."""
    c = bs.client
    m, _ = member_with_card(c)
    bought = purchase(c, m["id"], [item(1100, tax_rate=10), item(1080, tax_rate=8)])
    r = c.post("/v1/payments/%s/refunds" % bought["payment"]["id"], {"amount": 1000, "reason": "other"})
    return ok(r, 201), r.headers["Location"]


# =========================================================================== payment methods
def test_payment_method_location_leads_to_it(c, method):
    created, location = method
    assert location == "/v1/payment-methods/" + created["id"]
    got = ok(c.get(location))
    assert got == created, (got, created)
    assert got["brand"] == "visa" and got["status"] == "active" and got["is_default"] is True
    assert "token" not in got                       # the provider's token charges the card


def test_payment_method_get_konbini(c):
    m = c.create_member()
    created = attach(c, m["id"], type_="konbini")
    assert ok(c.get("/v1/payment-methods/" + created["id"])) == created


def test_payment_method_get_after_detach(c):
    """A detached method still answers, as detached: its payments still name it."""
    m, card = member_with_card(c)
    detached = ok(c.request("DELETE", "/v1/payment-methods/" + card["id"]))
    got = ok(c.get("/v1/payment-methods/" + card["id"]))
    assert got == detached and got["status"] == "detached" and got["is_default"] is False, got
    assert card["id"] not in [x["id"] for x in ok(c.get("/v1/members/%s/payment-methods" % m["id"]))["data"]]


def test_payment_method_is_the_listed_one(c, method):
    created, location = method
    listed = ok(c.get("/v1/members/%s/payment-methods" % created["member_id"]))["data"]
    assert listed == [ok(c.get(location))]


# =========================================================================== refunds
def test_refund_location_leads_to_it(c, refund):
    created, location = refund
    assert location == "/v1/refunds/" + created["id"]
    got = ok(c.get(location))
    assert got == created, (got, created)
    assert got["amount"] == 1000 and got["credit_note_number"].startswith("CN-")
    assert sorted(t["rate"] for t in got["credit_note_taxes"]) == [8, 10], got
    assert sum(t["amount"] for t in got["credit_note_taxes"]) == 1000, got


def test_refund_is_the_listed_one(c, refund):
    created, location = refund
    listed = ok(c.get("/v1/refunds", params={"invoice_id": created["invoice_id"]}))["data"]
    assert listed == [ok(c.get(location))]


def test_refund_of_a_subscription_payment(c):
    plan = create_plan(c, amount=1000)
    m, _ = member_with_card(c)
    s = subscribe(c, m["id"], plan)
    pay = payments(c, invoice_id=s["latest_invoice_id"])[0]
    r = c.post("/v1/payments/%s/refunds" % pay["id"], {"reason": "requested_by_customer"})
    created = ok(r, 201)
    assert ok(c.get(r.headers["Location"])) == created and created["amount"] == 1100, created


# =========================================================================== errors
@pytest.mark.parametrize("path", ["/v1/payment-methods/", "/v1/refunds/"])
def test_unknown_id_is_404(c, path):
    assert_problem(c.get(path + UNKNOWN), 404, "not-found")
    assert_problem(c.get(path + str(uuid.uuid4())), 404, "not-found")


@pytest.mark.parametrize("path", ["/v1/payment-methods/", "/v1/refunds/"])
@pytest.mark.parametrize("bad", ["not-a-uuid", "12345", UNKNOWN[:-1] + "g", UNKNOWN + "0"])
def test_malformed_id_is_404_like_every_get_by_id(c, path, bad):
    assert_problem(c.get(path + bad), 404, "not-found")


def test_no_token_is_401(c, method, refund):
    for location in (method[1], refund[1]):
        r = c.get(location, auth=False)
        assert_problem(r, 401, "unauthenticated")
        assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")
        assert_problem(c.get(location, headers={"Authorization": "Bearer kss_" + "0" * 64}), 401,
                       "unauthenticated")


def test_role_without_billing_read_is_403(staff, method, refund):
    for (created, location) in (method, refund):
        assert ok(staff["viewer"].get(location)) == created
        body = assert_problem(staff["marketing"].get(location), 403, "forbidden")
        assert body["detail"] == "the role 'marketing' may not do this", body
        # 403 before the id is looked at: an unknown or malformed id tells marketing nothing
        assert_problem(staff["marketing"].get(location.rsplit("/", 1)[0] + "/" + UNKNOWN), 403, "forbidden")
        assert_problem(staff["marketing"].get(location.rsplit("/", 1)[0] + "/x"), 403, "forbidden")


def test_member_session_reads_its_own_subscription_and_invoice_by_id(bs, c):
    """Billing knows whose they are: a member's session reads its own subscription and invoice
    as staff do, and another member's (or an unknown id) is 404, telling it nothing."""
    m, _, member = member_session(bs, c)
    plan = create_plan(c, amount=1200)
    attach(c, m["id"])
    mine = subscribe(c, m["id"], plan["id"])
    someone, _ = member_with_card(c)
    theirs = subscribe(c, someone["id"], plan["id"])
    for sub in (mine, theirs):
        assert sub["latest_invoice_id"], sub
    for path in ("/v1/subscriptions/" + mine["id"], "/v1/invoices/" + mine["latest_invoice_id"]):
        body = ok(member.get(path))
        assert body == ok(c.get(path)) and body["member_id"] == m["id"], body
    for path in ("/v1/subscriptions/" + theirs["id"], "/v1/invoices/" + theirs["latest_invoice_id"],
                 "/v1/subscriptions/" + UNKNOWN, "/v1/invoices/" + UNKNOWN):
        assert_problem(member.get(path), 404, "not-found")
    # staff still read both
    assert ok(c.get("/v1/subscriptions/" + theirs["id"]))["member_id"] == someone["id"]


def test_member_session_cannot_read_its_own_by_id(bs, c):
    """A member's session cannot list its payment methods or refunds, so it cannot read one
    by id either, even its own."""
    m, _, member = member_session(bs, c)
    card = attach(c, m["id"])
    bought = purchase(c, m["id"], [item(500)])
    created = ok(c.post("/v1/payments/%s/refunds" % bought["payment"]["id"], {"amount": 100}), 201)
    for path in ("/v1/payment-methods/" + card["id"], "/v1/refunds/" + created["id"]):
        assert_problem(member.get(path), 403, "forbidden")
        assert ok(c.get(path))["member_id"] == m["id"]
