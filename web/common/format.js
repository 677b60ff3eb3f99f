// format.js - values as people in Japan read them: dates in JST (2026年12月4日), yen (¥1,100).

import {language, t} from './i18n.js';

const JST = 'Asia/Tokyo';
const formats = {};

function format(kind, options) {
  const key = language() + kind;
  formats[key] ??= new Intl.DateTimeFormat(language() === 'ja' ? 'ja-JP' : 'en-US',
                                           Object.assign({timeZone: JST}, options));
  return formats[key];
}

// An RFC 3339 time as its day in Japan: 2026年12月4日 (Dec 4, 2026). '' for none.
export function date(value) {
  if (!value) return '';
  const at = new Date(value);
  return isNaN(at) ? '' : format('d', {year: 'numeric', month: language() === 'ja' ? 'long' : 'short', day: 'numeric'}).format(at);
}

// The same with the time of day: 2026年12月4日 14:05.
export function dateTime(value) {
  if (!value) return '';
  const at = new Date(value);
  if (isNaN(at)) return '';
  return date(value) + ' ' + format('t', {hour: '2-digit', minute: '2-digit', hourCycle: 'h23'}).format(at);
}

// The day in Japan of a time (default now) as a calendar date "YYYY-MM-DD", for a date input.
export function isoDay(at) {
  return new Intl.DateTimeFormat('sv-SE', {timeZone: JST}).format(at || new Date());
}

// The minute in Japan of a time (default now) as "YYYY-MM-DDTHH:MM", for a datetime-local input;
// jstTime reads such a value back as RFC 3339 (+09:00).
export function isoMinute(at) {
  return new Intl.DateTimeFormat('sv-SE', {timeZone: JST, year: 'numeric', month: '2-digit', day: '2-digit',
                                           hour: '2-digit', minute: '2-digit', hourCycle: 'h23'})
    .format(at || new Date()).replace(' ', 'T');
}

export function jstTime(minute) {
  return minute + ':00+09:00';
}

// A calendar date "YYYY-MM-DD" (a birthday: no time zone) as 1990年4月1日.
export function day(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value || '');
  if (!m) return value || '';
  return t('format.day', {y: Number(m[1]), m: Number(m[2]), d: Number(m[3]),
                          month: t('format.month.' + Number(m[2]))});
}

// Yen: ¥1,100 (the half-width sign in both languages; ja-JP's currency format gives ￥).
export function yen(amount) {
  if (amount === null || amount === undefined || amount === '') return '';
  const n = Number(amount);
  return (n < 0 ? '-¥' : '¥') + new Intl.NumberFormat('ja-JP').format(Math.abs(n));
}

// A month "YYYY-MM" (JST, as analytics names them) as 2026年4月 (Apr 2026); short: 4月 (Apr).
export function month(value, short) {
  const m = /^(\d{4})-(\d{2})$/.exec(value || '');
  if (!m) return value || '';
  const at = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 15));
  const options = short ? {month: 'short'} : {year: 'numeric', month: language() === 'ja' ? 'long' : 'short'};
  return format(short ? 'ms' : 'm', Object.assign(options, {timeZone: 'UTC'})).format(at);
}

// A count: 1,234.
export function number(value) {
  return new Intl.NumberFormat('ja-JP').format(Number(value) || 0);
}

// A rate (0.125) as a percentage: 12.5%.
export function percent(rate) {
  return new Intl.NumberFormat('ja-JP', {style: 'percent', maximumFractionDigits: 1}).format(Number(rate) || 0);
}

// A signed amount of yen, as a change: +¥1,000, -¥500, ¥0.
export function yenChange(amount) {
  const n = Number(amount) || 0;
  return (n > 0 ? '+' : '') + yen(n);
}

// Yen in few characters, for a chart's axis: ¥120万 (¥1.2M).
export function yenShort(amount) {
  const n = Number(amount) || 0;
  const text = new Intl.NumberFormat(language() === 'ja' ? 'ja-JP' : 'en-US', {notation: 'compact', maximumFractionDigits: 1})
    .format(Math.abs(n));
  return (n < 0 ? '-¥' : '¥') + text;
}
