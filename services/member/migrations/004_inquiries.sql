-- 004_inquiries.sql - support inquiries (問い合わせ履歴) and their threads
create table inquiries (
    seq bigint generated always as identity primary key,   -- creation order: newest first by it
    id uuid not null unique default gen_random_uuid (),
    member_id uuid not null references members (id),
    subject text not null,
    status text not null default 'open' check (status in ('open', 'pending', 'resolved')),
    channel text not null
        check (channel in ('email', 'phone', 'web_form', 'chat', 'in_person', 'other')),
    category text not null
        check (category in ('billing', 'account', 'content', 'technical', 'cancellation', 'other')),
    assignee_id uuid references staff (id),
    opened_by text not null,
    version bigint not null default 1,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    resolved_at timestamptz,
    check ((status = 'resolved') = (resolved_at is not null))
);
create index inquiries_member_seq on inquiries (member_id, seq);
create index inquiries_status_seq on inquiries (status, seq);
create index inquiries_assignee_seq on inquiries (assignee_id, seq) where assignee_id is not null;

create table inquiry_messages (
    seq bigint generated always as identity primary key,   -- the thread's order
    id uuid not null unique default gen_random_uuid (),
    inquiry_id uuid not null references inquiries (id),
    author_type text not null check (author_type in ('staff', 'member')),
    author_id text not null,
    body text not null,
    created_at timestamptz not null
);
create index inquiry_messages_thread on inquiry_messages (inquiry_id, seq);

-- Search (q) is a case-insensitive partial match (ILIKE '%q%') on subjects and message bodies.
-- Trigram indexes make it fast when pg_trgm is installed in the database (CREATE EXTENSION
-- needs rights this service's roles do not have: scripts/db-init.sh installs it, or a DBA);
-- without it the same queries run as scans.
do $$
declare
    ext_schema name;
begin
    select n.nspname into ext_schema
      from pg_extension e join pg_namespace n on n.oid = e.extnamespace
     where e.extname = 'pg_trgm';
    if ext_schema is not null and has_schema_privilege (ext_schema, 'usage') then
        execute format ('create index inquiries_subject_trgm on inquiries using gin (subject %I.gin_trgm_ops)', ext_schema);
        execute format ('create index inquiry_messages_body_trgm on inquiry_messages using gin (body %I.gin_trgm_ops)', ext_schema);
    else
        raise notice 'pg_trgm is not installed: inquiry search (q) scans without an index';
    end if;
end
$$;
