// dom.js - building the page from data: every value goes in as text, never as markup.

// h('a', {href: '#/x', class: 'link'}, 'text', child, [more]) makes an element. Attributes
// named on* are refused (no handlers from data; use el.addEventListener); strings become text
// nodes, so a name such as <img src=x onerror=...> shows as those characters.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) throw new Error('no handler attributes: ' + name);
    if (name === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// Replaces everything inside el with children.
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

// A labelled field: <div class="field"><label>…</label><input id=…><p class="error"></p></div>.
// control is an element made by the caller (input, select, textarea); its id ties the label
// and the error (aria-describedby) to it.
export function field(label, control, hint) {
  const id = control.id || (control.id = 'f-' + Math.random().toString(36).slice(2, 9));
  const error = h('p', {class: 'error', id: id + '-error', role: 'alert', hidden: true});
  const help = hint ? h('p', {class: 'hint', id: id + '-hint'}, hint) : null;
  control.setAttribute('aria-describedby', [help && help.id, error.id].filter(Boolean).join(' '));
  return h('div', {class: 'field'}, h('label', {for: id}, label), control, help, error);
}

// Shows message under the field whose control is control ('' hides it).
export function fieldError(control, message) {
  const error = document.getElementById(control.id + '-error');
  if (!error) return;
  error.textContent = message || '';
  error.hidden = !message;
  if (message) control.setAttribute('aria-invalid', 'true');
  else control.removeAttribute('aria-invalid');
}

// A button that runs fn when pressed; type button unless said otherwise.
export function button(label, fn, attrs) {
  const b = h('button', Object.assign({type: 'button'}, attrs), label);
  if (fn) b.addEventListener('click', fn);
  return b;
}

// "Show more" for a list read by cursor: fetchPage(cursor) adds a page and resolves to the next
// cursor ('' after the last page). Returns {button, next}: next() reads the first page. The
// button waits while a page loads, so a second press never reads the same page twice.
export function moreButton(label, fetchPage, attrs) {
  let cursor = '';
  const more = button(label, () => next(), Object.assign({hidden: true}, attrs));
  async function next() {
    more.disabled = true;
    cursor = await fetchPage(cursor);
    more.disabled = false;
    more.hidden = !cursor;
  }
  return {button: more, next};
}

// A modal dialog titled title holding body (elements), with a confirm button labelled
// confirmLabel and a cancel button (cancelLabel). Confirming runs onConfirm(showError), which
// resolves to true to close the dialog; showError(message) shows message above the body.
// danger: the confirm button is drawn as a dangerous action. Returns the open <dialog>.
export function modal(title, body, confirmLabel, cancelLabel, onConfirm, danger) {
  const error = h('p', {class: 'form-error', role: 'alert', hidden: true});
  const confirm = h('button', {type: 'submit', class: 'confirm ' + (danger ? 'danger' : 'primary')}, confirmLabel);
  const dialog = h('dialog', {'aria-labelledby': 'dialog-title'},
    h('form', {method: 'dialog', novalidate: true}, h('h2', {id: 'dialog-title'}, title), error, body,
      h('div', {class: 'tools'}, confirm, button(cancelLabel, () => dialog.close(), {class: 'cancel'}))));
  dialog.querySelector('form').addEventListener('submit', async (event) => {
    event.preventDefault();
    confirm.disabled = true;
    const done = await onConfirm((message) => { error.textContent = message; error.hidden = false; });
    confirm.disabled = false;
    if (done) dialog.close();
  });
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

// How long a list waits after the last keystroke before it searches: short enough that the
// answer shows within 300 ms of typing stopping (bench/console.py measures it), long enough
// that a word typed at a normal pace is one search.
export const TYPING_PAUSE_MS = 150;

// Runs fn at most once per wait ms, after the last call: search as you type.
export function debounce(fn, wait) {
  let timer = 0;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), wait);
  };
}
