// dashboard.js - ダッシュボード: the month's subscription metrics (MRR and its movements over
// twelve months, subscribers, ARPA, LTV, revenue retention, trial conversion, active and
// inactive members), churn by plan and the reasons members gave, cohort retention, the alerts
// not yet acknowledged (an owner or admin acknowledges them here), the latest signals and the
// inquiries still open. Every figure is analytics' own (services/analytics):
// nothing is computed here but the charts' scale.

import * as api from '../common/api.js';
import {button, field, fill, h} from '../common/dom.js';
import {dateTime, month, number, percent, yen, yenChange, yenShort} from '../common/format.js';
import {language, t} from '../common/i18n.js';
import {columnChart} from './chart.js';
import {listTable, memberLink, problemText} from './lists.js';

// The movements of MRR, in the order they stack: gains up from 0, losses down.
const MOVEMENTS = ['new_business', 'expansion', 'reactivation', 'contraction', 'churn'];

// The metrics' JSON comes labelled text/csv (the runtime names the route's CSV type even when
// the reply holds no CSV), so api.call hands it over as text: read it as JSON either way.
function asJson(data) {
  if (typeof data !== 'string') return data;
  try {
    return JSON.parse(data);
  } catch (e) {
    return null;
  }
}

export function showDashboard(main, ctx) {
  document.title = t('dashboard.title') + ' - ' + t('app.name');
  const state = ctx.memory().dashboard ??= {month: ''};
  const names = new Map();
  const data = {metrics: null, churn: null};
  const select = h('select', {id: 'dashboard-month'});
  select.addEventListener('change', () => { state.month = select.value; drawMonth(); });
  const kpis = h('section', {class: 'kpis', id: 'kpis', 'aria-label': t('dashboard.kpis'), 'aria-busy': 'true'},
    h('p', {class: 'summary'}, t('loading')));
  const charts = card('dashboard-charts', t('dashboard.mrr_title'));
  const churn = card('dashboard-churn', t('dashboard.churn_title'));
  const cohorts = card('dashboard-cohorts', t('dashboard.cohorts_title'));
  const signals = card('dashboard-signals', t('dashboard.signals_title'));
  const inquiries = card('dashboard-inquiries', t('dashboard.inquiries_title'));
  const alerts = card('dashboard-alerts', t('dashboard.alerts_title'));
  // The month's report as a file for a spreadsheet: its figures beside the month before's.
  const report = button(t('dashboard.report'), async (event) => {
    event.target.disabled = true;
    const r = await api.download('/v1/reports/monthly', {month: state.month, format: 'csv'},
      'kaiin-report-' + state.month + '.csv', {language: language()});
    event.target.disabled = false;
    ctx.announce(r.ok ? t('dashboard.report_done') : t('error.unavailable'));
  }, {id: 'dashboard-report'});
  fill(main,
    h('div', {class: 'heading'}, h('h1', {tabindex: '-1'}, t('dashboard.title')),
      h('div', {class: 'filters inline'}, field(t('dashboard.month'), select), report)),
    alerts, kpis, h('div', {class: 'columns'}, inquiries, signals), charts, churn, cohorts);

  api.call('GET', '/v1/metrics/subscriptions').then((r) => {
    const metrics = r.ok ? asJson(r.data) : null;
    if (!metrics) return failed([kpis, charts], r.status);
    data.metrics = metrics;
    const months = metrics.months;
    if (!months.some((m) => m.month === state.month)) state.month = months[months.length - 1].month;
    fill(select, months.slice().reverse().map((m) =>
      h('option', {value: m.month, selected: m.month === state.month}, month(m.month))));
    drawCharts(months);
    drawMonth();
  });
  api.call('GET', '/v1/metrics/churn').then((r) => {
    if (!r.ok) return failed([churn], r.status);
    data.churn = r.data;
    drawMonth();
  });
  api.call('GET', '/v1/metrics/cohorts').then((r) => (r.ok ? drawCohorts(r.data.cohorts) : failed([cohorts], r.status)));
  api.call('GET', '/v1/analytics/alerts', {query: {status: 'open', limit: 10}}).then((r) =>
    (r.ok ? drawAlerts(r.data) : failed([alerts], r.status)));
  api.call('GET', '/v1/analytics/signals', {query: {limit: 10}}).then((r) =>
    (r.ok ? drawSignals(r.data.data) : failed([signals], r.status)));
  if (ctx.may('member.read'))
    api.call('GET', '/v1/inquiries', {query: {status: 'open', limit: 5}}).then((r) =>
      (r.ok ? drawInquiries(r.data) : failed([inquiries], r.status)));
  else inquiries.remove();

  function card(id, title) {
    return h('section', {class: 'card', id, 'aria-labelledby': id + '-title', 'aria-busy': 'true'},
      h('h2', {id: id + '-title'}, title), h('p', {class: 'summary'}, t('loading')));
  }

  // Replaces a card's content after its heading.
  function put(section, ...content) {
    section.removeAttribute('aria-busy');
    const heading = section.querySelector('h2');
    fill(section, heading, content);
  }

  function failed(sections, status) {
    for (const section of sections)
      put(section, h('p', {class: 'form-error'}, status === 0 || status >= 500 ? t('dashboard.unavailable') : problemText(status)));
  }

  // --- the chosen month: its figures and its churn ---------------------------------------

  function drawMonth() {
    const m = data.metrics && data.metrics.months.find((x) => x.month === state.month);
    if (m) drawKpis(m);
    const c = data.churn && data.churn.months.find((x) => x.month === state.month);
    if (c) drawChurn(c);
  }

  function kpi(name, value, ...notes) {
    return h('div', {class: 'kpi', id: 'kpi-' + name},
      h('h3', {class: 'kpi-label'}, t('kpi.' + name)), h('p', {class: 'kpi-value'}, value),
      notes.filter(Boolean).map((note) => h('p', {class: 'kpi-note'}, note)));
  }

  function drawKpis(m) {
    kpis.removeAttribute('aria-busy');
    const retained = m.mrr_start > 0;
    fill(kpis,
      h('h2', {class: 'visually-hidden'}, t('dashboard.kpis_of', {month: month(m.month)})),
      kpi('mrr', yen(m.mrr), t('kpi.mrr.change', {amount: yenChange(m.net_change)}), t('kpi.mrr.arr', {amount: yen(m.arr)})),
      kpi('subscribers', t('kpi.people', {n: number(m.subscribers)}),
        t('kpi.subscribers.start', {n: number(m.subscribers_start)})),
      kpi('arpa', yen(m.arpa)),
      kpi('ltv', m.ltv ? yen(m.ltv) : t('empty'), m.ltv ? null : t('kpi.ltv.none')),
      kpi('churn', retained ? percent(m.customer_churn_rate) : t('empty'),
        t('kpi.churn.customers', {n: number(m.churned_customers)}),
        retained ? t('kpi.churn.mrr', {rate: percent(m.gross_mrr_churn_rate)}) : null),
      kpi('retention', retained ? percent(m.net_revenue_retention) : t('empty'),
        retained ? t('kpi.retention.gross', {rate: percent(m.gross_revenue_retention)}) : t('kpi.retention.none')),
      kpi('trials', m.trials_started ? percent(m.trial_conversion_rate) : t('empty'),
        t('kpi.trials.count', {converted: number(m.trials_converted), started: number(m.trials_started)})),
      h('div', {class: 'kpi', id: 'kpi-members'},
        h('h3', {class: 'kpi-label'}, t('kpi.members')), h('p', {class: 'kpi-value'}, t('kpi.people', {n: number(m.members)})),
        h('meter', {min: 0, max: Math.max(1, m.members), value: m.active_members, 'aria-label': t('kpi.members.active_share')}),
        h('p', {class: 'kpi-note'}, t('kpi.members.split', {active: number(m.active_members), inactive: number(m.inactive_members)}))));
  }

  function drawChurn(c) {
    const plans = listTable('churn-by-plan', t('dashboard.churn_by_plan'), [
      ['churn.plan', (p) => p.plan],
      ['churn.subscribers_start', (p) => number(p.subscribers_start)],
      ['churn.churned', (p) => number(p.churned_customers)],
      ['churn.rate', (p) => (p.subscribers_start ? percent(p.customer_churn_rate) : t('empty'))],
      ['churn.mrr_lost', (p) => yen(p.churn)],
    ], (p) => ({'data-plan': p.plan}));
    plans.body.append(...c.plans.map(plans.row));
    const most = Math.max(1, ...c.cancel_reasons.map((r) => r.count));
    put(churn,
      h('div', {class: 'columns'},
        h('div', {}, h('h3', {}, t('dashboard.churn_by_plan')),
          c.plans.length ? plans.table : h('p', {class: 'summary'}, t('dashboard.churn_none'))),
        h('div', {}, h('h3', {}, t('dashboard.cancel_reasons')),
          h('p', {id: 'cancellations'}, t('dashboard.cancellations', {n: number(c.cancellations)})),
          c.cancel_reasons.length
            ? h('ul', {class: 'reasons', id: 'cancel-reasons'}, c.cancel_reasons.map((r) =>
                h('li', {'data-reason': r.reason},
                  h('span', {class: 'reason'}, t('cancel.reason.' + r.reason)),
                  h('meter', {min: 0, max: most, value: r.count, 'aria-hidden': 'true'}),
                  h('span', {class: 'count'}, t('dashboard.reason_count', {n: number(r.count)})))))
            : h('p', {class: 'summary'}, t('dashboard.reasons_none')))));
  }

  // --- twelve months ----------------------------------------------------------------------

  function drawCharts(months) {
    const mrr = columnChart(t('dashboard.mrr_chart'), months.map((m) => ({
      label: month(m.month, true),
      parts: [{value: m.mrr, cls: 'mrr', title: month(m.month) + ' ' + yen(m.mrr)}],
    })), yenShort, 'mrr-chart');
    const moves = columnChart(t('dashboard.movements_chart'), months.map((m) => ({
      label: month(m.month, true),
      parts: MOVEMENTS.map((name) => ({value: m[name], cls: name,
                                       title: month(m.month) + ' ' + t('movement.' + name) + ' ' + yenChange(m[name])})),
    })), yenShort, 'movements-chart');
    const table = listTable('mrr-table', t('dashboard.mrr_table'), [
      ['dashboard.month', (m) => month(m.month)],
      ['kpi.mrr', (m) => yen(m.mrr)],
      ...MOVEMENTS.map((name) => ['movement.' + name, (m) => yenChange(m[name])]),
      ['movement.net_change', (m) => yenChange(m.net_change)],
      ['kpi.subscribers', (m) => number(m.subscribers)],
    ], (m) => ({'data-month': m.month}));
    table.body.append(...months.slice().reverse().map(table.row));
    put(charts,
      h('div', {class: 'columns'},
        h('figure', {}, mrr, h('figcaption', {}, t('dashboard.mrr_chart'))),
        h('figure', {}, moves, h('figcaption', {}, t('dashboard.movements_chart'),
          h('ul', {class: 'legend'}, MOVEMENTS.map((name) =>
            h('li', {}, h('span', {class: 'swatch ' + name, 'aria-hidden': 'true'}), t('movement.' + name))))))),
      h('details', {}, h('summary', {}, t('dashboard.mrr_table')), table.table));
  }

  function drawCohorts(list) {
    const paying = list.filter((c) => c.customers > 0);
    if (!paying.length) return put(cohorts, h('p', {class: 'summary'}, t('dashboard.cohorts_none')));
    const width = Math.max(...paying.map((c) => c.cells.length));
    const after = [...Array(width).keys()];
    put(cohorts, h('p', {class: 'hint'}, t('dashboard.cohorts_hint')),
      h('div', {class: 'scroll'}, h('table', {class: 'cohorts', id: 'cohort-table'},
        h('caption', {class: 'visually-hidden'}, t('dashboard.cohorts_title')),
        h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, t('cohort.month')), h('th', {scope: 'col'}, t('cohort.customers')),
          after.map((k) => h('th', {scope: 'col'}, t('cohort.after', {n: k}))))),
        h('tbody', {}, paying.map((c) => h('tr', {'data-month': c.month},
          h('th', {scope: 'row'}, month(c.month)),
          h('td', {}, number(c.customers), h('span', {class: 'kpi-note'}, ' ' + yen(c.new_business))),
          after.map((k) => {
            const cell = c.cells.find((x) => x.months_after === k);
            if (!cell) return h('td', {class: 'none'});
            return h('td', {class: 'heat-' + Math.min(5, Math.floor(cell.customer_retention * 5)),
                            title: t('cohort.cell', {customers: number(cell.customers), mrr: yen(cell.mrr),
                                                     revenue: percent(cell.revenue_retention)})},
              percent(cell.customer_retention));
          })))))));
  }

  // --- what needs someone's attention ------------------------------------------------------

  function signalText(s) {
    if (s.kind === 'inactive') return t('signal.inactive', {days: s.days});
    if (s.kind === 'churn_risk') return t('signal.churn_risk', {score: s.score});
    if (s.kind === 'purchase_milestone') return t('signal.purchase_milestone', {n: number(s.milestone)});
    if (s.kind === 'spend_milestone') return t('signal.spend_milestone', {amount: yen(s.milestone)});
    return s.kind;
  }

  function drawSignals(list) {
    put(signals, list.length
      ? h('ul', {class: 'feed', id: 'signal-list'}, list.map((s) => h('li', {'data-kind': s.kind},
          h('time', {datetime: s.at}, dateTime(s.at)), ' ', h('span', {class: 'badge ' + s.kind}, signalText(s)), ' ',
          memberLink(names, s.member_id))))
      : h('p', {class: 'summary'}, t('dashboard.signals_none')));
  }

  // The open alerts, newest first (analytics mails them to the owners too); "open" counts
  // them all. Acknowledging one takes it off the list.
  function drawAlerts(list) {
    let open = list.open;
    const count = h('p', {id: 'open-alerts-count'});
    const recount = () => { count.textContent = open ? t('dashboard.alerts_count', {n: number(open)}) : t('dashboard.alerts_none'); };
    recount();
    const item = (a) => {
      const li = h('li', {'data-alert-id': a.id},
        h('time', {datetime: a.raised_at}, dateTime(a.raised_at)), ' ',
        h('span', {class: 'badge'}, t('alert.rule.' + a.rule)), ' ', h('span', {class: 'message'}, a.message));
      if (ctx.may('analytics.alerts.manage')) {
        const done = h('button', {type: 'button', class: 'acknowledge'}, t('alert.acknowledge'));
        done.addEventListener('click', async () => {
          done.disabled = true;
          const r = await api.call('POST', '/v1/analytics/alerts/' + a.id + '/acknowledge');
          if (!r.ok) {
            done.disabled = false;
            return ctx.announce(problemText(r.status));
          }
          li.remove();
          open -= 1;
          recount();
          ctx.announce(t('alert.acknowledged'));
        });
        li.append(' ', done);
      }
      return li;
    };
    put(alerts, count, list.data.length ? h('ul', {class: 'feed', id: 'open-alerts'}, list.data.map(item)) : null);
  }

  function drawInquiries(list) {
    const rows = list.data;
    put(inquiries,
      h('p', {id: 'open-inquiries-count'}, rows.length
        ? t(list.next_cursor ? 'dashboard.inquiries_more' : 'dashboard.inquiries_count', {n: rows.length})
        : t('dashboard.inquiries_none')),
      rows.length ? h('ul', {class: 'feed', id: 'open-inquiries'}, rows.map((q) => h('li', {'data-inquiry-id': q.id},
        h('time', {datetime: q.created_at}, dateTime(q.created_at)), ' ',
        h('a', {href: '#/inquiries/' + q.id}, q.subject), ' ', h('span', {class: 'badge'}, t('inquiry.category.' + q.category))))) : null,
      h('p', {}, h('a', {href: '#/inquiries'}, t('dashboard.inquiries_all'))));
  }
}
