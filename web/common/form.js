// form.js - a form's answer from the API: each field error of its problem+json shown in Japanese
// next to the control it names, the rest in the form's own error line.

import {fieldError} from './dom.js';
import {fieldMessage, t} from './i18n.js';

// Clears the errors of controls ({field: element}) and of the form's error line.
export function clearErrors(controls, error) {
  for (const control of Object.values(controls)) fieldError(control, '');
  if (error) error.hidden = true;
}

// Shows the failed call r: each error whose field (or its first part: "marketing_consent.method")
// names a control next to it, the first such control focused; then the form's line says
// messages[status] when given, else what the status means. Returns true when a field was named.
export function showErrors(r, controls, error, messages) {
  let named = false;
  for (const e of (r.problem && r.problem.errors) || []) {
    const control = controls[e.field] || controls[e.field.split('.')[0]];
    if (!control) continue;
    fieldError(control, fieldMessage(e.field, e.reason));
    if (!named) control.focus();
    named = true;
  }
  if (error) {
    const own = messages && messages[r.status];
    error.textContent = own ? t(own) : r.status === 400 ? t('error.check_fields')
                      : r.status === 403 ? t('error.forbidden') : r.status === 409 ? t('error.conflict')
                      : t('error.unavailable');
    error.hidden = false;
  }
  return named;
}
