// audit.js - 監査ログ: the member service's append-only audit log, newest first, filtered by
// action (a prefix ending in "." takes a family), target and days in Japan; each entry's
// actor by name, and its changes as before → after.

import {field, fill, h} from '../common/dom.js';
import {dateTime} from '../common/format.js';
import {has, t} from '../common/i18n.js';
import {choice, pagedList, staffName, staffNames} from './lists.js';

const TARGETS = ['member', 'staff', 'api_key', 'inquiry', 'import', 'export', 'rank', 'attribute'];

// A day "YYYY-MM-DD" from a date field as the first (or last) moment of that day in Japan.
function jst(day, end) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day || '')) return '';
  return day + (end ? 'T23:59:59.999+09:00' : 'T00:00:00+09:00');
}

function value(v) {
  if (v === null || v === undefined || v === '') return t('empty');
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

// {"phone": ["090-…", "080-…"], "email": "x"} as lines "phone: 090-… → 080-…".
function changes(entry) {
  const c = entry.changes;
  if (!c || typeof c !== 'object' || !Object.keys(c).length) return t('empty');
  return h('ul', {class: 'changes'}, Object.entries(c).map(([name, v]) => h('li', {},
    h('span', {class: 'field-name'}, name), ': ',
    Array.isArray(v) && v.length === 2 ? [value(v[0]), ' → ', value(v[1])] : value(v))));
}

export function showAudit(main, ctx) {
  document.title = t('audit.title') + ' - ' + t('app.name');
  const state = ctx.memory().audit ??= {action: '', target_type: '', target_id: '', from: '', to: ''};
  const staff = staffNames(ctx);
  const list = pagedList({id: 'audit', caption: t('audit.title'), path: '/v1/audit-log', empty: 'audit.none', limit: 50,
    query: () => ({action: state.action.trim(), target_type: state.target_type, target_id: state.target_id.trim(),
                   from: jst(state.from), to: jst(state.to, true)}),
    rowAttrs: (e) => ({'data-seq': e.seq, 'data-action': e.action}),
    columns: [
      ['audit.at', (e) => dateTime(e.at)],
      ['audit.actor', (e) => actor(e)],
      ['audit.action', (e) => [has('audit.action.' + e.action) ? t('audit.action.' + e.action) : e.action, ' ',
                               h('code', {}, e.action)]],
      ['audit.target', (e) => target(e)],
      ['audit.changes', changes],
      ['audit.ip', (e) => e.ip || t('empty')],
    ]});

  function actor(e) {
    const cell = h('span', {class: 'actor'}, t('loading'));
    staff.then((known) => {
      const name = e.actor_role === 'service' ? t('actor.service', {name: e.actor_id}) : staffName(known, e.actor_id);
      cell.textContent = e.actor_role && e.actor_role !== 'service' ? name + '（' + t('role.' + e.actor_role) + '）' : name;
    });
    return cell;
  }

  function target(e) {
    const type = has('audit.target.' + e.target_type) ? t('audit.target.' + e.target_type) : e.target_type;
    const link = e.target_type === 'member' ? '#/members/' : e.target_type === 'inquiry' ? '#/inquiries/' : '';
    if (!e.target_id) return type || t('empty');
    return [type, ' ', link ? h('a', {href: link + e.target_id}, e.target_id.slice(0, 8)) : h('code', {}, e.target_id.slice(0, 8))];
  }

  const input = (key, attrs) => {
    const el = h('input', Object.assign({id: 'audit-' + key.replace('_', '-'), autocomplete: 'off', value: state[key]}, attrs));
    el.addEventListener(attrs.type === 'date' ? 'change' : 'input', () => { state[key] = el.value; list.soon(); });
    return el;
  };
  const form = h('form', {class: 'filters', role: 'search'},
    field(t('audit.action'), input('action', {type: 'text', spellcheck: 'false'}), t('audit.action.hint')),
    choice('audit-target-type', t('audit.target_type'), TARGETS, 'audit.target.', state, 'target_type', list.reload),
    field(t('audit.target_id'), input('target_id', {type: 'text', spellcheck: 'false'})),
    field(t('audit.from'), input('from', {type: 'date'})),
    field(t('audit.to'), input('to', {type: 'date'})));
  form.addEventListener('submit', (event) => { event.preventDefault(); list.reload(); });
  fill(main, h('h1', {tabindex: '-1'}, t('audit.title')), form, list.element);
  list.reload();
}
