-- 017_runs_list.sql - an automation's runs listed newest first, a page at a time
-- (GET /v1/messaging/automations/{id}/runs): without it each page reads every run of every
-- automation.
create index automation_runs_list on automation_runs (automation_id, seq);
