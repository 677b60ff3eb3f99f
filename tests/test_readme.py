"""The README's "First steps", run verbatim against a fresh suite, in order, in one shell.

Each ```sh block of the section runs as written (the shell keeps its variables from block to
block, as a reader's terminal does). A ```json or ```http block after it is what that block
must print: ids, times, request ids and tokens stand for any of their kind, "…" for anything
(the rest of a record), and whitespace is not compared. An http block's headers must each be
among the response's, in any order. A block whose commands fail, or whose output differs,
fails the test with both texts.
"""
import os
import queue
import re
import subprocess
import threading
import time

import pytest

from harness import Suite

README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "README.md")

# What may differ from run to run, as the README writes it and as a pattern.
VARYING = [
    (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", r"[0-9a-f-]{36}"),
    (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)", r"[0-9T:.Z+-]{20,35}"),
    (r"k(?:ss|ms|ak)_[0-9a-f]{64}", r"k(?:ss|ms|ak)_[0-9a-f]{64}"),
    (r"(?<=\"request_id\":\")[0-9a-f]{32}", r"[0-9a-f]{32}"),
    (r"(?<=x-request-id:)[0-9a-f]{32}", r"[0-9a-f]{32}"),      # headers compared lower-cased
]
ELLIPSIS = "\u2026"


def first_steps():
    """The section's blocks, in order: (language, text)."""
    text = open(README, encoding="utf-8").read()
    start = text.index("\n## First steps")
    end = text.index("\n## ", start + 1)
    return [(m.group(1), m.group(2))
            for m in re.finditer(r"```(\w+)\n(.*?)```", text[start:end], re.S)]


def pattern(expected):
    """A regex for an expected text: whitespace dropped, "…" and the varying parts wild."""
    squeezed = re.sub(r"\s+", "", expected)
    marks = []

    def mark(m, repl):
        marks.append(repl)
        return "\x00%d\x00" % (len(marks) - 1)
    for varying, repl in VARYING:
        squeezed = re.sub(varying, lambda m, r=repl: mark(m, r), squeezed)
    squeezed = squeezed.replace(ELLIPSIS, "\x00w\x00")
    out = re.escape(squeezed)
    out = out.replace(re.escape("\x00w\x00"), ".*?")
    for i, repl in enumerate(marks):
        out = out.replace(re.escape("\x00%d\x00" % i), repl)
    return out


def matches(expected, actual):
    return re.fullmatch(pattern(expected), re.sub(r"\s+", "", actual), re.S) is not None


def check_http(expected, actual):
    """An http block: the status line, each header shown (any order, among others), the body."""
    head, _, body = expected.strip().partition("\n\n")
    got_head, _, got_body = actual.replace("\r\n", "\n").strip().partition("\n\n")
    lines, got_lines = head.split("\n"), got_head.split("\n")
    assert matches(lines[0], got_lines[0]), (lines[0], got_lines[0])
    def lowered(header):
        name, _, value = header.partition(":")
        return name.lower() + ":" + value
    for line in lines[1:]:
        assert any(matches(lowered(line), lowered(got)) for got in got_lines[1:]), (line, got_head)
    if body.strip():
        assert matches(body, got_body), (body, got_body)


@pytest.fixture(scope="module")
def suite():
    s = Suite("readme")
    s.start()
    yield s
    s.stop()


class Shell:
    """One bash for the whole walkthrough, as a reader's terminal: variables carry from block to
    block. run() returns what a block printed and its last exit code."""

    def __init__(self, cwd, env):
        self.p = subprocess.Popen(["bash"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=open(os.path.join(cwd, "stderr.log"), "w"), text=True,
                                  cwd=cwd, env=env)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.stderr_path = os.path.join(cwd, "stderr.log")
        self.send("set -u")

    def _read(self):
        for line in self.p.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send(self, text):
        self.p.stdin.write(text + "\n")
        self.p.stdin.flush()

    def run(self, text, timeout=120):
        # A block's last line may lack its newline (curl -s): the mark starts a line of its own.
        self.send(text + "\n__rc=$?; printf '\\n@@rc %s@@\\n' \"$__rc\"")
        out, deadline = [], time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if line is None:
                return "".join(out), -1
            m = re.fullmatch(r"@@rc (\d+)@@\n", line)
            if m:
                return "".join(out), int(m.group(1))
            out.append(line)

    def stderr(self):
        with open(self.stderr_path) as f:
            return f.read()[-2000:]

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=30)


def read_only(text):
    """True for a block of curl GETs alone: the README shows what it prints once other services
    caught up (billing's events reach member's record a moment later), so it may be run again."""
    return "curl" in text and re.search(r"-X\s*(POST|PUT|PATCH|DELETE)|\s-d\s|--data|-F\s", text) is None


def check(language, expected, actual):
    if language == "http":
        check_http(expected, actual)
    else:
        assert matches(expected, actual)


def test_first_steps_run_verbatim(suite, tmp_path):
    blocks = first_steps()
    shell_blocks = [b for b in blocks if b[0] == "sh"]
    assert len(shell_blocks) >= 10, "the walkthrough lost its blocks"
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "admin-token").write_text(suite.token)
    shell = Shell(str(tmp_path), dict(os.environ, API=suite.url("").rstrip("/")))
    last, output = None, None
    checked, wrong = 0, []
    try:
        for i, (language, text) in enumerate(blocks):
            if language == "sh":
                output, rc = shell.run(text)
                if rc != 0:
                    wrong.append("block %d did not run to the end:\n%s\n--- printed:\n%s\n--- stderr:\n%s"
                                 % (i, text, output, shell.stderr()))
                    break
                last = i
            elif language in ("json", "http") and last is not None:
                deadline = time.monotonic() + 15
                while True:
                    try:
                        check(language, text, output)
                        break
                    except AssertionError as e:
                        if not read_only(blocks[last][1]) or time.monotonic() > deadline:
                            wrong.append("block %d shows:\n%s\n--- but the commands printed:\n%s\n(%s)"
                                         % (i, text, output, e))
                            break
                        time.sleep(0.5)
                        output, _ = shell.run(blocks[last][1])
                checked += 1
    finally:
        shell.close()
    assert not wrong, "\n\n".join(wrong)
    assert checked >= 8, checked
