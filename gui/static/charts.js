// Line charts drawn as SVG by hand: no charting library, nothing fetched. Pure: data in, markup out.
import { esc } from "./util.js";

export const PALETTE = ["#4fb3ff", "#2ecc71", "#f5a623", "#b48cff", "#ff4d4f", "#3fd6c6", "#e0e0e0", "#ff8fd0"];

const W = 620;
const H = 240;
const M = { left: 60, right: 14, top: 14, bottom: 40 };

// A round step so that about `count` ticks cover 0..max (1, 2 or 5 times a power of ten).
export function niceStep(max, count = 4) {
  if (!(max > 0)) return 1;
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
  return step;
}

function fmt(value) {
  if (value >= 100) return String(Math.round(value));
  return String(Number(value.toPrecision(3)));
}

function yAxis(top, step, y) {
  const parts = [];
  for (let v = 0; v <= top + step / 2; v += step) {
    const py = y(v).toFixed(1);
    parts.push(`<line class="grid-line" x1="${M.left}" x2="${W - M.right}" y1="${py}" y2="${py}"/>`);
    parts.push(`<text class="tick" x="${M.left - 6}" y="${py}" text-anchor="end" dominant-baseline="middle">${fmt(v)}</text>`);
  }
  return parts.join("");
}

function xAxis(labels, x) {
  const every = Math.max(1, Math.ceil(labels.length / 8));
  return labels
    .map((label, i) =>
      (i % every === 0 && labels.length - 1 - i >= every / 2) || i === labels.length - 1
        ? `<text class="tick" x="${x(i).toFixed(1)}" y="${H - M.bottom + 16}" text-anchor="middle">${esc(label)}</text>`
        : "",
    )
    .join("");
}

// Each series' points joined by lines; a missing value (null) breaks the line.
function lines(series, x, y) {
  return series
    .map((s, k) => {
      const color = s.color ?? PALETTE[k % PALETTE.length];
      const runs = [[]];
      s.values.forEach((v, i) => (v == null ? runs.push([]) : runs[runs.length - 1].push([i, v])));
      const paths = runs
        .filter((r) => r.length > 1)
        .map((r) => `<polyline fill="none" stroke="${color}" stroke-width="2" points="${r.map(([i, v]) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ")}"/>`);
      const dots = s.values
        .map((v, i) => (v == null ? "" : `<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${color}"><title>${esc(s.name)}: ${fmt(v)}</title></circle>`))
        .join("");
      return `<g class="series" data-series="${esc(s.name)}">${paths.join("")}${dots}</g>`;
    })
    .join("");
}

function legend(series) {
  return series
    .map((s, k) => {
      const color = s.color ?? PALETTE[k % PALETTE.length];
      return `<span class="legend-item"><i style="background:${color}"></i>${esc(s.name)}</span>`;
    })
    .join("");
}

// labels: the x positions' names (oldest first); series: [{name, values: [number|null], color?}].
export function lineChart({ id, title, labels, series, xTitle = "", yTitle = "" }) {
  const values = series.flatMap((s) => s.values).filter((v) => v != null);
  if (!labels.length || !values.length) {
    return `<figure class="chart" id="${esc(id)}"><figcaption>${esc(title)}</figcaption><p class="muted">No data yet</p></figure>`;
  }
  const step = niceStep(Math.max(...values));
  const top = Math.max(step, Math.ceil(Math.max(...values) / step) * step);
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const x = (i) => M.left + (labels.length === 1 ? plotW / 2 : (i * plotW) / (labels.length - 1));
  const y = (v) => M.top + plotH - (v / top) * plotH;
  const svg =
    `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}" class="chart-svg">` +
    yAxis(top, step, y) +
    `<line class="axis" x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}"/>` +
    `<line class="axis" x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}"/>` +
    xAxis(labels, x) +
    `<text class="axis-title" x="${M.left + plotW / 2}" y="${H - 4}" text-anchor="middle">${esc(xTitle)}</text>` +
    `<text class="axis-title" transform="translate(14 ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(yTitle)}</text>` +
    lines(series, x, y) +
    "</svg>";
  return `<figure class="chart" id="${esc(id)}"><figcaption>${esc(title)}</figcaption>${svg}<div class="legend">${legend(series)}</div></figure>`;
}

// The value axis' top and step for values up to `max` (at least one step).
function scale(max) {
  const step = niceStep(max);
  return [Math.max(step, Math.ceil(max / step) * step), step];
}

function xTicks(top, step, x) {
  const parts = [];
  for (let v = 0; v <= top + step / 2; v += step) {
    parts.push(`<text class="tick" x="${x(v).toFixed(1)}" y="${H - M.bottom + 16}" text-anchor="middle">${fmt(v)}</text>`);
  }
  return parts.join("");
}

// Points on two numeric axes (from 0), one colour per series; each point's `tip` is its tooltip.
// series: [{name, color?, points: [{x, y, tip}]}]; a series without points stays in the legend.
export function scatterChart({ id, title, series, xTitle = "", yTitle = "", empty = "No data yet" }) {
  const all = series.flatMap((s) => s.points);
  if (!all.length) {
    return `<figure class="chart" id="${esc(id)}"><figcaption>${esc(title)}</figcaption><p class="muted">${esc(empty)}</p></figure>`;
  }
  const [xTop, xStep] = scale(Math.max(...all.map((p) => p.x)));
  const [yTop, yStep] = scale(Math.max(...all.map((p) => p.y)));
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const x = (v) => M.left + (v / xTop) * plotW;
  const y = (v) => M.top + plotH - (v / yTop) * plotH;
  const dots = series
    .map((s, k) => {
      const color = s.color ?? PALETTE[k % PALETTE.length];
      const marks = s.points
        .map((p) => `<circle class="point" cx="${x(p.x).toFixed(1)}" cy="${y(p.y).toFixed(1)}" r="4" fill="${color}" fill-opacity="0.8"><title>${esc(p.tip)}</title></circle>`)
        .join("");
      return `<g class="series" data-series="${esc(s.name)}">${marks}</g>`;
    })
    .join("");
  const svg =
    `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}" class="chart-svg">` +
    yAxis(yTop, yStep, y) +
    `<line class="axis" x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}"/>` +
    `<line class="axis" x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}"/>` +
    xTicks(xTop, xStep, x) +
    `<text class="axis-title" x="${M.left + plotW / 2}" y="${H - 4}" text-anchor="middle">${esc(xTitle)}</text>` +
    `<text class="axis-title" transform="translate(14 ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(yTitle)}</text>` +
    dots +
    "</svg>";
  return `<figure class="chart" id="${esc(id)}"><figcaption>${esc(title)}</figcaption>${svg}<div class="legend">${legend(series)}</div></figure>`;
}
