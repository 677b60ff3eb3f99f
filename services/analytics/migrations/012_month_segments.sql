-- 012_month_segments.sql - the members in each loyalty segment at the end of months that have
-- ended (issue 11): the monthly report counted them from every paid invoice on each request.
--
-- A month's counts change only through a payment, refund or withdrawal before its end (a late
-- event, or a rebuild), or a reversal: the consumer forgets the months ending after the
-- earliest such time, in its transaction, holding the advisory lock
-- hashtext ('analytics.month_segments') shared; a route keeps what it counted only when it
-- held that lock alone from before it counted to its commit (loyalty.c).
create table month_segments (
    end_ms bigint primary key,       -- the month's last millisecond
    members int[] not null           -- per segment, in the report's order
);

-- The rebuild's truncate of what either kept count is made of empties both (011's function
-- emptied month_members alone).
create function kept_months_truncated () returns trigger language plpgsql set search_path from current as $$
begin
    truncate month_members, month_segments;
    return null;
end $$;

drop trigger members_truncated on members;
drop trigger timeline_truncated on timeline;
drop function members_truncated ();
create trigger members_truncated after truncate on members for each statement execute function kept_months_truncated ();
create trigger timeline_truncated after truncate on timeline for each statement execute function kept_months_truncated ();
create trigger paid_invoices_truncated after truncate on paid_invoices for each statement execute function kept_months_truncated ();
create trigger refunds_truncated after truncate on refunds for each statement execute function kept_months_truncated ();
