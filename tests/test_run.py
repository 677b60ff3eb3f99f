"""test_run.py - `make run`'s script as an operator meets it: everything starts with its keys and
passwords made once, a crashed service is started again while the rest keeps serving, and Ctrl-C
stops every process it started."""

import os
import signal
import stat
import subprocess
import time

import pytest
import requests

import harness

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def processes(group):
    """{pid: command name} of the live processes of a process group."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open("/proc/%s/comm" % entry) as f:
                name = f.read().strip()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == group:
            out[int(entry)] = name
    return out


def wait_for(fn, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    var = str(tmp_path_factory.mktemp("run-var"))
    os.chmod(var, 0o755)
    port = harness.free_port()
    env = dict(os.environ, KAIIN_VAR_DIR=var, KAIIN_HTTP_PORT=str(port),
               KAIIN_PG_PORT=str(harness.free_port()), KAIIN_REDIS_PORT=str(harness.free_port()),
               KAIIN_BROKER_ENDPOINT="tcp://127.0.0.1:%d" % harness.free_port(),
               KAIIN_BIN_DIR=harness.bin_dir(), KAIIN_PG_FSYNC="off")
    log = open(os.path.join(var, "run.out"), "wb")
    p = subprocess.Popen([os.path.join(REPO, "scripts/run.sh")], env=env, cwd=REPO,
                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = "http://127.0.0.1:%d" % port

    def ready():
        try:
            return requests.get(url + "/readyz", timeout=2).status_code == 200
        except requests.RequestException:
            return False
    try:
        wait_for(ready, 120, "run.sh never got ready: " + open(os.path.join(var, "run.out")).read())
        yield p, var, url
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGINT)
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                subprocess.run([os.path.join(REPO, "scripts/pg-cluster.sh"), "stop", os.path.join(var, "pg")])


def token(var):
    with open(os.path.join(var, "admin-token")) as f:
        return f.read().strip()


def test_keys_and_passwords_are_its_owners_alone(run):
    _, var, _ = run
    for name in ["broker.key", "member.key"]:
        mode = stat.S_IMODE(os.stat(os.path.join(var, "keys", name)).st_mode)
        assert mode == 0o600, (name, oct(mode))
    for name in ["redis-password", "redis-admin-password"]:
        mode = stat.S_IMODE(os.stat(os.path.join(var, "secrets", name)).st_mode)
        assert mode == 0o600, (name, oct(mode))
    assert stat.S_IMODE(os.stat(os.path.join(var, "redis.conf")).st_mode) == 0o600
    with open(os.path.join(var, "log", "gateway.log")) as f:
        assert "the broker takes CurveZMQ connections only" in f.read()


def test_a_crashed_service_is_started_again(run):
    p, var, url = run
    auth = {"Authorization": "Bearer " + token(var)}
    member = [pid for pid, name in processes(p.pid).items() if name == "kaiin-member"]
    assert len(member) == 1, processes(p.pid)
    os.kill(member[0], signal.SIGKILL)

    def served_again():
        now = [pid for pid, name in processes(p.pid).items() if name == "kaiin-member"]
        if not now or now == member:
            return False
        r = requests.post(url + "/v1/members", json={"email": "run-%d@example.com" % time.time_ns()},
                          headers=auth, timeout=5)
        return r.status_code == 201
    wait_for(served_again, 60, "member was not started again")
    with open(os.path.join(var, "log", "member.log")) as f:
        assert "run.sh: member exited (137); starting it again in 1s" in f.read()
    assert p.poll() is None                                 # run.sh itself goes on


def test_ctrl_c_stops_everything(run):
    p, var, _ = run
    assert processes(p.pid)
    os.killpg(p.pid, signal.SIGINT)                         # Ctrl-C reaches the whole group
    assert p.wait(timeout=60) == 0
    try:
        wait_for(lambda: not processes(p.pid), 30, "processes left running")
    except AssertionError:
        raise AssertionError("left running: %s" % processes(p.pid))
    assert not os.path.exists(os.path.join(var, "pg", "postmaster.pid"))


def test_secret_files_are_never_committed():
    """Compose's .env, the settings deploy/build-images.sh --env-file writes and everything under
    var/ (passwords, keys) are ignored by git, so `git add -A` cannot commit them; the template
    .env.example is not."""
    def ignored(path):
        return subprocess.run(["git", "check-ignore", "-q", path], cwd=harness.REPO).returncode == 0
    for path in (".env", "images.env", "prod.env", "var/secrets/redis-password", "var/keys/broker.key"):
        assert ignored(path), path
    assert not ignored(".env.example")
