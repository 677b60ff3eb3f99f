// password.js - a forgotten password: the address to send a reset mail to (the answer is the
// same whether or not it is a member's), and the mail's link: a new password for its token.

import * as api from '../common/api.js';
import {field, fieldError, h} from '../common/dom.js';
import {clearErrors, showErrors} from '../common/form.js';
import {t} from '../common/i18n.js';

// draw(content) puts the page's content in place; back() returns to the sign-in.
export function showForgot(draw, back) {
  document.title = t('portal.forgot.title') + ' - ' + t('portal.name');
  const email = h('input', {type: 'email', id: 'forgot-email', autocomplete: 'username', required: true});
  const error = h('p', {class: 'form-error', role: 'alert', hidden: true});
  const submit = h('button', {type: 'submit', class: 'primary', id: 'forgot-submit'}, t('portal.forgot.submit'));
  const form = h('form', {class: 'card', novalidate: true, id: 'forgot-form'},
    h('h1', {}, t('portal.forgot.title')), h('p', {}, t('portal.forgot.explain')), error,
    field(t('signin.email'), email), submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors({email}, error);
    if (!email.value.trim()) {
      fieldError(email, t('error.required'));
      return email.focus();
    }
    submit.disabled = true;
    const r = await api.call('POST', '/v1/member-auth/password-reset', {body: {email: email.value.trim()}});
    submit.disabled = false;
    if (!r.ok) return showErrors(r, {email}, error);
    draw([h('section', {class: 'card', id: 'forgot-sent'}, h('h1', {tabindex: '-1'}, t('portal.forgot.title')),
      h('p', {role: 'status'}, t('portal.forgot.sent'))), backLink(back)]);
    document.querySelector('#forgot-sent h1').focus();
  });
  draw([form, backLink(back)]);
  email.focus();
}

function backLink(back) {
  const link = h('a', {href: '#/', id: 'back-to-signin'}, t('portal.back_to_signin'));
  link.addEventListener('click', (event) => {
    event.preventDefault();
    back();
  });
  return h('p', {}, link);
}

// token: from the mail's link (already taken out of the address); done() goes to the sign-in.
export function showReset(token, draw, done) {
  document.title = t('portal.reset.title') + ' - ' + t('portal.name');
  const password = h('input', {type: 'password', id: 'reset-password', autocomplete: 'new-password', required: true});
  const again = h('input', {type: 'password', id: 'reset-again', autocomplete: 'new-password', required: true});
  const controls = {new_password: password, again, token: password};
  const error = h('p', {class: 'form-error', role: 'alert', hidden: true});
  const submit = h('button', {type: 'submit', class: 'primary', id: 'reset-submit'}, t('portal.reset.submit'));
  const form = h('form', {class: 'card', novalidate: true, id: 'reset-form'},
    h('h1', {}, t('portal.reset.title')), error,
    field(t('portal.reset.password'), password, t('portal.reset.password.hint')),
    field(t('portal.reset.again'), again), submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(controls, error);
    if (password.value !== again.value) {
      fieldError(again, t('portal.reset.mismatch'));
      return again.focus();
    }
    submit.disabled = true;
    const r = await api.call('POST', '/v1/member-auth/password-reset/confirm',
                             {body: {token, new_password: password.value}});
    submit.disabled = false;
    if (r.ok) return done();
    const tokenRefused = ((r.problem && r.problem.errors) || []).some((e) => e.field === 'token');
    showErrors(r, tokenRefused ? {} : controls, error, tokenRefused ? {400: 'portal.reset.bad_token'} : null);
  });
  draw([form, backLink(done)]);
  password.focus();
}
