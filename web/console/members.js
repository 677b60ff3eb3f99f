// members.js - 会員一覧: search as you type, filters by status, rank and tag, or a saved segment
// (messaging's), pages by cursor, the CSV export and import for the roles that may, and members
// ticked for a bulk tag (bulk.js). The search and the ticks stay in this tab's memory.

import * as api from '../common/api.js';
import {TYPING_PAUSE_MS, button, debounce, field, fill, h} from '../common/dom.js';
import {date} from '../common/format.js';
import {t} from '../common/i18n.js';
import {bulkTagBar} from './bulk.js';

const PAGE = 20;
const STATUSES = ['free', 'paid', 'withdrawn'];

// The filters the list and the export share, from the screen's state.
function filters(state) {
  return {q: state.q.trim(), status: state.status, rank: state.rank, tag: state.tag.trim()};
}

// One page of the list: the members the filters select, or a saved segment's (messaging names
// them by id; member reads each as the caller may see it, the viewer's phone masked).
// Resolves to {members, next}, or {status, aborted} when it failed.
async function listPage(state, cursor, limit, signal) {
  if (!state.segment) {
    const r = await api.call('GET', '/v1/members', {signal, query: Object.assign(filters(state), {limit, cursor})});
    return r.ok ? {members: r.data.data, next: r.data.next_cursor || ''} : r;
  }
  const r = await api.call('GET', '/v1/messaging/segments/' + state.segment + '/members', {signal, query: {limit, cursor}});
  if (!r.ok) return r;
  const read = await Promise.all(r.data.data.map((id) => api.call('GET', '/v1/members/' + id, {signal})));
  if (read.some((m) => m.aborted)) return {status: 0, aborted: true};
  return {members: read.filter((m) => m.ok).map((m) => m.data), next: r.data.next_cursor || ''};
}

// Every member the list shows, page after page: their ids (the bulk tag's "every member").
async function* everyMember(state) {
  let cursor = '';
  do {
    const page = await listPage(state, cursor, 100);
    if (!page.members) return;
    for (const m of page.members) yield m.id;
    cursor = page.next;
  } while (cursor);
}

export function showMembers(main, ctx) {
  document.title = t('members.title') + ' - ' + t('app.name');
  const memory = ctx.memory();
  const state = memory.members ??= {q: '', status: '', rank: '', tag: '', segment: '', cursors: [''], page: 0,
                                    ticked: new Set()};
  const tags = ctx.may('member.tags.write');
  let controller = null;

  const search = h('input', {type: 'search', id: 'member-search', autocomplete: 'off', value: state.q,
                             placeholder: t('members.search.placeholder')});
  const status = h('select', {id: 'member-status'}, h('option', {value: ''}, t('members.all')),
    STATUSES.map((s) => h('option', {value: s, selected: state.status === s}, t('member.status.' + s))));
  const rank = h('input', {type: 'text', id: 'member-rank', autocomplete: 'off', value: state.rank});
  const tag = h('input', {type: 'text', id: 'member-tag', autocomplete: 'off', value: state.tag});
  const summary = h('p', {class: 'summary', 'aria-live': 'polite', id: 'members-summary'});
  const body = h('tbody');
  const columns = ['member.name', 'member.name_kana', 'member.email', 'member.phone', 'member.status',
                   'member.rank', 'member.created_at'];
  const all = h('input', {type: 'checkbox', id: 'members-tick-all'});
  const bulk = tags ? bulkTagBar(ctx, () => [...state.ticked], () => everyMember(state), () => load()) : null;
  all.addEventListener('change', () => {
    for (const box of body.querySelectorAll('input.tick')) {
      box.checked = all.checked;
      tick(box.value, all.checked);
    }
  });
  const table = h('table', {class: 'list', id: 'members-table'},
    h('caption', {class: 'visually-hidden'}, t('members.title')),
    h('thead', {}, h('tr', {}, tags ? h('th', {scope: 'col'}, all, h('label', {for: all.id, class: 'visually-hidden'}, t('bulk.tick_page'))) : null,
      columns.map((c) => h('th', {scope: 'col'}, t(c))))), body);

  function tick(id, on) {
    if (on) state.ticked.add(id);
    else state.ticked.delete(id);
    bulk.count();
  }
  const previous = button(t('page.previous'), () => go(state.page - 1), {id: 'members-previous'});
  const next = button(t('page.next'), () => go(state.page + 1), {id: 'members-next'});
  const tools = h('div', {class: 'tools'});
  if (ctx.may('member.import'))
    tools.append(h('a', {href: '#/members/import', class: 'button', id: 'members-import'}, t('members.import')));
  if (ctx.may('member.export'))
    tools.append(button(t('members.export'), async (event) => {
      event.target.disabled = true;
      const r = await api.download('/v1/members/export', filters(state), 'members.csv');
      event.target.disabled = false;
      ctx.announce(r.ok ? t('members.exported') : t('error.unavailable'));
    }, {id: 'members-export'}));

  // Ranks are a setting only owners and admins read: the others type a rank's code.
  if (ctx.may('member.settings')) api.call('GET', '/v1/member-ranks').then((r) => {
    if (!r.ok || !r.data.data.length) return;
    const select = h('select', {id: 'member-rank'}, h('option', {value: ''}, t('members.all')),
      r.data.data.map((x) => h('option', {value: x.code, selected: state.rank === x.code}, x.label || x.code)));
    select.addEventListener('change', () => { state.rank = select.value; restart(); });
    select.disabled = Boolean(state.segment);
    rank.replaceWith(select);
  });

  async function load() {
    if (controller) controller.abort();
    controller = new AbortController();
    table.setAttribute('aria-busy', 'true');
    summary.textContent = t('loading');
    const r = await listPage(state, state.cursors[state.page], PAGE, controller.signal);
    if (r.aborted) return;
    if (!typing) table.removeAttribute('aria-busy');
    if (!r.members) {
      fill(body);
      summary.textContent = r.status === 400 ? t('members.bad_filter') : r.status === 404 ? t('members.segment_gone')
                          : t('error.unavailable');
      return;
    }
    const members = r.members;
    state.cursors[state.page + 1] = r.next;
    fill(body, members.map(row));
    all.checked = members.length > 0 && members.every((m) => state.ticked.has(m.id));
    summary.textContent = members.length ? t('members.page', {page: state.page + 1, n: members.length}) : t('members.none');
    previous.disabled = state.page === 0;
    next.disabled = !r.next;
  }

  function row(m) {
    let box = null;
    if (tags) {
      box = h('input', {type: 'checkbox', class: 'tick', value: m.id, id: 'tick-' + m.id, checked: state.ticked.has(m.id)});
      box.addEventListener('change', () => tick(m.id, box.checked));
    }
    return h('tr', {'data-member-id': m.id},
      tags ? h('td', {'data-label': t('bulk.tick')}, box,
        h('label', {for: box.id, class: 'visually-hidden'}, t('bulk.tick_member', {name: m.name || t('member.no_name')}))) : null,
      h('td', {'data-label': t('member.name')},
        h('a', {href: '#/members/' + m.id, class: 'member-name'}, m.name || t('member.no_name'))),
      h('td', {'data-label': t('member.name_kana')}, m.name_kana || ''),
      h('td', {'data-label': t('member.email')}, m.email || ''),
      h('td', {'data-label': t('member.phone'), class: 'member-phone'}, m.phone || ''),
      h('td', {'data-label': t('member.status')}, h('span', {class: 'badge ' + m.status}, t('member.status.' + m.status))),
      h('td', {'data-label': t('member.rank')}, m.rank || ''),
      h('td', {'data-label': t('member.created_at')}, date(m.created_at)));
  }

  function go(page) {
    state.page = Math.max(0, page);
    load();
  }

  function restart() {
    state.cursors = [''];
    go(0);
  }

  // The list is busy from a keystroke until the rows of the latest search are shown: a page
  // read before the keystroke does not end it.
  let typing = false;
  const later = debounce(() => { typing = false; restart(); }, TYPING_PAUSE_MS);
  const typed = () => { typing = true; table.setAttribute('aria-busy', 'true'); later(); };
  search.addEventListener('input', () => { state.q = search.value; typed(); });
  status.addEventListener('change', () => { state.status = status.value; restart(); });
  rank.addEventListener('input', () => { state.rank = rank.value.trim(); typed(); });
  tag.addEventListener('input', () => { state.tag = tag.value; typed(); });

  // A saved segment (messaging's) instead of the filters: for the roles that read segments.
  const segment = h('select', {id: 'member-segment'}, h('option', {value: ''}, t('members.no_segment')));
  const segmentField = ctx.may('messaging.read') ? field(t('members.segment'), segment, t('members.segment.hint')) : null;
  if (segmentField) api.call('GET', '/v1/messaging/segments', {query: {limit: 100}}).then((r) => {
    if (r.ok) segment.append(...r.data.data.map((x) => h('option', {value: x.id, selected: state.segment === x.id}, x.name)));
  });
  const exporter = tools.querySelector('#members-export');
  function segmentChosen() {
    for (const control of [search, status, rank, tag, exporter]) if (control) control.disabled = Boolean(state.segment);
    const ranks = form.querySelector('select#member-rank');
    if (ranks) ranks.disabled = Boolean(state.segment);
  }
  segment.addEventListener('change', () => {
    state.segment = segment.value;
    segmentChosen();
    restart();
  });

  const form = h('form', {class: 'filters', role: 'search'},
    field(t('members.search'), search, t('members.search.hint')),
    field(t('member.status'), status), field(t('member.rank'), rank), field(t('member.tag'), tag), segmentField);
  form.addEventListener('submit', (event) => { event.preventDefault(); restart(); });
  fill(main,
    h('div', {class: 'heading'}, h('h1', {tabindex: '-1'}, t('members.title')), tools),
    form, bulk && bulk.element, summary, table, h('div', {class: 'pager'}, previous, next));
  if (bulk) bulk.count();
  segmentChosen();
  load();
  search.focus();
}
