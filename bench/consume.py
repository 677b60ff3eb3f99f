"""consume.py - not part of `make bench`: how fast kaiin-messaging's consumer applies member's
events. A throwaway suite (tests/harness.py) of member and messaging, with messaging's seeded
automations on; messaging killed; N members imported from CSV (a member.registered each, each
entering the welcome automation); messaging started again with BINARY and timed until its
member position reaches the events member holds.

    KAIIN_BIN_DIR=build/bin python3 bench/consume.py [BINARY] [N]

BINARY: a kaiin-messaging to time (default: the built one), so that two builds can be timed one
after the other on the same machine; N: 10 000 by default."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import harness  # noqa: E402
from test_csv_import import JA_HEADER, excel_csv, ja_row, post_csv  # noqa: E402

BATCH = 2000                    # the synchronous import's rows per request


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else None
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    suite = harness.Suite("consume", services=["member", "messaging"])
    suite.start()
    try:
        suite.kill_service("messaging")
        tag = "c%d" % os.getpid()
        for first in range(0, n, BATCH):
            rows = [JA_HEADER] + [ja_row("m-%s-%06d@example.com" % (tag, i), name="会員 %d" % i, opt_in="はい")
                                  for i in range(first, min(n, first + BATCH))]
            r = post_csv(suite.client, excel_csv(rows), timeout=(3.0, 120.0))
            assert r.status_code == 200, r.text
        # member numbers its events when a consumer asks for them: every row of its outbox
        # gets a seq, 1 to the count
        top = int(suite.sql("select count (*) from member.outbox")[0][0])
        started = time.monotonic()
        suite.start_service("messaging", binary=binary)
        at = 0
        while at < top:
            time.sleep(0.1)
            at = int(suite.sql("select coalesce (max (seq), 0) from messaging.consumer_positions"
                               " where source = 'member'")[0][0])
        seconds = time.monotonic() - started
        print("consume: %d member events applied in %.1f s from messaging's start: %.0f/s (load %s)"
              % (top, seconds, top / seconds, open("/proc/loadavg").read().split()[0]))
    finally:
        suite.stop()


if __name__ == "__main__":
    main()
