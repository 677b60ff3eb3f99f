-- 018_suppressions_managed.sql - the suppression list managed through the API
-- (GET/POST /v1/messaging/suppressions, DELETE …/{email}): staff add an address by hand
-- (reason 'manual', their note and who they are) beside the relay's hard bounces (reason
-- 'bounce', the relay's answer), and lift one; the list is read newest first by seq.
--
-- Addresses are kept in lower case and compared in lower case, as member compares them (its
-- members_email_key is on lower (email)): a bounce of Taro@Example.jp and a complaint about
-- taro@example.jp are one entry. Rows of before that differ only in case keep the oldest.
delete from suppressions a using suppressions b
    where lower (a.email) = lower (b.email) and a.email <> b.email
      and (a.at_ms, a.email) > (b.at_ms, b.email);
update suppressions set email = lower (email) where email <> lower (email);
alter table suppressions add constraint suppressions_lower_case check (email = lower (email));

-- reason was the relay's answer: it is the detail now, and reason says where the entry came from.
alter table suppressions rename column reason to detail;
alter table suppressions add column reason text not null default 'bounce'
    check (reason in ('bounce', 'manual'));
alter table suppressions alter column reason drop default;
alter table suppressions add column added_by text not null default '';

-- The rows of before are numbered as they are stored: about the order of their bounces (the
-- table was only ever inserted into, but for the case changes above).
alter table suppressions add column seq bigint generated always as identity;
create unique index suppressions_seq on suppressions (seq);
