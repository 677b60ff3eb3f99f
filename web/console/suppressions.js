// suppressions.js - メール › 配信停止リスト: the addresses no mail goes to (hard bounces, and those
// staff added) and the members who unsubscribed from marketing mail (how they did), newest
// first, found by a whole address; an address added by hand with a note (a complaint by phone),
// and one lifted after a confirmation, but for a member's unsubscribe, which only their own
// opt-in lifts (services/messaging/README.md, "Suppression list"). The address searched stays
// in this tab's memory, never in the address bar.

import * as api from '../common/api.js';
import {button, field, fill, h, modal} from '../common/dom.js';
import {dateTime} from '../common/format.js';
import {t} from '../common/i18n.js';
import {clearProblem, filterForm, pagedList, problemText, showProblem, staffName, staffNames} from './lists.js';

const PATH = '/v1/messaging/suppressions';

export function showSuppressions(body, ctx) {
  const manages = ctx.may('messaging.campaigns');
  const state = ctx.memory().suppressions ??= {email: ''};
  const staff = staffNames(ctx);
  const list = pagedList({id: 'suppressions', caption: t('mail.tab.suppressions'), path: PATH,
    query: () => ({email: state.email.trim()}), empty: 'suppression.none', badFilter: 'suppression.search.whole',
    rowAttrs: (s) => ({'data-email': s.email}), columns: [
      ['suppression.email', (s) => s.email],
      ['suppression.reason', (s) => h('span', {class: 'badge ' + s.reason}, t('suppression.reason.' + s.reason))],
      ['suppression.detail', (s) => s.detail || t('empty')],
      ['suppression.added_by', (s) => addedBy(s)],
      ['suppression.at', (s) => dateTime(s.at)],
      ...(manages ? [['list.actions', (s) => s.reason === 'unsubscribe'
        ? h('span', {class: 'hint member-only'}, t('suppression.member_only'))
        : button(t('suppression.lift'), () => lift(s), {class: 'lift'})]] : []),
    ]});

  // A bounce was the relay's doing; an unsubscribe the member's own, by its channel; a manual
  // entry names who added it.
  function addedBy(s) {
    if (s.reason === 'bounce') return t('suppression.by_relay');
    if (s.reason === 'unsubscribe') return t('suppression.by_member', {channel: t('suppression.channel.' + s.channel)});
    const cell = h('span', {}, t('loading'));
    staff.then((known) => { cell.textContent = staffName(known, s.added_by); });
    return cell;
  }

  function lift(s) {
    modal(t('suppression.lift.title', {email: s.email}), [h('p', {}, t('suppression.lift.explain'))],
      t('suppression.lift'), t('action.cancel'), async (showError) => {
        const r = await api.call('DELETE', PATH + '/' + encodeURIComponent(s.email));
        if (!r.ok && r.status !== 404) {
          showError(problemText(r.status));
          return false;
        }
        ctx.announce(t(r.ok ? 'suppression.lifted' : 'suppression.not_listed', {email: s.email}));
        list.reload();
        return true;
      });
  }

  const search = h('input', {type: 'search', id: 'suppression-search', autocomplete: 'off', value: state.email,
                             placeholder: 'hanako@example.com'});
  search.addEventListener('input', () => { state.email = search.value; list.soon(); });
  fill(body, h('h2', {}, t('mail.tab.suppressions')), h('p', {class: 'hint'}, t('suppression.explain')),
    manages ? addForm(ctx, list) : null,
    filterForm(field(t('suppression.search'), search, t('suppression.search.hint'))), list.element);
  list.reload();
}

// The form that puts an address on the list; an address listed already is said so, not added.
function addForm(ctx, list) {
  const controls = {
    email: h('input', {type: 'email', id: 'suppression-email', autocomplete: 'off'}),
    note: h('input', {type: 'text', id: 'suppression-note', autocomplete: 'off'}),
  };
  const error = h('p', {class: 'form-error', role: 'alert', hidden: true});
  const add = h('button', {type: 'submit', class: 'primary', id: 'suppression-add'}, t('suppression.add'));
  const form = h('form', {class: 'card edit inline-form', id: 'suppression-form', novalidate: true},
    h('h3', {}, t('suppression.add.title')), error,
    field(t('suppression.email'), controls.email),
    field(t('suppression.note'), controls.note, t('suppression.note.hint')),
    h('div', {class: 'tools'}, add));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearProblem(controls, error);
    const email = controls.email.value.trim();
    add.disabled = true;
    const before = email && await api.call('GET', PATH, {query: {email}});
    const listed = before && before.ok && before.data.data[0];
    const r = listed ? null : await api.call('POST', PATH, {body: {email, note: controls.note.value.trim()}});
    add.disabled = false;
    if (listed) {
      error.textContent = t('suppression.already', {email: listed.email, at: dateTime(listed.at)});
      error.hidden = false;
      return;
    }
    if (!r.ok) return showProblem(r, controls, error);
    ctx.announce(t('suppression.added', {email: r.data.email}));
    controls.email.value = '';
    controls.note.value = '';
    list.reload();
  });
  return form;
}
