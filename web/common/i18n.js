// i18n.js - every word on the screens comes from one catalogue per language: Japanese first,
// English on the switch. The choice of language is kept in the browser (it is no personal data).

import {button} from './dom.js';
import ja from './messages/ja.js';
import en from './messages/en.js';

const catalogues = {ja, en};
// Billing's reasons for a cancellation (services/billing/subscription.c), in its order; each is
// worded by 'cancel.reason.<code>'. The console and the portal offer the same list.
export const CANCEL_REASONS = ['too_expensive', 'missing_features', 'switched_service', 'unused', 'other'];
const KEY = 'kaiin.lang';
let lang = 'ja';
try {
  if (catalogues[localStorage.getItem(KEY)]) lang = localStorage.getItem(KEY);
} catch (e) { /* storage refused: Japanese */ }
document.documentElement.lang = lang;

export function language() {
  return lang;
}

export function setLanguage(next) {
  if (!catalogues[next]) return;
  lang = next;
  document.documentElement.lang = lang;
  try { localStorage.setItem(KEY, lang); } catch (e) { /* kept for this page only */ }
}

// The switch to the other language; rerender draws the page again in it.
export function languageButton(rerender) {
  const other = lang === 'ja' ? 'en' : 'ja';
  return button(t('language.switch'), () => { setLanguage(other); rerender(); },
                {class: 'link', lang: other, id: 'language'});
}

// t('staff.count', {n: 3}): the message in the current language, {name}s filled in; the key
// itself when neither catalogue has it (a missing message shows, it does not break the page).
export function t(key, params) {
  const text = catalogues[lang][key] ?? ja[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (all, name) => (params && name in params ? String(params[name]) : all));
}

// True when the current catalogue has key (for optional messages: a field's own error).
export function has(key) {
  return key in catalogues[lang];
}

// The Japanese message for what the API said was wrong with a field: the API's reasons are
// English sentences, matched here by their meaning; a field's own message otherwise.
const REASONS = [
  [/is required|must not be empty/, 'error.required'],
  [/is taken/, 'error.taken'],
  [/must be (\d+) to (\d+) characters/, 'error.length'],
  [/another member has this email/, 'error.email_taken'],
  [/only owners and admins/, 'error.not_allowed_field'],
  [/at most (\d+) characters/, 'error.too_long'],
  [/control characters/, 'error.control_characters'],
  [/must not be in the future/, 'error.in_future'],
  [/must not be before the invoice was issued/, 'error.before_issued'],
];

export function fieldMessage(field, reason) {
  for (const [pattern, key] of REASONS) {
    const match = pattern.exec(reason || '');
    if (match) return t(key, {n: match[1], m: match[2]});
  }
  return has('error.field.' + field) ? t('error.field.' + field) : t('error.invalid');
}
