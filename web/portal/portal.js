// portal.js - the member portal (マイページ): sign-in with the member's own session cookie, a
// forgotten password reset by mail, and the member's pages (profile, mail, plan, withdrawal)
// by the location's hash. The hash names a page only: no personal data in a URL; a reset
// link's token is read from the hash once and taken out of the address at once.

import * as api from '../common/api.js';
import {button, fill, h} from '../common/dom.js';
import {languageButton, t} from '../common/i18n.js';
import {signInForm} from '../common/signin.js';
import {showForgot, showReset} from './password.js';
import {showMail, showProfile} from './profile.js';
import {showPlan} from './plan.js';
import {showWithdraw} from './withdraw.js';

const root = document.getElementById('app');
const PAGES = {profile: showProfile, mail: showMail, plan: showPlan, withdraw: showWithdraw};
let member = null;

// The page: the bar (with the menu when signed in) and content in main; rerender draws it again
// in the other language.
function page(content, rerender, nav) {
  fill(root,
    h('a', {class: 'skip', href: '#main'}, t('nav.skip')),
    h('header', {class: 'top'}, h('span', {class: 'brand'}, t('portal.name')), nav,
      h('div', {class: 'account'}, languageButton(rerender), member ? signOutButton() : null)),
    h('main', {id: 'main', class: nav ? 'portal' : 'narrow', tabindex: '-1'}, content),
    h('p', {class: 'visually-hidden', id: 'announce', role: 'status'}));
}

function announce(message) {
  const status = document.getElementById('announce');
  if (status) status.textContent = message;
}

function signOutButton() {
  return button(t('signout'), async () => {
    const r = await api.call('POST', '/v1/member-auth/logout');
    if (r.ok || r.status === 401) signedOut(t('signout.done'));
  }, {id: 'signout', class: 'link'});
}

function signedOut(message) {
  member = null;
  api.configure('member', null);
  api.forgetSession();
  showSignIn(message);
}

function showSignIn(message) {
  document.title = t('signin.title') + ' - ' + t('portal.name');
  if (location.hash) history.replaceState(null, '', location.pathname);
  const form = signInForm('/v1/member-auth/login', start, message);
  const forgot = h('p', {}, h('a', {href: '#/forgot', id: 'forgot-link'}, t('portal.forgot.link')));
  page([form, forgot], () => showSignIn(message));
  form.querySelector('input').focus();
}

function nav(current) {
  return h('nav', {'aria-label': t('nav.label')}, h('ul', {},
    Object.keys(PAGES).map((name) => h('li', {}, h('a', {href: '#/' + name, 'data-nav': name,
      'aria-current': name === current ? 'page' : null}, t('portal.nav.' + name))))));
}

function route() {
  const hash = location.hash;
  if (hash.startsWith('#reset=')) {
    const token = hash.slice('#reset='.length);
    history.replaceState(null, '', location.pathname + '#/reset');
    return showReset(token, (content) => page(content, route), () => showSignIn(t('portal.reset.done')));
  }
  if (!member) {
    if (hash === '#/forgot') return showForgot((content) => page(content, route), () => showSignIn());
    return showSignIn();
  }
  const name = PAGES[hash.slice(2)] ? hash.slice(2) : 'profile';
  const main = h('div');
  page([h('h1', {id: 'welcome', tabindex: '-1'}, t('portal.welcome', {name: member.name || member.email})), main],
       route, nav(name));
  document.title = t('portal.nav.' + name) + ' - ' + t('portal.name');
  PAGES[name](main, {
    member: () => member,
    updated: (record) => { member = record; },
    announce,
    signedOut: () => signedOut(t('portal.withdraw.done')),
  });
  document.getElementById('main').focus();
}

async function start() {
  const me = await api.call('GET', '/v1/member-auth/me');
  if (me.ok) {
    member = me.data;
    api.configure('member', () => signedOut(t('signin.expired')));
    route();
  }
  else if (me.status === 401 || me.status === 403) {
    member = null;
    route();
  }
  else page(h('p', {role: 'alert'}, t('error.unavailable')), start);
}

window.addEventListener('hashchange', () => { if (location.hash !== '#/reset') route(); });
api.configure('member', null);
start();
