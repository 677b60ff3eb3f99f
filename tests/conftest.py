"""conftest.py - fixtures: one shared Kaiin suite per session, sanitizer/exit checks, logs on failure."""

import os
import signal
import sys
import warnings

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


def _interrupt(signum, frame):
    if not harness.stopping:          # a suite being stopped finishes stopping first
        raise KeyboardInterrupt("signal %d" % signum)


def pytest_configure(config):
    # A SIGTERM to pytest (CI cancelling, timeout) still tears the suites down.
    signal.signal(signal.SIGTERM, _interrupt)


def pytest_collection_modifyitems(config, items):
    """A test that drives the browser is marked so (make test-san leaves those out)."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


def _fail_on_problems(suite, when):
    probs = suite.take_problems()
    if probs:
        pytest.fail("%s: Kaiin process problems:\n\n%s" % (when, "\n\n".join(probs)), pytrace=False)


@pytest.fixture(scope="session")
def suite():
    """The shared suite. Tests using it must leave it as they found it (one member, all up)."""
    s = harness.Suite("main").start()
    s.session_wide = True              # outlives the module that first asks for it
    yield s
    s.stop()                           # SIGTERM: exit codes and sanitizer reports are inspected
    probs = s.take_problems()
    if probs:
        pytest.fail("at session end: Kaiin process problems:\n\n%s" % "\n\n".join(probs),
                    pytrace=False)
    s.cleanup_dir()


@pytest.fixture
def client(suite):
    return suite.client


@pytest.fixture(autouse=True)
def _kaiin_problems(request):
    """After each test: any Kaiin process of any live suite that exited with a sanitizer report
    (or a bad exit after SIGTERM) fails that test."""
    yield
    for s in list(harness._live_suites):
        _fail_on_problems(s, "after %s" % request.node.name)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    # A fault scenario's figures travel with its report: under pytest-xdist the test ran in a
    # worker process, and only reports reach the process that prints the summary.
    rep.user_properties.extend(("fault", f) for f in harness.fault_figures)
    harness.fault_figures.clear()
    if rep.failed and call.when in ("call", "setup"):
        for s in harness._live_suites:
            rep.sections.append(("kaiin logs (%s, %s)" % (s.name, s.dir), s.logs_summary(25)))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """A module's suites end with it. One left running (a fixture that failed after starting
    it) would keep its servers busy beside every later module's: once the last test of a module
    is torn down (its module's fixtures with it), any suite still running but the session's is
    stopped, with a warning naming it."""
    yield
    if nextitem is not None and nextitem.module is item.module:
        return
    for s in [s for s in harness._live_suites if not getattr(s, "session_wide", False)]:
        s.stop()
        s.cleanup_dir()
        warnings.warn("suite %r was still running after the last test of %s; stopped"
                      % (s.name, item.module.__name__))


_fault_rows = []


_failed = []


def pytest_runtest_logreport(report):
    _fault_rows.extend(v for k, v in report.user_properties if k == "fault")
    if report.failed and report.nodeid not in _failed:
        _failed.append(report.nodeid)


def pytest_sessionfinish(session):
    """KAIIN_FAILED_FILE names a file for the ids of the tests that failed (or erred), one a
    line: make test runs them again one at a time (tests/tests.mk). A pytest-xdist worker
    leaves it to the process that gathers the reports."""
    path = os.environ.get("KAIIN_FAILED_FILE")
    if path and not hasattr(session.config, "workerinput"):
        with open(path, "w") as f:
            f.write("".join(n + "\n" for n in _failed))


def pytest_terminal_summary(terminalreporter):
    """The fault scenarios' figures (harness.record_fault), one line each, before the result."""
    rows = _fault_rows
    if not rows:
        return
    columns = ["scenario", "faults", "acknowledged", "lost", "duplicates", "double charges",
               "mails twice"]
    cells = [[("-" if r[k] is None else str(r[k])) for k in columns] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(columns)]
    terminalreporter.section("fault scenarios: what a crash or restart under load lost")
    for line in [columns] + cells:
        terminalreporter.write_line("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip())
