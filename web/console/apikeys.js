// apikeys.js - API キー: the keys programs sign in with, a new one's secret shown once (kept
// nowhere but on this screen until it is left), and revoking one (it stops working at once).

import * as api from '../common/api.js';
import {button, field, fill, h, modal} from '../common/dom.js';
import {dateTime} from '../common/format.js';
import {t} from '../common/i18n.js';
import {clearProblem, listTable, problemText, showProblem, staffName, staffNames} from './lists.js';

// A key's role: any but owner (member's rule; the service refuses an owner key with 400).
const KEY_ROLES = ['admin', 'support', 'marketing', 'finance', 'viewer'];

export function showApiKeys(main, ctx) {
  document.title = t('apikeys.title') + ' - ' + t('app.name');
  const staff = staffNames(ctx);
  const summary = h('p', {class: 'summary', 'aria-live': 'polite', id: 'api-keys-summary'});
  const secretBox = h('div', {id: 'api-key-secret-box'});
  const {table, body, row} = listTable('api-keys', t('apikeys.title'), [
    ['apikey.name', (k) => k.name],
    ['apikey.role', (k) => t('role.' + k.role)],
    ['apikey.prefix', (k) => h('code', {}, k.prefix + '…')],
    ['apikey.created_by', (k) => creator(k.created_by)],
    ['apikey.created_at', (k) => dateTime(k.created_at)],
    ['apikey.state', (k) => h('span', {class: 'badge ' + (k.revoked_at ? 'revoked' : 'active')},
      k.revoked_at ? t('apikey.revoked_at', {at: dateTime(k.revoked_at)}) : t('apikey.active'))],
    ['list.actions', (k) => (k.revoked_at ? '' : button(t('apikey.revoke'), () => revoke(k), {class: 'small danger revoke-key'}))],
  ], (k) => ({'data-key-id': k.id}));

  function creator(id) {
    const cell = h('span', {}, t('loading'));
    staff.then((known) => { cell.textContent = staffName(known, id); });
    return cell;
  }

  async function load() {
    table.setAttribute('aria-busy', 'true');
    const r = await api.call('GET', '/v1/api-keys');
    table.removeAttribute('aria-busy');
    if (!r.ok) {
      summary.textContent = problemText(r.status);
      return;
    }
    const keys = r.data.data.slice().sort((a, b) => Boolean(a.revoked_at) - Boolean(b.revoked_at));
    fill(body, keys.map(row));
    table.hidden = !keys.length;
    summary.textContent = keys.length ? t('apikeys.count', {n: keys.filter((k) => !k.revoked_at).length}) : t('apikeys.none');
  }

  // The new key's secret, once: selectable text and a copy button; gone when the screen is left.
  function showSecret(key) {
    const secret = h('code', {id: 'api-key-secret', class: 'secret', tabindex: '0'}, key.secret);
    const copied = h('span', {class: 'hint', 'aria-live': 'polite'});
    fill(secretBox, h('section', {class: 'card notice', role: 'alert', 'aria-labelledby': 'secret-title'},
      h('h2', {id: 'secret-title'}, t('apikey.secret.title', {name: key.name})),
      h('p', {}, t('apikey.secret.explain')), secret,
      h('div', {class: 'tools'},
        navigator.clipboard ? button(t('apikey.secret.copy'), async () => {
          try {
            await navigator.clipboard.writeText(key.secret);
            copied.textContent = t('apikey.secret.copied');
          } catch (e) {
            copied.textContent = t('apikey.secret.copy_failed');
          }
        }, {id: 'api-key-copy'}) : null,
        button(t('apikey.secret.done'), () => fill(secretBox), {id: 'api-key-secret-done'}), copied)));
    secret.focus();
  }

  function revoke(k) {
    modal(t('apikey.revoke.title', {name: k.name}), [h('p', {}, t('apikey.revoke.explain'))],
      t('apikey.revoke.confirm'), t('action.cancel'), async (showError) => {
        const r = await api.call('POST', '/v1/api-keys/' + k.id + '/revoke');
        if (!r.ok) {
          showError(problemText(r.status));
          return false;
        }
        ctx.announce(t('apikey.revoked', {name: k.name}));
        load();
        return true;
      }, true);
  }

  const name = h('input', {type: 'text', id: 'api-key-name', autocomplete: 'off'});
  const role = h('select', {id: 'api-key-role'}, KEY_ROLES.map((r) => h('option', {value: r, selected: r === 'viewer'}, t('role.' + r))));
  const controls = {name, role};
  const error = h('p', {class: 'form-error', role: 'alert', hidden: true});
  const create = h('button', {type: 'submit', class: 'primary', id: 'api-key-create'}, t('apikey.create'));
  const form = h('form', {class: 'card edit inline-form', id: 'api-key-form', novalidate: true, 'aria-labelledby': 'api-key-form-title'},
    h('h2', {id: 'api-key-form-title'}, t('apikey.new')), error,
    field(t('apikey.name'), name, t('apikey.name.hint')), field(t('apikey.role'), role, t('apikey.role.hint')),
    h('div', {class: 'tools'}, create));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearProblem(controls, error);
    create.disabled = true;
    const r = await api.call('POST', '/v1/api-keys', {body: {name: name.value.trim(), role: role.value}});
    create.disabled = false;
    if (!r.ok) return showProblem(r, controls, error);
    form.reset();
    showSecret(r.data);
    load();
  });

  fill(main, h('h1', {tabindex: '-1'}, t('apikeys.title')), h('p', {class: 'hint'}, t('apikeys.explain')),
    secretBox, form, summary, table);
  load();
}
