-- 009_attachments.sql - a scenario's send step can attach billing's PDF of the invoice its
-- trigger names ({"send": {"template_id": …, "attach": "invoice" | "receipt"}}): the mail keeps
-- which, and the tick fetches the PDF from billing when it sends. The seeded receipt mail now
-- carries the 領収書 and the overdue notice the 請求書, unless staff edited them since.
alter table mails add column attachment text not null default ''
    check (attachment in ('', 'invoice', 'receipt'));

with attached (name, event_type, kind) as (values
    ('領収（お支払い完了）', 'invoice.paid', 'receipt'),
    ('お支払い期限切れ（請求書）', 'invoice.overdue', 'invoice')
), changed as (
    update automations a
    set scenario = jsonb_set (a.scenario, '{steps,0,send,attach}', to_jsonb (x.kind)),
        version = a.version + 1
    from attached x
    where a.name = x.name and a.source = 'billing' and a.event_type = x.event_type
      and a.version = 1 and jsonb_array_length (a.scenario -> 'steps') = 1
      and a.scenario -> 'steps' -> 0 ? 'send'
    returning a.id, a.version, a.scenario
)
insert into automation_versions (automation_id, version, scenario)
    select id, version, scenario from changed;
