// plan.js - the member's plan (ご契約): each subscription with its price and next charge, and,
// when it is suspended for an invoice unpaid past the company's payment terms, since when and
// which invoices to pay; a plan change shown first as billing's preview (the prorated amount)
// and then confirmed with the preview's ETag, so the member pays what they saw; cancelling at
// the period's end with a reason, or resuming; the payment card (a sandbox token); the invoices
// with their PDFs.

import * as api from '../common/api.js';
import {button, field, fieldError, fill, h} from '../common/dom.js';
import {clearErrors, showErrors} from '../common/form.js';
import {date, dateTime, yen} from '../common/format.js';
import {CANCEL_REASONS, t} from '../common/i18n.js';

const etagOf = (x) => '"' + x.version + '"';

function price(plan) {
  const every = t('plan.every.' + plan.interval + (plan.interval_count === 1 ? '.one' : ''), {n: plan.interval_count});
  return yen(plan.amount) + t('plan.tax_mode.short.' + plan.tax_mode) + ' / ' + every;
}

function formError() {
  return h('p', {class: 'form-error', role: 'alert', hidden: true});
}

export function showPlan(main, ctx) {
  const id = ctx.member().id;

  async function load(message) {
    fill(main, h('p', {class: 'summary'}, t('loading')));
    const [subs, plans, invoices] = await Promise.all([
      api.call('GET', '/v1/subscriptions', {query: {member_id: id}}),
      api.call('GET', '/v1/plans/offered', {query: {limit: 100}}),
      api.call('GET', '/v1/invoices', {query: {member_id: id, limit: 100}})]);
    if (!subs.ok || !plans.ok || !invoices.ok) {
      fill(main, h('p', {class: 'form-error', role: 'alert'}, t('billing.unavailable')),
        button(t('action.retry'), () => load(), {id: 'plan-retry'}));
      return;
    }
    const live = subs.data.data.filter((s) => s.status !== 'canceled');
    fill(main,
      message ? h('p', {class: 'notice card', role: 'status', id: 'plan-message'}, message) : null,
      h('section', {class: 'card', 'aria-labelledby': 'plan-title'},
        h('h2', {id: 'plan-title'}, t('portal.plan.title')),
        live.length ? live.map((s) => subscription(s, plans.data.data, invoices.data.data))
                    : h('p', {id: 'plan-none'}, t('portal.plan.none'))),
      card(),
      invoiceList(invoices.data.data));
    if (message) ctx.announce(message);
  }

  function subscription(s, plans, invoices) {
    const plan = plans.find((p) => p.id === s.plan_id);
    const actions = h('div', {class: 'tools'});
    const box = h('div', {class: 'subscription', 'data-subscription': s.id});
    const rows = [
      ['subscription.plan', plan ? plan.name : s.plan_code],
      ['plan.price', plan ? price(plan) : t('empty')],
      ['subscription.status', t('subscription.status.' + s.status)],
      // a suspended subscription renews no more until it is paid: no next charge to show
      s.cancel_at_period_end ? ['portal.plan.ends', date(s.current_period_end)]
        : s.suspended_at ? null : ['portal.plan.next_charge', date(s.current_period_end)],
    ].filter(Boolean);
    if (!s.cancel_at_period_end && plans.some((p) => p.id !== s.plan_id))
      actions.append(button(t('portal.plan.change'), () => change(box, s, plans), {id: 'plan-change'}));
    if (s.cancel_at_period_end)
      actions.append(button(t('portal.plan.resume'), () => resume(box, s), {id: 'plan-resume'}));
    else
      actions.append(button(t('subscription.cancel'), () => cancel(box, s), {id: 'plan-cancel', class: 'danger'}));
    return fill(box, s.suspended_at ? suspended(s, invoices) : null,
      h('dl', {class: 'record', id: 'plan-summary'}, rows.map(([label, value]) =>
        h('div', {}, h('dt', {}, t(label)), h('dd', {}, value)))),
      actions);
  }

  // A subscription suspended for unpaid invoices (billing's suspended_at): since when, what to
  // do, and the invoices open past their due date when it was suspended (any of the member's
  // counts, a purchase's too), with the way to the list of invoices below.
  function suspended(s, invoices) {
    const since = Date.parse(s.suspended_at);
    const overdue = invoices.filter((i) => i.status === 'open' && i.due_at && Date.parse(i.due_at) < since);
    const toInvoices = button(t('portal.plan.see_invoices'), () => {
      const title = document.getElementById('invoices-title');
      title.scrollIntoView();
      title.focus();
    }, {id: 'plan-see-invoices', class: 'link'});
    return h('div', {class: 'notice card', id: 'plan-suspended'},
      h('p', {}, h('strong', {}, t('portal.plan.suspended', {at: dateTime(s.suspended_at)}))),
      h('p', {}, t('portal.plan.suspended.todo')),
      overdue.length ? h('ul', {id: 'plan-overdue'}, overdue.map((i) => h('li', {'data-invoice': i.id},
        t('portal.plan.overdue', {number: i.number || '', amount: yen(i.amount_due), due: date(i.due_at)})))) : null,
      toInvoices);
  }

  // A plan change: the plan chosen, then billing's preview of what it costs now, then confirmed.
  function change(box, s, plans) {
    const choice = h('select', {id: 'change-plan'}, h('option', {value: ''}, t('list.choose')),
      plans.filter((p) => p.id !== s.plan_id).map((p) => h('option', {value: p.id}, p.name + '（' + price(p) + '）')));
    const error = formError();
    const previewBox = h('div', {id: 'change-preview'});
    const ask = h('button', {type: 'submit', class: 'primary', id: 'change-preview-button'}, t('portal.plan.preview'));
    const form = h('form', {class: 'card', novalidate: true, id: 'change-form'},
      h('h3', {}, t('portal.plan.change')), error, field(t('portal.plan.new_plan'), choice),
      h('div', {class: 'tools'}, ask, button(t('action.cancel'), () => load(), {id: 'change-cancel'})), previewBox);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearErrors({plan: choice}, error);
      fill(previewBox);
      if (!choice.value) {
        fieldError(choice, t('error.choose'));
        return choice.focus();
      }
      ask.disabled = true;
      const r = await api.call('GET', '/v1/subscriptions/' + s.id + '/change-plan/preview', {query: {plan: choice.value}});
      ask.disabled = false;
      if (!r.ok) return showErrors(r, {plan: choice}, error);
      preview(previewBox, s, r.data, r.etag, choice, error);
    });
    fill(box, form);
    choice.focus();
  }

  function preview(previewBox, s, p, etag, choice, error) {
    const rows = p.prorated
      ? [['portal.plan.unused_credit', yen(p.unused_credit)], ['portal.plan.new_charge', yen(p.new_charge)],
         ['portal.plan.amount_due', yen(p.amount_due)], ['portal.plan.credit_added', yen(p.credit_added)]]
      : [['portal.plan.amount_due', yen(p.amount_due)]];
    const confirm = button(t('portal.plan.confirm', {amount: yen(p.amount_due)}), async () => {
      confirm.disabled = true;
      const r = await api.call('POST', '/v1/subscriptions/' + s.id + '/change-plan/prorated',
                               {body: {plan: choice.value}, etag});
      confirm.disabled = false;
      if (r.ok) return load(t('portal.plan.changed'));
      showErrors(r, {plan: choice}, error, {412: 'portal.plan.preview_stale', 409: 'portal.plan.change_refused'});
    }, {id: 'change-confirm', class: 'primary'});
    fill(previewBox,
      h('h4', {}, t('portal.plan.preview_title')),
      h('dl', {class: 'record', id: 'preview-amounts'}, rows.map(([label, value]) =>
        h('div', {'data-amount': label.split('.').pop()}, h('dt', {}, t(label)), h('dd', {}, value)))),
      h('p', {class: 'hint'}, t('portal.plan.period', {start: date(p.current_period_start), end: date(p.current_period_end)})),
      confirm);
    confirm.focus();
  }

  function cancel(box, s) {
    const reason = h('select', {id: 'cancel-reason'}, h('option', {value: ''}, t('list.choose')),
      CANCEL_REASONS.map((r) => h('option', {value: r}, t('cancel.reason.' + r))));
    const comment = h('textarea', {id: 'cancel-comment', rows: 3, maxlength: 1000});
    const controls = {reason, comment};
    const error = formError();
    const submit = h('button', {type: 'submit', class: 'danger confirm', id: 'cancel-confirm'}, t('subscription.cancel.confirm'));
    const form = h('form', {class: 'card', novalidate: true, id: 'cancel-form'},
      h('h3', {}, t('portal.cancel.title')),
      h('p', {}, t('portal.cancel.explain', {date: date(s.current_period_end)})), error,
      field(t('subscription.cancel_reason'), reason), field(t('subscription.cancel.comment'), comment),
      h('div', {class: 'tools'}, submit, button(t('action.cancel'), () => load(), {id: 'cancel-back'})));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearErrors(controls, error);
      submit.disabled = true;
      const r = await api.call('POST', '/v1/subscriptions/' + s.id + '/cancel-at-period-end',
                               {body: {reason: reason.value || null, comment: comment.value}, etag: etagOf(s)});
      submit.disabled = false;
      if (r.ok) return load(t('portal.cancel.done', {date: date(r.data.current_period_end)}));
      if (r.status === 412) return load(t('portal.changed_reload'));
      showErrors(r, controls, error);
    });
    fill(box, form);
    reason.focus();
  }

  async function resume(box, s) {
    const r = await api.call('POST', '/v1/subscriptions/' + s.id + '/resume', {body: {}, etag: etagOf(s)});
    if (r.ok) return load(t('portal.plan.resumed'));
    box.prepend(h('p', {class: 'form-error', role: 'alert'}, t('error.unavailable')));
  }

  // The card renewals are charged with: a new one replaces it (the provider's token).
  function card() {
    const token = h('input', {type: 'text', id: 'card-token', autocomplete: 'off'});
    const controls = {token};
    const error = formError();
    const done = h('p', {role: 'status', id: 'card-done', hidden: true});
    const submit = h('button', {type: 'submit', class: 'primary', id: 'card-save'}, t('portal.card.save'));
    const form = h('form', {class: 'card', novalidate: true, id: 'card-form', 'aria-labelledby': 'card-title'},
      h('h2', {id: 'card-title'}, t('portal.card.title')), h('p', {class: 'hint'}, t('portal.card.explain')),
      done, error, field(t('portal.card.token'), token, t('portal.card.token.hint')), h('div', {class: 'tools'}, submit));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearErrors(controls, error);
      done.hidden = true;
      submit.disabled = true;
      const r = await api.call('POST', '/v1/members/' + id + '/payment-methods',
                               {body: {type: 'card', token: token.value.trim(), set_default: true}});
      submit.disabled = false;
      if (!r.ok) return showErrors(r, controls, error);
      token.value = '';
      done.textContent = t('portal.card.saved', {brand: r.data.brand || '', last4: r.data.last4 || ''});
      done.hidden = false;
      ctx.announce(done.textContent);
    });
    return form;
  }

  function invoiceList(invoices) {
    const shown = invoices.filter((i) => i.status !== 'draft');
    return h('section', {class: 'card', 'aria-labelledby': 'invoices-title'},
      h('h2', {id: 'invoices-title', tabindex: '-1'}, t('invoices.title')),
      shown.length
        ? h('table', {class: 'list', id: 'invoices'},
            h('thead', {}, h('tr', {}, ['invoice.issued_at', 'invoice.number', 'invoice.total', 'invoice.status', 'portal.invoice.pdf']
              .map((k) => h('th', {scope: 'col'}, t(k))))),
            h('tbody', {}, shown.map((i) => h('tr', {'data-invoice': i.id},
              h('td', {'data-label': t('invoice.issued_at')}, date(i.issued_at || i.created_at)),
              h('td', {'data-label': t('invoice.number')}, i.number || t('empty')),
              h('td', {'data-label': t('invoice.total')}, yen(i.total)),
              h('td', {'data-label': t('invoice.status')}, t('invoice.status.' + i.status)),
              h('td', {'data-label': t('portal.invoice.pdf')},
                h('a', {href: '/v1/invoices/' + i.id + '/pdf', class: 'pdf', target: '_blank', rel: 'noopener'},
                  t('portal.invoice.open_pdf', {number: i.number || ''})))))))
        : h('p', {id: 'invoices-none'}, t('billing.none')));
  }

  load();
}
