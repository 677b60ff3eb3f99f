-- 002_month_facts.sql - what the month metrics beyond MRR need, all rebuilt from events: when a
-- member withdrew (active and inactive members), a subscription's trial and its conversion, and
-- its cancellation with the reason billing recorded.
alter table members add column withdrawn_at_ms bigint not null default 0;     -- 0: not withdrawn

alter table subscriptions
    add column created_at_ms bigint not null default 0,
    add column trialed boolean not null default false,           -- began in a trial
    add column converted_at_ms bigint not null default 0,        -- first paid after its trial
    add column canceled_at_ms bigint not null default 0,         -- when cancellation was asked
    add column cancel_reason text not null default '';

create index subscriptions_trials on subscriptions (created_at_ms) where trialed;
create index subscriptions_canceled on subscriptions (canceled_at_ms) where canceled_at_ms > 0;
create index timeline_logins on timeline (occurred_at_ms, member_id) where type = 'member.logged_in';
create index movements_member on movements (member_id, plan_code, at_ms);
