// invoice.js - one invoice (#/billing/invoices/<id>): the qualified invoice's fields, its lines,
// the tax per rate as billing computed it, its payments, and its refunds with their credit
// notes; a refund of a payment, and an open invoice marked paid (cash at the desk: 現金などで入金済み)
// with a note, for the roles that may.

import * as api from '../common/api.js';
import {button, field, fieldError, fill, h, modal} from '../common/dom.js';
import {date, dateTime, isoMinute, jstTime, yen} from '../common/format.js';
import {t} from '../common/i18n.js';
import {refundColumns} from './billing.js';
import {clearProblem, listTable, loadRecord, memberLink, problemText, showProblem} from './lists.js';

const REFUND_REASONS = ['requested_by_customer', 'duplicate', 'fraudulent', 'other'];
// How a payment recorded by hand came (billing's mark-paid methods).
const PAID_METHODS = ['cash', 'bank_transfer', 'other'];

// A new Idempotency-Key: 128 random bits in hex (crypto.randomUUID needs a secure context).
function newKey() {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function record(rows) {
  return h('dl', {class: 'record'}, rows.filter(Boolean).map(([label, value, cls]) =>
    h('div', {class: cls}, h('dt', {}, t(label)), h('dd', {}, value === '' || value === null ? t('empty') : value))));
}

export function showInvoice(main, ctx, id) {
  const names = new Map();
  const back = h('p', {class: 'crumbs'}, h('a', {href: '#/billing/invoices'}, t('invoice.back')));

  const load = () => loadRecord(main, back, '/v1/invoices/' + id, 'invoice.not_found', render);

  function render(inv) {
    const title = t('invoice.title', {number: inv.number || t('invoice.draft_number')});
    document.title = title + ' - ' + t('app.name');
    const heading = h('h1', {tabindex: '-1', id: 'invoice-title'}, title);
    const lines = listTable('invoice-lines', t('invoice.lines'), [
      ['line.description', (l) => [l.description, l.period_start ? h('span', {class: 'kpi-note'}, ' ' + t('line.period',
        {from: date(l.period_start), to: date(l.period_end)})) : null]],
      ['line.quantity', (l) => String(l.quantity)],
      ['line.unit_amount', (l) => yen(l.unit_amount)],
      ['line.discount', (l) => (l.discount_amount ? '-' + yen(l.discount_amount) : t('empty'))],
      ['line.tax_rate', (l) => t('plan.rate', {n: l.tax_rate})],
      ['line.amount', (l) => yen(l.amount)],
    ]);
    lines.body.append(...inv.lines.map(lines.row));
    const taxes = listTable('invoice-taxes', t('invoice.taxes'), [
      ['tax.rate', (x) => t('tax.rate_target', {n: x.rate})],
      ['tax.amount', (x) => yen(x.amount) + t('plan.tax_mode.short.' + inv.tax_mode)],
      ['tax.taxable', (x) => yen(x.taxable_amount)],
      ['tax.tax', (x) => yen(x.tax)],
    ], (x) => ({'data-rate': x.rate}));
    taxes.body.append(...inv.taxes.map(taxes.row));
    const markPaid = inv.status === 'open' && ctx.may('billing.invoices.write')
      ? button(t('mark_paid.open'), () => markPaidDialog(inv), {id: 'invoice-mark-paid'}) : null;
    fill(main, back, h('div', {class: 'heading'}, heading, h('div', {class: 'tools'}, markPaid)),
      h('p', {class: 'badges'}, h('span', {class: 'badge ' + inv.status, id: 'invoice-status'}, t('invoice.status.' + inv.status))),
      h('section', {class: 'card', 'aria-labelledby': 'invoice-record'}, h('h2', {id: 'invoice-record'}, t('invoice.record')),
        record([
          ['invoice.member', memberLink(names, inv.member_id)],
          ['invoice.billing_reason', t('invoice.reason.' + inv.billing_reason)],
          ['invoice.issuer', inv.issuer_name || ''],
          ['invoice.registration_number', inv.registration_number || ''],
          ['invoice.issued_at', date(inv.issued_at)],
          ['invoice.due_at', date(inv.due_at)],
          ['invoice.paid_at', date(inv.paid_at)],
          inv.period_start ? ['invoice.period', t('line.period', {from: date(inv.period_start), to: date(inv.period_end)})] : null,
          ['invoice.tax_mode', t('plan.tax_mode.' + inv.tax_mode)],
        ])),
      h('section', {class: 'card', 'aria-labelledby': 'invoice-lines-title'},
        h('h2', {id: 'invoice-lines-title'}, t('invoice.lines')), lines.table,
        h('h3', {}, t('invoice.taxes')), taxes.table,
        h('div', {id: 'invoice-totals'}, record([
          ['invoice.subtotal', yen(inv.subtotal), 'subtotal'],
          inv.discount_total ? ['invoice.discount_total', '-' + yen(inv.discount_total)] : null,
          ['invoice.tax_total', yen(inv.tax_total), 'tax-total'],
          ['invoice.total', yen(inv.total), 'total'],
          ['invoice.amount_paid', yen(inv.amount_paid)],
          ['invoice.amount_refunded', yen(inv.amount_refunded), 'refunded'],
          ['invoice.amount_due', yen(inv.amount_due)],
        ]))),
      payments(inv), refunds());
    heading.focus();
  }

  function payments(inv) {
    const section = h('section', {class: 'card', id: 'invoice-payments', 'aria-labelledby': 'payments-title'},
      h('h2', {id: 'payments-title'}, t('invoice.payments')));
    const columns = [
      ['payment.method', (p) => t('payment.method.' + p.method_type)],
      ['payment.status', (p) => h('span', {class: 'badge ' + p.status}, t('payment.status.' + p.status))],
      ['payment.amount', (p) => yen(p.amount)],
      ['payment.refunded', (p) => yen(p.amount_refunded)],
      ['payment.at', (p) => dateTime(p.settled_at || p.created_at)],
    ];
    if (ctx.may('billing.invoices.write'))
      columns.push(['list.actions', (p) => (p.status === 'succeeded' && p.amount_received > p.amount_refunded
        ? button(t('refund.create'), () => refund(p), {class: 'small refund-payment'}) : '')]);
    const table = listTable('payments', t('invoice.payments'), columns, (p) => ({'data-payment-id': p.id}));
    api.call('GET', '/v1/payments', {query: {invoice_id: inv.id, limit: 100}}).then((r) => {
      if (!r.ok) return section.append(h('p', {class: 'form-error'}, problemText(r.status)));
      if (!r.data.data.length) return section.append(h('p', {class: 'summary'}, t('payment.none')));
      table.body.append(...r.data.data.map(table.row));
      section.append(table.table);
    });
    return section;
  }

  function refunds() {
    const section = h('section', {class: 'card', id: 'invoice-refunds', 'aria-labelledby': 'refunds-title'},
      h('h2', {id: 'refunds-title'}, t('invoice.refunds')));
    const table = listTable('refund-list', t('invoice.refunds'), refundColumns(null), (x) => ({'data-refund-id': x.id}));
    api.call('GET', '/v1/refunds', {query: {invoice_id: id, limit: 100}}).then((r) => {
      if (!r.ok) return section.append(h('p', {class: 'form-error'}, problemText(r.status)));
      if (!r.data.data.length) return section.append(h('p', {class: 'summary'}, t('refund.none')));
      table.body.append(...r.data.data.map(table.row));
      section.append(table.table);
    });
    return section;
  }

  // A refund of what is left of payment p, or part of it; its key is made once for the dialog,
  // so pressing again after a lost answer cannot refund twice.
  function refund(p) {
    const left = p.amount_received - p.amount_refunded;
    const amount = h('input', {type: 'text', id: 'refund-amount', inputmode: 'numeric', value: String(left), autocomplete: 'off'});
    const reason = h('select', {id: 'refund-reason'}, REFUND_REASONS.map((r) => h('option', {value: r}, t('refund.reason.' + r))));
    const controls = {amount, reason};
    const key = newKey();
    modal(t('refund.title'), [h('p', {}, t('refund.explain', {amount: yen(left)})),
      field(t('refund.amount.input'), amount, t('refund.amount.hint', {amount: yen(left)})), field(t('refund.reason'), reason)],
    t('refund.confirm'), t('action.cancel'), async (showError) => {
      clearProblem(controls);
      const value = amount.value.trim();
      if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > left) {
        fieldError(amount, t('refund.amount.invalid', {amount: yen(left)}));
        amount.focus();
        return false;
      }
      const r = await api.call('POST', '/v1/payments/' + p.id + '/refunds', {idempotencyKey: key,
        body: {amount: Number(value), reason: reason.value}});
      if (!r.ok) {
        showError(showProblem(r, controls));
        return false;
      }
      ctx.announce(t('refund.done', {amount: yen(r.data.amount), number: r.data.credit_note_number}));
      load();
      return true;
    }, true);
  }

  // What is due recorded as paid outside any provider: how it came, when it came in Japan's
  // time (now unless told: a payment at the desk is often entered days later; not before the
  // invoice was issued, not in the future) and a note (required).
  function markPaidDialog(inv) {
    const method = h('select', {id: 'mark-paid-method'}, PAID_METHODS.map((m) => h('option', {value: m}, t('payment.method.' + m))));
    const now = isoMinute();
    const issued = inv.issued_at ? isoMinute(new Date(inv.issued_at)) : '';
    const paidAt = h('input', {type: 'datetime-local', id: 'mark-paid-paid_at', value: now, max: now, min: issued, required: true});
    const note = h('textarea', {id: 'mark-paid-note', rows: 3, required: true});
    const controls = {method, note, paid_at: paidAt};
    modal(t('mark_paid.title'), [h('p', {}, t('mark_paid.explain', {amount: yen(inv.amount_due)})),
      field(t('mark_paid.method'), method), field(t('mark_paid.paid_at'), paidAt, t('mark_paid.paid_at.hint')),
      field(t('mark_paid.note'), note, t('mark_paid.note.hint'))],
    t('mark_paid.confirm'), t('action.cancel'), async (showError) => {
      clearProblem(controls);
      const when = paidAt.value;
      const wrong = !when ? t('error.required') : when > isoMinute() ? t('error.in_future')
                  : issued && when < issued ? t('mark_paid.paid_at.before_issued', {issued: dateTime(inv.issued_at)}) : '';
      if (wrong) {
        fieldError(paidAt, wrong);
        paidAt.focus();
        return false;
      }
      if (!note.value.trim()) {
        fieldError(note, t('error.required'));
        note.focus();
        return false;
      }
      const body = {note: note.value.trim(), method: method.value};
      // the minute of issue is its moment (the input has no seconds); another minute, as chosen
      if (when === issued) body.paid_at = inv.issued_at;
      else if (when !== now) body.paid_at = jstTime(when);
      const r = await api.call('POST', '/v1/invoices/' + inv.id + '/mark-paid', {body});
      if (!r.ok) {
        showError(showProblem(r, controls));
        return false;
      }
      ctx.announce(t('mark_paid.done', {number: inv.number}));
      load();
      return true;
    });
    method.focus();
  }

  load();
}
