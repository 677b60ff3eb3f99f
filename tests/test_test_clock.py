"""test_test_clock.py - /v1/test/clock: the test clock moves every process forward, only in test
mode, for owners and admins. Runs on suites of its own: a moved clock would age the shared
suite's sessions and rows."""

import datetime

import time

import pytest

import harness
from harness import unique_email


@pytest.fixture(scope="module")
def clock_suite():
    s = harness.Suite("clock").start()
    yield s
    s.stop()
    probs = s.take_problems()
    s.cleanup_dir()
    assert not probs, "\n\n".join(probs)


def parse(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)


def test_get_says_now_and_test_mode(clock_suite):
    r = clock_suite.client.get("/v1/test/clock")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["test_mode"] is True
    assert abs((parse(body["now"]) - datetime.datetime.now(datetime.timezone.utc)).total_seconds()) < 3600 * 24 * 365 * 10


def ms(rfc3339):
    """RFC 3339 ("2031-01-31T10:00:00.123Z") → Unix milliseconds."""
    d = datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))
    return int(round(d.timestamp() * 1000))


def test_advance_to_and_calendar_months(clock_suite):
    """The calendar arithmetic of moves. A move answers once the work due by its target is done,
    and the clock runs on meanwhile: each answer's now is its target plus at most the wall time
    the moves have taken so far (a move of a year steps through every due moment in turn)."""
    c = clock_suite.client
    taken = [0.0]

    def move(body, target):
        started = time.monotonic()
        r = c.post("/v1/test/clock", body, timeout=(3.0, 120.0))
        taken[0] += time.monotonic() - started
        assert r.status_code == 200, r.text
        now = r.json()["now"]
        late = (ms(now) - ms(target)) / 1000.0
        assert 0 <= late <= taken[0] + 1.0, (body, now, target, taken[0])
        return r.json()

    body = move({"to": "2031-01-31T10:00:00Z"}, "2031-01-31T10:00:00.000Z")
    assert set(body) == {"now", "work_done"}, body
    assert isinstance(body["work_done"], int) and body["work_done"] >= 0
    # A month from the 31st of January is the last day of February (clamped).
    move({"advance": "P1M"}, "2031-02-28T10:00:00.000Z")
    # Years and months first (2032 is a leap year: the 28th stays), then days and time.
    move({"advance": "P1Y1M2DT3H4M5S"}, "2032-03-30T13:04:05.000Z")
    move({"advance": "P1W"}, "2032-04-06T13:04:05.000Z")
    r = c.get("/v1/test/clock")
    assert r.json()["now"].startswith("2032-04-06T13:04:"), r.json()
    # Every envelope carries the test time: a member created now was created "in 2032".
    m = c.create_member(email=unique_email("Clock"))
    assert m["created_at"].startswith("2032-04-06T13:04:"), m
    rows = clock_suite.sql("select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD') "
                           "from member.members where id = '%s'" % m["id"])
    assert rows == [["2032-04-06"]], rows


@pytest.mark.parametrize("body,field", [
    ({"advance": "1M"}, "advance"), ({"advance": "P"}, "advance"), ({"advance": "PT"}, "advance"),
    ({"advance": "P1H"}, "advance"), ({"advance": "PT1D"}, "advance"), ({"advance": "P1D1Y"}, "advance"),
    ({"advance": "P-1D"}, "advance"), ({"advance": 5}, "advance"), ({"to": "tomorrow"}, "to"),
    ({"to": "2001-01-01T00:00:00Z"}, "to"), ({}, "advance"),
    ({"advance": "P1D", "to": "2040-01-01T00:00:00Z"}, "to"), ({"advance": "P1D", "x": 1}, "x"),
])
def test_bad_bodies_are_400(clock_suite, body, field):
    before = clock_suite.client.get("/v1/test/clock").json()["now"]
    r = clock_suite.client.post("/v1/test/clock", body)
    assert r.status_code == 400, r.text
    assert field in [e["field"] for e in r.json()["errors"]], r.text
    after = clock_suite.client.get("/v1/test/clock").json()["now"]
    assert after[:16] == before[:16]


def test_only_owner_and_admin(clock_suite):
    for role, status in (("viewer", 403), ("support", 403), ("finance", 403), ("admin", 200)):
        staff, password = clock_suite.create_staff(role)
        c = clock_suite.client_as(clock_suite.login(staff["email"], password))
        assert c.get("/v1/test/clock").status_code == status, role
        assert c.post("/v1/test/clock", {"advance": "PT1S"}).status_code == status, role
    assert clock_suite.client.get("/v1/test/clock", auth=False).status_code == 401


def test_a_service_down_is_503_naming_it(clock_suite):
    clock_suite.kill_member()
    clock_suite.wait_no_workers()
    try:
        r = clock_suite.client.post("/v1/test/clock", {"advance": "PT1M"})
        assert r.status_code == 503, r.text
        assert "member" in r.json()["detail"] and r.json().get("service") == "member", r.text
    finally:
        clock_suite.start_member()
        clock_suite.wait_ready()
    r = clock_suite.client.post("/v1/test/clock", {"advance": "PT1M"})
    assert r.status_code == 200, r.text


def test_a_restarted_service_catches_up_with_the_next_request(clock_suite):
    """The new process starts at the wall clock; the first envelope moves it forward."""
    now = clock_suite.client.get("/v1/test/clock").json()["now"]
    clock_suite.restart_member()
    m = clock_suite.client.create_member(email=unique_email("ClockRestart"))
    assert m["created_at"][:10] == now[:10], (m, now)


class _PlainSuite(harness.Suite):
    def base_env(self):
        env = super().base_env()
        env.pop("KAIIN_TEST_MODE", None)
        return env


def test_no_route_outside_test_mode():
    s = _PlainSuite("noclock", billing=False).start()
    try:
        for method in ("GET", "POST"):
            r = s.client.request(method, "/v1/test/clock", json_body={"advance": "P1D"})
            assert r.status_code == 404, r.text
            r = s.client.request(method, "/v1/test/clock", auth=False)
            assert r.status_code == 404, r.text
    finally:
        s.stop()
        probs = s.take_problems()
        s.cleanup_dir()
    assert not probs, probs


def test_answers_match_the_openapi_document(clock_suite):
    from test_openapi import check, fetch
    c = clock_suite.client
    spec = fetch(c)
    r = c.get("/v1/test/clock")
    assert r.status_code == 200
    check(spec, "get", "/v1/test/clock", r)
    r = c.post("/v1/test/clock", {"advance": "PT1H"})
    assert r.status_code == 200, r.text
    check(spec, "post", "/v1/test/clock", r)
    r = c.post("/v1/test/clock", {"advance": "soon"})
    assert r.status_code == 400
    check(spec, "post", "/v1/test/clock", r)
