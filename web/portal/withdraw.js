// withdraw.js - 退会: the member's own withdrawal, confirmed by typing a phrase; the member's
// sessions end with it.

import * as api from '../common/api.js';
import {field, fill, h} from '../common/dom.js';
import {clearErrors, showErrors} from '../common/form.js';
import {t} from '../common/i18n.js';

export function showWithdraw(main, ctx) {
  const phrase = t('portal.withdraw.phrase');
  const reason = h('textarea', {id: 'withdraw-reason', rows: 3, maxlength: 500});
  const typed = h('input', {type: 'text', id: 'withdraw-typed', autocomplete: 'off'});
  const controls = {reason, typed};
  const error = h('p', {class: 'form-error', role: 'alert', hidden: true});
  const submit = h('button', {type: 'submit', class: 'danger confirm', id: 'withdraw-confirm', disabled: true},
                   t('portal.withdraw.confirm'));
  typed.addEventListener('input', () => { submit.disabled = typed.value.trim() !== phrase; });
  const form = h('form', {class: 'card', novalidate: true, id: 'withdraw-form'},
    h('h2', {}, t('portal.withdraw.title')), h('p', {}, t('portal.withdraw.explain')), error,
    field(t('portal.withdraw.reason'), reason),
    field(t('portal.withdraw.type', {phrase}), typed), h('div', {class: 'tools'}, submit));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (typed.value.trim() !== phrase) return;
    clearErrors(controls, error);
    submit.disabled = true;
    const r = await api.call('POST', '/v1/member-auth/withdraw', {body: {reason: reason.value}});
    submit.disabled = false;
    if (r.ok) return ctx.signedOut();
    showErrors(r, controls, error);
  });
  fill(main, form);
}
