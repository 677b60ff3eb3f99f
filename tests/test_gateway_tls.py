"""test_gateway_tls.py - the gateway's own TLS (KAIIN_TLS_CERT_FILE and KAIIN_TLS_KEY_FILE):
HTTPS with HSTS, no plain HTTP and no TLS older than 1.2 on its port, Secure session cookies,
and bad settings stopping it at start-up. The certificates are self-signed, made here with the
openssl command. The suite is this module's own (member alone)."""

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import warnings

import pytest
import requests

import harness
from harness import HTTP_TIMEOUT

HSTS = "max-age=63072000"


def self_signed(folder, name):
    """A self-signed certificate for 127.0.0.1 and its key (EC P-256): their two paths."""
    cert, key = os.path.join(folder, name + ".crt"), os.path.join(folder, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def certs():
    folder = tempfile.mkdtemp(prefix="kaiin-tls-")
    yield {"one": self_signed(folder, "one"), "two": self_signed(folder, "two"), "folder": folder}
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def suite(certs):
    cert, key = certs["one"]
    saved = os.environ.get("REQUESTS_CA_BUNDLE")
    os.environ["REQUESTS_CA_BUNDLE"] = cert            # requests trusts the self-signed certificate
    try:
        s = harness.Suite("tls", services=["member"],
                          settings={"gateway": {"KAIIN_TLS_CERT_FILE": cert, "KAIIN_TLS_KEY_FILE": key}}).start()
        yield s
        s.stop()
        s.cleanup_dir()
    finally:
        if saved is None:
            os.environ.pop("REQUESTS_CA_BUNDLE", None)
        else:
            os.environ["REQUESTS_CA_BUNDLE"] = saved


def test_https_answers_with_hsts(suite):
    assert suite.url("/").startswith("https://")
    created = suite.client.create_member()
    r = suite.client.get("/v1/members/%s" % created["id"])
    assert r.status_code == 200 and r.json() == created
    assert r.headers["Strict-Transport-Security"] == HSTS
    r = suite.client.get("/v1/members", auth=False)                  # a problem too
    assert r.status_code == 401 and r.headers["Content-Type"] == "application/problem+json"
    assert r.headers["Strict-Transport-Security"] == HSTS
    assert "listening on HTTPS port %d" % suite.http_port in open(suite.gateway.log_path).read()


def test_plain_http_to_the_tls_port_is_not_served(suite):
    with socket.create_connection(("127.0.0.1", suite.http_port), timeout=5) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        got = b""
        try:
            while len(got) < 4096:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except (ConnectionResetError, socket.timeout):
            pass
    assert not got.startswith(b"HTTP/"), got[:200]
    with pytest.raises(requests.ConnectionError):
        requests.get("http://127.0.0.1:%d/healthz" % suite.http_port, timeout=HTTP_TIMEOUT)


def test_tls_older_than_1_2_is_refused(suite, certs):
    """A client that offers TLS 1.1 at most (OpenSSL's security level 0 lets it) gets no
    handshake; the same client allowed TLS 1.2 gets one."""
    def handshake(maximum):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(certs["one"][0])
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():                 # old versions: that is the point
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = maximum
        with socket.create_connection(("127.0.0.1", suite.http_port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                return s.version()
    assert handshake(ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    with pytest.raises(ssl.SSLError):
        handshake(ssl.TLSVersion.TLSv1_1)


def test_the_console_cookie_is_secure_over_tls(suite):
    s, password = suite.create_staff("viewer")
    r = requests.post(suite.url("/v1/auth/login"), json={"email": s["email"], "password": password},
                      timeout=HTTP_TIMEOUT)                          # no X-Forwarded-Proto
    assert r.status_code == 200, r.text
    assert r.headers["Set-Cookie"] == "kaiin_session=%s; Path=/; HttpOnly; SameSite=Strict; Secure" % r.json()["token"]
    assert r.headers["Strict-Transport-Security"] == HSTS


def test_what_a_request_costs_over_tls(suite, capsys):
    """Not a bound: the figures of a request with its own TLS handshake and of one on a kept
    connection, printed (pytest -s shows them)."""
    n = 40
    started = time.monotonic()
    for _ in range(n):
        assert requests.get(suite.url("/healthz"), timeout=HTTP_TIMEOUT).status_code == 200
    fresh = (time.monotonic() - started) / n
    session = requests.Session()
    started = time.monotonic()
    for _ in range(n):
        assert session.get(suite.url("/healthz"), timeout=HTTP_TIMEOUT).status_code == 200
    kept = (time.monotonic() - started) / n
    with capsys.disabled():
        print("\nGET /healthz over TLS: %.2f ms with a handshake each, %.2f ms on a kept connection"
              % (fresh * 1000, kept * 1000))


@pytest.mark.parametrize("case", ["cert alone", "key unreadable", "cert not a certificate", "key of another"])
def test_bad_tls_settings_stop_the_gateway_at_start_up(certs, case):
    cert, key = certs["one"]
    other_key = certs["two"][1]
    settings, message = {
        "cert alone": ({"KAIIN_TLS_CERT_FILE": cert},
                       "'KAIIN_TLS_CERT_FILE' and 'KAIIN_TLS_KEY_FILE' go together: 'KAIIN_TLS_KEY_FILE' is not set"),
        "key unreadable": ({"KAIIN_TLS_CERT_FILE": cert, "KAIIN_TLS_KEY_FILE": key + ".missing"},
                           "cannot read '%s.missing' named by 'KAIIN_TLS_KEY_FILE': No such file or directory" % key),
        "cert not a certificate": ({"KAIIN_TLS_CERT_FILE": key, "KAIIN_TLS_KEY_FILE": key},
                                   "'%s' named by 'KAIIN_TLS_CERT_FILE' holds no PEM certificate" % key),
        "key of another": ({"KAIIN_TLS_CERT_FILE": cert, "KAIIN_TLS_KEY_FILE": other_key},
                           "the private key in '%s' is not the one of the certificate in '%s'" % (other_key, cert)),
    }[case]
    port = harness.free_port()
    env = dict(os.environ, KAIIN_HTTP_PORT=str(port), KAIIN_ADMIN_TOKEN="t" * 32,
               KAIIN_BROKER_ENDPOINT="tcp://127.0.0.1:%d" % harness.free_port(), **settings)
    r = subprocess.run([os.path.join(harness.bin_dir(), "kaiin-gateway")], env=env, cwd=harness.REPO,
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert message in r.stderr, r.stderr[-2000:]
    assert not harness.port_open(port)
