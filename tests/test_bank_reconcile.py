"""test_bank_reconcile.py - payments recorded by hand and bank-transfer reconciliation (消込)
through HTTP, against real servers (services/billing/README.md, "Payments by hand and bank
statements"): an invoice marked paid with a note, as any payment pays it (invoice.paid)."""

import time

import pytest

from billing_util import billing_suite, clock, finish_suite, invoice, ms, now_ms, ok, payments, rfc3339
from test_billing import problem


@pytest.fixture(scope="module")
def bs():
    s = billing_suite("bank")
    yield s
    finish_suite(s)


@pytest.fixture
def c(bs):
    return bs.client


@pytest.fixture(scope="module")
def viewer(bs):
    account, password = bs.create_staff("viewer")
    return bs.client_as(bs.login(account["email"], password))


def open_invoice(c, member_id, unit_amount):
    """A finalised invoice of one line of unit_amount, tax included (10%): total unit_amount."""
    d = ok(c.post("/v1/invoices", {"member_id": member_id, "tax_mode": "inclusive",
                                   "lines": [{"description": "月会費", "unit_amount": unit_amount,
                                              "tax_rate": 10}]}), 201)
    return ok(c.post("/v1/invoices/%s/finalize" % d["id"], {}))


def loyalty(c, member_id):
    """The member's (frequency, monetary) in analytics; None until analytics has read the
    member's registration (404 member_not_found)."""
    r = c.get("/v1/members/%s/loyalty" % member_id)
    if r.status_code == 404 and r.json()["code"] == "member_not_found":
        return None
    body = ok(r)
    return body["frequency"], body["monetary"]


def until(fn, timeout=20.0):
    """fn () until true (analytics reads billing's events on its own), or its last answer."""
    deadline = time.monotonic() + timeout
    while not fn() and time.monotonic() < deadline:
        time.sleep(0.1)
    return fn()


def events(bs, aggregate_id):
    return [r[0] for r in bs.sql("select type from billing.outbox where aggregate_id = '%s' order by seq"
                                 % aggregate_id)]


# =========================================================================== mark paid by hand
def test_mark_paid_records_a_manual_payment_with_its_note(bs, c):
    m = c.create_member()
    inv = open_invoice(c, m["id"], 3300)
    clock(c, advance="PT2H")                        # entered two hours after it was issued ...
    paid_at = now_ms(c) - 3600 * 1000               # ... paid one hour after
    r = ok(c.post("/v1/invoices/%s/mark-paid" % inv["id"],
                  {"note": "受付で現金受領 (山田)", "method": "cash", "paid_at": rfc3339(paid_at)}))
    assert r["status"] == "paid" and r["amount_paid"] == 3300 and r["amount_due"] == 0, r
    assert abs(ms(r["paid_at"]) - paid_at) < 1000, r
    [p] = payments(c, invoice_id=inv["id"])
    assert (p["provider"], p["method_type"], p["status"], p["amount"], p["amount_received"]) == \
        ("manual", "cash", "succeeded", 3300, 3300), p
    assert p["note"] == "受付で現金受領 (山田)" and p["recorded_by"] and p["payment_method_id"] is None, p
    assert events(bs, inv["id"])[-1] == "invoice.paid"
    assert events(bs, p["id"]) == ["payment.succeeded"]
    # paid already: refused, nothing more recorded
    problem(c.post("/v1/invoices/%s/mark-paid" % inv["id"], {"note": "again"}), 409)
    assert len(payments(c, invoice_id=inv["id"])) == 1


def test_mark_paid_defaults_to_cash_and_checks_its_fields(bs, c, viewer):
    m = c.create_member()
    inv = open_invoice(c, m["id"], 1000)
    body = problem(c.post("/v1/invoices/%s/mark-paid" % inv["id"], {"method": "cash"}), 400)
    assert [e["field"] for e in body["errors"]] == ["note"], body
    body = problem(c.post("/v1/invoices/%s/mark-paid" % inv["id"], {"note": "x", "method": "card"}), 400)
    assert [e["field"] for e in body["errors"]] == ["method"], body
    future = rfc3339(now_ms(c) + 86400 * 1000)
    body = problem(c.post("/v1/invoices/%s/mark-paid" % inv["id"], {"note": "x", "paid_at": future}), 400)
    assert [e["field"] for e in body["errors"]] == ["paid_at"], body
    # paid a second before the invoice was issued: refused, in the caller's language
    before = rfc3339(ms(inv["issued_at"]) - 1000)
    for lang, reason in (("en", "must not be before the invoice was issued"), ("ja", "請求書の発行日時より前は指定できません")):
        body = problem(c.post("/v1/invoices/%s/mark-paid" % inv["id"], {"note": "x", "paid_at": before},
                              headers={"Accept-Language": lang}), 400)
        assert [(e["field"], e["reason"], e["code"]) for e in body["errors"]] == \
            [("paid_at", reason, "must_not_be_before_invoice_was_issued")], body
    problem(viewer.post("/v1/invoices/%s/mark-paid" % inv["id"], {"note": "x"}), 403)
    assert invoice(c, inv["id"])["status"] == "open"
    assert payments(c, invoice_id=inv["id"]) == []
    ok(c.post("/v1/invoices/%s/mark-paid" % inv["id"], {"note": "x"}))
    [p] = payments(c, invoice_id=inv["id"])
    assert p["method_type"] == "cash" and p["amount"] == 1000, p


def test_mark_paid_at_the_moment_of_issue(c):
    m = c.create_member()
    inv = open_invoice(c, m["id"], 1500)
    clock(c, advance="PT1M")                        # (short: the viewer's session stays alive)
    r = ok(c.post("/v1/invoices/%s/mark-paid" % inv["id"], {"note": "発行と同時に受領", "paid_at": inv["issued_at"]}))
    assert (r["status"], ms(r["paid_at"])) == ("paid", ms(inv["issued_at"])), r



# =========================================================================== bank statements
def record(kind, fields=()):
    """A 200-byte Zengin record: kind in byte 1, then (offset, bytes) placed, spaces elsewhere."""
    r = bytearray(b" " * 200)
    r[0:1] = kind
    for offset, value in fields:
        r[offset:offset + len(value)] = value
    return bytes(r)


def deposit(reference, amount, payer, edi="", date=b"080401"):
    """A data record (振込入金通知): 照会番号 at 2, 勘定日 and 起算日 (令和8年4月1日) at 8 and 14,
    金額 at 20 (10 digits), 他店券金額 and 振込依頼人コード zero, 振込依頼人名 at 50 (48 bytes of
    half-width katakana: one byte each in CP932), EDI情報 at 129."""
    return record(b"2", [(1, b"%06d" % reference), (7, date), (13, date), (19, b"%010d" % amount),
                         (29, b"0" * 20), (49, payer.encode("cp932")), (128, edi.encode("cp932"))])


def zengin(deposits, count=None, total=None, made=b"080401"):
    """A whole file, CRLF after each record: header (種別 01, コード区分 0), the deposits, the
    trailer (件数 6 digits, 金額 12 digits) as given or as they add up, the end record."""
    amounts = [int(d[19:29]) for d in deposits]
    header = record(b"1", [(1, b"010"), (4, made * 3), (22, b"0001"), (26, "ﾃｽﾄｷﾞﾝｺｳ".encode("cp932"))])
    trailer = record(b"8", [(1, b"%06d" % (len(deposits) if count is None else count)),
                            (7, b"%012d" % (sum(amounts) if total is None else total)),
                            (19, b"0" * 18)])
    records = [header] + list(deposits) + [trailer, record(b"9")]
    assert all(len(r) == 200 for r in records)
    return b"".join(r + b"\r\n" for r in records)


def upload(c, data, dry_run=False, language=None, **params):
    query = "dry_run=%s" % ("true" if dry_run else "false")
    for k, v in params.items():
        query += "&%s=%s" % (k, v)
    headers = {"Content-Type": "text/plain"}
    if language:
        headers["Accept-Language"] = language
    return c.request("POST", "/v1/bank-statements?" + query, data=data, headers=headers)


@pytest.fixture(scope="module")
def statement(bs):
    """Four members with their readings, an open invoice each, and a statement whose rows are:
    row 2 the number of Yamada's invoice before another name (by reference), row 3 Sato by name
    and the exact amount, row 4 Tanaka ¥1,000 short (partial), row 5 a payer nobody knows."""
    c = bs.client
    yamada = c.create_member(name="山田 太郎", name_kana="ヤマダ タロウ")
    sato = c.create_member(name="佐藤 一郎", name_kana="サトウ イチロウ")
    tanaka = c.create_member(name="田中 次郎", name_kana="タナカ ジロウ")
    invs = [open_invoice(c, yamada["id"], 5500), open_invoice(c, sato["id"], 7700),
            open_invoice(c, tanaka["id"], 11000)]
    number = int(invs[0]["number"][4:])
    rows = [deposit(101, 5500, "%d ﾔﾏﾀﾞ ﾊﾅｺ" % number),        # his wife pays, with his number
            deposit(102, 7700, "ｻﾄｳ ｲﾁﾛｳ"),
            deposit(103, 10000, "ﾀﾅｶ ｼﾞﾛｳ"),
            deposit(104, 3000, "ｺﾊﾞﾔｼ ｹﾝ")]
    return {"invoices": invs, "rows": rows, "file": zengin(rows)}


def test_a_trailer_that_does_not_add_up_is_refused_naming_its_row(bs, c, statement):
    # 5,500 + 7,700 + 10,000 + 3,000 = 26,200; the trailer (row 6) says 26,300
    body = problem(upload(c, zengin(statement["rows"], total=26300)), 400)
    assert [(e["field"], e["reason"]) for e in body["errors"]] == [
        ("file", "row 6: the trailer's total is 26300 yen, the deposits come to 26200")], body
    body = problem(upload(c, zengin(statement["rows"], count=5)), 400)
    assert [e["reason"] for e in body["errors"]] == ["row 6: the trailer counts 5 deposits, the file has 4"]
    assert [invoice(c, i["id"])["status"] for i in statement["invoices"]] == ["open"] * 3
    assert int(bs.sql("select count(*) from billing.deposits")[0][0]) == 0


def test_broken_encoding_is_refused_naming_its_row(c):
    # the payer written in full-width Shift_JIS (2 bytes a letter) where half-width kana belong
    rows = [deposit(1, 1000, "ｱ"), record(b"2", [(1, b"000002"), (7, b"080401" * 2), (19, b"%010d" % 2000),
                                                  (29, b"0" * 20), (49, "ヤマダ".encode("cp932"))])]
    body = problem(upload(c, zengin(rows)), 400)
    assert [(e["field"], e["reason"]) for e in body["errors"]] == [
        ("file", "row 3: the payer's name is not half-width katakana in Shift_JIS (broken encoding?)")], body
    # read as CSV (not a Zengin header): its header lacks the payer
    body = problem(upload(c, "日付,金額\r\n2026-04-01,1000\r\n".encode("cp932")), 400)
    assert [(e["field"], e["reason"]) for e in body["errors"]] == [
        ("file", "row 1: the header must name 日付 (date), 金額 (amount) and 振込依頼人名 (payer)")], body
    body = problem(upload(c, zengin(rows), format="ofx"), 400)
    assert [e["field"] for e in body["errors"]] == ["format"], body


def test_dry_run_answers_each_row_and_applies_nothing(bs, c, statement):
    invs = statement["invoices"]
    r = ok(upload(c, statement["file"], dry_run=True))
    assert (r["dry_run"], r["format"], r["rows"], r["total"]) == (True, "zengin", 4, 26200), r
    assert (r["matched"], r["partial"], r["unmatched"], r["duplicates"]) == (2, 1, 1, 0), r
    assert r["statement_id"] is None
    got = [(d["row"], d["state"], d["match_reason"], d["invoice_number"], d["amount"]) for d in r["deposits"]]
    assert got == [(2, "matched", "reference", invs[0]["number"], 5500),
                   (3, "matched", "name_amount", invs[1]["number"], 7700),
                   (4, "partial", "name_amount", invs[2]["number"], 10000),
                   (5, "unmatched", None, None, 3000)], got
    assert r["deposits"][1]["payer_name"] == "ｻﾄｳ ｲﾁﾛｳ" and r["deposits"][1]["payer_kana"] == "サトウイチロウ"
    assert r["deposits"][0]["date"] == "2026-04-01" and r["deposits"][0]["reference"] == "000101"
    assert all(d["id"] is None for d in r["deposits"])
    # why rows 4 and 5 are left to a person: ¥10,000 is less than Tanaka's ¥11,000; nobody is
    # named ｺﾊﾞﾔｼ ｹﾝ. The same codes in Japanese, the sentences in it.
    reasons = [(d["reason"], d["reason_code"]) for d in r["deposits"]]
    assert reasons == [(None, None), (None, None),
                       ("less than the open invoice of this name owes", "deposit_less_than_invoice"),
                       ("no open invoice for this name and amount", "deposit_no_invoice")], reasons
    ja = ok(upload(c, statement["file"], dry_run=True, language="ja"))
    assert [(d["reason"], d["reason_code"]) for d in ja["deposits"]][2:] == [
        ("この名義の未払いの請求書の金額に足りません", "deposit_less_than_invoice"),
        ("この名義と金額の未払いの請求書がありません", "deposit_no_invoice")], ja["deposits"]
    assert [invoice(c, i["id"])["status"] for i in invs] == ["open"] * 3
    assert payments(c, invoice_id=invs[0]["id"]) == []
    assert ok(c.get("/v1/deposits"))["data"] == []


def test_import_pays_the_matched_invoices_once(bs, c, statement):
    invs = statement["invoices"]
    r = ok(upload(c, statement["file"]))
    assert r["dry_run"] is False and r["statement_id"], r
    assert [d["state"] for d in r["deposits"]] == ["matched", "matched", "partial", "unmatched"]
    assert all(d["history"] == [] for d in r["deposits"]), r
    # each deposit's history starts with the import: matched (with its payment) or imported
    me = ok(c.get("/v1/me"))["id"]
    by_number = ok(c.get("/v1/deposits/" + r["deposits"][0]["id"]))
    [step] = by_number["history"]
    assert (step["action"], step["invoice_id"], step["invoice_number"], step["payment_id"], step["actor"]) == \
        ("matched", invs[0]["id"], invs[0]["number"], by_number["payment_id"], me), step
    assert ms(step["at"]) == ms(by_number["created_at"]) and by_number["statement_id"] == r["statement_id"]
    [step] = ok(c.get("/v1/deposits/" + r["deposits"][2]["id"]))["history"]      # partial: names its invoice
    assert (step["action"], step["invoice_number"], step["payment_id"], step["actor"]) == \
        ("imported", invs[2]["number"], None, me), step
    assert [invoice(c, i["id"])["status"] for i in invs] == ["paid", "paid", "open"]
    for inv, ref in ((invs[0], "000101"), (invs[1], "000102")):
        [p] = payments(c, invoice_id=inv["id"])
        assert (p["provider"], p["method_type"], p["status"], p["bank_reference"]) == \
            ("manual", "bank_transfer", "succeeded", ref), p
        assert events(bs, inv["id"])[-1] == "invoice.paid"
    assert invoice(c, invs[2]["id"])["amount_paid"] == 0
    # the same file again: refused whole; a later statement repeating row 2 skips it
    problem(upload(c, statement["file"]), 409)
    # (and a second transfer naming Yamada's invoice, paid now: left to a person, saying so)
    number = invs[0]["number"]
    later = zengin([statement["rows"][0], deposit(105, 4400, "ﾅｶﾑﾗ ｻﾁｺ"),
                    deposit(106, 5500, "%d ﾔﾏﾀﾞ ﾀﾛｳ" % int(number[4:]))], made=b"080402")
    r2 = ok(upload(c, later))
    assert [(d["row"], d["state"], d["reason_code"]) for d in r2["deposits"]] == \
        [(2, "duplicate", "deposit_stored_already"), (3, "unmatched", "deposit_no_invoice"),
         (4, "unmatched", "deposit_invoice_paid")], r2
    assert [d["reason"] for d in r2["deposits"]] == ["stored already from an earlier statement",
                                                     "no open invoice for this name and amount",
                                                     "%s is paid, not open" % number], r2
    [paid] = [d for d in ok(c.get("/v1/deposits", params={"state": "unmatched"}, headers={"Accept-Language": "ja"}))["data"]
              if d["payer_name"].endswith("ﾔﾏﾀﾞ ﾀﾛｳ")]
    assert paid["reason"] == "%s は支払済みで、未払いではありません" % number, paid
    assert r2["duplicates"] == 1
    assert len(payments(c, invoice_id=invs[0]["id"])) == 1
    assert int(bs.sql("select count(*) from billing.deposits")[0][0]) == 6


def test_unmatched_and_partial_deposits_are_listed_for_a_person(c, statement):
    unmatched = ok(c.get("/v1/deposits", params={"state": "unmatched", "limit": 100}))["data"]
    assert sorted(d["payer_name"].lstrip("0123456789 ") for d in unmatched) == ["ｺﾊﾞﾔｼ ｹﾝ", "ﾅｶﾑﾗ ｻﾁｺ", "ﾔﾏﾀﾞ ﾀﾛｳ"], unmatched
    [partial] = ok(c.get("/v1/deposits", params={"state": "partial"}))["data"]
    assert partial["amount"] == 10000 and partial["invoice_id"] == statement["invoices"][2]["id"], partial
    assert (partial["reason"], partial["reason_code"]) == \
        ("less than the open invoice of this name owes", "deposit_less_than_invoice"), partial
    [ja] = ok(c.get("/v1/deposits", params={"state": "partial"}, headers={"Accept-Language": "ja"}))["data"]
    assert (ja["reason"], ja["reason_code"]) == ("この名義の未払いの請求書の金額に足りません", "deposit_less_than_invoice")
    ja = ok(c.get("/v1/deposits/" + partial["id"], headers={"Accept-Language": "ja"}))
    assert ja["reason"] == "この名義の未払いの請求書の金額に足りません", ja
    page = ok(c.get("/v1/deposits", params={"limit": 2}))
    assert len(page["data"]) == 2 and page["next_cursor"]
    rest = ok(c.get("/v1/deposits", params={"limit": 100, "cursor": page["next_cursor"]}))
    assert len(page["data"]) + len(rest["data"]) == 6
    problem(c.get("/v1/deposits", params={"state": "lost"}), 400)


def test_assign_unassign_and_ignore(bs, c, statement, viewer):
    [kobayashi] = [d for d in ok(c.get("/v1/deposits", params={"state": "unmatched"}))["data"]
                   if d["payer_name"] == "ｺﾊﾞﾔｼ ｹﾝ"]
    m = c.create_member()
    inv = open_invoice(c, m["id"], 3000)
    problem(viewer.post("/v1/deposits/%s/assign" % kobayashi["id"], {"invoice_id": inv["id"]}), 403)
    body = problem(c.post("/v1/deposits/%s/assign" % kobayashi["id"],
                          {"invoice_id": statement["invoices"][0]["id"]}), 400)   # paid already
    assert [e["field"] for e in body["errors"]] == ["invoice_id"], body
    assert kobayashi["history"] == []               # a list's deposits: no history
    d = ok(c.post("/v1/deposits/%s/assign" % kobayashi["id"], {"invoice_id": inv["id"]}))
    assert (d["state"], d["match_reason"], d["invoice_id"], d["invoice_number"]) == \
        ("matched", "assigned", inv["id"], inv["number"]), d
    assigned = d
    paid = invoice(c, inv["id"])
    assert paid["status"] == "paid" and paid["amount_paid"] == 3000
    # analytics counts the payment in the member's spend (RFM): one invoice of ¥3,000
    assert until(lambda: loyalty(c, m["id"]) == (1, 3000)), loyalty(c, m["id"])
    # taken back: the invoice is open again, the payment stays as history, marked reversed
    d = ok(c.post("/v1/deposits/%s/unassign" % kobayashi["id"], {}))
    assert (d["state"], d["invoice_id"], d["payment_id"]) == ("unmatched", None, None), d
    assert (d["reason"], d["reason_code"]) == ("its match was undone by hand", "deposit_unassigned"), d
    again = invoice(c, inv["id"])
    assert (again["status"], again["amount_paid"], again["paid_at"]) == ("open", 0, None), again
    [p] = payments(c, invoice_id=inv["id"])
    assert p["status"] == "reversed" and p["reversed_at"], p
    assert events(bs, p["id"]) == ["payment.succeeded", "payment.reversed"]
    # ... and no longer once it is taken back: the invoice is unpaid; the timeline says why
    assert until(lambda: loyalty(c, m["id"]) == (0, 0)), loyalty(c, m["id"])
    timeline = ok(c.get("/v1/members/%s/timeline" % m["id"]))["data"]
    assert timeline[0]["type"] == "payment.reversed" and timeline[0]["summary"] == "支払い取消: ¥3,000（bank_transfer）", timeline[0]
    problem(c.post("/v1/deposits/%s/unassign" % kobayashi["id"], {}), 409)
    assert [r[0] for r in bs.sql("select action from billing.deposit_events where deposit_id = '%s' order by seq"
                                 % kobayashi["id"])] == ["imported", "assigned", "unassigned"]
    # the same history answered: who did what, with which invoice and payment, when
    me = ok(c.get("/v1/me"))["id"]
    got = ok(c.get("/v1/deposits/" + kobayashi["id"]))
    assert [(e["action"], e["invoice_id"], e["invoice_number"], e["payment_id"], e["actor"]) for e in got["history"]] == [
        ("imported", None, None, None, me), ("assigned", inv["id"], inv["number"], p["id"], me),
        ("unassigned", None, None, None, me)], got["history"]
    assert [ms(e["at"]) for e in got["history"]] == \
        [ms(kobayashi["created_at"]), ms(assigned["updated_at"]), ms(d["updated_at"])], got["history"]
    assert d["history"] == got["history"] and assigned["history"] == got["history"][:2]
    assert ok(viewer.get("/v1/deposits/" + kobayashi["id"]))["history"] == got["history"]
    # the partial one: set aside
    [partial] = ok(c.get("/v1/deposits", params={"state": "partial"}))["data"]
    d = ok(c.post("/v1/deposits/%s/ignore" % partial["id"], {}, headers={"Accept-Language": "ja"}))
    assert (d["state"], d["reason"], d["reason_code"]) == \
        ("ignored", "この名義の未払いの請求書の金額に足りません", "deposit_less_than_invoice"), d    # kept
    problem(c.post("/v1/deposits/%s/ignore" % partial["id"], {}), 409)
    assert ok(c.get("/v1/deposits/" + partial["id"]))["state"] == "ignored"
    problem(c.get("/v1/deposits/" + "0" * 8 + "-0000-0000-0000-" + "0" * 12), 404)


def test_a_viewer_reads_deposits_but_imports_nothing(c, viewer, statement):
    problem(upload(viewer, statement["file"], dry_run=True), 403)
    assert ok(viewer.get("/v1/deposits"))["data"]


def test_a_csv_statement_in_shift_jis(bs, c):
    """A net bank's CSV in CP932 with Japanese headers: row 2 names the invoice in 摘要 (by
    reference), row 3 a payer nobody knows; a row in neither UTF-8 nor Shift_JIS is named."""
    m = c.create_member(name="伊藤 花子", name_kana="イトウ ハナコ")
    inv = open_invoice(c, m["id"], 8800)
    text = ("日付,金額,振込依頼人名,摘要\r\n"
            "2026/04/03,\"8,800\",ｲﾄｳ ﾊﾅｺ,%s\r\n"
            "2026-04-03,1234円,ﾜﾀﾅﾍﾞ ｼﾞﾛｳ,\r\n" % inv["number"])
    dry = ok(upload(c, text.encode("cp932"), dry_run=True))
    assert (dry["format"], dry["rows"], dry["total"]) == ("csv", 2, 10034), dry
    got = [(d["row"], d["state"], d["match_reason"], d["invoice_number"], d["date"]) for d in dry["deposits"]]
    assert got == [(2, "matched", "reference", inv["number"], "2026-04-03"),
                   (3, "unmatched", None, None, "2026-04-03")], got
    assert invoice(c, inv["id"])["status"] == "open"
    r = ok(upload(c, text.encode("cp932"), format="csv"))
    assert (r["matched"], r["unmatched"]) == (1, 1), r
    paid = invoice(c, inv["id"])
    assert paid["status"] == "paid" and paid["amount_paid"] == 8800, paid
    broken = "日付,金額,振込依頼人名\r\n".encode("cp932") + b"2026-04-03,100,\xff\xfe\x80\r\n"
    body = problem(upload(c, broken), 400)
    assert [(e["field"], e["reason"]) for e in body["errors"]] == [
        ("file", "row 2: neither UTF-8 nor Shift_JIS (broken encoding?)")], body


def test_a_partial_deposit_assigned_and_the_rest_paid_at_the_desk(bs, c):
    """¥6,000 comes in for an invoice of ¥6,600 (the bank's fee taken off): partial; a person
    assigns it (the invoice stays open owing ¥600) and the ¥600 is paid in cash at the desk."""
    m = c.create_member(name="木村 修", name_kana="キムラ オサム")
    inv = open_invoice(c, m["id"], 6600)
    r = ok(upload(c, zengin([deposit(201, 6000, "ｷﾑﾗ ｵｻﾑ")], made=b"080410")))
    [d] = r["deposits"]
    assert (d["state"], d["invoice_id"]) == ("partial", inv["id"]), d
    assert invoice(c, inv["id"])["amount_paid"] == 0
    d = ok(c.post("/v1/deposits/%s/assign" % d["id"], {"invoice_id": inv["id"]}))
    assert d["state"] == "matched" and d["payment_id"], d
    part = invoice(c, inv["id"])
    assert (part["status"], part["amount_paid"], part["amount_due"]) == ("open", 6000, 600), part
    assert "invoice.paid" not in events(bs, inv["id"])
    done = ok(c.post("/v1/invoices/%s/mark-paid" % inv["id"], {"note": "差額600円を現金で受領"}))
    assert (done["status"], done["amount_paid"], done["amount_due"]) == ("paid", 6600, 0), done
    got = sorted((p["method_type"], p["amount"]) for p in payments(c, invoice_id=inv["id"]))
    assert got == [("bank_transfer", 6000), ("cash", 600)], got


def test_a_payer_is_found_among_many_open_invoices_of_the_same_amount(bs, c):
    """A gym's monthly fee: 55 members owe ¥1,320 each, more than the 50 oldest invoices of an
    amount that a scan would read. The payer's reading finds the member through the member
    service's search, so the newest member's transfer is matched to their own invoice; a
    reading written with small kana (キョウコ, the bank writes ｷﾖｳｺ) is still found by the scan
    when its invoice is among the oldest."""
    kyoko = c.create_member(name="森 恭子", name_kana="モリ キョウコ")
    kyoko_invoice = open_invoice(c, kyoko["id"], 1320)
    others = [c.create_member(name="会員 %d" % i, name_kana="カイイン バンゴウ%s" % "イロハニホヘトチリヌルヲワカヨタレソツネナラムウヰノオクヤマケフコエテアサキユメミシヱヒモセスンガギグゲゴザジ"[i])
              for i in range(54)]
    for m in others:
        open_invoice(c, m["id"], 1320)
    newest = c.create_member(name="最後 美咲", name_kana="サイゴ ミサキ")
    newest_invoice = open_invoice(c, newest["id"], 1320)
    r = ok(upload(c, zengin([deposit(201, 1320, "ｻｲｺﾞ ﾐｻｷ"), deposit(202, 1320, "ﾓﾘ ｷﾖｳｺ")], made=b"080403")))
    assert [(d["state"], d["match_reason"], d["invoice_number"]) for d in r["deposits"]] == [
        ("matched", "name_amount", newest_invoice["number"]),
        ("matched", "name_amount", kyoko_invoice["number"])], r
    assert invoice(c, newest_invoice["id"])["status"] == "paid"
    assert invoice(c, kyoko_invoice["id"])["status"] == "paid"


def test_invoices_are_found_by_their_number(c):
    m = c.create_member()
    first, second = open_invoice(c, m["id"], 1100), open_invoice(c, m["id"], 2200)
    for inv in (first, second):
        got = ok(c.get("/v1/invoices", params={"number": inv["number"]}))["data"]
        assert [(x["id"], x["number"]) for x in got] == [(inv["id"], inv["number"])], got
    # with the other filters: paid is not what it is
    assert ok(c.get("/v1/invoices", params={"number": first["number"], "status": "paid"}))["data"] == []
    assert ok(c.get("/v1/invoices", params={"number": "INV-99999999"}))["data"] == []
    for bad, lang, reason in (("INV-12", "en", "must be an invoice number such as INV-00000012"),
                              ("12345678", "ja", "INV-00000012 のような請求書番号を指定してください")):
        body = problem(c.get("/v1/invoices", params={"number": bad}, headers={"Accept-Language": lang}), 400)
        assert [(e["field"], e["reason"]) for e in body["errors"]] == [("number", reason)], body
