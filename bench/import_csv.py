"""import_csv.py - writes the import figure's file: ROWS members as Excel saves a Japanese
customer list, Shift_JIS (CP932) with CRLF line ends, the columns
氏名,フリガナ,メールアドレス,電話番号,郵便番号,都道府県,住所,タグ,メール配信.
    import_csv.py FILE [ROWS] [EMAIL_PREFIX]      (ROWS 50000; run by bench/run.sh)
Names and readings come from bench/search.py's lists, plus a few spelt with CP932-only
characters (髙, 﨑); emails are unique (EMAIL_PREFIX, then the row number) and do not collide
with bench/seed.sql's; about a third of the rows carry tags, a few quoted (a comma inside)."""

import csv
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from search import GIVEN, SURNAMES  # noqa: E402

# The same family names as Excel lists often write them, with the IBM extension characters
# that only CP932 (not JIS X 0208 Shift_JIS) encodes.
SURNAMES_CP932 = [("髙橋", "タカハシ"), ("山﨑", "ヤマザキ"), ("髙木", "タカギ"), ("宮﨑", "ミヤザキ")]

PLACES = [("東京都", "150", "渋谷区神南"), ("東京都", "160", "新宿区西新宿"), ("東京都", "113", "文京区本郷"),
          ("神奈川県", "220", "横浜市西区みなとみらい"), ("大阪府", "530", "大阪市北区梅田"),
          ("愛知県", "460", "名古屋市中区栄"), ("埼玉県", "330", "さいたま市大宮区桜木町"),
          ("千葉県", "260", "千葉市中央区富士見"), ("兵庫県", "650", "神戸市中央区三宮町"),
          ("北海道", "060", "札幌市中央区北一条西"), ("福岡県", "810", "福岡市中央区天神"),
          ("京都府", "604", "京都市中京区河原町通"), ("宮城県", "980", "仙台市青葉区一番町")]
BUILDINGS = ["", "", "", "", "サンハイツ", "メゾン・ド・ソレイユ", "グランドパレス", "コーポ山田", "第２ビル"]
TAGS = ["VIP", "メルマガ", "店舗A", "店舗B", "イベント参加", "紹介", "法人", "休眠"]
DOMAINS = ["example.net", "example.org", "mail.example.jp", "example.ad.jp"]
HEADER = ["氏名", "フリガナ", "メールアドレス", "電話番号", "郵便番号", "都道府県", "住所", "タグ", "メール配信"]


def rows(count, prefix):
    rng = random.Random(20261125)
    for n in range(1, count + 1):
        (sn, sk) = rng.choice(SURNAMES_CP932) if rng.random() < 0.03 else rng.choice(SURNAMES)
        (gn, gk) = rng.choice(GIVEN)
        fate = rng.random()
        if fate < 0.75:
            phone = "0%d0-%04d-%04d" % (rng.choice((7, 8, 9)), rng.randrange(10000), rng.randrange(10000))
        elif fate < 0.9:
            phone = "0%d-%04d-%04d" % (rng.choice((3, 6)), rng.randrange(10000), rng.randrange(10000))
        else:
            phone = ""
        prefecture, postal, street = rng.choice(PLACES)
        building = rng.choice(BUILDINGS)
        address = "%s%d-%d-%d" % (street, rng.randint(1, 5), rng.randint(1, 20), rng.randint(1, 30))
        if building:
            address += "　%s%d" % (building, rng.randint(101, 905))
        tags = ""
        if rng.random() < 0.35:
            picked = rng.sample(TAGS, rng.choice((1, 1, 2)))
            tags = rng.choice((",", "、", ";")).join(picked)     # a comma makes Excel quote the cell
        opt_in = rng.choice(("はい", "はい", "いいえ", ""))
        yield ["%s　%s" % (sn, gn), "%s　%s" % (sk, gk) if fate < 0.95 else "",
               "%s%06d@%s" % (prefix, n, rng.choice(DOMAINS)), phone,
               "%s-%04d" % (postal, rng.randrange(10000)) if fate < 0.97 else "",
               prefecture, address, tags, opt_in]


def main():
    if not 2 <= len(sys.argv) <= 4:
        sys.exit("usage: import_csv.py FILE [ROWS] [EMAIL_PREFIX]")
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 50000
    prefix = sys.argv[3] if len(sys.argv) > 3 else "import"
    with open(sys.argv[1], "w", encoding="cp932", newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow(HEADER)
        writer.writerows(rows(count, prefix))


if __name__ == "__main__":
    main()
