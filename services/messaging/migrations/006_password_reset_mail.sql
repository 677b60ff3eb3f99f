-- 006_password_reset_mail.sql - the mail a member who forgot the password waits for, seeded on
-- as the other transactional mails are: member's member.password_reset_requested carries the
-- link to the portal's reset page and when it stops working. Without it a fresh install sent
-- nothing, and a member asking for a reset could never sign in again. It starts now.
with seeded (name, subject, body, html) as (values
    ('パスワード再設定のご案内', '【{{sender.business_name}}】パスワード再設定のご案内',
     '{{member.name}} 様' || chr(10) || chr(10)
     || 'パスワード再設定のお申し込みを受け付けました。' || chr(10)
     || '次のリンクから新しいパスワードを設定してください。' || chr(10) || chr(10)
     || '{{event.reset_url}}' || chr(10) || chr(10)
     || 'リンクの有効期限: {{event.expires_at}}' || chr(10)
     || 'お心当たりのない場合は、このメールを破棄してください。パスワードは変わりません。'
     || chr(10) || chr(10) || 'お問い合わせ: {{sender.contact}}' || chr(10) || '{{sender.business_name}}',
     '<p>{{member.name}} 様</p>'
     || '<p>パスワード再設定のお申し込みを受け付けました。次のボタンから新しいパスワードを設定してください。</p>'
     || '<p><a href="{{event.reset_url}}">パスワードを再設定する</a></p>'
     || '<p>リンクの有効期限: {{event.expires_at}}<br>'
     || 'お心当たりのない場合は、このメールを破棄してください。パスワードは変わりません。</p>'
     || '<p>お問い合わせ: {{sender.contact}}<br>{{sender.business_name}}</p>')
), templates_made as (
    insert into templates (name, kind, subject, text, html, created_at_ms, updated_at_ms)
    select name, 'transactional', subject, body, html, (extract (epoch from now ()) * 1000)::bigint,
           (extract (epoch from now ()) * 1000)::bigint
    from seeded returning id, name
), automations_made as (
    insert into automations (name, source, event_type, nth, active, starts_at_ms, created_at_ms,
                             scenario)
    select t.name, 'member', 'member.password_reset_requested', 0, true,
           (extract (epoch from now ()) * 1000)::bigint, (extract (epoch from now ()) * 1000)::bigint,
           jsonb_build_object ('steps', jsonb_build_array (
               jsonb_build_object ('send', jsonb_build_object ('template_id', t.id))))
    from templates_made t
    returning id, version, scenario
)
insert into automation_versions (automation_id, version, scenario)
    select id, version, scenario from automations_made;
