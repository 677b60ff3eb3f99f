// app.js - the staff console's shell: sign-in and sign-out, the menu the role may use, the
// language switch, and the screens by the page's #/path.

import * as api from '../common/api.js';
import {button, fill, h} from '../common/dom.js';
import {languageButton, t} from '../common/i18n.js';
import {signInForm} from '../common/signin.js';
import {showApiKeys} from './apikeys.js';
import {showAudit} from './audit.js';
import {showBilling} from './billing.js';
import {showDashboard} from './dashboard.js';
import {showDeposit} from './deposits.js';
import {showInquiries, showInquiry} from './inquiries.js';
import {showImport} from './import.js';
import {showInvoice} from './invoice.js';
import {showMail, showMailItem} from './mail.js';
import {showMember} from './member.js';
import {showMembers} from './members.js';
import {SETTINGS_READ, showSettings} from './settings.js';
import {showStaff} from './staff.js';

// The screens of the menu: each shown only to a role holding its permission, or one of its
// permissions (the API checks again whatever the menu shows).
const MENU = [
  {path: 'dashboard', label: 'nav.dashboard', permission: 'analytics.read'},
  {path: 'members', label: 'nav.members', permission: 'member.read'},
  {path: 'inquiries', label: 'nav.inquiries', permission: 'member.read'},
  {path: 'mail', label: 'nav.mail', permission: 'messaging.read'},
  {path: 'billing', label: 'nav.billing', permission: 'billing.catalog.read'},
  {path: 'staff', label: 'nav.staff', permission: 'member.staff.manage'},
  {path: 'api-keys', label: 'nav.api_keys', permission: 'member.staff.manage'},
  {path: 'audit', label: 'nav.audit', permission: 'member.audit.read'},
  {path: 'settings', label: 'nav.settings', permission: SETTINGS_READ},
];

// Routes: #/dashboard, #/members, #/members/import, #/members/<id>, #/inquiries, #/inquiries/<id>,
// #/mail[/templates|segments|campaigns|automations|suppressions], #/mail/<tab>/<id or new>,
// #/mail/automations/<id>,
// #/billing[/plans|subscriptions|invoices|refunds|deposits], #/billing/invoices/<id>,
// #/billing/deposits/<id>, #/staff,
// #/api-keys, #/audit, #/settings. Only ids go in the address: search words and every other personal
// datum stay in memory.
const ID = '([0-9a-f-]{36})';
const ROUTES = [
  [/^#\/dashboard$/, showDashboard, 'analytics.read'],
  [/^#\/members$/, showMembers, 'member.read'],
  [/^#\/members\/import$/, showImport, 'member.import'],
  [new RegExp('^#/members/' + ID + '$'), showMember, 'member.read'],
  [/^#\/inquiries$/, showInquiries, 'member.read'],
  [new RegExp('^#/inquiries/' + ID + '$'), showInquiry, 'member.read'],
  [/^#\/mail(?:\/(templates|segments|campaigns|automations|suppressions))?$/, showMail, 'messaging.read'],
  [new RegExp('^#/mail/(templates|segments|campaigns)/(new|' + ID.slice(1, -1) + ')$'), showMailItem, 'messaging.read'],
  [new RegExp('^#/mail/(automations)/' + ID + '$'), showMailItem, 'messaging.read'],
  [/^#\/billing(?:\/(plans|subscriptions|invoices|refunds|deposits))?$/, showBilling, 'billing.catalog.read'],
  [new RegExp('^#/billing/invoices/' + ID + '$'), showInvoice, 'billing.read'],
  [new RegExp('^#/billing/deposits/' + ID + '$'), showDeposit, 'billing.read'],
  [/^#\/staff$/, showStaff, 'member.staff.manage'],
  [/^#\/api-keys$/, showApiKeys, 'member.staff.manage'],
  [/^#\/audit$/, showAudit, 'member.audit.read'],
  [/^#\/settings$/, showSettings, SETTINGS_READ],
];

const root = document.getElementById('app');
let session = null;            // {me, permissions: Set}
let memory = {};               // what screens keep between visits (a list's search): this tab only

const ctx = {
  may: (permission) => Boolean(session && [].concat(permission).some((p) => session.permissions.has(p))),
  me: () => session && session.me,
  memory: () => memory,
  announce,
};

function announce(message) {
  const status = document.getElementById('announce');
  if (status) status.textContent = message;
}

async function start() {
  api.configure('staff', null);
  const me = await api.call('GET', '/v1/me');
  if (me.ok && me.data.kind === 'session') await signedIn(me.data);
  else if (me.ok || me.status === 401 || me.status === 403) showSignIn();   // no staff session
  else showProblemPage(me.status);
}

async function signedIn(me) {
  const permissions = await api.call('GET', '/v1/me/permissions');
  session = {me, permissions: new Set(permissions.ok ? permissions.data.permissions : [])};
  api.configure('staff', () => signedOut(t('signin.expired')));
  showShell();
  if (location.hash.startsWith('#/')) route();
  else location.replace('#/members');            // its hashchange draws the screen
}

function signedOut(message) {
  session = null;
  memory = {};
  api.forgetSession();
  showSignIn(message);
}

function showSignIn(message) {
  document.title = t('signin.title') + ' - ' + t('app.name');
  const form = signInForm('/v1/auth/login', async () => {
    const me = await api.call('GET', '/v1/me');
    if (me.ok) signedIn(me.data);
    else showProblemPage(me.status);
  }, message);
  fill(root,
    h('header', {class: 'top'}, h('span', {class: 'brand'}, t('app.name')),
      h('div', {class: 'account'}, languageButton(() => showSignIn(message)))),
    h('main', {id: 'main', class: 'narrow'}, form),
    h('div', {id: 'announce', class: 'visually-hidden', 'aria-live': 'polite'}));
  form.querySelector('input').focus();
}

function showProblemPage(status) {
  fill(root, h('main', {id: 'main', class: 'narrow'},
    h('div', {class: 'card'}, h('h1', {}, t('app.name')),
      h('p', {role: 'alert'}, status === 0 || status >= 500 ? t('error.unavailable') : t('error.unexpected')),
      button(t('action.retry'), start))));
}

function showShell() {
  const me = session.me;
  const who = (me.staff && (me.staff.name || me.staff.email)) || me.id;
  const nav = h('nav', {'aria-label': t('nav.label')},
    h('ul', {}, MENU.filter((item) => ctx.may(item.permission)).map((item) =>
      h('li', {}, h('a', {href: '#/' + item.path, 'data-nav': item.path}, t(item.label))))));
  const signOut = button(t('signout'), async () => {
    const r = await api.call('POST', '/v1/auth/logout');
    if (r.ok || r.status === 401) signedOut(t('signout.done'));
    else announce(t('error.unavailable'));
  }, {class: 'link', id: 'signout'});
  const skip = h('a', {class: 'skip', href: '#main'}, t('nav.skip'));
  skip.addEventListener('click', (event) => {
    event.preventDefault();
    document.getElementById('main').focus();
  });
  fill(root, skip,
    h('header', {class: 'top'}, h('span', {class: 'brand'}, t('app.name')), nav,
      h('div', {class: 'account'},
        h('span', {class: 'who'}, who, ' ', h('span', {class: 'role'}, t('role.' + me.role))),
        languageButton(() => { showShell(); route(); }), signOut)),
    h('main', {id: 'main', tabindex: '-1'}),
    h('div', {id: 'announce', class: 'visually-hidden', 'aria-live': 'polite'}));
}

function route() {
  if (!session) return;
  const main = document.getElementById('main');
  const hash = location.hash;
  for (const link of document.querySelectorAll('nav a'))
    link.toggleAttribute('aria-current', hash === '#/' + link.dataset.nav || hash.startsWith('#/' + link.dataset.nav + '/'));
  for (const [pattern, show, permission] of ROUTES) {
    const match = pattern.exec(hash);
    if (!match) continue;
    fill(main);
    if (!ctx.may(permission)) {
      main.append(h('h1', {}, t('error.forbidden_title')), h('p', {}, t('error.forbidden')));
      return;
    }
    show(main, ctx, ...match.slice(1));
    return;
  }
  if (hash.startsWith('#/')) {
    fill(main, h('h1', {}, t('error.not_found_title')), h('p', {}, h('a', {href: '#/members'}, t('nav.members'))));
  }
}

window.addEventListener('hashchange', route);
start();
