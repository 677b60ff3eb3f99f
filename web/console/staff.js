// staff.js - スタッフ: the staff accounts, read only, for the roles that manage staff.

import * as api from '../common/api.js';
import {fill, h, moreButton} from '../common/dom.js';
import {dateTime} from '../common/format.js';
import {t} from '../common/i18n.js';

export function showStaff(main) {
  document.title = t('staff.title') + ' - ' + t('app.name');
  const body = h('tbody');
  const summary = h('p', {class: 'summary', 'aria-live': 'polite'}, t('loading'));
  const more = moreButton(t('page.more'), page, {id: 'staff-more'});

  async function page(cursor) {
    const r = await api.call('GET', '/v1/staff', {query: {limit: 50, cursor}});
    if (!r.ok) {
      summary.textContent = r.status === 403 ? t('error.forbidden') : t('error.unavailable');
      return '';
    }
    body.append(...r.data.data.map((s) => h('tr', {'data-staff-id': s.id},
      h('td', {'data-label': t('staff.name')}, s.name || t('empty')),
      h('td', {'data-label': t('staff.email')}, s.email),
      h('td', {'data-label': t('staff.role')}, t('role.' + s.role)),
      h('td', {'data-label': t('staff.state')}, t(s.disabled ? 'staff.disabled' : 'staff.enabled')),
      h('td', {'data-label': t('staff.last_login_at')}, s.last_login_at ? dateTime(s.last_login_at) : t('empty')))));
    summary.textContent = body.children.length ? t('staff.count', {n: body.children.length}) : t('staff.none');
    return r.data.next_cursor || '';
  }

  const columns = ['staff.name', 'staff.email', 'staff.role', 'staff.state', 'staff.last_login_at'];
  fill(main, h('h1', {tabindex: '-1'}, t('staff.title')), summary,
    h('table', {class: 'list', id: 'staff-table'},
      h('caption', {class: 'visually-hidden'}, t('staff.title')),
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', {scope: 'col'}, t(c))))), body),
    h('div', {class: 'pager'}, more.button));
  more.next();
}
