-- 004_per_event_runs.sql - a scenario that never waits (a receipt, a password reset: send at
-- once) runs for every occurrence of its trigger, even two in the same second; one that waits
-- (a guide, 督促) still takes a member once at a time. The second of two password resets asked
-- within milliseconds used to find the first run still active and send nothing.
alter table automation_runs add column exclusive boolean not null default true;
update automation_runs r set exclusive = jsonb_path_exists (v.scenario, '$.**.wait')
    from automation_versions v where v.automation_id = r.automation_id and v.version = r.version;
drop index automation_runs_active;
create unique index automation_runs_active on automation_runs (automation_id, member_id)
    where status = 'active' and exclusive;
