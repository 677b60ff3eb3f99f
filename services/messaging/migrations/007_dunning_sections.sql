-- 007_dunning_sections.sql - the seeded 督促 mail shows only the ways to pay that apply: the
-- konbini number when the payment has one, the bank-transfer reference when it has one, and the
-- failure's reason in brackets only when there is one (a card decline showed two empty lines and
-- "（）"). Templates can now hold sections ({{#if …}} … {{else}} … {{/if}}). A template an
-- operator has edited is left as it is.
update templates set
    text = '{{member.name}} 様' || chr(10) || chr(10)
        || '{{event.amount}} 円のお支払いが完了しませんでした'
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
where name = '督促（お支払い失敗）' and not deleted
  and text = '{{member.name}} 様' || chr(10) || chr(10) || '{{event.amount}} 円のお支払いが完了しませんでした（{{event.failure_message}}）。'
     || chr(10) || 'お支払い方法をご確認のうえ、お支払いをお願いいたします。' || chr(10)
     || 'コンビニ払込番号: {{event.konbini_number}}' || chr(10) || '銀行振込の照会番号: {{event.bank_reference}}'
     || chr(10) || chr(10) || 'お問い合わせ: {{sender.contact}}' || chr(10) || '{{sender.business_name}}';
