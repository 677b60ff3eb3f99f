-- 003_scenarios.sql - automations become scenarios (a trigger, then steps: wait, send, tag,
-- branch; an exit goal), each member's way through one is a run; the guard rails' settings
-- (a weekly cap of marketing mail per member, a campaign that pauses itself on failures); and
-- the transactional mails every business needs, seeded on, in Japanese.

-- The scenario an automation runs: {"steps": [...], "goal": {"source", "event_type"}}
-- (README, "Automations"). Every change of it is kept as a version: a run follows the version
-- it entered with, so editing an automation strands no member mid-flow.
alter table automations add column scenario jsonb not null default '{"steps": []}';
update automations set scenario = jsonb_build_object ('steps',
    case when delay_minutes > 0
         then jsonb_build_array (jsonb_build_object ('wait', jsonb_build_object ('minutes', delay_minutes)))
         else '[]'::jsonb end
    || jsonb_build_array (jsonb_build_object ('send', jsonb_build_object ('template_id', template_id))));
alter table automations drop column delay_minutes, drop column template_id;

create table automation_versions (
    automation_id uuid not null references automations (id),
    version bigint not null,
    scenario jsonb not null,
    primary key (automation_id, version)
);
insert into automation_versions (automation_id, version, scenario)
    select id, version, scenario from automations;

-- A member's way through an automation: entered by one occurrence of its trigger (at most one
-- run per occurrence, and none while the member's previous run of it is still active),
-- advanced by the tick one step per transaction. position: the next step's index; due_at_ms:
-- when it runs. active → done (past the last step) | goal (the exit goal's event came) |
-- canceled (the member withdrew or was erased).
create table automation_runs (
    seq bigint generated always as identity primary key,
    id uuid not null unique default gen_random_uuid (),
    automation_id uuid not null references automations (id),
    version bigint not null,
    member_id uuid not null,
    event_id text not null,
    event_json jsonb not null,            -- the trigger's variables, for every mail it sends
    entered_at_ms bigint not null,        -- the trigger's time: "N days after the trigger"
    position int not null default 0,
    due_at_ms bigint not null,
    status text not null default 'active' check (status in ('active', 'done', 'goal', 'canceled')),
    last_mail_id uuid,                    -- the mail its last send step queued (a click branch)
    updated_at_ms bigint not null,
    foreign key (automation_id, version) references automation_versions (automation_id, version)
);
create unique index automation_runs_once on automation_runs (automation_id, member_id, event_id);
create unique index automation_runs_active on automation_runs (automation_id, member_id)
    where status = 'active';
create index automation_runs_due on automation_runs (due_at_ms) where status = 'active';
create index automation_runs_member on automation_runs (member_id) where status = 'active';

-- A scenario sends several mails per occurrence: one per (automation, member, event, step).
alter table mails
    add column step int not null default 0,
    add column links text[],              -- an automation mail's tracked links, kept when sent
    drop constraint mails_status_check,
    add constraint mails_status_check check (status in
        ('queued', 'held', 'sent', 'failed', 'bounced', 'suppressed', 'canceled', 'capped'));
drop index mails_once;
create unique index mails_once on mails (automation_id, member_id, event_id, step)
    where automation_id is not null;
create index mails_member_marketing on mails (member_id, sent_at_ms)
    where kind = 'marketing' and status = 'sent';

-- The guard rails. marketing_cap_per_week: at most that many marketing mails to one member in
-- any 7 days, campaigns' and automations' together (0: no cap). A campaign pauses itself once
-- pause_after of its mails were tried and more than pause_failure_percent of them failed or
-- bounced (0: never).
alter table settings
    add column marketing_cap_per_week int not null default 0
        check (marketing_cap_per_week between 0 and 1000),
    add column pause_failure_percent int not null default 10
        check (pause_failure_percent between 0 and 100),
    add column pause_after int not null default 100 check (pause_after between 1 and 1000000);

alter table campaigns add column paused_reason text not null default '';

-- The transactional mails (取引メール), on by default, each its own template to edit. They
-- start now: events that occurred before this migration send nothing.
with seeded (key, name, subject, body, source, event_type, steps, goal) as (values
    ('welcome', 'ようこそ（会員登録）', 'ご登録ありがとうございます',
     '{{member.name}} 様' || chr(10) || chr(10) || '{{sender.business_name}} へのご登録ありがとうございます。'
     || chr(10) || '会員番号: {{member.id}}' || chr(10) || chr(10)
     || 'ご不明な点は {{sender.contact}} までお問い合わせください。',
     'member', 'member.registered', '[{"send": {}}]', null),
    ('receipt', '領収（お支払い完了）', 'お支払いを確認しました（請求書 {{event.number}}）',
     '{{member.name}} 様' || chr(10) || chr(10) || '請求書 {{event.number}} のお支払い {{event.amount_paid}} 円を確認しました。'
     || chr(10) || 'ありがとうございました。' || chr(10) || chr(10) || '{{sender.business_name}}',
     'billing', 'invoice.paid', '[{"send": {}}]', null),
    ('dunning', '督促（お支払い失敗）', '【重要】お支払いが確認できませんでした',
     '{{member.name}} 様' || chr(10) || chr(10) || '{{event.amount}} 円のお支払いが完了しませんでした（{{event.failure_message}}）。'
     || chr(10) || 'お支払い方法をご確認のうえ、お支払いをお願いいたします。' || chr(10)
     || 'コンビニ払込番号: {{event.konbini_number}}' || chr(10) || '銀行振込の照会番号: {{event.bank_reference}}'
     || chr(10) || chr(10) || 'お問い合わせ: {{sender.contact}}' || chr(10) || '{{sender.business_name}}',
     'billing', 'payment.failed', '[{"send": {}}, {"wait": {"days": 3, "at": "10:00"}}, {"send": {}}]',
     '{"source": "billing", "event_type": "invoice.paid"}'),
    ('canceled', 'ご解約の確認', 'ご解約を承りました',
     '{{member.name}} 様' || chr(10) || chr(10) || 'ご契約（{{event.plan_code}}）の解約を承りました。'
     || chr(10) || 'これまでのご利用ありがとうございました。' || chr(10) || chr(10) || '{{sender.business_name}}',
     'billing', 'subscription.canceled', '[{"send": {}}]', null)
), templates_made as (
    insert into templates (name, kind, subject, text, created_at_ms, updated_at_ms)
    select name, 'transactional', subject, body, (extract (epoch from now ()) * 1000)::bigint,
           (extract (epoch from now ()) * 1000)::bigint
    from seeded returning id, name
), automations_made as (
    insert into automations (name, source, event_type, nth, active, starts_at_ms, created_at_ms,
                             scenario)
    select s.name, s.source, s.event_type, 0, true, (extract (epoch from now ()) * 1000)::bigint,
           (extract (epoch from now ()) * 1000)::bigint,
           jsonb_strip_nulls (jsonb_build_object ('steps',
               (select jsonb_agg (case when step ? 'send'
                                       then jsonb_build_object ('send', jsonb_build_object ('template_id', t.id))
                                       else step end order by n)
                from jsonb_array_elements (s.steps::jsonb) with ordinality as e (step, n)),
               'goal', s.goal::jsonb))
    from seeded s join templates_made t on t.name = s.name
    returning id, version, scenario
)
insert into automation_versions (automation_id, version, scenario)
    select id, version, scenario from automations_made;
