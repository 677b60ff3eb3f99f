// bulk.js - 会員一覧's bulk tag: a tag added to or removed from the members ticked on the page,
// or from every member the list selects (its filters, or a saved segment). The member service has no bulk route: each
// member is one POST /v1/members/{id}/tags, a few at a time, with the progress shown and the
// members it failed for counted.

import * as api from '../common/api.js';
import {button, field, fieldError, h} from '../common/dom.js';
import {number} from '../common/format.js';
import {fieldMessage, t} from '../common/i18n.js';

const AT_ONCE = 4;             // calls in flight together

// ids: an async iterable of member ids; change: {add: [tag]} or {remove: [tag]}. Calls
// progress(done) after each; resolves to {done, failed, problem} (problem: the first refusal).
async function tagEach(ids, change, progress) {
  const result = {done: 0, failed: 0, problem: null};
  const running = new Set();
  for await (const id of ids) {
    const call = api.call('POST', '/v1/members/' + id + '/tags', {body: change}).then((r) => {
      if (r.ok) result.done++;
      else {
        result.failed++;
        result.problem ??= r;
      }
      progress(result.done + result.failed);
      running.delete(call);
    });
    running.add(call);
    if (running.size >= AT_ONCE) await Promise.race(running);
    if (result.problem && result.problem.status === 400) break;      // the tag itself is refused
  }
  await Promise.all(running);
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
    const result = await tagEach(ids ? listed(ids) : everyone(), {[how]: [name]},
      (n) => { status.textContent = t('bulk.progress', {n: number(n)}); });
    add.disabled = remove.disabled = false;
    bar.removeAttribute('aria-busy');
    const problem = result.problem;
    if (problem && problem.status === 400) {
      const e = (problem.problem && problem.problem.errors || [])[0];
      fieldError(tag, e ? fieldMessage(e.field, e.reason) : t('error.invalid'));
    }
    status.textContent = t(how === 'add' ? 'bulk.added' : 'bulk.removed', {tag: name, n: number(result.done)}) +
      (result.failed ? ' ' + t('bulk.failed', {n: number(result.failed)}) : '');
    ctx.announce(status.textContent);
    done();
  }

  const bar = h('section', {class: 'card bulk', id: 'bulk-bar', 'aria-labelledby': 'bulk-title'},
    h('h2', {id: 'bulk-title'}, t('bulk.title')),
    h('div', {class: 'bulk-fields'}, field(t('bulk.tag'), tag), field(t('bulk.scope'), scope)),
    h('div', {class: 'tools'}, add, remove), status);
  return {element: bar, count};
}
