-- read.sql - pgbench: the member service's GET, one prepared single-row SELECT by a random
-- seeded id. The column list is member_get's (MEMBER_COLUMNS in services/member/member_store.c);
-- the id is computed the way bench/seed.sql made it.
\set n random(1, :members)
select id, email, name, name_kana, phone, status, version,
       (extract (epoch from created_at) * 1000)::bigint,
       (extract (epoch from updated_at) * 1000)::bigint,
       coalesce ((extract (epoch from withdrawn_at) * 1000)::bigint, 0),
       coalesce (withdrawn_reason, ''), seq
  from member.members where id = md5 ('kaiin-bench:' || :n)::uuid;
