// signin.js - the sign-in form the console and the portal share: email and password to a
// login route; the gateway answers with the session's HttpOnly cookie.

import * as api from './api.js';
import {field, fieldError, h} from './dom.js';
import {fieldMessage, t} from './i18n.js';

// A form that posts to loginPath and calls signedIn() once the session has started; message
// (optional) is shown above it (the session expired, signed out).
export function signInForm(loginPath, signedIn, message) {
  const email = h('input', {type: 'email', id: 'signin-email', autocomplete: 'username', required: true});
  const password = h('input', {type: 'password', id: 'signin-password', autocomplete: 'current-password', required: true});
  const error = h('p', {class: 'form-error', role: 'alert', hidden: !message}, message || '');
  const submit = h('button', {type: 'submit', class: 'primary', id: 'signin-submit'}, t('signin.submit'));
  const form = h('form', {class: 'card signin', novalidate: true},
    h('h1', {}, t('signin.title')), error,
    field(t('signin.email'), email), field(t('signin.password'), password), submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    for (const control of [email, password]) fieldError(control, '');
    error.hidden = true;
    if (!email.value || !password.value) {
      if (!email.value) fieldError(email, t('error.required'));
      if (!password.value) fieldError(password, t('error.required'));
      return;
    }
    submit.disabled = true;
    const r = await api.call('POST', loginPath, {body: {email: email.value, password: password.value}});
    submit.disabled = false;
    password.value = '';
    if (r.ok) return signedIn();
    const controls = {email, password};
    for (const e of (r.problem && r.problem.errors) || [])
      if (controls[e.field]) fieldError(controls[e.field], fieldMessage(e.field, e.reason));
    error.textContent = r.status === 401 ? t('signin.refused') : r.status === 429 ? t('signin.throttled')
                      : r.status === 400 ? t('error.check_fields') : t('error.unavailable');
    error.hidden = false;
  });
  return form;
}
