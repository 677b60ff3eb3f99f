// profile.js - the member's own record (プロフィール) and mail preferences (メール設定), both
// written with PATCH /v1/member-auth/me and If-Match: the caller's own record, no other.

import * as api from '../common/api.js';
import {field, fill, h} from '../common/dom.js';
import {clearErrors, showErrors} from '../common/form.js';
import {dateTime} from '../common/format.js';
import {t} from '../common/i18n.js';

// The fields a member edits, in the order the form shows them.
const EDITABLE = ['name', 'name_kana', 'phone', 'postal_code', 'prefecture', 'address'];
const HINTS = {name_kana: 'member.name_kana.hint', phone: 'member.phone.hint',
               postal_code: 'member.postal_code.hint', prefecture: 'member.prefecture.hint'};
const CONSENT_SOURCE = 'portal: mail settings';

// Reads the member's record with its ETag, then draws it with draw(record, etag).
async function withRecord(main, draw) {
  fill(main, h('p', {class: 'summary'}, t('loading')));
  const r = await api.call('GET', '/v1/member-auth/me');
  if (r.ok) draw(r.data, r.etag);
  else fill(main, h('p', {class: 'form-error', role: 'alert'}, t('error.unavailable')));
}

function notice(main, text) {
  main.prepend(h('p', {class: 'notice card', id: 'notice', role: 'status'}, text));
}

// Sends a form's patch with If-Match (page: main, draw, ctx, etag, controls, error, submit).
// Saved, the page is drawn again from the answer with the message saved; a version changed
// since is drawn again from the latest with a notice; field errors go next to their fields.
async function save(page, patch, saved) {
  const {main, draw, ctx, etag, controls, error, submit} = page;
  clearErrors(controls, error);
  submit.disabled = true;
  const r = await api.call('PATCH', '/v1/member-auth/me', {body: patch, etag});
  submit.disabled = false;
  if (r.ok) {
    ctx.updated(r.data);
    draw(r.data, r.etag);
    notice(main, t(saved));
    ctx.announce(t(saved));
  }
  else if (r.status === 412) {
    await withRecord(main, draw);
    notice(main, t('portal.changed_reload'));
  }
  else showErrors(r, controls, error);
}

export function showProfile(main, ctx) {
  withRecord(main, function draw(record, etag) {
    const controls = {};
    for (const name of EDITABLE)
      controls[name] = h('input', {type: 'text', id: 'profile-' + name, value: record[name] || '',
                                   autocomplete: {name: 'name', phone: 'tel', postal_code: 'postal-code',
                                                  prefecture: 'address-level1', address: 'street-address'}[name] || 'off',
                                   inputmode: name === 'phone' || name === 'postal_code' ? 'tel' : null});
    const error = h('p', {class: 'form-error', role: 'alert', hidden: true});
    const submit = h('button', {type: 'submit', class: 'primary', id: 'profile-save'}, t('action.save'));
    const form = h('form', {class: 'card', id: 'profile-form', novalidate: true},
      h('h2', {}, t('portal.profile.title')),
      h('p', {}, t('member.email') + ': ', h('span', {id: 'profile-email'}, record.email)),
      error,
      EDITABLE.map((name) => field(t('member.' + name), controls[name], HINTS[name] && t(HINTS[name]))),
      h('div', {class: 'tools'}, submit));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const patch = {};
      for (const name of EDITABLE) {
        const value = controls[name].value.trim();
        if (value !== (record[name] || '')) patch[name] = value === '' ? null : value;
      }
      if (!Object.keys(patch).length) {
        error.textContent = t('member.no_changes');
        error.hidden = false;
        return;
      }
      await save({main, draw, ctx, etag, controls, error, submit}, patch, 'portal.profile.saved');
    });
    fill(main, form);
  });
}

export function showMail(main, ctx) {
  withRecord(main, function draw(record, etag) {
    const consent = record.marketing_consent;
    const box = h('input', {type: 'checkbox', id: 'mail-opt-in', checked: Boolean(consent && consent.email_opt_in)});
    const controls = {marketing_consent: box};
    const error = h('p', {class: 'form-error', role: 'alert', hidden: true});
    const state = consent
      ? t(consent.email_opt_in ? 'portal.mail.on_since' : 'portal.mail.off_since', {date: dateTime(consent.at)})
      : t('portal.mail.never');
    const submit = h('button', {type: 'submit', class: 'primary', id: 'mail-save'}, t('action.save'));
    const form = h('form', {class: 'card', id: 'mail-form', novalidate: true},
      h('h2', {}, t('portal.mail.title')),
      h('p', {id: 'mail-state'}, state),
      h('p', {class: 'hint'}, t('portal.mail.explain')),
      error,
      h('div', {class: 'check'}, box, h('label', {for: 'mail-opt-in'}, t('portal.mail.opt_in'))),
      h('p', {class: 'error', id: 'mail-opt-in-error', role: 'alert', hidden: true}),
      h('div', {class: 'tools'}, submit));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      await save({main, draw, ctx, etag, controls, error, submit},
                 {marketing_consent: {email_opt_in: box.checked, method: 'portal', source: CONSENT_SOURCE}},
                 'portal.mail.saved');
    });
    fill(main, form);
  });
}
