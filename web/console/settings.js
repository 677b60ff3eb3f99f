// settings.js - 設定: each service's settings that its API reads and writes, one form each, saved
// with If-Match (another's change in between is said, nothing overwritten): messaging's sender
// and legal footer, billing's invoice issuer, registration number, dunning schedule and the days a
// company on terms may leave an invoice unpaid,
// analytics' days of inactivity, churn-risk threshold and purchase and spend milestones, and the
// rank automation's rules (replaced whole with PUT, no If-Match: the list is the change).

import * as api from '../common/api.js';
import {field, fill, h} from '../common/dom.js';
import {t} from '../common/i18n.js';
import {clearProblem, problemText, showProblem} from './lists.js';

// A section: its settings' path, who reads and who writes, and its fields:
// [name, kind ('text', 'email', 'days' for a list of whole numbers (days, milestones), 'number',
// 'rates' for lines of a mail domain and its mails a minute, 'rules' for lines of a rank, a metric
// and a threshold, or an array of choices), hint key]. verb: how it is saved, PATCH if not said.
const SECTIONS = [
  {id: 'messaging', path: '/v1/messaging/settings', read: 'messaging.read', write: 'messaging.settings', fields: [
    ['from_name', 'text'], ['from_address', 'email'], ['reply_to', 'email', 'settings.reply_to.hint'],
    ['business_name', 'text', 'settings.business_name.hint'], ['postal_address', 'text'],
    ['contact', 'text', 'settings.contact.hint'], ['rate_per_minute', 'number', 'settings.rate_per_minute.hint'],
    ['domain_rates', 'rates', 'settings.domain_rates.hint'], ['charset', ['utf-8', 'iso-2022-jp'], 'settings.charset.hint']]},
  {id: 'billing', path: '/v1/billing/settings', read: 'billing.settings.read', write: 'billing.settings.write', fields: [
    ['issuer_name', 'text'], ['registration_number', 'text', 'settings.registration_number.hint'],
    ['retry_days', 'days', 'settings.retry_days.hint'], ['final_action', ['cancel', 'unpaid']],
    ['konbini_expiry_days', 'number'], ['invoice_due_days', 'number'],
    ['terms_suspend_after_days', 'number', 'settings.terms_suspend_after_days.hint']]},
  {id: 'analytics', path: '/v1/analytics/settings', read: 'analytics.read', write: 'analytics.settings', fields: [
    ['inactive_days', 'number', 'settings.inactive_days.hint'],
    ['churn_risk_threshold', 'number', 'settings.churn_risk_threshold.hint'],
    ['purchase_milestones', 'days', 'settings.purchase_milestones.hint'],
    ['spend_milestones', 'days', 'settings.spend_milestones.hint']]},
  {id: 'ranks', path: '/v1/analytics/rank-rules', read: 'analytics.read', write: 'analytics.ranks.manage', verb: 'PUT', fields: [
    ['rules', 'rules', 'settings.rules.hint']]},
];

// The permissions that show the 設定 menu: reading any section.
export const SETTINGS_READ = SECTIONS.map((s) => s.read);

function control(section, [name, kind], writes) {
  const id = 'settings-' + section.id + '-' + name;
  if (Array.isArray(kind))
    return h('select', {id, disabled: !writes}, kind.map((v) => h('option', {value: v}, t('settings.' + name + '.' + v))));
  if (kind === 'rates' || kind === 'rules')
    return h('textarea', {id, rows: 3, autocomplete: 'off', readonly: !writes, spellcheck: 'false'});
  return h('input', {type: kind === 'email' ? 'email' : 'text', id, autocomplete: 'off', readonly: !writes,
                     inputmode: kind === 'number' ? 'numeric' : null});
}

// A control's value as the API takes it: whole numbers as numbers, a list of days as an array,
// lines of "docomo.ne.jp 300" as [{domain, per_minute}], lines of "gold cumulative_spend 50000" as
// [{rank, metric, threshold}].
function value([, kind], text) {
  const s = text.trim();
  if (kind === 'rates') return s.split('\n').map((line) => line.trim()).filter(Boolean).map((line) => {
    const [domain, limit = ''] = line.split(/[\s,、:：]+/);
    return {domain: domain.toLowerCase(), per_minute: /^\d+$/.test(limit) ? Number(limit) : 0};
  });
  if (kind === 'rules') return s.split('\n').map((line) => line.trim()).filter(Boolean).map((line) => {
    const [rank = '', metric = '', threshold = ''] = line.split(/[\s,、:：]+/);
    return {rank, metric, threshold: /^\d+$/.test(threshold) ? Number(threshold) : threshold};
  });
  if (kind === 'days') return s.split(/[,、\s]+/).filter(Boolean).map((d) => (/^\d+$/.test(d) ? Number(d) : d));
  if (kind === 'number') return /^\d+$/.test(s) ? Number(s) : s;
  return s;
}

function showSection(section, ctx) {
  const writes = ctx.may(section.write);
  const controls = Object.fromEntries(section.fields.map((f) => [f[0], control(section, f, writes)]));
  const error = h('p', {class: 'form-error', role: 'alert', hidden: true});
  const save = h('button', {type: 'submit', class: 'primary', id: 'settings-' + section.id + '-save'}, t('action.save'));
  const form = h('form', {class: 'card edit', id: 'settings-' + section.id, novalidate: true, 'aria-labelledby': section.id + '-title', 'aria-busy': 'true'},
    h('h2', {id: section.id + '-title'}, t('settings.' + section.id)), h('p', {class: 'hint'}, t('settings.' + section.id + '.explain')),
    error, section.fields.map((f) => field(t('settings.' + f[0]), controls[f[0]], f[2] && t(f[2]))),
    writes ? h('div', {class: 'tools'}, save) : h('p', {class: 'hint'}, t('settings.read_only')));
  let etag = null;

  function show(r) {
    etag = r.etag;
    for (const [name, kind] of section.fields)
      controls[name].value = kind === 'days' ? (r.data[name] || []).join(', ')
        : kind === 'rates' ? (r.data[name] || []).map((x) => x.domain + ' ' + x.per_minute).join('\n')
        : kind === 'rules' ? (r.data[name] || []).map((x) => [x.rank, x.metric, x.threshold].join(' ')).join('\n')
        : r.data[name] ?? '';
    form.removeAttribute('aria-busy');
  }

  api.call('GET', section.path).then((r) => {
    if (r.ok) return show(r);
    error.textContent = problemText(r.status);
    error.hidden = false;
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearProblem(controls, error);
    const body = Object.fromEntries(section.fields.map((f) => [f[0], value(f, controls[f[0]].value)]));
    save.disabled = true;
    const r = await api.call(section.verb || 'PATCH', section.path, {body, etag});
    save.disabled = false;
    if (!r.ok) {
      for (const e of (r.problem && r.problem.errors) || []) e.field = e.field.replace(/\[\d+\].*$/, '');
      showProblem(r, controls, error);
      if (r.status === 412) error.textContent = t('settings.changed');
      return;
    }
    show(r);
    ctx.announce(t('settings.saved', {name: t('settings.' + section.id)}));
  });
  return form;
}

export function showSettings(main, ctx) {
  document.title = t('settings.title') + ' - ' + t('app.name');
  fill(main, h('h1', {tabindex: '-1'}, t('settings.title')),
    SECTIONS.filter((s) => ctx.may(s.read)).map((s) => showSection(s, ctx)));
}
