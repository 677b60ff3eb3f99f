-- 010_staff_notices.sql - mails to the business's owners rather than to members: an analytics
-- alert (alert.raised) becomes one notice, once per event, sent to every owner's address
-- (notice.c). The addresses are read from the member service when the notice is first sent;
-- sent_to records each one as its mail is sent, in that mail's transaction, so a crash sends
-- no owner the notice twice.
create table staff_notices (
    seq bigint generated always as identity primary key,
    id uuid not null unique default gen_random_uuid (),
    event_id uuid not null unique,
    kind text not null check (kind in ('alert')),
    subject text not null,
    text text not null,
    recipients text [],
    sent_to text [] not null default '{}',
    status text not null default 'queued' check (status in ('queued', 'sent', 'failed')),
    attempts int not null default 0,
    last_error text not null default '',
    due_at_ms bigint not null,
    created_at_ms bigint not null,
    sent_at_ms bigint not null default 0
);
create index staff_notices_due on staff_notices (due_at_ms) where status = 'queued';
