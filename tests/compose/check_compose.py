"""The compose suite: Kaiin in containers, as users run it (docker-compose.yml at the root).

The tests run in order on one stack (see conftest.py): build air-gapped and come up, the API
through the gateway, data across a restart, a gateway restart, member scaled to 2 with a replica
stopped and a rolling update under load, PostgreSQL stopped under load, and `down -v`."""
import os
import re
import stat
import time

import pytest
import requests

from conftest import ROOT, Load, figure, free_port, run, services

GOAL_UP_S = 30          # cold `up` to all healthy, images built
HANG_S = 8              # the gateway's deadline is 5 s: an answer later than this is a hang


def test_build_and_cold_up(stack):
    stack.build_images()
    started = time.monotonic()
    stack.compose("up", "-d", timeout=300)
    stack.wait_healthy(timeout=120, expect={"postgres", "redis", "smtp", "gateway"} | set(services()))
    seconds = time.monotonic() - started
    figure("cold up -> all healthy (images built)", "%.1f s (goal < %d s)" % (seconds, GOAL_UP_S))
    assert seconds < 2 * GOAL_UP_S, "cold up took %.1f s" % seconds
    r = requests.get(stack.url("/readyz"), timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["checks"] == dict({"postgresql": "ok", "redis": "ok"}, **{s: "ok" for s in services()})
    stack.up = True


def test_every_container_has_a_healthcheck_and_member_runs_unprivileged(stack):
    stack.need_up()
    for cid in stack.containers():
        status, health, service = stack.state(cid)
        assert health == "healthy", (service, status, health)
    for service in ["gateway"] + services():
        cid = stack.containers(service)[0]
        user = run(["docker", "inspect", "-f", "{{.Config.User}}", cid]).stdout.strip()
        assert user and user not in ("0", "root"), (service, user)


def test_api_smoke(stack):
    stack.need_up()
    h = stack.headers()
    assert requests.get(stack.url("/healthz"), timeout=10).json() == {"status": "ok"}
    r = requests.get(stack.url("/v1/members"), timeout=10)
    assert r.status_code == 401 and r.headers.get("WWW-Authenticate", "").startswith("Bearer")

    email = "smoke-%d@example.com" % time.time_ns()
    r = requests.post(stack.url("/v1/members"), json={"email": email, "name": "山田 花子",
                      "name_kana": "ヤマダ ハナコ"}, headers=h, timeout=10)
    assert r.status_code == 201, r.text
    member = r.json()
    assert r.headers["ETag"] == '"1"' and r.headers["Location"] == "/v1/members/%s" % member["id"]
    assert member["email"] == email and member["status"] == "free"

    r = requests.get(stack.url("/v1/members/%s" % member["id"]), headers=h, timeout=10)
    assert r.status_code == 200 and r.json() == member

    r = requests.patch(stack.url("/v1/members/%s" % member["id"]), json={"phone": "03-1234-5678"},
                       headers=dict(h, **{"If-Match": '"1"'}), timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["phone"] == "03-1234-5678" and r.headers["ETag"] == '"2"'
    r = requests.patch(stack.url("/v1/members/%s" % member["id"]), json={"name": "x"},
                       headers=dict(h, **{"If-Match": '"1"'}), timeout=10)
    assert r.status_code == 412

    r = requests.get(stack.url("/v1/members"), params={"email": email.upper()}, headers=h, timeout=10)
    assert r.status_code == 200 and [m["id"] for m in r.json()["data"]] == [member["id"]]
    r = requests.post(stack.url("/v1/members"), json={"email": email}, headers=h, timeout=10)
    assert r.status_code == 409

    metrics = requests.get(stack.url("/metrics"), timeout=10).text
    assert re.search(r'kaiin_broker_workers\{service="member"\} [1-9]', metrics), metrics[-2000:]
    stack.smoke_member = member["id"]


def test_broker_takes_curve_only_and_each_container_has_its_own_key(stack):
    """deploy/compose-keys.sh made the keys: files of mode 0600 owned by the containers' user;
    each service's container sees its own key alone, and the broker admits CURVE only."""
    stack.need_up()
    keys = stack.settings["KAIIN_KEYS_DIR"]
    for name in ["broker"] + services():
        info = os.stat(os.path.join(keys, name + ".key"))
        assert (stat.S_IMODE(info.st_mode), info.st_uid) == (0o600, 10001), name
    log = stack.logs("gateway", tail=100000)
    assert "the broker takes CurveZMQ connections only" in log, log[-3000:]
    assert "the broker admits %d service key(s)" % len(services()) in log, log[-3000:]
    for service in services():
        cid = stack.containers(service)[0]
        assert sorted(run(["docker", "exec", cid, "ls", "/run/secrets"]).stdout.split()) == \
            sorted(["broker_public_key", "%s_curve_key" % service])


def test_a_peer_with_an_unlisted_key_is_refused(stack):
    """A member worker started by hand on the compose network, with a key of its own that is on
    no list (and the database's password): the broker refuses it at the handshake, logs its
    address and key, and it never counts as a worker."""
    stack.need_up()
    before = member_workers(stack)
    public, secret = run(["docker", "run", "--rm", "--network", "none", "--entrypoint", "bash",
                          "kaiintest/gateway:latest", "-c",
                          "kaiin-keygen /tmp/k rogue && cat /tmp/k/rogue.key"]).stdout.split()
    with open(os.path.join(stack.settings["KAIIN_KEYS_DIR"], "broker.pub")) as f:
        broker = f.read().strip()
    url = "postgresql://kaiin_member%s:%s@postgres:5432/kaiin?connect_timeout=2"
    name = stack.project + "-rogue"
    run(["docker", "run", "-d", "--name", name, "--network", stack.project + "_default",
         "-e", "KAIIN_BROKER_ENDPOINT=tcp://gateway:5555", "-e", "KAIIN_CURVE_SECRET_KEY=" + secret,
         "-e", "KAIIN_BROKER_PUBLIC_KEY=" + broker, "-e", "MEMBER_WORKERS=2",
         # the master key too (else it stops before reaching the broker): the attacker has it all
         # but a listed CurveZMQ key
         "-e", "MEMBER_MASTER_KEY=" + stack.settings["MEMBER_MASTER_KEY"],
         "-e", "MEMBER_PG_URL=" + url % ("", stack.settings["MEMBER_PG_PASSWORD"]),
         "-e", "MEMBER_PG_OWNER_URL=" + url % ("_owner", stack.settings["MEMBER_PG_OWNER_PASSWORD"]),
         "kaiintest/member:latest"])
    try:
        address = run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                       name]).stdout.strip()
        refused = "the broker refused a connection from '%s': its key %s is on no service's list" % (address, public)
        deadline = time.monotonic() + 60
        while refused not in stack.logs("gateway", tail=2000):
            assert time.monotonic() < deadline, "no refusal logged for %s:\n%s\n%s" % (
                refused, stack.logs("gateway"), run(["docker", "logs", "--tail", "40", name], check=False).stderr)
            time.sleep(0.5)
        time.sleep(2)
        assert member_workers(stack) == before
        r = requests.get(stack.url("/v1/members/%s" % stack.smoke_member), headers=stack.headers(), timeout=10)
        assert r.status_code == 200, r.text
    finally:
        run(["docker", "rm", "-f", name], check=False)


def test_the_gateway_image_serves_https_with_hsts(stack, tmp_path):
    """The gateway's image (Debian's libmicrohttpd, built with GnuTLS) given a certificate: a
    second gateway beside the stack's, HTTPS with HSTS, no plain HTTP on its port, and healthy by
    the image's own health check."""
    stack.need_up()
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
         "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"])
    os.chmod(key, 0o644)                     # a throwaway key the container's user (10001) reads
    os.chmod(str(tmp_path), 0o755)
    port = free_port()
    name = stack.project + "-https"
    run(["docker", "run", "-d", "--name", name, "--network", stack.project + "_default",
         "-p", "127.0.0.1:%d:8443" % port, "-v", "%s:/etc/kaiin/tls:ro" % tmp_path,
         "-e", "KAIIN_HTTP_PORT=8443", "-e", "KAIIN_TLS_CERT_FILE=/etc/kaiin/tls/cert.pem",
         "-e", "KAIIN_TLS_KEY_FILE=/etc/kaiin/tls/key.pem", "-e", "KAIIN_ADMIN_TOKEN=" + stack.token,
         "-e", "KAIIN_REDIS_URL=redis://redis:6379", "kaiintest/gateway:latest"])
    try:
        deadline = time.monotonic() + 60
        health = ["docker", "inspect", "-f", "{{.State.Status}} {{.State.Health.Status}}", name]
        while run(health, check=False).stdout.strip() != "running healthy":
            assert time.monotonic() < deadline, (run(health, check=False).stdout,
                                                 run(["docker", "logs", name], check=False).stderr[-3000:])
            time.sleep(0.5)
        r = requests.get("https://127.0.0.1:%d/healthz" % port, verify=cert, timeout=10)
        assert r.status_code == 200 and r.json() == {"status": "ok"}
        assert r.headers["Strict-Transport-Security"] == "max-age=63072000"
        with pytest.raises(requests.ConnectionError):
            requests.get("http://127.0.0.1:%d/healthz" % port, timeout=10)
    finally:
        run(["docker", "rm", "-f", name], check=False)


def test_postgres_roles_are_those_of_db_init(stack):
    """The init script is scripts/db-init.sh: schema member owned by kaiin_member_owner, and
    kaiin_member with DML on it only (no create)."""
    stack.need_up()
    pg = stack.containers("postgres")[0]
    out = run(["docker", "exec", pg, "psql", "-h", "/var/run/postgresql", "-U", "postgres", "-d", "kaiin",
               "-qAtX", "-c",
               "select nspowner::regrole, has_schema_privilege('kaiin_member', 'member', 'USAGE'),"
               " has_schema_privilege('kaiin_member', 'member', 'CREATE'),"
               " has_schema_privilege('kaiin_member', 'public', 'USAGE')"
               " from pg_namespace where nspname = 'member'"]).stdout.strip()
    assert out == "kaiin_member_owner|t|f|f", out
    out = run(["docker", "exec", pg, "psql", "-h", "/var/run/postgresql", "-U", "postgres", "-d", "kaiin",
               "-qAtX", "-c",
               "select nspowner::regrole, has_schema_privilege('kaiin_billing', 'billing', 'USAGE'),"
               " has_schema_privilege('kaiin_billing', 'billing', 'CREATE'),"
               " has_schema_privilege('kaiin_billing', 'member', 'USAGE'),"
               " has_schema_privilege('kaiin_member', 'billing', 'USAGE')"
               " from pg_namespace where nspname = 'billing'"]).stdout.strip()
    assert out == "kaiin_billing_owner|t|f|f|f", out


def test_data_survives_restart(stack):
    stack.need_up()
    h = stack.headers()
    ids = []
    for i in range(5):
        r = requests.post(stack.url("/v1/members"), json={"email": "keep-%d-%d@example.com" % (i, time.time_ns())},
                          headers=h, timeout=10)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    stack.compose("restart", timeout=300)
    stack.wait_healthy(timeout=120)
    wait_ready(stack)
    for mid in ids + [stack.smoke_member]:
        r = requests.get(stack.url("/v1/members/%s" % mid), headers=h, timeout=10)
        assert r.status_code == 200, (mid, r.status_code, r.text)


def test_members_reconnect_after_gateway_restart(stack):
    stack.need_up()
    started = time.monotonic()
    stack.compose("restart", "-t", "10", "gateway", timeout=120)
    wait_ready(stack, timeout=60)
    figure("gateway restart -> /readyz 200 (members reconnect)", "%.1f s" % (time.monotonic() - started))


def test_scale_stop_replica_and_rolling_update_lose_no_request(stack):
    stack.need_up()
    stack.compose("up", "-d", "--no-deps", "--no-recreate", "--scale", "member=2", "member", timeout=120)
    stack.wait_healthy(timeout=120)
    wait_workers(stack, 8)
    load = Load(stack).start()
    try:
        time.sleep(3)
        # One replica goes away (SIGTERM): the other serves everything.
        t_stop = load.mark()
        victim = stack.containers("member", running=True)[0]
        run(["docker", "stop", "-t", "20", victim], timeout=60)
        time.sleep(3)
        t_roll = load.mark()
        # A team's deploy: rebuild member and replace its replicas one by one.
        env = stack.script_env()
        proc = run([os.path.join(ROOT, "deploy", "rolling-update.sh"), "--build", "member"], env=env, timeout=900)
        print(proc.stdout)
        # Back to two replicas, then once more with both running, rotating member's key the way
        # deploy/README.md says: a new key listed beside the old, the rolling update, the old
        # key off the list.
        stack.compose("up", "-d", "--no-deps", "--no-recreate", "--scale", "member=2", "member", timeout=120)
        stack.wait_healthy(timeout=120)
        wait_workers(stack, 8)
        clients = os.path.join(stack.settings["KAIIN_KEYS_DIR"], "clients")
        old = member_keys(clients)
        run([os.path.join(ROOT, "deploy", "compose-keys.sh"), "--rotate", "member"], env=env, timeout=300)
        both = member_keys(clients)
        assert len(old) == 1 and len(both) == 2 and old[0] in both, (old, both)
        proc = run([os.path.join(ROOT, "deploy", "rolling-update.sh"), "member"], env=env, timeout=900)
        print(proc.stdout)
        run([os.path.join(ROOT, "deploy", "compose-keys.sh")], env=env, timeout=300)
        new = member_keys(clients)
        assert new == [k for k in both if k != old[0]], (old, both, new)
        time.sleep(3)
    finally:
        load.stop()
    before, during_stop, during_roll = load.window(0, t_stop), load.window(t_stop, t_roll), load.window(t_roll)
    figure("requests before / during replica stop / during rolling updates",
           "%d / %d / %d" % (len(before), len(during_stop), len(during_roll)))
    figure("failed requests: replica stop", "%d %s" % (len(load.failures(during_stop)), load.tally(load.failures(during_stop))))
    figure("failed requests: two rolling updates of member", "%d %s" % (
        len(load.failures(during_roll)), load.tally(load.failures(during_roll))))
    assert len(during_roll) > 100, "the load generator hardly ran"
    assert load.failures(before + during_stop + during_roll) == [], load.tally(load.records)
    assert load.verify() == []
    assert len(stack.containers("member", running=True)) == 2
    stack.load_members = load.members
    # The replicas run with the new key: after a gateway restart every worker connects again,
    # admitted only by the list that now holds the new key alone.
    stack.compose("restart", "-t", "10", "gateway", timeout=120)
    wait_ready(stack, timeout=60)
    wait_workers(stack, 8)


def test_postgres_outage_answers_503_and_recovers(stack):
    stack.need_up()
    load = Load(stack).start()
    try:
        time.sleep(2)
        t_down = load.mark()
        stack.compose("stop", "-t", "10", "postgres", timeout=60)
        t_stopped = load.mark()
        time.sleep(2)
        r = requests.get(stack.url("/readyz"), timeout=HANG_S)
        assert r.status_code == 503 and r.json()["checks"]["postgresql"] != "ok", r.text
        time.sleep(max(0.0, 10 - (load.mark() - t_stopped)))
        t_up = load.mark()
        stack.compose("start", "postgres", timeout=120)
        # Recovery: by itself, nothing restarted but PostgreSQL.
        deadline = time.monotonic() + 60
        recovered = None
        while time.monotonic() < deadline and recovered is None:
            ok = [r for r in load.window(t_up) if r[0] == "create" and r[1] == 201]
            recovered = ok[0][2] + ok[0][3] if ok else None
            time.sleep(0.2)
        assert recovered is not None, "no write succeeded within 60 s of PostgreSQL's start"
        time.sleep(8)
    finally:
        load.stop()
    outage = load.window(t_stopped, t_up)
    slowest = max((r[3] for r in outage), default=0)
    figure("PostgreSQL stopped 10 s: answers meanwhile", "%d %s, slowest %.2f s" % (
        len(outage), load.tally(outage), slowest))
    figure("PostgreSQL back -> first acknowledged write", "%.1f s after `start`" % (recovered - t_up))
    # Every service's workers reconnect on their next request, each preparing its statements:
    # a request may still meet one reconnecting in the first seconds after the first write.
    after = load.window(recovered + 5)
    figure("requests after recovery / failed", "%d / %d" % (len(after), len(load.failures(after))))
    late = ["%s at +%.1f s" % (r[0], r[2] - t_stopped) for r in outage if r[1] == 504]
    if late:
        figure("  504 answers (start time after the stop)", ", ".join(late))
    stack.outage = outage
    assert outage, "no request was made during the outage"
    # Never hangs: every request is answered, by the gateway's deadline at the latest.
    assert all(r[1] in (200, 201, 503, 504) for r in outage), load.tally(outage)
    assert slowest < HANG_S, "a request took %.1f s during the outage" % slowest
    assert sum(1 for r in outage if r[1] == 503) > len(outage) / 2, load.tally(outage)
    assert load.failures(after) == [], load.tally(load.failures(after))
    around = load.window(t_down, t_stopped)
    assert all(r[1] in (200, 201, 503, 504) for r in around), load.tally(around)
    assert load.verify() == []
    # ... and every write acknowledged in the earlier load test too.
    earlier = Load(stack)
    earlier.members = getattr(stack, "load_members", {})
    assert earlier.verify() == []
    stack.wait_healthy(timeout=60)


def test_postgres_outage_answers_only_503(stack):
    """While PostgreSQL is down, every answer is a prompt 503: no worker is held past a
    request's deadline (bounded TCP waits in libpq, and a one-second DNS timeout in compose)."""
    outage = getattr(stack, "outage", None)
    if not outage:
        pytest.skip("the outage test did not run")
    assert [r for r in outage if r[1] not in (200, 201, 503)] == []


def test_down_keeps_data_and_down_v_removes_everything(stack):
    stack.need_up()
    h = stack.headers()
    mid = stack.smoke_member
    stack.compose("down", "-t", "10", timeout=300)
    assert stack.containers() == []
    started = time.monotonic()
    stack.compose("up", "-d", timeout=300)
    stack.wait_healthy(timeout=120)
    figure("warm up after down (volumes kept) -> all healthy", "%.1f s" % (time.monotonic() - started))
    wait_ready(stack)
    assert requests.get(stack.url("/v1/members/%s" % mid), headers=h, timeout=10).status_code == 200

    stack.compose("down", "-v", "-t", "10", timeout=300)
    label = "label=com.docker.compose.project=%s" % stack.project
    assert run(["docker", "ps", "-aq", "--filter", label]).stdout.split() == []
    assert run(["docker", "network", "ls", "-q", "--filter", label]).stdout.split() == []
    assert run(["docker", "volume", "ls", "-q", "--filter", label]).stdout.split() == []
    names = run(["docker", "volume", "ls", "--format", "{{.Name}}"]).stdout.split()
    assert [n for n in names if n.startswith(stack.project)] == []
    names = run(["docker", "network", "ls", "--format", "{{.Name}}"]).stdout.split()
    assert [n for n in names if n.startswith(stack.project)] == []


# ---- helpers -------------------------------------------------------------------------------------
def wait_ready(stack, timeout=60):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = requests.get(stack.url("/readyz"), timeout=5)
            if last.status_code == 200:
                return
        except requests.RequestException as exc:
            last = exc
        time.sleep(0.2)
    raise AssertionError("not ready after %d s: %s\n%s" % (timeout, getattr(last, "text", last), stack.logs()))


def member_keys(clients):
    """The public keys the broker's list admits for member."""
    with open(clients) as f:
        return [line.split()[1] for line in f if line.startswith("member ")]


def member_workers(stack):
    """The broker's count of member workers, from /metrics."""
    text = requests.get(stack.url("/metrics"), timeout=5).text
    m = re.search(r'kaiin_broker_workers\{service="member"\} (\d+)', text)
    assert m, re.findall(r"kaiin_broker_workers.*", text)
    return int(m.group(1))


def wait_workers(stack, n, timeout=60):
    """Until the broker counts n member workers (replicas x MEMBER_WORKERS)."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = requests.get(stack.url("/metrics"), timeout=5).text
        m = re.search(r'kaiin_broker_workers\{service="member"\} (\d+)', text)
        if m and int(m.group(1)) == n:
            return
        time.sleep(0.2)
    raise AssertionError("broker does not count %d member workers: %s" % (
        n, re.findall(r"kaiin_broker_workers.*", text)))
