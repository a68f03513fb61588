// The new-environment wizard (#/new): a Workflow, detectors from the inventory, the public
// variables through widgets generated from their declarations; the server checks and creates.
import { esc, html, raw } from "./util.js";

// Variables the detector picker sets (the server writes `hosts` or `detectors` from it).
const PICKED = new Set(["detectors", "hosts"]);
const SELECTS = new Set(["comboBox", "dropDownBox", "listBox"]);
const VISIBLE_IF = /^\s*\$\$([A-Za-z_][\w]*)\s*===?\s*"([^"]*)"\s*$/;

export const wizard = {
  offer: null, // GET /api/wizard
  loading: false,
  workflow: "",
  name: "",
  running: false,
  detectors: new Set(),
  values: {}, // this workflow's variable -> text
  errors: {}, // field -> message from the server
  result: "",
  presets: [], // GET /api/presets/{workflow}
  presetsFor: null, // the workflow `presets` were loaded for
  presetChoice: "",
  presetName: "",
  presetResult: "",
};

let hooks = { rerender: () => {}, token: () => "", done: () => {}, user: () => null };

export function initWizard(given) {
  hooks = { ...hooks, ...given };
  document.addEventListener("input", onEdit);
  document.addEventListener("change", onEdit);
  document.addEventListener("click", onClick);
}

export async function loadOffer() {
  if (wizard.loading) return;
  wizard.loading = true;
  try {
    const response = await fetch("/api/wizard");
    wizard.offer = await response.json();
    if (!wizard.workflow && wizard.offer.workflows.length) chooseWorkflow(wizard.offer.workflows[0].name);
  } finally {
    wizard.loading = false;
    hooks.rerender();
  }
}

async function loadPresets() {
  const workflow = wizard.workflow;
  wizard.presetsFor = workflow;
  const response = await fetch(`/api/presets/${encodeURIComponent(workflow)}`);
  const body = response.ok ? await response.json() : { presets: [] };
  // Re-render only for news: a page re-drawn under a pressed button loses the click.
  if (wizard.workflow !== workflow || JSON.stringify(body.presets) === JSON.stringify(wizard.presets)) return;
  wizard.presets = body.presets;
  if (!wizard.presets.some((p) => p.name === wizard.presetChoice)) wizard.presetChoice = wizard.presets[0]?.name ?? "";
  hooks.rerender();
}

// A shifter changes only the presets they saved; an admin anyone's (the server says the same).
function mayChange(name) {
  const user = hooks.user();
  const preset = wizard.presets.find((p) => p.name === name);
  return user == null || user.mayAdmin || !preset || preset.savedBy === user.name;
}

function presetsRow() {
  if (wizard.presetsFor !== wizard.workflow) loadPresets();
  const options = wizard.presets.map((p) => html`<option value="${p.name}" ${p.name === wizard.presetChoice ? "selected" : ""}>${p.name}</option>`);
  const chosen = wizard.presets.length
    ? html`<select id="wz-preset" data-wz="presetChoice">${options}</select>
      <button class="btn" id="wz-preset-load" data-wz-preset="load">Load</button>
      ${mayChange(wizard.presetChoice) ? html`<button class="btn danger" id="wz-preset-delete" data-wz-preset="delete">Delete</button>` : ""}`
    : html`<span class="muted">none saved for this workflow</span>`;
  return html`<div class="wz-presets" id="wz-presets"><b>Presets</b> ${chosen}
    <input id="wz-preset-name" data-wz="presetName" value="${wizard.presetName}" placeholder="TPC physics">
    <button class="btn" id="wz-preset-save" data-wz-preset="save" ${mayChange(wizard.presetName) ? "" : raw('disabled title="saved by someone else: choose another name"')}>Save current values</button>
    <span id="wz-preset-result" class="muted">${wizard.presetResult}</span>${fieldError("preset")}</div>`;
}

function loadPreset(preset) {
  const known = new Set((wizard.offer?.detectors ?? []).filter((d) => !d.heldBy).map((d) => d.name));
  Object.assign(wizard.values, preset.values);
  wizard.detectors = new Set(preset.detectors.filter((d) => known.has(d)));
  wizard.errors = {};
  wizard.presetResult = `loaded ${preset.name} (saved by ${preset.savedBy || "?"})`;
}

async function presetAction(what) {
  const preset = wizard.presets.find((p) => p.name === wizard.presetChoice);
  if (what === "load") {
    if (preset) loadPreset(preset);
    return hooks.rerender();
  }
  const name = what === "save" ? wizard.presetName : wizard.presetChoice;
  const url = `/api/presets/${encodeURIComponent(wizard.workflow)}/${encodeURIComponent(name)}`;
  const body = what === "save" ? JSON.stringify({ vars: wizard.values, detectors: [...wizard.detectors] }) : undefined;
  const headers = { Authorization: `Bearer ${hooks.token()}`, "Content-Type": "application/json" };
  const response = await fetch(url, { method: what === "save" ? "PUT" : "DELETE", headers, body });
  const answer = await response.json().catch(() => ({}));
  const fields = answer.fields ?? {};
  wizard.errors = { ...fields, ...(fields.name ? { preset: fields.name } : {}) };
  wizard.presetResult = response.ok ? `${what === "save" ? "saved" : "deleted"} ${name}` : answer.error ?? `refused (${response.status})`;
  if (response.ok && what === "save") wizard.presetChoice = name;
  wizard.presetsFor = null; // reload the list
  hooks.rerender();
}

function current() {
  return wizard.offer?.workflows.find((w) => w.name === wizard.workflow);
}

function chooseWorkflow(name) {
  wizard.workflow = name;
  const wf = current();
  wizard.presets = [];
  wizard.values = Object.fromEntries(Object.entries(wf?.variables ?? {}).map(([k, v]) => [k, v.value]));
  wizard.errors = {};
}

// `$$var === "value"` is honoured; any other condition shows the field always.
export function isVisible(spec, values) {
  const match = VISIBLE_IF.exec(spec.visibleif || "");
  return !match || values[match[1]] === match[2];
}

function fieldError(key) {
  const message = wizard.errors[key];
  return message ? html`<div class="field-error" data-error="${key}">${message}</div>` : "";
}

function widget(key, spec) {
  const value = wizard.values[key] ?? "";
  const attrs = `id="wz-var-${esc(key)}" data-wz-var="${esc(key)}"`;
  if (spec.widget === "checkBox" || (spec.type === "bool" && !spec.widget)) {
    return raw(`<input type="checkbox" ${attrs}${value === "true" ? " checked" : ""}>`);
  }
  if (SELECTS.has(spec.widget) && spec.values.length) {
    const options = spec.values.map((v) => html`<option value="${v}" ${v === value ? "selected" : ""}>${v}</option>`);
    return raw(`<select ${attrs}>${html`${options}`}</select>`);
  }
  if (spec.rows > 1) return raw(`<textarea ${attrs} rows="${Number(spec.rows)}">${esc(value)}</textarea>`);
  const type = spec.type === "number" ? "number" : "text";
  return raw(`<input type="${type}" ${attrs} value="${esc(value)}"${type === "number" ? ' step="any"' : ""}>`);
}

// Panels in the order the workflow declares them first; fields in a panel by index, then name.
function panels(wf) {
  const groups = new Map();
  const entries = Object.entries(wf.variables).filter(([k]) => !PICKED.has(k));
  const panelOrder = [...new Set(entries.map(([, spec]) => spec.panel || "Variables"))];
  const rank = (spec) => panelOrder.indexOf(spec.panel || "Variables");
  entries.sort(([a, x], [b, y]) => rank(x) - rank(y) || (x.index ?? 0) - (y.index ?? 0) || a.localeCompare(b));
  for (const [key, spec] of entries) {
    if (!isVisible(spec, wizard.values)) continue;
    const panel = spec.panel || "Variables";
    if (!groups.has(panel)) groups.set(panel, []);
    groups.get(panel).push(html`<div class="wz-field" data-field="${key}">
      <label for="wz-var-${key}">${spec.label || key}</label> ${widget(key, spec)}
      ${spec.description ? html`<div class="muted small">${spec.description}</div>` : ""}${fieldError(key)}</div>`);
  }
  return [...groups].map(([panel, fields]) => html`<fieldset class="wz-panel" data-panel="${panel}"><legend>${panel}</legend>${fields}</fieldset>`);
}

function detectorPicker() {
  const items = (wizard.offer?.detectors ?? []).map((d) => {
    const held = d.heldBy ? html` <span class="held">held by <a href="#/environments/${d.heldBy}">${d.heldBy}</a></span>` : "";
    return html`<label class="wz-detector" data-detector="${d.name}" title="${d.hosts.join(", ")}">
      <input type="checkbox" data-wz-detector="${d.name}" ${wizard.detectors.has(d.name) ? "checked" : ""} ${d.heldBy ? "disabled" : ""}>
      <b>${d.name}</b> <span class="muted">${d.hosts.length} node${d.hosts.length === 1 ? "" : "s"}</span>${held}</label>`;
  });
  return html`<fieldset class="wz-panel"><legend>Detectors</legend>${items.length ? items : html`<span class="muted">no node has a detector attribute</span>`}${fieldError("detectors")}</fieldset>`;
}

// `#/new?workflow=NAME` deep-links a workflow; choosing one in the form rewrites the link.
export function renderWizard(params = new URLSearchParams()) {
  if (!wizard.offer) {
    loadOffer();
    return html`<section class="panel wizard"><h2>New environment</h2><p class="muted">loading workflows…</p></section>`;
  }
  const linked = params.get("workflow");
  if (linked && linked !== wizard.workflow && wizard.offer.workflows.some((w) => w.name === linked)) chooseWorkflow(linked);
  const wf = current();
  const options = wizard.offer.workflows.map(
    (w) => html`<option value="${w.name}" ${w.name === wizard.workflow ? "selected" : ""}>${w.name}${w.public ? "" : " (private)"}</option>`,
  );
  const source = wf?.gitsource
    ? html`<p class="wz-source muted">from GitSource <b>${wf.gitsource}</b>${wf.commit ? html` at commit <code>${wf.commit}</code>` : ""}</p>`
    : "";
  return html`<section class="panel wizard">
    <h2>New environment</h2>
    <div class="wz-field"><label for="wz-workflow">Workflow</label>
      <select id="wz-workflow" data-wz="workflow">${options}</select>${fieldError("workflow")}</div>
    <p class="wz-description">${wf?.description ?? ""}</p>${source}
    ${wf ? presetsRow() : ""}
    <div class="wz-field"><label for="wz-name">Name</label>
      <input id="wz-name" data-wz="name" value="${wizard.name}" placeholder="physics-1">${fieldError("name")}</div>
    ${detectorPicker()}
    ${wf ? panels(wf) : ""}
    <label class="wz-running"><input type="checkbox" id="wz-running" data-wz="running" ${wizard.running ? "checked" : ""}> go to RUNNING once created</label>${fieldError("state")}
    <div class="wz-actions"><button id="wz-create" class="btn" data-wz-create>Create environment</button>
      <span id="wz-result" class="${Object.keys(wizard.errors).length ? "field-error" : "muted"}">${wizard.result}</span></div>
  </section>`;
}

function onEdit(event) {
  const el = event.target;
  if (!(el instanceof HTMLElement) || !el.closest(".wizard")) return;
  if (el.dataset.wzVar) {
    wizard.values[el.dataset.wzVar] = el.type === "checkbox" ? String(el.checked) : el.value;
    if (event.type === "change") hooks.rerender(); // visibleif may change
  } else if (el.dataset.wzDetector && event.type === "change") {
    if (el.checked) wizard.detectors.add(el.dataset.wzDetector);
    else wizard.detectors.delete(el.dataset.wzDetector);
  } else if (el.dataset.wz === "workflow" && event.type === "change") {
    history.replaceState(null, "", `#/new?workflow=${encodeURIComponent(el.value)}`);
    chooseWorkflow(el.value);
    hooks.rerender();
  } else if (el.dataset.wz === "name") wizard.name = el.value.trim();
  else if (el.dataset.wz === "presetName" || el.dataset.wz === "presetChoice") {
    wizard[el.dataset.wz] = el.dataset.wz === "presetName" ? el.value.trim() : el.value;
    if (event.type === "change") hooks.rerender(); // Save and Delete follow who saved it
  }
  else if (el.dataset.wz === "running") wizard.running = el.checked;
}

async function onClick(event) {
  const preset = event.target.closest("[data-wz-preset]");
  if (preset) {
    event.preventDefault();
    return presetAction(preset.dataset.wzPreset);
  }
  if (!event.target.closest("[data-wz-create]")) return;
  event.preventDefault();
  const body = {
    name: wizard.name,
    workflow: wizard.workflow,
    vars: wizard.values,
    detectors: [...wizard.detectors],
    state: wizard.running ? "RUNNING" : "STANDBY",
  };
  const response = await fetch("/api/environments", {
    method: "POST",
    headers: { Authorization: `Bearer ${hooks.token()}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  wizard.errors = answer.fields ?? {};
  if (response.ok) {
    const name = answer.environment;
    Object.assign(wizard, { offer: null, name: "", workflow: "", detectors: new Set(), result: "" });
    hooks.done(`environment/${name} created by ${answer.who}`, name);
    return;
  }
  const fields = Object.keys(wizard.errors).length;
  wizard.result = fields ? `refused: ${fields} field${fields === 1 ? "" : "s"} to fix (shown in place)` : answer.error ?? `refused (${response.status})`;
  hooks.rerender();
}
