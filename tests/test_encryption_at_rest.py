"""test_encryption_at_rest.py - a member's personal fields (phone, address, birthday, note, and
their values in the audit log) are sealed with the member's data key; erasure deletes the key
(crypto-shredding). Each value is looked for in a dump of the whole database."""

import os
import secrets
import subprocess
import time

import pytest

from harness import unique_email

# Values found nowhere else: each must never appear in the database in clear.
FIRST = {"phone": "090-7312-4486", "address": "札幌市中央区北3条西7丁目 暗号ビル401",
         "birthday": "1987-06-15", "note": "暗号化テストの覚え書き Zq7Kx"}
SECOND = {"phone": "080-5521-9073", "address": "函館市元町 秘匿荘12", "note": "二つ目の覚え書き Wp3Jd"}


def clear_copies(suite, values, but=()):
    """The values found in clear in a pg_dump of the whole database (all schemas; but: tables
    left out), as text or as the hex of a bytea (an event's packed payload); the phone also as
    its digits."""
    dump = subprocess.run(["pg_dump", "-h", suite.pg_dir, "-p", str(suite.pg_port), "-U", "postgres",
                           "-d", "kaiin", "--data-only"] + ["--exclude-table-data=" + t for t in but],
                          capture_output=True, text=True, timeout=120, check=True).stdout
    assert "member_keys" in dump and len(dump) > 10000     # the dump is the member schema's data
    found = []
    for value in values:
        forms = [value, value.encode().hex()]
        if value[0].isdigit() and "-" in value:
            digits = value.replace("-", "")
            forms += [digits, digits.encode().hex()]
        found += [value for form in forms if form in dump]
    return found


def test_personal_fields_are_sealed_and_erasure_shreds_them(suite, client):
    email = unique_email("sealed")
    r = client.post("/v1/members", dict(FIRST, email=email, name="暗号 花子"),
                    headers={"Idempotency-Key": "sealed-" + email})
    assert r.status_code == 201, r.text
    m = r.json()
    assert (m["phone"], m["address"], m["birthday"], m["note"]) == \
        (FIRST["phone"], FIRST["address"], FIRST["birthday"], FIRST["note"])
    r = client.patch("/v1/members/" + m["id"], SECOND)
    assert r.status_code == 200, r.text

    # stored sealed: the row, the audit log's before and after, the events
    row = suite.sql("select phone, address, birthday, note, phone_hash from member.members"
                    " where id = '%s'" % m["id"])[0]
    assert all(v.startswith("k1:") for v in row[:4]) and len(row[4]) == 64
    assert suite.sql("select key_version from member.member_keys where member_id = '%s'" % m["id"]) == [["1"]]
    every = list(FIRST.values()) + list(SECOND.values())
    # the reply kept for the Idempotency-Key (24 hours) is the member as answered, in clear
    assert clear_copies(suite, every, but=["member.idempotency_keys"]) == []
    assert set(clear_copies(suite, every)) == set(FIRST.values())

    # read back opened
    got = client.get("/v1/members/" + m["id"]).json()
    assert (got["phone"], got["address"], got["birthday"], got["note"]) == \
        (SECOND["phone"], SECOND["address"], FIRST["birthday"], SECOND["note"])
    audit = client.get("/v1/audit-log", params={"target_id": m["id"]}).json()["data"]
    assert [e["action"] for e in audit] == ["member.updated", "member.registered"]
    assert audit[0]["changes"]["phone"] == [FIRST["phone"], SECOND["phone"]]
    assert audit[0]["changes"]["address"] == [FIRST["address"], SECOND["address"]]
    assert audit[0]["changes"]["note"] == [FIRST["note"], SECOND["note"]]
    assert audit[1]["changes"]["birthday"] == [None, FIRST["birthday"]]

    # the whole number finds the member (as typed, full-width too); a fragment does not
    for q in ("080-5521-9073", "08055219073", "０８０－５５２１－９０７３"):
        found = client.get("/v1/members", params={"q": q}).json()["data"]
        assert [x["id"] for x in found] == [m["id"]], q
    assert client.get("/v1/members", params={"q": FIRST["phone"]}).json()["data"] == []
    assert client.get("/v1/members", params={"q": "5521-9073"}).json()["data"] == []

    # erasure: the key goes; nothing of the member can be read anywhere
    r = client.post("/v1/members/%s/erase" % m["id"], {"reason": "削除依頼"})
    assert r.status_code == 200, r.text
    assert suite.sql("select count(*) from member.member_keys where member_id = '%s'" % m["id"]) == [["0"]]
    assert clear_copies(suite, every) == []
    audit = client.get("/v1/audit-log", params={"target_id": m["id"]}).json()["data"]
    assert [e["action"] for e in audit] == ["member.erased", "member.updated", "member.registered"]
    assert all(e["actor_id"] and e["at"] for e in audit)
    assert audit[1]["changes"]["phone"] == ["(erased)", "(erased)"]
    assert audit[1]["changes"]["note"] == ["(erased)", "(erased)"]
    assert audit[2]["changes"]["birthday"] == [None, "(erased)"]
    # the sealed values are still there, and no longer open: a backup holds no more than this
    assert suite.sql("select count(*) from member.audit_log where target_id = '%s'"
                     " and changes->'phone'->>1 like 'k1:%%'" % m["id"]) == [["2"]]   # registered, updated


def test_a_member_written_before_encryption_is_sealed_by_the_tick(suite, client):
    m = client.create_member(email=unique_email("legacy"))
    # as a row of before the migration: clear values, no key; a process starting seals them
    suite.sql("delete from member.member_keys where member_id = '%s';"
              " update member.members set phone = '03-9182-7364', note = '旧い覚え書き Lg5',"
              " birthday = '1970-01-02', phone_hash = null where id = '%s'" % (m["id"], m["id"]))
    suite.restart_member()
    for _ in range(100):
        row = suite.sql("select phone, note, birthday from member.members where id = '%s'" % m["id"])[0]
        if row[0].startswith("k1:"):
            break
        time.sleep(0.1)
    assert all(v.startswith("k1:") for v in row), row
    got = client.get("/v1/members/" + m["id"]).json()
    assert (got["phone"], got["note"], got["birthday"]) == ("03-9182-7364", "旧い覚え書き Lg5", "1970-01-02")
    assert [x["id"] for x in client.get("/v1/members", params={"q": "0391827364"}).json()["data"]] == [m["id"]]


def test_a_wrong_or_malformed_master_key_stops_start_up(suite):
    for key, says in ((secrets.token_hex(32), "is not the master key"),
                      ("not-a-key", "must be 64 hex digits")):
        env = dict(suite.service_env("member"), MEMBER_MASTER_KEY=key)
        r = subprocess.run([os.path.join(os.environ.get("KAIIN_BIN_DIR", "build/bin"), "kaiin-member")],
                           env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 1, r.stderr
        assert "MEMBER_MASTER_KEY" in r.stderr and says in r.stderr, r.stderr


def test_postgresqls_own_log_holds_no_member_value(suite, client):
    """A unique-key error names the duplicate value in its DETAIL ("Key (email)=(…)"), and a
    failed statement is logged with its text: PostgreSQL's server log keeps neither
    (scripts/pg-cluster.sh and docker-compose.yml: log_error_verbosity = terse,
    log_min_error_statement = panic), so an email refused as taken is nowhere in it."""
    email = unique_email("logged")
    r = client.post("/v1/members", {"email": email})
    assert r.status_code == 201, r.text
    assert client.post("/v1/members", {"email": email}).status_code == 409
    # the same error as a statement that fails in PostgreSQL itself, whatever member checks first
    other = client.post("/v1/members", {"email": unique_email("other")}).json()["id"]
    with pytest.raises(Exception):
        suite.sql("update member.members set email = '%s' where id = '%s'" % (email, other))
    with open(os.path.join(suite.pg_dir, "server.log"), errors="replace") as f:
        log = f.read()
    assert "duplicate key value violates unique constraint" in log, log[-2000:]
    assert email not in log and email.split("@")[0] not in log, log[-2000:]
