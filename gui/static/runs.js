// The Runs page (#/runs): finished runs from the controller's run log (GET /api/runs), per
// environment and detector, with SVG plots of transition and run durations, and of transition
// times against the environment's task count. Read-only.
import { lineChart, scatterChart } from "./charts.js";
import { duration, html, raw } from "./util.js";

const LIMIT = 200;
const PLOTTED = 50; // runs in the plots (the newest, drawn oldest first)
const SAMPLES = 300; // task-count samples kept per environment (10 minutes at one per 2 s)
const STATES = ["STANDBY", "CONFIGURED", "RUNNING", "ERROR", "DONE"];
const STATE_COLORS = { STANDBY: "#8a96a8", CONFIGURED: "#3fa9f5", RUNNING: "#2ecc71", ERROR: "#ff4d4f", DONE: "#5c6778" };

// One colour per transition in every plot of the page; others take the palette's.
const EVENT_COLORS = { DEPLOY: "#b48cff", CONFIGURE: "#f5a623", START_ACTIVITY: "#4fb3ff", STOP_ACTIVITY: "#3fd6c6", GO_ERROR: "#ff4d4f" };
const SCALING = ["DEPLOY", "CONFIGURE", "START_ACTIVITY"];

export const runs = { key: null, loading: false, list: [], scaling: [], error: "", samples: new Map() };

let rerender = () => {};

export function initRuns(hook) {
  rerender = hook;
}

// Called about every 2 s: each RUNNING environment's task counts (status.taskCounts, from the
// live feed) as one sample, so the page can draw tasks by state over time; nothing is fetched.
export function sampleTasks(store, now = Date.now()) {
  for (const env of store.objects.environments.values()) {
    const name = env.metadata.name;
    if (env.status?.state !== "RUNNING" && !runs.samples.has(name)) continue;
    const list = runs.samples.get(name) ?? [];
    list.push({ t: now, counts: { ...(env.status?.taskCounts ?? {}) } });
    if (list.length > SAMPLES) list.splice(0, list.length - SAMPLES);
    runs.samples.set(name, list);
  }
  for (const name of runs.samples.keys()) if (!store.objects.environments.has(name)) runs.samples.delete(name);
}

function taskPlot(env) {
  const samples = runs.samples.get(env) ?? [];
  if (!env || !samples.length) return "";
  const seen = STATES.filter((s) => samples.some((x) => x.counts[s]));
  return lineChart({
    id: "plot-tasks",
    title: `Tasks by state, ${env} (live, sampled in this page)`,
    labels: samples.map((x) => new Date(x.t).toISOString().slice(11, 19)),
    series: seen.map((s) => ({ name: s, color: STATE_COLORS[s], values: samples.map((x) => x.counts[s] ?? 0) })),
    xTitle: "time (UTC)",
    yTitle: "tasks",
  });
}

// Changes when a run starts or ends anywhere: the page then asks the server again.
function runSignature(store) {
  const parts = [];
  for (const env of store.objects.environments.values()) {
    parts.push(`${env.metadata.name}:${env.status?.runNumber ?? ""}:${env.status?.lastRunNumber ?? ""}`);
  }
  return parts.join(",");
}

async function load(key, query) {
  runs.loading = true;
  try {
    const response = await fetch(`/api/runs?${query}`);
    const body = await response.json().catch(() => ({}));
    runs.list = response.ok ? body.runs ?? [] : [];
    runs.scaling = response.ok ? body.scaling ?? [] : [];
    runs.error = response.ok ? "" : body.error ?? `HTTP ${response.status}`;
  } catch (error) {
    runs.error = String(error);
  } finally {
    runs.loading = false;
    runs.key = key;
    rerender();
  }
}

function time(ms) {
  return ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) : "";
}

// Transitions often take under a second: tenths below a minute, util.duration above.
function seconds(value) {
  if (value == null) return "";
  return value < 60 ? `${value.toFixed(1)}s` : duration(value);
}

function transitionsCell(run) {
  const parts = (run.transitions ?? []).map(
    (t) => html`<span class="tag res-${(t.result || "").toLowerCase()}" title="${t.result}">${t.event} ${seconds(t.durationSeconds)}</span>`,
  );
  return html`${parts}`;
}

function row(run) {
  const error = run.endedInError ? html`<span class="st st-error">ERROR</span> ${run.error}` : "";
  return html`<tr data-run="${run.runNumber}">
    <td class="run">${run.runNumber}</td>
    <td><a href="#/runs?env=${encodeURIComponent(run.environment)}">${run.environment}</a></td>
    <td>${run.runType}</td>
    <td>${(run.detectors ?? []).map((d) => html`<span class="tag">${d}</span>`)}</td>
    <td class="mono">${time(run.startedAtMs)}</td>
    <td class="mono">${time(run.stoppedAtMs)}</td>
    <td class="num">${duration(run.durationSeconds)}</td>
    <td>${run.startedBy || raw('<span class="muted">—</span>')}</td>
    <td>${run.stoppedBy || raw('<span class="muted">—</span>')}</td>
    <td>${transitionsCell(run)}</td>
    <td class="message" title="${run.error}">${error}</td>
  </tr>`;
}

// The newest PLOTTED runs, oldest first: one line per transition kind, and the run durations.
function plots(list, env) {
  const shown = list.slice(0, PLOTTED).reverse();
  const labels = shown.map((r) => String(r.runNumber));
  const kinds = [...new Set(shown.flatMap((r) => (r.transitions ?? []).map((t) => t.event)))];
  const series = kinds.map((kind) => ({
    name: kind,
    color: EVENT_COLORS[kind],
    values: shown.map((r) => {
      const found = (r.transitions ?? []).filter((t) => t.event === kind && t.durationSeconds != null);
      return found.length ? found.reduce((sum, t) => sum + t.durationSeconds, 0) : null;
    }),
  }));
  const transitions = lineChart({
    id: "plot-transitions",
    title: `Transition durations, last ${shown.length} runs`,
    labels,
    series,
    xTitle: "run number",
    yTitle: "seconds",
  });
  const longest = Math.max(0, ...shown.map((r) => r.durationSeconds ?? 0));
  const [unit, per] = longest > 7200 ? ["hours", 3600] : longest > 300 ? ["minutes", 60] : ["seconds", 1];
  const durations = lineChart({
    id: "plot-durations",
    title: `Run durations, last ${shown.length} runs`,
    labels,
    series: [{ name: "run duration", values: shown.map((r) => (r.durationSeconds == null ? null : r.durationSeconds / per)), color: "#2ecc71" }],
    xTitle: "run number",
    yTitle: unit,
  });
  return raw(`<div class="charts">${transitions}${durations}${scalingPlot()}${taskPlot(env)}</div>`);
}

// DEPLOY, CONFIGURE and START_ACTIVITY seconds against the environment's task count (points
// derived by the server from the same runs as the table: GET /api/runs's `scaling`).
function scalingPlot() {
  const series = SCALING.map((name) => ({
    name,
    color: EVENT_COLORS[name],
    points: runs.scaling
      .filter((p) => p.series === name)
      .map((p) => ({
        x: p.tasks,
        y: p.seconds,
        tip: `${p.environment}, run ${p.runNumber}: ${name} ${seconds(p.seconds)} with ${p.tasks} tasks`,
      })),
  }));
  return scatterChart({
    id: "plot-scaling",
    title: "Transition time vs task count",
    series,
    xTitle: "tasks in the environment",
    yTitle: "seconds",
    empty: "No runs with a recorded task count yet",
  });
}

function options(values, selected, none) {
  const all = [...new Set(values.filter(Boolean))].sort();
  if (selected && !all.includes(selected)) all.unshift(selected);
  return html`<option value="">${none}</option>${all.map((v) => html`<option value="${v}" ${v === selected ? "selected" : ""}>${v}</option>`)}`;
}

export function renderRuns(store, params) {
  const env = params.get("env") ?? "";
  const detector = params.get("detector") ?? "";
  const query = new URLSearchParams({ limit: String(LIMIT) });
  if (env) query.set("env", env);
  if (detector) query.set("detector", detector);
  const key = `${query}|${runSignature(store)}`;
  if (key !== runs.key && !runs.loading) load(key, query);
  const envNames = [...store.objects.environments.keys(), ...runs.list.map((r) => r.environment)];
  const detectors = runs.list.flatMap((r) => r.detectors ?? []);
  const rows = runs.list.map(row);
  const empty = runs.error
    ? html`<tr><td colspan="11" class="empty">Cannot read the run log: ${runs.error}</td></tr>`
    : html`<tr><td colspan="11" class="empty">${runs.key === null ? "Loading…" : "No finished runs"}</td></tr>`;
  return html`<section class="runs">
    <div class="filters">
      <label>Environment <select id="runs-env" data-filter="env">${options(envNames, env, "all")}</select></label>
      <label>Detector <input id="runs-detector" data-filter="detector" list="runs-detectors" value="${detector}" placeholder="any"></label>
      <datalist id="runs-detectors">${[...new Set(detectors)].map((d) => html`<option value="${d}">`)}</datalist>
      <span class="muted">${runs.list.length} runs, newest first</span>
    </div>
    ${plots(runs.list, env)}
    <table class="grid small" id="runs">
      <thead><tr><th>Run</th><th>Environment</th><th>Run type</th><th>Detectors</th><th>Started (UTC)</th><th>Stopped (UTC)</th><th>Duration</th><th>Started by</th><th>Stopped by</th><th>Transitions</th><th>Error</th></tr></thead>
      <tbody>${rows.length ? rows : empty}</tbody>
    </table>
  </section>`;
}
