-- 005_scheduler_step.sql - the moment the scheduled work is being done as of, shared by every
-- tick thread and process so that they work on one step side by side: scheduler.c
alter table scheduler add column step timestamptz;    -- null: the next one is to be found
