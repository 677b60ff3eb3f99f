// deposits.js - 入金消込, the 請求 area's tab #/billing/deposits: a bank statement (全銀 transfer
// notice or a bank's CSV) checked with a dry run that says what each deposit would pay, then
// imported; and the deposits a person must decide on (unmatched, partial), each assigned to an
// open invoice, set aside (対象外) or, once matched, unassigned. One deposit's page
// (#/billing/deposits/<id>) shows its fields and its history: imported, matched, assigned,
// unassigned or ignored, when and by whom. Writes for billing.invoices.write.

import * as api from '../common/api.js';
import {button, field, fieldError, fill, h, modal} from '../common/dom.js';
import {dateTime, day, number, yen} from '../common/format.js';
import {language, t} from '../common/i18n.js';
import {chosenFile, filterForm, listTable, loadRecord, memberName, pagedList, problemText, staffName,
  staffNames} from './lists.js';

const WRITE = 'billing.invoices.write';
// The list's filter: 'needs' shows the two states a person must decide on, one list each.
const VIEWS = ['needs', 'unmatched', 'partial', 'matched', 'ignored'];

// Billing's reasons for a deposit left to a person (services/billing/deposit.c, asked for in
// English as every list is), in the screen's words: [pattern, message key]; a reason not listed shows as written.
const REASONS = [
  [/^(INV-\d+) is (\w+), not open/, 'deposit.reason.not_open', (m) => ({number: m[1], status: t('invoice.status.' + m[2])})],
  [/^(\d+) yen short of (INV-\d+)'s (\d+) yen due/, 'deposit.reason.short',
    (m) => ({short: yen(m[1]), number: m[2], due: yen(m[3])})],
  [/^(\d+) open invoices of this amount for this name/, 'deposit.reason.ambiguous', (m) => ({n: m[1]})],
  [/^less than the open invoice of this name owes/, 'deposit.reason.less'],
  [/^several open invoices of this name owe more/, 'deposit.reason.several_more'],
  [/^no open invoice for this name and amount/, 'deposit.reason.none'],
  [/^stored already from an earlier statement/, 'deposit.reason.duplicate'],
  [/^its invoice was paid by an earlier row/, 'deposit.reason.earlier_row'],
  [/^its match was undone by hand/, 'deposit.reason.unassigned'],
];

export function depositReason(reason) {
  for (const [pattern, key, params] of REASONS) {
    const match = pattern.exec(reason || '');
    if (match) return t(key, params ? params(match) : {});
  }
  return reason || t('empty');
}

// What became (or, in a dry run, would become) of a deposit, in words.
function outcome(d) {
  if (d.state === 'matched') return t('deposit.outcome.matched.' + d.match_reason, {number: d.invoice_number});
  if (d.state === 'partial') return t('deposit.outcome.partial', {number: d.invoice_number});
  if (d.state === 'unmatched') return t('deposit.outcome.unmatched', {reason: depositReason(d.reason)});
  return t('deposit.outcome.' + d.state);
}

function invoiceLink(d) {
  return d.invoice_id ? h('a', {href: '#/billing/invoices/' + d.invoice_id, class: 'invoice-link'}, d.invoice_number)
                      : t('empty');
}

export function showDeposits(body, ctx, state) {
  state.deposits ??= 'needs';
  const lists = h('div', {id: 'deposit-lists'});
  const view = h('select', {id: 'deposit-state'},
    VIEWS.map((v) => h('option', {value: v, selected: state.deposits === v}, t('deposit.view.' + v))));
  view.addEventListener('change', () => { state.deposits = view.value; showLists(); });
  let reloads = [];

  function showLists() {
    const states = state.deposits === 'needs' ? ['unmatched', 'partial'] : [state.deposits];
    const made = states.map((s) => depositList(ctx, s, () => reloads.forEach((reload) => reload())));
    reloads = made.map((m) => m.reload);
    fill(lists, made.map((m) => m.element));
    reloads.forEach((reload) => reload());
  }

  fill(body, h('h2', {}, t('billing.tab.deposits')),
    ctx.may(WRITE) ? statementImport(ctx, () => reloads.forEach((reload) => reload())) : null,
    h('section', {'aria-labelledby': 'deposits-title'},
      h('h2', {id: 'deposits-title'}, t('deposit.list.title')),
      h('p', {class: 'hint'}, t('deposit.list.explain')),
      filterForm(field(t('deposit.state'), view)), lists));
  showLists();
}

// One state's deposits, newest first; changed() after a decision (the deposit moves lists).
function depositList(ctx, state, changed) {
  const columns = [
    ['deposit.date', (d) => day(d.date)],
    ['deposit.amount', (d) => yen(d.amount)],
    ['deposit.payer', (d) => h('a', {href: '#/billing/deposits/' + d.id, class: 'deposit-link'}, d.payer_name)],
    ['deposit.status', (d) => h('span', {class: 'badge ' + d.state}, t('deposit.state.' + d.state))],
    ['deposit.invoice', invoiceLink],
    ['deposit.reason', (d) => (d.state === 'matched' ? t('deposit.matched_by.' + d.match_reason) : depositReason(d.reason))],
  ];
  if (ctx.may(WRITE) && state !== 'ignored')
    columns.push(['list.actions', (d) => (d.state === 'matched'
      ? button(t('deposit.unassign'), () => unassign(ctx, d, changed), {class: 'small unassign-deposit'})
      : [button(t('deposit.assign'), () => assign(ctx, d, changed), {class: 'small assign-deposit'}), ' ',
         button(t('deposit.ignore'), () => ignore(ctx, d, changed), {class: 'small ignore-deposit'})])]);
  const list = pagedList({id: 'deposits-' + state, caption: t('deposit.state.' + state), path: '/v1/deposits',
                          query: () => ({state}), columns, empty: 'deposit.none',
                          rowAttrs: (d) => ({'data-deposit-id': d.id})});
  return {element: h('section', {'aria-labelledby': 'deposits-' + state + '-title'},
    h('h3', {id: 'deposits-' + state + '-title'}, t('deposit.state.' + state)), list.element), reload: list.reload};
}

// --- one deposit: its fields, state and history ------------------------------------------------

export function showDeposit(main, ctx, id) {
  const back = h('p', {class: 'crumbs'}, h('a', {href: '#/billing/deposits'}, t('deposit.back')));
  const staff = staffNames(ctx);

  const load = () => loadRecord(main, back, '/v1/deposits/' + id, 'deposit.not_found', render);

  function render(d) {
    const title = t('deposit.title', {payer: d.payer_name, date: day(d.date)});
    document.title = title + ' - ' + t('app.name');
    const heading = h('h1', {tabindex: '-1', id: 'deposit-title'}, title);
    const entry = (label, value, cls) => h('div', {class: cls}, h('dt', {}, t(label)),
                                           h('dd', {}, value === '' || value === null ? t('empty') : value));
    const decisions = !ctx.may(WRITE) || d.state === 'ignored' ? []
      : d.state === 'matched' ? [button(t('deposit.unassign'), () => unassign(ctx, d, load), {id: 'deposit-unassign'})]
      : [button(t('deposit.assign'), () => assign(ctx, d, load), {id: 'deposit-assign'}),
         button(t('deposit.ignore'), () => ignore(ctx, d, load), {id: 'deposit-ignore'})];
    fill(main, back, h('div', {class: 'heading'}, heading, h('div', {class: 'tools'}, decisions)),
      h('p', {class: 'badges'}, h('span', {class: 'badge ' + d.state, id: 'deposit-state-badge'}, t('deposit.state.' + d.state))),
      h('section', {class: 'card', 'aria-labelledby': 'deposit-record'}, h('h2', {id: 'deposit-record'}, t('deposit.record')),
        h('dl', {class: 'record', id: 'deposit-fields'},
          entry('deposit.date', day(d.date), 'date'),
          entry('deposit.amount', yen(d.amount), 'amount'),
          entry('deposit.payer', d.payer_name, 'payer'),
          entry('deposit.payer_kana', d.payer_kana, 'kana'),
          entry('deposit.reference', d.reference || '', 'reference'),
          entry('deposit.memo', d.memo || '', 'memo'),
          entry('deposit.statement', t('deposit.statement.row', {statement: (d.statement_id || '').slice(0, 8), row: d.row}), 'statement'),
          entry('deposit.status', t('deposit.state.' + d.state), 'state'),
          entry('deposit.invoice', invoiceLink(d), 'invoice'),
          entry('deposit.reason', d.state === 'matched' ? t('deposit.matched_by.' + d.match_reason) : depositReason(d.reason),
                'reason'))),
      history(d));
    heading.focus();
  }

  // What was done with it, oldest first: each step, its invoice, who and when.
  function history(d) {
    const cell = (e) => {
      const who = h('span', {class: 'actor'}, t('loading'));
      staff.then((known) => { who.textContent = staffName(known, e.actor); });
      return who;
    };
    const {table, body, row} = listTable('deposit-history', t('deposit.history'), [
      ['deposit.history.at', (e) => dateTime(e.at), 'at'],
      ['deposit.history.action', (e) => t('deposit.history.' + e.action), 'action'],
      ['deposit.invoice', (e) => (e.invoice_id ? h('a', {href: '#/billing/invoices/' + e.invoice_id}, e.invoice_number) : t('empty')), 'invoice'],
      ['deposit.history.actor', cell, 'actor'],
    ], (e) => ({'data-action': e.action}));
    fill(body, (d.history || []).map(row));
    return h('section', {class: 'card', 'aria-labelledby': 'deposit-history-title'},
      h('h2', {id: 'deposit-history-title'}, t('deposit.history')),
      d.history && d.history.length ? h('div', {class: 'scroll'}, table) : h('p', {class: 'summary'}, t('deposit.history.none')));
  }

  load();
}

// --- a statement: checked, then imported ----------------------------------------------------

function statementImport(ctx, imported) {
  let file = null;             // the file the last dry run checked: what 取り込む sends
  const chooser = h('input', {type: 'file', id: 'statement-file', accept: '.txt,.dat,.csv,text/plain,text/csv'});
  const check = h('button', {type: 'submit', class: 'primary', id: 'statement-check'}, t('statement.check'));
  const status = h('p', {class: 'summary', id: 'statement-status', 'aria-live': 'polite'});
  const preview = h('section', {id: 'statement-preview', class: 'card', 'aria-labelledby': 'statement-preview-title', hidden: true});
  const result = h('section', {id: 'statement-result', class: 'card notice', 'aria-labelledby': 'statement-result-title',
                               tabindex: '-1', hidden: true});
  const errors = h('ul', {id: 'statement-errors', class: 'form-error', hidden: true});
  const form = h('form', {class: 'card edit inline-form', id: 'statement-form', novalidate: true},
    h('h3', {}, t('statement.title')), h('p', {class: 'hint'}, t('statement.explain')),
    field(t('statement.file'), chooser, t('statement.file.hint')), errors, h('div', {class: 'tools'}, check));

  function busy(on, message) {
    form.toggleAttribute('aria-busy', on);
    chooser.disabled = on;
    check.disabled = on;
    status.textContent = message || '';
  }

  // The faults billing names are its own sentences, asked for in the screen's language.
  const send = (dryRun) => api.call('POST', '/v1/bank-statements',
    {file, query: {dry_run: dryRun ? 'true' : 'false'}, language: language()});

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    errors.hidden = true;
    preview.hidden = true;
    result.hidden = true;
    file = chosenFile(chooser, t('statement.file.required'));
    if (!file) return;
    busy(true, t('statement.checking'));
    const r = await send(true);
    busy(false);
    if (!r.ok) return failed(r);
    fill(preview, h('h3', {id: 'statement-preview-title', tabindex: '-1'}, t('statement.preview', {name: file.name})),
      counts('statement-counts', r.data), rowsTable('statement-rows', r.data.deposits),
      h('div', {class: 'tools'}, button(t('statement.apply'), (e) => apply(e.target), {class: 'primary', id: 'statement-apply'}),
        button(t('statement.other_file'), () => {
          preview.hidden = true;
          chooser.value = '';
          chooser.focus();
        }, {id: 'statement-again'})));
    preview.hidden = false;
    preview.querySelector('h3').focus();
  });

  // A refused file: each fault as billing words it; already imported; too large; else why.
  function failed(r) {
    const faults = r.status === 400 && r.problem && r.problem.errors ? r.problem.errors : [];
    fieldError(chooser, r.status === 409 ? t('statement.already') : r.status === 413 ? t('statement.too_large')
                      : r.status === 415 ? t('statement.wrong_type') : faults.length ? t('statement.refused', {n: faults.length})
                      : problemText(r.status));
    fill(errors, faults.map((e) => h('li', {}, e.reason)));
    errors.hidden = !faults.length;
    chooser.focus();
  }

  async function apply(applyButton) {
    applyButton.disabled = true;
    busy(true, t('statement.applying'));
    const r = await send(false);
    busy(false);
    applyButton.disabled = false;
    if (!r.ok) {
      preview.hidden = true;
      return failed(r);
    }
    preview.hidden = true;
    fill(result, h('h3', {id: 'statement-result-title'}, t('statement.done', {name: file.name})),
      counts('statement-done-counts', r.data), rowsTable('statement-done-rows', r.data.deposits));
    result.hidden = false;
    result.focus();
    ctx.announce(t('statement.done', {name: file.name}));
    chooser.value = '';
    imported();
  }

  return [form, status, preview, result];
}

function counts(id, report) {
  const entry = (label, value) => h('div', {}, h('dt', {}, t(label)), h('dd', {}, value));
  return h('dl', {class: 'record narrow', id},
    entry('statement.rows', number(report.rows)), entry('statement.total', yen(report.total)),
    entry('statement.matched', number(report.matched)), entry('statement.partial', number(report.partial)),
    entry('statement.unmatched', number(report.unmatched)), entry('statement.duplicates', number(report.duplicates)));
}

// Each deposit of a statement: its row as the file numbers it, and what happens to it.
function rowsTable(id, deposits) {
  const {table, body, row} = listTable(id, t('statement.deposits'), [
    ['statement.row', (d) => t('import.row_n', {n: d.row})],
    ['deposit.date', (d) => day(d.date)],
    ['deposit.amount', (d) => yen(d.amount)],
    ['deposit.payer', (d) => d.payer_name],
    ['statement.outcome', outcome, 'outcome'],
  ], (d) => ({'data-row': d.row, 'data-state': d.state}));
  fill(body, deposits.map(row));
  return h('div', {class: 'scroll'}, table);
}

// --- a person's decisions ----------------------------------------------------------------------

function about(d) {
  return h('p', {class: 'deposit-about'}, t('deposit.about', {date: day(d.date), amount: yen(d.amount), payer: d.payer_name}));
}

// A decision confirmed in a dialog: path's POST with body, then announced and the lists read.
function decide(ctx, d, changed, {title, explain, confirm, path, body, danger, controls = [], check}) {
  const dialog = modal(title, [about(d), explain ? h('p', {}, explain) : null, controls], confirm, t('action.cancel'),
    async (showError) => {
      const chosen = check ? check() : body;
      if (!chosen) return false;
      const r = await api.call('POST', '/v1/deposits/' + d.id + '/' + path, {body: chosen});
      if (!r.ok) {
        const reason = r.problem && r.problem.errors && r.problem.errors[0];
        showError(r.status === 400 && reason ? t('deposit.assign.not_open') : problemText(r.status));
        if (r.status === 409) changed();
        return false;
      }
      ctx.announce(t('deposit.done.' + path, {payer: d.payer_name, number: r.data.invoice_number || ''}));
      changed();
      return true;
    }, danger);
  return dialog;
}

function ignore(ctx, d, changed) {
  decide(ctx, d, changed, {title: t('deposit.ignore.title'), explain: t('deposit.ignore.explain'),
                           confirm: t('deposit.ignore'), path: 'ignore', body: {}, danger: true});
}

function unassign(ctx, d, changed) {
  decide(ctx, d, changed, {title: t('deposit.unassign.title'),
                           explain: t('deposit.unassign.explain', {number: d.invoice_number}),
                           confirm: t('deposit.unassign'), path: 'unassign', body: {}, danger: true});
}

// The assign dialog: open invoices found by a member's name or kana, or by an invoice number;
// a partial deposit's invoice offered first.
function assign(ctx, d, changed) {
  const names = new Map();
  const search = h('input', {type: 'search', id: 'assign-search', autocomplete: 'off'});
  const find = button(t('deposit.assign.find'), () => show(look()), {id: 'assign-find'});
  const found = h('fieldset', {id: 'assign-invoices', 'aria-live': 'polite'},
    h('legend', {}, t('deposit.assign.invoices')));
  const summary = h('p', {class: 'summary', id: 'assign-summary'});
  search.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter') return;
    event.preventDefault();            // Enter searches; it does not assign
    show(look());
  });
  decide(ctx, d, changed, {title: t('deposit.assign.title'), confirm: t('deposit.assign'), path: 'assign',
    controls: [h('div', {class: 'inline-form'}, field(t('deposit.assign.search'), search, t('deposit.assign.search.hint')), find),
               found, summary],
    check: () => {
      const chosen = found.querySelector('input:checked');
      if (!chosen) {
        summary.textContent = t('deposit.assign.choose');
        search.focus();
        return null;
      }
      return {invoice_id: chosen.value};
    }});
  let generation = 0;           // a search's answer shown only when no later search was made
  show(look(d.invoice_id ? [d.invoice_id] : null));
  search.focus();

  // The open invoices of the words typed: INV-00000012 (or 12) by number, else by member, else
  // the newest; ids: these invoices instead. While it runs the choices are aria-busy.
  async function look(ids) {
    const mine = ++generation;
    const words = search.value.trim();
    found.setAttribute('aria-busy', 'true');
    summary.textContent = t('loading');
    const numbered = /^(?:INV-?)?0*(\d{1,8})$/i.exec(words);
    let invoices;
    if (ids) invoices = await Promise.all(ids.map((id) => api.call('GET', '/v1/invoices/' + id).then((r) => (r.ok ? r.data : null))));
    else if (numbered) invoices = await byNumber('INV-' + numbered[1].padStart(8, '0'));
    else if (words) invoices = await byMember(words);
    else invoices = await openInvoices({limit: 20});
    return {mine, invoices};
  }

  async function show(searched) {
    const {mine, invoices} = await searched;
    if (mine !== generation) return;
    found.removeAttribute('aria-busy');
    if (!invoices) return void (summary.textContent = t('error.unavailable'));
    const open = invoices.filter((inv) => inv && inv.status === 'open');
    fill(found, h('legend', {}, t('deposit.assign.invoices')), open.map((inv, i) => {
      const id = 'assign-invoice-' + inv.id;
      const name = h('span', {class: 'member-name'}, t('loading'));
      memberName(names, inv.member_id).then((n) => { name.textContent = n; });
      return h('div', {class: 'choice'},
        h('input', {type: 'radio', name: 'assign-invoice', id, value: inv.id, checked: i === 0 && open.length === 1}),
        h('label', {for: id}, inv.number, ' ', name, ' ',
          t('deposit.assign.due', {due: yen(inv.amount_due), total: yen(inv.total)})));
    }));
    summary.textContent = open.length ? t('list.count', {n: open.length}) : t('deposit.assign.none');
  }
}

// Open invoices, newest first: one page of query's.
async function openInvoices(query) {
  const r = await api.call('GET', '/v1/invoices', {query: Object.assign({status: 'open', limit: 100}, query)});
  return r.ok ? r.data.data : null;
}

// The open invoice numbered number ("INV-00000012").
function byNumber(number) {
  return openInvoices({number});
}

// The open invoices of the members the words find (name, kana, email: the members' search).
async function byMember(words) {
  const members = await api.call('GET', '/v1/members', {query: {q: words, limit: 10}});
  if (!members.ok) return null;
  const each = await Promise.all(members.data.data.map((m) => openInvoices({member_id: m.id, limit: 20})));
  return each.includes(null) ? null : each.flat();
}
