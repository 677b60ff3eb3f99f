-- 009_payment_intents.sql - a renewal's charge as an intent committed before the provider is
-- called (payment.c, renewal.c): no transaction is open while the provider answers, and a
-- crash between the call and the renewal's commit leaves a row the next tick completes with
-- the same key (the provider answers it with its first outcome).
create table payment_intents (
    key text primary key,                    -- the provider's idempotency key, renewal:<id>:<period start>
    subscription_id uuid not null,
    period_start timestamptz not null,
    member_id uuid not null,
    payment_method_id uuid not null,
    amount bigint not null,
    state text not null check (state in ('created', 'charged')),
    claimed_by int not null,                 -- the backend (pg_backend_pid) of the tick that charges it
    -- the provider's outcome, once charged
    status text not null default '',
    failure_code text not null default '',
    failure_message text not null default '',
    provider_ref text not null default '',
    konbini_number text not null default '',
    bank_reference text not null default '',
    expires_at timestamptz,
    created_at timestamptz not null,
    charged_at timestamptz
);
create index payment_intents_subscription on payment_intents (subscription_id, period_start);
