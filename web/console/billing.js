// billing.js - 請求: plans (created and archived by the roles that may), subscriptions (cancelled
// with a reason by the roles that may), invoices, refunds and bank deposits (入金消込:
// deposits.js), each a tab at #/billing/<tab>; one invoice's page is invoice.js. Filters stay in this tab's memory.

import * as api from '../common/api.js';
import {button, field, fieldError, fill, h, modal} from '../common/dom.js';
import {date, yen} from '../common/format.js';
import {CANCEL_REASONS, t} from '../common/i18n.js';
import {showDeposits} from './deposits.js';
import {choice, clearProblem, filterForm, memberLink, pagedList, problemText, showProblem, tabs} from './lists.js';

export const PLAN_STATUSES = ['active', 'archived'];
export const SUBSCRIPTION_STATUSES = ['trialing', 'active', 'past_due', 'unpaid', 'canceled', 'incomplete'];
export const INVOICE_STATUSES = ['draft', 'open', 'paid', 'void', 'uncollectible'];

// The tabs and the permission each needs.
const TABS = [
  ['billing/plans', 'billing.tab.plans', 'billing.catalog.read', showPlans],
  ['billing/subscriptions', 'billing.tab.subscriptions', 'billing.read', showSubscriptions],
  ['billing/invoices', 'billing.tab.invoices', 'billing.read', showInvoices],
  ['billing/refunds', 'billing.tab.refunds', 'billing.read', showRefunds],
  ['billing/deposits', 'billing.tab.deposits', 'billing.read', showDeposits],
];

// An object's ETag from the version its JSON shows (plans and subscriptions show it).
const etagOf = (x) => '"' + x.version + '"';

export function showBilling(main, ctx, tab) {
  const current = TABS.find(([path]) => path === 'billing/' + (tab || 'plans'));
  document.title = t(current[1]) + ' - ' + t('billing.title') + ' - ' + t('app.name');
  const mine = TABS.filter(([, , permission]) => ctx.may(permission));
  const body = h('div');
  fill(main, h('h1', {tabindex: '-1'}, t('billing.title')),
    tabs(t('billing.title'), mine.map(([path, label]) => [path, label]), current[0]), body);
  if (!ctx.may(current[2])) fill(body, h('p', {}, t('error.forbidden')));
  else current[3](body, ctx, ctx.memory().billing ??= {plans: '', subscriptions: '', invoices: ''});
}

// --- plans ---------------------------------------------------------------------------------

function interval(p) {
  return t('plan.every.' + p.interval + (p.interval_count === 1 ? '.one' : ''), {n: p.interval_count});
}

function showPlans(body, ctx, state) {
  const writes = ctx.may('billing.plans.write');
  const columns = [
    ['plan.name', (p) => [h('span', {class: 'plan-name'}, p.name), h('br'), h('code', {}, p.code)]],
    ['plan.price', (p) => yen(p.amount) + t('plan.tax_mode.short.' + p.tax_mode)],
    ['plan.tax_rate', (p) => t('plan.rate', {n: p.tax_rate})],
    ['plan.interval', interval],
    ['plan.trial_days', (p) => (p.trial_days ? t('plan.days', {n: p.trial_days}) : t('empty'))],
    ['plan.rank', (p) => p.rank || t('empty')],
    ['plan.status', (p) => h('span', {class: 'badge ' + p.status}, t('plan.status.' + p.status))],
  ];
  if (writes) columns.push(['list.actions', (p) => button(
    t(p.status === 'active' ? 'plan.archive' : 'plan.restore'), () => archive(p), {class: 'small'})]);
  const list = pagedList({id: 'plans', caption: t('billing.tab.plans'), path: '/v1/plans', columns,
                          query: () => ({status: state.plans}), empty: 'plan.none',
                          rowAttrs: (p) => ({'data-plan-code': p.code})});
  const form = writes ? planForm(ctx, list.reload) : null;
  const create = writes ? button(t('plan.create'), () => {
    form.hidden = !form.hidden;
    create.setAttribute('aria-expanded', String(!form.hidden));
    if (!form.hidden) form.querySelector('input').focus();
  }, {id: 'plan-create', 'aria-expanded': 'false', 'aria-controls': 'plan-form'}) : null;
  fill(body, h('div', {class: 'heading'}, h('h2', {}, t('billing.tab.plans')), h('div', {class: 'tools'}, create)),
    form, filterForm(choice('plan-status', t('plan.status'), PLAN_STATUSES, 'plan.status.', state, 'plans', list.reload)),
    list.element);
  list.reload();

  async function archive(p) {
    const status = p.status === 'active' ? 'archived' : 'active';
    const r = await api.call('PATCH', '/v1/plans/' + p.id, {body: {status}, etag: etagOf(p)});
    ctx.announce(r.ok ? t('plan.status_changed', {name: p.name, status: t('plan.status.' + status)}) : problemText(r.status));
    list.reload();
  }
}

function planForm(ctx, created) {
  const input = (name, attrs) => h('input', Object.assign({type: 'text', id: 'plan-' + name, autocomplete: 'off'}, attrs));
  const select = (name, values, labels, chosen) => h('select', {id: 'plan-' + name},
    values.map((v) => h('option', {value: v, selected: v === chosen}, t(labels + v))));
  const controls = {
    code: input('code', {spellcheck: 'false'}),
    name: input('name'),
    amount: input('amount', {inputmode: 'numeric'}),
    tax_mode: select('tax_mode', ['inclusive', 'exclusive'], 'plan.tax_mode.', 'inclusive'),
    tax_rate: select('tax_rate', ['10', '8'], 'plan.rate.', '10'),
    interval: select('interval', ['month', 'year'], 'plan.interval.', 'month'),
    interval_count: input('interval_count', {inputmode: 'numeric', value: '1'}),
    trial_days: input('trial_days', {inputmode: 'numeric', value: '0'}),
    rank: input('rank', {spellcheck: 'false'}),
  };
  const hints = {code: 'plan.code.hint', amount: 'plan.amount.hint', interval_count: 'plan.interval_count.hint',
                 trial_days: 'plan.trial_days.hint', rank: 'plan.rank.hint'};
  const error = h('p', {class: 'form-error', role: 'alert', hidden: true});
  const save = h('button', {type: 'submit', class: 'primary', id: 'plan-save'}, t('plan.save'));
  const form = h('form', {class: 'card edit grid', id: 'plan-form', novalidate: true, hidden: true},
    h('h3', {}, t('plan.create')), error,
    Object.entries(controls).map(([name, control]) => field(t('plan.' + name), control, hints[name] && t(hints[name]))),
    h('div', {class: 'tools'}, save));
  // Whole numbers go as numbers; anything else as typed, for the API to name the field.
  const whole = (text) => (/^\d+$/.test(text.trim()) ? Number(text.trim()) : text.trim());
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearProblem(controls, error);
    const body = {code: controls.code.value.trim(), name: controls.name.value.trim(), amount: whole(controls.amount.value),
                  currency: 'JPY', tax_mode: controls.tax_mode.value, tax_rate: Number(controls.tax_rate.value),
                  interval: controls.interval.value, interval_count: whole(controls.interval_count.value),
                  trial_days: whole(controls.trial_days.value), rank: controls.rank.value.trim()};
    save.disabled = true;
    const r = await api.call('POST', '/v1/plans', {body});
    save.disabled = false;
    if (!r.ok) return showProblem(r, controls, error);
    form.reset();
    form.hidden = true;
    ctx.announce(t('plan.created', {name: r.data.name}));
    created();
  });
  return form;
}

// --- subscriptions ---------------------------------------------------------------------------

function showSubscriptions(body, ctx, state) {
  const names = new Map();
  const columns = [
    ['subscription.member', (s) => memberLink(names, s.member_id)],
    ['subscription.plan', (s) => s.plan_code],
    ['subscription.status', (s) => [h('span', {class: 'badge ' + s.status}, t('subscription.status.' + s.status)),
      s.cancel_at_period_end && s.status !== 'canceled' ? h('span', {class: 'badge'}, t('subscription.ending')) : null,
      s.next_retry_at ? h('span', {class: 'kpi-note retry'}, t('subscription.retry', {n: s.retry_count, date: date(s.next_retry_at)})) : null]],
    ['subscription.period_end', (s) => date(s.current_period_end)],
    ['subscription.created_at', (s) => date(s.created_at)],
    ['subscription.cancel_reason', (s) => (s.cancel_reason ? t('cancel.reason.' + s.cancel_reason) : t('empty'))],
  ];
  if (ctx.may('billing.subscriptions.write'))
    columns.push(['list.actions', (s) => (s.status === 'canceled' ? '' :
      button(t('subscription.cancel'), () => cancel(ctx, s, list.reload), {class: 'small cancel-subscription'}))]);
  const list = pagedList({id: 'subscriptions', caption: t('billing.tab.subscriptions'), path: '/v1/subscriptions', columns,
                          query: () => ({status: state.subscriptions}), empty: 'subscription.none',
                          rowAttrs: (s) => ({'data-subscription-id': s.id})});
  fill(body, h('h2', {}, t('billing.tab.subscriptions')),
    filterForm(choice('subscription-status', t('subscription.status'), SUBSCRIPTION_STATUSES, 'subscription.status.',
                      state, 'subscriptions', list.reload)),
    list.element);
  list.reload();
}

// The cancel dialog: a reason (required), a comment, now or at the period's end.
function cancel(ctx, s, done) {
  const reason = h('select', {id: 'cancel-reason', required: true}, h('option', {value: ''}, t('list.choose')),
    CANCEL_REASONS.map((r) => h('option', {value: r}, t('cancel.reason.' + r))));
  const comment = h('textarea', {id: 'cancel-comment', rows: 3});
  const when = h('select', {id: 'cancel-when'}, h('option', {value: 'now'}, t('subscription.cancel.now')),
    h('option', {value: 'end'}, t('subscription.cancel.at_end', {date: date(s.current_period_end)})));
  const controls = {reason, comment, at_period_end: when};
  modal(t('subscription.cancel.title', {plan: s.plan_code}),
    [field(t('subscription.cancel_reason'), reason), field(t('subscription.cancel.comment'), comment),
     field(t('subscription.cancel.when'), when)],
    t('subscription.cancel.confirm'), t('action.cancel'), async (showError) => {
      clearProblem(controls);
      if (!reason.value) {
        fieldError(reason, t('error.choose'));
        reason.focus();
        return false;
      }
      const r = await api.call('POST', '/v1/subscriptions/' + s.id + '/cancel', {etag: etagOf(s),
        body: {reason: reason.value, comment: comment.value, at_period_end: when.value === 'end'}});
      if (r.ok) {
        ctx.announce(t('subscription.canceled'));
        done();
        return true;
      }
      showError(showProblem(r, controls));
      if (r.status === 412 || r.status === 409) done();
      return false;
    }, true);
  reason.focus();
}

// --- invoices --------------------------------------------------------------------------------

function showInvoices(body, ctx, state) {
  const names = new Map();
  const list = pagedList({id: 'invoices', caption: t('billing.tab.invoices'), path: '/v1/invoices', query: () => ({status: state.invoices}),
    empty: 'invoice.none', rowAttrs: (i) => ({'data-invoice-id': i.id}), columns: [
      ['invoice.number', (i) => h('a', {href: '#/billing/invoices/' + i.id, class: 'invoice-link'}, i.number || t('invoice.draft_number'))],
      ['invoice.member', (i) => memberLink(names, i.member_id)],
      ['invoice.status', (i) => h('span', {class: 'badge ' + i.status}, t('invoice.status.' + i.status))],
      ['invoice.total', (i) => yen(i.total)],
      ['invoice.amount_due', (i) => yen(i.amount_due)],
      ['invoice.issued_at', (i) => date(i.issued_at) || t('empty')],
      ['invoice.due_at', (i) => date(i.due_at) || t('empty')],
    ]});
  fill(body, h('h2', {}, t('billing.tab.invoices')),
    filterForm(choice('invoice-status', t('invoice.status'), INVOICE_STATUSES, 'invoice.status.', state, 'invoices', list.reload)),
    list.element);
  list.reload();
}

// --- refunds ---------------------------------------------------------------------------------

export function refundColumns(names) {
  return [
    ['refund.credit_note', (x) => x.credit_note_number || t('empty')],
    ['refund.amount', (x) => yen(x.amount)],
    ['refund.tax', (x) => (x.credit_note_taxes || []).map((tax) => t('refund.tax_line', {rate: tax.rate, tax: yen(tax.tax)})).join(' / ') || t('empty')],
    ['refund.reason', (x) => (x.reason ? t('refund.reason.' + x.reason) : t('empty'))],
    ['refund.created_at', (x) => date(x.created_at)],
    names ? ['refund.member', (x) => memberLink(names, x.member_id)] : null,
    names ? ['refund.invoice', (x) => h('a', {href: '#/billing/invoices/' + x.invoice_id}, t('refund.open_invoice'))] : null,
  ].filter(Boolean);
}

function showRefunds(body) {
  const list = pagedList({id: 'refunds', caption: t('billing.tab.refunds'), path: '/v1/refunds', query: () => ({}),
                          empty: 'refund.none', columns: refundColumns(new Map()),
                          rowAttrs: (x) => ({'data-refund-id': x.id})});
  fill(body, h('h2', {}, t('billing.tab.refunds')), list.element);
  list.reload();
}
