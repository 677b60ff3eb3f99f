"""campaign.py - the campaign figure of issue 15: personalised campaign mails into a local SMTP
sink (mailpit), in mails/s, against Postfix's smtp-source sending as many mails of the same size
to the same sink in the same run (half before the campaign, half after; the two rates averaged).
Run by bench/run.sh (make bench) against a running gateway and kaiin-messaging whose projection
holds the members tagged TAG (run.sh seeds them):
    campaign.py --url URL --token TOKEN --mailpit URL --smtp HOST:PORT --tag TAG --mails N
                --messaging-pid PID
which prints one machine-readable line, CAMPAIGN key=value ... (mails, seconds, rate, size,
reference rate, kaiin-messaging's peak RSS), after checking in mailpit that every recipient got
exactly one campaign mail (found by its subject, counted by address) and that smtp-source's all
arrived (found by their sender): other mails the bench's services send meanwhile (the welcome
mail of the probe member run.sh registered, queued until the sender is set) are not counted."""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

SETTINGS = {"from_name": "会員サポート", "from_address": "support@bench.example.jp",
            "business_name": "株式会社カイイン", "postal_address": "東京都千代田区千代田1-1",
            "contact": "03-1234-5678"}
TEMPLATE = {
    "name": "bench campaign", "kind": "marketing",
    "subject": "【会員限定】{{member.name}}様へ 春のご優待のお知らせ",
    "html": "<p>{{member.name}}（{{member.name_kana}}）様</p>\n"
            "<p>いつもご利用いただきありがとうございます。{{member.rank}}会員の皆さまに、春のご優待をご用意しました。"
            "期間中はすべての商品が10%オフになります。</p>\n"
            "<p><a href=\"https://shop.example.jp/spring?utm_source=mail\">ご優待の詳細はこちら</a></p>\n"
            "<p>ご不明な点は{{sender.contact}}までお問い合わせください。</p>",
    "text": "{{member.name}}（{{member.name_kana}}）様\n\n"
            "いつもご利用いただきありがとうございます。{{member.rank}}会員の皆さまに、春のご優待をご用意しました。\n"
            "期間中はすべての商品が10%オフになります。\n\n"
            "ご優待の詳細: https://shop.example.jp/spring?utm_source=mail\n\n"
            "ご不明な点は{{sender.contact}}までお問い合わせください。\n",
}


def call(args, method, path, body=None, timeout=60):
    request = urllib.request.Request(args.url + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": "Bearer " + args.token,
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        sys.exit("campaign.py: %s %s answered %d: %s" % (method, path, e.code, e.read()[:300]))


def mailpit(args, path):
    with urllib.request.urlopen(args.mailpit + path, timeout=60) as r:
        return r.read()


def mailpit_search(args, query, start=0, limit=1):
    return json.loads(mailpit(args, "/api/v1/search?" + urllib.parse.urlencode(
        {"query": query, "start": start, "limit": limit})))


def campaign_received(args):
    """The campaign's mails in mailpit, by recipient ({address: mails}): those whose subject is
    the template's (the test send, to size@, left out)."""
    counts, start = {}, 0
    while True:
        page = mailpit_search(args, 'subject:"春のご優待のお知らせ"', start, 5000)
        for message in page["messages"]:
            for to in message["To"]:
                if to["Address"] != "size@bench.example.jp":
                    counts[to["Address"]] = counts.get(to["Address"], 0) + 1
        start += len(page["messages"])
        if not page["messages"] or start >= page["messages_count"]:
            return counts


def smtp_source(args, count, size):
    """smtp-source sending count mails of size bytes over as many sessions that stay connected
    as kaiin-messaging has tick threads (MESSAGING_TICK_THREADS, 2), each of which keeps one
    session to the relay. Returns mails/s."""
    started = time.monotonic()
    sessions = os.environ.get("MESSAGING_TICK_THREADS", "2")
    subprocess.run(["smtp-source", "-d", "-s", sessions, "-m", str(count), "-l", str(size),
                    "-f", "bench@bench.example.jp", "-t", "reference@bench.example.jp", args.smtp],
                   check=True, stdout=subprocess.DEVNULL)
    return count / (time.monotonic() - started)


def peak_rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0


def main():
    parser = argparse.ArgumentParser()
    for option in ("url", "token", "mailpit", "smtp", "tag"):
        parser.add_argument("--" + option, required=True)
    parser.add_argument("--mails", type=int, required=True)
    parser.add_argument("--messaging-pid", type=int, required=True)
    args = parser.parse_args()

    call(args, "PATCH", "/v1/messaging/settings", SETTINGS)
    template = call(args, "POST", "/v1/messaging/templates", TEMPLATE)
    segment = call(args, "POST", "/v1/messaging/segments",
                   {"name": "bench", "filter": {"field": "tags", "op": "has", "value": args.tag}})
    campaign = call(args, "POST", "/v1/messaging/campaigns", {
        "name": "bench", "template_id": template["id"], "segment_id": segment["id"]})

    # The size of one mail as the sink gets it: a test send of the same template.
    call(args, "POST", "/v1/messaging/campaigns/%s/test" % campaign["id"], {"to": "size@bench.example.jp"})
    size = len(mailpit(args, "/api/v1/message/latest/raw"))
    have_reference = shutil.which("smtp-source") is not None
    half = args.mails // 2
    rates = [smtp_source(args, half, size)] if have_reference else []

    started = time.monotonic()
    sent = call(args, "POST", "/v1/messaging/campaigns/%s/send" % campaign["id"], {}, timeout=300)
    total = sent["total"]
    while True:
        now = call(args, "GET", "/v1/messaging/campaigns/" + campaign["id"])
        if now["status"] != "sending":
            break
        # Each poll counts the campaign's sent mails (115 ms of PostgreSQL's CPU at 80 000):
        # every 0.2 s took more than half a CPU from a 100 000-mail run. At most 2 % late.
        time.sleep(max(0.2, (time.monotonic() - started) / 50))
    seconds = time.monotonic() - started
    stats = call(args, "GET", "/v1/messaging/campaigns/%s/stats" % campaign["id"])
    rss = peak_rss_mb(args.messaging_pid)

    if have_reference:
        rates.append(smtp_source(args, args.mails - half, size))
    counts = campaign_received(args)
    received = sum(counts.values())
    doubled = sum(1 for n in counts.values() if n > 1)
    reference = mailpit_search(args, "from:bench@bench.example.jp")["messages_count"] if have_reference else 0
    tested = mailpit_search(args, "to:size@bench.example.jp")["messages_count"]
    expected = 1 + total + (args.mails if have_reference else 0)     # the test send, as run.sh says
    exact = (total == args.mails and stats["sent"] == total and len(counts) == total and doubled == 0
             and reference == (args.mails if have_reference else 0) and tested == 1)
    print("CAMPAIGN mails=%d sent=%d seconds=%.2f rate=%.0f size=%d reference=%s exact=%s rss_mb=%.1f"
          " received=%d expected=%d recipients=%d doubled=%d" % (
              total, stats["sent"], seconds, total / seconds, size,
              "%.0f" % (sum(rates) / len(rates)) if rates else "missing", "yes" if exact else "no",
              rss, tested + received + reference, expected, len(counts), doubled))


if __name__ == "__main__":
    main()
