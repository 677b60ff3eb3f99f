-- 007_billing_rank.sql - the rank billing gave a member (from a paid subscription's plan), so
-- that the rank goes back to 'basic' when the member stops paying only if billing set it
alter table members add column billing_rank text;
