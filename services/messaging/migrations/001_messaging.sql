-- 001_messaging.sql - the sender's settings, templates, automations, the members' projection
-- (from member's events), event counts per member, and the mails: each a row written before
-- it is sent. Times are Unix milliseconds (bigint), as the messages carry them.

create table settings (
    id boolean primary key default true check (id),         -- one row
    from_name text not null default '',
    from_address text not null default '',
    reply_to text not null default '',
    business_name text not null default '',
    postal_address text not null default '',
    contact text not null default '',
    version bigint not null default 1
);
insert into settings default values;

create table templates (
    seq bigint generated always as identity primary key,
    id uuid not null unique default gen_random_uuid (),
    name text not null,
    kind text not null check (kind in ('transactional', 'marketing')),
    subject text not null,
    html text not null default '',
    text text not null default '',
    deleted boolean not null default false,
    created_at_ms bigint not null,
    updated_at_ms bigint not null,
    version bigint not null default 1
);

create table automations (
    seq bigint generated always as identity primary key,
    id uuid not null unique default gen_random_uuid (),
    name text not null,
    source text not null,
    event_type text not null,
    delay_minutes bigint not null default 0 check (delay_minutes >= 0),
    nth int not null default 0 check (nth >= 0),
    template_id uuid not null references templates (id),
    active boolean not null default true,
    starts_at_ms bigint not null,
    created_at_ms bigint not null,
    version bigint not null default 1
);
create index automations_trigger on automations (source, event_type) where active;

-- What messaging knows of each member, kept from member's events. An erased member's row is
-- deleted (and their mails' personal data blanked).
create table members (
    id uuid primary key,
    email text not null default '',
    name text not null default '',
    name_kana text not null default '',
    status text not null default '',
    rank text not null default '',
    -- the member record's marketing consent: the proof the law asks for
    email_opt_in boolean not null default false,
    consented_at_ms bigint not null default 0,
    consent_method text not null default '',
    consent_source text not null default '',
    -- the last one-click unsubscribe; a consent recorded later opts in again
    unsubscribed_at_ms bigint not null default 0,
    unsubscribed_mail_id uuid,
    updated_at_ms bigint not null default 0
);

-- How many events of a type each member had: "the 10th purchase".
create table event_counts (
    member_id uuid not null,
    source text not null,
    event_type text not null,
    count bigint not null,
    primary key (member_id, source, event_type)
);

-- The events consumed, by member: an automation asked to start in the past finds the events
-- it would have fired on here. Deleted with the member's other data on erasure.
create table member_events (
    event_id text primary key,
    source text not null,
    event_type text not null,
    member_id uuid not null,
    occurred_at_ms bigint not null,
    nth bigint not null,                  -- this member's nth event of the type
    event_json jsonb not null             -- the template variables under "event"
);
create index member_events_trigger on member_events (source, event_type, occurred_at_ms);
create index member_events_member on member_events (member_id);

-- The mails: queued (the row is committed first), then sent, failed (a 5xx, or too many
-- attempts), suppressed (marketing without consent), or canceled (the member withdrew or was
-- erased before it was due). One per (automation, member, triggering event).
create table mails (
    seq bigint generated always as identity primary key,
    id uuid not null unique default gen_random_uuid (),
    member_id uuid not null,
    template_id uuid not null references templates (id),
    automation_id uuid references automations (id),
    event_id text not null default '',
    event_json jsonb,                     -- the variables of the triggering event
    kind text not null,
    status text not null default 'queued'
        check (status in ('queued', 'sent', 'failed', 'suppressed', 'canceled')),
    "to" text not null default '',
    subject text not null default '',
    message_id text not null default '',
    attempts int not null default 0,
    last_error text not null default '',
    due_at_ms bigint not null,
    sent_at_ms bigint not null default 0,
    created_at_ms bigint not null
);
create unique index mails_once on mails (automation_id, member_id, event_id)
    where automation_id is not null;
create index mails_due on mails (due_at_ms) where status = 'queued';
create index mails_member on mails (member_id, seq);
