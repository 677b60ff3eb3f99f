// bulk.js - 会員一覧's bulk tag: a tag added to or removed from the members ticked on the page,
// or from every member the list selects (its filters, or a saved segment). One
// POST /v1/members/tags changes up to 1000 members in one transaction and answers how many it
// found, how many changed and which ids it did not find; more members are sent 1000 at a time.

import * as api from '../common/api.js';
import {button, field, fieldError, h} from '../common/dom.js';
import {number} from '../common/format.js';
import {fieldMessage, t} from '../common/i18n.js';

const AT_ONCE = 1000;          // the most member ids one call names (the route's limit)

// ids: an async iterable of member ids; change: {add: [tag]} or {remove: [tag]}. Sends the ids
// AT_ONCE at a time and calls progress(sent) after each call; resolves to {matched, changed,
// notFound, failed, problem}: the route's counts summed, the ids of the calls that failed
// counted, and the first refusal (a 400 refuses the tag itself, so nothing more is sent).
async function tagMany(ids, change, progress) {
  const result = {matched: 0, changed: 0, notFound: 0, failed: 0, problem: null};
  let batch = [];
  let sent = 0;
  async function send() {
    const r = await api.call('POST', '/v1/members/tags', {body: {member_ids: batch, ...change}});
    if (r.ok) {
      result.matched += r.data.matched;
      result.changed += r.data.changed;
      result.notFound += r.data.not_found.length;
    } else {
      result.failed += batch.length;
      result.problem ??= r;
    }
    sent += batch.length;
    batch = [];
    progress(sent);
  }
  for await (const id of ids) {
    batch.push(id);
    if (batch.length === AT_ONCE) await send();
    if (result.problem && result.problem.status === 400) return result;
  }
  if (batch.length) await send();
  return result;
}

async function* listed(ids) {
  yield* ids;
}

// The bar: selected() the ticked ids, everyone() an async iterable of the ids of every member
// the list selects; done() after a change.
export function bulkTagBar(ctx, selected, everyone, done) {
  const tag = h('input', {type: 'text', id: 'bulk-tag', autocomplete: 'off'});
  const scope = h('select', {id: 'bulk-scope'},
    h('option', {value: 'selected'}, t('bulk.scope.selected')), h('option', {value: 'filtered'}, t('bulk.scope.filtered')));
  const status = h('p', {class: 'summary', id: 'bulk-status', 'aria-live': 'polite'});
  const counts = h('p', {class: 'summary', id: 'bulk-counts'});
  const add = button(t('bulk.add'), () => run('add'), {id: 'bulk-add', class: 'primary'});
  const remove = button(t('bulk.remove'), () => run('remove'), {id: 'bulk-remove'});

  function count() {
    const n = selected().length;
    status.textContent = t('bulk.selected', {n});
  }

  async function run(how) {
    fieldError(tag, '');
    const name = tag.value.trim();
    if (!name) {
      fieldError(tag, t('error.required'));
      tag.focus();
      return;
    }
    const ids = scope.value === 'selected' ? selected() : null;
    if (ids && !ids.length) {
      status.textContent = t('bulk.none_selected');
      return;
    }
    add.disabled = remove.disabled = true;
    bar.setAttribute('aria-busy', 'true');
    counts.textContent = '';
    const result = await tagMany(ids ? listed(ids) : everyone(), {[how]: [name]},
      (n) => { status.textContent = t('bulk.progress', {n: number(n)}); });
    add.disabled = remove.disabled = false;
    bar.removeAttribute('aria-busy');
    const problem = result.problem;
    if (problem && problem.status === 400) {
      const e = (problem.problem && problem.problem.errors || [])[0];
      fieldError(tag, e ? fieldMessage(e.field, e.reason) : t('error.invalid'));
    }
    status.textContent = t(how === 'add' ? 'bulk.added' : 'bulk.removed', {tag: name, n: number(result.matched)}) +
      (result.failed ? ' ' + t('bulk.failed', {n: number(result.failed)}) : '');
    counts.textContent = result.matched + result.notFound ?
      t('bulk.counts', {changed: number(result.changed), unchanged: number(result.matched - result.changed)}) +
      (result.notFound ? ' ' + t('bulk.not_found', {n: number(result.notFound)}) : '') : '';
    ctx.announce([status.textContent, counts.textContent].filter(Boolean).join(' '));
    done();
  }

  const bar = h('section', {class: 'card bulk', id: 'bulk-bar', 'aria-labelledby': 'bulk-title'},
    h('h2', {id: 'bulk-title'}, t('bulk.title')),
    h('div', {class: 'bulk-fields'}, field(t('bulk.tag'), tag), field(t('bulk.scope'), scope)),
    h('div', {class: 'tools'}, add, remove), status, counts);
  return {element: bar, count};
}
