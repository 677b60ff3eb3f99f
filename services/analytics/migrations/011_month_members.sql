-- 011_month_members.sql - the members and active members of months that have ended, counted
-- once per inactivity window (issue 11): counting them means reading every login in each
-- month's window, the most of what the subscriptions route and the monthly report cost.
--
-- A month's counts change only through a member event about a time before its end (a late
-- one, or a rebuild): the consumer deletes the counts of the months ending after such a time,
-- in its transaction (ingest.c). So that a count made while a batch of member events was
-- being applied is not kept, the consumer also moves month_members_epoch once per
-- transaction, and a route keeps what it counted only when the epoch it read before counting
-- is still the one committed and no batch holds it (metrics.c).
create table month_members (
    window_ms bigint not null,
    end_ms bigint not null,
    members bigint not null,
    active_members bigint not null,
    primary key (window_ms, end_ms)
);
create index month_members_end on month_members (end_ms);

create table month_members_epoch (
    n bigint not null,
    xid bigint not null            -- the transaction that last moved it (once per transaction)
);
insert into month_members_epoch values (0, 0);

-- The rebuild's truncate of members (or of the timeline, the logins) empties the counts too.
create function members_truncated () returns trigger language plpgsql set search_path from current as $$
begin
    truncate month_members;
    return null;
end $$;

create trigger members_truncated after truncate on members for each statement execute function members_truncated ();
create trigger timeline_truncated after truncate on timeline for each statement execute function members_truncated ();
