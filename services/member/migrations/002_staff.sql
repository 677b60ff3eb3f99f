-- 002_staff.sql - staff accounts, API keys and the append-only audit log
create table staff (
    seq bigint generated always as identity primary key,
    id uuid not null unique default gen_random_uuid (),
    email text not null,
    name text not null default '',
    role text not null check (role in ('owner', 'admin', 'support', 'marketing', 'finance', 'viewer')),
    password_hash text not null,            -- argon2id, PHC string format
    disabled boolean not null default false,
    version bigint not null default 1,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    last_login_at timestamptz
);
create unique index staff_email_key on staff (lower (email));

create table api_keys (
    seq bigint generated always as identity primary key,
    id uuid not null unique default gen_random_uuid (),
    name text not null,
    role text not null check (role in ('admin', 'support', 'marketing', 'finance', 'viewer')),
    prefix text not null,
    secret_sha256 text not null unique,     -- the secret itself is never stored
    created_by text not null,
    created_at timestamptz not null,
    revoked_at timestamptz
);

-- Who did what, when, to which record, with each field's value before and after.
create table audit_log (
    seq bigint generated always as identity primary key,
    at timestamptz not null,
    actor_id text not null,                 -- staff id, "bootstrap", an API key id, or "" for anonymous
    actor_role text not null,
    action text not null,                   -- member.create, member.update, staff.login_failed, ...
    target_type text not null,
    target_id text not null,
    changes jsonb not null default '{}',    -- {"field": [before, after]}
    request_id text not null default '',
    ip text not null default ''
);
create index audit_log_target on audit_log (target_type, target_id, seq);
create index audit_log_actor on audit_log (actor_id, seq);
-- Append-only: the service's own login role may add and read rows, never change or remove them.
revoke update, delete, truncate on audit_log from kaiin_member;
