-- 016_relay_hold.sql - a relay that takes no mail (it does not answer, or answers 421) holds
-- every mail a minute (rate.c, rate_relay_down): the queued ones are put off, and until_ms
-- holds back the claim of those queued later in that minute too (mail.c, mail_claim), which
-- went to the busy relay one after the other before, each only to hold the queue again.
create table relay_hold (
    one boolean primary key default true check (one),
    until_ms bigint not null
);
insert into relay_hold (until_ms) values (0);
