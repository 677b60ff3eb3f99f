"""test_faults.py - processes killed, restarted, doubled; PostgreSQL restarted under the service.

These tests run on their own suite (not the shared one) and put it back in its baseline state
after each test (PostgreSQL up, one gateway, exactly one live member process), so they do not
depend on their order.
"""

import json
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

import harness
from harness import unique_email


@pytest.fixture(scope="module")
def fsuite():
    s = harness.Suite("faults").start()
    yield s
    s.stop()
    probs = s.take_problems()
    if probs:
        pytest.fail("fault suite end: Kaiin process problems:\n\n%s" % "\n\n".join(probs),
                    pytrace=False)
    s.cleanup_dir()


@pytest.fixture
def fs(fsuite):
    """The fault suite, restored to its baseline after the test."""
    yield fsuite
    s = fsuite
    if s.redis is None or not s.redis.alive():
        s.start_redis()
    if not s.pg_running:
        s.start_pg()
    if s.gateway is None or not s.gateway.alive():
        s.start_gateway(wait=False)
    stale = [p for p in s.members if not p.alive() or p.term_sent]
    if stale or len(s.members) != 1:
        s.restart_member()                 # stops (and inspects) every member, starts one
    s.wait_ready()


def get_member(s, mid, timeout=(1.0, 3.0)):
    return s.client.get("/v1/members/" + mid, timeout=timeout)


@pytest.mark.heavy
def test_member_killed_gives_503_after_the_grace_and_gateway_lives(fs):
    """A service that lost its last worker may be restarting: requests wait 4 s for it (the
    broker's grace), then are answered 503, and from then on at once."""
    m = fs.client.create_member()
    gw_pid = fs.gateway.pid
    t0 = time.monotonic()
    fs.kill_member(sig=signal.SIGKILL)
    first_503 = None
    while time.monotonic() - t0 < 8.0:
        r = get_member(fs, m["id"], timeout=(1.0, 7.0))
        if r.status_code == 503 and r.json()["code"] == "service_lost_request":
            continue                               # reached the worker just before it died
        if r.status_code == 503:
            assert r.json()["code"] == "service_down", r.text
            first_503 = time.monotonic() - t0
            break
        assert r.status_code == 200, r.text        # a request that beat the kill
    assert first_503 is not None and 3.9 <= first_503 <= 5.5, \
        "member routes answered 503 after %s s" % first_503
    r = fs.client.post("/v1/members", {"email": unique_email()}, timeout=(1.0, 2.0))
    assert r.status_code == 503 and r.elapsed_s < 1.0, (r.status_code, r.elapsed_s)
    b = r.json()
    assert b["type"] == "/problems/service-unavailable"
    assert r.headers["Content-Type"].startswith("application/problem+json")
    for _ in range(5):
        r = get_member(fs, m["id"])
        assert r.status_code == 503 and r.elapsed_s < 1.0, (r.status_code, r.elapsed_s)
    h = fs.client.get("/healthz", auth=False)
    assert h.status_code == 200 and h.json() == {"status": "ok"}
    deadline = time.monotonic() + 3
    while True:
        rz = fs.client.get("/readyz", auth=False)
        if rz.status_code == 503 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert rz.status_code == 503, rz.text
    body = rz.json()
    assert body["type"] == "/problems/not-ready" and body["title"] == "Not ready"
    ja = fs.client.get("/readyz", auth=False, headers={"Accept-Language": "ja"}).json()
    assert (ja["type"], ja["title"]) == ("/problems/not-ready", "準備ができていません"), ja
    assert body["checks"]["member"] != "ok"
    assert body["checks"]["postgresql"] == "ok" and body["checks"]["redis"] == "ok"
    assert "member" in body["detail"]
    # restart: served again without restarting the gateway
    fs.start_member(wait=False)
    deadline = time.monotonic() + 15
    while get_member(fs, m["id"]).status_code != 200:
        assert time.monotonic() < deadline, "member not served again after restart"
        time.sleep(0.1)
    assert fs.gateway.pid == gw_pid and fs.gateway.alive()
    # ready once the service's own workers are back too (a method's own, member.Get, may
    # register first)
    while fs.client.get("/readyz", auth=False).status_code != 200:
        assert time.monotonic() < deadline, "not ready again after member's restart"
        time.sleep(0.1)
    assert fs.client.post("/v1/members", {"email": unique_email()}).status_code == 201


def queued(s, service="member"):
    return next(v for n, l, v in s.metrics()
                if n == "kaiin_broker_queued" and l.get("service") == service)


@pytest.mark.heavy
def test_requests_waiting_for_a_restarting_service_are_counted(fs):
    """kaiin_broker_queued shows the requests waiting in the broker for a worker: none while
    member serves; while it is down, ours among them (the other services' polls of
    member.EventsSince wait there too, so at least ours); none once the grace has passed and
    every waiting request was answered 503."""
    m = fs.client.create_member()
    assert queued(fs) == 0
    fs.kill_member(sig=signal.SIGKILL)
    fs.wait_no_workers()
    with ThreadPoolExecutor(1) as ex:
        pending = ex.submit(get_member, fs, m["id"], timeout=(1.0, 8.0))
        counted = 0
        while not pending.done():
            counted = max(counted, queued(fs))
            time.sleep(0.02)
        assert pending.result().status_code == 503
    assert counted >= 1
    assert queued(fs) == 0


def instances(s):
    return {l["instance"]: v for n, l, v in s.metrics()
            if n == "kaiin_broker_requests_total" and l.get("service") == "member"}


@pytest.mark.heavy
def test_a_request_during_a_restart_is_served_by_the_new_process(fs):
    """Killed and started again at once (a supervisor's restart): a request sent between the
    two waits for the new process instead of failing."""
    m = fs.client.create_member()
    fs.kill_member(sig=signal.SIGKILL)
    with ThreadPoolExecutor(1) as ex:
        pending = ex.submit(get_member, fs, m["id"], timeout=(1.0, 8.0))
        fs.start_member(wait=False)
        r = pending.result()
    assert r.status_code == 200 and r.json() == m, (r.status_code, r.text)
    fs.wait_ready()


@pytest.mark.heavy
def under_write_load(fs, fault):
    """Six clients create members without pause; after 0.7 s fault() runs (it returns when the
    fault is over), then the clients stop. Returns the ids answered 201, and every other answer
    (a status, or the exception of a request cut off)."""
    acked, other = [], []
    lock = threading.Lock()
    stop = threading.Event()

    def writer():
        while not stop.is_set():
            try:
                r = fs.client.post("/v1/members", {"email": unique_email("ack")},
                                   timeout=(1.0, 8.0))
            except requests.RequestException as e:
                with lock:
                    other.append(repr(e))
                continue
            with lock:
                if r.status_code == 201:
                    acked.append(r.json()["id"])
                else:
                    other.append(r.status_code)

    with ThreadPoolExecutor(6) as ex:
        futs = [ex.submit(writer) for _ in range(6)]
        time.sleep(0.7)
        try:
            fault()
        finally:
            stop.set()                  # also when fault() failed: else the writers never end
        for f in futs:
            f.result()
    return acked, other


@pytest.mark.chaos
def test_two_members_share_the_load_and_kill_loses_no_ack(fs):
    first = fs.member()
    second = fs.start_member()
    # Both processes' workers are served (a loaded machine may drop a worker for a heartbeat
    # and see it come back: wait for the count, do not take one reading).
    deadline = time.monotonic() + 20
    while fs.broker_workers() != 2 * fs.member_workers:
        assert time.monotonic() < deadline, (fs.broker_workers(), 2 * fs.member_workers)
        time.sleep(0.1)
    before = instances(fs)
    with ThreadPoolExecutor(8) as ex:
        codes = list(ex.map(lambda _: fs.client.get("/v1/members", params={"limit": 1}).status_code,
                            range(80)))
    assert codes == [200] * 80
    after = instances(fs)
    served = {}
    for p in (first, second):
        keys = [k for k in after if k.endswith(":%d" % p.pid)]
        assert len(keys) == 1, (p.pid, after)
        served[p.pid] = after[keys[0]] - before.get(keys[0], 0)
    assert all(v > 0 for v in served.values()), "requests not spread: %s" % served

    # Writes while one of the two is SIGKILLed: every acknowledged (201) id must be kept.
    def kill():
        fs.kill_member(first, sig=signal.SIGKILL)
        time.sleep(1.5)
    acked, other = under_write_load(fs, kill)
    n = fs.sql("select count(*) from member.members where id in (%s)"
               % ",".join("'%s'" % i for i in acked))
    harness.record_fault("member: kill -9 of one of two processes under 6 writers", "kill -9 ×1",
                         len(acked), len(acked) - int(n[0][0]))
    assert len(acked) > 20, (len(acked), other)
    assert all(o == 503 for o in other), "unexpected answers during the kill: %s" % other[:10]
    for mid in acked:
        r = get_member(fs, mid)
        assert r.status_code == 200, (mid, r.status_code, r.text)
    assert n == [[str(len(acked))]]
    # the survivor serves everything alone
    assert second.alive()
    assert fs.client.post("/v1/members", {"email": unique_email()}).status_code == 201


@pytest.mark.heavy
@pytest.mark.chaos
def test_postgres_crash_under_a_write_load_loses_no_acknowledged_write(fs):
    """PostgreSQL's processes die (pg_ctl -m immediate: no checkpoint, crash recovery at the
    start) while six clients create members, and it is started again 1 s later: every create
    answered 201 is stored, once, with its one event; the others were answered 503; the service
    writes again, without a restart of its own, within 10 s."""
    def crash():
        fs.stop_pg(mode="immediate")
        try:
            time.sleep(1.0)
        finally:
            fs.start_pg()
        deadline = time.monotonic() + 10
        while fs.client.post("/v1/members", {"email": unique_email()}, timeout=(1.0, 8.0)).status_code != 201:
            assert time.monotonic() < deadline, "no write stored 10 s after PostgreSQL came back"
            time.sleep(0.1)
    acked, other = under_write_load(fs, crash)
    ids = ",".join("'%s'" % i for i in acked)
    [[stored, events]] = fs.sql("select (select count(*) from member.members where id in (%s)),"
                                " (select count(*) from member.outbox where type = 'member.registered'"
                                " and aggregate_id in (%s))" % (ids, ids))
    harness.record_fault("member: PostgreSQL crashed and started again under 6 writers",
                         "pg immediate stop ×1", len(acked), len(acked) - int(stored),
                         int(events) - int(stored))
    assert len(acked) > 20 and int(stored) == len(acked) and int(events) == len(acked), \
        (len(acked), stored, events)
    assert other and all(o == 503 for o in other), other[:10]
    assert fs.member().alive()


@pytest.mark.heavy
def test_postgres_restart_under_member(fs):
    m = fs.client.create_member()
    fs.stop_pg()
    try:
        codes = []
        for _ in range(4):
            r = fs.client.get("/v1/members/" + m["id"], timeout=(1.0, 8.0))
            assert r.elapsed_s < 3.0, "request hung %.1fs while PostgreSQL was down" % r.elapsed_s
            codes.append(r.status_code)
            r = fs.client.post("/v1/members", {"email": unique_email()}, timeout=(1.0, 8.0))
            assert r.elapsed_s < 3.0, "request hung %.1fs while PostgreSQL was down" % r.elapsed_s
            codes.append(r.status_code)
        assert set(codes) == {503}, codes
        assert fs.client.get("/healthz").status_code == 200
        deadline = time.monotonic() + 5
        while True:
            rz = fs.client.get("/readyz")
            if rz.status_code == 503 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert rz.status_code == 503 and rz.json()["checks"]["postgresql"] != "ok", rz.text
    finally:
        fs.start_pg()
    t0 = time.monotonic()
    while True:
        r = fs.client.get("/v1/members/" + m["id"], timeout=(1.0, 8.0))
        if r.status_code == 200:
            break
        assert r.status_code == 503, r.text
        assert time.monotonic() - t0 < 5.0, "not served 5 s after PostgreSQL came back"
        time.sleep(0.1)
    assert r.json() == m
    # every worker thread reconnected: enough parallel writes to reach all of them
    with ThreadPoolExecutor(8) as ex:
        codes = list(ex.map(lambda _: fs.client.post("/v1/members",
                                                     {"email": unique_email()}).status_code,
                            range(24)))
    assert codes == [201] * 24, codes
    assert fs.member().alive()


@pytest.mark.heavy
def test_member_sigterm_finishes_in_flight_requests(fs):
    """Every worker holds a request (a member's withdrawal, blocked on a lock) when SIGTERM
    arrives: each is finished and answered before the process exits. (Withdrawals, not
    creates or changes: those that arrive together share their method's own workers, a commit
    for all.)"""
    # A new process: every thread's connection is made and its statements prepared at start
    # (a connection lost when an earlier test restarted PostgreSQL would be made again under the
    # lock, its statements waiting to be prepared, not its withdrawal).
    p = fs.restart_member()
    n_inflight = fs.member_workers
    members = [fs.client.create_member() for _ in range(n_inflight)]
    holder = fs.hold_lock("lock table member.members in access exclusive mode")
    results = {}
    try:
        def change(m):
            r = fs.client.post("/v1/members/%s/withdraw" % m["id"], {"reason": "in flight"},
                               timeout=(1.0, 10.0))
            results[m["id"]] = r.status_code

        ex = ThreadPoolExecutor(n_inflight)
        futs = [ex.submit(change, m) for m in members]
        # wait until every worker is blocked on the lock, inside a request
        # (at most 3.5 s: a request still held when the gateway's 5 s deadline passes is 504)
        deadline = time.monotonic() + 3.5
        while True:
            # (a withdrawal waits reading its member for update, 'select id, email, …'; member's
            # consumer of billing's events waits on the same lock too, 'select status, …', and
            # is not a worker)
            waiting = fs.sql("select count(*) from pg_stat_activity where usename = 'kaiin_member' "
                             "and wait_event_type = 'Lock' and query like 'select id, email, %for update'"
                             )[0][0]
            if int(waiting) == n_inflight or (time.monotonic() > deadline and int(waiting) > 0):
                break
            assert time.monotonic() < deadline, "workers never blocked (%s waiting): %s" % (waiting, fs.sql(
                "select wait_event_type, wait_event, state, left(query, 60) from pg_stat_activity"
                " where usename = 'kaiin_member'"))
            time.sleep(0.05)
        blocked = int(waiting)
        p.signal(signal.SIGTERM)
        time.sleep(0.5)
        assert p.alive(), "member exited with %d requests in flight" % n_inflight
    finally:
        holder.release()
    for f in futs:
        f.result(timeout=15)
    ex.shutdown()
    # Every change a worker held is finished (200); one still queued at the broker when the
    # workers left (the sanitizer build is slow to take them all) is answered 503 at once.
    assert set(results.values()) <= {200, 503}, results
    done = sum(1 for code in results.values() if code == 200)
    assert done >= blocked, (blocked, results)
    rc = p.wait(15)
    assert rc == 0, "member exited with %s after SIGTERM" % rc
    fs.members.remove(p)
    assert fs.sql("select count(*) from member.members where status = 'withdrawn' and id in (%s)"
                  % ",".join("'%s'" % m["id"] for m in members)) == [[str(done)]]


@pytest.mark.heavy
def test_member_sigterm_during_slow_stream(fs):
    """A steady stream of requests while the member stops: each gets 200, or 503 once the
    broker's 4 s grace for a worker to come back has passed."""
    p = fs.member()
    # The process at full strength first: until its own EventsSince workers have registered,
    # the other services' long polls of member.EventsSince take its general workers, and a
    # request sent in that moment waits for one of them.
    deadline = time.monotonic() + 30
    while not ((fs.broker_workers("member.EventsSince") or 0) > 0
               and fs.client.get("/v1/members", params={"limit": 5}).status_code == 200):
        assert time.monotonic() < deadline, "the member process never served a list"
        time.sleep(0.1)
    results = []
    stop = threading.Event()

    def stream():
        while not stop.is_set():
            r = fs.client.get("/v1/members", params={"limit": 5}, timeout=(1.0, 8.0))
            results.append((r.status_code, r.elapsed_s))
            time.sleep(0.02)

    t = threading.Thread(target=stream)
    t.start()
    try:
        time.sleep(0.5)
        p.signal(signal.SIGTERM)
        rc = p.wait(10)
        time.sleep(0.5)
    finally:
        stop.set()
        t.join(20)
    fs.members.remove(p)
    assert rc == 0, "member exited with %s after SIGTERM" % rc
    codes = [c for c, _ in results]
    assert codes[0] == 200 and codes[-1] == 503, codes
    assert set(codes) <= {200, 503}, codes
    slow = [e for _, e in results if e > 6.0]
    assert not slow, "requests took %s s" % slow


def test_gateway_sigterm_exits_0(fs):
    g = fs.gateway
    r = fs.client.get("/healthz")
    assert r.status_code == 200
    g.signal(signal.SIGTERM)
    rc = g.wait(10)
    assert rc == 0, "gateway exited with %s after SIGTERM" % rc
    with pytest.raises(requests.ConnectionError):
        requests.get(fs.url("/healthz"), timeout=(1.0, 1.0))
    # a new gateway on the same ports: the member reconnects to its broker by itself
    fs.start_gateway(wait=False)
    deadline = time.monotonic() + 15
    while True:
        rz = fs.readyz()
        if rz is not None and rz.status_code == 200:
            break
        assert time.monotonic() < deadline, "member never reconnected to the new gateway"
        time.sleep(0.1)
    assert fs.client.post("/v1/members", {"email": unique_email()}).status_code == 201


@pytest.mark.heavy
def test_request_deadline_gives_504(fs):
    """A request stuck behind a lock past the gateway's deadline answers 504, not a hang."""
    m = fs.client.create_member()
    holder = fs.hold_lock("lock table member.members in access exclusive mode")
    try:
        t0 = time.monotonic()
        r = fs.client.get("/v1/members/" + m["id"], timeout=(1.0, 10.0))
        took = time.monotonic() - t0
    finally:
        holder.release()
    assert r.status_code == 504, (r.status_code, r.text)
    assert r.json()["type"] == "/problems/timeout"
    assert 4.5 <= took <= 7.0, took
    # and the service is fine afterwards
    deadline = time.monotonic() + 5
    while get_member(fs, m["id"]).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_unknown_member_after_restart_still_404(fs):
    fs.restart_member()
    r = fs.client.get("/v1/members/" + str(uuid.uuid4()))
    assert r.status_code == 404


def test_redis_down_only_affects_readiness(fs):
    fs.stop_redis()
    deadline = time.monotonic() + 5
    while True:
        rz = fs.client.get("/readyz", auth=False)
        if rz.status_code == 503 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert rz.status_code == 503, rz.text
    checks = rz.json()["checks"]
    assert checks["redis"] != "ok" and checks["postgresql"] == "ok" and checks["member"] == "ok"
    assert "redis" in rz.json()["detail"]
    assert fs.client.get("/healthz").status_code == 200
    assert fs.client.post("/v1/members", {"email": unique_email()}).status_code == 201
    fs.start_redis()
    deadline = time.monotonic() + 5
    while fs.client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "not ready again after Redis came back"
        time.sleep(0.1)


def test_logs_are_json_lines(fs):
    """Every line a Kaiin process writes to stderr is one JSON object (also on a restart, when
    the migrations find their tables already there)."""
    p = fs.restart_member()
    fs.client.get("/v1/members/" + str(uuid.uuid4()), headers={"X-Request-Id": "log-check-1"})
    fs.client.post("/v1/members", {"email": "bad"})
    for proc in (p, fs.gateway):
        for line in proc.log().splitlines():
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                pytest.fail("%s wrote a line that is not JSON: %r" % (proc.name, line))
            assert isinstance(obj, dict) and {"ts", "level", "msg"} <= set(obj), line
