-- insert_member_outbox.sql - pgbench: what the member service does for POST /v1/members, the
-- reference for the write path: begin; member_insert (services/member/member_record.c);
-- outbox_append (common/outbox.c) with a real event payload; commit.
-- Variables from bench/run.sh: prefix, name, name_kana, phone, now_ms, event_type, payload (hex).
\set n random(1, 9000000000000000000)
begin;
insert into member.members (email, name, name_kana, phone, created_at, updated_at)
values (:prefix || '-' || :client_id || '-' || :n || '@bench.example.jp', :name, :name_kana, :phone,
        to_timestamp (:now_ms::bigint / 1000.0), to_timestamp (:now_ms::bigint / 1000.0))
returning id, email, name, name_kana, phone, status, version,
          (extract (epoch from created_at) * 1000)::bigint as created_ms,
          (extract (epoch from updated_at) * 1000)::bigint as updated_ms,
          coalesce ((extract (epoch from withdrawn_at) * 1000)::bigint, 0) as withdrawn_ms,
          coalesce (withdrawn_reason, '') as withdrawn_reason, seq \gset m_
insert into member.outbox (type, aggregate_id, occurred_at, payload)
values (:event_type, :m_id, to_timestamp (:now_ms::bigint / 1000.0), decode (:payload, 'hex'));
commit;
