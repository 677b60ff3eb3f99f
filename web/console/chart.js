// chart.js - bar charts drawn as SVG from data, every label as text (no library, nothing from
// another host). Colours come from base.css by class; each bar carries its figure as a <title>.

const NS = 'http://www.w3.org/2000/svg';
const WIDTH = 360;                 // the viewBox: the chart scales with its card
const HEIGHT = 200;
const LEFT = 44;                   // room for the axis' figures
const BOTTOM = 20;                 // room for the months
const TOP = 8;

function s(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs || {}))
    if (value !== undefined && value !== null) el.setAttribute(name, String(value));
  for (const child of children.flat())
    if (child !== undefined && child !== null) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

// The round figure at or above value (1, 2 or 5 times a power of ten): the axis' top.
function roundUp(value) {
  if (value <= 0) return 1;
  const power = Math.pow(10, Math.floor(Math.log10(value)));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

// A chart of columns: columns [{label, parts: [{value, cls, title}]}], each column's parts
// stacked up from 0 when positive and down from 0 when negative. axis(value) writes the
// axis' figures. Returns an <svg role="img"> named by title.
export function columnChart(title, columns, axis, id) {
  const up = Math.max(0, ...columns.map((c) => c.parts.reduce((sum, p) => sum + Math.max(0, p.value), 0)));
  const down = Math.max(0, ...columns.map((c) => c.parts.reduce((sum, p) => sum - Math.min(0, p.value), 0)));
  const top = up ? roundUp(up) : 0;
  const bottom = down ? roundUp(down) : 0;
  const span = (top + bottom) || 1;
  const plot = HEIGHT - TOP - BOTTOM;
  const y = (value) => TOP + (top - value) / span * plot;
  const step = (WIDTH - LEFT) / Math.max(1, columns.length);
  const bar = Math.max(4, step * 0.6);
  const figures = [top, 0, -bottom].filter((v, i, all) => all.indexOf(v) === i && (v !== 0 || i === 1));
  const chart = s('svg', {viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: 'chart', role: 'img', 'aria-label': title, id},
    s('title', {}, title),
    figures.map((v) => s('g', {class: v === 0 ? 'axis zero' : 'axis'},
      s('line', {x1: LEFT, x2: WIDTH, y1: y(v), y2: y(v)}),
      s('text', {x: LEFT - 4, y: y(v) + 4, 'text-anchor': 'end'}, axis(v)))));
  columns.forEach((column, i) => {
    const x = LEFT + i * step + (step - bar) / 2;
    let above = 0;
    let below = 0;
    const g = s('g', {class: 'column'});
    for (const part of column.parts) {
      if (!part.value) continue;
      const from = part.value > 0 ? above : below;
      const to = from + part.value;
      if (part.value > 0) above = to; else below = to;
      g.append(s('rect', {x, width: bar, y: y(Math.max(from, to)), height: Math.max(1, Math.abs(y(from) - y(to))),
                          class: 'bar ' + part.cls}, s('title', {}, part.title)));
    }
    g.append(s('text', {x: x + bar / 2, y: HEIGHT - 6, 'text-anchor': 'middle', class: 'label'}, column.label));
    chart.append(g);
  });
  return chart;
}
