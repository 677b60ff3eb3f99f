// import.js - 会員の CSV インポート: a wizard of three steps. Choose a file (UTF-8 or Shift_JIS as
// Excel saves it; the member service reads either), check it with a dry run that lists every
// rejected row with its row number, column and reason, then apply it and show what was done.
// In partial mode the apply is a job (/v1/members/import-jobs): its rows done of total are
// shown until it ends. The file stays in this page's memory only.

import * as api from '../common/api.js';
import {button, field, fieldError, fill, h} from '../common/dom.js';
import {number} from '../common/format.js';
import {fieldMessage, t} from '../common/i18n.js';
import {chosenFile, listTable, problemText} from './lists.js';

const PATH = '/v1/members/import';
const JOBS = '/v1/members/import-jobs';
const POLL_MS = 500;
const MODES = ['partial', 'all_or_nothing'];

// The member service's reasons for a rejected row (English sentences) in the screen's words:
// [pattern, message key]; the numbers the pattern catches fill {n} and {m}. A reason not
// listed here is matched as a field's error (fieldMessage), else shown as the service wrote it.
const REASONS = [
  [/phone number/, 'error.field.phone'],
  [/valid email address/, 'error.field.email'],
  [/katakana/, 'error.field.name_kana'],
  [/postal code/, 'error.field.postal_code'],
  [/YYYY-MM-DD|1900-01-01/, 'error.field.birthday'],
  [/prefectures/, 'error.field.prefecture'],
  [/must be yes or no/, 'import.reason.opt_in'],
  [/not a rank defined/, 'import.reason.rank'],
  [/each tag must be/, 'import.reason.tag'],
  [/at most (\d+) tags/, 'import.reason.tags'],
  [/repeats the email of row (\d+)/, 'import.reason.repeated_email'],
  [/is not a column Kaiin knows/, 'import.reason.unknown_column'],
  [/names a column given twice/, 'import.reason.column_twice'],
  [/needs an email column/, 'import.reason.no_email_column'],
  [/has (\d+) fields where the header has (\d+)/, 'import.reason.field_count'],
  [/quoted field is never closed/, 'import.reason.quote'],
  [/neither UTF-8 nor Shift_JIS/, 'import.reason.charset'],
  [/header but no rows/, 'import.reason.no_rows'],
  [/file is empty/, 'import.reason.empty'],
];

export function reasonText(reason) {
  for (const [pattern, key] of REASONS) {
    const match = pattern.exec(reason);
    if (match) return t(key, {n: match[1], m: match[2]});
  }
  const general = fieldMessage('', reason);
  return general === t('error.invalid') ? reason : general;
}

export function showImport(main, ctx) {
  document.title = t('import.title') + ' - ' + t('app.name');
  let file = null;             // the file checked by the last dry run: what apply sends

  const chooser = h('input', {type: 'file', id: 'import-file', accept: '.csv,text/csv'});
  const mode = h('select', {id: 'import-mode'}, MODES.map((m) => h('option', {value: m}, t('import.mode.' + m))));
  const check = h('button', {type: 'submit', class: 'primary', id: 'import-check'}, t('import.check'));
  const status = h('p', {class: 'summary', id: 'import-status', 'aria-live': 'polite'});
  const preview = h('section', {id: 'import-preview', 'aria-labelledby': 'import-preview-title', hidden: true});
  const result = h('section', {id: 'import-result', class: 'card notice', 'aria-labelledby': 'import-result-title',
                               tabindex: '-1', hidden: true});
  const form = h('form', {class: 'card edit inline-form', id: 'import-form', novalidate: true},
    h('h2', {}, t('import.step.file')),
    h('p', {class: 'hint'}, t('import.explain')),
    field(t('import.file'), chooser, t('import.file.hint')),
    field(t('import.mode'), mode, t('import.mode.hint')),
    h('div', {class: 'tools'}, check));

  // While a call runs: the form is busy, the status says what is happening.
  function busy(on, message) {
    form.toggleAttribute('aria-busy', on);
    for (const control of [chooser, mode, check]) control.disabled = on;
    status.textContent = message || '';
  }

  async function send(dryRun) {
    return api.call('POST', PATH, {file, query: {dry_run: dryRun ? 'true' : '', mode: mode.value}});
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    fill(preview);
    preview.hidden = true;
    result.hidden = true;
    file = chosenFile(chooser, t('import.file.required'));
    if (!file) return;
    busy(true, t('import.checking'));
    const r = await send(true);
    busy(false);
    if (!r.ok) return failed(r);
    showPreview(r.data);
  });

  function failed(r) {
    const text = r.status === 413 ? t('import.too_large') : r.status === 415 ? t('import.wrong_type')
               : r.status === 400 && r.problem && r.problem.errors && r.problem.errors.length
                 ? reasonText(r.problem.errors[0].reason) : problemText(r.status);
    fieldError(chooser, text);
    chooser.focus();
  }

  // The dry run's report: what would be created and updated, and every rejected row.
  function showPreview(report) {
    const rejected = report.errors.length > 0;
    const willApply = !rejected || mode.value === 'partial';
    const counts = h('dl', {class: 'record narrow', id: 'import-counts'},
      entry('import.charset', report.charset ? t('import.charset.' + report.charset.replace(/-/g, '_')) : t('empty')),
      entry('import.rows', number(report.rows)),
      entry('import.would_create', number(report.created)),
      entry('import.would_update', number(report.updated)),
      entry('import.rejected', number(report.rejected)));
    const apply = button(t(rejected ? 'import.apply_rest' : 'import.apply'), () => applyFile(apply),
                         {class: 'primary', id: 'import-apply', disabled: !willApply || !(report.created + report.updated)});
    fill(preview, h('div', {class: 'card'},
      h('h2', {id: 'import-preview-title', tabindex: '-1'}, t('import.step.preview', {name: file.name})),
      counts,
      rejected ? errorTable(report.errors) : h('p', {id: 'import-no-errors'}, t('import.no_errors')),
      !willApply ? h('p', {class: 'form-error', id: 'import-blocked'}, t('import.blocked')) : null,
      h('div', {class: 'tools'}, apply, button(t('import.other_file'), () => {
        preview.hidden = true;
        chooser.value = '';
        chooser.focus();
      }, {id: 'import-again'}))));
    preview.hidden = false;
    preview.querySelector('h2').focus();
  }

  // The partial import as a job: posted, then read again until it ends, its progress shown.
  async function runJob() {
    let r = await api.call('POST', JOBS, {file, query: {mode: 'partial'}});
    const bar = h('progress', {id: 'import-progress', max: 1, value: 0});
    const words = h('span', {id: 'import-progress-text'});
    while (r.ok && ['queued', 'running'].includes(r.data.state)) {
      bar.max = r.data.rows_total || 1;
      bar.value = r.data.rows_done;
      words.textContent = t('import.progress', {done: number(r.data.rows_done), total: number(r.data.rows_total)});
      fill(status, bar, ' ', words);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      if (!main.isConnected) return null;
      r = await api.call('GET', JOBS + '/' + r.data.id);
    }
    if (!r.ok) return r;
    const job = r.data;
    if (job.state === 'failed') return {ok: false, status: 500};
    return {ok: true, data: {applied: job.state === 'succeeded', created: job.created, updated: job.updated,
                             rejected: job.rejected, errors: job.errors}};
  }

  async function applyFile(apply) {
    apply.disabled = true;
    busy(true, t('import.applying'));
    const r = mode.value === 'partial' ? await runJob() : await send(false);
    busy(false);
    apply.disabled = false;
    if (!r) return;
    // all-or-nothing refused: 422 with the same report, nothing written
    const report = r.ok ? r.data : r.status === 422 && r.problem;
    if (!report) {
      status.textContent = problemText(r.status);
      return;
    }
    preview.hidden = true;
    fill(result,
      h('h2', {id: 'import-result-title'}, t(report.applied ? 'import.done' : 'import.refused')),
      h('dl', {class: 'record narrow', id: 'import-done-counts'},
        entry('import.created', number(report.applied ? report.created : 0)),
        entry('import.updated', number(report.applied ? report.updated : 0)),
        entry('import.rejected', number(report.rejected))),
      report.errors.length ? errorTable(report.errors) : null,
      h('p', {}, h('a', {href: '#/members'}, t('import.back'))));
    result.hidden = false;
    result.focus();
    ctx.announce(t(report.applied ? 'import.done' : 'import.refused'));
  }

  fill(main,
    h('p', {class: 'crumbs'}, h('a', {href: '#/members'}, t('members.title'))),
    h('h1', {tabindex: '-1'}, t('import.title')), form, status, preview, result);
  chooser.focus();
}

function entry(label, value) {
  return h('div', {}, h('dt', {}, t(label)), h('dd', {}, value));
}

// Every rejected row: its row number as the spreadsheet shows it, the column, the reason.
function errorTable(errors) {
  const {table, body, row} = listTable('import-errors', t('import.errors'), [
    ['import.row', (e) => t('import.row_n', {n: e.row})],
    ['import.column', (e) => e.column || t('import.whole_row')],
    ['import.reason', (e) => reasonText(e.reason)],
  ], (e) => ({'data-row': e.row, 'data-column': e.column}));
  fill(body, errors.map(row));
  return [h('h3', {}, t('import.errors_n', {n: errors.length})), h('div', {class: 'scroll'}, table)];
}
