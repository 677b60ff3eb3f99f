"""test_import_jobs.py - the member CSV import as a job (issue 13.5): POST
/v1/members/import-jobs answers 202 with the job, the tick imports it in batches (50 rows here,
a 50 ms nap after each so progress can be watched), GET shows rows done of total, the counters
and the first errors, cancel stops it between batches, and a member killed mid-job resumes from
the last committed batch without importing a row twice. The gateway streams the file to
member in slices of 4 KiB here (KAIIN_UPLOAD_SLICE_BYTES), so every file of more than a few
rows comes in many: an upload whose slices stop coming is deleted after 10 s
(MEMBER_IMPORT_UPLOAD_IDLE_S)."""

import csv
import io
import json
import re
import signal
import socket
import time
import uuid

import pytest

import harness
from harness import unique_email
from test_csv_import import BOM, EXPORT, EXPORT_EN, JA_HEADER, excel_csv, ja_row, post_csv
from test_members import assert_problem

JOBS = "/v1/members/import-jobs"
JOB_KEYS = {"id", "state", "mode", "tags_mode", "charset", "rows_total", "rows_done", "created",
            "updated", "unchanged", "rejected", "errors", "error", "created_at", "started_at",
            "finished_at"}
BATCH = 50
SLICE = 4096
IDLE_S = 10
PART = 50


@pytest.fixture(scope="module")
def js():
    s = harness.Suite("jobs", settings={"member": {"MEMBER_IMPORT_BATCH": str(BATCH),
                                                   "MEMBER_IMPORT_PAUSE_MS": "50",
                                                   "MEMBER_IMPORT_UPLOAD_IDLE_S": str(IDLE_S),
                                                   "MEMBER_EXPORT_PART": str(PART)},
                                        "gateway": {"KAIIN_UPLOAD_SLICE_BYTES": str(SLICE)}}).start()
    yield s
    s.stop()
    s.cleanup_dir()


def post_job(client, data, **params):
    return client.request("POST", JOBS, data=data, headers={"Content-Type": "text/csv"},
                          params=params, timeout=(3.0, 60.0))


def job_of(r, status=200):
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == JOB_KEYS, body
    return body


def wait_job(client, job_id, states=("succeeded", "failed", "canceled"), timeout=60.0):
    """Polls the job until its state is one of states; returns every answer seen."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get(JOBS + "/" + job_id)
        if r.status_code == 503:                # member restarting
            time.sleep(0.1)
            continue
        seen.append(job_of(r))
        if seen[-1]["state"] in states:
            return seen
        time.sleep(0.02)
    raise AssertionError("job %s still %s" % (job_id, seen[-1]))


def emails_in(suite, prefix):
    return int(suite.sql("select count(*) from member.members where email like '%s%%'"
                         % prefix)[0][0])


def test_job_with_good_and_bad_rows(js):
    """300 rows: 3 bad (a bad phone at row 10, an email repeated across batches at row 200
    naming row 5, a bad birthday at row 301), one existing member updated: the job reaches
    succeeded with counts worked out by hand, its errors by row, one audit entry."""
    client = js.client
    known = unique_email("known")
    r = client.post("/v1/members", json={"email": known, "name": "旧姓"})
    assert r.status_code == 201, r.text
    prefix = "job" + unique_email("")[:8]
    emails = ["%s-%03d@example.jp" % (prefix, i) for i in range(300)]
    rows = [ja_row(e, name="会員 %d" % i) for i, e in enumerate(emails)]
    rows[8] = ja_row(emails[8], name="電話", phone="12")                # row 10
    rows[198] = ja_row(emails[3], name="重複")                           # row 200 repeats row 5
    rows[299] = ja_row(emails[299], birthday="2099-01-01")              # row 301
    rows[100] = ja_row(known, name="新姓")                               # row 102: an update
    r = post_job(client, excel_csv([JA_HEADER] + rows))
    job = job_of(r, 202)
    assert r.headers["Location"] == JOBS + "/" + job["id"]
    assert job["state"] == "queued" and job["rows_total"] == 300 and job["charset"] == "cp932"
    assert job["mode"] == "partial" and job["tags_mode"] == "replace"
    seen = wait_job(client, job["id"])
    done = seen[-1]
    assert done["state"] == "succeeded", done
    assert (done["rows_total"], done["rows_done"], done["created"], done["updated"],
            done["unchanged"], done["rejected"]) == (300, 300, 296, 1, 0, 3)
    assert [(e["row"], e["column"], e["code"]) for e in done["errors"]] == \
        [(10, "電話番号", "invalid_phone"), (200, "メールアドレス", "repeats_email_of_row"),
         (301, "生年月日", "birthday_out_of_range")]
    assert done["errors"][1]["reason"] == "repeats the email of row 5"
    assert done["started_at"] and done["finished_at"] and done["error"] == ""
    # progress was visible on the way: some answer between none and all, counting up
    running = [j for j in seen if j["state"] == "running"]
    assert running and any(0 < j["rows_done"] < 300 for j in running), seen
    assert [j["rows_done"] for j in seen] == sorted(j["rows_done"] for j in seen)
    # 300 rows less the known member's, the repeat and the two rejected ones
    assert emails_in(js, prefix) == 296
    assert js.sql("select name from member.members where email = '%s'" % known) == [["新姓"]]
    assert js.sql("select count(*) from member.audit_log where action = 'member.imported' and"
                  " changes->>'job_id' = '%s'" % job["id"]) == [["1"]]
    assert js.sql("select count(*) from member.import_job_chunks where job_id = '%s'"
                  % job["id"]) == [["0"]]


def test_cancel_stops_between_batches(js):
    client = js.client
    prefix = "cancel" + unique_email("")[:8]
    rows = [ja_row("%s-%04d@example.jp" % (prefix, i)) for i in range(2000)]
    job = job_of(post_job(client, excel_csv([JA_HEADER] + rows)), 202)
    wait_job(client, job["id"], states=("running",))
    r = client.post(JOBS + "/" + job["id"] + "/cancel")
    canceled = job_of(r)
    assert canceled["state"] == "canceled" and canceled["finished_at"]
    assert 0 < canceled["rows_done"] < 2000
    time.sleep(0.5)
    after = job_of(client.get(JOBS + "/" + job["id"]))
    assert after["rows_done"] == canceled["rows_done"] and after["state"] == "canceled"
    # the rows written before stay, exactly those counted
    assert emails_in(js, prefix) == canceled["created"] == canceled["rows_done"]
    assert_problem(client.post(JOBS + "/" + job["id"] + "/cancel"), 409, "conflict")


@pytest.mark.chaos
def test_kill_mid_job_resumes_without_doubles(js):
    """kill -9 of member while the job runs: a new member process finishes it from the last
    committed batch; every email once, one member.registered event each."""
    client = js.client
    prefix = "kill" + unique_email("")[:8]
    rows = [ja_row("%s-%04d@example.jp" % (prefix, i)) for i in range(1500)]
    job = job_of(post_job(client, excel_csv([JA_HEADER] + rows)), 202)
    seen = wait_job(client, job["id"], states=("running",))
    while seen[-1]["rows_done"] < 300:
        seen = wait_job(client, job["id"], states=("running",))
    js.kill_member(sig=signal.SIGKILL)
    js.start_member(wait=False)
    js.wait_ready()
    done = wait_job(client, job["id"])[-1]
    events = js.sql("select count(*), count(distinct aggregate_id) from member.outbox o join"
                    " member.members m on o.aggregate_id = m.id::text where o.type ="
                    " 'member.registered' and m.email like '%s%%'" % prefix)
    harness.record_fault("member: kill -9 during a 1 500-row import job", "kill -9 ×1", 1500,
                         1500 - emails_in(js, prefix), int(events[0][0]) - int(events[0][1]))
    assert done["state"] == "succeeded", done
    assert (done["rows_done"], done["created"], done["rejected"]) == (1500, 1500, 0)
    assert emails_in(js, prefix) == 1500
    assert js.sql("select count(*), count(distinct lower(email)) from member.members"
                  " where email like '%s%%'" % prefix) == [["1500", "1500"]]
    assert events == [["1500", "1500"]]


def test_bad_requests_403_and_404(js):
    client = js.client
    email = unique_email("job403")
    data = excel_csv([JA_HEADER, ja_row(email)])
    staff, password = js.create_staff("support")
    support = js.client_as(js.login(staff["email"], password))
    assert_problem(post_job(support, data), 403, "forbidden")
    assert_problem(support.get(JOBS + "/00000000-0000-4000-8000-000000000000"), 403, "forbidden")
    missing = "00000000-0000-4000-8000-000000000000"
    assert_problem(client.get(JOBS + "/" + missing), 404, "not-found")
    assert_problem(client.get(JOBS + "/not-a-uuid"), 404, "not-found")
    assert_problem(client.post(JOBS + "/" + missing + "/cancel"), 404, "not-found")
    r = post_job(client, data, mode="all_or_nothing")
    body = assert_problem(r, 400, "invalid-request")
    assert [e["field"] for e in body["errors"]] == ["mode"], body
    r = post_job(client, excel_csv([["氏名", "列"], ["a", "b"]]))
    body = assert_problem(r, 400, "invalid-request")
    assert {e["field"] for e in body["errors"]} == {"csv"}, body
    assert not js.sql("select 1 from member.members where email = '%s'" % email)


def test_quoted_line_breaks_across_chunks_and_the_sync_path_agree(js):
    """Records whose quoted note holds line breaks and commas sit at the chunk boundaries
    (rows 51, 52, 101): each arrives whole, rows keep their spreadsheet numbers, and the job's
    counts and errors equal the synchronous import's for the same rows."""
    client = js.client
    prefix = "quote" + unique_email("")[:8]
    rows = [ja_row("%s-%03d@example.jp" % (prefix, i), name="髙橋 %d" % i) for i in range(120)]
    for i in (49, 50, 99):
        rows[i] = ja_row(rows[i][0], name="改行", note='一行目\r\n二行目, "引用"\n三行目')
    rows[60] = ja_row(rows[60][0], phone="1")                           # row 62
    job = job_of(post_job(client, excel_csv([JA_HEADER] + rows)), 202)
    done = wait_job(client, job["id"])[-1]
    assert (done["state"], done["rows_total"], done["created"], done["rejected"]) == \
        ("succeeded", 120, 119, 1)
    assert [(e["row"], e["column"]) for e in done["errors"]] == [(62, "電話番号")]
    for i in (49, 50, 99):          # the note is sealed in its row: read as the API answers it
        listed = client.get("/v1/members", params={"email": rows[i][0]}).json()["data"]
        assert [m["note"] for m in listed] == ['一行目\r\n二行目, "引用"\n三行目']
    # the same rows through POST /v1/members/import (dry run now: they exist) count as unchanged
    r = client.request("POST", "/v1/members/import", data=excel_csv([JA_HEADER] + rows),
                       headers={"Content-Type": "text/csv"}, params={"dry_run": "true"},
                       timeout=(3.0, 60.0))
    assert r.status_code == 200, r.text
    sync = r.json()
    assert (sync["rows"], sync["unchanged"], sync["rejected"]) == (120, 119, 1)
    assert [(e["row"], e["column"], e["code"], e["reason"]) for e in sync["errors"]] == \
        [(e["row"], e["column"], e["code"], e["reason"]) for e in done["errors"]]


def member_calls(client):
    """Requests the broker has handed to member so far (every instance)."""
    text = client.get("/metrics", auth=False).text
    return sum(float(v) for v in re.findall(
        r'^kaiin_broker_requests_total\{[^}]*service="member"[^}]*\} (\S+)$', text, re.M))


def test_file_in_many_slices_keeps_cut_characters_and_records(js):
    """A 1 500-row CP932 file (~210 KB) goes to member in at least 4 slices (each 4 KiB or
    more, at most 4 KiB plus what libmicrohttpd reads at once, 64 KiB): most of its bytes are
    two-byte characters and every row has a quoted cell with line breaks, so slices end inside
    both. Every row arrives whole and exact: the names (plain) by SQL, the notes (sealed) by
    the API; rows_total 1 500, charset cp932."""
    client = js.client
    prefix = "slice" + unique_email("")[:8]
    note = '一行目、ｶﾀｶﾅ\r\n二行目, "引用"\n三行目 髙橋①'
    rows = [ja_row("%s-%04d@example.jp" % (prefix, i), name="髙橋 ｱｲｳ 全角名前%d" % i,
                   address="東京都千代田区千代田一丁目%d番" % i, note=note + str(i))
            for i in range(1500)]
    data = excel_csv([JA_HEADER] + rows)
    assert len(data) > 200_000
    before = member_calls(client)
    job = job_of(post_job(client, data), 202)
    slices = member_calls(client) - before
    assert slices >= len(data) // (SLICE + 65536) + 1 >= 4, slices
    assert (job["state"], job["rows_total"], job["charset"]) == ("queued", 1500, "cp932")
    done = wait_job(client, job["id"], timeout=180.0)[-1]
    assert (done["state"], done["created"], done["rejected"]) == ("succeeded", 1500, 0), done
    names = dict(js.sql("select email, name from member.members where email like '%s%%'" % prefix))
    assert names == {r[0]: r[1] for r in rows}
    for i in (0, 1, 333, 777, 1499):
        listed = client.get("/v1/members", params={"email": rows[i][0]}).json()["data"]
        assert [(m["note"], m["address"]) for m in listed] == [(rows[i][10], rows[i][7])]


def test_bad_bytes_in_a_later_slice_leave_no_job(js):
    """A file that starts as UTF-8 (Japanese) and has Shift_JIS bytes 200 KB on: 400 naming
    csv, and the job its first slices made is gone, chunks and all; no member written."""
    client = js.client
    prefix = "mixed" + unique_email("")[:8]
    rows = [ja_row("%s-%04d@example.jp" % (prefix, i), name="山田 %d" % i) for i in range(5000)]
    data = excel_csv([JA_HEADER] + rows, encoding="utf-8")
    cut = data.index(b"\r\n", 200_000) + 2
    data = data[:cut] + ("%s-x@example.jp,髙橋\r\n" % prefix).encode("cp932") + data[cut:]
    jobs_before = js.sql("select count(*) from member.import_jobs")
    r = post_job(client, data)
    body = assert_problem(r, 400, "invalid-request")
    assert [(e["field"], e["reason"]) for e in body["errors"]] == \
        [("csv", "the file is neither UTF-8 nor Shift_JIS (CP932) text")], body
    assert js.sql("select count(*) from member.import_jobs") == jobs_before
    assert js.sql("select count(*) from member.import_job_chunks c where not exists"
                  " (select 1 from member.import_jobs j where j.id = c.job_id)") == [["0"]]
    time.sleep(0.5)
    assert emails_in(js, prefix) == 0


def test_a_quote_never_closed_is_refused_before_it_is_carried_to_the_end(js):
    """Row 4 opens a quoted note and never closes it; 1.5 MiB of text follow. A record no slice
    ends is carried from slice to slice (read again each time), so member refuses the file once
    that record passes 1 MiB: 400 naming csv and row 4 (header 1, rows 2 and 3 whole), the job
    gone, no member written; the Japanese reason for a Japanese caller."""
    client = js.client
    prefix = "quote" + unique_email("")[:8]
    rows = [ja_row("%s-%d@example.jp" % (prefix, i), name="引用 %d" % i) for i in range(2)]
    head = excel_csv([JA_HEADER] + rows, encoding="utf-8")
    body = head + ('%s-x@example.jp,"開いたまま ' % prefix).encode() + b"x,y\r\n" * (1536 * 1024 // 5)
    jobs_before = js.sql("select count(*) from member.import_jobs")
    r = post_job(client, body)
    problem = assert_problem(r, 400, "invalid-request")
    assert [(e["field"], e["code"], e["reason"]) for e in problem["errors"]] == \
        [("csv", "row_longer_than_limit",
          "row 4 is longer than 1024 KiB: is a quoted field never closed?")], problem
    r = client.request("POST", JOBS, data=body, timeout=(3.0, 60.0),
                       headers={"Content-Type": "text/csv", "Accept-Language": "ja"})
    assert [e["reason"] for e in assert_problem(r, 400, "invalid-request")["errors"]] == \
        ['4 行目が 1024 KiB を超えています。引用符 " で始まる項目が閉じられていないのではありませんか']
    assert js.sql("select count(*) from member.import_jobs") == jobs_before
    assert emails_in(js, prefix) == 0


def test_client_gone_mid_upload_leaves_no_runnable_job(js):
    """A client that sends 200 KB of a 1 MB file's body and goes away: the job its slices made
    is 'uploading' (never run: no member written), and is deleted with its chunks once no slice
    has come for MEMBER_IMPORT_UPLOAD_IDLE_S."""
    client = js.client
    prefix = "gone" + unique_email("")[:8]
    rows = [ja_row("%s-%04d@example.jp" % (prefix, i), name="途中 %d" % i) for i in range(8000)]
    data = excel_csv([JA_HEADER] + rows)
    jobs_before = {r[0] for r in js.sql("select id from member.import_jobs")}
    sock = socket.create_connection(("127.0.0.1", js.http_port), timeout=10)
    sock.sendall(("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                  "Content-Type: text/csv\r\nContent-Length: %d\r\n\r\n"
                  % (JOBS, js.token, len(data))).encode())
    sock.sendall(data[:200_000])
    new = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        new = js.sql("select id, state, rows_total from member.import_jobs where id not in (%s)"
                     % ",".join("'%s'" % i for i in jobs_before | {"00000000-0000-4000-8000-000000000000"}))
        if new and int(new[0][2]) > 0:
            break
        time.sleep(0.05)
    assert len(new) == 1 and new[0][1] == "uploading" and int(new[0][2]) > 0, new
    job_id = new[0][0]
    assert int(js.sql("select count(*) from member.import_job_chunks where job_id = '%s'"
                      % job_id)[0][0]) > 0
    sock.close()
    # gone within the idle time and a tick or two; never queued, never run
    deadline = time.monotonic() + IDLE_S + 20
    while time.monotonic() < deadline:
        state = js.sql("select state from member.import_jobs where id = '%s'" % job_id)
        if not state:
            break
        assert state == [["uploading"]], state
        time.sleep(0.1)
    assert js.sql("select count(*) from member.import_jobs where id = '%s'" % job_id) == [["0"]]
    assert js.sql("select count(*) from member.import_job_chunks where job_id = '%s'"
                  % job_id) == [["0"]]
    assert emails_in(js, prefix) == 0
    assert_problem(client.get(JOBS + "/" + job_id), 404, "not-found")


KANA = "アイウエオカキクケコ"


def exported_members(js, count):
    """count members imported at once (one request), tagged with a tag of their own; member i's
    reading is KANA's letters of the digits of count - 1 - i, so that kana order is the reverse
    of creation order. → (tag, emails in creation order)."""
    t = "exp" + uuid.uuid4().hex[:10]
    emails = ["%s-%04d@example.jp" % (t, i) for i in range(count)]
    rows = [ja_row(e, tags=t, name_kana="".join(KANA[int(d)] for d in "%04d" % (count - 1 - i)))
            for i, e in enumerate(emails)]
    r = post_csv(js.client, excel_csv([JA_HEADER] + rows), timeout=(3.0, 120.0))
    assert r.status_code == 200 and r.json()["created"] == count, (r.status_code, r.text[:300])
    return t, emails


def test_export_goes_out_in_parts(js):
    """2 000 members' export is 40 parts of 50 (2 000 / 50), each a call to member, sent on
    chunked as they come: one BOM and one header row, every member once in the order asked
    (creation, newest first, kana), X-Total-Count and the audit entry 2 000 from the start."""
    client = js.client
    t, emails = exported_members(js, 2000)
    orders = (("", emails), ("-created_at", emails[::-1]), ("name_kana", emails[::-1]))
    for sort, expected in orders:
        before = member_calls(client)
        params = {"tag": t, "headers": "en"}
        if sort:
            params["sort"] = sort
        r = client.get(EXPORT, params=params, timeout=(3.0, 120.0))
        assert r.status_code == 200, r.text[:300]
        assert member_calls(client) - before == 40, sort
        assert r.headers.get("Transfer-Encoding") == "chunked" and "Content-Length" not in r.headers
        assert r.headers["X-Total-Count"] == "2000"
        assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert r.content.startswith(BOM) and r.content.count(BOM) == 1
        table = list(csv.reader(io.StringIO(r.content[3:].decode("utf-8"), newline="")))
        assert table[0] == EXPORT_EN and EXPORT_EN not in table[1:]
        assert [row[1] for row in table[1:]] == expected, sort
    changes = json.loads(js.sql("select changes from member.audit_log where action ="
                                " 'member.exported' order by seq desc limit 1")[0][0])
    assert changes["count"] == 2000, changes


def chunked_body(sock):
    """Reads an HTTP/1.1 chunked response's body from sock after its head → (bytes of the
    chunks, whether the last chunk came)."""
    data = b""
    while True:
        try:
            part = sock.recv(65536)
        except ConnectionResetError:
            break
        if not part:
            break
        data += part
        if data.endswith(b"\r\n0\r\n\r\n"):
            break
    body, ended = b"", False
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            ended = True
            break
        if len(rest) < size + 2:
            body += rest[:size]
            break
        body += rest[:size]
        data = rest[size + 2:]
    return body, ended


def test_export_cut_short_when_a_part_cannot_be_had(js):
    """The client reads slowly (a 4 KiB receive buffer), so the gateway holds a part and asks
    for the next only once it is sent; member stopped (SIGSTOP) after the first part: the next
    part's call meets its deadline and the response ends without its last chunk (its status
    and headers were sent long ago), the rows before it whole. Member resumed, the same export
    comes whole."""
    client = js.client
    t, emails = exported_members(js, 2000)
    path = "%s?tag=%s&headers=en" % (EXPORT, t)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", js.http_port))
    sock.sendall(("GET %s HTTP/1.1\r\nHost: kaiin\r\nAuthorization: Bearer %s\r\n"
                  "Connection: close\r\n\r\n" % (path, js.token)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 200") and b"Transfer-Encoding: chunked" in head, head
    member = js.running["member"][0]
    member.signal(signal.SIGSTOP)
    try:
        sock.settimeout(60.0)
        body, ended = chunked_body(sock)
    finally:
        member.signal(signal.SIGCONT)
        sock.close()
    assert not ended
    rows = list(csv.reader(io.StringIO(body[3:].decode("utf-8", "replace"), newline="")))
    whole = [row[1] for row in rows[1:-1]]      # the last may be cut inside
    assert 0 < len(whole) < 2000 and whole == emails[:len(whole)], len(whole)
    deadline = time.monotonic() + 30.0
    while True:                             # until member's worker is back with the broker
        r = client.get(EXPORT, params={"tag": t, "headers": "en"}, timeout=(3.0, 120.0))
        if r.status_code != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.status_code == 200, r.text[:300]
    assert [row[1] for row in csv.reader(io.StringIO(r.content[3:].decode("utf-8"), newline=""))][1:] == emails
