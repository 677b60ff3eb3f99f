"""login_probe.py - a real member logging in again and again, one login at a time, on one
keep-alive connection, as bench/run.sh's login figure: every login must answer 200.
    login_probe.py URL EMAIL PASSWORD COUNT
Prints one line: LOGIN logins=... p50_ms=... p95_ms=... max_ms=..."""

import http.client
import json
import statistics
import sys
import time
import urllib.parse


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: login_probe.py URL EMAIL PASSWORD COUNT")
    url, email, password, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    body = json.dumps({"email": email, "password": password})
    headers = {"Content-Type": "application/json", "User-Agent": "kaiin-bench login probe"}
    times = []
    for _ in range(count):
        t = time.monotonic()
        conn.request("POST", "/v1/member-auth/login", body=body, headers=headers)
        r = conn.getresponse()
        text = r.read().decode("utf-8", "replace")
        times.append((time.monotonic() - t) * 1000)
        if r.status != 200 or "token" not in json.loads(text):
            sys.exit("login_probe: POST /v1/member-auth/login answered %d: %s" % (r.status, text[:400]))
    times.sort()
    p95 = times[max(0, -(-len(times) * 95 // 100) - 1)]
    print("LOGIN logins=%d p50_ms=%.2f p95_ms=%.2f max_ms=%.2f"
          % (len(times), statistics.median(times), p95, times[-1]))


if __name__ == "__main__":
    main()
