"""test_http_strict.py - requests whose framing two HTTP parsers could read differently (request
smuggling through a proxy in front) are refused with 400 and the connection closed; the bytes
after them are never served as a request of their own. Raw sockets: no client library sends
these."""

import json
import socket
import time

import pytest

import harness


@pytest.fixture(scope="module")
def suite():
    s = harness.Suite("strict", services=["member"]).start()
    yield s
    s.stop()
    s.cleanup_dir()


def exchange(suite, raw, wait=10.0):
    """Sends raw bytes; returns (everything answered until the server closed, seconds taken)."""
    s = socket.create_connection(("127.0.0.1", suite.http_port))
    s.settimeout(wait)
    started = time.monotonic()
    s.sendall(raw)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pytest.fail("the server neither answered nor closed within %.0f s: %r" % (wait, out))
    finally:
        s.close()
    return out, time.monotonic() - started


SMUGGLED = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize("head,detail", [
    (b"Content-Length: 5\r\nContent-Length: 40\r\n",
     "the request has more than one Content-Length header"),
    (b"Content-Length: 5\r\nContent-Length: 5\r\n",
     "the request has more than one Content-Length header"),
    (b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
     "the request has both Content-Length and Transfer-Encoding"),
    (b"Transfer-Encoding: gzip\r\n", "the only Transfer-Encoding taken is chunked, once"),
    (b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
     "the only Transfer-Encoding taken is chunked, once"),
    # obs-fold (RFC 9112, 5.2): libmicrohttpd 0.9.75 would join " two" onto the name (X-Notetwo)
    (b"X-Note: one\r\n two\r\n", "a header line is folded onto the next (obs-fold), which is not taken"),
    (b"X-Note: one\r\n\ttwo three\r\n four\r\n",
     "a header line is folded onto the next (obs-fold), which is not taken"),
    (b"Transfer-Encoding: chunked\r\n x\r\n",
     "a header line is folded onto the next (obs-fold), which is not taken"),
    (b"Content-Length:\r\n 5\r\n", "a header line is folded onto the next (obs-fold), which is not taken"),
])
def test_ambiguous_framing_is_refused_and_the_connection_closed(suite, head, detail):
    raw = (b"POST /v1/members HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + suite.token.encode()
           + b"\r\nContent-Type: application/json\r\n" + head + b"\r\n0\r\n\r\n" + SMUGGLED)
    out, took = exchange(suite, raw)
    assert took < 5, took                                   # at once, not at a time-out
    assert out.startswith(b"HTTP/1.1 400 "), out
    assert out.count(b"HTTP/1.1 ") == 1, out                # the bytes after it were not served
    assert b"\r\nConnection: close\r\n" in out, out
    head_part, body = out.split(b"\r\n\r\n", 1)
    assert b"Content-Type: application/problem+json" in head_part
    assert json.loads(body)["detail"] == detail


def test_white_space_around_values_and_empty_values_are_not_taken_for_folds(suite):
    """The fold check reads where a value starts in the request's bytes: spaces and tabs after
    the colon, none at all, or an empty value are ordinary fields."""
    raw = (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A:b\r\nX-B: \t  c \r\nX-C:\r\nX-D: \r\n"
           b"Connection: close\r\n\r\n")
    out, _ = exchange(suite, raw)
    assert out.startswith(b"HTTP/1.1 200 "), out


def test_a_chunked_body_alone_is_read(suite):
    body = json.dumps({"email": harness.unique_email()}).encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    raw = (b"POST /v1/members HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + suite.token.encode()
           + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
           + chunked)
    out, _ = exchange(suite, raw)
    assert out.startswith(b"HTTP/1.1 201 "), out
