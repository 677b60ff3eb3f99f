-- 006_data_rights.sql - erasure (APPI): when a member's personal data was anonymised
alter table members add column erased_at timestamptz;
