-- 019_unsubscribes_listed.sql - a member who said no to marketing mail is on the suppression
-- list as reason 'unsubscribe' (services/messaging/README.md, "Suppression list"), by either
-- way they said it: the one-click link of a mail, or their consent turned to no in member's
-- record (member.updated). The entry is read from the members row, not kept as a row of
-- suppressions: its when, how and where are the unsubscribe's (unsubscribed_at_ms,
-- unsubscribed_mail_id) or the consent record's (consented_at_ms, consent_method,
-- consent_source), which the law asks us to keep there already.
--
-- What the row cannot tell is whether a "no" withdrew a consent or was never a yes (a member
-- who signed up without opting in is no unsubscribe): unsubscribed_seq is written once, when
-- marketing mail stops for the member's own no, and cleared when they opt in again. It is the
-- entry's place in the list, drawn from the suppressions' own numbers, so that the list stays
-- one order, newest first, for one cursor.
alter table members add column unsubscribed_seq bigint;
create unique index members_unsubscribed_seq on members (unsubscribed_seq)
    where unsubscribed_seq is not null;

-- The one-click unsubscribes of before that no later consent undid, in the order they came.
-- A consent withdrawn in member's record before this migration cannot be told from a no given
-- at sign-up: it is listed at the member's next no, not now.
update members m set unsubscribed_seq = o.seq
    from (select id, nextval (pg_get_serial_sequence ('suppressions', 'seq')) as seq
          from (select id from members where unsubscribed_at_ms > 0 and not marketing
                order by unsubscribed_at_ms, id) u) o
    where m.id = o.id;
