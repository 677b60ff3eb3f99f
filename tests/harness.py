"""harness.py - start a real Kaiin suite (PostgreSQL, Redis, every service of services/list that is
built, kaiin-gateway) for tests. Every Kaiin process runs with KAIIN_TEST_MODE=1 (the test clock).

Services are data: start_service(name), kill_service(name), restart_service(name), pg_url(name),
sql_as(name, ...) work for any name of services/list, with settings derived from the name
(<NAME>_PG_URL, <NAME>_PG_OWNER_URL, <NAME>_WORKERS, <NAME>_MIGRATIONS) and a fresh value for
each variable of services/<name>/secrets. start_member, kill_billing, billing_url ... are the
same calls for one service, kept because many tests use them.

A Suite owns a private temp directory under /tmp, free ports, and every process it starts.
Each server's stdout/stderr go to a log file in that directory. When a Kaiin process exits,
its log is scanned for sanitizer reports (AddressSanitizer, LeakSanitizer,
UndefinedBehaviorSanitizer) and, when it was stopped with SIGTERM, its exit code is checked;
what is found lands in Suite.problems, which the fixtures in conftest.py turn into failures.
"""

import atexit
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import requests

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Fixed timeouts: nothing in the suite may hang. Under the sanitizers (make test-san sets
# ASAN_OPTIONS) the C runs several times slower on a machine the whole suite loads: a staff
# account's argon2id hash (19 MiB, two passes) took 0.9 to over 5 s there and answered 504
# after its row was written. The gateway's deadline is then 15 s instead of 5 s, and the
# client's patience grows with it; the tests that measure the deadline are not run then.
SANITIZED = bool(os.environ.get("ASAN_OPTIONS"))
REQUEST_TIMEOUT_MS = 15000 if SANITIZED else None   # None: the gateway's own 5 s
HTTP_TIMEOUT = (3.0, 25.0 if SANITIZED else 10.0)   # connect, read
# A suite's services ready: a suite that starts while three others run their tests on two
# CPUs waits for PostgreSQL's new backends (connected in 4 s or tried again) well past 30 s.
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0

SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",                  # UndefinedBehaviorSanitizer
    "UndefinedBehaviorSanitizer",
    "WARNING: ThreadSanitizer",
)

NULL_MARK = "<NULL>"

stopping = False       # set while a suite is being stopped: SIGTERM to pytest waits for it

_live_suites = []

# What each fault scenario (marked chaos: `make chaos`) counted, in the order they ran; the run's
# summary prints them as one table (conftest.py).
fault_figures = []


def record_fault(scenario, faults, acknowledged, lost, duplicates=None, double_charges=None,
                 mails_twice=None):
    """Records a fault scenario's figures: the faults injected (e.g. "kill -9 ×3"), the writes
    acknowledged under them and, of those, how many were lost; duplicates, double charges and
    mails sent twice where the scenario can count them (None: not what it tests)."""
    fault_figures.append({"scenario": scenario, "faults": faults, "acknowledged": acknowledged,
                          "lost": lost, "duplicates": duplicates, "double charges": double_charges,
                          "mails twice": mails_twice})


def bin_dir():
    d = os.environ.get("KAIIN_BIN_DIR", "build/bin")
    return d if os.path.isabs(d) else os.path.join(REPO, d)


def _names(path):
    """The names in a list file: one a line, anything after a '#' a comment."""
    with open(path) as f:
        return [w for line in f for w in line.split("#", 1)[0].split()]


def service_names():
    """Every service of services/list, in its order."""
    return _names(os.path.join(REPO, "services", "list"))


def service_secrets(name):
    """The variables of services/<name>/secrets: settings whose value is a secret."""
    path = os.path.join(REPO, "services", name, "secrets")
    return _names(path) if os.path.exists(path) else []


SEALED_FIELDS = ("phone", "birthday", "address", "note")


def opened_row(suite, member_id, row):
    """row (column or expression → value, read from member.members) with the member's sealed
    values (phone, birthday, address, note: services/member/README.md, "Encryption at rest") as
    the API reads them; an expression replace(note, chr(10), '|') as psql would print it."""
    member = None
    for column, value in row.items():
        field = next((f for f in SEALED_FIELDS if re.search(r"\b%s\b" % f, column)), None)
        if field and value and value.startswith("k1:"):
            member = member or Client(suite).get("/v1/members/" + member_id).json()
            opened = member[field] or ""
            row[column] = opened.replace("\n", "|") if column.startswith("replace(") else opened
    return row


def built(name):
    """True when kaiin-<name> is built next to the other binaries: a suite then starts it."""
    return os.access(os.path.join(bin_dir(), "kaiin-" + name), os.X_OK)


def have_billing():
    return built("billing")


def mailpit_binary():
    """The mailpit SMTP sink: $KAIIN_MAILPIT, build/tools/mailpit (make test installs it there),
    or mailpit on PATH; None when there is none."""
    for path in (os.environ.get("KAIIN_MAILPIT"), os.path.join(REPO, "build", "tools", "mailpit"),
                 shutil.which("mailpit")):
        if path and os.access(path, os.X_OK):
            return path
    return None


def stripe_mock_binary():
    """stripe-mock, Stripe's API answered from its OpenAPI description: $KAIIN_STRIPE_MOCK,
    build/tools/stripe-mock (make test installs it there), or stripe-mock on PATH; None when
    there is none."""
    for path in (os.environ.get("KAIIN_STRIPE_MOCK"), os.path.join(REPO, "build", "tools", "stripe-mock"),
                 shutil.which("stripe-mock")):
        if path and os.access(path, os.X_OK):
            return path
    return None


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


_handed_out = set()


def free_port():
    """A port nobody listens on, below the kernel's ephemeral range: a port the kernel hands
    to outgoing connections (as bind(0) would give) can be taken by one before our server binds
    it, which made servers fail to start now and then."""
    low, _ = _ephemeral_range()
    first, last = 10000, max(10001, low - 1)
    # Each pytest-xdist worker draws from a slice of its own: two workers could otherwise pick
    # the same port between one's check here and its server's bind.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if worker.startswith("gw") and workers > 1:
        size = (last - first + 1) // workers
        first += int(worker[2:]) * size
        last = first + size - 1
    for _ in range(200):
        port = random.randint(first, last)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port below the ephemeral range")


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_listening(p, ports, timeout, what):
    """Waits until something listens on every port of ports; raises, with the end of p's log,
    when p exits or timeout seconds pass first."""
    deadline = time.monotonic() + timeout
    while not all(port_open(port) for port in ports):
        if not p.alive() or time.monotonic() > deadline:
            raise RuntimeError("%s did not start:\n%s" % (what, log_tail(p.log_path)))
        time.sleep(0.05)


def log_tail(path, n=60):
    try:
        with open(path, "r", errors="replace") as f:
            lines = f.readlines()
    except OSError:
        return "(no log at %s)" % path
    return "".join(lines[-n:])


class Proc:
    """One server process started by the suite, its stdout/stderr in a log file."""

    def __init__(self, suite, name, argv, env, check_exit=True):
        self.suite = suite
        self.name = name
        self.log_path = os.path.join(suite.dir, "%s.log" % name)
        self.check_exit = check_exit      # Kaiin binaries: SIGTERM must give exit 0, clean log
        self.term_sent = False
        self.checked = False
        log = open(self.log_path, "ab")
        try:
            self.popen = subprocess.Popen(argv, env=env, cwd=REPO, stdin=subprocess.DEVNULL,
                                          stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True)
        finally:
            log.close()
        self.pid = self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    @property
    def returncode(self):
        return self.popen.poll()

    def signal(self, sig):
        if self.alive():
            if sig == signal.SIGTERM:
                self.term_sent = True
            self.popen.send_signal(sig)

    def kill(self):
        """SIGKILL and reap."""
        self.signal(signal.SIGKILL)
        self.wait(STOP_TIMEOUT)

    def wait(self, timeout=STOP_TIMEOUT):
        """Waits for exit; returns the exit code (negative: signal) or None on timeout."""
        try:
            rc = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self.inspect()
        return rc

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, wait; SIGKILL (and record a problem) if it does not exit in time."""
        if not self.alive():
            self.inspect()
            return self.popen.returncode
        self.signal(signal.SIGTERM)
        rc = self.wait(timeout)
        if rc is None:
            self.suite.problems.append("%s (pid %d) did not exit within %.0fs of SIGTERM"
                                       % (self.name, self.pid, timeout))
            self.popen.kill()
            rc = self.popen.wait(timeout=10)
            self.inspect()
        return rc

    def log(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def inspect(self):
        """Once exited: sanitizer reports in the log, and exit 0 after SIGTERM."""
        if self.checked or self.alive():
            return
        self.checked = True
        if not self.check_exit:
            return
        text = self.log()
        for marker in SANITIZER_MARKERS:
            if marker in text:
                i = text.index(marker)
                self.suite.problems.append("%s (pid %d) log %s has a sanitizer report:\n%s"
                                           % (self.name, self.pid, self.log_path,
                                              text[max(0, i - 200):i + 3000]))
                break
        for label, secret in self.suite.secret_values():
            if secret in text:
                self.suite.problems.append("%s (pid %d) log %s holds a secret (%s)"
                                           % (self.name, self.pid, self.log_path, label))
        rc = self.popen.returncode
        if self.term_sent and rc != 0:
            self.suite.problems.append("%s (pid %d) exited with %s after SIGTERM (log %s):\n%s"
                                       % (self.name, self.pid, rc, self.log_path,
                                          log_tail(self.log_path, 30)))


class Client:
    """HTTP to the gateway, always with a fixed timeout; the admin (bootstrap) token by default,
    or the bearer token given (a staff session "kss_..." or an API key "kak_...")."""

    def __init__(self, suite, token=None):
        self.suite = suite
        self.token = token

    def request(self, method, path, auth=True, headers=None, json_body=None, data=None,
                timeout=HTTP_TIMEOUT, **kw):
        h = {}
        if auth:
            h["Authorization"] = "Bearer " + (self.token or self.suite.token)
        if json_body is not None:
            data = json.dumps(json_body)
            h["Content-Type"] = "application/json"
        if headers:
            h.update(headers)
        for k in [k for k, v in h.items() if v is None]:
            del h[k]
        t0 = time.monotonic()
        r = requests.request(method, self.suite.url(path), headers=h, data=data,
                             timeout=timeout, allow_redirects=False, **kw)
        r.elapsed_s = time.monotonic() - t0
        self._note_secrets(method, path, h, json_body, r)
        return r

    def _note_secrets(self, method, path, headers, body, r):
        """Keeps the secrets this exchange carried (a password sent, a bearer token, a token or
        secret given): the suite's processes' logs are searched for them when they exit. An
        answer that repeats a password its request sent is a problem at once."""
        sent = secret_fields(body)
        for field, value in sent:
            if value in r.text:
                self.suite.problems.append("the answer to %s %s holds the %s it was sent"
                                           % (method, path, field))
        auth = headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            sent.append(("bearer token", auth[7:]))
        if r.headers.get("Content-Type", "").startswith("application/json"):
            try:
                sent += secret_fields(r.json())
            except ValueError:
                pass
        for field, value in sent:
            self.suite.api_secrets.setdefault(value, "a %s of the API (%s %s)" % (field, method, path))

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, json_body=body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, json_body=body, **kw)

    def create_member(self, **fields):
        body = {"email": unique_email()}
        body.update(fields)
        r = self.post("/v1/members", body)
        assert r.status_code == 201, (r.status_code, r.text)
        return r.json()


SECRET_FIELDS = ("password", "new_password", "current_password", "token", "secret")


def secret_fields(body):
    """(field, value) of the secrets in a JSON body: its own password, token and secret fields
    and those of the objects it holds, values long enough to be one (12 characters or more)."""
    out = []
    if isinstance(body, dict):
        for k, v in body.items():
            if k in SECRET_FIELDS and isinstance(v, str) and len(v) >= 12:
                out.append((k, v))
            elif isinstance(v, (dict, list)):
                out += secret_fields(v)
    elif isinstance(body, list):
        for v in body:
            out += secret_fields(v)
    return out


def unique_email(prefix="m"):
    return "%s-%s@example.com" % (prefix, uuid.uuid4().hex[:16])


def new_password():
    return "pw-" + secrets.token_hex(12)


class Suite:
    """A whole Kaiin installation on free ports in its own temp directory."""

    def __init__(self, name="suite", member_workers=4, request_timeout_ms=None,
                 bootstrap_disabled=False, billing=None, billing_workers=4, services=None,
                 workers=None, mailpit=False, settings=None, automations=True, stripe_mock=False):
        """services: the names to run, in services/list's order (default: every one that is
        built); billing=True/False adds or leaves out billing. workers: {name: worker threads}
        (default 4 each; member_workers and billing_workers say the same for those two).
        mailpit: start a throwaway mailpit (SMTP and its HTTP API on free ports) and point
        kaiin-messaging at it; without it messaging's relay is a closed port (mail stays
        queued). settings: {name: {VARIABLE: value}} added to that service's environment
        ("gateway": the gateway's).
        automations=False: once ready, every automation messaging seeded is switched off
        (automations_off), inside start, so a failure there still stops the suite.
        stripe_mock: start a throwaway stripe-mock (HTTP on stripe_mock_port); the caller
        points billing at it (settings: BILLING_PROVIDER, STRIPE_API_BASE, ...)."""
        self.name = name
        wanted = [n for n in service_names() if built(n)] if services is None else list(services)
        if billing is not None:
            wanted = [n for n in wanted if n != "billing"] + (["billing"] if billing else [])
        order = service_names()
        self.service_list = sorted(set(wanted), key=lambda n: order.index(n) if n in order else len(order))
        self.workers = {n: 4 for n in self.service_list}
        self.workers.update(member=member_workers, billing=billing_workers)
        self.workers.update(workers or {})
        # Per service: its roles' passwords, its secrets, and its processes believed running.
        self.pg_passwords = {n: (secrets.token_hex(12), secrets.token_hex(12)) for n in self.service_list}
        self.secrets = {v: secrets.token_hex(32) for n in self.service_list for v in service_secrets(n)}
        self.running = {n: [] for n in self.service_list}
        # KAIIN_ADMIN_TOKEN_DISABLED=1 for the gateway: the bootstrap token (self.token) is
        # still passed but refused; only sessions and API keys work.
        self.bootstrap_disabled = bootstrap_disabled
        self.request_timeout_ms = request_timeout_ms or REQUEST_TIMEOUT_MS
        self.dir = tempfile.mkdtemp(prefix="kaiin-%s-" % name, dir="/tmp")
        os.chmod(self.dir, 0o755)             # the postgres user must traverse it
        self.pg_dir = os.path.join(self.dir, "pg")
        self.pg_port = free_port()
        self.redis_port = free_port()
        self.redis_password = secrets.token_hex(16)          # Kaiin's ACL user, "kaiin"
        self.redis_admin_password = secrets.token_hex(16)    # the default user's
        self.http_port = free_port()
        self.tls = "KAIIN_TLS_CERT_FILE" in (settings or {}).get("gateway", {})
        self.broker_port = free_port()
        self.mailpit = None
        self.want_mailpit = mailpit
        self.want_automations = automations
        self.smtp_port = free_port()
        self.mailpit_port = free_port() if mailpit else None
        self.stripe_mock = None
        self.stripe_mock_port = free_port() if stripe_mock else None
        self.settings = {"messaging": {"MESSAGING_SMTP_HOST": "127.0.0.1",
                                       "MESSAGING_SMTP_PORT": str(self.smtp_port),
                                       "MESSAGING_PUBLIC_URL": self.url("")}}
        for name, values in (settings or {}).items():
            self.settings.setdefault(name, {}).update(values)
        self.token = "tok-" + secrets.token_hex(16)
        self.problems = []                     # sanitizer reports, bad exits
        self.api_secrets = {}                  # secrets clients sent or were given: no log holds one
        self.procs = []                        # every Proc ever started
        self.gateway = None
        self.redis = None
        self.pg_running = False
        self._seq = 0
        self._lock = threading.Lock()
        self.client = Client(self)
        _live_suites.append(self)

    # ---------------------------------------------------------------- start / stop
    def start(self):
        try:
            self.start_pg()
            self.db_init()
            self.start_redis()
            if self.want_mailpit:
                self.start_mailpit()
            if self.stripe_mock_port:
                self.start_stripe_mock()
            self.start_gateway(wait=False)
            for name in self.service_list:
                self.start_service(name, wait=False)
            self.wait_ready()
            if not self.want_automations:
                self.automations_off()
        except BaseException:
            self.stop()
            raise
        return self

    def automations_off(self):
        """Switches off every automation messaging has (the transactional mails it seeds on:
        welcome, receipt, 督促, cancellation), for suites about something else: their
        thousands of invoices would each queue a mail, and every test-clock move would wait
        for them."""
        if "messaging" not in self.service_list:
            return
        # Ready says every service has workers; on a loaded machine (the sanitizer run) a
        # worker's first connection to PostgreSQL may still be coming: 503 and 504 are retried.
        deadline = time.monotonic() + 90
        while True:
            r = self.client.get("/v1/messaging/automations", params={"limit": 100})
            if r.status_code == 200:
                active = [a["id"] for a in r.json()["data"] if a["active"]]
                for aid in active:
                    r = self.client.patch("/v1/messaging/automations/" + aid, {"active": False})
                    if r.status_code != 200:
                        break
                else:
                    return
            assert r.status_code in (503, 504) and time.monotonic() < deadline, r.text
            time.sleep(0.5)

    def stop(self):
        """Stops everything: Kaiin processes with SIGTERM (then logs are inspected), servers."""
        global stopping
        stopping = True
        try:
            self._stop()
        finally:
            stopping = False

    def _stop(self):
        for procs in self.running.values():
            for p in list(procs):
                p.stop()
            procs.clear()
        if self.gateway:
            self.gateway.stop()
        if self.mailpit:
            self.mailpit.stop()
        if self.stripe_mock:
            self.stripe_mock.stop()
        for p in self.procs:          # anything else still running (e.g. a stray member)
            if p.alive():
                p.stop()
        if self.pg_running or os.path.exists(os.path.join(self.pg_dir, "postmaster.pid")):
            try:
                self.stop_pg()
            except RuntimeError as e:
                self.problems.append("could not stop PostgreSQL: %s" % e)
        if self in _live_suites:
            _live_suites.remove(self)

    def cleanup_dir(self):
        if not os.environ.get("KAIIN_TEST_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, path):
        """The gateway's URL of path: https when the suite's gateway serves TLS (settings
        {"gateway": {"KAIIN_TLS_CERT_FILE": ...}}; the caller makes requests trust it)."""
        return "%s://127.0.0.1:%d%s" % ("https" if self.tls else "http", self.http_port, path)

    def _name(self, base):
        with self._lock:
            self._seq += 1
            return "%s.%d" % (base, self._seq)

    def base_env(self):
        env = dict(os.environ)
        env.setdefault("KAIIN_LOG_LEVEL", "info")
        env["KAIIN_TEST_MODE"] = "1"          # POST /v1/test/clock, served by every process
        return env

    def services(self):
        """The gateway's KAIIN_SERVICES: the suite's services, in services/list's order."""
        return ",".join(self.service_list)

    # The two services most tests name: their processes, passwords, settings.
    with_billing = property(lambda self: "billing" in self.service_list)
    members = property(lambda self: self.running.setdefault("member", []))
    billings = property(lambda self: self.running.setdefault("billing", []))
    member_workers = property(lambda self: self.workers.get("member", 4))
    billing_workers = property(lambda self: self.workers.get("billing", 4))
    member_pw = property(lambda self: self.pg_passwords["member"][0])
    owner_pw = property(lambda self: self.pg_passwords["member"][1])
    billing_pw = property(lambda self: self.pg_passwords["billing"][0])
    billing_owner_pw = property(lambda self: self.pg_passwords["billing"][1])
    webhook_secret = property(lambda self: self.secrets["BILLING_SANDBOX_WEBHOOK_SECRET"])

    # ---------------------------------------------------------------- PostgreSQL
    def _pg_cluster(self, *args):
        env = dict(os.environ)
        env["KAIIN_PG_FSYNC"] = "off"
        r = subprocess.run([os.path.join(REPO, "scripts/pg-cluster.sh")] + list(args), env=env,
                           cwd=REPO, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("pg-cluster.sh %s failed (%d):\n%s\n%s\n%s"
                               % (" ".join(args), r.returncode, r.stdout, r.stderr,
                                  log_tail(os.path.join(self.pg_dir, "server.log"))))

    def start_pg(self):
        self._pg_cluster("start", self.pg_dir, str(self.pg_port))
        self.pg_running = True

    def stop_pg(self, mode="fast"):
        """Stops PostgreSQL; mode "immediate" is as a crash of its processes (recovery at the
        next start; the kernel keeps what was written, as it does when only PostgreSQL dies)."""
        self._pg_cluster("stop", self.pg_dir, mode)
        self.pg_running = False

    def restart_pg(self, down_s=0.0):
        self.stop_pg()
        time.sleep(down_s)
        self.start_pg()

    def db_init(self, names=None):
        """Roles and schemas of the suite's services, or of names (services it was not started
        with: a test-only one, whose passwords are made here)."""
        for name in names or []:
            self.pg_passwords.setdefault(name, (secrets.token_hex(12), secrets.token_hex(12)))
        env = dict(os.environ, PGHOST=self.pg_dir, PGPORT=str(self.pg_port), PGUSER="postgres",
                   KAIIN_SERVICES=",".join(names) if names else self.services())
        for name, (login_pw, owner_pw) in self.pg_passwords.items():
            env[name.upper() + "_PG_PASSWORD"] = login_pw
            env[name.upper() + "_PG_OWNER_PASSWORD"] = owner_pw
        r = subprocess.run([os.path.join(REPO, "scripts/db-init.sh")], env=env, cwd=REPO,
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("db-init.sh failed (%d):\n%s\n%s" % (r.returncode, r.stdout, r.stderr))

    def pg_url(self, name, owner=False):
        """The connection string of service `name`'s login role (owner: its owner role)."""
        login_pw, owner_pw = self.pg_passwords[name]
        return "postgresql://kaiin_%s%s:%s@127.0.0.1:%d/kaiin" % (
            name, "_owner" if owner else "", owner_pw if owner else login_pw, self.pg_port)

    def member_url(self):
        return self.pg_url("member")

    def owner_url(self):
        return self.pg_url("member", owner=True)

    def billing_url(self):
        return self.pg_url("billing")

    def billing_owner_url(self):
        return self.pg_url("billing", owner=True)

    def _psql(self, argv, sql, timeout):
        return subprocess.run(argv + ["-v", "ON_ERROR_STOP=1", "-qAtX", "-F", "\t",
                                      "-P", "null=" + NULL_MARK, "-c", sql],
                              capture_output=True, text=True, timeout=timeout,
                              env=dict(os.environ, PGCONNECT_TIMEOUT="5"))

    def psql_super(self, sql, timeout=30):
        """Runs SQL as the superuser; returns the CompletedProcess (no check)."""
        return self._psql(["psql", "-h", self.pg_dir, "-p", str(self.pg_port), "-U", "postgres",
                           "-d", "kaiin"], sql, timeout)

    def sql(self, sql, timeout=30):
        """Runs SQL as the superuser; returns rows as lists of strings (NULL → None)."""
        r = self.psql_super(sql, timeout)
        if r.returncode != 0:
            raise RuntimeError("psql failed: %s\n%s" % (sql, r.stderr))
        return _rows(r.stdout)

    def sql_as(self, name, sql, owner=False, timeout=30):
        """Runs SQL as service `name`'s login role (owner: its owner role; search_path is the
        service's schema); returns the CompletedProcess (no check)."""
        return self._psql(["psql", self.pg_url(name, owner)], sql, timeout)

    def sql_as_billing_owner(self, sql, timeout=120):
        """Runs SQL as kaiin_billing_owner (search_path billing); returns rows (raises on error)."""
        r = self.sql_as("billing", sql, owner=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError("psql (billing owner) failed: %s\n%s" % (sql[:2000], r.stderr))
        return _rows(r.stdout)

    def sql_as_member(self, sql, timeout=30):
        """Runs SQL as the member login role kaiin_member; returns the CompletedProcess."""
        return self.sql_as("member", sql, timeout=timeout)

    def hold_lock(self, sql_lock):
        """Opens a superuser session that runs `begin; <sql_lock>` and keeps it open.
        Returns a LockHolder; release() commits it."""
        return LockHolder(self, sql_lock)

    # ---------------------------------------------------------------- Redis
    def start_redis(self):
        # As make run has it: the default user (operators, these tests) needs a password, and
        # Kaiin's own user may touch only kaiin:* keys, with no admin or dangerous command.
        p = Proc(self, "redis", ["redis-server", "--port", str(self.redis_port), "--bind",
                                 "127.0.0.1", "--save", "", "--appendonly", "no",
                                 "--dir", self.dir, "--requirepass", self.redis_admin_password,
                                 "--user", "kaiin", "on", ">" + self.redis_password, "~kaiin:*",
                                 "+@all", "-@dangerous"], dict(os.environ), check_exit=False)
        self.procs.append(p)
        self.redis = p
        wait_listening(p, [self.redis_port], 10, "redis-server")

    def stop_redis(self):
        if self.redis:
            self.redis.stop()
            self.redis = None

    def redis_cli(self, *args, timeout=10):
        """Runs one redis-cli command against the suite's Redis; returns its stdout, stripped."""
        r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.redis_port),
                            "-a", self.redis_admin_password, "--no-auth-warning"]
                           + [str(a) for a in args], capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError("redis-cli %s failed (%d): %s" % (args, r.returncode, r.stderr))
        return r.stdout.strip()

    # ---------------------------------------------------------------- mailpit (SMTP sink)
    def start_mailpit(self, *extra):
        """Starts mailpit on the suite's ports; extra: more of its options (a test's
        "--smtp-allowed-recipients", which answers 550 to the others)."""
        binary = mailpit_binary()
        if not binary:
            raise RuntimeError("mailpit not found: make test installs it in build/tools "
                               "(GOBIN=build/tools go install github.com/axllent/mailpit@v1.33.1)")
        p = Proc(self, "mailpit", [binary, "--smtp", "127.0.0.1:%d" % self.smtp_port,
                                   "--listen", "127.0.0.1:%d" % self.mailpit_port,
                                   "--database", os.path.join(self.dir, "mailpit.db"),
                                   "--max", "0", "--quiet", "--disable-version-check",
                                   "--smtp-auth-accept-any", "--smtp-auth-allow-insecure", *extra],
                 dict(os.environ), check_exit=False)
        self.procs.append(p)
        self.mailpit = p
        wait_listening(p, [self.smtp_port, self.mailpit_port], 20, "mailpit")

    # ---------------------------------------------------------------- stripe-mock (Stripe's API)
    def start_stripe_mock(self):
        """Starts stripe-mock on the suite's port (its HTTPS on another free one: its default,
        12112, would clash between suites)."""
        binary = stripe_mock_binary()
        if not binary:
            raise RuntimeError("stripe-mock not found: make test installs it in build/tools "
                               "(GOBIN=build/tools go install github.com/stripe/stripe-mock@v0.203.0)")
        p = Proc(self, "stripe-mock", [binary, "-http-addr", "127.0.0.1:%d" % self.stripe_mock_port,
                                       "-https-addr", "127.0.0.1:%d" % free_port()],
                 dict(os.environ), check_exit=False)
        self.procs.append(p)
        self.stripe_mock = p
        wait_listening(p, [self.stripe_mock_port], 20, "stripe-mock")

    def mailpit_api(self, path, method="GET", **kw):
        """Calls mailpit's HTTP API (/api/v1/...); returns the requests Response."""
        return requests.request(method, "http://127.0.0.1:%d%s" % (self.mailpit_port, path),
                                timeout=HTTP_TIMEOUT, **kw)

    def mails(self, query=None):
        """Every message mailpit holds (its summaries, newest first), or those matching query
        (mailpit's search: "to:x@example.com subject:...")."""
        out, start = [], 0
        while True:
            params = {"start": start, "limit": 500}
            if query:
                params["query"] = query
            r = self.mailpit_api("/api/v1/search" if query else "/api/v1/messages", params=params)
            r.raise_for_status()
            page = r.json()
            out += page["messages"]
            start += len(page["messages"])
            if not page["messages"] or start >= page.get("messages_count", page.get("total", 0)):
                return out

    # ---------------------------------------------------------------- Kaiin processes
    def _binary(self, name):
        path = os.path.join(bin_dir(), name)
        if not os.access(path, os.X_OK):
            raise RuntimeError("%s not found or not executable (KAIIN_BIN_DIR=%s); run make all"
                               % (path, bin_dir()))
        return path

    def secret_values(self):
        """(what, value) of every secret the suite handed its processes, or its clients sent or
        were given through the API: no log may hold one."""
        out = [("the bootstrap token", self.token), ("Redis's password", self.redis_password),
               ("Redis's admin password", self.redis_admin_password)]
        out += [("%s's PostgreSQL password" % n, pw) for n, pws in self.pg_passwords.items() for pw in pws]
        out += [(name, value) for name, value in self.secrets.items()]
        out += [(label, value) for value, label in list(self.api_secrets.items())]
        keys = os.path.join(self.dir, "keys")
        for name in (os.listdir(keys) if os.path.isdir(keys) else []):
            if name.endswith(".key"):
                with open(os.path.join(keys, name)) as f:
                    out.append(("the CurveZMQ key " + name, f.read().strip()))
        return [(label, value) for label, value in out if value and len(value) >= 16]

    def curve_key(self, name):
        """The CurveZMQ key of `name` ("broker", or a service): made once under the suite's
        folder (kaiin-keygen, a 0600 file); a service's public key goes on the broker's list,
        which the broker rereads when it changes. Returns (secret key file, public key)."""
        keys = os.path.join(self.dir, "keys")
        r = subprocess.run([self._binary("kaiin-keygen"), keys, name], capture_output=True,
                           text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError("kaiin-keygen %s failed: %s" % (name, r.stderr))
        public = r.stdout.strip()
        clients = os.path.join(keys, "clients")
        listed = open(clients).read().split("\n") if os.path.exists(clients) else []
        if name != "broker" and "%s %s" % (name, public) not in listed:
            with open(clients, "a") as f:
                f.write("%s %s\n" % (name, public))
        return os.path.join(keys, name + ".key"), public

    def start_gateway(self, wait=True):
        env = self.base_env()
        broker_key, _ = self.curve_key("broker")
        env.update(KAIIN_HTTP_PORT=str(self.http_port),
                   KAIIN_BROKER_SECRET_KEY_FILE=broker_key,
                   KAIIN_BROKER_CLIENTS_FILE=os.path.join(self.dir, "keys", "clients"),
                   KAIIN_BROKER_ENDPOINT="tcp://127.0.0.1:%d" % self.broker_port,
                   KAIIN_ADMIN_TOKEN=self.token,
                   KAIIN_REDIS_URL="redis://127.0.0.1:%d" % self.redis_port,
                   KAIIN_REDIS_USER="kaiin", KAIIN_REDIS_PASSWORD=self.redis_password,
                   KAIIN_PG_URL="postgresql://127.0.0.1:%d/kaiin" % self.pg_port,
                   KAIIN_SERVICES=self.services(),
                   KAIIN_OPENAPI=os.path.join(REPO, "gateway/openapi.json"),
                   KAIIN_WEB_DIR=os.path.join(REPO, "web"))
        if self.request_timeout_ms:
            env["KAIIN_REQUEST_TIMEOUT_MS"] = str(self.request_timeout_ms)
        if self.bootstrap_disabled:
            env["KAIIN_ADMIN_TOKEN_DISABLED"] = "1"
        env.update(self.settings.get("gateway", {}))
        p = Proc(self, self._name("gateway"), [self._binary("kaiin-gateway")], env)
        self.procs.append(p)
        self.gateway = p
        if wait:
            self.wait_ready()
        return p

    def service_env(self, name):
        """The environment of a kaiin-<name> process: settings derived from the name."""
        upper = name.upper()
        env = self.base_env()
        env.update({upper + "_PG_URL": self.pg_url(name),
                    upper + "_PG_OWNER_URL": self.pg_url(name, owner=True),
                    upper + "_WORKERS": str(self.workers.get(name, 4)),
                    upper + "_MIGRATIONS": os.path.join(REPO, "services", name, "migrations"),
                    "KAIIN_BROKER_ENDPOINT": "tcp://127.0.0.1:%d" % self.broker_port,
                    "KAIIN_CURVE_SECRET_KEY_FILE": self.curve_key(name)[0],
                    "KAIIN_BROKER_PUBLIC_KEY": self.curve_key("broker")[1]})
        env.update({v: self.secrets[v] for v in service_secrets(name) if v in self.secrets})
        env.update(self.settings.get(name, {}))
        return env

    def start_service(self, name, wait=True, binary=None, env=None):
        """Starts one more kaiin-<name> process (binary: another path than the built one's;
        env: settings added to its own). wait: until the broker counts its workers."""
        before = self.broker_workers(name) if wait else 0
        p = Proc(self, self._name(name), [binary or self._binary("kaiin-" + name)],
                 dict(self.service_env(name), **(env or {})))
        self.procs.append(p)
        self.running.setdefault(name, []).append(p)
        if wait:
            self.wait_workers(p, before, service=name)
        return p

    def kill_service(self, name, p=None, sig=signal.SIGKILL):
        """Sends `sig` to p (default: the first kaiin-<name> process believed running); after
        SIGKILL, reaps it. It is no longer counted as running."""
        procs = self.running.setdefault(name, [])
        p = p or procs[0]
        p.signal(sig)
        if sig == signal.SIGKILL:
            p.wait()
        if p in procs:
            procs.remove(p)
        return p

    def restart_service(self, name):
        """SIGTERMs every kaiin-<name> process and starts one new one; waits until served."""
        procs = self.running.setdefault(name, [])
        for p in list(procs):
            p.stop()
        procs.clear()
        self.wait_no_workers(service=name)
        p = self.start_service(name)
        self.wait_ready()
        return p

    def start_member(self, wait=True):
        return self.start_service("member", wait)

    def start_billing(self, wait=True):
        return self.start_service("billing", wait)

    def kill_member(self, p=None, sig=signal.SIGKILL):
        return self.kill_service("member", p, sig)

    def kill_billing(self, p=None, sig=signal.SIGKILL):
        return self.kill_service("billing", p, sig)

    def restart_member(self):
        return self.restart_service("member")

    def restart_billing(self):
        return self.restart_service("billing")

    def wait_workers(self, p, before, timeout=READY_TIMEOUT, service="member"):
        """Waits until the broker has more `service` workers than `before` and the count is stable."""
        deadline = time.monotonic() + timeout
        last, stable_since = None, None
        while True:
            if not p.alive():
                raise RuntimeError("%s exited (%s) at start-up:\n%s"
                                   % (p.name, p.returncode, log_tail(p.log_path)))
            n = self.broker_workers(service)
            now = time.monotonic()
            if n is not None and n > before:
                if n == last:
                    if now - stable_since >= 0.4:
                        return
                else:
                    last, stable_since = n, now
            if now > deadline:
                raise RuntimeError("%s: the broker never counted its workers (%s, before %s):\n%s"
                                   % (p.name, n, before, log_tail(p.log_path)))
            time.sleep(0.05)

    wait_member_workers = wait_workers

    def restart_gateway(self, bootstrap_disabled=None):
        """SIGTERMs the gateway and starts a new one on the same ports (sessions in Redis
        survive); bootstrap_disabled, when given, changes KAIIN_ADMIN_TOKEN_DISABLED first."""
        if self.gateway:
            self.gateway.stop()
        if bootstrap_disabled is not None:
            self.bootstrap_disabled = bootstrap_disabled
        return self.start_gateway(wait=True)

    # ---------------------------------------------------------------- staff
    def client_as(self, token):
        """A Client that sends `token` (a session or an API key) instead of the bootstrap token."""
        return Client(self, token)

    def create_staff(self, role, client=None, email=None, password=None, name=None):
        """Creates a staff account (as `client`, the bootstrap token by default); returns
        (staff JSON, password)."""
        password = password or new_password()
        body = {"email": email or unique_email("staff-" + role), "role": role,
                "password": password}
        if name is not None:
            body["name"] = name
        r = (client or self.client).post("/v1/staff", body)
        assert r.status_code == 201, (r.status_code, r.text)
        return r.json(), password

    def login(self, email, password):
        """POST /v1/auth/login; returns the session token (asserts 200)."""
        r = self.client.post("/v1/auth/login", {"email": email, "password": password},
                             auth=False)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()["token"]

    def member(self):
        """The first member process believed running."""
        return self.members[0]

    def wait_no_workers(self, timeout=5.0, service="member"):
        """Waits until the broker has dropped every `service` worker (after the processes exited)."""
        deadline = time.monotonic() + timeout
        while True:
            n = self.broker_workers(service)
            if n == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError("the broker still counts %s %s workers %.0fs after every "
                                   "%s process exited" % (n, service, timeout, service))
            time.sleep(0.05)

    # ---------------------------------------------------------------- probes
    def readyz(self, timeout=(1.0, 3.0)):
        try:
            return requests.get(self.url("/readyz"), timeout=timeout)
        except requests.RequestException:
            return None

    def wait_ready(self, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        last = None
        while True:
            for p in [self.gateway] + [p for procs in self.running.values() for p in procs]:
                if p is not None and not p.alive():
                    raise RuntimeError("%s exited (%s) before the suite was ready:\n%s"
                                       % (p.name, p.returncode, log_tail(p.log_path)))
            r = self.readyz()
            if r is not None and r.status_code == 200:
                return r
            last = r
            if time.monotonic() > deadline:
                raise RuntimeError("not ready after %.0fs; last /readyz: %s\n%s"
                                   % (timeout, None if last is None else
                                      "%d %s" % (last.status_code, last.text),
                                      self.logs_summary()))
            time.sleep(0.1)

    def metrics(self):
        r = requests.get(self.url("/metrics"), timeout=HTTP_TIMEOUT)
        r.raise_for_status()
        return parse_metrics(r.text)

    def broker_workers(self, service="member"):
        try:
            samples = self.metrics()
        except requests.RequestException:
            return None
        for name, labels, value in samples:
            if name == "kaiin_broker_workers" and labels.get("service") == service:
                return value
        return 0

    def logs_summary(self, n=40):
        out = []
        for p in self.procs:
            out.append("---- %s (pid %d, %s) %s\n%s" % (
                p.name, p.pid, "running" if p.alive() else "exit %s" % p.returncode,
                p.log_path, log_tail(p.log_path, n)))
        return "\n".join(out)

    def take_problems(self):
        for p in self.procs:
            p.inspect()
        probs, self.problems = self.problems, []
        return probs


class LockHolder:
    """A superuser psql session inside an open transaction, fed through stdin."""

    def __init__(self, suite, sql_lock):
        self.p = subprocess.Popen(["psql", "-h", suite.pg_dir, "-p", str(suite.pg_port), "-U",
                                   "postgres", "-d", "kaiin", "-qAtX", "-v", "ON_ERROR_STOP=1"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.p.stdin.write("begin;\n%s;\nselect 'locked';\n" % sql_lock)
        self.p.stdin.flush()
        line = self.p.stdout.readline()       # blocks until the lock is held
        if line.strip() != "locked":
            self.p.kill()
            raise RuntimeError("could not take the lock: %r %s" % (line, self.p.stderr.read()))

    def release(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.write("commit;\n")
                self.p.stdin.close()
            except OSError:
                pass
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def _rows(out):
    rows = []
    for line in out.splitlines():
        rows.append([None if c == NULL_MARK else c for c in line.split("\t")])
    return rows


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*')


def parse_metrics(text):
    """Prometheus text format → [(name, {label: value}, float)]. Raises on a malformed line."""
    out = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise ValueError("malformed metrics line: %r" % line)
        labels = {}
        if m.group(3):
            body = m.group(3).strip()
            pos = 0
            while pos < len(body):
                lm = _LABEL.match(body, pos)
                if not lm:
                    raise ValueError("malformed labels in: %r" % line)
                labels[lm.group(1)] = lm.group(2)
                pos = lm.end()
        out.append((m.group(1), labels, float(m.group(4))))
    return out


def _cleanup_at_exit():
    for s in list(_live_suites):
        try:
            s.stop()
        except Exception:
            pass


atexit.register(_cleanup_at_exit)
