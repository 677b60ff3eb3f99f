-- 011_deposit_reason_code.sql - why a deposit was left to a person, as a stable code and in
-- Japanese beside the English sentence (deposit.c): the API answers in the caller's language.
alter table deposits
    add column reason_code text not null default '',
    add column reason_ja text not null default '';
