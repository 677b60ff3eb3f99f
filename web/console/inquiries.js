// inquiries.js - 問い合わせ: the inbox (by status, assignee, category and words, newest first)
// and one inquiry (#/inquiries/<id>): its thread, a reply (as staff, or the member's own words
// recorded), and its status and assignee changed with If-Match. Filters stay in this tab's
// memory; the words searched never go in the address.

import * as api from '../common/api.js';
import {field, fieldError, fill, h} from '../common/dom.js';
import {dateTime} from '../common/format.js';
import {t} from '../common/i18n.js';
import {choice, clearProblem, memberLink, pagedList, problemText, showProblem, staffName, staffNames} from './lists.js';

export const INQUIRY_STATUSES = ['open', 'pending', 'resolved'];
const CATEGORIES = ['billing', 'account', 'content', 'technical', 'cancellation', 'other'];
const CHANNELS = ['email', 'phone', 'web_form', 'chat', 'in_person', 'other'];

export function showInquiries(main, ctx) {
  document.title = t('inquiries.title') + ' - ' + t('app.name');
  const state = ctx.memory().inquiries ??= {status: 'open', assignee: '', category: '', q: ''};
  const names = new Map();
  const staff = staffNames(ctx);
  const list = pagedList({id: 'inquiries', caption: t('inquiries.title'), path: '/v1/inquiries', empty: 'inquiries.none',
    query: () => ({status: state.status, category: state.category, q: state.q.trim(),
                   assignee_id: state.assignee === 'me' ? ctx.me().id : ''}),
    rowAttrs: (q) => ({'data-inquiry-id': q.id}),
    columns: [
      ['inquiry.subject', (q) => h('a', {href: '#/inquiries/' + q.id, class: 'inquiry-link'}, q.subject)],
      ['inquiry.member', (q) => memberLink(names, q.member_id)],
      ['inquiry.status', (q) => h('span', {class: 'badge ' + q.status}, t('inquiry.status.' + q.status))],
      ['inquiry.category', (q) => t('inquiry.category.' + q.category)],
      ['inquiry.channel', (q) => t('inquiry.channel.' + q.channel)],
      ['inquiry.assignee', (q) => assignee(q)],
      ['inquiry.updated_at', (q) => dateTime(q.updated_at)],
    ]});

  function assignee(q) {
    if (!q.assignee_id) return t('inquiry.unassigned');
    const cell = h('span', {}, t('loading'));
    staff.then((known) => { cell.textContent = staffName(known, q.assignee_id); });
    return cell;
  }

  const search = h('input', {type: 'search', id: 'inquiry-search', autocomplete: 'off', value: state.q});
  search.addEventListener('input', () => { state.q = search.value; list.soon(); });
  const form = h('form', {class: 'filters', role: 'search'},
    field(t('inquiries.search'), search, t('inquiries.search.hint')),
    choice('inquiry-status', t('inquiry.status'), INQUIRY_STATUSES, 'inquiry.status.', state, 'status', list.reload),
    choice('inquiry-assignee', t('inquiry.assignee'), ['me'], 'inquiries.assignee.', state, 'assignee', list.reload),
    choice('inquiry-category', t('inquiry.category'), CATEGORIES, 'inquiry.category.', state, 'category', list.reload));
  form.addEventListener('submit', (event) => { event.preventDefault(); list.reload(); });
  fill(main, h('h1', {tabindex: '-1'}, t('inquiries.title')), form, list.element);
  list.reload();
}

export function showInquiry(main, ctx, id) {
  const path = '/v1/inquiries/' + id;
  const names = new Map();
  const staff = staffNames(ctx);
  const back = h('p', {class: 'crumbs'}, h('a', {href: '#/inquiries'}, t('inquiry.back')));
  const view = {inquiry: null, etag: null};

  async function load(focus) {
    const r = await api.call('GET', path);
    if (!r.ok) {
      fill(main, back, h('h1', {tabindex: '-1'}, r.status === 404 ? t('inquiry.not_found') : problemText(r.status)));
      return;
    }
    view.inquiry = r.data;
    view.etag = r.etag;
    render(await staff, focus);
  }

  function render(known, focus) {
    const q = view.inquiry;
    document.title = q.subject + ' - ' + t('app.name');
    const heading = h('h1', {tabindex: '-1', id: 'inquiry-title'}, q.subject);
    const writes = ctx.may('member.inquiries.write');
    fill(main, back, h('div', {class: 'heading'}, heading),
      h('p', {class: 'badges'}, h('span', {class: 'badge ' + q.status, id: 'inquiry-state'}, t('inquiry.status.' + q.status))),
      h('div', {class: 'columns wide-left'},
        h('div', {},
          h('section', {class: 'card', 'aria-labelledby': 'thread-title'}, h('h2', {id: 'thread-title'}, t('inquiry.thread')),
            h('ol', {class: 'thread', id: 'inquiry-thread'}, q.messages.map((m) => h('li', {class: 'message ' + m.author_type},
              h('p', {class: 'meta'}, h('span', {class: 'author'}, m.author_type === 'member' ? t('inquiry.from_member')
                : staffName(known, m.author_id)), ' ', h('time', {datetime: m.created_at}, dateTime(m.created_at))),
              h('p', {class: 'body'}, m.body))))),
          writes ? replyForm() : null),
        h('div', {},
          h('section', {class: 'card', 'aria-labelledby': 'inquiry-about'}, h('h2', {id: 'inquiry-about'}, t('inquiry.about')),
            h('dl', {class: 'record narrow'},
              [['inquiry.member', memberLink(names, q.member_id)],
               ['inquiry.category', t('inquiry.category.' + q.category)],
               ['inquiry.channel', t('inquiry.channel.' + q.channel)],
               ['inquiry.assignee', q.assignee_id ? staffName(known, q.assignee_id) : t('inquiry.unassigned'), 'assignee'],
               ['inquiry.opened_by', staffName(known, q.opened_by)],
               ['inquiry.created_at', dateTime(q.created_at)],
               ['inquiry.resolved_at', q.resolved_at ? dateTime(q.resolved_at) : t('empty')]].map(([label, value, cls]) =>
                h('div', {class: cls}, h('dt', {}, t(label)), h('dd', {}, value))))),
          writes ? updateForm(known) : null)));
    (focus ? main.querySelector(focus) : heading).focus();
  }

  function replyForm() {
    const body = h('textarea', {id: 'reply-body', rows: 5});
    const author = h('select', {id: 'reply-author'}, h('option', {value: 'staff'}, t('reply.author.staff')),
      h('option', {value: 'member'}, t('reply.author.member')));
    const pending = h('input', {type: 'checkbox', id: 'reply-pending', checked: view.inquiry.status === 'open'});
    const error = h('p', {class: 'form-error', role: 'alert', hidden: true});
    const send = h('button', {type: 'submit', class: 'primary', id: 'reply-send'}, t('reply.send'));
    const form = h('form', {class: 'card', id: 'reply-form', novalidate: true, 'aria-labelledby': 'reply-title'},
      h('h2', {id: 'reply-title'}, t('reply.title')), error, field(t('reply.body'), body), field(t('reply.author'), author),
      h('div', {class: 'check'}, pending, h('label', {for: 'reply-pending'}, t('reply.pending'))),
      h('div', {class: 'tools'}, send));
    author.addEventListener('change', () => { pending.checked = author.value === 'staff' && view.inquiry.status === 'open'; });
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearProblem({body}, error);
      if (!body.value.trim()) {
        fieldError(body, t('error.required'));
        body.focus();
        return;
      }
      send.disabled = true;
      const r = await api.call('POST', path + '/messages', {body: {body: body.value, author_type: author.value,
        status: pending.checked && author.value === 'staff' ? 'pending' : ''}});
      send.disabled = false;
      if (!r.ok) return showProblem(r, {body}, error);
      ctx.announce(t('reply.sent'));
      load('#reply-body');
    });
    return form;
  }

  function updateForm(known) {
    const q = view.inquiry;
    const status = h('select', {id: 'inquiry-set-status'}, INQUIRY_STATUSES.map((s) =>
      h('option', {value: s, selected: q.status === s}, t('inquiry.status.' + s))));
    const people = new Map(known);
    if (q.assignee_id && !people.has(q.assignee_id)) people.set(q.assignee_id, staffName(known, q.assignee_id));
    const assignee = h('select', {id: 'inquiry-set-assignee'}, h('option', {value: ''}, t('inquiry.unassigned')),
      [...people].map(([sid, name]) => h('option', {value: sid, selected: q.assignee_id === sid},
        sid === ctx.me().id ? t('inquiry.me', {name}) : name)));
    const category = h('select', {id: 'inquiry-set-category'}, CATEGORIES.map((c) =>
      h('option', {value: c, selected: q.category === c}, t('inquiry.category.' + c))));
    const controls = {status, assignee_id: assignee, category};
    const error = h('p', {class: 'form-error', role: 'alert', hidden: true});
    const save = h('button', {type: 'submit', class: 'primary', id: 'inquiry-save'}, t('action.save'));
    const form = h('form', {class: 'card', id: 'inquiry-form', novalidate: true, 'aria-labelledby': 'inquiry-form-title'},
      h('h2', {id: 'inquiry-form-title'}, t('inquiry.handle')), error,
      field(t('inquiry.status'), status), field(t('inquiry.assignee'), assignee), field(t('inquiry.category'), category),
      h('div', {class: 'tools'}, save));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearProblem(controls, error);
      const patch = {};
      if (status.value !== q.status) patch.status = status.value;
      if (assignee.value !== (q.assignee_id || '')) patch.assignee_id = assignee.value || null;
      if (category.value !== q.category) patch.category = category.value;
      if (!Object.keys(patch).length) {
        error.textContent = t('member.no_changes');
        error.hidden = false;
        return;
      }
      save.disabled = true;
      const r = await api.call('PATCH', path, {body: patch, etag: view.etag});
      save.disabled = false;
      if (!r.ok) {
        showProblem(r, controls, error);
        if (r.status === 412) error.textContent = t('inquiry.changed');
        return;
      }
      view.inquiry = Object.assign(r.data, {messages: r.data.messages || q.messages});
      view.etag = r.etag;
      ctx.announce(t('inquiry.saved'));
      render(known, '#inquiry-save');
    });
    return form;
  }

  fill(main, back, h('p', {class: 'summary'}, t('loading')));
  load();
}
