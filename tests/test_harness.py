"""test_harness.py - the harness's own checks can fail: a sanitizer report in a log, a bad exit
after SIGTERM, a malformed metrics line. (No Kaiin servers needed.)"""

import time

import pytest

import harness


def _fake_suite():
    s = harness.Suite("selftest")
    harness._live_suites.remove(s)        # not a suite the per-test check should look at
    return s


def _fake(s, script):
    p = harness.Proc(s, "fake", ["sh", "-c", script], None)
    s.procs.append(p)
    time.sleep(0.2)
    return p


@pytest.mark.parametrize("report", [
    "==12==ERROR: LeakSanitizer: detected memory leaks",
    "==12==ERROR: AddressSanitizer: heap-use-after-free on address 0x1",
    "common/pg.c:10:5: runtime error: signed integer overflow",
])
def test_sanitizer_report_in_log_is_a_problem(report):
    s = _fake_suite()
    try:
        p = _fake(s, "trap 'echo \"%s\" >&2; exit 0' TERM; while :; do sleep 0.05; done" % report)
        assert p.stop() == 0
        probs = s.take_problems()
        assert len(probs) == 1 and "sanitizer report" in probs[0], probs
    finally:
        s.cleanup_dir()


def test_nonzero_exit_after_sigterm_is_a_problem():
    s = _fake_suite()
    try:
        p = _fake(s, "trap 'exit 23' TERM; while :; do sleep 0.05; done")
        assert p.stop() == 23
        probs = s.take_problems()
        assert len(probs) == 1 and "exited with 23 after SIGTERM" in probs[0], probs
    finally:
        s.cleanup_dir()


def test_clean_exit_is_not_a_problem():
    s = _fake_suite()
    try:
        p = _fake(s, "trap 'echo bye >&2; exit 0' TERM; while :; do sleep 0.05; done")
        assert p.stop() == 0
        assert s.take_problems() == []
    finally:
        s.cleanup_dir()


def test_parse_metrics():
    got = harness.parse_metrics('# TYPE a counter\na{x="1",y="q\\"z"} 3\nb 4.5 1700000000\n')
    assert got == [("a", {"x": "1", "y": 'q\\"z'}, 3.0), ("b", {}, 4.5)]
    with pytest.raises(ValueError):
        harness.parse_metrics("a{x=1} 3\n")
