-- 015_due_order.sql - the tick takes due runs in the order (due_at_ms, seq) (scenario.c,
-- scenario_due); an index on due_at_ms alone left PostgreSQL to read, join and sort every run
-- due at the same moment for each batch: a test-clock move that renews 5 000 subscriptions at
-- once makes 15 000 runs due at one due_at_ms, and each took 2.3 s (an external sort of all of
-- them) where the index on both takes 0.3 ms.
create index automation_runs_due_order on automation_runs (due_at_ms, seq) where status = 'active';
drop index automation_runs_due;

-- The claim of due mails (mail.c, mail_claim) takes automations' mails and the others in
-- turns, each kind the earliest due first: an index for each kind, so that neither is read
-- through the other's backlog.
create index mails_due_automated on mails (due_at_ms, seq)
    where status = 'queued' and automation_id is not null;
create index mails_due_other on mails (due_at_ms, seq)
    where status = 'queued' and automation_id is null;
