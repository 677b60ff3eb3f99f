"""test_trusted_proxy.py - behind a proxy of ours (KAIIN_TRUSTED_PROXIES), the client's address
is the one the proxy put in X-Forwarded-For, so the audit log, login history and login
throttling see each client, not the proxy (issue 16). A client that is not a listed proxy
cannot choose its address by sending the header; a wrong entry stops start-up. Requests come
from chosen loopback addresses: 127.0.0.2 plays the proxy, 127.0.0.3 a client reaching the
gateway directly."""

import os
import subprocess

import pytest
import requests

import harness
from test_member_auth import from_address

PROXY, OTHER = "127.0.0.2", "127.0.0.3"


@pytest.fixture(scope="module")
def suite():
    s = harness.Suite("proxy", settings={"gateway": {"KAIIN_TRUSTED_PROXIES": "%s, ::1, 10.0.0.9" % PROXY}}).start()
    yield s
    s.stop()
    s.cleanup_dir()


def created_from(suite, address, forwarded):
    """Registers a member from address with X-Forwarded-For (None: no header); returns the ip
    its audit entry holds."""
    headers = {"Authorization": "Bearer " + suite.token}
    if forwarded is not None:
        headers["X-Forwarded-For"] = forwarded
    with from_address(address) as s:
        r = s.post(suite.url("/v1/members"), json={"email": harness.unique_email("proxy")},
                   headers=headers, timeout=harness.HTTP_TIMEOUT)
    assert r.status_code == 201, r.text
    rows = suite.sql("select ip from member.audit_log where target_id = '%s' order by seq"
                     % r.json()["id"])
    return rows[0][0]


@pytest.mark.parametrize("address,forwarded,ip", [
    # from the proxy: the address it saw, the header's right end
    (PROXY, "203.0.113.7", "203.0.113.7"),
    (PROXY, "198.51.100.23, 203.0.113.7", "203.0.113.7"),        # the left part the client wrote
    (PROXY, "203.0.113.9, 10.0.0.9", "203.0.113.9"),             # a proxy of ours in between
    (PROXY, "203.0.113.1,2001:db8::5 ", "2001:db8::5"),
    (PROXY, "203.0.113.5, not-an-address", PROXY),               # no address the proxy wrote
    (PROXY, None, PROXY),
    # from anyone else: the header is not believed
    (OTHER, "203.0.113.7", OTHER),
    (OTHER, None, OTHER),
])
def test_the_client_address_is_the_proxys_word_only_from_a_proxy(suite, address, forwarded, ip):
    assert created_from(suite, address, forwarded) == ip


def test_login_throttling_counts_each_client_behind_the_proxy(suite):
    """300 failed staff logins an hour from one address block that address's logins
    (gateway/session.c): from behind the proxy they count against, and block, the client who
    made them, not every client of the proxy. The first 299 are set in Redis, not made."""
    attacker, other = "203.0.113.66", "203.0.113.77"
    suite.redis_cli("SET", "kaiin:login-failures:ip:" + attacker, "299")

    def login(forwarded, n):
        with from_address(PROXY) as s:
            return s.post(suite.url("/v1/auth/login"), json={"email": "nobody-%d@example.jp" % n, "password": "x" * 12},
                          headers={"X-Forwarded-For": forwarded}, timeout=harness.HTTP_TIMEOUT).status_code

    assert login(attacker, 1) == 401                       # the 300th failure
    assert login(attacker, 2) == 429
    assert login(other, 3) == 401                          # another client of the same proxy
    assert suite.redis_cli("GET", "kaiin:login-failures:ip:" + other).strip() == "1"
    assert suite.redis_cli("GET", "kaiin:login-failures:ip:" + PROXY).strip() == ""


def test_a_wrong_entry_stops_the_gateway_at_start_up():
    port = harness.free_port()
    env = dict(os.environ, KAIIN_HTTP_PORT=str(port), KAIIN_ADMIN_TOKEN="t" * 32,
               KAIIN_BROKER_ENDPOINT="tcp://127.0.0.1:%d" % harness.free_port(),
               KAIIN_TRUSTED_PROXIES="127.0.0.2, 10.0.0.300")
    r = subprocess.run([os.path.join(harness.bin_dir(), "kaiin-gateway")], env=env, cwd=harness.REPO,
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert "KAIIN_TRUSTED_PROXIES: ' 10.0.0.300' is not an IPv4 or IPv6 address (at most 16)" in r.stderr, r.stderr[-2000:]
    assert not harness.port_open(port)
