-- 012_consolidated_invoices.sql - 合算請求: a company whose terms say consolidate has a closing
-- period's charges gathered onto one invoice, a draft until the closing date, then issued
-- (invoice.c, s_gather and invoice_close_tick).
alter table payment_terms add column consolidate boolean not null default false;
-- The closing date's last millisecond (JST) of the period an invoice gathers; null for others.
alter table invoices add column closing_at timestamptz;
-- One draft gathering per member, closing date and tax mode (an invoice has one tax mode).
create unique index invoices_gathering on invoices (member_id, closing_at, tax_mode)
    where status = 'draft' and closing_at is not null;
-- What the scheduler closes, by its closing date.
create index invoices_closing on invoices (closing_at) where status = 'draft' and closing_at is not null;
-- The purchase a gathered line is of (its items); null on the lines of other invoices.
alter table invoice_lines add column purchase_id uuid;
-- The purchases a gathered invoice pays when it is paid.
create index purchases_invoice on purchases (invoice_id);
-- What a purchase on a gathered invoice comes to alone, tax included (its invoice's total is the
-- period's): the billing summary counts it; null for a purchase with an invoice of its own.
alter table purchases add column gathered_total bigint;
