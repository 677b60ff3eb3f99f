-- insert_member.sql - pgbench: member_insert alone, as one autocommitted statement (for
-- information: the service also writes the outbox row, see insert_member_outbox.sql).
-- Variables from bench/run.sh: prefix, name, name_kana, phone, now_ms.
\set n random(1, 9000000000000000000)
insert into member.members (email, name, name_kana, phone, created_at, updated_at)
values (:prefix || '-' || :client_id || '-' || :n || '@bench.example.jp', :name, :name_kana, :phone,
        to_timestamp (:now_ms::bigint / 1000.0), to_timestamp (:now_ms::bigint / 1000.0))
returning id, email, name, name_kana, phone, status, version,
          (extract (epoch from created_at) * 1000)::bigint,
          (extract (epoch from updated_at) * 1000)::bigint,
          coalesce ((extract (epoch from withdrawn_at) * 1000)::bigint, 0),
          coalesce (withdrawn_reason, ''), seq;
