-- 002_segments_campaigns.sql - what segments filter on (more of the members' projection, their
-- purchases, plans and churn risk, all from events), segments, campaigns with their recipients
-- as mail rows, tracked clicks, and the addresses suppressed by hard bounces.

-- The member record's tags, attributes, signup and last login, from member's events. "marketing"
-- is the one definition of "marketing mail may be sent": consent later than the last unsubscribe.
alter table members
    add column tags text[] not null default '{}',
    add column attributes jsonb not null default '{}',
    add column created_at_ms bigint not null default 0,
    add column last_login_at_ms bigint not null default 0,
    add column marketing boolean generated always as
        (email_opt_in and consented_at_ms > unsubscribed_at_ms) stored;
create index members_tags on members using gin (tags);

-- Members projected before this migration: their latest member event still holds the record.
update members m set tags = coalesce (array (select jsonb_array_elements_text (r -> 'tags')), '{}'),
    attributes = case when coalesce (r ->> 'attributes_json', '') = '' then '{}'
                      else (r ->> 'attributes_json')::jsonb end,
    created_at_ms = coalesce ((extract (epoch from (r ->> 'created_at')::timestamptz) * 1000)::bigint, 0),
    last_login_at_ms = coalesce ((extract (epoch from (r ->> 'last_login_at')::timestamptz) * 1000)::bigint, 0)
from (select distinct on (member_id) member_id,
             case when event_type in ('member.tagged', 'member.untagged') then event_json -> 'member'
                  else event_json end as r
      from member_events
      where source = 'member' and event_type in ('member.registered', 'member.updated',
            'member.withdrawn', 'member.tagged', 'member.untagged')
      order by member_id, occurred_at_ms desc, nth desc) latest
where latest.member_id = m.id and jsonb_typeof (latest.r) = 'object';

-- What members did, from billing's and analytics' events: paid one-off purchases
-- (purchase.completed, its invoice's total), and the score of the last signal.churn_risk.
create table member_facts (
    member_id uuid primary key,
    purchase_count bigint not null default 0,
    purchase_total bigint not null default 0,
    last_purchase_at_ms bigint not null default 0,
    churn_risk int not null default 0,
    churn_risk_at_ms bigint not null default 0
);

-- Each subscription as its last subscription.* event left it: "plan" filters on these.
create table member_plans (
    subscription_id text primary key,
    member_id uuid not null,
    plan_code text not null,
    status text not null,
    updated_at_ms bigint not null
);
create index member_plans_member on member_plans (member_id);

-- Addresses the relay refused for good (a 5xx): no mail goes to them again.
create table suppressions (
    email text primary key,
    reason text not null,
    mail_id uuid,
    at_ms bigint not null
);

create table segments (
    seq bigint generated always as identity primary key,
    id uuid not null unique default gen_random_uuid (),
    name text not null,
    filter jsonb not null,
    deleted boolean not null default false,
    created_at_ms bigint not null,
    updated_at_ms bigint not null,
    version bigint not null default 1
);

create table campaigns (
    seq bigint generated always as identity primary key,
    id uuid not null unique default gen_random_uuid (),
    name text not null,
    template_id uuid not null references templates (id),
    segment_id uuid not null references segments (id),
    kind text not null check (kind in ('transactional', 'marketing')),
    status text not null default 'draft'
        check (status in ('draft', 'scheduled', 'sending', 'paused', 'sent', 'canceled')),
    send_at_ms bigint not null default 0,
    rate_per_minute int not null default 0 check (rate_per_minute >= 0),
    links text[] not null default '{}',   -- the template's tracked links, kept when it starts
    matched bigint not null default 0,
    total bigint not null default 0,
    started_at_ms bigint not null default 0,
    finished_at_ms bigint not null default 0,
    created_at_ms bigint not null,
    updated_at_ms bigint not null,
    version bigint not null default 1
);
create index campaigns_scheduled on campaigns (send_at_ms) where status = 'scheduled';

-- A campaign's recipients are its mail rows, written when it starts: one per member.
alter table mails
    add column campaign_id uuid references campaigns (id),
    add column clicked_at_ms bigint not null default 0,
    add column unsubscribed_at_ms bigint not null default 0,
    add column converted_at_ms bigint not null default 0,
    add column conversion_amount bigint not null default 0,
    drop constraint mails_status_check,
    add constraint mails_status_check check (status in
        ('queued', 'held', 'sent', 'failed', 'bounced', 'suppressed', 'canceled'));
create unique index mails_campaign_once on mails (campaign_id, member_id) where campaign_id is not null;
-- The tick takes the next due mail in (due_at_ms, seq) order: a campaign queues thousands due
-- at the same moment, which an index on the time alone left to be sorted for every mail.
drop index mails_due;
create index mails_due on mails (due_at_ms, seq) where status = 'queued';
create index mails_campaign_queued on mails (campaign_id) where status = 'queued';

create table clicks (
    seq bigint generated always as identity primary key,
    mail_id uuid not null references mails (id),
    link int not null,
    at_ms bigint not null
);
create index clicks_mail on clicks (mail_id, at_ms);

-- The members a segment's compiled condition matches. The condition is SQL that filter.c wrote
-- from a checked filter (never text a user typed); every value in it is an item of
-- the JSON array params. (pg.h runs prepared statements only: this runs the compiled one.)
create function segment_members (condition text, params jsonb) returns setof uuid
language plpgsql stable
set search_path from current
as $$
begin
    return query execute
        'select m.id from members m left join member_facts f on f.member_id = m.id where ' || condition
        using params;
end
$$;
grant execute on function segment_members (text, jsonb) to kaiin_messaging;
