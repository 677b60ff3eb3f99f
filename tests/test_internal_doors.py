"""test_internal_doors.py - the doors behind the HTTP edge. CurveZMQ on the broker: only listed
keys connect, a key serves only its own service, and nothing crosses the wire in clear (the
rogue peers here speak the Majordomo worker protocol with python3-zmq, as an attacker on the
network would). Redis: a password for everyone, and Kaiin's own user confined to its keys.

The suite is this module's own (member alone)."""

import os
import signal
import socket
import subprocess
import threading
import time

import pytest

import harness

zmq = pytest.importorskip("zmq", reason="python3-zmq is not installed (make test installs it)")

READY = [b"", b"MDPW01", b"\x01"]


@pytest.fixture(scope="module")
def suite():
    s = harness.Suite("doors", services=["member"]).start()
    settled(s, "member", s.member_workers)
    yield s
    s.stop()
    s.cleanup_dir()


def settled(suite, service, n, timeout=20.0):
    """Waits until the broker counts n workers of service."""
    deadline = time.monotonic() + timeout
    while suite.broker_workers(service) != n:
        assert time.monotonic() < deadline, (service, suite.broker_workers(service), n)
        time.sleep(0.05)


def gateway_log(suite):
    with open(suite.gateway.log_path) as f:
        return f.read()


def rogue(suite, service, secret=None, curve=True):
    """A DEALER saying READY for service, with a fresh key (or secret's), or none at all."""
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.linger = 0
    if curve:
        secret = secret or zmq.curve_keypair()[1]
        s.curve_secretkey = secret
        s.curve_publickey = zmq.curve_public(secret)
        s.curve_serverkey = suite.curve_key("broker")[1].encode()
    # Refused at the handshake, the socket may hold no pipe to queue a message on, and a send
    # would then wait for a peer for ever (CI hung there once): what could not be sent within
    # two seconds the broker never saw.
    s.sndtimeo = 2000
    s.connect("tcp://127.0.0.1:%d" % suite.broker_port)
    try:
        s.send_multipart(READY + [service.encode(), b"rogue:1", b"1", b""])
    except zmq.Again:
        pass
    return s


def received(sock, seconds):
    """The messages sock receives within seconds."""
    got, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        if sock.poll(50):
            got.append(sock.recv_multipart())
    return got


def wait_log(suite, text, timeout=10.0):
    deadline = time.monotonic() + timeout
    while text not in gateway_log(suite):
        assert time.monotonic() < deadline, "not in the gateway's log: %r\n%s" % (text, gateway_log(suite)[-3000:])
        time.sleep(0.05)


def test_the_broker_takes_curve_only(suite):
    assert "the broker takes CurveZMQ connections only" in gateway_log(suite)


def test_a_rogue_key_never_registers_and_is_logged(suite):
    """The attack of the issue: a program on the network registers as member. With a key that
    is on no list it is refused at the handshake, logged, and never sees a request."""
    before = suite.broker_workers("member")
    r = rogue(suite, "member")
    try:
        wait_log(suite, "the broker refused a connection from '127.0.0.1'")
        for _ in range(20):                              # requests keep going to the real workers
            assert suite.client.create_member()["id"]
        assert received(r, 1.0) == []
        assert suite.broker_workers("member") == before
    finally:
        r.close()


def test_a_plain_peer_gets_nothing(suite):
    before = suite.broker_workers("member")
    r = rogue(suite, "member", curve=False)
    try:
        assert received(r, 1.0) == []
        assert suite.broker_workers("member") == before
    finally:
        r.close()


def test_a_services_key_serves_only_that_service(suite):
    """member's own key, stolen, still cannot register a worker of another service: the broker
    says DISCONNECT and logs it."""
    key_file, _ = suite.curve_key("member")
    with open(key_file) as f:
        secret = f.read().strip().encode()
    before = suite.broker_workers("billing")
    r = rogue(suite, "billing", secret=secret)
    try:
        got = received(r, 2.0)
        assert [b"", b"MDPW01", b"\x05"] in [m[:3] for m in got], got
        wait_log(suite, "refused a worker from 'rogue:1' for service 'billing': its key is member's")
        assert suite.broker_workers("billing") == before
    finally:
        r.close()


def test_a_service_with_a_key_not_listed_cannot_connect(suite):
    """A member process whose key the broker does not list: its workers are never counted."""
    other = os.path.join(suite.dir, "other-keys")
    os.makedirs(other, mode=0o700)
    subprocess.run([os.path.join(harness.bin_dir(), "kaiin-keygen"), other, "member"], check=True,
                   capture_output=True)
    before = suite.broker_workers("member")
    refusals = gateway_log(suite).count("the broker refused a connection")
    p = suite.start_service("member", wait=False,
                            env={"KAIIN_CURVE_SECRET_KEY_FILE": os.path.join(other, "member.key")})
    try:
        # its workers try, are refused, and try again (a loaded machine starts it slowly)
        deadline = time.monotonic() + 30
        while gateway_log(suite).count("the broker refused a connection") < refusals + 2:
            assert time.monotonic() < deadline, gateway_log(suite)[-2000:]
            time.sleep(0.2)
        assert p.alive()
        assert suite.broker_workers("member") == before
    finally:
        suite.kill_service("member", p=p)


def test_a_key_file_others_may_read_is_refused(suite):
    other = os.path.join(suite.dir, "open-keys")
    os.makedirs(other, mode=0o700)
    subprocess.run([os.path.join(harness.bin_dir(), "kaiin-keygen"), other, "member"], check=True,
                   capture_output=True)
    os.chmod(os.path.join(other, "member.key"), 0o644)
    p = suite.start_service("member", wait=False,
                            env={"KAIIN_CURVE_SECRET_KEY_FILE": os.path.join(other, "member.key")})
    p.wait(timeout=20)
    suite.running["member"].remove(p)
    assert p.returncode != 0
    with open(p.log_path) as f:
        assert "must be its owner's alone (chmod 600)" in f.read()


class Tap:
    """A TCP relay from a local port to the broker that keeps every byte it carries."""

    def __init__(self, target_port):
        self.target = target_port
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.data = bytearray()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, a, b):
        """Copies a's bytes to b until either side closes (the other direction's thread may
        close b first: a broken pipe ends this one the same way)."""
        while True:
            try:
                chunk = a.recv(65536)
                if chunk:
                    with self.lock:
                        self.data += chunk
                    b.sendall(chunk)
            except OSError:
                chunk = b""
            if not chunk:
                for s in (a, b):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                return

    def close(self):
        self.listener.close()


def test_nothing_crosses_the_wire_in_clear(suite):
    """Every member worker connects through a tap; the members created through the gateway (their
    emails and names reach member and come back) appear nowhere in the bytes it carried."""
    tap = Tap(suite.broker_port)
    old = list(suite.members)
    suite.start_service("member", env={"KAIIN_BROKER_ENDPOINT": "tcp://127.0.0.1:%d" % tap.port})
    for q in old:                                       # only the tapped process serves now
        suite.kill_service("member", p=q, sig=signal.SIGTERM)
        q.wait()
    settled(suite, "member", suite.member_workers)
    try:
        emails = []
        for i in range(20):
            m = suite.client.create_member(name="山田 花子")
            emails.append(m["email"])
        with tap.lock:
            data = bytes(tap.data)
        assert len(data) > 20 * 200, len(data)         # the requests and replies went through it
        for text in emails + ["山田 花子", "MDPW01", "member.Create"]:
            assert text.encode() not in data, text
    finally:
        tap.close()


def redis_as(suite, *args, user=None, password=None):
    """redis-cli as user (None: no password at all); its output."""
    argv = ["redis-cli", "-h", "127.0.0.1", "-p", str(suite.redis_port), "--no-auth-warning"]
    if user:
        argv += ["--user", user, "--pass", password]
    r = subprocess.run(argv + list(args), capture_output=True, text=True, timeout=10)
    return r.stdout.strip() + r.stderr.strip()


def test_redis_needs_a_password_and_kaiins_user_touches_only_its_keys(suite):
    """The issue's attack: any local process writing kaiin:session:<hash> with role owner. Without
    the password nothing is read or written; Kaiin's own user cannot touch other keys or run
    admin commands."""
    forged = "kaiin:session:" + "0" * 64
    assert redis_as(suite, "HSET", forged, "role", "owner").startswith("NOAUTH")
    assert redis_as(suite, "KEYS", "*").startswith("NOAUTH")
    kaiin = dict(user="kaiin", password=suite.redis_password)
    assert redis_as(suite, "SET", "kaiin:doors-test", "1", **kaiin) == "OK"
    assert redis_as(suite, "SET", "elsewhere", "1", **kaiin).startswith("NOPERM")
    for command in (["FLUSHALL"], ["CONFIG", "GET", "requirepass"], ["ACL", "LIST"], ["KEYS", "*"]):
        assert redis_as(suite, *command, **kaiin).startswith("NOPERM"), command
    assert suite.redis_cli("EXISTS", forged) == "0"
