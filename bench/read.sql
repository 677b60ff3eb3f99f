-- read.sql - pgbench: the member service's GET, one prepared single-row SELECT by a random
-- seeded id. The column list is member_get's, as it stands (MEMBER_COLUMNS in
-- services/member/member_store.c, the tags' subquery included); keep the two the same. The id
-- is computed the way bench/seed.sql made it.
\set n random(1, :members)
select id, email, name, name_kana, phone, status, version,
       coalesce ((extract (epoch from created_at) * 1000)::bigint, 0),
       coalesce ((extract (epoch from updated_at) * 1000)::bigint, 0),
       coalesce ((extract (epoch from withdrawn_at) * 1000)::bigint, 0),
       coalesce (withdrawn_reason, ''), seq,
       coalesce (birthday::text, ''), postal_code, prefecture, address, rank,
       coalesce ((select json_agg (t.tag order by t.tag) from member.member_tags t
                  where t.member_seq = members.seq)::text, '[]'),
       attributes::text, note,
       coalesce (consent_opt_in::text, ''), coalesce ((extract (epoch from consent_at) * 1000)::bigint, 0),
       coalesce (consent_method, ''), coalesce (consent_source, ''),
       coalesce ((extract (epoch from last_login_at) * 1000)::bigint, 0),
       (extract (epoch from created_at) * 1000000)::bigint
  from member.members where id = md5 ('kaiin-bench:' || :n)::uuid;
