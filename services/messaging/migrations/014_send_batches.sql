-- 014_send_batches.sql - a tick thread claims a batch of due mails in one statement (mail.c,
-- "Delivery" in the README): the claim names the claiming connection's server process, so the
-- claims of a process that died (its connections gone) are found and let go again.
alter table mails add column claim text;
create index mails_claimed on mails (claim) where claim is not null;

-- The one spelling of a server process as a claim names it: its pid and start time (a pid is
-- reused; the pair is not).
create function mail_backend_token (pid integer, started timestamptz) returns text
    language sql immutable as $$ select pid::text || '@' || extract (epoch from started)::text $$;
grant execute on function mail_backend_token (integer, timestamptz) to kaiin_messaging;
