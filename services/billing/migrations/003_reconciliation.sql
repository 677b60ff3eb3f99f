-- 003_reconciliation.sql - finding provider charges that Kaiin has no payment for (a process
-- that crashed between the provider's charge and its own commit), and refunding them.

-- The sandbox's ledger read as a provider's list of charges: in order, with the customer
-- charged and the reference a payment of ours records.
alter table sandbox_charges
    add column seq bigserial,
    add column customer text not null default '',
    add column provider_ref text not null default '';
create unique index sandbox_charges_seq on sandbox_charges (seq);

-- How far each provider's charges were read: the provider's own cursor.
create table provider_reconciliation (
    provider text primary key,
    cursor text not null
);
-- Charges from before this migration carry no reference to match: they are not read.
insert into provider_reconciliation (provider, cursor)
    select 'sandbox', coalesce (max (seq), 0)::text from sandbox_charges;

-- Each charge found without a payment of ours, and its refund: what happened, for an auditor.
create table provider_orphans (
    provider text not null,
    provider_ref text not null,
    idempotency_key text not null,
    customer text not null,
    amount bigint not null,
    charged_at timestamptz not null,
    refunded_at timestamptz not null,
    primary key (provider, provider_ref)
);
