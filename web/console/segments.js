// segments.js - メール › セグメント: saved filters over the members messaging knows, each
// edited as conditions joined by "all" or "any" with a live count of the members it matches
// (messaging counts; the filter's rules are messaging's, and its 400 names the bad condition).
// A filter the conditions cannot show (nested and/or/not, custom attributes) is edited as JSON.

import * as api from '../common/api.js';
import {button, debounce, field, fieldError, fill, h, modal} from '../common/dom.js';
import {dateTime, number} from '../common/format.js';
import {fieldMessage, t} from '../common/i18n.js';
import {clearProblem, etagOf, loadOne, pagedList, problemText} from './lists.js';

// What each field offers, as services/messaging/README.md ("Segments") lists it: its operators,
// and the kind of value they take ('boolean' for a yes/no, 'number', 'date', 'list', else text).
const NUMBER_OPS = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte'];
const FIELDS = {
  status: ['eq', 'ne', 'in', 'not_in'],
  rank: ['eq', 'ne', 'in', 'not_in'],
  tags: ['has', 'has_any', 'has_all'],
  plan: ['eq', 'in', 'exists'],
  signed_up_at: ['within_days', 'not_within_days', 'before', 'after'],
  last_login_at: ['within_days', 'not_within_days', 'before', 'after', 'exists'],
  purchase_count: NUMBER_OPS,
  purchase_total: NUMBER_OPS,
  churn_risk: NUMBER_OPS,
  loyalty_segment: ['eq', 'ne', 'in', 'not_in'],
  marketing_consent: ['eq'],
};
const NUMBER_FIELDS = ['purchase_count', 'purchase_total', 'churn_risk'];
const LIST_OPS = ['in', 'not_in', 'has_any', 'has_all'];
const STATUSES = ['free', 'paid', 'withdrawn'];
// analytics' loyalty (RFM) segments, as it names them
const LOYALTY = ['champions', 'loyal', 'regular', 'new', 'at_risk', 'dormant', 'none'];
// the fields whose one value is chosen from a list: their values and their words
const CHOICES = {status: [STATUSES, 'member.status.'], loyalty_segment: [LOYALTY, 'loyalty.segment.']};

function valueKind(fieldName, op) {
  if (op === 'exists' || fieldName === 'marketing_consent') return 'boolean';
  if (LIST_OPS.includes(op)) return 'list';
  if (op === 'before' || op === 'after') return 'date';
  if (NUMBER_FIELDS.includes(fieldName) || op.endsWith('within_days')) return 'number';
  if (CHOICES[fieldName]) return 'choice';
  return 'text';
}

// A condition's value as typed → as the filter holds it. A whole number goes as a number, a day
// (2026-04-01) as its midnight in Japan; anything else as typed, for messaging to name.
function parse(kind, text) {
  const s = text.trim();
  if (kind === 'boolean') return s === 'true';
  if (kind === 'list') return s.split(/[,、\s]+/).filter(Boolean);
  if (kind === 'number') return /^-?\d+$/.test(s) ? Number(s) : s;
  if (kind === 'date') return /^\d{4}-\d{2}-\d{2}$/.test(s) ? s + 'T00:00:00+09:00' : s;
  return s;
}

function show(kind, value) {
  if (kind === 'boolean') return String(Boolean(value));
  if (Array.isArray(value)) return value.join(', ');
  if (kind === 'date') return String(value).replace(/T00:00:00\+09:00$/, '');
  return value === undefined || value === null ? '' : String(value);
}

// {join: 'and'|'or', conditions: [{field, op, value}]} when the conditions can show filter.
function asConditions(filter) {
  const join = filter && (filter.and ? 'and' : filter.or ? 'or' : null);
  const list = join ? filter[join] : filter ? [filter] : [];
  const plain = (c) => c && typeof c === 'object' && Object.keys(c).length === 3 && FIELDS[c.field] &&
                       FIELDS[c.field].includes(c.op) && 'value' in c;
  return list.length && list.every(plain) ? {join: join || 'and', conditions: list} : null;
}

export function showSegments(body, ctx) {
  const writes = ctx.may('messaging.campaigns');
  const list = pagedList({id: 'segments', caption: t('mail.tab.segments'), path: '/v1/messaging/segments',
    query: () => ({}), empty: 'segment.none', rowAttrs: (s) => ({'data-segment-id': s.id}), columns: [
      ['segment.name', (s) => h('a', {href: '#/mail/segments/' + s.id, class: 'segment-link'}, s.name)],
      ['segment.count', (s) => liveCount(s.id)],
      ['segment.updated_at', (s) => dateTime(s.updated_at)],
    ]});
  fill(body, h('div', {class: 'heading'}, h('h2', {}, t('mail.tab.segments')),
    writes ? h('a', {href: '#/mail/segments/new', class: 'button', id: 'segment-new'}, t('segment.new')) : null),
    list.element);
  list.reload();
}

// A saved segment's count now, as a cell.
function liveCount(id) {
  const cell = h('span', {class: 'segment-count'}, t('loading'));
  api.call('GET', '/v1/messaging/segments/' + id + '/count').then((r) => {
    cell.textContent = r.ok ? t('segment.members', {n: number(r.data.count)}) : t('empty');
  });
  return cell;
}

export function showSegment(body, ctx, id) {
  const writes = ctx.may('messaging.campaigns');
  document.title = t(id ? 'segment.edit' : 'segment.new') + ' - ' + t('app.name');
  const view = {segment: null, rows: [], json: false};

  const name = h('input', {type: 'text', id: 'segment-name', autocomplete: 'off', readonly: !writes});
  const join = h('select', {id: 'segment-join'}, ['and', 'or'].map((j) => h('option', {value: j}, t('segment.join.' + j))));
  const rowsBox = h('ol', {class: 'conditions', id: 'segment-conditions'});
  const add = button(t('segment.add'), () => { addRow({field: 'tags', op: 'has', value: ''}).field.focus(); changed(); },
                     {id: 'segment-add'});
  const json = h('textarea', {id: 'segment-json', rows: 10, spellcheck: 'false'});
  const jsonField = field(t('segment.json'), json, t('segment.json.hint'));
  const count = h('p', {class: 'kpi-value', id: 'segment-count', 'aria-live': 'polite'}, t('empty'));
  const countNote = h('p', {class: 'hint', id: 'segment-count-note'}, t('segment.count.hint'));
  const error = h('p', {class: 'form-error', role: 'alert', hidden: true});
  const save = h('button', {type: 'submit', class: 'primary', id: 'segment-save', hidden: !writes}, t('action.save'));
  const remove = button(t('segment.delete'), removeSegment, {class: 'danger', id: 'segment-delete', hidden: true});
  const conditions = h('fieldset', {class: 'conditions-box'}, h('legend', {}, t('segment.conditions')),
    field(t('segment.join'), join), rowsBox, writes ? add : null);
  const form = h('form', {class: 'card edit', id: 'segment-form', novalidate: true},
    h('h2', {id: 'segment-title', tabindex: '-1'}, t(id ? 'segment.edit' : 'segment.new')), error,
    field(t('segment.name'), name), conditions, jsonField,
    h('section', {class: 'kpi', 'aria-labelledby': 'segment-count-label'},
      h('p', {class: 'kpi-label', id: 'segment-count-label'}, t('segment.count')), count, countNote),
    h('div', {class: 'tools'}, save, writes ? remove : null));

  // One condition: field, operator and value, each labelled; the value's control follows the
  // kind of value the operator takes.
  function addRow(condition) {
    const n = view.rows.length;
    const row = {};
    row.field = h('select', {id: 'cond-' + n + '-field', class: 'cond-field'},
      Object.keys(FIELDS).map((f) => h('option', {value: f, selected: f === condition.field}, t('segment.field.' + f))));
    row.op = h('select', {id: 'cond-' + n + '-op', class: 'cond-op'});
    row.slot = h('div', {class: 'cond-value'});
    const drop = button(t('segment.remove'), () => {
      view.rows = view.rows.filter((r) => r !== row);
      item.remove();
      changed();
    }, {class: 'small', 'aria-label': t('segment.remove_n', {n: n + 1})});
    const item = h('li', {class: 'condition', 'data-index': n},
      field(t('segment.field'), row.field), field(t('segment.op'), row.op), row.slot, writes ? drop : null);
    const ops = (chosen) => fill(row.op, FIELDS[row.field.value].map((o) => h('option', {value: o, selected: o === chosen}, t('segment.op.' + o))));
    const valueControl = (value) => {
      const kind = valueKind(row.field.value, row.op.value);
      const old = row.value ? row.value.value : '';
      const [choices, words] = kind === 'boolean' ? [['true', 'false'], 'segment.bool.'] : CHOICES[row.field.value] || [];
      row.value = kind === 'boolean' || kind === 'choice'
        ? h('select', {id: 'cond-' + n + '-value', class: 'cond-value-input'},
          choices.map((v) => h('option', {value: v}, t(words + v))))
        : h('input', {type: 'text', id: 'cond-' + n + '-value', class: 'cond-value-input', autocomplete: 'off',
                      placeholder: t('segment.placeholder.' + kind)});
      row.value.value = value === undefined ? (kind === 'boolean' || kind === 'choice' ? row.value.value : old) : show(kind, value);
      row.value.addEventListener('input', changed);
      row.value.addEventListener('change', changed);
      fill(row.slot, field(t('segment.value'), row.value));
    };
    row.field.addEventListener('change', () => { ops(); valueControl(); changed(); });
    row.op.addEventListener('change', () => { valueControl(); changed(); });
    ops(condition.op);
    valueControl(condition.value);
    for (const control of [row.field, row.op]) control.disabled = !writes;
    if (!writes) row.value.disabled = true;
    view.rows.push(row);
    rowsBox.append(item);
    return row;
  }

  function filter() {
    if (view.json) {
      try {
        return JSON.parse(json.value);
      } catch (e) {
        return undefined;
      }
    }
    return {[join.value]: view.rows.map((row) => ({field: row.field.value, op: row.op.value,
      value: parse(valueKind(row.field.value, row.op.value), row.value.value)}))};
  }

  // The control a problem's field names: filter.and[2].value → the third row's value.
  function controlOf(path) {
    if (view.json) return path.startsWith('filter') ? json : null;
    const m = /^filter\.(?:and|or)\[(\d+)\]\.(field|op|value)/.exec(path);
    if (m && view.rows[Number(m[1])]) return view.rows[Number(m[1])][m[2]];
    return path === 'name' ? name : null;
  }

  function allControls() {
    const all = {name, json};
    view.rows.forEach((row, i) => Object.assign(all, {['f' + i]: row.field, ['o' + i]: row.op, ['v' + i]: row.value}));
    return all;
  }

  // Each error next to the control it names; returns whether any was shown.
  function showErrors(r) {
    let first = null;
    for (const e of (r.problem && r.problem.errors) || []) {
      const control = controlOf(e.field);
      if (!control) continue;
      fieldError(control, e.field.startsWith('filter') ? conditionMessage(e.reason) : fieldMessage(e.field, e.reason));
      first = first || control;
    }
    return first;
  }

  // The live count: asked again after each change stops for a moment; an older answer is dropped.
  let generation = 0;
  const recount = debounce(async () => {
    const mine = ++generation;
    clearProblem(allControls());
    const f = filter();
    if (f === undefined) {
      fieldError(json, t('segment.json.bad'));
      count.textContent = t('empty');
      return;
    }
    if (!view.json && !view.rows.length) {
      count.textContent = t('empty');
      countNote.textContent = t('segment.count.none');
      return;
    }
    count.setAttribute('aria-busy', 'true');
    const r = await api.call('POST', '/v1/messaging/segments/count', {body: {filter: f}});
    if (mine !== generation) return;
    count.removeAttribute('aria-busy');
    if (r.ok) {
      count.textContent = t('segment.members', {n: number(r.data.count)});
      countNote.textContent = t('segment.count.at', {at: dateTime(r.data.at)});
      return;
    }
    count.textContent = t('empty');
    countNote.textContent = r.status === 400 ? t('segment.count.fix') : problemText(r.status);
    showErrors(r);
  }, 400);

  function changed() {
    count.setAttribute('aria-busy', 'true');
    recount();
  }
  join.addEventListener('change', changed);
  json.addEventListener('input', changed);

  function useJson(on) {
    view.json = on;
    conditions.hidden = on;
    jsonField.hidden = !on;
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearProblem(allControls(), error);
    const f = filter();
    if (f === undefined) return fieldError(json, t('segment.json.bad'));
    save.disabled = true;
    const payload = {body: {name: name.value.trim(), filter: f}};
    const r = view.segment
      ? await api.call('PATCH', '/v1/messaging/segments/' + view.segment.id, Object.assign(payload, {etag: etagOf(view.segment)}))
      : await api.call('POST', '/v1/messaging/segments', payload);
    save.disabled = false;
    if (!r.ok) {
      const first = showErrors(r);
      if (first) first.focus();
      error.textContent = r.status === 412 ? t('error.changed') : problemText(r.status);
      error.hidden = false;
      return;
    }
    ctx.announce(t('segment.saved', {name: r.data.name}));
    location.hash = '#/mail/segments';
  });

  function removeSegment() {
    const s = view.segment;
    modal(t('segment.delete.title', {name: s.name}), [h('p', {}, t('segment.delete.explain'))],
      t('segment.delete'), t('action.cancel'), async (showError) => {
        const r = await api.call('DELETE', '/v1/messaging/segments/' + s.id);
        if (!r.ok) {
          showError(r.status === 409 ? t('segment.in_use') : problemText(r.status));
          return false;
        }
        ctx.announce(t('segment.deleted', {name: s.name}));
        location.hash = '#/mail/segments';
        return true;
      }, true);
  }

  fill(body, h('p', {class: 'crumbs'}, h('a', {href: '#/mail/segments'}, t('segment.back'))), form);
  if (!id) {
    useJson(false);
    addRow({field: 'tags', op: 'has', value: ''});
    name.focus();
    return;
  }
  loadOne(body, '/v1/messaging/segments/' + id, (segment) => {
    view.segment = segment;
    name.value = segment.name;
    remove.hidden = false;
    const shown = asConditions(segment.filter);
    useJson(!shown);
    if (shown) {
      join.value = shown.join;
      shown.conditions.forEach(addRow);
    } else {
      json.value = JSON.stringify(segment.filter, null, 2);
      json.readOnly = !writes;
    }
    changed();
    form.querySelector('h2').focus();
  });
}

// messaging's reason for a bad condition in the screen's words (it names the condition by path;
// the screen shows the message next to that condition's control).
const CONDITION_REASONS = [
  [/must be an operator of/, 'segment.error.op'],
  [/must be an integer/, 'segment.error.number'],
  [/whole number of days/, 'segment.error.days'],
  [/RFC 3339 time/, 'segment.error.date'],
  [/must be an array of 1 to 100/, 'segment.error.list'],
  [/must be true or false/, 'segment.error.boolean'],
  [/must be one of/, 'segment.error.one_of'],
  [/string of 1 to 200/, 'segment.error.text'],
];

function conditionMessage(reason) {
  const known = CONDITION_REASONS.find(([pattern]) => pattern.test(reason || ''));
  return known ? t(known[1]) : fieldMessage('filter', reason);
}
