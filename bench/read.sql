-- read.sql - pgbench: the member service's GET, one prepared single-row SELECT by a random
-- seeded id. The column list is member_get's, as it stands (MEMBER_COLUMNS in
-- services/member/member_record.h, the tags' and the data key's subqueries included); keep the
-- two the same. The id
-- is computed the way bench/seed.sql made it.
\set n random(1, :members)
select id, email, name, name_kana, phone, status, version,
       coalesce ((extract (epoch from created_at) * 1000)::bigint, 0) as created_at_ms,
       coalesce ((extract (epoch from updated_at) * 1000)::bigint, 0) as updated_at_ms,
       coalesce ((extract (epoch from withdrawn_at) * 1000)::bigint, 0) as withdrawn_at_ms,
       withdrawn_reason, birthday::text as birthday, postal_code, prefecture, address, rank,
       array (select t.tag from member.member_tags t where t.member_seq = members.seq order by t.tag) as tags,
       attributes::text as attributes_json, note,
       coalesce ((extract (epoch from last_login_at) * 1000)::bigint, 0) as last_login_at_ms,
       consent_opt_in as email_opt_in, coalesce ((extract (epoch from consent_at) * 1000)::bigint, 0) as at_ms,
       consent_method as method, consent_source as source, seq,
       (extract (epoch from created_at) * 1000000)::bigint as created_us,
       (select k.wrapped_key from member.member_keys k where k.member_id = members.id) as wrapped_key
  from member.members where id = md5 ('kaiin-bench:' || :n)::uuid;
