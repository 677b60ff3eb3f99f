-- 010_month_rollup.sql - the movements rolled up by JST month, so that the metrics routes read a
-- row per plan and month instead of every movement once per month asked (issue 11).
--
-- Kept by a trigger on movements, in the transaction that writes the movement (the consumer's,
-- with its position), and wiped with movements: the rebuild's truncate of movements empties them
-- too, so a rebuild gives them again from sequence 0. They hold sums of movements alone, so they
-- do not depend on the order the movements came in: a late movement (a month before the member's
-- last) moves the months after it as well.
--
-- A month is analytics_month_t: year * 12 + month - 1, in JST (UTC+9, no summer time).

-- A member's MRR on a plan ('*': every plan) at the start (s) and end (e) of each month in
-- which it moved. In the months between two rows it stays at the first row's e.
create table member_months (
    member_id text not null,
    plan_code text not null,
    month int not null,
    s bigint not null,
    e bigint not null,
    primary key (member_id, plan_code, month)
);

-- Per plan and month: the movements' sums, and how the month changed what metrics.c counts over
-- members (each a sum over the member_months rows of that month; a member without a row in
-- the month changes nothing):
--   subscribers:    members with MRR > 0 at the end less at the start ((e > 0) − (s > 0))
--   paying_mrr:     the MRR of the members above 0 at the end less at the start
--   churned:        members above 0 at the start and not at the end
--   retained_net:   over members above 0 at the start, e − s (their MRR kept, less their start)
--   retained_gross: the same with e capped at s
-- max_at_ms: the latest movement's time, so that a month still running can tell whether it
-- holds movements after the clock's now (then metrics.c counts from the movements instead).
create table month_rollup (
    plan_code text not null,
    month int not null,
    total bigint not null default 0,
    new_business bigint not null default 0,
    expansion bigint not null default 0,
    contraction bigint not null default 0,
    churn bigint not null default 0,
    reactivation bigint not null default 0,
    subscribers bigint not null default 0,
    paying_mrr bigint not null default 0,
    churned bigint not null default 0,
    retained_net bigint not null default 0,
    retained_gross bigint not null default 0,
    max_at_ms bigint not null default 0,
    primary key (plan_code, month)
);

-- Each member's cohort: the month of its new-business movement (plan '*').
create table member_cohorts (
    member_id text primary key,
    cohort int not null
);

-- Per cohort and month from the cohort's on: customers and new_business (the cohort's own,
-- in its month's row), and how the month changed the cohort's members paying (MRR > 0) and
-- their MRR. The cohort's month counts each member's whole MRR at its end.
create table cohort_rollup (
    cohort int not null,
    month int not null,
    customers bigint not null default 0,
    new_business bigint not null default 0,
    paying bigint not null default 0,
    mrr bigint not null default 0,
    primary key (cohort, month)
);

create function movements_roll_up () returns trigger language plpgsql set search_path from current as $$
declare
    m int;
    t timestamp := to_timestamp (((new.at_ms + 32400000) / 1000)::double precision) at time zone 'UTC';
    before_e bigint;
    cohort_of int;
    r record;
    ns bigint;
    ne bigint;
    first boolean;
begin
    m := (extract (year from t) * 12 + extract (month from t) - 1)::int;
    select e into before_e from member_months
        where member_id = new.member_id and plan_code = new.plan_code and month < m
        order by month desc limit 1;
    insert into member_months values (new.member_id, new.plan_code, m, coalesce (before_e, 0),
                                      coalesce (before_e, 0))
        on conflict do nothing;
    if new.plan_code = '*' then
        select cohort into cohort_of from member_cohorts where member_id = new.member_id;
    end if;
    for r in select month, s, e from member_months
             where member_id = new.member_id and plan_code = new.plan_code and month >= m
             order by month for update loop
        ns := r.s + case when r.month > m then new.delta else 0 end;
        ne := r.e + new.delta;
        update member_months set s = ns, e = ne
            where member_id = new.member_id and plan_code = new.plan_code and month = r.month;
        insert into month_rollup as u values (new.plan_code, r.month,
            ne - ns - (r.e - r.s),
            case when r.month = m and new.kind = 'new_business' then new.delta else 0 end,
            case when r.month = m and new.kind = 'expansion' then new.delta else 0 end,
            case when r.month = m and new.kind = 'contraction' then new.delta else 0 end,
            case when r.month = m and new.kind = 'churn' then new.delta else 0 end,
            case when r.month = m and new.kind = 'reactivation' then new.delta else 0 end,
            (ne > 0)::int - (ns > 0)::int - ((r.e > 0)::int - (r.s > 0)::int),
            greatest (ne, 0) - greatest (ns, 0) - (greatest (r.e, 0) - greatest (r.s, 0)),
            (ns > 0 and ne <= 0)::int - (r.s > 0 and r.e <= 0)::int,
            case when ns > 0 then ne - ns else 0 end - case when r.s > 0 then r.e - r.s else 0 end,
            case when ns > 0 then least (ns, ne) - ns else 0 end
              - case when r.s > 0 then least (r.s, r.e) - r.s else 0 end,
            case when r.month = m then new.at_ms else 0 end)
        on conflict (plan_code, month) do update set
            total = u.total + excluded.total,
            new_business = u.new_business + excluded.new_business,
            expansion = u.expansion + excluded.expansion,
            contraction = u.contraction + excluded.contraction,
            churn = u.churn + excluded.churn,
            reactivation = u.reactivation + excluded.reactivation,
            subscribers = u.subscribers + excluded.subscribers,
            paying_mrr = u.paying_mrr + excluded.paying_mrr,
            churned = u.churned + excluded.churned,
            retained_net = u.retained_net + excluded.retained_net,
            retained_gross = u.retained_gross + excluded.retained_gross,
            max_at_ms = greatest (u.max_at_ms, excluded.max_at_ms);
        if cohort_of is not null and r.month >= cohort_of then
            first := r.month = cohort_of;
            insert into cohort_rollup as c (cohort, month, paying, mrr) values (cohort_of, r.month,
                (ne > 0)::int - (r.e > 0)::int - case when first then 0 else (ns > 0)::int - (r.s > 0)::int end,
                ne - r.e - case when first then 0 else ns - r.s end)
            on conflict (cohort, month) do update set paying = c.paying + excluded.paying, mrr = c.mrr + excluded.mrr;
        end if;
    end loop;
    if new.plan_code = '*' and new.kind = 'new_business' and cohort_of is null then
        insert into member_cohorts values (new.member_id, m);
        insert into cohort_rollup as c (cohort, month, customers, new_business) values (m, m, 1, new.delta)
            on conflict (cohort, month) do update set customers = c.customers + 1,
                new_business = c.new_business + excluded.new_business;
        for r in select month, s, e from member_months
                 where member_id = new.member_id and plan_code = '*' and month >= m loop
            first := r.month = m;
            insert into cohort_rollup as c (cohort, month, paying, mrr) values (m, r.month,
                (r.e > 0)::int - case when first then 0 else (r.s > 0)::int end,
                r.e - case when first then 0 else r.s end)
            on conflict (cohort, month) do update set paying = c.paying + excluded.paying, mrr = c.mrr + excluded.mrr;
        end loop;
    end if;
    return null;
end $$;

create function movements_truncated () returns trigger language plpgsql set search_path from current as $$
begin
    truncate member_months, month_rollup, member_cohorts, cohort_rollup;
    return null;
end $$;

create trigger movements_roll_up after insert on movements for each row execute function movements_roll_up ();
create trigger movements_truncated after truncate on movements for each statement execute function movements_truncated ();

-- The movements already kept, rolled up at once as the trigger would have (the sums do not
-- depend on order; a member's cohort is its first new-business movement, by id), through
-- two work tables dropped at the end (the owner may not create temporary ones).
create table rolled_movements as
select id, member_id, plan_code, at_ms, kind, delta, (extract (year from t) * 12 + extract (month from t) - 1)::int as month
  from (select *, to_timestamp (((at_ms + 32400000) / 1000)::double precision) at time zone 'UTC' as t from movements) v;

insert into member_months
select member_id, plan_code, month, e - d, e
  from (select member_id, plan_code, month, d, sum (d) over (partition by member_id, plan_code order by month) as e
          from (select member_id, plan_code, month, sum (delta) as d from rolled_movements group by 1, 2, 3) x) y;

insert into month_rollup
select plan_code, month, c.total, k.new_business, k.expansion, k.contraction, k.churn, k.reactivation,
       c.subscribers, c.paying_mrr, c.churned, c.retained_net, c.retained_gross, k.max_at_ms
  from (select plan_code, month, sum (e - s) as total, sum ((e > 0)::int - (s > 0)::int) as subscribers,
               sum (greatest (e, 0) - greatest (s, 0)) as paying_mrr, sum ((s > 0 and e <= 0)::int) as churned,
               sum (case when s > 0 then e - s else 0 end) as retained_net,
               sum (case when s > 0 then least (s, e) - s else 0 end) as retained_gross
          from member_months group by 1, 2) c
  join (select plan_code, month, max (at_ms) as max_at_ms,
               coalesce (sum (delta) filter (where kind = 'new_business'), 0) as new_business,
               coalesce (sum (delta) filter (where kind = 'expansion'), 0) as expansion,
               coalesce (sum (delta) filter (where kind = 'contraction'), 0) as contraction,
               coalesce (sum (delta) filter (where kind = 'churn'), 0) as churn,
               coalesce (sum (delta) filter (where kind = 'reactivation'), 0) as reactivation
          from rolled_movements group by 1, 2) k using (plan_code, month);

create table rolled_cohorts as
select distinct on (member_id) member_id, month as cohort, delta
  from rolled_movements where plan_code = '*' and kind = 'new_business' order by member_id, id;

insert into member_cohorts select member_id, cohort from rolled_cohorts;

insert into cohort_rollup (cohort, month, customers, new_business, paying, mrr)
select cohort, month, sum (customers), sum (new_business), sum (paying), sum (mrr)
  from (select cohort, cohort as month, 1 as customers, delta as new_business, 0 as paying, 0 as mrr from rolled_cohorts
        union all
        select c.cohort, m.month, 0, 0, (m.e > 0)::int - case when m.month > c.cohort then (m.s > 0)::int else 0 end,
               m.e - case when m.month > c.cohort then m.s else 0 end
          from rolled_cohorts c join member_months m on m.member_id = c.member_id and m.plan_code = '*' and m.month >= c.cohort) x
 group by 1, 2;

drop table rolled_cohorts, rolled_movements;
