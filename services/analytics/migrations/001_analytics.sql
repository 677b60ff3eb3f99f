-- 001_analytics.sql - what analytics keeps. The projections (members .. movements) are built
-- from member's and billing's events alone, so wiping them with consumer_positions rebuilds
-- them identically from sequence 0. signals and risk_state are analytics' own facts (its
-- outbox's history): a rebuild keeps them, so no signal is raised twice.

-- One row per member, from member.* events.
create table members (
    member_id text primary key,
    registered_at_ms bigint not null,
    last_login_at_ms bigint not null default 0,     -- 0: never
    status text not null default 'free',            -- free | paid | withdrawn
    rank text not null default ''
);
create index members_registered on members (registered_at_ms);

-- The member-360 timeline: one row per event that concerns a member.
create table timeline (
    source text not null,
    seq bigint not null,
    member_id text not null,
    occurred_at_ms bigint not null,
    type text not null,
    object_id text not null,
    summary text not null,
    primary key (source, seq)
);
create index timeline_member on timeline (member_id, occurred_at_ms desc, source desc, seq desc);

-- Open inquiries and failed payments, for the churn-risk score.
create table inquiries (
    inquiry_id text primary key,
    member_id text not null,
    open boolean not null,
    opened_at_ms bigint not null
);
create index inquiries_member on inquiries (member_id) where open;

create table payment_failures (
    payment_id text primary key,
    member_id text not null,
    failed_at_ms bigint not null
);
create index payment_failures_member on payment_failures (member_id, failed_at_ms);

-- Billing's plans and coupons as billing answered them (prices never change once created).
create table plans (
    plan_id text primary key,
    code text not null,
    amount bigint not null,
    tax_mode text not null,
    tax_rate int not null,
    interval text not null,
    interval_count int not null
);

create table coupons (
    code text primary key,
    percent_off int not null,
    amount_off bigint not null,
    duration text not null,
    duration_in_months int not null
);

-- Each subscription's current MRR (yen, monthly, excluding tax, after discounts).
create table subscriptions (
    subscription_id text primary key,
    member_id text not null,
    plan_code text not null,
    status text not null,
    mrr bigint not null default 0
);
create index subscriptions_member on subscriptions (member_id);

-- MRR by member and plan ('*' = every plan): the present, and whether it was ever > 0.
create table mrr_state (
    member_id text not null,
    plan_code text not null,
    mrr bigint not null default 0,
    ever_paid boolean not null default false,
    primary key (member_id, plan_code)
);

-- Every change of a member's MRR (plan_code '*') and of its MRR on one plan, classified:
-- new_business | expansion | contraction | churn | reactivation.
create table movements (
    id bigint generated always as identity primary key,
    member_id text not null,
    plan_code text not null,
    at_ms bigint not null,
    kind text not null,
    delta bigint not null
);
create index movements_plan_at on movements (plan_code, at_ms);

-- The signals raised (kept across rebuilds): one per member, kind and spell.
create table signals (
    id bigint generated always as identity primary key,
    member_id text not null,
    kind text not null,
    spell_ms bigint not null,          -- inactive: the last login (or registration) it is about
    days int not null default 0,
    last_login_at_ms bigint not null default 0,
    score int not null default 0,
    at_ms bigint not null,
    unique (member_id, kind, spell_ms)
);
create index signals_member on signals (member_id, id);

-- Members whose churn-risk score is at or above the threshold (kept across rebuilds).
create table risk_state (
    member_id text primary key,
    above boolean not null
);
