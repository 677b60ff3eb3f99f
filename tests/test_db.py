"""test_db.py - the PostgreSQL side: outbox rows written with each change, and the role layout."""

import subprocess
import uuid


def outbox(suite, mid):
    return suite.sql("select type, event_id is not null, occurred_at is not null, "
                     "length(payload) > 0, position(convert_to('%s', 'UTF8') in payload) > 0 "
                     "from member.outbox where aggregate_id::text = '%s' order by id" % (mid, mid))


def test_outbox_rows_follow_each_change(suite, client):
    m = client.create_member(name="Outbox")
    assert outbox(suite, m["id"]) == [["member.registered", "t", "t", "t", "t"]]
    assert client.patch("/v1/members/" + m["id"], {"name": "Outbox 2"}).status_code == 200
    assert client.post("/v1/members/%s/withdraw" % m["id"], {"reason": "bye"}).status_code == 200
    rows = outbox(suite, m["id"])
    assert [r[0] for r in rows] == ["member.registered", "member.updated", "member.withdrawn"]
    assert all(r[1:] == ["t", "t", "t", "t"] for r in rows), rows
    ids = suite.sql("select event_id from member.outbox where aggregate_id::text = '%s'" % m["id"])
    assert len({r[0] for r in ids}) == 3, "event ids must be distinct"


def test_failed_writes_leave_no_outbox_row(suite, client):
    m = client.create_member()
    n = suite.sql("select count(*) from member.outbox")[0][0]
    client.post("/v1/members", {"email": m["email"].upper()})                     # 409
    client.patch("/v1/members/" + m["id"], {"name": "x"}, headers={"If-Match": '"9"'})  # 412
    client.post("/v1/members", {"email": "not-an-email"})                         # 400
    client.patch("/v1/members/" + str(uuid.uuid4()), {"name": "x"})               # 404
    assert suite.sql("select count(*) from member.outbox")[0][0] == n


def test_schema_migrations_recorded(suite):
    rows = suite.sql("select version from member.schema_migrations order by version")
    assert rows, "no migration recorded"
    owner = suite.sql("select nspowner::regrole::text from pg_namespace where nspname = 'member'")
    assert owner == [["kaiin_member_owner"]]
    tables = suite.sql("select tablename, tableowner from pg_tables where schemaname = 'member' "
                       "order by 1")
    names = [t[0] for t in tables]
    assert {"members", "outbox", "schema_migrations"} <= set(names), names
    assert all(t[1] == "kaiin_member_owner" for t in tables), tables


def test_member_columns(suite):
    cols = {r[0] for r in suite.sql("select column_name from information_schema.columns "
                                    "where table_schema = 'member' and table_name = 'members'")}
    assert {"seq", "id", "email", "name", "name_kana", "phone", "status", "version", "created_at",
            "updated_at", "withdrawn_at", "withdrawn_reason"} <= cols, cols
    cols = {r[0] for r in suite.sql("select column_name from information_schema.columns "
                                    "where table_schema = 'member' and table_name = 'outbox'")}
    assert {"id", "seq", "event_id", "type", "aggregate_id", "occurred_at", "payload"} <= cols


def _ensure_billing(suite):
    """Another service's schema and table (not the real billing schema, which has its own
    columns): the member login role must not reach it."""
    suite.sql("create schema if not exists other_service; "
              "create table if not exists other_service.invoices (id int primary key, amount int); "
              "insert into other_service.invoices values (1, 1000) on conflict do nothing")


def denied(r):
    return r.returncode != 0 and "permission denied" in r.stderr


def test_login_role_can_use_its_own_schema(suite, client):
    m = client.create_member()
    r = suite.sql_as_member("select email from member.members where id = '%s'" % m["id"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == m["email"]
    r = suite.sql_as_member("show search_path")
    assert r.stdout.strip() == "member"


def test_login_role_cannot_touch_another_schema(suite):
    _ensure_billing(suite)
    for sql in ("select * from other_service.invoices",
                "insert into other_service.invoices values (2, 5)",
                "update other_service.invoices set amount = 0",
                "delete from other_service.invoices",
                "create table other_service.stolen (x int)") + (
                ("select * from billing.plans", "select * from billing.idempotency_keys")
                if suite.with_billing else ()):
        r = suite.sql_as_member(sql)
        assert denied(r), (sql, r.returncode, r.stdout, r.stderr)
    assert suite.sql("select id, amount from other_service.invoices order by id") == [["1", "1000"]]


def test_login_role_cannot_create_anywhere(suite):
    for sql in ("create table public.t (x int)", "create table t (x int)",
                "create table member.t (x int)", "create schema mine",
                "create temp table tt (x int)"):
        r = suite.sql_as_member(sql)
        assert denied(r), (sql, r.returncode, r.stderr)


def test_login_role_cannot_alter_or_drop_its_tables(suite):
    for sql in ("drop table member.members", "alter table member.members add column x int",
                "truncate member.outbox"):
        r = suite.sql_as_member(sql)
        assert r.returncode != 0, sql
        assert "must be owner" in r.stderr or "permission denied" in r.stderr, r.stderr
    assert suite.sql("select count(*) > 0 from pg_tables where schemaname = 'member' "
                     "and tablename = 'members'") == [["t"]]


def test_login_role_has_no_special_attributes(suite):
    rows = suite.sql("select rolname, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls "
                     "from pg_roles where rolname in ('kaiin_member', 'kaiin_member_owner') "
                     "order by 1")
    assert rows == [["kaiin_member", "f", "f", "f", "f"], ["kaiin_member_owner", "f", "f", "f", "f"]]
    rows = suite.sql("select r.rolname from pg_auth_members am join pg_roles r on r.oid = am.roleid "
                     "join pg_roles u on u.oid = am.member where u.rolname = 'kaiin_member'")
    assert rows == [], "kaiin_member is a member of %s" % rows


def test_nothing_granted_to_public(suite):
    _ensure_billing(suite)
    # acl entries whose grantee is 0 are grants to PUBLIC
    db = suite.sql("select count(*) from pg_database d, aclexplode(d.datacl) a "
                   "where d.datname = 'kaiin' and a.grantee = 0")
    assert db == [["0"]], "database kaiin grants to PUBLIC"
    acl = suite.sql("select datacl is null from pg_database where datname = 'kaiin'")
    assert acl == [["f"]], "database kaiin still has the default (PUBLIC) privileges"
    ns = suite.sql("select n.nspname, a.privilege_type from pg_namespace n, aclexplode(n.nspacl) a "
                   "where n.nspname in ('public', 'member', 'billing') and a.grantee = 0")
    assert ns == [], ns
    rel = suite.sql("select c.relname, a.privilege_type from pg_class c "
                    "join pg_namespace n on n.oid = c.relnamespace, aclexplode(c.relacl) a "
                    "where n.nspname in ('member', 'billing') and a.grantee = 0")
    assert rel == [], rel
    fn = suite.sql("select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
                   "where n.nspname = 'member' and (p.proacl is null or exists "
                   "(select 1 from aclexplode(p.proacl) a where a.grantee = 0))")
    assert fn == [], "functions executable by PUBLIC: %s" % fn


def test_other_roles_cannot_connect(suite):
    suite.sql("do $$ begin if not exists (select 1 from pg_roles where rolname = 'kaiin_stranger') "
              "then create role kaiin_stranger login password 'stranger'; end if; end $$")
    r = subprocess.run(["psql", "postgresql://kaiin_stranger:stranger@127.0.0.1:%d/kaiin"
                        % suite.pg_port, "-qAtX", "-c", "select 1"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and "permission denied" in r.stderr, (r.stdout, r.stderr)


def test_owner_role_cannot_read_other_schema(suite):
    _ensure_billing(suite)
    r = subprocess.run(["psql", suite.owner_url(), "-qAtX", "-c", "select * from other_service.invoices"],
                       capture_output=True, text=True, timeout=20)
    assert denied(r), (r.stdout, r.stderr)


def test_a_database_that_does_not_match_the_build_stops_the_service_at_start():
    """A statement PostgreSQL refuses (here a column renamed by hand, as an older backup restored
    would leave it) stops kaiin-member at start with exit 1 and a log that names the statement,
    instead of a service that runs and answers 500 to every request needing it. Set right, the
    next start serves. The process already running, whose connections were cut meanwhile and
    could not prepare on reconnecting, answers 503 then, and serves again once it is set right
    (a connection left without its statements answered 500, sqlstate 26000, for its life)."""
    import harness
    s = harness.Suite("mismatch", services=["member"]).start()
    try:
        s.sql("alter table member.members rename column note to note_renamed")
        p = s.start_service("member", wait=False)
        assert p.wait(30) == 1
        log = p.log()
        assert r"cannot prepare 'member_insert': ERROR:  column \"note\" of relation" in log, log[-2000:]
        assert "the database of 'member' does not match this build: stopping" in log
        s.sql("select pg_terminate_backend (pid) from pg_stat_activity "
              "where usename like 'kaiin_member%' and pid <> pg_backend_pid()")
        statuses = {s.client.post("/v1/members", {"email": "m%d@example.jp" % i}).status_code
                    for i in range(12)}
        assert statuses == {503}, statuses
        s.sql("alter table member.members rename column note_renamed to note")
        s.start_service("member")
        for _ in range(12):
            assert s.client.create_member()["id"]
    finally:
        s.stop()
        s.cleanup_dir()
