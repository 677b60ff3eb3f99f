-- 008_payment_terms.sql - a company's payment terms (法人の支払条件): billing's own record of a
-- member invoiced as a company, with its closing day (締め日) and when an invoice is due
-- (翌月末払い, 翌月N日払い, N日後). Keyed by the member's id; billing reads no member table.
create table payment_terms (
    member_id uuid primary key,
    company boolean not null,                -- false: invoiced and charged as anyone
    closing_day int not null check (closing_day between 1 and 28 or closing_day = 31),   -- 31: 月末
    due_months int not null check (due_months between 0 and 3),      -- 0 with due_days
    due_day int not null check (due_day between 0 and 28 or due_day = 31),              -- 31: 月末
    due_days int not null check (due_days between 0 and 120),
    -- Either a day of a later month or a number of days after the closing date.
    check ((due_day > 0 and due_months > 0 and due_days = 0) or (due_day = 0 and due_months = 0 and due_days > 0)),
    updated_at timestamptz not null,
    updated_by text not null default '',
    version bigint not null default 1
);
