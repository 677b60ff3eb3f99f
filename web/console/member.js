// member.js - 会員詳細: the record; editing it with If-Match (a conflict shows the stored
// version beside the unsaved input, and nothing is overwritten unless the user says so);
// withdrawal; erasure behind a typed confirmation; the timeline, subscriptions and invoices; a
// company's payment terms (締め日・支払条件), set with If-Match by those who may.

import * as api from '../common/api.js';
import {button, field, fieldError, fill, h, modal as dialog, moreButton} from '../common/dom.js';
import {date, dateTime, day, yen} from '../common/format.js';
import {fieldMessage, t} from '../common/i18n.js';

// The fields the edit form changes, in the order it shows them.
const EDITABLE = ['name', 'name_kana', 'email', 'phone', 'birthday', 'postal_code', 'prefecture',
                  'address', 'note'];
const HINTS = {name_kana: 'member.name_kana.hint', phone: 'member.phone.hint', birthday: 'member.birthday.hint',
               postal_code: 'member.postal_code.hint', prefecture: 'member.prefecture.hint'};

function text(value) {
  return value === null || value === undefined || value === '' ? t('empty') : String(value);
}

export function showMember(main, ctx, id) {
  const view = {record: null, etag: null};
  const path = '/v1/members/' + id;

  async function load() {
    fill(main, h('p', {class: 'summary'}, t('loading')));
    const r = await api.call('GET', path);
    if (!r.ok) {
      fill(main, h('h1', {tabindex: '-1'}, r.status === 404 ? t('member.not_found') : t('error.unavailable')),
        h('p', {}, h('a', {href: '#/members'}, t('member.back'))));
      return;
    }
    view.record = r.data;
    view.etag = r.etag;
    render();
  }

  function render(editing) {
    const m = view.record;
    document.title = (m.name || t('member.no_name')) + ' - ' + t('app.name');
    const actions = h('div', {class: 'tools'});
    if (ctx.may('member.write') && m.status !== 'withdrawn' && !editing)
      actions.append(button(t('action.edit'), () => render(true), {id: 'member-edit'}));
    if (ctx.may('member.write') && m.status !== 'withdrawn' && !editing)
      actions.append(button(t('member.withdraw'), withdraw, {id: 'member-withdraw'}));
    if (ctx.may('member.erase') && !editing)
      actions.append(button(t('member.erase'), erase, {id: 'member-erase', class: 'danger'}));
    const heading = h('h1', {tabindex: '-1', id: 'member-title'}, m.name || t('member.no_name'));
    fill(main,
      h('p', {class: 'crumbs'}, h('a', {href: '#/members'}, t('member.back'))),
      h('div', {class: 'heading'}, heading, actions),
      h('p', {class: 'badges'}, h('span', {class: 'badge ' + m.status}, t('member.status.' + m.status)),
        m.rank ? h('span', {class: 'badge'}, m.rank) : null,
        (m.tags || []).map((tag) => h('span', {class: 'badge tag'}, tag))),
      editing ? editForm() : record(m),
      ctx.may('analytics.timeline.read') ? timeline() : null,
      ctx.may('billing.settings.read') ? terms() : null,
      ctx.may('billing.read') ? billing() : null);
    if (editing) main.querySelector('input').focus();
    else heading.focus();
  }

  function record(m) {
    const consent = m.marketing_consent;
    const rows = [
      ['member.email', text(m.email)],
      ['member.name_kana', text(m.name_kana)],
      ['member.phone', text(m.phone), 'member-phone'],
      ['member.birthday', m.birthday ? day(m.birthday) : t('empty')],
      ['member.postal_code', text(m.postal_code)],
      ['member.address', text([m.prefecture, m.address].filter(Boolean).join(' '))],
      ['member.consent', consent ? t(consent.email_opt_in ? 'member.consent.yes' : 'member.consent.no', {date: date(consent.at)}) : t('empty')],
      ['member.note', text(m.note)],
      ['member.created_at', date(m.created_at)],
      ['member.updated_at', dateTime(m.updated_at)],
      ['member.last_login_at', m.last_login_at ? dateTime(m.last_login_at) : t('empty')],
    ];
    if (m.status === 'withdrawn')
      rows.push(['member.withdrawn_at', date(m.withdrawn_at) + (m.withdrawn_reason ? '（' + m.withdrawn_reason + '）' : '')]);
    return h('section', {class: 'card', 'aria-labelledby': 'record-title'},
      h('h2', {id: 'record-title'}, t('member.record')),
      h('dl', {class: 'record'}, rows.map(([label, value, cls]) =>
        h('div', {class: cls}, h('dt', {}, t(label)), h('dd', {}, value)))));
  }

  // --- editing ---------------------------------------------------------------------------

  function editForm() {
    const controls = {};
    for (const name of EDITABLE) {
      controls[name] = name === 'note'
        ? h('textarea', {id: 'edit-' + name, rows: 3}, view.record[name] || '')
        : h('input', {type: name === 'email' ? 'email' : 'text', id: 'edit-' + name, value: view.record[name] || '',
                      autocomplete: 'off', inputmode: name === 'phone' || name === 'postal_code' ? 'tel' : null});
    }
    const error = h('p', {class: 'form-error', role: 'alert', hidden: true});
    const conflictBox = h('div');
    const save = h('button', {type: 'submit', class: 'primary', id: 'edit-save'}, t('action.save'));
    const form = h('form', {class: 'card edit', novalidate: true, id: 'member-form'},
      h('h2', {}, t('member.edit')), conflictBox, error,
      EDITABLE.map((name) => field(t('member.' + name), controls[name], HINTS[name] && t(HINTS[name]))),
      h('div', {class: 'tools'}, save, button(t('action.cancel'), () => render(false), {id: 'edit-cancel'})));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      save.disabled = true;
      await submit(controls, error, conflictBox);
      save.disabled = false;
    });
    return form;
  }

  // The form's values that differ from the record it was opened on: null clears a field.
  function changes(controls) {
    const patch = {};
    for (const name of EDITABLE) {
      const value = name === 'note' ? controls[name].value : controls[name].value.trim();
      if (value !== (view.record[name] || '')) patch[name] = value === '' ? null : value;
    }
    return patch;
  }

  async function submit(controls, error, conflictBox) {
    for (const name of EDITABLE) fieldError(controls[name], '');
    error.hidden = true;
    const patch = changes(controls);
    if (!Object.keys(patch).length) {
      error.textContent = t('member.no_changes');
      error.hidden = false;
      return;
    }
    const r = await api.call('PATCH', path, {body: patch, etag: view.etag});
    if (r.ok) {
      view.record = r.data;
      view.etag = r.etag;
      render(false);
      ctx.announce(t('member.saved'));
      return;
    }
    if (r.status === 412) return conflict(controls, error, conflictBox);
    let named = false;
    for (const e of (r.problem && r.problem.errors) || []) {
      const control = controls[e.field.split('.')[0]];
      if (control) {
        fieldError(control, fieldMessage(e.field, e.reason));
        if (!named) control.focus();
        named = true;
      }
    }
    error.textContent = r.status === 400 ? t('error.check_fields') : r.status === 403 ? t('error.forbidden')
                      : r.status === 404 ? t('member.not_found') : r.status === 409 ? t('error.conflict')
                      : t('error.unavailable');
    error.hidden = false;
  }

  // Someone saved the member since this form opened: show what is stored beside what the
  // user typed, and let them choose. Their input stays in the form until they do.
  async function conflict(controls, error, conflictBox) {
    const latest = await api.call('GET', path);
    if (!latest.ok) {
      fill(conflictBox, h('p', {class: 'form-error', role: 'alert'}, t('error.unavailable')));
      return;
    }
    const stored = latest.data;
    const differing = EDITABLE.filter((name) =>
      (stored[name] || '') !== (view.record[name] || '') || name in changes(controls));
    const overwrite = button(t('conflict.overwrite'), async () => {
      view.record = stored;          // the user's values now change the stored version
      view.etag = latest.etag;
      fill(conflictBox);
      await submit(controls, error, conflictBox);
    }, {id: 'conflict-overwrite', class: 'primary'});
    const discard = button(t('conflict.discard'), () => {
      view.record = stored;
      view.etag = latest.etag;
      render(true);
      ctx.announce(t('conflict.discarded'));
    }, {id: 'conflict-discard'});
    fill(conflictBox, h('section', {class: 'conflict', role: 'alert', id: 'conflict', tabindex: '-1'},
      h('h3', {}, t('conflict.title')), h('p', {}, t('conflict.explain')),
      h('table', {class: 'compare'},
        h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, t('conflict.field')),
          h('th', {scope: 'col'}, t('conflict.stored')), h('th', {scope: 'col'}, t('conflict.yours')))),
        h('tbody', {}, differing.map((name) => h('tr', {'data-field': name},
          h('th', {scope: 'row'}, t('member.' + name)),
          h('td', {class: 'stored'}, text(stored[name])),
          h('td', {class: 'yours'}, text(controls[name].value)))))),
      h('div', {class: 'tools'}, overwrite, discard)));
    conflictBox.firstChild.focus();
  }

  // --- withdrawal and erasure -------------------------------------------------------------

  function withdraw() {
    const reason = h('textarea', {id: 'withdraw-reason', rows: 3});
    modal(t('member.withdraw.title'), [h('p', {}, t('member.withdraw.explain')), field(t('member.withdraw.reason'), reason)],
      t('member.withdraw.confirm'), async (error) => {
        const r = await api.call('POST', path + '/withdraw', {body: {reason: reason.value}, etag: view.etag});
        if (r.ok) {
          view.record = r.data;
          view.etag = r.etag;
          render(false);
          ctx.announce(t('member.withdrawn'));
          return true;
        }
        if (r.problem && r.problem.errors) for (const e of r.problem.errors)
          if (e.field === 'reason') fieldError(reason, fieldMessage(e.field, e.reason));
        error(r.status === 412 ? t('member.changed_reload') : r.status === 400 ? t('error.check_fields') : t('error.unavailable'));
        return false;
      });
  }

  function erase() {
    const email = view.record.email || '';
    const typed = h('input', {type: 'text', id: 'erase-confirm', autocomplete: 'off'});
    const reason = h('textarea', {id: 'erase-reason', rows: 2});
    const dialog = modal(t('member.erase.title'),
      [h('p', {}, t('member.erase.explain')), field(t('member.erase.type', {email}), typed), field(t('member.erase.reason'), reason)],
      t('member.erase.confirm'), async (error) => {
        const r = await api.call('POST', path + '/erase', {body: {reason: reason.value}});
        if (r.ok) {
          view.record = r.data;
          view.etag = r.etag;
          render(false);
          ctx.announce(t('member.erased'));
          return true;
        }
        error(r.status === 403 ? t('error.forbidden') : r.status === 409 ? t('member.erase.already')
            : t('error.unavailable'));
        return false;
      }, true);
    const confirm = dialog.querySelector('.confirm');
    confirm.disabled = true;
    typed.addEventListener('input', () => { confirm.disabled = typed.value.trim() !== email; });
  }

  function modal(title, body, confirmLabel, onConfirm, danger) {
    return dialog(title, body, confirmLabel, t('action.cancel'), onConfirm, danger);
  }

  // --- what other services know -----------------------------------------------------------

  function timeline() {
    const list = h('ol', {class: 'timeline', id: 'member-timeline'});
    const status = h('p', {class: 'summary'}, t('loading'));
    const more = moreButton(t('timeline.more'), page);
    async function page(cursor) {
      const r = await api.call('GET', path + '/timeline', {query: {limit: 20, cursor}});
      if (!r.ok) {
        status.textContent = t('timeline.unavailable');
        return '';
      }
      list.append(...r.data.data.map((e) => h('li', {},
        h('time', {datetime: e.occurred_at}, dateTime(e.occurred_at)), ' ', h('span', {}, e.summary))));
      status.textContent = list.children.length ? '' : t('timeline.none');
      return r.data.next_cursor || '';
    }
    more.next();
    return h('section', {class: 'card', 'aria-labelledby': 'timeline-title'},
      h('h2', {id: 'timeline-title'}, t('timeline.title')), status, list, more.button);
  }

  // --- payment terms (締め日・支払条件) -------------------------------------------------------

  // The terms in words: 「20日締め・翌月末払い」.
  function termsRule(x) {
    const dayText = (d) => (d === 31 ? t('terms.day.end') : t('terms.day.n', {day: d}));
    const closing = x.closing_day === 31 ? t('terms.closing.end') : t('terms.closing.day', {day: x.closing_day});
    const due = x.due_days ? t('terms.due.days', {n: x.due_days})
                           : t('terms.due.month.' + (x.due_months || 1), {day: dayText(x.due_day)});
    return t('terms.rule', {closing, due});
  }

  function terms() {
    const termsPath = path + '/payment-terms';
    const state = {terms: null, etag: null};
    const body = h('div', {id: 'terms-body'}, h('p', {class: 'summary'}, t('loading')));
    const section = h('section', {class: 'card', 'aria-labelledby': 'terms-title', id: 'member-terms'},
      h('h2', {id: 'terms-title'}, t('terms.title')), body);

    async function load() {
      const r = await api.call('GET', termsPath);
      if (!r.ok && r.status !== 404) {
        fill(body, h('p', {class: 'summary'}, t('billing.unavailable')));
        return;
      }
      state.terms = r.ok ? r.data : null;
      state.etag = r.ok ? r.etag : null;
      summary();
    }

    function summary() {
      const x = state.terms;
      const lines = !x ? [h('p', {id: 'terms-summary'}, t('terms.none'))]
        : [h('p', {id: 'terms-summary'}, x.company ? termsRule(x) : t('terms.not_in_force', {rule: termsRule(x)})),
           x.company && x.consolidate ? h('p', {id: 'terms-consolidate-note'}, t('terms.consolidate.on')) : null,
           h('p', {class: 'hint'}, t('terms.updated', {at: dateTime(x.updated_at), by: x.updated_by || t('empty')}))];
      const edit = ctx.may('billing.settings.write') && view.record.status !== 'withdrawn'
        ? h('div', {class: 'tools'}, button(t(x ? 'terms.edit' : 'terms.set'), form, {id: 'terms-edit'})) : null;
      fill(body, lines, edit);
    }

    function days(id, chosen) {
      const options = [];
      for (let d = 1; d <= 28; d++) options.push(h('option', {value: String(d)}, t('terms.day.n', {day: d})));
      options.push(h('option', {value: '31'}, t('terms.day.end')));
      const select = h('select', {id}, options);
      select.value = String(chosen);
      return select;
    }

    function form() {
      const x = state.terms || {company: true, closing_day: 31, due_months: 1, due_day: 31, due_days: null, consolidate: false};
      const c = {
        company: h('input', {type: 'checkbox', id: 'terms-company'}),
        closing_day: days('terms-closing_day', x.closing_day),
        rule: h('select', {id: 'terms-rule'}, ['month', 'days'].map((v) => h('option', {value: v}, t('terms.rule.' + v)))),
        due_months: h('select', {id: 'terms-due_months'}, [1, 2, 3].map((n) => h('option', {value: String(n)}, t('terms.months.' + n)))),
        due_day: days('terms-due_day', x.due_day || 31),
        due_days: h('input', {type: 'text', id: 'terms-due_days', inputmode: 'numeric', autocomplete: 'off', value: x.due_days ? String(x.due_days) : ''}),
        consolidate: h('input', {type: 'checkbox', id: 'terms-consolidate'}),
      };
      c.company.checked = Boolean(x.company);
      c.consolidate.checked = Boolean(x.consolidate);
      c.rule.value = x.due_days ? 'days' : 'month';
      c.due_months.value = String(x.due_months || 1);
      const monthFields = h('div', {id: 'terms-month-fields'}, field(t('terms.due_months'), c.due_months), field(t('terms.due_day'), c.due_day));
      const daysFields = h('div', {id: 'terms-days-fields'}, field(t('terms.due_days'), c.due_days, t('terms.due_days.hint')));
      const toggle = () => { monthFields.hidden = c.rule.value !== 'month'; daysFields.hidden = c.rule.value !== 'days'; };
      c.rule.addEventListener('change', toggle);
      toggle();
      const error = h('p', {class: 'form-error', role: 'alert', hidden: true, id: 'terms-error'});
      const save = h('button', {type: 'submit', class: 'primary', id: 'terms-save'}, t('action.save'));
      const f = h('form', {class: 'edit', novalidate: true, id: 'terms-form'}, error,
        field(t('terms.company'), c.company, t('terms.company.hint')),
        field(t('terms.closing_day'), c.closing_day),
        field(t('terms.rule'), c.rule), monthFields, daysFields,
        field(t('terms.consolidate'), c.consolidate, t('terms.consolidate.hint')),
        h('div', {class: 'tools'}, save, button(t('action.cancel'), summary, {id: 'terms-cancel'})));
      f.addEventListener('submit', async (event) => {
        event.preventDefault();
        save.disabled = true;
        await submit(c, error);
        save.disabled = false;
      });
      fill(body, f);
      c.company.focus();
    }

    async function submit(c, error) {
      for (const name of Object.keys(c)) fieldError(c[name], '');
      error.hidden = true;
      const put = {company: c.company.checked, closing_day: Number(c.closing_day.value), consolidate: c.consolidate.checked};
      if (c.rule.value === 'days') {
        const n = c.due_days.value.trim();
        put.due_days = /^\d+$/.test(n) ? Number(n) : n;
      }
      else {
        put.due_months = Number(c.due_months.value);
        put.due_day = Number(c.due_day.value);
      }
      const r = await api.call('PUT', termsPath, {body: put, etag: state.etag});
      if (r.ok) {
        state.terms = r.data;
        state.etag = r.etag;
        summary();
        ctx.announce(t('terms.saved'));
        return;
      }
      let named = false;
      for (const e of (r.problem && r.problem.errors) || []) {
        const control = c[e.field];
        if (control) {
          fieldError(control, fieldMessage(e.field, e.reason));
          if (!named) control.focus();
          named = true;
        }
      }
      error.textContent = r.status === 400 ? t('error.check_fields') : r.status === 403 ? t('error.forbidden')
                        : r.status === 412 ? t('settings.changed') : t('error.unavailable');
      error.hidden = false;
    }

    load();
    return section;
  }

  // A table of a billing list filtered by this member, or a line saying why there is none.
  function billingTable(title, listPath, columns, tableId) {
    const status = h('p', {class: 'summary'}, t('loading'));
    const section = h('section', {class: 'card', 'aria-label': title}, h('h2', {}, title), status);
    api.call('GET', listPath, {query: {member_id: id, limit: 20}}).then((r) => {
      if (!r.ok) {
        status.textContent = t('billing.unavailable');
        return;
      }
      status.textContent = r.data.data.length ? '' : t('billing.none');
      if (r.data.data.length)
        section.append(h('table', {class: 'list', id: tableId},
          h('thead', {}, h('tr', {}, columns.map(([label]) => h('th', {scope: 'col'}, t(label))))),
          h('tbody', {}, r.data.data.map((x) => h('tr', {},
            columns.map(([label, value]) => h('td', {'data-label': t(label)}, value(x))))))));
    });
    return section;
  }

  function billing() {
    return [
      billingTable(t('subscriptions.title'), '/v1/subscriptions', [
        ['subscription.plan', (s) => s.plan_code],
        ['subscription.status', (s) => [h('span', {class: 'badge ' + s.status}, t('subscription.status.' + s.status)),
          s.suspended_at ? h('span', {class: 'suspended'}, t('subscription.suspended', {at: dateTime(s.suspended_at)})) : null]],
        ['subscription.period_end', (s) => date(s.current_period_end)],
        ['subscription.created_at', (s) => date(s.created_at)],
      ], 'member-subscriptions'),
      billingTable(t('invoices.title'), '/v1/invoices', [
        ['invoice.number', (i) => text(i.number)],
        ['invoice.status', (i) => t('invoice.status.' + i.status)],
        ['invoice.total', (i) => yen(i.total)],
        ['invoice.issued_at', (i) => date(i.issued_at)],
      ], 'member-invoices'),
    ];
  }

  load();
}
