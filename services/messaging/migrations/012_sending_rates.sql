-- 012_sending_rates.sql - how fast mail may go out (rate.c), and in which character set
-- (smtp.c). Mobile carriers' mail servers (docomo, au, SoftBank) refuse or delay a sender who
-- goes faster than they allow; a relay may cap the sender as a whole.
alter table settings
    add column rate_per_minute integer not null default 0 check (rate_per_minute between 0 and 1000000),
    add column charset text not null default 'utf-8' check (charset in ('utf-8', 'iso-2022-jp'));

create table domain_rates (
    domain text primary key check (domain ~ '^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$'),
    per_minute integer not null check (per_minute between 1 and 100000)
);

-- The mails sent (or being sent) in one clock minute, to one domain or to all ('*'): counted
-- in the sending transaction, so a counted mail is one that was sent or is in hand.
create table send_windows (
    scope text not null,
    minute_ms bigint not null,
    sent integer not null,
    primary key (scope, minute_ms)
);
