-- 003_loyalty.sql - what each member paid, from billing's events: the loyalty (RFM) scores and
-- the purchase milestones read it. Rebuilt from events like the other projections.
create table paid_invoices (
    invoice_id text primary key,
    member_id text not null,
    reason text not null,              -- billing_reason: purchase, subscription_cycle, ...
    total bigint not null,             -- yen, including tax
    paid_at_ms bigint not null
);
create index paid_invoices_member on paid_invoices (member_id, paid_at_ms);

create table refunds (
    refund_id text primary key,
    member_id text not null,
    amount bigint not null,
    at_ms bigint not null
);
create index refunds_member on refunds (member_id, at_ms);

-- The purchase milestones raised (kind purchase_milestone / spend_milestone, spell_ms = N).
alter table signals add column milestone bigint not null default 0,
    add column purchases int not null default 0,
    add column spend bigint not null default 0;
