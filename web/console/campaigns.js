// campaigns.js - メール › キャンペーン: the list with each one's progress, a new campaign (a
// template to a saved segment, at a rate), and one campaign's page: send now or at a time in
// Japan, pause, resume, cancel, its progress (sent / total) and its figures, read again every
// few seconds while it is scheduled or sending.

import * as api from '../common/api.js';
import {button, field, fieldError, fill, h, modal} from '../common/dom.js';
import {dateTime, number, yen} from '../common/format.js';
import {t} from '../common/i18n.js';
import {clearProblem, pagedList, problemText, showProblem} from './lists.js';

// What may be done from each status (services/messaging/README.md, "Campaigns").
const ACTIONS = {
  draft: ['send', 'cancel'],
  scheduled: ['cancel'],
  sending: ['pause', 'cancel'],
  paused: ['resume', 'cancel'],
};
const FIGURES = ['total', 'sent', 'queued', 'held', 'bounced', 'failed', 'suppressed', 'canceled',
                 'clicked', 'clicks', 'unsubscribed', 'conversions'];
const REFRESH_MS = 3000;

function progress(c) {
  return h('span', {class: 'progress'},
    h('progress', {max: c.total || 1, value: c.sent, 'aria-hidden': 'true'}),
    ' ', t('campaign.progress', {sent: number(c.sent), total: number(c.total)}));
}

function statusBadge(c) {
  return h('span', {class: 'badge ' + c.status, id: 'campaign-status-' + c.id}, t('campaign.status.' + c.status));
}

export function showCampaigns(body, ctx) {
  const writes = ctx.may('messaging.campaigns');
  const list = pagedList({id: 'campaigns', caption: t('mail.tab.campaigns'), path: '/v1/messaging/campaigns',
    query: () => ({}), empty: 'campaign.none', rowAttrs: (c) => ({'data-campaign-id': c.id}), columns: [
      ['campaign.name', (c) => h('a', {href: '#/mail/campaigns/' + c.id, class: 'campaign-link'}, c.name)],
      ['campaign.status', statusBadge],
      ['campaign.sent', progress],
      ['campaign.when', (c) => dateTime(c.started_at || c.send_at) || t('empty')],
    ]});
  fill(body, h('div', {class: 'heading'}, h('h2', {}, t('mail.tab.campaigns')),
    writes ? h('a', {href: '#/mail/campaigns/new', class: 'button', id: 'campaign-new'}, t('campaign.new')) : null),
    list.element);
  list.reload();
}

// A select of a list's items (up to 100: templates or segments), labelled by name.
async function options(select, path, chosen) {
  const r = await api.call('GET', path, {query: {limit: 100}});
  fill(select, h('option', {value: ''}, t('list.choose')),
    (r.ok ? r.data.data : []).map((x) => h('option', {value: x.id, selected: x.id === chosen}, x.name)));
}

export function showCampaign(body, ctx, id) {
  if (!id) return newCampaign(body, ctx);
  document.title = t('mail.tab.campaigns') + ' - ' + t('app.name');
  const writes = ctx.may('messaging.campaigns');
  const view = {campaign: null, timer: 0};
  const heading = h('h2', {id: 'campaign-title', tabindex: '-1'});
  const status = h('p', {id: 'campaign-state'});
  const bar = h('p', {id: 'campaign-progress'});
  const actions = h('div', {class: 'tools', id: 'campaign-actions'});
  const figures = h('dl', {class: 'record narrow', id: 'campaign-stats'});
  const error = h('p', {class: 'form-error', role: 'alert', hidden: true});

  async function load() {
    clearTimeout(view.timer);
    if (!body.isConnected && view.campaign) return;          // the screen was left
    const [r, stats] = await Promise.all([api.call('GET', '/v1/messaging/campaigns/' + id),
                                          api.call('GET', '/v1/messaging/campaigns/' + id + '/stats')]);
    if (!r.ok) {
      fill(body, h('p', {}, r.status === 404 ? t('error.not_found') : problemText(r.status)));
      return;
    }
    const first = !view.campaign;
    const changed = !first && (view.campaign.status !== r.data.status);
    view.campaign = r.data;
    render(r.data, stats.ok ? stats.data : null);
    if (first) heading.focus();
    if (changed) ctx.announce(t('campaign.now', {status: t('campaign.status.' + r.data.status)}));
    if (['scheduled', 'sending'].includes(r.data.status) && body.isConnected) view.timer = setTimeout(load, REFRESH_MS);
  }

  function render(c, stats) {
    heading.textContent = c.name;
    fill(status, statusBadge(c), c.kind ? ' ' + t('campaign.kind.' + c.kind) : '',
      c.status === 'scheduled' ? ' ' + t('campaign.scheduled_at', {at: dateTime(c.send_at)}) : '',
      c.started_at ? ' ' + t('campaign.started_at', {at: dateTime(c.started_at)}) : '',
      c.finished_at ? ' ' + t('campaign.finished_at', {at: dateTime(c.finished_at)}) : '');
    fill(bar, progress(c), c.matched ? ' ' + t('campaign.matched', {n: number(c.matched)}) : '');
    fill(figures, stats ? FIGURES.map((key) => h('div', {'data-figure': key}, h('dt', {}, t('campaign.figure.' + key)),
      h('dd', {}, number(stats[key])))).concat(h('div', {'data-figure': 'conversion_total'},
      h('dt', {}, t('campaign.figure.conversion_total')), h('dd', {}, yen(stats.conversion_total)))) : []);
    if (actions.dataset.status === c.status) return;           // the buttons stay while it is the same
    actions.dataset.status = c.status;
    fill(actions, writes ? (ACTIONS[c.status] || []).map((action) =>
      button(t('campaign.action.' + action), () => act(action), {id: 'campaign-' + action, class: action === 'cancel' ? 'danger' : action === 'send' ? 'primary' : ''})) : []);
  }

  async function act(action) {
    if (action === 'send') return send();
    if (action === 'cancel') return confirmCancel();
    return post(action, {});
  }

  async function post(action, payload) {
    error.hidden = true;
    const r = await api.call('POST', '/v1/messaging/campaigns/' + id + '/' + action, {body: payload});
    if (!r.ok) {
      error.textContent = r.status === 409 ? t('campaign.not_now') : problemText(r.status);
      error.hidden = false;
      load();
      return r;
    }
    ctx.announce(t('campaign.done.' + action, {name: r.data.name}));
    load();
    return r;
  }

  // Now, or at a day and time in Japan (the box's local time is read as JST).
  function send() {
    const when = h('select', {id: 'send-when'}, h('option', {value: 'now'}, t('campaign.send.now')),
      h('option', {value: 'at'}, t('campaign.send.at')));
    const at = h('input', {type: 'datetime-local', id: 'send-at'});
    const atField = field(t('campaign.send_at'), at, t('campaign.send_at.hint'));
    atField.hidden = true;
    when.addEventListener('change', () => { atField.hidden = when.value !== 'at'; });
    modal(t('campaign.send.title', {name: view.campaign.name}), [field(t('campaign.send.when'), when), atField],
      t('campaign.action.send'), t('action.cancel'), async (showError) => {
        fieldError(at, '');
        let payload = {};
        if (when.value === 'at') {
          if (!at.value) {
            fieldError(at, t('campaign.send_at.required'));
            at.focus();
            return false;
          }
          payload = {send_at: at.value + (at.value.length === 16 ? ':00' : '') + '+09:00'};
        }
        const r = await post('send', payload);
        if (r.ok) return true;
        showError(showProblem(r, {send_at: at}));
        return false;
      });
    when.focus();
  }

  function confirmCancel() {
    modal(t('campaign.cancel.title', {name: view.campaign.name}), [h('p', {}, t('campaign.cancel.explain'))],
      t('campaign.action.cancel'), t('action.back'), async () => { await post('cancel', {}); return true; }, true);
  }

  fill(body, h('p', {class: 'crumbs'}, h('a', {href: '#/mail/campaigns'}, t('campaign.back'))),
    h('section', {class: 'card', 'aria-labelledby': 'campaign-title'}, heading, error, status, bar, actions),
    h('section', {class: 'card', 'aria-labelledby': 'campaign-stats-title'},
      h('h3', {id: 'campaign-stats-title'}, t('campaign.stats')), figures));
  load();
}

function newCampaign(body, ctx) {
  document.title = t('campaign.new') + ' - ' + t('app.name');
  const controls = {
    name: h('input', {type: 'text', id: 'campaign-name', autocomplete: 'off'}),
    template_id: h('select', {id: 'campaign-template'}),
    segment_id: h('select', {id: 'campaign-segment'}),
    rate_per_minute: h('input', {type: 'text', id: 'campaign-rate', inputmode: 'numeric', value: '0'}),
  };
  options(controls.template_id, '/v1/messaging/templates');
  options(controls.segment_id, '/v1/messaging/segments');
  const error = h('p', {class: 'form-error', role: 'alert', hidden: true});
  const save = h('button', {type: 'submit', class: 'primary', id: 'campaign-save'}, t('campaign.create'));
  const form = h('form', {class: 'card edit inline-form', id: 'campaign-form', novalidate: true},
    h('h2', {}, t('campaign.new')), error,
    field(t('campaign.name'), controls.name), field(t('campaign.template'), controls.template_id),
    field(t('campaign.segment'), controls.segment_id),
    field(t('campaign.rate'), controls.rate_per_minute, t('campaign.rate.hint')),
    h('div', {class: 'tools'}, save));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearProblem(controls, error);
    const rate = controls.rate_per_minute.value.trim();
    save.disabled = true;
    const r = await api.call('POST', '/v1/messaging/campaigns', {body: {
      name: controls.name.value.trim(), template_id: controls.template_id.value, segment_id: controls.segment_id.value,
      rate_per_minute: /^\d+$/.test(rate) ? Number(rate) : rate}});
    save.disabled = false;
    if (!r.ok) return showProblem(r, controls, error);
    ctx.announce(t('campaign.created', {name: r.data.name}));
    location.hash = '#/mail/campaigns/' + r.data.id;
  });
  fill(body, h('p', {class: 'crumbs'}, h('a', {href: '#/mail/campaigns'}, t('campaign.back'))), form);
  controls.name.focus();
}
