-- 008_rank_rules.sql - the rank automation (README.md, "Rank automation"): staff's rules, the
-- members each would raise, and the changes queued for the member service. Analytics' own
-- history, as the alert rules: not rebuilt from events.

-- The rules, from the highest rank down (position 1 first); replaced whole by staff.
create table rank_rules (
    position int primary key check (position between 1 and 20),
    rank text not null,
    metric text not null check (metric in ('cumulative_spend', 'purchase_count')),
    threshold bigint not null check (threshold between 0 and 1000000000000)
);

-- Who saved the rules last, and when (one row).
create table rank_rules_saved (
    id boolean primary key default true check (id),
    updated_at_ms bigint not null default 0,
    updated_by text not null default ''
);
insert into rank_rules_saved default values;

-- Each member (not withdrawn) with the rank of the first rule they meet (target) and whether
-- the automation raises them to it: rules only raise, and only a member at basic (unless the
-- rules place basic) or at a rank the rules place below the target. A rank's place is its
-- first rule's position. The metrics: what the member paid (tax included) less refunds, and
-- their paid purchase invoices (the figures loyalty.c reads).
create view rank_targets as
select m.member_id, m.rank, t.rank as target,
       (m.rank in ('', 'basic') and c.place is null) or c.place > p.place as raise
  from members m
  cross join lateral (
      select coalesce ((select sum (total) from paid_invoices i where i.member_id = m.member_id), 0)
           - coalesce ((select sum (amount) from refunds r where r.member_id = m.member_id), 0) as cumulative_spend,
             (select count (*) from paid_invoices i where i.member_id = m.member_id
               and i.reason = 'purchase') as purchase_count) f
  cross join lateral (
      select rank from rank_rules
       where threshold <= case metric when 'cumulative_spend' then f.cumulative_spend else f.purchase_count end
       order by position limit 1) t
  cross join lateral (select min (position) as place from rank_rules where rank = t.rank) p
  cross join lateral (select min (position) as place from rank_rules where rank = m.rank) c
 where m.status <> 'withdrawn';

-- Members the rules raise, waiting for the tick to ask the member service (member.RankSet): one
-- row a member, written in the transaction that found it due (a consumer's, or the rules'
-- save); deleted once member answered, else tried again at next_at_ms.
create table rank_changes (
    member_id text primary key,
    queued_at_ms bigint not null,
    attempts int not null default 0,
    next_at_ms bigint not null default 0
);
create index rank_changes_due on rank_changes (next_at_ms);
