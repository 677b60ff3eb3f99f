-- 005_billing_notices.sql - two more transactional mails every business needs, seeded on as
-- migration 003's are (each its own template to edit, each its own automation to switch off):
-- an open invoice past its due date (billing's invoice.overdue, which comes once, and not while
-- dunning still speaks), and a card that expires at the end of next month
-- (payment_method.expiring, once per card). They start now: earlier events send nothing.
with seeded (name, subject, body, event_type) as (values
    ('お支払い期限切れ（請求書）', '【重要】請求書 {{event.number}} のお支払い期限を過ぎています',
     '{{member.name}} 様' || chr(10) || chr(10)
     || '請求書 {{event.number}} のお支払い（{{event.amount_due}} 円）の期限を過ぎています。' || chr(10)
     || 'お手数ですが、お支払いをお願いいたします。すでにお支払いの場合は、行き違いをご容赦ください。'
     || chr(10) || chr(10) || 'お問い合わせ: {{sender.contact}}' || chr(10) || '{{sender.business_name}}',
     'invoice.overdue'),
    ('カード有効期限のお知らせ', 'ご登録のカードの有効期限が近づいています',
     '{{member.name}} 様' || chr(10) || chr(10)
     || 'ご登録のカード（{{event.brand}} 末尾 {{event.last4}}、有効期限 {{event.exp_month}}/{{event.exp_year}}）の'
     || '有効期限が近づいています。' || chr(10)
     || '次回のお支払いに間に合うよう、マイページで新しいカードをご登録ください。'
     || chr(10) || chr(10) || '{{sender.business_name}}',
     'payment_method.expiring')
), templates_made as (
    insert into templates (name, kind, subject, text, created_at_ms, updated_at_ms)
    select name, 'transactional', subject, body, (extract (epoch from now ()) * 1000)::bigint,
           (extract (epoch from now ()) * 1000)::bigint
    from seeded returning id, name
), automations_made as (
    insert into automations (name, source, event_type, nth, active, starts_at_ms, created_at_ms,
                             scenario)
    select s.name, 'billing', s.event_type, 0, true, (extract (epoch from now ()) * 1000)::bigint,
           (extract (epoch from now ()) * 1000)::bigint,
           jsonb_build_object ('steps', jsonb_build_array (
               jsonb_build_object ('send', jsonb_build_object ('template_id', t.id))))
    from seeded s join templates_made t on t.name = s.name
    returning id, version, scenario
)
insert into automation_versions (automation_id, version, scenario)
    select id, version, scenario from automations_made;
