-- 004_scheduler_horizon.sql - how far in time the scheduled work has been taken, so that a
-- long move of the clock (or a restart after a long stop) takes the work in the order it
-- falls due: scheduler.c
create table scheduler (
    one boolean primary key default true check (one),      -- a single row
    horizon timestamptz not null    -- everything due by then has been done
);
insert into scheduler (horizon) values (now ());
