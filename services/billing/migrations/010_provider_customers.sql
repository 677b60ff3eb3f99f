-- 010_provider_customers.sql - a member as the payment provider's customer (Stripe's cus_…):
-- made once per member and provider when a method is first kept with it, so that a card saved
-- to it can be charged again off-session and a bank transfer has the customer it needs
-- (payment_method.c, stripe.c). Each method keeps the customer it was saved to.
create table provider_customers (
    member_id uuid not null,
    provider text not null,
    ref text not null,
    created_at timestamptz not null default now (),
    primary key (member_id, provider)
);

alter table payment_methods add column customer_ref text not null default '';
