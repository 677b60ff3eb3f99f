// lists.js - what the console's screens share: tables whose rows become cards on a phone, lists
// read a page at a time by cursor, tabs, links to members by name, staff names, and the API's
// field errors shown next to their fields.

import * as api from '../common/api.js';
import {TYPING_PAUSE_MS, button, debounce, field, fieldError, fill, h} from '../common/dom.js';
import {fieldMessage, t} from '../common/i18n.js';

// A table: columns are [label key, value(item) → text or element, class]. Returns {table, body,
// row(item)}: row makes an item's <tr>, each cell labelled by its column (the phone's cards).
export function listTable(id, caption, columns, rowAttrs) {
  const body = h('tbody');
  const table = h('table', {class: 'list', id},
    h('caption', {class: 'visually-hidden'}, caption),
    h('thead', {}, h('tr', {}, columns.map(([label]) => h('th', {scope: 'col'}, t(label))))), body);
  const row = (item) => h('tr', rowAttrs ? rowAttrs(item) : {},
    columns.map(([label, value, cls]) => h('td', {'data-label': t(label), class: cls}, value(item))));
  return {table, body, row};
}

// A list read by cursor: path with query() (the filters, asked again by reload), a page of
// limit at a time behind a "show more" button. Returns {element, reload, soon}; reload reads
// the first page again (a reply to an older reload is dropped), soon does after typing stops.
// The table is aria-busy from a keystroke or while a page loads until the latest rows are
// shown; the summary says how many rows are shown, or why there are none (badFilter: the
// message key when the API refuses the filters).
export function pagedList({id, caption, path, query, columns, rowAttrs, empty, limit = 20, badFilter = 'list.bad_filter'}) {
  const {table, body, row} = listTable(id, caption, columns, rowAttrs);
  const summary = h('p', {class: 'summary', 'aria-live': 'polite', id: id + '-summary'});
  const more = button(t('page.more'), () => page(false), {id: id + '-more', hidden: true});
  let cursor = '';
  let generation = 0;
  let typing = false;
  const later = debounce(() => { typing = false; page(true); }, TYPING_PAUSE_MS);

  async function page(first) {
    const mine = first ? ++generation : generation;
    if (first) cursor = '';
    more.disabled = true;
    table.setAttribute('aria-busy', 'true');
    if (first) summary.textContent = t('loading');
    const r = await api.call('GET', path, {query: Object.assign({}, query(), {limit, cursor})});
    if (mine !== generation) return;
    if (!typing) table.removeAttribute('aria-busy');
    more.disabled = false;
    if (first) fill(body);
    if (!r.ok) {
      more.hidden = true;
      summary.textContent = problemText(r.status, badFilter);
      return;
    }
    body.append(...r.data.data.map(row));
    cursor = r.data.next_cursor || '';
    more.hidden = !cursor;
    summary.textContent = body.children.length
      ? t(cursor ? 'list.count_more' : 'list.count', {n: body.children.length}) : t(empty);
  }

  function soon() {
    typing = true;
    table.setAttribute('aria-busy', 'true');
    later();
  }

  return {element: [summary, table, h('div', {class: 'pager'}, more)], reload: () => page(true), soon};
}

// An object's ETag from the version its JSON shows (messaging's objects show it).
export const etagOf = (x) => '"' + x.version + '"';

// The file chosen in chooser (an <input type=file> in a field), its error cleared; null, the
// error saying message and the chooser focused, when none is chosen.
export function chosenFile(chooser, message) {
  const file = chooser.files[0] || null;
  fieldError(chooser, file ? '' : message);
  if (!file) chooser.focus();
  return file;
}

// Why a call failed, in words: 400 says badRequest (a key).
export function problemText(status, badRequest) {
  return status === 400 ? t(badRequest || 'error.check_fields') : status === 403 ? t('error.forbidden')
       : status === 404 ? t('error.not_found') : status === 409 ? t('error.conflict')
       : status === 412 ? t('error.changed') : t('error.unavailable');
}

// One object read for a screen: show(data) with it, or body says why there is none.
export async function loadOne(body, path, show) {
  const r = await api.call('GET', path);
  if (r.ok) return show(r.data);
  fill(body, h('p', {}, r.status === 404 ? t('error.not_found') : problemText(r.status)));
}

// One record's page (an invoice, a deposit): back (its crumbs) while loading, then render(data),
// or a heading that says why there is none (notFound: the message key for a 404).
export async function loadRecord(main, back, path, notFound, render) {
  fill(main, back, h('p', {class: 'summary'}, t('loading')));
  const r = await api.call('GET', path);
  if (r.ok) return render(r.data);
  fill(main, back, h('h1', {tabindex: '-1'}, r.status === 404 ? t(notFound) : problemText(r.status)));
}

// Shows each of the problem's field errors under its control (controls by field name), focuses
// the first, and returns the status's sentence, also shown in formError when given.
export function showProblem(r, controls, formError) {
  let first = null;
  for (const e of (r.problem && r.problem.errors) || []) {
    const control = controls[e.field.split('.')[0]];
    if (!control) continue;
    fieldError(control, fieldMessage(e.field, e.reason));
    first = first || control;
  }
  if (first) first.focus();
  const text = problemText(r.status);
  if (formError) {
    formError.textContent = text;
    formError.hidden = false;
  }
  return text;
}

// Clears what showProblem showed.
export function clearProblem(controls, formError) {
  for (const control of Object.values(controls)) fieldError(control, '');
  if (formError) formError.hidden = true;
}

// A select of values (labelled by prefix + value, with "all" first unless all is false) kept
// in state[key]; changed() runs after each choice. Returns the labelled field.
export function choice(id, label, values, prefix, state, key, changed, all = true) {
  const select = h('select', {id}, all ? h('option', {value: ''}, t('list.all')) : null,
    values.map((v) => h('option', {value: v, selected: state[key] === v}, t(prefix + v))));
  select.addEventListener('change', () => { state[key] = select.value; changed(); });
  return field(label, select);
}

// Tabs as links (#/billing/plans, ...): [path, label key], the current one marked.
export function tabs(label, items, current) {
  return h('nav', {class: 'tabs', 'aria-label': label},
    h('ul', {}, items.map(([path, key]) => h('li', {},
      h('a', {href: '#/' + path, 'aria-current': path === current ? 'page' : null, 'data-tab': path}, t(key))))));
}

// A link to a member's page named by the member's name, read once per id into names (a Map
// the screen keeps while it is shown: names are personal data, never kept longer).
export function memberLink(names, id) {
  if (!id) return t('empty');
  const link = h('a', {href: '#/members/' + id, class: 'member-link'}, t('loading'));
  memberName(names, id).then((name) => { link.textContent = name; });
  return link;
}

// The promise of a member's name, read once per id into names (as memberLink).
export function memberName(names, id) {
  if (!names.has(id))
    names.set(id, api.call('GET', '/v1/members/' + id).then((r) =>
      r.ok ? r.data.name || t('member.no_name') : t('member.unknown')));
  return names.get(id);
}

// A search form of filters (submitting it does nothing: each filter acts as it changes).
export function filterForm(...fields) {
  const form = h('form', {class: 'filters', role: 'search'}, fields);
  form.addEventListener('submit', (event) => event.preventDefault());
  return form;
}

// The names of the staff and API keys by id, for a role that may read them (else only the
// caller's own): a promise of a Map id → name (or email).
export async function staffNames(ctx) {
  const names = new Map();
  const me = ctx.me();
  if (me.staff) names.set(me.id, me.staff.name || me.staff.email);
  if (!ctx.may('member.staff.manage')) return names;
  const [staff, keys] = await Promise.all([api.call('GET', '/v1/staff', {query: {limit: 100}}),
                                           api.call('GET', '/v1/api-keys')]);
  if (keys.ok) for (const k of keys.data.data) names.set(k.id, t('actor.api_key', {name: k.name}));
  if (staff.ok) for (const s of staff.data.data) names.set(s.id, s.name || s.email);
  return names;
}

// A staff member's (or API key's, or a service's) id in words, from names.
export function staffName(names, id) {
  if (!id) return t('empty');
  if (id === 'bootstrap') return t('actor.bootstrap');
  return names.get(id) || t('actor.other', {id: id.slice(0, 8)});
}
