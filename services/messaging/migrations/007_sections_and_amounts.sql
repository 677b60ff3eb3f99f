-- 007_sections_and_amounts.sql - the seeded mails write amounts as a Japanese reader expects them
-- (1,100 円, not 1100 円), and the 督促 mail shows only the ways to pay that apply: the konbini
-- number when the payment has one, the bank-transfer reference when it has one, and the
-- failure's reason in brackets only when there is one (a card decline showed two empty lines and
-- "（）"). Templates can now hold sections ({{#if …}} … {{else}} … {{/if}}) and the filters
-- "number" and "yen". A template edited since it was seeded (version > 1) is left as it is.
update templates set
    text = '{{member.name}} 様' || chr(10) || chr(10)
        || '{{event.amount | number}} 円のお支払いが完了しませんでした'
        || '{{#if event.failure_message}}（{{event.failure_message}}）{{/if}}。' || chr(10)
        || 'お支払い方法をご確認のうえ、お支払いをお願いいたします。' || chr(10)
        || '{{#if event.konbini_number}}' || chr(10)
        || 'コンビニ払込番号: {{event.konbini_number}}' || chr(10)
        || '{{/if}}' || chr(10)
        || '{{#if event.bank_reference}}' || chr(10)
        || '銀行振込の照会番号: {{event.bank_reference}}' || chr(10)
        || '{{/if}}' || chr(10)
        || chr(10) || 'お問い合わせ: {{sender.contact}}' || chr(10) || '{{sender.business_name}}',
    updated_at_ms = (extract (epoch from now ()) * 1000)::bigint,
    version = version + 1
where name = '督促（お支払い失敗）' and version = 1 and not deleted;

update templates set
    text = replace (replace (text, '{{event.amount_paid}} 円', '{{event.amount_paid | number}} 円'),
                    '{{event.amount_due}} 円', '{{event.amount_due | number}} 円'),
    updated_at_ms = (extract (epoch from now ()) * 1000)::bigint,
    version = version + 1
where name in ('領収（お支払い完了）', 'お支払い期限切れ（請求書）') and version = 1 and not deleted;
