-- 009_import_jobs.sql - the CSV import as a job (issue 13.5): the file is stored in chunks of
-- whole records when it is posted, and a tick thread imports one chunk a transaction, moving
-- the job's cursor (next_chunk) and counters in the same commit: a crash resumes from the last
-- committed chunk and no row is imported twice.
create table import_jobs (
    id uuid primary key,
    state text not null default 'queued'
        check (state in ('queued', 'running', 'succeeded', 'failed', 'canceled')),
    mode text not null default 'partial',
    tags_mode text not null default 'replace',
    charset text not null default '',
    header text not null,                   -- the file's header record, as UTF-8 text
    rows_total integer not null,
    rows_done integer not null default 0,
    next_chunk integer not null default 0,  -- the first chunk not yet imported
    created integer not null default 0,
    updated integer not null default 0,
    unchanged integer not null default 0,
    rejected integer not null default 0,
    error text not null default '',         -- why a failed job failed
    caller_id text not null default '',     -- who posted it: its rows are written as theirs
    caller_role text not null default '',
    request_id text not null default '',
    ip text not null default '',
    language text not null default '',
    created_at timestamptz not null,
    started_at timestamptz,
    finished_at timestamptz
);
create index import_jobs_active on import_jobs (created_at) where state in ('queued', 'running');

-- The file, seq 0, 1, ...: each chunk whole records (MEMBER_IMPORT_BATCH of them), deleted
-- once imported.
create table import_job_chunks (
    job_id uuid not null references import_jobs (id) on delete cascade,
    seq integer not null,
    first_row integer not null,             -- its first record's row (the header is row 1)
    data text not null,
    primary key (job_id, seq)
);
alter table import_job_chunks alter column data set storage external;

-- The first 1000 rejected rows of a job, with their reasons in the caller's language.
create table import_job_errors (
    job_id uuid not null references import_jobs (id) on delete cascade,
    row integer not null,
    col text not null,
    reason text not null
);
create index import_job_errors_job on import_job_errors (job_id, row);

-- The emails the job has met, each with its first row: a later row repeating one is rejected
-- naming that row, as the synchronous import does within its file.
create table import_job_emails (
    job_id uuid not null references import_jobs (id) on delete cascade,
    email_key text not null,
    row integer not null,
    primary key (job_id, email_key)
);
