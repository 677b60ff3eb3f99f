-- seed.sql - :members realistic members for the read benchmark, inserted as the superuser
--   psql -v members=100000 -f bench/seed.sql   (after kaiin-member has run its migrations)
-- Member n gets the id md5('kaiin-bench:' || n)::uuid, so that bench/read.sql can look up a
-- random seeded member by id without a round trip of its own. Emails are unique by n.
-- About 20 % are premium (the search figure filters on status and rank) and 85 % have an
-- address (postal code, prefecture, street), as the export writes them.
\set ON_ERROR_STOP on
select setseed (0.20261125);

with surname (kanji, kana, romaji) as (
    select * from unnest (
        array ['佐藤', '鈴木', '高橋', '田中', '伊藤', '渡辺', '山本', '中村', '小林', '加藤',
               '吉田', '山田', '佐々木', '山口', '松本', '井上', '木村', '林', '斎藤', '清水',
               '山崎', '森', '池田', '橋本', '阿部', '石川', '山下', '中島', '石井', '小川',
               '前田', '岡田', '長谷川', '藤田', '後藤', '近藤', '村上', '遠藤', '青木', '坂本'],
        array ['サトウ', 'スズキ', 'タカハシ', 'タナカ', 'イトウ', 'ワタナベ', 'ヤマモト', 'ナカムラ',
               'コバヤシ', 'カトウ', 'ヨシダ', 'ヤマダ', 'ササキ', 'ヤマグチ', 'マツモト', 'イノウエ',
               'キムラ', 'ハヤシ', 'サイトウ', 'シミズ', 'ヤマザキ', 'モリ', 'イケダ', 'ハシモト',
               'アベ', 'イシカワ', 'ヤマシタ', 'ナカジマ', 'イシイ', 'オガワ', 'マエダ', 'オカダ',
               'ハセガワ', 'フジタ', 'ゴトウ', 'コンドウ', 'ムラカミ', 'エンドウ', 'アオキ', 'サカモト'],
        array ['sato', 'suzuki', 'takahashi', 'tanaka', 'ito', 'watanabe', 'yamamoto', 'nakamura',
               'kobayashi', 'kato', 'yoshida', 'yamada', 'sasaki', 'yamaguchi', 'matsumoto', 'inoue',
               'kimura', 'hayashi', 'saito', 'shimizu', 'yamazaki', 'mori', 'ikeda', 'hashimoto',
               'abe', 'ishikawa', 'yamashita', 'nakajima', 'ishii', 'ogawa', 'maeda', 'okada',
               'hasegawa', 'fujita', 'goto', 'kondo', 'murakami', 'endo', 'aoki', 'sakamoto'])),
given (kanji, kana, romaji) as (
    select * from unnest (
        array ['翔太', '蓮', '大翔', '陽翔', '悠真', '健太', '拓海', '大輔', '誠', '直樹',
               '翼', '和也', '太郎', '隆', '浩二', '陽菜', '結衣', '美咲', 'さくら', '葵',
               '優子', '恵', '彩', '真由美', '愛', '千尋', '由美', '花子', '陽子', '智子'],
        array ['ショウタ', 'レン', 'ヒロト', 'ハルト', 'ユウマ', 'ケンタ', 'タクミ', 'ダイスケ',
               'マコト', 'ナオキ', 'ツバサ', 'カズヤ', 'タロウ', 'タカシ', 'コウジ', 'ヒナ', 'ユイ',
               'ミサキ', 'サクラ', 'アオイ', 'ユウコ', 'メグミ', 'アヤ', 'マユミ', 'アイ', 'チヒロ',
               'ユミ', 'ハナコ', 'ヨウコ', 'トモコ'],
        array ['shota', 'ren', 'hiroto', 'haruto', 'yuma', 'kenta', 'takumi', 'daisuke',
               'makoto', 'naoki', 'tsubasa', 'kazuya', 'taro', 'takashi', 'koji', 'hina', 'yui',
               'misaki', 'sakura', 'aoi', 'yuko', 'megumi', 'aya', 'mayumi', 'ai', 'chihiro',
               'yumi', 'hanako', 'yoko', 'tomoko'])),
s as (select row_number () over () as i, * from surname),
g as (select row_number () over () as i, * from given),
place (prefecture, postal, street) as (
    select * from unnest (
        array ['東京都', '東京都', '神奈川県', '大阪府', '愛知県', '埼玉県', '千葉県', '兵庫県', '北海道', '福岡県'],
        array ['150', '160', '220', '530', '460', '330', '260', '650', '060', '810'],
        array ['渋谷区神南', '新宿区西新宿', '横浜市西区みなとみらい', '大阪市北区梅田', '名古屋市中区栄',
               'さいたま市大宮区桜木町', '千葉市中央区富士見', '神戸市中央区三宮町', '札幌市中央区北一条西',
               '福岡市中央区天神'])),
a as (select row_number () over () as i, * from place),
picks as materialized (
    select n,
           1 + floor (random () * (select count (*) from s))::int as si,
           1 + floor (random () * (select count (*) from g))::int as gi,
           random () as fate,                 -- status, phone, updates
           random () as jitter,
           random () as lot,                  -- rank, address
           1 + floor (random () * (select count (*) from a))::int as ai,
           (array ['example.jp', 'example.co.jp', 'example.ne.jp', 'example.com']) [1 + floor (random () * 4)::int] as domain,
           (array ['090', '080', '070']) [1 + floor (random () * 3)::int] || '-'
               || lpad ((floor (random () * 10000))::int::text, 4, '0') || '-'
               || lpad ((floor (random () * 10000))::int::text, 4, '0') as phone
    from generate_series (1, :members) as n),
rows as (
    select md5 ('kaiin-bench:' || p.n)::uuid as id,
           g.romaji || '.' || s.romaji || p.n || '@' || p.domain as email,
           s.kanji || '　' || g.kanji as name,
           case when p.fate < 0.9 then s.kana || '　' || g.kana else '' end as name_kana,
           case when p.fate < 0.8 then p.phone else '' end as phone,
           case when p.fate < 0.04 then 'withdrawn' when p.fate < 0.30 then 'paid' else 'free' end as status,
           case when p.fate < 0.04 then 3 when p.fate < 0.5 then 2 else 1 end as version,
           -- one sign-up every 15 minutes or so, from April 2023 on
           timestamptz '2023-04-01 09:00:00+09' + p.n * interval '15 minutes'
               + p.jitter * interval '14 minutes' as created_at,
           case when p.lot < 0.2 then 'premium' else 'basic' end as rank,
           case when p.lot < 0.85 then a.postal || '-' || lpad ((p.n % 10000)::text, 4, '0') else '' end as postal_code,
           case when p.lot < 0.85 then a.prefecture else '' end as prefecture,
           case when p.lot < 0.85 then a.street || (1 + p.n % 5) || '-' || (1 + p.n % 17) || '-'
                                       || (1 + p.n % 23) else '' end as address,
           p.fate
    from picks p join s on s.i = p.si join g on g.i = p.gi join a on a.i = p.ai)
insert into member.members (id, email, name, name_kana, phone, status, version, created_at,
                            updated_at, withdrawn_at, withdrawn_reason, rank, postal_code,
                            prefecture, address)
select id, email, name, name_kana, phone, status, version, created_at,
       case when version = 1 then created_at
            else least (created_at + (fate * 200) * interval '1 day', now ()) end,
       case when status = 'withdrawn' then least (created_at + (fate * 200) * interval '1 day', now ()) end,
       case when status = 'withdrawn' then
           (array ['引っ越しのため', '料金が高い', '利用する時間がない', null]) [1 + floor (fate * 100)::int % 4] end,
       rank, postal_code, prefecture, address
from rows
order by created_at;

vacuum analyze member.members;
