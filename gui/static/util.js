// Small pure helpers shared by the views: escaping, durations, state colours, sorting.

const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ESC[c]);
}

class Raw {
  constructor(text) {
    this.__raw = text;
  }
  toString() {
    return this.__raw;
  }
}

function piece(v) {
  if (v instanceof Raw) return v.__raw;
  if (Array.isArray(v)) return v.map(piece).join("");
  if (v === false || v == null) return "";
  return esc(v);
}

// Tagged template: interpolated values are escaped unless they are Raw (html`` results are).
export function html(strings, ...values) {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += piece(values[i]) + strings[i + 1];
  return new Raw(out);
}

export function raw(text) {
  return text instanceof Raw ? text : new Raw(String(text));
}

export function duration(seconds) {
  if (seconds == null || !isFinite(seconds)) return "";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

export function since(timestamp, now = Date.now()) {
  if (!timestamp) return "";
  return duration((now - Date.parse(timestamp)) / 1000);
}

// A live duration: tick() in app.js refreshes every [data-since] in place, without re-rendering.
export function ago(timestamp) {
  if (!timestamp) return raw("");
  return raw(`<span data-since="${esc(timestamp)}">${esc(since(timestamp))}</span>`);
}

export function stateClass(state) {
  return `st st-${String(state || "unknown").toLowerCase()}`;
}

export function stateBadge(state) {
  return raw(`<span class="${stateClass(state)}">${esc(state || "—")}</span>`);
}

export function bar(used, total, { label = "" } = {}) {
  const pct = total > 0 ? Math.min(100, (100 * used) / total) : 0;
  const level = pct > 90 ? "hot" : pct > 70 ? "warm" : "ok";
  return raw(
    `<div class="bar" title="${esc(label)}"><div class="bar-fill bar-${level}" style="width:${pct.toFixed(1)}%"></div>` +
      `<span class="bar-text">${esc(label)}</span></div>`,
  );
}

export function compareBy(key, dir) {
  const sign = dir === "desc" ? -1 : 1;
  return (a, b) => {
    const x = a[key] ?? "";
    const y = b[key] ?? "";
    if (typeof x === "number" && typeof y === "number") return sign * (x - y);
    return sign * String(x).localeCompare(String(y), undefined, { numeric: true });
  };
}

export const ENV_STATE_ORDER = ["STANDBY", "DEPLOYED", "CONFIGURED", "RUNNING", "ERROR", "DONE"];
export const TASK_STATE_ORDER = ["STANDBY", "CONFIGURED", "RUNNING", "ERROR", "DONE"];
