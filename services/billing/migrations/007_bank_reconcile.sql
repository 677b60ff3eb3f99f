-- 007_bank_reconcile.sql - payments recorded by hand (cash at the front desk, a transfer
-- seen on the bank statement) and bank-transfer reconciliation (消込): the statements
-- imported, each deposit on them, and what was done with it, by whom.

-- A payment recorded by hand has no payment method and provider 'manual'; who recorded it and
-- their note are kept with it. A reversed payment stays as history: status reversed, when, by whom.
alter table payments add column note text not null default '',
    add column recorded_by text not null default '',
    add column reversed_at timestamptz,
    add column reversed_by text not null default '';
alter table payments drop constraint payments_status_check;
alter table payments add constraint payments_status_check
    check (status in ('pending', 'succeeded', 'failed', 'expired', 'reversed'));

-- A statement file is imported once: its SHA-256 is unique.
create table bank_statements (
    seq bigint generated always as identity primary key,
    id uuid not null unique default gen_random_uuid (),
    format text not null check (format in ('zengin', 'csv')),
    sha256 text not null unique,
    rows int not null,
    total bigint not null,
    imported_by text not null,
    created_at timestamptz not null
);

-- One deposit (入金) of a statement. payer_kana is payer_name folded (NFKC, no spaces, small
-- kana made large) as names are compared. A deposit is on no other statement: the same date,
-- amount, payer and bank reference (照会番号) once.
create table deposits (
    seq bigint generated always as identity primary key,
    id uuid not null unique default gen_random_uuid (),
    statement_id uuid not null references bank_statements (id),
    row_number int not null,
    deposit_date date not null,
    amount bigint not null check (amount > 0),
    payer_name text not null,
    payer_kana text not null,
    reference text not null default '',           -- the bank's 照会番号
    memo text not null default '',                -- EDI情報 / 摘要
    state text not null check (state in ('unmatched', 'matched', 'partial', 'ignored')),
    invoice_id uuid references invoices (id),      -- matched: paid by it; partial: the candidate
    payment_id uuid references payments (id),      -- matched: the payment it recorded
    match_reason text not null default '',         -- reference | name_amount | assigned
    reason text not null default '',               -- unmatched, partial: why
    created_at timestamptz not null,
    updated_at timestamptz not null
);
create unique index deposits_once on deposits (deposit_date, amount, payer_kana, reference)
    where reference <> '';
create index deposits_state on deposits (state, seq);

-- Every change of a deposit, for an auditor: matched, assigned, unassigned, ignored.
create table deposit_events (
    seq bigint generated always as identity primary key,
    deposit_id uuid not null references deposits (id),
    action text not null,
    invoice_id uuid,
    payment_id uuid,
    actor text not null,
    at timestamptz not null
);
create index deposit_events_deposit on deposit_events (deposit_id, seq);
