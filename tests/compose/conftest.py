"""Fixtures of the compose suite (tests/compose): one Kaiin stack in containers for the session.

The stack gets its own compose project name, free host ports, random secrets and the local
images of deploy/build-images.sh, so it cannot clash with anything else on the machine; it is
removed with `down -v` at the end whatever happens. Importing this module has no side effects
(the main suite's collection walks this folder)."""
import json
import os
import random
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIGURES = []  # (label, value) printed before pytest's summary line


def figure(label, value):
    FIGURES.append((label, value))


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.section("compose figures")
        for label, value in FIGURES:
            terminalreporter.write_line("%-52s %s" % (label, value))


def free_port():
    """A free port below the kernel's ephemeral range, which outgoing connections may take."""
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    while True:
        port = random.randint(10000, low - 1)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


def _names(path):
    """The names in a list file: one a line, anything after a '#' a comment."""
    try:
        with open(path) as f:
            return [w for line in f for w in line.split("#", 1)[0].split()]
    except FileNotFoundError:
        return []


def services():
    """Kaiin's services, in the order of services/list."""
    return _names(os.path.join(ROOT, "services", "list"))


def service_secrets(service):
    """The variables of services/<service>/secrets."""
    return _names(os.path.join(ROOT, "services", service, "secrets"))


def compose_command():
    if os.environ.get("KAIIN_COMPOSE"):
        return os.environ["KAIIN_COMPOSE"].split()
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("neither `docker compose` nor docker-compose is installed")


def run(cmd, timeout=600, check=True, env=None, quiet=False):
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError("%s failed (%d) after %.1f s:\n%s\n%s" % (
            " ".join(cmd), proc.returncode, time.monotonic() - started, proc.stdout[-4000:], proc.stderr[-4000:]))
    return proc


class Stack:
    """One compose project: commands, container states, HTTP."""

    def __init__(self, workdir):
        self.project = "kaiintest%s" % uuid.uuid4().hex[:10]
        self.port = free_port()
        self.token = secrets.token_hex(32)
        self.compose_cmd = compose_command()
        self.env_file = os.path.join(workdir, "compose.env")
        self.images_env = os.path.join(workdir, "images.env")
        self.workdir = workdir
        self.settings = {}
        self.up = False

    def need_up(self):
        if not self.up:
            pytest.skip("the stack did not come up (see test_build_and_cold_up)")

    # -- setup ---------------------------------------------------------------------------------
    def build_images(self):
        started = time.monotonic()
        proc = run([os.path.join(ROOT, "deploy", "build-images.sh"), "--env-file", self.images_env], timeout=1800)
        figure("deploy/build-images.sh (cached images are kept)", "%.1f s" % (time.monotonic() - started))
        for line in proc.stdout.splitlines():
            if line.strip().startswith(("kaiin/", "%s/" % os.environ.get("KAIIN_IMAGE_PREFIX", "kaiin"))) and "MB" in line:
                tag, size = line.split(None, 1)
                figure("image size %s" % tag, size.strip())
        with open(self.images_env) as f:
            for line in f:
                key, _, value = line.strip().partition("=")
                if key:
                    self.settings[key] = value
        self.settings.update({
            "KAIIN_ADMIN_TOKEN": self.token,
            "POSTGRES_PASSWORD": secrets.token_hex(16),
            "BILLING_WORKERS": "2",
            "KAIIN_HTTP_PORT": str(self.port),
            "KAIIN_MAIL_UI_PORT": str(free_port()),
            "KAIIN_IMAGE_PREFIX": "kaiintest",
            "KAIIN_IMAGE_TAG": "latest",
            "MEMBER_WORKERS": "4",
            "KAIIN_LOG_LEVEL": "info",
            "KAIIN_KEYS_DIR": os.path.join(self.workdir, "keys"),
        })
        for service in services():       # each service's passwords and secrets, fresh
            upper = service.upper()
            self.settings[upper + "_PG_PASSWORD"] = secrets.token_hex(16)
            self.settings[upper + "_PG_OWNER_PASSWORD"] = secrets.token_hex(16)
            for variable in service_secrets(service):
                self.settings[variable] = secrets.token_hex(32)
        with open(self.env_file, "w") as f:
            for key, value in self.settings.items():
                f.write("%s=%s\n" % (key, value))
        started = time.monotonic()
        self.compose("build", timeout=1800)
        figure("compose build gateway + %s" % " + ".join(services()), "%.1f s" % (time.monotonic() - started))
        for service in ["gateway"] + services():
            size = run(["docker", "image", "inspect", "-f", "{{.Size}}", "kaiintest/%s:latest" % service]).stdout
            figure("image size kaiin %s (runtime)" % service, "%.1f MB" % (int(size) / 1e6))
        # The CurveZMQ keys, as the README's steps make them.
        run([os.path.join(ROOT, "deploy", "compose-keys.sh")], env=self.script_env(), timeout=300)

    def script_env(self):
        """The environment of a deploy/ script run on this stack: COMPOSE names its project."""
        env = dict(os.environ, COMPOSE=" ".join(self.compose_cmd + [
            "-p", self.project, "-f", os.path.join(ROOT, "docker-compose.yml"),
            "--project-directory", ROOT, "--env-file", self.env_file]))
        env.update(self.settings)
        return env

    # -- compose and docker --------------------------------------------------------------------
    def compose(self, *args, timeout=600, check=True):
        env = dict(os.environ)
        env.update(self.settings)  # the process environment wins over --env-file: keep them equal
        cmd = self.compose_cmd + ["-p", self.project, "-f", os.path.join(ROOT, "docker-compose.yml"),
                                  "--project-directory", ROOT, "--env-file", self.env_file] + list(args)
        return run(cmd, timeout=timeout, check=check, env=env)

    def containers(self, service=None, running=False):
        cmd = ["docker", "ps", "-aq", "--no-trunc", "--filter", "label=com.docker.compose.project=%s" % self.project]
        if service:
            cmd += ["--filter", "label=com.docker.compose.service=%s" % service]
        if running:
            cmd += ["--filter", "status=running"]
        return run(cmd).stdout.split()

    def state(self, cid):
        out = run(["docker", "inspect", "-f",
                   "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} "
                   "{{index .Config.Labels \"com.docker.compose.service\"}}", cid], check=False).stdout.split()
        return tuple(out) if len(out) == 3 else ("gone", "gone", "?")

    def wait_healthy(self, timeout=120, expect=None):
        """Waits until every container of the project runs and is healthy; returns seconds."""
        started = time.monotonic()
        states = {}
        while time.monotonic() - started < timeout:
            ids = self.containers(running=False)
            states = {cid[:12]: self.state(cid) for cid in ids}
            services = {s[2] for s in states.values()}
            if (ids and all(s[0] == "running" and s[1] == "healthy" for s in states.values())
                    and (expect is None or expect <= services)):
                return time.monotonic() - started
            time.sleep(0.25)
        raise AssertionError("not all healthy after %d s: %s" % (timeout, states))

    def logs(self, *services, tail=60):
        return self.compose("logs", "--no-color", "--tail=%d" % tail, *services, check=False).stdout

    # -- HTTP ----------------------------------------------------------------------------------
    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def headers(self, **extra):
        h = {"Authorization": "Bearer %s" % self.token}
        h.update(extra)
        return h


@pytest.fixture(scope="session")
def stack():
    if run(["docker", "info"], check=False, timeout=60).returncode != 0:
        pytest.skip("no Docker engine answers `docker info`")
    workdir = tempfile.mkdtemp(prefix="kaiin-compose-")
    s = Stack(workdir)
    try:
        yield s
    finally:
        # Whatever happened: leave nothing behind (the last test checks this explicitly).
        s.compose("down", "-v", "--remove-orphans", "-t", "5", check=False, timeout=300)
        shutil.rmtree(workdir, ignore_errors=True)


class Load:
    """A steady stream of writes and reads from a few threads, each with its own members.

    Every request is recorded as (op, status or exception name, start, seconds). A write counts
    as acknowledged only when its 2xx answer arrived; `verify` later checks each of them."""

    def __init__(self, stack, threads=4, pause=0.01, timeout=15):
        import requests
        self.requests = requests
        self.stack, self.nthreads, self.pause, self.timeout = stack, threads, pause, timeout
        self.records = []
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.members = {}  # id -> {"email", "acked", "attempted": set()}
        self.threads = []

    def _record(self, op, outcome, started, seconds):
        with self.lock:
            self.records.append((op, outcome, started, seconds))

    def _call(self, session, op, method, path, **kw):
        started = time.monotonic()
        try:
            r = session.request(method, self.stack.url(path), timeout=self.timeout, **kw)
            self._record(op, r.status_code, started, time.monotonic() - started)
            return r
        except self.requests.RequestException as exc:
            self._record(op, type(exc).__name__, started, time.monotonic() - started)
            return None

    def _worker(self, index):
        session = self.requests.Session()
        session.headers.update(self.stack.headers())
        mine, n = [], 0
        while not self.stop_event.is_set():
            n += 1
            step = n % 4
            if step == 1 or not mine:
                email = "load-%d-%d-%s@example.com" % (index, n, uuid.uuid4().hex[:6])
                r = self._call(session, "create", "POST", "/v1/members", json={"email": email, "name": "n0"})
                if r is not None and r.status_code == 201:
                    mid = r.json()["id"]
                    with self.lock:
                        self.members[mid] = {"email": email, "acked": "n0", "attempted": set()}
                    mine.append(mid)
            elif step == 2:
                self._call(session, "get", "GET", "/v1/members/%s" % mine[n % len(mine)])
            elif step == 3:
                mid = mine[-1]
                name = "n%d" % n
                with self.lock:
                    self.members[mid]["attempted"].add(name)
                r = self._call(session, "patch", "PATCH", "/v1/members/%s" % mid, json={"name": name})
                if r is not None and r.status_code == 200:
                    with self.lock:
                        self.members[mid]["acked"] = name
                        self.members[mid]["attempted"] = set()
            else:
                self._call(session, "list", "GET", "/v1/members?limit=5")
            self.stop_event.wait(self.pause)

    def start(self):
        for i in range(self.nthreads):
            t = threading.Thread(target=self._worker, args=(i,), daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=self.timeout + 5)

    def mark(self):
        return time.monotonic()

    def window(self, since, until=None):
        with self.lock:
            return [r for r in self.records if r[2] >= since and (until is None or r[2] < until)]

    @staticmethod
    def failures(records, ok=(200, 201)):
        return [r for r in records if r[1] not in ok]

    @staticmethod
    def tally(records):
        out = {}
        for r in records:
            key = str(r[1])
            out[key] = out.get(key, 0) + 1
        return out

    def verify(self):
        """Every acknowledged write is there: each created member exists, with its last
        acknowledged name (or a later one whose answer never came). Returns the list of problems."""
        import requests
        problems = []
        session = requests.Session()
        session.headers.update(self.stack.headers())
        with self.lock:
            members = {k: dict(v) for k, v in self.members.items()}
        for mid, m in members.items():
            # A 503 says nothing about the data (a worker missed its heartbeats on a loaded
            # machine and is registering again): ask again, a few times, before counting it.
            for _ in range(10):
                r = session.get(self.stack.url("/v1/members/%s" % mid), timeout=10)
                if r.status_code != 503:
                    break
                time.sleep(0.5)
            if r.status_code != 200:
                problems.append("%s: GET %d" % (mid, r.status_code))
                continue
            name = r.json().get("name")
            if name != m["acked"] and name not in m["attempted"]:
                problems.append("%s: name %r, acknowledged %r" % (mid, name, m["acked"]))
        return problems
