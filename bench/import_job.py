"""import_job.py - the import job's figure (issue 13.5): ROWS members in one CP932 file with the
forms Excel users write (birthdays as 1990/1/2, 1990年1月2日, 平成2年1月2日 or 1990-01-02,
half-width katakana readings, full-width phone numbers, prefectures without 都/府/県), posted to
POST /v1/members/import-jobs of a throwaway suite (tests/harness.py: its own PostgreSQL, Redis
and every service, built binaries from KAIIN_BIN_DIR) and run to its end. Prints the file's
size, the upload's time (the 202), the job's (to succeeded) and the peak RSS (VmHWM) of member
and the gateway, and member's RSS sampled while it ran. Then the members are exported again
(GET /v1/members/export, streamed a part at a time): its time, bytes and rows, and the RSS of
member and the gateway sampled while it ran.
    KAIIN_BIN_DIR=build/bin python3 bench/import_job.py [ROWS]      (ROWS 1000000)"""

import os
import random
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import harness  # noqa: E402
import import_csv  # noqa: E402
import requests  # noqa: E402

HEADER = ["氏名", "フリガナ", "メールアドレス", "電話番号", "生年月日", "郵便番号", "都道府県", "住所",
          "タグ", "メール配信"]
HALF_KANA = ["ﾀｶﾊｼ ﾀﾛｳ", "ﾔﾏﾀﾞ ﾊﾅｺ", "ｻﾄｳ ｹﾝ", "ｽｽﾞｷ ﾕｲ", "ｲﾄｳ ｼｮｳﾀ", "ﾜﾀﾅﾍﾞ ﾐｻｷ"]
FULL_WIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")


def birthday(rng):
    year, month, day = rng.randint(1940, 2005), rng.randint(1, 12), rng.randint(1, 28)
    form = rng.random()
    if form < 0.3:
        return "%d/%d/%d" % (year, month, day)
    if form < 0.5:
        return "%d年%d月%d日" % (year, month, day)
    if form < 0.8:
        if year == 1989:
            year = 1988                 # 昭和 64 ends on 7 January, 平成 1 starts on the 8th
        era, first = ("平成", 1989) if year >= 1990 else ("昭和", 1926)
        return "%s%d年%d月%d日" % (era, year - first + 1, month, day)
    return "%04d-%02d-%02d" % (year, month, day)


def write(path, count):
    rng = random.Random(20261206)
    with open(path, "wb") as f:
        f.write((",".join(HEADER) + "\r\n").encode("cp932"))
        lines = []
        for name, kana, email, phone, postal, prefecture, address, tags, opt_in in \
                import_csv.rows(count, "job%d-" % os.getpid()):
            if rng.random() < 0.3:
                kana = rng.choice(HALF_KANA)
            if rng.random() < 0.4:
                phone = phone.translate(FULL_WIDTH)
            if rng.random() < 0.5:
                prefecture = prefecture[:-1] if prefecture[-1] in "都府県" else prefecture
            cells = [name, kana, email, phone, birthday(rng), postal, prefecture, address, tags, opt_in]
            lines.append(",".join('"%s"' % c if any(x in c for x in ',"\r\n') else c for c in cells))
            if len(lines) == 10000:
                f.write(("\r\n".join(lines) + "\r\n").encode("cp932"))
                lines = []
        if lines:
            f.write(("\r\n".join(lines) + "\r\n").encode("cp932"))


def status_kb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def export(suite, member, gateway):
    """Every member as one streamed CSV export, read as it comes; RSS sampled every 64 KiB read."""
    before = (status_kb(member, "VmRSS"), status_kb(gateway, "VmRSS"))
    peak = list(before)
    t0 = time.monotonic()
    size = lines = 0
    with requests.get(suite.url("/v1/members/export"), stream=True, timeout=(10, 600),
                      headers={"Authorization": "Bearer " + suite.token}) as r:
        assert r.status_code == 200, (r.status_code, r.text[:2000])
        total = r.headers["X-Total-Count"]
        for chunk in r.iter_content(65536):
            size += len(chunk)
            lines += chunk.count(b"\n")
            peak = [max(peak[0], status_kb(member, "VmRSS")), max(peak[1], status_kb(gateway, "VmRSS"))]
    seconds = time.monotonic() - t0
    print("export: %s members (X-Total-Count), %d rows, %.1f MB in %.1f s (%.0f rows/s); VmRSS kB"
          " member %d -> peak %d, gateway %d -> peak %d" %
          (total, lines - 1, size / 1e6, seconds, (lines - 1) / seconds, before[0], peak[0],
           before[1], peak[1]), flush=True)


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
    path = os.path.join(tempfile.gettempdir(), "kaiin-import-job-%d.csv" % os.getpid())
    write(path, count)
    size = os.path.getsize(path)
    print("file: %d rows, %.1f MB CP932" % (count, size / 1e6), flush=True)
    suite = harness.Suite("bench-job").start()
    try:
        member = suite.members[0].popen.pid
        gateway = suite.gateway.popen.pid
        print("member pid %d VmRSS %d kB, gateway pid %d VmRSS %d kB before" %
              (member, status_kb(member, "VmRSS"), gateway, status_kb(gateway, "VmRSS")), flush=True)
        t0 = time.monotonic()
        with open(path, "rb") as f:
            r = requests.post(suite.url("/v1/members/import-jobs"), data=f, timeout=(10, 3600),
                              headers={"Content-Type": "text/csv",
                                       "Authorization": "Bearer " + suite.token})
        uploaded = time.monotonic() - t0
        assert r.status_code == 202, (r.status_code, r.text[:2000])
        job = r.json()
        print("upload: %.1f s, %s rows_total %d, member VmHWM %d kB, gateway VmHWM %d kB, load %s" %
              (uploaded, job["state"], job["rows_total"], status_kb(member, "VmHWM"),
               status_kb(gateway, "VmHWM"), open("/proc/loadavg").read().split()[:3]), flush=True)
        samples = []
        while True:
            time.sleep(5)
            job = requests.get(suite.url("/v1/members/import-jobs/" + job["id"]), timeout=30,
                               headers={"Authorization": "Bearer " + suite.token}).json()
            samples.append(status_kb(member, "VmRSS"))
            if len(samples) % 12 == 0:
                print("  %6.0f s: %s %d/%d, member VmRSS %d kB, load %s" %
                      (time.monotonic() - t0, job["state"], job["rows_done"], job["rows_total"],
                       samples[-1], open("/proc/loadavg").read().split()[:3]), flush=True)
            if job["state"] in ("succeeded", "failed", "canceled"):
                break
        total = time.monotonic() - t0
        print("job: %s in %.1f s total (%.1f s after the upload): created %d updated %d rejected %d %s" %
              (job["state"], total, total - uploaded, job["created"], job["updated"], job["rejected"],
               [(e["row"], e["column"], e["code"]) for e in job["errors"][:5]]))
        print("member: VmHWM %d kB, VmRSS while the job ran %d..%d kB; gateway: VmHWM %d kB" %
              (status_kb(member, "VmHWM"), min(samples), max(samples), status_kb(gateway, "VmHWM")))
        export(suite, member, gateway)
    finally:
        suite.stop()
        suite.cleanup_dir()
        os.unlink(path)


if __name__ == "__main__":
    main()
