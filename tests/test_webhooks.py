"""test_webhooks.py - integrators' webhooks (services/messaging/README.md, "Webhooks"): endpoints
registered by owners and admins, each event of the types they ask for POSTed to a real HTTP
receiver this test runs on 127.0.0.1, signed (Kaiin-Signature, checked here by hand with hmac),
retried with back-off on the test clock, the endpoint disabled after 3 days of failures,
the delivery log, manual redelivery, the address checks (SSRF), the roles, and a kill -9 of
kaiin-messaging while deliveries are under way.

The suite is this module's own: its clock only moves forward."""

import hashlib
import hmac
import http.server
import json
import re
import threading
import time

import pytest

import harness
from billing_util import clock, finish_suite, ok, uniq, wait_for
from billing_util import ms as ms_of
from test_messaging import problem_fields, settle

MINUTE_MS = 60 * 1000
ALLOW = {"MESSAGING_WEBHOOK_ALLOW": "127.0.0.1/32", "MESSAGING_WEBHOOK_ALLOW_HTTP": "1"}


@pytest.fixture(scope="module")
def wh():
    """member and messaging, messaging allowed to call 127.0.0.1 over http (the receivers)."""
    if not harness.built("messaging"):
        pytest.skip("kaiin-messaging is not built (%s)" % harness.bin_dir())
    s = harness.Suite("webhooks", services=["member", "messaging"], automations=False,
                      settings={"messaging": dict(ALLOW)}).start()
    yield s
    finish_suite(s)


@pytest.fixture
def c(wh):
    return wh.client


class Receiver:
    """An HTTP server on 127.0.0.1 that records each POST and answers the status it is told
    (with body "ok <n>" or "boom <n>", or the bytes of answer), after delay seconds."""

    def __init__(self, status=200, delay=0.0, answer=None):
        self.status = status
        self.delay = delay
        self.answer = answer
        self.requests = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers),
                                              "body": body})
                    n = len(receiver.requests)
                    status = receiver.status
                if receiver.delay:
                    time.sleep(receiver.delay)
                answer = receiver.answer or (("ok %d" if status < 300 else "boom %d") % n).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except (BrokenPipeError, ConnectionResetError):
                    pass                      # the sender was killed meanwhile

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, host="127.0.0.1"):
        return "http://%s:%d/hook" % (host, self.port)

    def got(self):
        with self.lock:
            return list(self.requests)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def endpoints(c):
    """Endpoints made by a test, deleted after it (no later event goes to its receiver)."""
    made = []
    yield made
    for e in made:
        c.request("DELETE", "/v1/webhooks/" + e["id"])


def register(c, endpoints, url, event_types=("member.registered",), **fields):
    body = {"url": url, "event_types": list(event_types)}
    body.update(fields)
    e = ok(c.post("/v1/webhooks", body), 201)
    endpoints.append(e)
    return e


def deliveries(c, e):
    return ok(c.get("/v1/webhooks/%s/deliveries" % e["id"], params={"limit": 100}))["data"]


def signatures(request, *secrets):
    """The request's Kaiin-Signature checked by hand: t, then one v1 per secret in that order,
    each the hex HMAC-SHA256 of "<t>.<body>" by it. Returns t."""
    header = request["headers"]["Kaiin-Signature"]
    m = re.fullmatch(r"t=(\d+)((?:,v1=[0-9a-f]{64})+)", header)
    assert m, request["headers"]
    got = re.findall(r"v1=([0-9a-f]{64})", m.group(2))
    expected = [hmac.new(secret.encode(), m.group(1).encode() + b"." + request["body"],
                         hashlib.sha256).hexdigest() for secret in secrets]
    assert len(got) == len(expected) and all(map(hmac.compare_digest, expected, got)), (header, secrets)
    return int(m.group(1))


def verify(request, secret):
    """The request signed by secret alone."""
    return signatures(request, secret)


# --------------------------------------------------------------------------- endpoints
def test_create_shows_the_secret_once(c, endpoints, receiver):
    r = c.post("/v1/webhooks", {"url": receiver.url(), "event_types": ["member.registered", "invoice.paid"],
                                "description": "会計システム"})
    assert r.status_code == 201, r.text
    e = r.json()
    endpoints.append(e)
    assert r.headers["Location"] == "/v1/webhooks/" + e["id"]
    assert re.fullmatch(r"whsec_[0-9a-f]{64}", e["secret"]), e
    assert set(e) == {"id", "url", "event_types", "description", "enabled", "disabled_reason",
                      "disabled_at", "created_at", "version", "secret", "previous_secret_expires_at"}
    assert (e["url"], e["event_types"], e["description"], e["enabled"], e["disabled_reason"],
            e["disabled_at"], e["version"], e["previous_secret_expires_at"]) == \
        (receiver.url(), ["member.registered", "invoice.paid"], "会計システム", True, "", None, 1, None)
    got = ok(c.get("/v1/webhooks/" + e["id"]))
    assert "secret" not in got
    assert got == {k: v for k, v in e.items() if k != "secret"}
    listed = ok(c.get("/v1/webhooks", params={"limit": 100}))["data"]
    assert [x for x in listed if x["id"] == e["id"]] == [got]
    # a second endpoint gets a secret of its own
    other = register(c, endpoints, receiver.url())
    assert other["secret"] != e["secret"]


def test_patch_with_if_match(c, endpoints, receiver):
    e = register(c, endpoints, receiver.url())
    r = c.patch("/v1/webhooks/" + e["id"], {"event_types": ["*"], "description": "all"},
                headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert (r.json()["event_types"], r.json()["description"], r.json()["version"]) == (["*"], "all", 2)
    r = c.patch("/v1/webhooks/" + e["id"], {"enabled": False}, headers={"If-Match": '"1"'})
    assert r.status_code == 412, r.text
    r = ok(c.patch("/v1/webhooks/" + e["id"], {"enabled": False}, headers={"If-Match": '"2"'}))
    assert (r["enabled"], r["disabled_reason"], r["version"]) == (False, "", 3)
    assert r["disabled_at"] is not None
    assert ok(c.request("DELETE", "/v1/webhooks/" + e["id"]))["id"] == e["id"]
    assert c.get("/v1/webhooks/" + e["id"]).status_code == 404


# --------------------------------------------------------------------------- delivery
def test_a_registration_arrives_signed(c, endpoints, receiver):
    e = register(c, endpoints, receiver.url())
    m = c.create_member(name="ウェブフック 太郎")
    wait_for(lambda: receiver.got(), timeout=30, what="the delivery")
    settle(c)
    [request] = receiver.got()
    assert request["path"] == "/hook"
    assert request["headers"]["Content-Type"] == "application/json"
    t = verify(request, e["secret"])
    body = json.loads(request["body"])
    assert set(body) == {"id", "type", "created", "data"}
    assert body["type"] == "member.registered"
    assert body["data"]["id"] == m["id"] and body["data"]["email"] == m["email"]
    assert body["created"] == ms_of(m["created_at"]) // 1000
    [d] = deliveries(c, e)
    assert request["headers"]["Kaiin-Webhook-Id"] == d["id"]
    assert (d["webhook_id"], d["event_id"], d["event_type"], d["state"], d["attempts"],
            d["last_status_code"], d["last_response"], d["last_error"], d["next_attempt_at"]) == \
        (e["id"], body["id"], "member.registered", "succeeded", 1, 200, "ok 1", "", None)
    assert ms_of(d["last_attempt_at"]) // 1000 == t


def test_a_rotated_secret_signs_beside_the_new_one_until_it_expires(c, endpoints, receiver):
    """POST rotate-secret: a new secret, shown once; the old one signs every delivery beside it
    for expire_after_hours (24 when not given), then no more; 0 ends it at once."""
    e = register(c, endpoints, receiver.url())
    before = ok(c.get("/v1/test/clock"))["now"]
    r = ok(c.post("/v1/webhooks/%s/rotate-secret" % e["id"], {}))
    new = r["secret"]
    assert re.fullmatch(r"whsec_[0-9a-f]{64}", new) and new != e["secret"]
    assert r["version"] == e["version"] + 1
    assert ms_of(r["previous_secret_expires_at"]) - ms_of(before) in range(24 * 3600 * 1000, 24 * 3600 * 1000 + 60000)
    assert "secret" not in ok(c.get("/v1/webhooks/" + e["id"]))
    c.create_member()
    wait_for(lambda: receiver.got(), timeout=30, what="the delivery")
    signatures(receiver.got()[0], new, e["secret"])          # both, the new one first
    clock(c, advance="PT25H")                                 # the old one has expired
    c.create_member()
    wait_for(lambda: len(receiver.got()) == 2, timeout=30, what="the second delivery")
    verify(receiver.got()[1], new)
    # 0 hours: the replaced secret stops signing at once
    newer = ok(c.post("/v1/webhooks/%s/rotate-secret" % e["id"], {"expire_after_hours": 0}))["secret"]
    c.create_member()
    wait_for(lambda: len(receiver.got()) == 3, timeout=30, what="the third delivery")
    verify(receiver.got()[2], newer)
    for hours in (169, -1):
        bad = c.post("/v1/webhooks/%s/rotate-secret" % e["id"], {"expire_after_hours": hours})
        assert bad.status_code == 400, bad.text
        assert problem_fields(bad) == {"expire_after_hours": "must be an integer from 0 to 168"}, bad.text
    for text in ("1", 1.5, True):                  # named with the field's range, not int32's
        bad = c.post("/v1/webhooks/%s/rotate-secret" % e["id"], {"expire_after_hours": text})
        assert bad.status_code == 400, bad.text
        assert problem_fields(bad) == {"expire_after_hours": "must be an integer from 0 to 168"}, bad.text
    assert c.post("/v1/webhooks/00000000-0000-4000-8000-000000000000/rotate-secret", {}).status_code == 404


def test_event_types_filter(c, endpoints):
    wanted, unwanted, every = Receiver(), Receiver(), Receiver()
    try:
        register(c, endpoints, wanted.url(), ["member.registered"])
        quiet = register(c, endpoints, unwanted.url(), ["invoice.paid", "member.withdrawn"])
        register(c, endpoints, every.url(), ["*"])
        m = c.create_member()
        wait_for(lambda: wanted.got() and every.got(), timeout=30, what="the deliveries")
        settle(c)
        time.sleep(1.5)                       # a tick's time: nothing more comes
        assert [json.loads(x["body"])["data"]["id"] for x in wanted.got()] == [m["id"]]
        assert "member.registered" in [json.loads(x["body"])["type"] for x in every.got()]
        assert unwanted.got() == [] and deliveries(c, quiet) == []
    finally:
        for r in (wanted, unwanted, every):
            r.stop()


def test_a_failure_is_retried_after_the_back_off(c, endpoints):
    receiver = Receiver(status=500)
    try:
        e = register(c, endpoints, receiver.url())
        c.create_member()
        wait_for(lambda: receiver.got(), timeout=30, what="the first attempt")
        settle(c)
        [d] = deliveries(c, e)
        assert (d["state"], d["attempts"], d["last_status_code"], d["last_response"], d["last_error"]) == \
            ("pending", 1, 500, "boom 1", "the endpoint answered 500")
        assert ms_of(d["next_attempt_at"]) - ms_of(d["last_attempt_at"]) == MINUTE_MS
        receiver.status = 200
        clock(c, advance="PT30S")             # not yet due
        time.sleep(1.5)
        assert len(receiver.got()) == 1
        clock(c, advance="PT31S")
        wait_for(lambda: len(receiver.got()) == 2, timeout=30, what="the second attempt")
        settle(c)
        first, second = receiver.got()
        assert first["body"] == second["body"]
        assert first["headers"]["Kaiin-Webhook-Id"] == second["headers"]["Kaiin-Webhook-Id"] == d["id"]
        verify(second, e["secret"])
        [d] = deliveries(c, e)
        assert (d["state"], d["attempts"], d["last_status_code"], d["last_response"], d["last_error"],
                d["next_attempt_at"]) == ("succeeded", 2, 200, "ok 2", "", None)
    finally:
        receiver.stop()


def test_three_days_of_failures_disable_the_endpoint(wh, c, endpoints):
    """Attempts at once, then one per 10-hour move (each wait, 1 min to 10 h, falls inside it);
    the window's end, 72 h after the first, is the last attempt: 9 in all, then the delivery
    fails and the endpoint is disabled. Re-enabled, a redelivery goes through."""
    receiver = Receiver(status=503)
    try:
        e = register(c, endpoints, receiver.url())
        c.create_member()
        wait_for(lambda: receiver.got(), timeout=30, what="the first attempt")
        settle(c)
        for step in range(1, 8):              # up to 70 h after the first attempt
            clock(c, advance="PT10H")
            wait_for(lambda: len(receiver.got()) == 1 + step, timeout=30, what="attempt %d" % (step + 1))
            assert ok(c.get("/v1/webhooks/" + e["id"]))["enabled"] is True
        [d] = deliveries(c, e)
        assert (d["state"], d["attempts"]) == ("pending", 8)
        # the next wait (10 h) is cut by the window's end: 72 h after the first attempt, which
        # came within seconds of the delivery's writing
        window_end = ms_of(d["next_attempt_at"]) - ms_of(d["created_at"]) - 72 * 3600 * 1000
        assert 0 <= window_end < 30 * 1000, window_end
        clock(c, advance="PT10H")             # 80 h: the window's last attempt
        wait_for(lambda: not ok(c.get("/v1/webhooks/" + e["id"]))["enabled"], timeout=30,
                 what="the endpoint disabled")
        assert len(receiver.got()) == 9
        got = ok(c.get("/v1/webhooks/" + e["id"]))
        assert got["disabled_reason"] == \
            "every delivery failed for 3 days (the last: the endpoint answered 503)"
        assert got["disabled_at"] is not None
        [d] = deliveries(c, e)
        assert (d["state"], d["attempts"], d["last_status_code"], d["next_attempt_at"]) == \
            ("failed", 9, 503, None)
        failed = ok(c.get("/v1/webhooks/%s/deliveries" % e["id"], params={"state": "failed"}))["data"]
        assert [x["id"] for x in failed] == [d["id"]]
        # what staff see: the event in messaging's outbox
        assert wh.sql("select count (*) from messaging.outbox where type = 'webhook.disabled'"
                      " and aggregate_id = '%s'" % e["id"]) == [["1"]]
        # re-enabled, and the failed delivery sent again by hand
        receiver.status = 200
        r = ok(c.patch("/v1/webhooks/" + e["id"], {"enabled": True},
                       headers={"If-Match": '"%d"' % got["version"]}))
        assert (r["enabled"], r["disabled_reason"], r["disabled_at"]) == (True, "", None)
        d = ok(c.post("/v1/webhooks/%s/deliveries/%s/redeliver" % (e["id"], d["id"]), {}))
        assert d["state"] == "pending"
        wait_for(lambda: len(receiver.got()) == 10, timeout=30, what="the redelivery")
        settle(c)
        [d] = deliveries(c, e)
        assert (d["state"], d["attempts"], d["last_status_code"]) == ("succeeded", 10, 200)
    finally:
        receiver.stop()


def test_redeliver(c, endpoints, receiver):
    e = register(c, endpoints, receiver.url())
    c.create_member()
    wait_for(lambda: receiver.got(), timeout=30, what="the delivery")
    settle(c)
    [d] = deliveries(c, e)
    r = ok(c.post("/v1/webhooks/%s/deliveries/%s/redeliver" % (e["id"], d["id"]), {}))
    assert (r["id"], r["state"], r["attempts"]) == (d["id"], "pending", 1)
    wait_for(lambda: len(receiver.got()) == 2, timeout=30, what="the redelivery")
    settle(c)
    first, second = receiver.got()
    assert first["body"] == second["body"]
    assert second["headers"]["Kaiin-Webhook-Id"] == d["id"]
    verify(second, e["secret"])
    [d] = deliveries(c, e)
    assert (d["state"], d["attempts"], d["last_response"]) == ("succeeded", 2, "ok 2")
    # an unknown delivery, or one of another endpoint
    other = register(c, endpoints, receiver.url(), ["invoice.paid"])
    assert c.post("/v1/webhooks/%s/deliveries/%s/redeliver" % (other["id"], d["id"]), {}).status_code == 404
    assert c.post("/v1/webhooks/%s/deliveries/nope/redeliver" % e["id"], {}).status_code == 404
    assert c.get("/v1/webhooks/00000000-0000-4000-8000-000000000000/deliveries").status_code == 404


def test_the_delivery_log_pages(c, endpoints, receiver):
    e = register(c, endpoints, receiver.url())
    for _ in range(3):
        c.create_member()
    wait_for(lambda: len(receiver.got()) == 3, timeout=30, what="three deliveries")
    settle(c)
    page = ok(c.get("/v1/webhooks/%s/deliveries" % e["id"], params={"limit": 2}))
    assert len(page["data"]) == 2 and page["next_cursor"]
    rest = ok(c.get("/v1/webhooks/%s/deliveries" % e["id"],
                    params={"limit": 2, "cursor": page["next_cursor"]}))
    assert len(rest["data"]) == 1
    ids = [d["id"] for d in page["data"] + rest["data"]]
    assert sorted(ids) == sorted(x["headers"]["Kaiin-Webhook-Id"] for x in receiver.got())
    # filtered by state: the three succeeded, none is pending or failed
    url = "/v1/webhooks/%s/deliveries" % e["id"]
    assert sorted(d["id"] for d in ok(c.get(url, params={"state": "succeeded"}))["data"]) == sorted(ids)
    assert ok(c.get(url, params={"state": "pending"}))["data"] == []
    assert ok(c.get(url, params={"state": "failed"}))["data"] == []
    r = c.get(url, params={"state": "done"})
    assert r.status_code == 400 and problem_fields(r) == {"state": "must be one of pending, succeeded or failed"}, r.text


def test_the_answer_is_kept_as_text(c, endpoints):
    """The log keeps the answer's first 1000 bytes, as UTF-8 text: a byte that is not UTF-8
    (0xff, a surrogate's 0xed 0xa0 0x80) or a control character (0x01) becomes "?"."""
    receiver = Receiver(answer="あok".encode() + b"\xff\x01\xed\xa0\x80" + b"x" * 2000)
    try:
        e = register(c, endpoints, receiver.url())
        c.create_member()
        wait_for(lambda: receiver.got(), timeout=30, what="the delivery")
        settle(c)
        [d] = deliveries(c, e)
        assert (d["state"], d["last_status_code"]) == ("succeeded", 200)
        assert d["last_response"] == "あok?????" + "x" * 990
    finally:
        receiver.stop()


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("url", [
    "not a url", "ftp://example.com/hook", "https://", "https://user:pw@example.com/hook",
])
def test_a_malformed_url_is_refused(c, url):
    r = c.post("/v1/webhooks", {"url": url, "event_types": ["*"]})
    assert r.status_code == 400, r.text
    assert problem_fields(r) == {"url": "must be an absolute http or https URL"}


@pytest.mark.parametrize("url", [
    "http://127.0.0.2/hook", "https://10.1.2.3/hook", "https://172.16.0.1/", "https://192.168.1.1/",
    "https://169.254.169.254/latest/meta-data", "https://[::1]/hook", "https://[fe80::1]/hook",
    "https://[fd00::1]/hook", "https://0.0.0.0/", "https://224.0.0.1/", "https://localhost/hook",
    "https://[::ffff:10.0.0.1]/hook", "https://167772161/hook", "https://0x0a000001/hook",
])
def test_an_internal_address_is_refused(c, url):
    r = c.post("/v1/webhooks", {"url": url, "event_types": ["*"]})
    assert r.status_code == 400, r.text
    assert problem_fields(r) == {
        "url": "must not point at a private, loopback, link-local or other internal address"}


def test_other_bad_input(c, receiver):
    r = c.post("/v1/webhooks", {"url": receiver.url(), "event_types": ["*"], "colour": "red"})
    assert r.status_code == 400 and "colour" in problem_fields(r), r.text
    for types in ([], ["Member Registered"], ["member"]):
        r = c.post("/v1/webhooks", {"url": receiver.url(), "event_types": types})
        assert r.status_code == 400, r.text
        assert problem_fields(r) == {"event_types": 'must be 1 to 50 event types such as invoice.paid, or "*"'}
    r = c.post("/v1/webhooks", {"event_types": ["*"]})
    assert r.status_code == 400 and "url" in problem_fields(r), r.text
    r = c.post("/v1/webhooks", {"url": "https://10.0.0.1/", "event_types": ["*"]},
               headers={"Accept-Language": "ja"})
    assert problem_fields(r) == {"url": "プライベート、ループバック、リンクローカルなどの内部アドレスは指定できません"}


# --------------------------------------------------------------------------- roles
@pytest.mark.parametrize("role,code", [("admin", 200), ("viewer", 403), ("marketing", 403),
                                       ("support", 403), ("finance", 403)])
def test_roles(wh, c, role, code, receiver, endpoints):
    staff, password = wh.create_staff(role)
    as_role = wh.client_as(wh.login(staff["email"], password))
    assert as_role.get("/v1/webhooks").status_code == code
    r = as_role.post("/v1/webhooks", {"url": receiver.url(), "event_types": ["*"]})
    assert r.status_code == (201 if code == 200 else 403), r.text
    if r.status_code == 201:
        endpoints.append(r.json())


# --------------------------------------------------------------------------- crashes, names
@pytest.mark.chaos
def test_a_name_is_checked_when_it_resolves_and_kill_9_loses_nothing(wh, c, endpoints):
    """A host name is accepted and resolved at each attempt: with no allowed range, its
    loopback address fails the attempt with the reason in the log. kaiin-messaging killed (-9)
    while deliveries go out: after the restart each event reaches the receiver at least once,
    and the log holds each exactly once, succeeded."""
    receiver = Receiver(delay=1.0)
    try:
        restart_messaging(wh, c, env={"MESSAGING_WEBHOOK_ALLOW": ""})
        host = harness_hostname()
        e = register(c, endpoints, receiver.url(host))
        c.create_member()
        wait_for(lambda: deliveries(c, e) and deliveries(c, e)[0]["attempts"] == 1, timeout=30,
                 what="the refused attempt")
        [d] = deliveries(c, e)
        assert (d["state"], d["last_status_code"], d["last_error"]) == \
            ("pending", None, "the address 127.0.0.1 is refused (loopback; MESSAGING_WEBHOOK_ALLOW can allow it)")
        assert receiver.got() == []
        # allowed again; more events; killed while they go out one by one
        restart_messaging(wh, c)
        members = [c.create_member() for _ in range(6)]
        wait_for(lambda: receiver.got(), timeout=30, what="a first delivery")
        sent_before = restart_messaging(wh, c, then=lambda: len(receiver.got()))
        assert sent_before < 6                # each answer takes the receiver a second
        clock(c, advance="PT2M")              # the refused one due again
        wait_for(lambda: len(deliveries(c, e)) == 7 and all(x["state"] == "succeeded" for x in deliveries(c, e)),
                 timeout=60, what="every delivery succeeded")
        log = deliveries(c, e)
        delivered = {x["event_id"] for x in log if x["state"] == "succeeded"}
        harness.record_fault("messaging: kill -9 while webhooks are delivered", "kill -9 ×1", 7,
                             7 - len(delivered), len(log) - len({x["event_id"] for x in log}))
        assert len({x["event_id"] for x in log}) == 7
        got_ids = {json.loads(x["body"])["data"]["id"] for x in receiver.got()}
        assert {m["id"] for m in members} <= got_ids
        print("deliveries before the kill: %d, requests received: %d, log rows: %d"
              % (sent_before, len(receiver.got()), len(log)))
    finally:
        receiver.stop()


def restart_messaging(wh, c, env=None, then=None):
    """kill -9 of kaiin-messaging and a new one started (env: settings changed); then() is
    called once it is dead, and its answer returned. Waits until every worker of the new one
    has its database connection (on a loaded machine the first ones come late: 503)."""
    wh.kill_service("messaging")
    answer = then() if then else None
    wh.wait_no_workers(service="messaging")
    wh.start_service("messaging", env=env)
    wh.wait_ready()
    wait_for(lambda: all(c.get("/v1/webhooks").status_code == 200
                         for _ in range(2 * wh.workers["messaging"])),
             timeout=60, interval=0.5, what="every messaging worker connected")
    return answer


def harness_hostname():
    """A name of this machine's /etc/hosts that is 127.0.0.1 and not localhost."""
    with open("/etc/hosts") as f:
        for line in f:
            parts = line.split("#")[0].split()
            if len(parts) >= 2 and parts[0] == "127.0.0.1":
                for name in parts[1:]:
                    if name != "localhost" and not name.endswith(".localhost"):
                        return name
    pytest.skip("no name of 127.0.0.1 in /etc/hosts but localhost")
