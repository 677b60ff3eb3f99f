-- 013_terms_suspension.sql - a company on payment terms that leaves an invoice unpaid too long
-- past its due date has its subscriptions suspended (`unpaid`) until it pays (suspension.c).
-- How many days past its due date an open invoice of a company on terms may stay unpaid; 0: never.
alter table settings add column terms_suspend_after_days int not null default 30
    check (terms_suspend_after_days between 0 and 365);
-- When the subscription was suspended for an invoice on terms past that limit (the limit's
-- moment): set with status unpaid, cleared when the member pays and it is active again. Null
-- for a subscription unpaid for another reason (dunning's final action).
alter table subscriptions add column terms_suspended_at timestamptz;
create index subscriptions_terms_suspended on subscriptions (member_id) where terms_suspended_at is not null;
