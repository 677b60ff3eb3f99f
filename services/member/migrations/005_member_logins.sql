-- 005_member_logins.sql - member passwords, every login attempt, and activities from the site
-- Migration 003 adds this column too; whichever runs first creates it.
alter table members add column if not exists last_login_at timestamptz;

-- A member's password, apart from the record so that no member query ever reads it.
create table member_credentials (
    member_id uuid primary key references members (id),
    password_hash text not null,            -- argon2id, PHC string format
    updated_at timestamptz not null
);

-- Every login attempt, successful or not (the gateway's refusals as reason 'locked').
create table member_logins (
    seq bigint generated always as identity primary key,   -- newest first: the list's keyset
    member_id uuid references members (id),                -- null: the email matched no member
    email text not null,                                   -- as typed
    at timestamptz not null,
    ip text not null default '',
    user_agent text not null default '',
    succeeded boolean not null,
    reason text not null
        check (reason in ('ok', 'bad_password', 'unknown_email', 'withdrawn', 'locked'))
);
create index member_logins_member on member_logins (member_id, seq);

-- Access and usage events the business's own site sends.
create table member_activities (
    seq bigint generated always as identity primary key,
    id uuid not null unique default gen_random_uuid (),
    member_id uuid not null references members (id),
    type text not null check (type ~ '^[a-z0-9_.]{1,50}$'),
    path text check (char_length (path) <= 2000),
    occurred_at timestamptz not null,
    received_at timestamptz not null,
    properties jsonb not null default '{}' check (jsonb_typeof (properties) = 'object')
);
create index member_activities_member on member_activities (member_id, occurred_at desc, seq desc);
