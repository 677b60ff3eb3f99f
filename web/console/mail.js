// mail.js - メール: templates (a list, and an editor with a preview rendered for a chosen member
// and syntax errors shown at the line and column the API names), segments (segments.js),
// campaigns (campaigns.js), automations (a read-only list with on/off, and each one's page with
// its runs: who entered, where each is, when its next step is due, its last mail) and the
// suppression list (suppressions.js), each a tab at #/mail/<tab>; one template, segment,
// campaign or automation is #/mail/<tab>/<id> (a new one: .../new, but for automations).

import * as api from '../common/api.js';
import {button, debounce, field, fieldError, fill, h} from '../common/dom.js';
import {dateTime} from '../common/format.js';
import {fieldMessage, has, t} from '../common/i18n.js';
import {showCampaign, showCampaigns} from './campaigns.js';
import {choice, clearProblem, etagOf, filterForm, loadOne, memberLink, pagedList, problemText, tabs} from './lists.js';
import {showSegment, showSegments} from './segments.js';
import {showSuppressions} from './suppressions.js';

// The tabs: [path, label key, show]; every one is read with messaging.read.
const TABS = [
  ['mail/templates', 'mail.tab.templates', showTemplates],
  ['mail/segments', 'mail.tab.segments', showSegments],
  ['mail/campaigns', 'mail.tab.campaigns', showCampaigns],
  ['mail/automations', 'mail.tab.automations', showAutomations],
  ['mail/suppressions', 'mail.tab.suppressions', showSuppressions],
];
const KINDS = ['transactional', 'marketing'];
const PARTS = ['subject', 'html', 'text'];

// The tabs over body: returns the element the tab's content goes in.
function mailPage(main, current) {
  const body = h('div');
  fill(main, h('h1', {tabindex: '-1'}, t('mail.title')),
    tabs(t('mail.title'), TABS.map(([path, label]) => [path, label]), current), body);
  return body;
}

export function showMail(main, ctx, tab) {
  const current = TABS.find(([path]) => path === 'mail/' + (tab || 'templates'));
  document.title = t(current[1]) + ' - ' + t('mail.title') + ' - ' + t('app.name');
  current[2](mailPage(main, current[0]), ctx);
}

// One template, segment, campaign or automation (#/mail/<tab>/<id>), or a new one (id 'new').
const ITEMS = {templates: showTemplate, segments: showSegment, campaigns: showCampaign, automations: showAutomation};

export function showMailItem(main, ctx, tab, id) {
  ITEMS[tab](mailPage(main, 'mail/' + tab), ctx, id === 'new' ? null : id);
}

// --- templates -------------------------------------------------------------------------------

function showTemplates(body, ctx) {
  const list = pagedList({id: 'templates', caption: t('mail.tab.templates'), path: '/v1/messaging/templates',
    query: () => ({}), empty: 'template.none', rowAttrs: (x) => ({'data-template-id': x.id}), columns: [
      ['template.name', (x) => h('a', {href: '#/mail/templates/' + x.id, class: 'template-link'}, x.name)],
      ['template.kind', (x) => h('span', {class: 'badge ' + x.kind}, t('template.kind.' + x.kind))],
      ['template.subject', (x) => x.subject],
      ['template.updated_at', (x) => dateTime(x.updated_at)],
    ]});
  fill(body, h('div', {class: 'heading'}, h('h2', {}, t('mail.tab.templates')),
    ctx.may('messaging.write') ? h('a', {href: '#/mail/templates/new', class: 'button', id: 'template-new'}, t('template.new')) : null),
    list.element);
  list.reload();
}

// The API's template syntax error, "line 2, column 4: '{{' is not closed by '}}' on its line",
// in the screen's words; {line, column} to put the caret there, or null for another error.
const SYNTAX = [
  [/unknown variable '([^']*)'/, 'template.syntax.unknown'],
  [/'\{\{' is not closed/, 'template.syntax.unclosed'],
  [/'\}\}' closes no/, 'template.syntax.stray'],
  [/names no variable/, 'template.syntax.empty'],
];

export function syntaxError(field, reason) {
  const at = /^line (\d+), column (\d+): (.*)$/.exec(reason || '');
  if (!at) return {message: fieldMessage(field, reason), line: 0, column: 0};
  const known = SYNTAX.find(([pattern]) => pattern.test(at[3]));
  const what = known ? t(known[1], {name: known[0].exec(at[3])[1]}) : at[3];
  return {message: t('template.syntax', {line: at[1], column: at[2], what}), line: Number(at[1]), column: Number(at[2])};
}

// Puts the caret of a text box at line and column (1-based, in characters).
function caretAt(control, line, column) {
  const lines = control.value.split('\n');
  let offset = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) offset += lines[i].length + 1;
  offset += column - 1;
  control.focus();
  control.setSelectionRange(offset, offset + 2);
}

function showTemplate(body, ctx, id) {
  document.title = t(id ? 'template.edit' : 'template.new') + ' - ' + t('app.name');
  const writes = ctx.may('messaging.write');
  const view = {template: null};
  const controls = {
    name: h('input', {type: 'text', id: 'template-name', autocomplete: 'off', readonly: !writes}),
    kind: h('select', {id: 'template-kind', disabled: !writes}, KINDS.map((k) => h('option', {value: k}, t('template.kind.' + k)))),
    subject: h('input', {type: 'text', id: 'template-subject', autocomplete: 'off', readonly: !writes}),
    html: h('textarea', {id: 'template-html', rows: 12, spellcheck: 'false', readonly: !writes}),
    text: h('textarea', {id: 'template-text', rows: 8, readonly: !writes}),
  };
  const error = h('p', {class: 'form-error', role: 'alert', hidden: true});
  const save = h('button', {type: 'submit', class: 'primary', id: 'template-save', hidden: !writes}, t('action.save'));
  const form = h('form', {class: 'card edit', id: 'template-form', novalidate: true, 'aria-labelledby': 'template-title'},
    h('h2', {id: 'template-title', tabindex: '-1'}, t(id ? 'template.edit' : 'template.new')), error,
    field(t('template.name'), controls.name), field(t('template.kind'), controls.kind, t('template.kind.hint')),
    field(t('template.subject'), controls.subject), field(t('template.html'), controls.html),
    field(t('template.text'), controls.text),
    h('p', {class: 'hint'}, t('template.variables')),
    h('div', {class: 'tools'}, save));

  // The preview: a member chosen by search, and for them the template as it is being written
  // (staff who may write: it follows their typing, saved or not) or as saved (the others).
  const draft = () => ({kind: controls.kind.value, subject: controls.subject.value,
                        html: controls.html.value, text: controls.text.value});
  const preview = previewPanel(() => view.template, writes ? draft : null);
  const follow = debounce(() => preview.refresh(), 400);
  for (const name of PARTS.concat('kind')) controls[name].addEventListener(name === 'kind' ? 'change' : 'input', follow);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearProblem(controls, error);
    const values = Object.fromEntries(Object.entries(controls).map(([name, control]) => [name, control.value]));
    save.disabled = true;
    const r = view.template
      ? await api.call('PATCH', '/v1/messaging/templates/' + view.template.id, {body: values, etag: etagOf(view.template)})
      : await api.call('POST', '/v1/messaging/templates', {body: values});
    save.disabled = false;
    if (!r.ok) return problem(r);
    const created = !view.template;
    view.template = r.data;
    ctx.announce(t('template.saved', {name: r.data.name}));
    if (created) {
      history.replaceState(null, '', '#/mail/templates/' + r.data.id);
      form.querySelector('h2').textContent = t('template.edit');
    }
    error.hidden = true;
    preview.refresh();
  });

  // Each field's error next to it; a syntax error in words with the caret put where it is.
  function problem(r) {
    let first = null;
    for (const e of (r.problem && r.problem.errors) || []) {
      const name = e.field.replace(/^template\./, '');
      const control = controls[name];
      if (!control) continue;
      const syntax = PARTS.includes(name) ? syntaxError(name, e.reason) : {message: fieldMessage(name, e.reason)};
      fieldError(control, syntax.message);
      if (!first) {
        first = control;
        if (syntax.line) caretAt(control, syntax.line, syntax.column);
        else control.focus();
      }
    }
    error.textContent = r.status === 412 ? t('error.changed') : problemText(r.status);
    error.hidden = false;
  }

  fill(body, h('p', {class: 'crumbs'}, h('a', {href: '#/mail/templates'}, t('template.back'))),
    h('div', {class: 'columns'}, form, preview.element));

  if (!id) {
    controls.name.focus();
    return;
  }
  loadOne(body, '/v1/messaging/templates/' + id, (template) => {
    view.template = template;
    for (const [name, control] of Object.entries(controls)) control.value = template[name] || '';
    preview.refresh();
    form.querySelector('h2').focus();
  });
}

function previewPanel(template, draft) {
  const search = h('input', {type: 'search', id: 'preview-search', autocomplete: 'off',
                             placeholder: t('members.search.placeholder')});
  const member = h('select', {id: 'preview-member'}, h('option', {value: ''}, t('preview.no_member')));
  const choose = draft ? 'preview.choose_draft' : 'preview.choose';
  const status = h('p', {class: 'summary', id: 'preview-status', 'aria-live': 'polite'}, t(choose));
  const subject = h('p', {id: 'preview-subject', class: 'preview-subject'});
  const to = h('p', {id: 'preview-to', class: 'hint'});
  const substituted = h('p', {id: 'preview-substitutions', class: 'form-error', hidden: true});
  const frame = h('iframe', {id: 'preview-html', class: 'preview', sandbox: '', title: t('preview.html')});
  const text = h('pre', {id: 'preview-text', class: 'preview'});
  const shown = h('div', {hidden: true}, subject, to, substituted, h('h3', {}, t('preview.html')), frame, h('h3', {}, t('preview.text')), text);
  let generation = 0;

  const find = debounce(async () => {
    const r = await api.call('GET', '/v1/members', {query: {q: search.value.trim(), limit: 10}});
    if (!r.ok) return;
    fill(member, h('option', {value: ''}, t(r.data.data.length ? 'preview.pick' : 'preview.nobody')),
      r.data.data.map((m) => h('option', {value: m.id}, (m.name || t('member.no_name')) + '（' + m.email + '）')));
    if (r.data.data.length === 1) {
      member.value = r.data.data[0].id;
      refresh();
    }
  }, 300);
  search.addEventListener('input', find);
  member.addEventListener('change', refresh);

  async function refresh() {
    const saved = template();
    const written = draft && draft();
    const mine = ++generation;
    if ((!saved && !written) || !member.value) {
      shown.hidden = true;
      status.textContent = t(saved || written ? choose : 'preview.save_first');
      return;
    }
    status.textContent = t('loading');
    const r = written
      ? await api.call('POST', '/v1/messaging/templates/preview', {body: {member_id: member.value, ...written}})
      : await api.call('POST', '/v1/messaging/templates/' + saved.id + '/preview', {body: {member_id: member.value}});
    if (mine !== generation) return;
    if (!r.ok) {
      const fields = ((r.problem && r.problem.errors) || []).map((e) => e.field);
      shown.hidden = true;
      status.textContent = r.status !== 400 ? problemText(r.status)
        : fields.includes('member_id') ? t('preview.unknown_member') : t('preview.draft_error');
      return;
    }
    subject.textContent = r.data.subject;
    to.textContent = t('preview.to', {to: r.data.to});
    const replaced = r.data.substitutions || [];       // sent in ISO-2022-JP: what it cannot carry
    substituted.textContent = t('preview.substitutions', {list: replaced.join('、')});
    substituted.hidden = replaced.length === 0;
    frame.setAttribute('srcdoc', r.data.html || '');
    text.textContent = r.data.text;
    shown.hidden = false;
    status.textContent = t(written ? 'preview.for_draft' : 'preview.for', {name: member.selectedOptions[0].textContent});
  }

  return {
    element: h('section', {class: 'card', id: 'template-preview', 'aria-labelledby': 'preview-title'},
      h('h2', {id: 'preview-title'}, t('preview.title')),
      field(t('preview.search'), search), field(t('preview.member'), member), status, shown),
    refresh,
  };
}

// --- automations: what the API has today, read only, and on/off ------------------------------

function delay(minutes) {
  if (!minutes) return t('automation.at_once');
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const rest = minutes % 60;
  return t('automation.after', {time: [days && t('automation.days', {n: days}), hours && t('automation.hours', {n: hours}),
                                       rest && t('automation.minutes', {n: rest})].filter(Boolean).join(' ')});
}

// What an automation does, from its scenario: one mail (after a wait in minutes, or at once)
// reads as before; a longer scenario says how many steps and mails it has.
function plan(a) {
  const steps = (a.scenario && a.scenario.steps) || [];
  const sends = steps.filter((step) => step.send);
  const simple = sends.length === 1 && steps[steps.length - 1].send &&
    (steps.length === 1 || (steps.length === 2 && steps[0].wait && steps[0].wait.minutes !== undefined));
  return simple ? delay(steps.length === 2 ? steps[0].wait.minutes : 0)
                : t('automation.steps', {n: steps.length, mails: sends.length});
}

// The names of an automation's templates, read once per screen into names (id → promise).
function templateNames(names) {
  return (a) => {
    const sends = ((a.scenario && a.scenario.steps) || []).filter((step) => step.send).map((step) => step.send);
    const cell = h('span', {}, t('loading'));
    for (const send of sends)
      if (!names.has(send.template_id))
        names.set(send.template_id, api.call('GET', '/v1/messaging/templates/' + send.template_id)
          .then((r) => (r.ok ? r.data.name : t('template.deleted'))));
    // A send that attaches billing's PDF says which: 「領収（お支払い完了）＋領収書 PDF」.
    Promise.all(sends.map((send) => names.get(send.template_id).then((name) =>
      (send.attach ? name + t('automation.attach.' + send.attach) : name))))
      .then((all) => { cell.textContent = all.join('、'); });
    return cell;
  };
}

// When an automation sends, in words: 「会員登録のたびに、7 日後に送る」.
function rule(a) {
  const event = has('automation.event.' + a.event_type) ? t('automation.event.' + a.event_type) : a.event_type;
  return t(a.nth ? 'automation.rule.nth' : 'automation.rule.every', {event, nth: a.nth, delay: plan(a)});
}

function showAutomations(body, ctx) {
  const templates = templateNames(new Map());
  const list = pagedList({id: 'automations', caption: t('mail.tab.automations'), path: '/v1/messaging/automations',
    query: () => ({}), empty: 'automation.none', rowAttrs: (a) => ({'data-automation-id': a.id}), columns: [
      ['automation.name', (a) => h('a', {href: '#/mail/automations/' + a.id, class: 'automation-link'}, a.name)],
      ['automation.rule', rule],
      ['automation.template', templates],
      ['automation.active', (a) => toggle(a)],
    ]});

  function toggle(a) {
    const box = h('input', {type: 'checkbox', id: 'automation-active-' + a.id, class: 'automation-active',
                            checked: a.active, disabled: !ctx.may('messaging.write')});
    box.addEventListener('change', async () => {
      box.disabled = true;
      const r = await api.call('PATCH', '/v1/messaging/automations/' + a.id, {body: {active: box.checked}, etag: etagOf(a)});
      box.disabled = false;
      if (r.ok) {
        Object.assign(a, r.data);
        ctx.announce(t(a.active ? 'automation.turned_on' : 'automation.turned_off', {name: a.name}));
      } else {
        box.checked = a.active;
        ctx.announce(problemText(r.status));
        if (r.status === 412) list.reload();
      }
    });
    return h('span', {class: 'check'}, box,
      h('label', {for: box.id}, h('span', {class: 'visually-hidden'}, a.name + ' '), t('automation.on')));
  }

  fill(body, h('h2', {}, t('mail.tab.automations')), h('p', {class: 'hint'}, t('automation.explain')), list.element);
  list.reload();
}

// --- one automation: what it does, and its runs a page at a time, by status -------------------

const RUN_STATUSES = ['active', 'done', 'goal', 'canceled'];

function showAutomation(body, ctx, id) {
  document.title = t('mail.tab.automations') + ' - ' + t('app.name');
  const back = h('p', {class: 'crumbs'}, h('a', {href: '#/mail/automations'}, t('automation.back')));
  fill(body, back, h('p', {class: 'summary'}, t('loading')));
  loadOne(body, '/v1/messaging/automations/' + id, (a) => {
    const heading = h('h2', {id: 'automation-title', tabindex: '-1'}, a.name);
    const about = h('section', {class: 'card', 'aria-labelledby': 'automation-title'}, heading,
      h('p', {id: 'automation-rule'}, rule(a)),
      h('p', {}, t('automation.template'), ': ', templateNames(new Map())(a)),
      h('p', {id: 'automation-state'}, t(a.active ? 'automation.state.on' : 'automation.state.off', {version: a.version})));
    fill(body, back, about, runsSection(ctx, a));
    heading.focus();
  });
}

// The runs of automation a, newest first: the member, the run's status, its next step and when
// it is due (an active run's), when it entered, and its last mail (subject and status).
function runsSection(ctx, a) {
  const state = {status: ''};
  const members = new Map();
  const mails = new Map();
  const list = pagedList({id: 'runs', caption: t('run.title'), path: '/v1/messaging/automations/' + a.id + '/runs',
    query: () => ({status: state.status}), empty: 'run.none', rowAttrs: (r) => ({'data-run-id': r.id}), columns: [
      ['run.member', (r) => memberLink(members, r.member_id)],
      ['run.status', (r) => h('span', {class: 'badge ' + r.status}, t('run.status.' + r.status))],
      ['run.next', (r) => (r.status === 'active' ? t('run.step', {n: r.position + 1}) : t('empty'))],
      ['run.due', (r) => (r.status === 'active' ? dateTime(r.due_at) : t('empty'))],
      ['run.entered', (r) => dateTime(r.entered_at)],
      ['run.last_mail', (r) => lastMail(mails, r.last_mail_id)],
    ]});
  const section = h('section', {class: 'card', 'aria-labelledby': 'runs-title'},
    h('h3', {id: 'runs-title'}, t('run.title')), h('p', {class: 'hint'}, t('run.explain')),
    filterForm(choice('run-status', t('run.status'), RUN_STATUSES, 'run.status.', state, 'status', list.reload)),
    list.element);
  list.reload();
  return section;
}

// A run's last mail as its subject (its template's name while it has none: a mail not sent is
// not rendered) and status, read once per id into mails.
function lastMail(mails, id) {
  if (!id) return t('empty');
  if (!mails.has(id))
    mails.set(id, api.call('GET', '/v1/messaging/mails/' + id).then(async (r) => {
      if (!r.ok) return t('error.not_found');
      const template = r.data.subject ? null : await api.call('GET', '/v1/messaging/templates/' + r.data.template_id);
      const subject = r.data.subject || (template.ok ? template.data.name : t('template.deleted'));
      return t('run.mail', {subject, status: t('mail.status.' + r.data.status)});
    }));
  const cell = h('span', {class: 'last-mail'}, t('loading'));
  mails.get(id).then((text) => { cell.textContent = text; });
  return cell;
}
