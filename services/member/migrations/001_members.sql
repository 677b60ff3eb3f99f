-- 001_members.sql - the member record
create table members (
    seq bigint generated always as identity primary key,   -- creation order, the list's keyset
    id uuid not null unique default gen_random_uuid (),
    email text not null,
    name text not null default '',
    name_kana text not null default '',
    phone text not null default '',
    status text not null default 'free' check (status in ('free', 'paid', 'withdrawn')),
    version bigint not null default 1,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    withdrawn_at timestamptz,
    withdrawn_reason text
);
create unique index members_email_key on members (lower (email));
create index members_status_seq on members (status, seq);
