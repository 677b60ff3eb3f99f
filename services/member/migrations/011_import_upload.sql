-- 011_import_upload.sql - the import job's file is streamed in (issue 13.5): the gateway sends
-- it in slices, each converted and stored as whole records as it comes. A job is 'uploading'
-- until its last slice came, never run before; one whose slices stopped coming is deleted.
alter table import_jobs drop constraint import_jobs_state_check;
alter table import_jobs add constraint import_jobs_state_check
    check (state in ('uploading', 'queued', 'running', 'succeeded', 'failed', 'canceled'));
alter table import_jobs
    add column upload_text text not null default '',   -- the start of a record the last slice cut
    add column upload_cut text not null default '',    -- a character it cut: its bytes in hex
    add column upload_chunks integer not null default 0,    -- the chunks stored so far
    add column uploaded_at timestamptz;                 -- when the last slice came
create index import_jobs_uploading on import_jobs (uploaded_at) where state = 'uploading';
