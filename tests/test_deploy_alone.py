"""test_deploy_alone.py - a team deploys its service alone. With the gateway already running, a
service binary whose routes and messages the gateway's build has never seen (tests/echo: its
own proto, compiled into it alone) starts, and its routes answer through the gateway with the
auth and JSON it declares; the gateway is neither rebuilt nor restarted. A rolling update to a
build with one more response field loses no request, and clients see the field as soon as only
the new build serves."""

import os
import signal
import threading
import time

import pytest

import harness
from test_members import assert_problem

ECHO = os.path.join(harness.bin_dir(), os.pardir, "tests", "kaiin-echo")


def echo_env(build):
    return {"ECHO_MIGRATIONS": os.path.join(harness.REPO, "tests", "echo", "migrations"),
            "ECHO_BUILD": str(build)}


@pytest.fixture(scope="module")
def deploy():
    assert os.access(ECHO, os.X_OK), "%s is not built (make all builds it)" % ECHO
    s = harness.Suite("deploy-alone", services=["member"]).start()
    s.db_init(["echo"])
    yield s
    s.stop()
    problems = s.take_problems()
    s.cleanup_dir()
    assert not problems, "\n\n".join(problems)


def test_a_new_service_answers_through_the_running_gateway(deploy):
    s, c = deploy, deploy.client
    gateway_pid = s.gateway.pid
    r = c.request("PUT", "/v1/echo/a", json_body={"text": "hi"})
    assert_problem(r, 404, "not-found")                # nobody announced the route yet

    s.start_service("echo", binary=ECHO, env=echo_env(1))
    r = c.request("PUT", "/v1/echo/a", json_body={"text": "hi", "times": 2})
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"id", "text", "build", "said_at", "version"}, body     # shout: hidden
    assert (body["id"], body["text"], body["build"], body["version"]) == ("a", "hi hi", "1", 1)
    assert r.headers["Location"] == "/v1/echo/a" and r.headers["ETag"] == '"1"', r.headers
    r = c.get("/v1/echo/a")
    assert r.status_code == 200 and r.json() == body and r.headers["ETag"] == '"1"', r.text

    # Its declared rules, read by the service: every bad field named at once.
    r = c.request("PUT", "/v1/echo/b", json_body={"text": "x" * 21, "times": 9, "loud": True})
    problem = assert_problem(r, 400, "invalid-request")
    assert sorted(e["field"] for e in problem["errors"]) == ["loud", "text", "times"], problem
    r = c.request("PUT", "/v1/echo/b", json_body={"times": 2})
    assert [e["field"] for e in assert_problem(r, 400, "invalid-request")["errors"]] == ["text"]
    assert_problem(c.get("/v1/echo/nobody"), 404, "not-found")

    # Its declared permission, checked by the gateway: echo.say is the owner's and admin's.
    assert_problem(c.request("PUT", "/v1/echo/a", json_body={"text": "x"}, auth=False),
                   401, "unauthenticated")
    account, password = s.create_staff("support")
    support = s.client_as(s.login(account["email"], password))
    body403 = assert_problem(support.request("PUT", "/v1/echo/a", json_body={"text": "x"}),
                             403, "forbidden")
    assert body403["detail"] == "the role 'support' may not do this"
    assert support.get("/v1/echo/a").status_code == 200     # any signed-in caller may read
    r = c.request("POST", "/v1/echo/a", json_body={"text": "x"})
    assert_problem(r, 405, "method-not-allowed")
    assert set(r.headers["Allow"].split(", ")) == {"PUT", "GET"}

    assert s.gateway.pid == gateway_pid and s.gateway.alive()


def test_a_rolling_update_adds_a_field_and_loses_no_request(deploy):
    s, c = deploy, deploy.client
    old = s.running["echo"][0]
    assert c.request("PUT", "/v1/echo/r", json_body={"text": "roll"}).status_code == 201
    seen, stop = [], threading.Event()

    def reader():
        client = s.client_as(s.token)
        while not stop.is_set():
            sent = time.monotonic()                 # when asked: answered by whoever served then
            r = client.get("/v1/echo/r")
            seen.append((sent, r.status_code, r.json().get("shout", "-")))

    def answers_since(moment, count):
        deadline = time.monotonic() + 60
        while sum(1 for at, _, _ in seen if at > moment) < count:
            assert time.monotonic() < deadline, "the reader got too few answers"
            time.sleep(0.02)

    thread = threading.Thread(target=reader)
    start = time.monotonic()
    thread.start()
    try:
        answers_since(start, 20)
        both = time.monotonic()
        new = s.start_service("echo", binary=ECHO, env=echo_env(2))
        answers_since(both, 20)
        s.kill_service("echo", p=old, sig=signal.SIGTERM)
        assert old.popen.wait(timeout=10) == 0
        gone = time.monotonic()
        answers_since(gone, 20)
    finally:
        stop.set()
        thread.join(30)
    assert {status for _, status, _ in seen} == {200}, [x for x in seen if x[1] != 200][:5]
    assert {shout for at, _, shout in seen if at < both} == {"-"}     # build 1 alone: no shout
    after = [shout for at, _, shout in seen if at > gone]
    assert len(after) >= 20 and set(after) == {"ROLL"}, after[:5]   # build 2 alone: every answer
    assert new.alive()


def test_a_restarted_gateway_knows_the_routes_of_a_service_that_is_down(deploy):
    """The gateway keeps what services announced in Redis: restarted while echo is down, it
    answers echo's routes 503 (the service is unavailable), not 404 (no such route)."""
    s, c = deploy, deploy.client
    for p in list(s.running["echo"]):
        s.kill_service("echo", p=p, sig=signal.SIGTERM)
        assert p.popen.wait(timeout=10) == 0
    s.wait_no_workers(service="echo", timeout=10)
    assert_problem(c.get("/v1/echo/r"), 503, "service-unavailable")
    s.restart_gateway()
    assert_problem(c.get("/v1/echo/r"), 503, "service-unavailable")
    assert_problem(c.get("/v1/nothing-announced"), 404, "not-found")
    s.start_service("echo", binary=ECHO, env=echo_env(2))
    r = c.get("/v1/echo/r")
    assert r.status_code == 200 and r.json()["shout"] == "ROLL", r.text
