-- 010_import_error_codes.sql - each rejected row an import job keeps has its reason's code
-- (docs/errors.md), as the synchronous import answers it; rows kept before have the code of a
-- reason without one.
alter table import_job_errors add column code text not null default 'invalid';
