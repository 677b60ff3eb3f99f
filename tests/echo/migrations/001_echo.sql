-- 001_echo.sql - what the test-only echo service keeps: the last thing said under each id
create table said (
    id text primary key,
    text text not null,
    said_at timestamptz not null,
    version bigint not null default 1
);
