-- 004_alerts.sql - rules on the metrics, and the alerts they raised (README.md, "Alerts").
-- Analytics' own history, as signals: not rebuilt from events.

create table alert_rules (
    rule text primary key,
    enabled boolean not null default true,
    threshold int not null,
    minimum int not null,
    description text not null,
    updated_at_ms bigint not null default 0,
    updated_by text not null default ''
);

insert into alert_rules (rule, threshold, minimum, description) values
    ('inquiries_spike', 200, 5,
     '直近7日間の問い合わせが、その前の4週間の週平均の threshold% を超え、minimum 件以上'),
    ('payment_failures_spike', 200, 3,
     '直近7日間の支払い失敗が、その前の4週間の週平均の threshold% を超え、minimum 件以上'),
    ('plan_churn', 10, 10,
     'プランごとの今月の顧客解約率が threshold% を超えた（月初の契約者が minimum 人以上のプラン）'),
    ('mrr_drop', 10, 0,
     'MRR が30日前より threshold% を超えて減った');

create table alerts (
    id bigint generated always as identity primary key,
    rule text not null references alert_rules (rule),
    subject text not null default '',
    period text not null,
    value bigint not null,
    baseline bigint not null,
    message text not null,
    raised_at_ms bigint not null,
    acknowledged_at_ms bigint not null default 0,
    acknowledged_by text not null default '',
    unique (rule, subject, period)
);
create index alerts_open on alerts (id) where acknowledged_at_ms = 0;
