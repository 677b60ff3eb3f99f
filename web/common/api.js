// api.js - the screens' calls to the API: the session rides in its HttpOnly cookie (never seen
// here), writes carry the session's CSRF token, which the gateway sends with the sign-in and
// with every answer to a signed-in call (so a reloaded page learns it from GET /v1/me).

let csrf = '';
let sessionKind = 'staff';
let onSignedOut = null;

// kind: 'staff' (the console) or 'member' (the portal: the gateway then prefers the member's
// cookie); signedOut: called when a call answers 401 (the session ended or expired).
export function configure(kind, signedOut) {
  sessionKind = kind;
  onSignedOut = signedOut;
}

export function forgetSession() {
  csrf = '';
}

// path with the query's non-empty values: {q: 'やまだ', tag: ''} → path?q=%E3%82%84…
function withQuery(path, query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query || {}))
    if (value !== undefined && value !== null && value !== '') params.append(name, value);
  return [...params].length ? path + '?' + params : path;
}

// One call. Returns {status, ok, data, etag, problem}: data is the JSON body (or the text),
// problem the problem+json body of an error; status 0 when the network failed. Never throws.
// idempotencyKey: sent as Idempotency-Key (a write that moves money, retried safely).
// file: a File or Blob sent as the body as it is (a CSV upload), with its own type.
// language: the Accept-Language to send, for a screen that shows the API's own sentences.
export async function call(method, path, {body, query, etag, signal, idempotencyKey, file, language} = {}) {
  // The screens word errors from their own catalogues (i18n.js reads the reasons' English), so
  // they ask for English whatever the browser prefers; the API answers ja when asked, which a
  // screen does when the API's sentences are the only ones it has (a bank statement's faults).
  const headers = {Accept: 'application/json', 'Accept-Language': language || 'en'};
  if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (file) headers['Content-Type'] = file.type || 'application/octet-stream';
  if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
  if (etag) headers['If-Match'] = etag;
  if (sessionKind === 'member') headers['X-Kaiin-Session'] = 'member';
  let response;
  try {
    response = await fetch(withQuery(path, query), {method, headers, credentials: 'same-origin', cache: 'no-store',
                                 body: file || (body === undefined ? undefined : JSON.stringify(body)), signal});
  } catch (e) {
    return {status: 0, ok: false, data: null, etag: null, problem: null, aborted: e.name === 'AbortError'};
  }
  const token = response.headers.get('X-CSRF-Token');
  if (token) csrf = token;
  const type = response.headers.get('Content-Type') || '';
  let data = null;
  if (response.status !== 204 && response.status !== 304)
    data = type.includes('json') ? await response.json().catch(() => null) : await response.text();
  const result = {status: response.status, ok: response.ok, data, etag: response.headers.get('ETag'),
                  problem: response.ok ? null : data, headers: response.headers};
  if (response.status === 401 && onSignedOut && !path.endsWith('/login')) {
    csrf = '';
    onSignedOut();
  }
  return result;
}

// GET of a CSV (or any file) as a download named filename. Returns the call's result.
// language: the Accept-Language to send, for a file whose names are in the caller's language.
export async function download(path, query, filename, {language} = {}) {
  let response;
  try {
    const headers = language ? {'Accept-Language': language} : {};
    response = await fetch(withQuery(path, query), {credentials: 'same-origin', cache: 'no-store', headers});
  } catch (e) {
    return {status: 0, ok: false};
  }
  if (!response.ok) return {status: response.status, ok: false, problem: await response.json().catch(() => null)};
  let blob;
  try {
    blob = await response.blob();     // a streamed file cut short (its server failed) rejects
  } catch (e) {
    return {status: 0, ok: false};
  }
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
  return {status: response.status, ok: true};
}
