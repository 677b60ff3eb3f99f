#!/usr/bin/env python3
"""demo.py - fills a running Kaiin (make run in test mode) with the history of a Japanese online
school, through the public HTTP API and the test clock only.

Plans (ベーシック月額 ¥1,100, スタンダード月額 ¥3,300 with a 14-day trial, プレミアム年額 ¥33,000,
prices including 10 % tax), members with Japanese names, readings, phones, prefectures and
(most of them) marketing consent, signing up over the months; their logins and page views,
subscriptions, upgrades and downgrades, one-off purchases (some members reach their 10th),
cards that start to decline (some members fix them, the others end in dunning), cancellations
with reasons, come-backs and inquiries. The test clock moves forward from where it stands, a
week at a time and then a day at a time over the last 45 days, so the history ends `months`
months later, and analytics' metrics, scores and the console's dashboard show what happened.

As a module (tests/test_demo.py uses it; the bench can):

    import demo
    client = demo.Client("http://localhost:8080", token)
    summary = demo.generate(client, months=3, members=30, seed=1)

generate() returns its own record of what it did (see Summary). Python 3 standard library only.
"""

import argparse
import datetime
import heapq
import json
import math
import os
import random
import sys
import time
import urllib.error
import urllib.request

DAY_MS = 24 * 3600 * 1000
JST = datetime.timezone(datetime.timedelta(hours=9))
EMAIL = "demo-%d@example.com"
PASSWORD = "demo-password-%d-kaiin"

# code, name, amount (tax included), interval, trial days, rank, MRR excluding tax
PLANS = [
    ("demo-basic-monthly", "ベーシック月額", 1100, "month", 0, "demo_basic", 1000),
    ("demo-standard-monthly", "スタンダード月額", 3300, "month", 14, "demo_standard", 3000),
    ("demo-premium-yearly", "プレミアム年額", 33000, "year", 0, "demo_premium", 2500),
]
RANKS = [("demo_basic", "ベーシック"), ("demo_standard", "スタンダード"), ("demo_premium", "プレミアム")]
TAGS = ["ビジネス日本語", "英会話", "プログラミング", "資格対策", "キャンペーン経由"]
REASONS = [("too_expensive", 34), ("unused", 30), ("missing_features", 15),
           ("switched_service", 13), ("other", 8)]
COMMENTS = {"too_expensive": "料金が予算に合わなくなりました", "unused": "忙しくて受講できていません",
            "missing_features": "上級者向けの講座が欲しかったです", "switched_service": "別のスクールに移ります",
            "other": "転勤のため"}
ITEMS = [("demo-video-biz", "動画講座「ビジネスメールの書き方」", 4980), ("demo-pdf-kanji", "教材PDF「常用漢字ドリル」", 1650),
         ("demo-live-toeic", "ライブ講座「TOEIC 600点突破」", 8800), ("demo-book-python", "テキスト「はじめてのPython」", 2750),
         ("demo-mock-exam", "模擬試験チケット", 3300), ("demo-coaching", "個別コーチング30分", 5500)]
COURSES = ["/courses/biz-japanese", "/courses/english", "/courses/python", "/courses/toeic",
           "/courses/bookkeeping", "/lessons/live", "/mypage"]
INQUIRIES = [("ログインできません", "パスワードを忘れてしまいました。", "account"),
             ("請求について", "今月の請求額が思っていたより高いようです。", "billing"),
             ("動画が再生されません", "スマートフォンで講座の動画が止まります。", "technical"),
             ("プラン変更の相談", "スタンダードに変えると何が増えますか。", "billing"),
             ("領収書の発行", "会社に出す領収書をお願いします。", "billing")]
FAMILY = [("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("田中", "タナカ"), ("伊藤", "イトウ"),
          ("渡辺", "ワタナベ"), ("山本", "ヤマモト"), ("中村", "ナカムラ"), ("小林", "コバヤシ"), ("加藤", "カトウ"),
          ("吉田", "ヨシダ"), ("山田", "ヤマダ"), ("佐々木", "ササキ"), ("山口", "ヤマグチ"), ("松本", "マツモト"),
          ("井上", "イノウエ"), ("木村", "キムラ"), ("林", "ハヤシ"), ("清水", "シミズ"), ("森", "モリ")]
GIVEN = [("翔太", "ショウタ"), ("大輝", "ダイキ"), ("健太", "ケンタ"), ("拓也", "タクヤ"), ("一郎", "イチロウ"),
         ("蓮", "レン"), ("悠真", "ユウマ"), ("直樹", "ナオキ"), ("花子", "ハナコ"), ("美咲", "ミサキ"),
         ("陽菜", "ヒナ"), ("結衣", "ユイ"), ("恵子", "ケイコ"), ("真由美", "マユミ"), ("彩", "アヤ"),
         ("さくら", "サクラ"), ("優子", "ユウコ"), ("葵", "アオイ")]
PREFECTURES = [("東京都", 30), ("神奈川県", 12), ("大阪府", 10), ("愛知県", 8), ("埼玉県", 7), ("千葉県", 6),
               ("兵庫県", 5), ("福岡県", 5), ("北海道", 4), ("京都府", 3), ("静岡県", 3), ("広島県", 2),
               ("宮城県", 2), ("沖縄県", 1)]


class ApiError(Exception):
    def __init__(self, method, path, status, body):
        Exception.__init__(self, "%s %s: %s %s" % (method, path, status, body[:500]))
        self.status = status
        self.body = body


class Client:
    """HTTP/JSON to Kaiin's gateway with a bearer token (urllib only)."""

    def __init__(self, base_url, token, timeout=60.0):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def call(self, method, path, body=None, headers=None, expect=(200, 201, 204), timeout=None,
             auth=True):
        """Returns (status, JSON body or None); raises ApiError for a status not in expect."""
        h = {"Accept": "application/json"}
        if auth:
            h["Authorization"] = "Bearer " + self.token
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        request = urllib.request.Request(self.base_url + path, data=data, headers=h, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        text = raw.decode("utf-8", "replace")
        if status not in expect:
            raise ApiError(method, path, status, text)
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, None

    def get(self, path, **kw):
        return self.call("GET", path, **kw)[1]

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)[1]


def rfc3339(ms):
    d = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def parse_ms(text):
    return int(round(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000))


def clock_now(client):
    body = client.get("/v1/test/clock", expect=(200,))
    return parse_ms(body["now"])


def clock_to(client, ms):
    """Moves the test clock to ms; returns once every service has done the work due by then."""
    for attempt in range(4):
        try:
            return client.post("/v1/test/clock", {"to": rfc3339(ms)}, timeout=900.0)
        except ApiError as e:
            # a service busy catching up may be counted as gone (503): the move is safe to ask again
            if e.status == 400 and attempt and clock_now(client) >= ms:
                return None
            if e.status not in (503, 504) or attempt == 3:
                raise
            time.sleep(1.0)


def weighted(rng, pairs):
    total = sum(w for _, w in pairs)
    x = rng.uniform(0, total)
    for value, w in pairs:
        x -= w
        if x <= 0:
            return value
    return pairs[-1][0]


class Summary(dict):
    """What generate() did, by its own count: members, subscriptions started, cancelled by the
    member (by reason), plan changes, purchases paid and failed (per member), declined cards and
    those put right, the subscriptions dunning cancelled (billing's final_action "cancel"),
    logins, inquiries, and the subscriptions it left paying at the end (active or past_due, not
    in a trial) with their MRR. And how well analytics' churn-risk score foretold the
    cancellations: churn_auc (None when there was nothing to rank), over auc_positives
    readings of a member who cancelled within 30 days and auc_negatives of one who did not."""


def auc(positives, negatives):
    """The area under the ROC curve of scores: the chance that a positive's score is above a
    negative's, a tie counting half (Mann-Whitney). None when either list is empty."""
    if not positives or not negatives:
        return None
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


class Sub:
    def __init__(self, sid, plan, start_ms, trial_end_ms, period_end_ms):
        self.id = sid
        self.plan = plan
        self.start_ms = start_ms
        self.trial_end_ms = trial_end_ms
        self.period_end_ms = period_end_ms
        self.end_ms = None          # when it stops being paying (cancel now, period end, dunning)
        self.ending = False         # a cancellation or a lost card decided its end


class Person:
    def __init__(self, n):
        self.n = n
        self.id = None
        self.email = EMAIL % n
        self.card = None
        self.sub = None
        self.subs = []
        self.bad_card = False
        self.purchases = 0
        self.logins_until_ms = None     # stops logging in after this (a member drifting away)


class Generator:
    def __init__(self, client, months, members, seed, log, step_days=7, daily_days=45):
        self.c = client
        self.step_days = step_days
        self.daily_days = daily_days
        self.rng = random.Random(seed)
        self.months = months
        self.members = members
        self.log = log
        self.queue = []
        self.seq = 0
        self.people = []
        self.plans = {}
        self.readings = []          # (time, member id, churn-risk score) of the paying members
        self.churned = []           # (time, member id): a cancellation asked, or dunning's end
        self.s = Summary(members=0, subscriptions_started=0, cancellations=0, cancel_reasons={},
                         plan_changes=0, upgrades=0, downgrades=0, purchases=0, purchases_failed=0,
                         purchases_by_member={}, declined_cards=0, cards_fixed=0, logins=0,
                         activities=0, inquiries=0, dunning_cancellations=0, reactivations=0, trials=0, paying_subscriptions=0,
                         mrr=0, member_ids=[], start=None, end=None, churn_auc=None,
                         auc_positives=0, auc_negatives=0)

    # ------------------------------------------------------------------ set-up
    def setup(self):
        for code, label in RANKS:
            self.c.call("POST", "/v1/member-ranks", {"code": code, "label": label}, expect=(201, 409))
        existing = {}
        cursor = None
        while True:
            page = self.c.get("/v1/plans?limit=100" + ("&cursor=" + cursor if cursor else ""))
            existing.update({p["code"]: p for p in page["data"]})
            cursor = page.get("next_cursor")
            if not cursor:
                break
        self.final_action = self.c.get("/v1/billing/settings")["final_action"]
        for code, name, amount, interval, trial, rank, mrr in PLANS:
            plan = existing.get(code) or self.c.post("/v1/plans", {
                "code": code, "name": name, "amount": amount, "currency": "JPY", "tax_mode": "inclusive",
                "tax_rate": 10, "interval": interval, "interval_count": 1, "trial_days": trial,
                "rank": rank}, expect=(201,))
            self.plans[code] = dict(plan, mrr=mrr, trial=trial)

    def already_there(self):
        page = self.c.get("/v1/members?email=" + EMAIL % 1)
        return bool(page["data"])

    # ------------------------------------------------------------------ the queue of things to do
    def at(self, ms, what, person, *args):
        if ms < self.end:
            self.seq += 1
            heapq.heappush(self.queue, (ms, self.seq, what, person, args))

    def plan_story(self):
        """Decides who signs up when (more each month, a launch wave first) and what they are."""
        span = self.end - self.start
        for n in range(1, self.members + 1):
            p = Person(n)
            self.people.append(p)
            if n <= max(1, self.members // 8):
                t = self.start + self.rng.randint(0, min(span // 2, 20 * DAY_MS))
            else:
                t = self.start + int(span * (self.rng.random() ** 0.8) * 0.97)
            p.persona = "buyer" if n == 1 else weighted(self.rng, [("subscriber", 62), ("buyer", 18),
                                                                   ("browser", 20)])
            self.at(t, "signup", p)

    # ------------------------------------------------------------------ actions
    def signup(self, p, now):
        family, family_kana = self.rng.choice(FAMILY)
        given, given_kana = self.rng.choice(GIVEN)
        body = {"email": p.email, "name": "%s %s" % (family, given),
                "name_kana": "%s %s" % (family_kana, given_kana),
                "phone": "0%d0-%04d-%04d" % (self.rng.choice((7, 8, 9)), self.rng.randint(0, 9999),
                                             self.rng.randint(0, 9999)),
                "prefecture": weighted(self.rng, PREFECTURES),
                "birthday": "%04d-%02d-%02d" % (self.rng.randint(1960, 2004), self.rng.randint(1, 12),
                                                self.rng.randint(1, 28))}
        if self.rng.random() < 0.8:
            body["marketing_consent"] = {"email_opt_in": True, "method": "web_form", "source": "会員登録フォーム"}
        m = self.c.post("/v1/members", body, expect=(201,))
        p.id = m["id"]
        self.s["members"] += 1
        self.s["member_ids"].append(p.id)
        self.c.call("POST", "/v1/members/%s/password" % p.id, {"password": PASSWORD % p.n}, expect=(204,))
        if self.rng.random() < 0.5:
            self.c.call("POST", "/v1/members/%s/tags" % p.id, {"add": [self.rng.choice(TAGS)]},
                        expect=(200, 201, 204))
        self.login(p, now)
        if p.persona == "subscriber":
            self.at(now + self.rng.randint(0, 10) * DAY_MS + 3600000, "subscribe", p)
        elif p.persona == "buyer":
            self.at(now + self.rng.randint(0, 5) * DAY_MS + 3600000, "purchase", p)
        if self.rng.random() < 0.12:
            self.at(now + self.rng.randint(2, 60) * DAY_MS, "inquiry", p)
        self.at(now + self.rng.randint(3, 12) * DAY_MS, "visit", p)

    def login(self, p, now):
        if p.logins_until_ms is not None and now > p.logins_until_ms:
            return
        self.c.call("POST", "/v1/member-auth/login", {"email": p.email, "password": PASSWORD % p.n},
                    expect=(200,), auth=False)
        self.s["logins"] += 1
        events = [{"type": "page.view", "path": self.rng.choice(COURSES)}
                  for _ in range(self.rng.randint(1, 4))]
        self.c.post("/v1/members/%s/activities" % p.id, {"events": events}, expect=(200, 201))
        self.s["activities"] += len(events)

    def visit(self, p, now):
        """A login, and the next one: every week or two near the end, about monthly before (a
        login costs a password hash); a member drifting away stops."""
        if p.logins_until_ms is not None and now > p.logins_until_ms:
            return
        self.login(p, now)
        recent = self.end - now < min(45 * DAY_MS, (self.end - self.start) // 4)
        gap = self.rng.randint(4, 12) if recent else self.rng.randint(25, 50)
        if p.persona == "browser" and self.rng.random() < 0.3:
            p.logins_until_ms = now             # lost interest
        self.at(now + gap * DAY_MS, "visit", p)

    def card(self, p, token=None):
        token = token or self.rng.choice(("tok_visa", "tok_visa", "tok_mastercard", "tok_jcb"))
        self.c.post("/v1/members/%s/payment-methods" % p.id,
                    {"type": "card", "token": token, "set_default": True}, expect=(201,))
        p.card = token

    def subscribe(self, p, now):
        if p.sub is not None:
            return
        if p.card is None:
            self.card(p)
        code = weighted(self.rng, [("demo-basic-monthly", 50), ("demo-standard-monthly", 35),
                                   ("demo-premium-yearly", 15)])
        if self.plans[code]["trial"] and now + (self.plans[code]["trial"] + 2) * DAY_MS > self.end:
            code = "demo-basic-monthly"     # a trial would end with the history: not told apart
        plan = self.plans[code]
        sub = self.c.post("/v1/subscriptions", {"member_id": p.id, "plan": code},
                          headers={"Idempotency-Key": "demo-%d-sub-%d" % (p.n, len(p.subs))}, expect=(201,))
        trial_end = parse_ms(sub["trial_end"]) if sub.get("trial_end") else now
        s = Sub(sub["id"], code, now, trial_end, parse_ms(sub["current_period_end"]))
        p.sub = s
        p.subs.append(s)
        if len(p.subs) > 1:
            self.s["reactivations"] += 1
        self.s["subscriptions_started"] += 1
        if plan["trial"]:
            self.s["trials"] += 1
        # the member's future: a plan change, a card that starts to decline, a cancellation
        # a quarter try it and leave within weeks; the others stay a year or two on average
        if self.rng.random() < 0.25:
            life_days = self.rng.randint(15, 75)
        else:
            mean = 900 if code == "demo-premium-yearly" else 600
            life_days = int(-mean * math.log(1 - self.rng.random() * 0.999))
        first = max(trial_end, now) + DAY_MS
        if plan["trial"] and self.rng.random() < 0.25:     # a trial ended before paying
            self.at(now + self.rng.randint(2, plan["trial"] // 2) * DAY_MS, "cancel", p, s, True)
            return
        roll = self.rng.random()
        k = self.s["subscriptions_started"]     # the 2nd and 3rd early, so a short history has both
        if (roll < 0.14 or k == 2) and code != "demo-premium-yearly":
            self.at(first + self.rng.randint(1, 20 if roll < 0.07 or k == 2 else 90) * DAY_MS, "decline", p, s,
                    False if k == 2 else None)      # the 2nd never puts it right
        elif roll < 0.35 or k == 3:
            self.at(first + self.rng.randint(10, 40 if k == 3 else 150) * DAY_MS, "change", p, s)
        leave = first + (life_days + 3) * DAY_MS
        self.at(leave, "cancel", p, s)
        # what comes before leaving, as analytics' score reads it: most stop logging in weeks
        # before, some ask support first
        if self.rng.random() < 0.7:
            self.at(leave - self.rng.randint(10, 35) * DAY_MS, "drift", p, s)
        if self.rng.random() < 0.3:
            self.at(leave - self.rng.randint(3, 25) * DAY_MS, "inquiry", p)
        if p.persona == "buyer" or self.rng.random() < 0.25:
            self.at(now + self.rng.randint(3, 40) * DAY_MS, "purchase", p)

    def change(self, p, now, s):
        if p.sub is not s or s.ending or p.bad_card or now < s.trial_end_ms:
            return
        moves = {"demo-basic-monthly": [("demo-standard-monthly", 70), ("demo-premium-yearly", 30)],
                 "demo-standard-monthly": [("demo-basic-monthly", 60), ("demo-premium-yearly", 40)],
                 "demo-premium-yearly": [("demo-standard-monthly", 100)]}
        to = weighted(self.rng, moves[s.plan])
        if to == "demo-standard-monthly" and s.plan == "demo-premium-yearly" and now < s.period_end_ms - 60 * DAY_MS:
            return                      # a yearly member changes near the year's end only
        status, body = self.c.call("POST", "/v1/subscriptions/%s/change-plan" % s.id, {"plan": to},
                                   expect=(200, 402, 409))
        if status != 200:
            return
        up = self.plans[to]["mrr"] > self.plans[s.plan]["mrr"]
        s.plan = to
        s.period_end_ms = parse_ms(body["current_period_end"])
        self.s["plan_changes"] += 1
        self.s["upgrades" if up else "downgrades"] += 1

    def decline(self, p, now, s, fix=None):
        """The member's card starts to decline (expired, limit reached): the next renewal fails;
        half of them put a new card in a few days later, the others end in dunning."""
        if p.sub is not s or s.ending or now < s.trial_end_ms:
            return
        body = self.c.get("/v1/subscriptions/" + s.id)
        s.period_end_ms = parse_ms(body["current_period_end"])
        if s.period_end_ms + (14 + 3 * self.step_days) * DAY_MS > self.end:
            return                      # dunning (+1, +3, +7 days) would not be over by the end
        self.card(p, self.rng.choice(("tok_chargeDeclined", "tok_insufficientFunds")))
        p.bad_card = True
        self.s["declined_cards"] += 1
        if self.rng.random() < 0.5 if fix is None else fix:
            # the clock stops on its day (run()): after the failed renewal, before the last retry
            self.at(s.period_end_ms + self.rng.randint(0, 1) * DAY_MS + 3600000, "fix", p, s)
        else:
            s.ending = True
            s.end_ms = s.period_end_ms + 20 * DAY_MS       # past every retry: canceled or unpaid
            self.churned.append((s.end_ms, p.id))
            if self.final_action == "cancel":
                self.s["dunning_cancellations"] += 1        # its reason: payment_failed
            p.logins_until_ms = s.period_end_ms

    def drift(self, p, now, s):
        if p.sub is s and not s.ending and p.logins_until_ms is None:
            p.logins_until_ms = now

    def fix(self, p, now, s):
        self.card(p)
        p.bad_card = False
        self.s["cards_fixed"] += 1

    def cancel(self, p, now, s, in_trial=False):
        if p.sub is not s or s.ending or p.bad_card or (now < s.trial_end_ms + DAY_MS) != in_trial:
            return
        reason = weighted(self.rng, REASONS)
        at_end = self.rng.random() < 0.6 and not in_trial
        body = self.c.post("/v1/subscriptions/%s/cancel" % s.id,
                           {"at_period_end": at_end, "reason": reason, "comment": COMMENTS[reason]},
                           expect=(200,))
        s.ending = True
        s.end_ms = parse_ms(body["current_period_end"]) if at_end else now
        if not in_trial:
            self.churned.append((now, p.id))
        self.s["cancellations"] += 1
        self.s["cancel_reasons"][reason] = self.s["cancel_reasons"].get(reason, 0) + 1
        p.logins_until_ms = now if self.rng.random() < 0.7 else None
        if self.rng.random() < 0.12:        # comes back a few months later
            self.at(max(s.end_ms, now) + self.rng.randint(30, 120) * DAY_MS, "comeback", p, s)

    def comeback(self, p, now, s):
        if p.sub is s and s.end_ms is not None and now >= s.end_ms:
            p.sub = None
            p.logins_until_ms = None
            self.login(p, now)
            self.subscribe(p, now)

    def purchase(self, p, now):
        if p.card is None:
            self.card(p)
        sku, description, amount = self.rng.choice(ITEMS)
        status, body = self.c.call("POST", "/v1/purchases", {
            "member_id": p.id, "items": [{"sku": sku, "description": description, "quantity": 1,
                                          "unit_amount": amount, "tax_rate": 10}]},
            headers={"Idempotency-Key": "demo-%d-purchase-%d" % (p.n, self.s["purchases"] + self.s["purchases_failed"])},
            expect=(201, 402, 409, 422))
        if status == 201 and body.get("status") == "paid":
            p.purchases += 1
            self.s["purchases"] += 1
            self.s["purchases_by_member"][p.id] = p.purchases
        else:
            self.s["purchases_failed"] += 1
        heavy = (p.n == 1 or (p.persona == "buyer" and p.n % 4 == 0)) and p.purchases < 12 + p.n % 7
        gap = self.rng.randint(3, 6) if heavy else self.rng.randint(20, 90)
        if p.persona == "buyer" or self.rng.random() < 0.5:
            self.at(now + gap * DAY_MS, "purchase", p)

    def inquiry(self, p, now):
        subject, text, category = self.rng.choice(INQUIRIES)
        iq = self.c.post("/v1/members/%s/inquiries" % p.id,
                         {"subject": subject, "body": text, "channel": self.rng.choice(("email", "phone")),
                          "category": category}, expect=(201,))
        self.s["inquiries"] += 1
        if self.rng.random() < 0.7:
            self.c.post("/v1/inquiries/%s/messages" % iq["id"],
                        {"body": "ご連絡ありがとうございます。確認してご案内いたします。", "status": "pending"},
                        expect=(200, 201))

    # ------------------------------------------------------------------ the run
    def run(self):
        self.setup()
        self.start = clock_now(self.c)
        days = self.months * 365 // 12
        # The clock stops half a day after the last step: renewals, retries and trial ends all
        # fall at the time of day of a step, so none is due within seconds of the end.
        self.end = self.start + days * DAY_MS + DAY_MS // 2
        self.s["start"], self.s["end"] = rfc3339(self.start), rfc3339(self.end)
        self.plan_story()
        t0 = time.monotonic()
        month = None
        # A step of step_days, of 1 day in the last daily_days (what the dashboard's "now" reads).
        recent = self.end - min(self.daily_days, days // 3) * DAY_MS
        self.now = self.start
        while self.now < self.end:
            step = 1 if self.now + self.step_days * DAY_MS > recent else self.step_days
            # a card put right stops the clock on its day: before the last retry of the renewal
            fixes = [ms for ms, _, what, _, _ in self.queue if what == "fix"]
            if fixes:
                step = max(1, min(step, -(-(min(fixes) - self.now) // DAY_MS)))
            self.now = min(self.now + step * DAY_MS, self.end)
            clock_to(self.c, self.now)
            while self.queue and self.queue[0][0] <= self.now and self.now < self.end:
                _, _, what, p, args = heapq.heappop(self.queue)
                getattr(self, what)(p, self.now, *args)
            label = datetime.datetime.fromtimestamp(self.now / 1000, JST).strftime("%Y-%m")
            if label != month or self.now == self.end:
                if month is not None:
                    self.read_scores()
                month = label
                self.log("%s  members %d, subscriptions %d (cancelled %d, plan changes %d), "
                         "purchases %d, declined cards %d, logins %d  [%.0f s]"
                         % (label, self.s["members"], self.s["subscriptions_started"],
                            self.s["cancellations"], self.s["plan_changes"], self.s["purchases"],
                            self.s["declined_cards"], self.s["logins"], time.monotonic() - t0))
        paying = [s for p in self.people for s in p.subs
                  if s.trial_end_ms <= self.end and (s.end_ms is None or s.end_ms > self.end)]
        self.s["paying_subscriptions"] = len(paying)
        self.s["mrr"] = sum(self.plans[s.plan]["mrr"] for s in paying)
        self.rank_scores()
        return self.s

    def read_scores(self):
        """Once a month: analytics' churn-risk score of every member paying and not leaving."""
        for p in self.people:
            s = p.sub
            if s is not None and not s.ending and s.end_ms is None and self.now >= s.trial_end_ms:
                score = self.c.get("/v1/members/%s/churn-risk" % p.id)["score"]
                self.readings.append((self.now, p.id, score))

    def rank_scores(self):
        """A reading is positive when its member cancelled (or dunning ended them) within the 30
        days after it; readings whose 30 days run past the end are left out (not yet told)."""
        positives, negatives = [], []
        for at, member, score in self.readings:
            if at + 30 * DAY_MS > self.end:
                continue
            left = any(member == m and at < when <= at + 30 * DAY_MS for when, m in self.churned)
            (positives if left else negatives).append(score)
        self.s["churn_auc"] = auc(positives, negatives)
        self.s["auc_positives"], self.s["auc_negatives"] = len(positives), len(negatives)


def generate(client, months=24, members=200, seed=1, log=None, step_days=7, daily_days=45):
    """Makes the history (see the module's doc) and returns its Summary; log(line) hears of each
    month. The clock moves step_days at a time, a day at a time over the last daily_days.
    Refuses (RuntimeError) when the demo members are already there: the clock only goes forward."""
    g = Generator(client, months, members, seed, log or (lambda line: None), step_days, daily_days)
    if g.already_there():
        raise RuntimeError("the demo data is already there (%s exists); start from an empty Kaiin "
                           "for another history" % (EMAIL % 1))
    return g.run()


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Fill a running Kaiin (make run in test mode: KAIIN_TEST_MODE=1 make run) with the "
                    "history of a Japanese online school, through the HTTP API and the test clock. "
                    "The clock moves forward a day at a time, so the history ends --months later "
                    "than the clock stood.",
        epilog="A second run finds the demo members (demo-1@example.com) already there and stops "
               "without writing anything (exit 0): the test clock cannot go back. For another "
               "history, stop make run, remove var/ and start again.")
    ap.add_argument("--months", type=int, default=24, help="months of history (default 24)")
    ap.add_argument("--members", type=int, default=200, help="members who sign up (default 200)")
    ap.add_argument("--seed", type=int, default=1, help="random seed: the same seed, the same story")
    port = os.environ.get("KAIIN_HTTP_PORT", "8080")
    ap.add_argument("--url", default=os.environ.get("API", "http://localhost:" + port),
                    help="the gateway (default $API, else http://localhost:$KAIIN_HTTP_PORT or 8080)")
    ap.add_argument("--token-file", default=os.path.join(os.environ.get("KAIIN_VAR_DIR", "var"), "admin-token"),
                    help="the owner's bearer token (default var/admin-token, the bootstrap token "
                         "make run writes, under $KAIIN_VAR_DIR if set; $KAIIN_TOKEN wins)")
    args = ap.parse_args(argv)
    if args.months < 1 or args.members < 1:
        ap.error("--months and --members must be at least 1")
    token = os.environ.get("KAIIN_TOKEN")
    if not token:
        try:
            with open(args.token_file) as f:
                token = f.read().strip()
        except OSError as e:
            print("demo: cannot read the token (%s); is make run running?" % e, file=sys.stderr)
            return 1
    client = Client(args.url, token)
    try:
        client.get("/v1/test/clock")
    except ApiError as e:
        print("demo: %s answers %s to /v1/test/clock: start Kaiin in test mode "
              "(KAIIN_TEST_MODE=1 make run)" % (args.url, e.status), file=sys.stderr)
        return 1
    except OSError as e:
        print("demo: cannot reach %s (%s): is make run running?" % (args.url, e), file=sys.stderr)
        return 1
    t0 = time.monotonic()
    try:
        s = generate(client, args.months, args.members, args.seed, log=print)
    except RuntimeError as e:
        print("demo: " + str(e))
        return 0
    print("made %d members, %d subscriptions (%d cancelled, %d plan changes), %d purchases "
          "(%d failed), %d declined cards (%d put right), %d inquiries, %d logins in %.0f s"
          % (s["members"], s["subscriptions_started"], s["cancellations"], s["plan_changes"],
             s["purchases"], s["purchases_failed"], s["declined_cards"], s["cards_fixed"],
             s["inquiries"], s["logins"], time.monotonic() - t0))
    for _ in range(100):            # analytics reads the events on its own: wait for it to agree
        m = client.get("/v1/metrics/subscriptions")["months"][-1]
        if m["subscribers"] == s["paying_subscriptions"] and m["mrr"] == s["mrr"]:
            break
        time.sleep(0.2)
    print("now %s: %d subscribers, MRR ¥%s, ARR ¥%s (GET /v1/metrics/subscriptions)"
          % (m["month"], m["subscribers"], format(m["mrr"], ","), format(m["arr"], ",")))
    if s["churn_auc"] is not None:
        print("the churn-risk score ranked who cancelled within 30 days with an AUC of %.3f "
              "(%d readings of members who did, %d of members who did not; monthly)"
              % (s["churn_auc"], s["auc_positives"], s["auc_negatives"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
