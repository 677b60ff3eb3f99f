-- 001_billing.sql - plans, payment methods, subscriptions, invoices, payments, refunds,
-- coupons, purchases and the settings they follow. Money is bigint yen; never floating point.

create table settings (
    id boolean primary key default true check (id),         -- one row
    issuer_name text not null default '',
    registration_number text not null default ''
        check (registration_number = '' or registration_number ~ '^T[0-9]{13}$'),
    retry_days int [] not null default '{1,3,7}',
    final_action text not null default 'cancel' check (final_action in ('cancel', 'unpaid')),
    konbini_expiry_days int not null default 3 check (konbini_expiry_days between 1 and 30),
    invoice_due_days int not null default 14 check (invoice_due_days between 0 and 365),
    version bigint not null default 1
);
insert into settings default values;

-- Gap-free numbers: a row per series, taken with "update ... returning" inside the
-- transaction that uses the number, so a rollback gives it back.
create table number_series (
    name text primary key,
    next bigint not null
);
insert into number_series values ('invoice', 1), ('credit_note', 1);

create table plans (
    seq bigint generated always as identity primary key,
    id uuid not null unique default gen_random_uuid (),
    code text not null unique check (code ~ '^[a-z0-9_-]{1,64}$'),
    name text not null,
    amount bigint not null check (amount >= 0),
    currency text not null default 'JPY',
    tax_mode text not null check (tax_mode in ('inclusive', 'exclusive')),
    tax_rate int not null check (tax_rate in (10, 8)),
    interval text not null check (interval in ('month', 'year')),
    interval_count int not null check (interval_count between 1 and 12),
    trial_days int not null default 0 check (trial_days between 0 and 365),
    rank text not null default '',
    status text not null default 'active' check (status in ('active', 'archived')),
    created_at timestamptz not null,
    updated_at timestamptz not null,
    version bigint not null default 1
);

create table payment_methods (
    seq bigint generated always as identity primary key,
    id uuid not null unique default gen_random_uuid (),
    member_id uuid not null,
    type text not null check (type in ('card', 'konbini', 'bank_transfer')),
    provider text not null,
    token text not null default '',
    brand text not null default '',
    last4 text not null default '',
    exp_month int not null default 0,
    exp_year int not null default 0,
    status text not null default 'active' check (status in ('active', 'detached')),
    is_default boolean not null default false,
    expiring_notified boolean not null default false,
    created_at timestamptz not null
);
create index payment_methods_member on payment_methods (member_id, seq);
create unique index payment_methods_one_default on payment_methods (member_id)
    where is_default and status = 'active';

create table coupons (
    seq bigint generated always as identity primary key,
    id uuid not null unique default gen_random_uuid (),
    code text not null check (code ~ '^[A-Za-z0-9_-]{1,64}$'),
    name text not null default '',
    percent_off int not null default 0 check (percent_off between 0 and 100),
    amount_off bigint not null default 0 check (amount_off >= 0),
    duration text not null check (duration in ('once', 'repeating', 'forever')),
    duration_in_months int not null default 0,
    max_redemptions int not null default 0 check (max_redemptions >= 0),
    times_redeemed int not null default 0,
    redeem_by timestamptz,
    plans text [] not null default '{}',
    first_purchase_only boolean not null default false,
    applies_to text not null default 'all' check (applies_to in ('subscriptions', 'purchases', 'all')),
    auto_apply boolean not null default false,
    ranks text [] not null default '{}',
    active boolean not null default true,
    created_at timestamptz not null,
    check ((percent_off > 0) <> (amount_off > 0)),
    check (times_redeemed <= max_redemptions or max_redemptions = 0)
);
create unique index coupons_code on coupons (lower (code));

create table subscriptions (
    seq bigint generated always as identity primary key,
    id uuid not null unique default gen_random_uuid (),
    member_id uuid not null,
    plan_id uuid not null references plans (id),
    status text not null
        check (status in ('trialing', 'active', 'past_due', 'unpaid', 'canceled', 'incomplete')),
    payment_method_id uuid references payment_methods (id),
    coupon_id uuid references coupons (id),
    coupon_periods_left int,                 -- null: forever (or no coupon)
    credit_balance bigint not null default 0,  -- proration credit taken off the next invoices
    anchor_day int not null,                 -- the day of month periods end on (clamped)
    trial_end timestamptz,
    current_period_start timestamptz not null,
    current_period_end timestamptz not null,
    cancel_at_period_end boolean not null default false,
    cancel_reason text not null default ''
        check (cancel_reason in ('', 'too_expensive', 'missing_features', 'switched_service', 'unused', 'other')),
    cancel_comment text not null default '',
    canceled_at timestamptz,
    ended_at timestamptz,
    latest_invoice_id uuid,
    retry_count int not null default 0,
    next_retry_at timestamptz,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    version bigint not null default 1
);
create index subscriptions_member on subscriptions (member_id, seq);
-- What the scheduler looks for: periods that end, retries that are due.
create index subscriptions_due on subscriptions (current_period_end)
    where status in ('trialing', 'active');
create index subscriptions_retry on subscriptions (next_retry_at) where next_retry_at is not null;

create table invoices (
    seq bigint generated always as identity primary key,
    id uuid not null unique default gen_random_uuid (),
    number bigint unique,                    -- gap-free, given when finalised
    member_id uuid not null,
    subscription_id uuid references subscriptions (id),
    purchase_id uuid,
    status text not null check (status in ('draft', 'open', 'paid', 'void', 'uncollectible')),
    billing_reason text not null,
    currency text not null default 'JPY',
    tax_mode text not null check (tax_mode in ('inclusive', 'exclusive')),
    subtotal bigint not null default 0,
    tax_total bigint not null default 0,
    total bigint not null default 0,
    discount_total bigint not null default 0,
    amount_paid bigint not null default 0,
    amount_refunded bigint not null default 0,
    issuer_name text not null default '',
    registration_number text not null default '',
    issued_at timestamptz,
    due_at timestamptz,
    paid_at timestamptz,
    voided_at timestamptz,
    overdue_notified boolean not null default false,
    period_start timestamptz,
    period_end timestamptz,
    created_at timestamptz not null,
    version bigint not null default 1,
    -- A period of a subscription is invoiced once: the renewal's exactly-once guard.
    unique (subscription_id, period_start, billing_reason)
);
create index invoices_member on invoices (member_id, seq);
create index invoices_open_due on invoices (due_at) where status = 'open';

create table invoice_lines (
    invoice_id uuid not null references invoices (id),
    line int not null,
    description text not null,
    sku text not null default '',
    quantity int not null check (quantity > 0),
    unit_amount bigint not null,
    discount_amount bigint not null default 0,
    amount bigint not null,
    tax_rate int not null check (tax_rate in (0, 8, 10)),
    period_start timestamptz,
    period_end timestamptz,
    primary key (invoice_id, line)
);

create table invoice_taxes (
    invoice_id uuid not null references invoices (id),
    rate int not null,
    amount bigint not null,
    taxable_amount bigint not null,
    tax bigint not null,
    primary key (invoice_id, rate)
);

create table payments (
    seq bigint generated always as identity primary key,
    id uuid not null unique default gen_random_uuid (),
    invoice_id uuid not null references invoices (id),
    member_id uuid not null,
    payment_method_id uuid references payment_methods (id),
    method_type text not null,
    provider text not null,
    provider_ref text not null default '',
    amount bigint not null,
    amount_received bigint not null default 0,
    amount_refunded bigint not null default 0,
    status text not null check (status in ('pending', 'succeeded', 'failed', 'expired')),
    failure_code text not null default '',
    failure_message text not null default '',
    konbini_number text not null default '',
    bank_reference text not null default '',
    expires_at timestamptz,
    created_at timestamptz not null,
    settled_at timestamptz,
    check (amount_refunded <= amount_received)
);
create index payments_invoice on payments (invoice_id);
create index payments_member on payments (member_id, seq);
create index payments_pending on payments (expires_at) where status = 'pending';
create unique index payments_provider_ref on payments (provider, provider_ref) where provider_ref <> '';

create table refunds (
    seq bigint generated always as identity primary key,
    id uuid not null unique default gen_random_uuid (),
    payment_id uuid not null references payments (id),
    invoice_id uuid not null references invoices (id),
    member_id uuid not null,
    amount bigint not null check (amount > 0),
    reason text not null,
    credit_note_number bigint not null unique,
    created_at timestamptz not null
);
create index refunds_invoice on refunds (invoice_id);

create table refund_taxes (
    refund_id uuid not null references refunds (id),
    rate int not null,
    amount bigint not null,
    taxable_amount bigint not null,
    tax bigint not null,
    primary key (refund_id, rate)
);

create table coupon_redemptions (
    coupon_id uuid not null references coupons (id),
    member_id uuid not null,
    subscription_id uuid,
    invoice_id uuid,
    created_at timestamptz not null
);
create index coupon_redemptions_member on coupon_redemptions (member_id);

create table purchases (
    seq bigint generated always as identity primary key,
    id uuid not null unique default gen_random_uuid (),
    member_id uuid not null,
    tax_mode text not null,
    coupon_code text not null default '',
    payment_method_id uuid references payment_methods (id),
    invoice_id uuid references invoices (id),
    status text not null check (status in ('pending', 'paid', 'failed', 'refunded')),
    created_at timestamptz not null
);
create index purchases_member on purchases (member_id, seq);

-- The sandbox provider's own ledger: what a real provider would hold on its side. A charge
-- is keyed by our payment's id, so asking twice never charges twice.
create table sandbox_charges (
    idempotency_key text primary key,
    token text not null,
    amount bigint not null,
    outcome text not null,
    created_at timestamptz not null
);

-- Webhook deliveries already applied (duplicates change nothing).
create table webhook_events (
    provider text not null,
    event_id text not null,
    received_at timestamptz not null,
    primary key (provider, event_id)
);
