"""search.py - the search figure: 100 000 members with Japanese names and kana, then partial-name
queries with two filters through the gateway; prints p50 and p95 (goal: p95 < 50 ms).
Run by bench/search.sh (make bench-search), which uses the test harness to start throwaway
servers and seeds them itself; or, by bench/run.sh (make bench), against a running gateway
whose members are seeded already:
    search.py --url http://127.0.0.1:PORT --token TOKEN
which prints one machine-readable line, SEARCH queries=... p50_ms=... p95_ms=... max_ms=...
The name lists are shared with bench/import_csv.py."""

import http.client
import json
import os
import random
import statistics
import sys
import time
import urllib.parse

MEMBERS = int(os.environ.get("KAIIN_BENCH_MEMBERS", "100000"))
QUERIES = int(os.environ.get("KAIIN_BENCH_QUERIES", "200"))
GOAL_MS = 50.0

SURNAMES = [("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("田中", "タナカ"),
            ("伊藤", "イトウ"), ("渡辺", "ワタナベ"), ("山本", "ヤマモト"), ("中村", "ナカムラ"),
            ("小林", "コバヤシ"), ("加藤", "カトウ"), ("吉田", "ヨシダ"), ("山田", "ヤマダ"),
            ("佐々木", "ササキ"), ("山口", "ヤマグチ"), ("松本", "マツモト"), ("井上", "イノウエ"),
            ("木村", "キムラ"), ("林", "ハヤシ"), ("斎藤", "サイトウ"), ("清水", "シミズ"),
            ("山崎", "ヤマザキ"), ("森", "モリ"), ("池田", "イケダ"), ("橋本", "ハシモト"),
            ("阿部", "アベ"), ("石川", "イシカワ"), ("山下", "ヤマシタ"), ("中島", "ナカジマ"),
            ("石井", "イシイ"), ("小川", "オガワ"), ("前田", "マエダ"), ("岡田", "オカダ"),
            ("長谷川", "ハセガワ"), ("藤田", "フジタ"), ("後藤", "ゴトウ"), ("近藤", "コンドウ")]
GIVEN = [("翔太", "ショウタ"), ("大輝", "ダイキ"), ("蓮", "レン"), ("陽斗", "ハルト"),
         ("悠真", "ユウマ"), ("健太", "ケンタ"), ("拓也", "タクヤ"), ("直樹", "ナオキ"),
         ("誠", "マコト"), ("浩二", "コウジ"), ("花子", "ハナコ"), ("陽菜", "ヒナ"),
         ("結衣", "ユイ"), ("美咲", "ミサキ"), ("さくら", "サクラ"), ("葵", "アオイ"),
         ("優子", "ユウコ"), ("恵", "メグミ"), ("由美", "ユミ"), ("真由美", "マユミ"),
         ("愛", "アイ"), ("彩", "アヤ"), ("菜々子", "ナナコ"), ("千尋", "チヒロ"),
         ("智子", "トモコ"), ("裕子", "ユウコ"), ("明美", "アケミ"), ("和也", "カズヤ"),
         ("亮", "リョウ"), ("大翔", "ヒロト")]

# Partial names as people type them: hiragana, half-width katakana, kanji, a piece of a name.
QUERY_WORDS = ["たなか", "ﾔﾏﾀﾞ", "佐藤", "すずき", "ｲﾄｳ", "ナカムラ", "こばやし", "ヤマ", "山本",
               "はなこ", "ﾕｳｺ", "さくら", "たかはし", "ワタナベ", "いのうえ", "ﾊﾙﾄ", "木村", "まつもと"]


def measure(get):
    """Runs the warm-up and QUERIES queries through get(params) -> (status, body text); returns
    (sorted times in ms, members on each page)."""
    rng = random.Random(7)
    for word in QUERY_WORDS[:5]:                                 # warm-up
        get({"q": word, "status": "free", "rank": "premium"})
    times, hits = [], []
    for i in range(QUERIES):
        word = QUERY_WORDS[i % len(QUERY_WORDS)]
        params = {"q": word, "status": "free", "rank": "premium"}
        if rng.random() < 0.25:
            params["sort"] = "name_kana"
        t = time.monotonic()
        status, body = get(params)
        times.append((time.monotonic() - t) * 1000)
        if status != 200:
            raise RuntimeError("query %s: %d %s" % (params, status, body[:400]))
        hits.append(len(json.loads(body)["data"]))
    times.sort()
    return times, hits


def p95_of(times):
    return times[int(len(times) * 0.95) - 1]


def main_url(url, token):
    """Against a running gateway: one keep-alive connection, as a staff member's browser."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Authorization": "Bearer " + token}

    def get(params):
        conn.request("GET", "/v1/members?" + urllib.parse.urlencode(params), headers=headers)
        r = conn.getresponse()
        return r.status, r.read().decode("utf-8", "replace")

    times, hits = measure(get)
    print("SEARCH queries=%d p50_ms=%.2f p95_ms=%.2f max_ms=%.2f mean_page=%.1f"
          % (len(times), statistics.median(times), p95_of(times), times[-1], statistics.mean(hits)))


def seed(suite):
    values = []
    rng = random.Random(42)
    for i in range(MEMBERS):
        (sn, sk), (gn, gk) = rng.choice(SURNAMES), rng.choice(GIVEN)
        phone = "0%d0-%04d-%04d" % (rng.choice((7, 8, 9)), rng.randrange(10000), rng.randrange(10000))
        status = "free" if rng.random() < 0.7 else ("paid" if rng.random() < 0.8 else "withdrawn")
        rank = "premium" if rng.random() < 0.2 else "basic"
        values.append("%s\t%s %s\t%s %s\t%s\t%s\t%s" % ("bench%06d@example.jp" % i, sn, gn, sk, gk,
                                                        phone, status, rank))
    path = os.path.join(suite.dir, "members.tsv")
    with open(path, "w") as f:
        f.write("\n".join(values) + "\n")
    os.chmod(path, 0o644)
    # created_at/updated_at are required: load through a staging table
    suite.sql("create temp table s (email text, name text, kana text, phone text, status text, rank text);"
              "copy s from '%s';"
              "insert into member.members (email, name, name_kana, phone, status, rank, created_at, updated_at)"
              " select email, name, kana, phone, status, rank, now () - (random () * interval '700 days'),"
              " now () from s; analyze member.members;" % path, timeout=900)


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--url" and sys.argv[3] == "--token":
        return main_url(sys.argv[2], sys.argv[4])
    if len(sys.argv) > 1:
        sys.exit("usage: search.py [--url URL --token TOKEN]")
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
    import harness  # noqa: E402
    suite = harness.Suite("bench-search", member_workers=int(os.environ.get("MEMBER_WORKERS", "4")))
    try:
        suite.start_pg()
        suite.db_init()
        # The line proposed for scripts/db-init.sh: pg_trgm in the member schema, by the superuser.
        suite.sql("create extension if not exists pg_trgm schema member")
        suite.start_redis()
        suite.start_gateway(wait=False)
        suite.start_member(wait=False)
        suite.wait_ready()
        t0 = time.monotonic()
        seed(suite)
        print("seeded %d members in %.1f s" % (MEMBERS, time.monotonic() - t0))
        index = suite.sql("select count(*) from pg_indexes where schemaname = 'member'"
                          " and indexname = 'members_search_trgm'")[0][0]
        print("trigram index: %s" % ("yes" if index == "1" else "NO (pg_trgm missing)"))
        client = suite.client

        def get(params):
            r = client.get("/v1/members", params=params)
            return r.status_code, r.text

        times, hits = measure(get)
        p50 = statistics.median(times)
        p95 = p95_of(times)
        print("search: %d queries (q + status + rank, 20 per page) over %d members: "
              "p50 %.1f ms, p95 %.1f ms, max %.1f ms, mean page %.1f members"
              % (len(times), MEMBERS, p50, p95, times[-1], statistics.mean(hits)))
        print("goal p95 < %.0f ms: %s" % (GOAL_MS, "OK" if p95 < GOAL_MS else "MISS"))
        plan = suite.sql("set plan_cache_mode = force_custom_plan; explain (costs off) select id from"
                         " member.members where search_text like '%%' || member.search_norm('たなか') || '%%'"
                         " and status = 'free' and rank = 'premium' order by seq limit 21")
        print("plan of one query:\n  " + "\n  ".join(r[0] for r in plan))
    finally:
        suite.stop()
        for p in suite.take_problems():
            print("problem: " + p, file=sys.stderr)
        if os.environ.get("KAIIN_BENCH_KEEP") != "1":
            suite.cleanup_dir()


if __name__ == "__main__":
    main()
