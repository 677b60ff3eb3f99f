-- 008_webhooks.sql - integrators' webhook endpoints and the deliveries of events to them
-- (webhook.c). A delivery is written with the consumption of its event (exactly once), sent by
-- the tick, retried with back-off for 3 days from its first attempt.
create table webhook_endpoints (
    seq bigint generated always as identity primary key,
    id uuid not null unique default gen_random_uuid (),
    url text not null,
    event_types text[] not null,
    description text not null default '',
    secret text not null,                   -- whsec_…: the HMAC key, shown once
    enabled boolean not null default true,
    disabled_reason text not null default '',
    disabled_at_ms bigint not null default 0,
    last_success_at_ms bigint not null default 0,
    created_at_ms bigint not null,
    version bigint not null default 1
);

create table webhook_deliveries (
    seq bigint generated always as identity primary key,
    id uuid not null unique default gen_random_uuid (),
    webhook_id uuid not null references webhook_endpoints (id) on delete cascade,
    event_id text not null,
    event_type text not null,
    body text not null,                     -- sent as it is on every attempt
    state text not null default 'pending' check (state in ('pending', 'succeeded', 'failed')),
    attempts int not null default 0,
    last_status_code int not null default 0,
    last_response text not null default '',
    last_error text not null default '',
    window_start_ms bigint not null default 0,   -- the first attempt (a redelivery's: its own)
    next_attempt_at_ms bigint not null default 0,
    last_attempt_at_ms bigint not null default 0,
    created_at_ms bigint not null,
    unique (webhook_id, event_id)
);
create index webhook_deliveries_due on webhook_deliveries (next_attempt_at_ms) where state = 'pending';
create index webhook_deliveries_log on webhook_deliveries (webhook_id, seq);
