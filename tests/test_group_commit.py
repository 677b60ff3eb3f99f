"""test_group_commit.py - writes that arrive together share one transaction and one commit (the
service runtime's group commit, member.Create here), and still succeed or fail each on its own:
a duplicate email among them is refused alone, the others are kept, and each caller is answered
only once its member is stored."""

import concurrent.futures
import signal
import threading
import time
import uuid

import pytest

import harness


@pytest.fixture(scope="module")
def suite():
    s = harness.Suite("group", services=["member"]).start()
    # An observer: the top-level transaction that inserted each member (txid_current() is the
    # outer transaction's even inside a savepoint), written where the member service cannot see.
    # And the statement that did it: a group's members without attributes are written at once
    # (COPY, as an import writes them), the others by an INSERT each.
    s.sql("create table public.inserted_by (member_id uuid primary key, txid bigint not null,"
          " statement text not null);"
          "create function public.note_insert () returns trigger language plpgsql security definer"
          " as $$ begin insert into public.inserted_by values (new.id, txid_current (),"
          " case when current_query () ilike 'copy%' then 'copy' else 'insert' end); return new; end $$;"
          "create trigger note_insert after insert on member.members for each row"
          " execute function public.note_insert ();")
    yield s
    s.stop()
    s.cleanup_dir()


def test_creates_together_share_commits_and_fail_alone(suite):
    tag = uuid.uuid4().hex[:8]
    emails = ["g%s-%d@example.com" % (tag, i) for i in range(200)]
    duplicate = emails[7]
    # Every fifth with a consent, every ninth with attributes (its own INSERT), one email twice
    # and one twice in other letters' case.
    bodies = [{"email": e, "name": "会員 %d" % i} for i, e in enumerate(emails)]
    for i in range(0, 200, 5):
        bodies[i]["marketing_consent"] = {"email_opt_in": i % 10 == 0, "method": "web_form",
                                          "source": "group %d" % i}
    for i in range(3, 200, 9):
        bodies[i]["attributes"] = {}
    bodies += [{"email": duplicate}, {"email": emails[11].upper()}]
    request_ids = ["g%s-r%d" % (tag, i) for i in range(len(bodies))]
    # The members table is locked against writes for two seconds while the burst arrives, so
    # the requests queue up at the workers as they would under a heavy load, on any machine.
    lock = threading.Thread(target=suite.sql, args=(
        "begin; lock table member.members in exclusive mode; select pg_sleep(2); commit;",))
    lock.start()
    time.sleep(0.3)
    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(lambda b, rid: suite.client.post("/v1/members", b, timeout=60,
                                                                  headers={"X-Request-Id": rid}),
                                bodies, request_ids))
    lock.join()
    codes = [r.status_code for r in answers]
    assert codes.count(201) == 200 and codes.count(409) == 2, sorted(set(codes))
    for refused in (r.json() for r in answers if r.status_code == 409):
        assert [e["field"] for e in refused["errors"]] == ["email"], refused
    # Every acknowledged member is stored, once, and readable.
    ids = [r.json()["id"] for r in answers if r.status_code == 201]
    assert len(set(ids)) == 200
    stored = int(suite.sql("select count(*) from member.members where email like 'g%s-%%'" % tag)[0][0])
    assert stored == 200
    # Shared commits: the 200 were inserted by fewer transactions (without grouping, one each,
    # 200; the workers hold up to 16 requests at a time: 79 on a quiet machine, under 50 on a
    # loaded one, where more requests wait together).
    transactions = int(suite.sql("select count(distinct txid) from public.inserted_by where member_id in"
                                 " (select id from member.members where email like 'g%s-%%')" % tag)[0][0])
    assert transactions <= stored * 3 // 4, (transactions, stored)
    statements = dict(suite.sql("select statement, count(*) from public.inserted_by where member_id in"
                                " (select id from member.members where email like 'g%s-%%')"
                                " group by statement" % tag))
    assert set(statements) == {"copy", "insert"} and int(statements["insert"]) >= 22, statements
    # Each member as its own request made it, whichever way it was written: the answer, the
    # consent recorded, the audit entry with its caller's request id, no attributes.
    stored_rows = dict((email, (name, opt_in, source, request_id, attributes)) for email, name, opt_in, source, request_id, attributes in suite.sql(
        "select m.email, m.name, c.email_opt_in::text, c.source, a.request_id, m.attributes::text"
        " from member.members m left join member.member_consents c on c.member_seq = m.seq"
        " join member.audit_log a on a.target_id = m.id::text and a.action = 'member.registered'"
        " where m.email like 'g%s-%%'" % tag))
    assert len(stored_rows) == 200
    for i, e in enumerate(emails):
        assert answers[i].status_code == 201, (i, answers[i].text)
        body = answers[i].json()
        assert (body["email"], body["name"], body["status"], body["rank"]) == (e, "会員 %d" % i, "free", "basic")
        consent = bodies[i].get("marketing_consent")
        assert stored_rows[e] == ("会員 %d" % i, None if consent is None else ("true" if i % 10 == 0 else "false"),
                                  None if consent is None else "group %d" % i, request_ids[i], "{}"), (i, stored_rows[e])
    for member_id in ids[:5]:
        assert suite.client.get("/v1/members/%s" % member_id).status_code == 200
    # Their events too: one member.registered each, no more.
    events = suite.sql("select count(*) from member.outbox where type = 'member.registered'"
                       " and aggregate_id in (select id::text from member.members where email like 'g%s-%%')" % tag)
    assert int(events[0][0]) == 200



@pytest.mark.chaos
def test_kill_in_the_middle_of_a_group_keeps_acknowledged_and_loses_the_rest_whole(suite):
    """kill -9 of the member service while a group's transaction is open, some of its creates
    already inserted: every acknowledged create is stored once with its event; the group in
    flight is stored not at all (none of it was acknowledged), and sent again after the
    restart each is stored once."""
    tag = uuid.uuid4().hex[:8]
    emails = ["k%s-%03d@example.com" % (tag, i) for i in range(80)]
    # Each insert takes a transaction-level advisory lock (pg_locks shows them, with the
    # holder's pid, before the commit). The first insert that finds three others before it in
    # its transaction sleeps (once: a sequence is not rolled back), so that group stays open
    # with those three inserted in their savepoints.
    suite.sql("create sequence public.slept;"
              "create or replace function public.slow_insert () returns trigger language plpgsql security definer"
              " as $$ begin perform pg_advisory_xact_lock (hashtext (new.email));"
              " if (select count(*) from pg_locks where pid = pg_backend_pid () and locktype = 'advisory') >= 4"
              "    and nextval ('public.slept') = 1 then perform pg_sleep (30); end if;"
              " return new; end $$;"
              "create trigger slow_insert before insert on member.members for each row"
              " execute function public.slow_insert ();")
    answers = {}

    def create(email):
        try:
            r = suite.client.post("/v1/members", {"email": email}, timeout=(2.0, 40.0))
            answers[email] = (r.status_code, r.json().get("id") if r.status_code == 201 else None)
        except Exception as e:                   # the connection cut by the kill
            answers[email] = (type(e).__name__, None)

    # While the table is locked the creates queue up at the workers, to be served in groups.
    lock = threading.Thread(target=suite.sql, args=(
        "begin; lock table member.members in exclusive mode; select pg_sleep(1.5); commit;",))
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=80) as pool:
            lock.start()
            time.sleep(0.3)
            futures = [pool.submit(create, e) for e in emails]
            deadline = time.monotonic() + 20
            while True:
                pid = suite.sql("select pid from pg_stat_activity where wait_event = 'PgSleep'"
                                " and usename = 'kaiin_member'")
                if pid:
                    break
                assert time.monotonic() < deadline, "no group of four began"
                time.sleep(0.05)
            in_group = int(suite.sql("select count(*) from pg_locks where locktype = 'advisory'"
                                     " and pid = %s" % pid[0][0])[0][0])
            suite.kill_member(sig=signal.SIGKILL)
            suite.sql("select pg_terminate_backend (%s)" % pid[0][0])   # else it sleeps on
            for f in futures:
                f.result(timeout=60)
    finally:
        lock.join()
        suite.sql("drop trigger slow_insert on member.members; drop sequence public.slept")
    suite.start_member()
    suite.wait_ready()

    acknowledged = {e: a[1] for e, a in answers.items() if a[0] == 201}
    unacknowledged = [e for e, a in answers.items() if a[0] != 201]
    stored = dict(suite.sql("select email, id::text from member.members where email like 'k%s-%%'" % tag))
    harness.record_fault("member: kill -9 in the middle of a group commit", "kill -9 ×1",
                         len(acknowledged), sum(1 for e, i in acknowledged.items() if stored.get(e) != i))
    assert in_group >= 4, in_group
    for email, member_id in acknowledged.items():
        assert stored.get(email) == member_id, (email, member_id, stored.get(email))
    # Nothing of the group in flight is stored: its creates are all unacknowledged and absent.
    assert len([e for e in unacknowledged if e not in stored]) >= in_group, (in_group, answers)
    events = dict(suite.sql("select aggregate_id, count(*) from member.outbox where type = 'member.registered'"
                            " and aggregate_id in (select id::text from member.members where email like 'k%s-%%')"
                            " group by aggregate_id" % tag))
    assert set(events) == set(stored.values()) and set(events.values()) == {"1"}, events
    # Sent again, each unacknowledged create is stored once (409 if it had been stored).
    for email in unacknowledged:
        r = suite.client.post("/v1/members", {"email": email}, timeout=10)
        assert r.status_code == (409 if email in stored else 201), (email, r.status_code)
    count = int(suite.sql("select count(*) from member.members where email like 'k%s-%%'" % tag)[0][0])
    assert count == len(emails)


def test_changes_together_share_commits_and_fail_alone(suite):
    """Changes of members (PATCH) that arrive together share commits too; a stale If-Match
    among them is refused alone (412) and the others are stored, each with its event."""
    tag = uuid.uuid4().hex[:8]
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        created = list(pool.map(lambda i: suite.client.post(
            "/v1/members", {"email": "u%s-%d@example.com" % (tag, i)}, timeout=60), range(101)))
    ids = [r.json()["id"] for r in created]
    suite.sql("create table if not exists public.updated_by (member_id uuid, txid bigint not null);"
              "create or replace function public.note_update () returns trigger language plpgsql"
              " security definer as $$ begin insert into public.updated_by values (new.id, txid_current ());"
              " return new; end $$;"
              "create trigger note_update after update on member.members for each row"
              " execute function public.note_update ();")
    try:
        stale = ids[40]
        lock = threading.Thread(target=suite.sql, args=(
            "begin; lock table member.members in exclusive mode; select pg_sleep(2); commit;",))
        lock.start()
        time.sleep(0.3)

        def change(member_id):
            version = '"7"' if member_id == stale else '"1"'
            return suite.client.patch("/v1/members/%s" % member_id, {"name": "変更 %s" % tag},
                                      headers={"If-Match": version}, timeout=60)
        with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
            answers = dict(zip(ids, pool.map(change, ids)))
        lock.join()
    finally:
        suite.sql("drop trigger note_update on member.members")
    assert answers[stale].status_code == 412, answers[stale].text
    assert sorted({r.status_code for m, r in answers.items() if m != stale}) == [200]
    names = dict(suite.sql("select id::text, name from member.members where email like 'u%s-%%'" % tag))
    assert names[stale] == ""
    assert {n for m, n in names.items() if m != stale} == {"変更 %s" % tag}
    events = suite.sql("select count(*) from member.outbox where type = 'member.updated'"
                       " and aggregate_id in (select id::text from member.members where email like 'u%s-%%')" % tag)
    assert int(events[0][0]) == 100
    transactions = int(suite.sql("select count(distinct txid) from public.updated_by u join member.members m"
                                 " on m.id = u.member_id where m.email like 'u%s-%%'" % tag)[0][0])
    assert transactions <= 75, transactions


def test_a_change_whose_event_cannot_be_written_fails_alone(suite):
    """A change's event is sent without waiting for its answer (it is read back with the next
    statement); when that write fails, the change it belongs to is rolled back and answered
    500, alone: the others of its group are stored with their events, and none is told it
    succeeded without being stored."""
    tag = uuid.uuid4().hex[:8]
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        created = list(pool.map(lambda i: suite.client.post(
            "/v1/members", {"email": "e%s-%d@example.com" % (tag, i)}, timeout=60), range(40)))
    ids = [r.json()["id"] for r in created]
    poisoned = ids[13]
    suite.sql("create or replace function public.refuse_event () returns trigger language plpgsql"
              " as $$ begin if new.aggregate_id = '%s' and new.type = 'member.updated' then"
              " raise exception 'refused by the test'; end if; return new; end $$;"
              "create trigger refuse_event before insert on member.outbox for each row"
              " execute function public.refuse_event ();" % poisoned)
    try:
        lock = threading.Thread(target=suite.sql, args=(
            "begin; lock table member.members in exclusive mode; select pg_sleep(2); commit;",))
        lock.start()
        time.sleep(0.3)
        with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
            answers = dict(zip(ids, pool.map(lambda m: suite.client.patch(
                "/v1/members/%s" % m, {"name": "変更 %s" % tag}, timeout=60), ids)))
        lock.join()
    finally:
        suite.sql("drop trigger refuse_event on member.outbox; drop function public.refuse_event ()")
    assert answers[poisoned].status_code == 500, answers[poisoned].text
    assert {m for m, r in answers.items() if r.status_code == 200} == set(ids) - {poisoned}
    names = dict(suite.sql("select id::text, name from member.members where email like 'e%s-%%'" % tag))
    assert names[poisoned] == ""
    assert {n for m, n in names.items() if m != poisoned} == {"変更 %s" % tag}
    updated = {r[0] for r in suite.sql(
        "select aggregate_id from member.outbox where type = 'member.updated'"
        " and aggregate_id in (select id::text from member.members where email like 'e%s-%%')" % tag)}
    assert updated == set(ids) - {poisoned}
