// Live changes on an environment's page: include/exclude a detector, change a public variable,
// scale a role. Each asks the server for the diff it would write (preview), shows it, and
// writes only on Confirm, at the resourceVersion the diff was computed from.
import { html } from "./util.js";

export const live = {
  env: "",
  offer: null, // GET /api/live/{env}
  loading: false,
  failedAt: -1, // the environment's resourceVersion when the offer last failed: no retry loop

  varKey: "",
  varValue: "",
  reconfigure: "",
  replicas: {}, // role -> text
  pending: null, // the change body the preview is for
  preview: null, // {diff, resourceVersion, warnings, changed}
  errors: {},
  result: "",
};

let hooks = { rerender: () => {}, token: () => "", toast: () => {} };

export function initLive(given) {
  hooks = given;
  document.addEventListener("click", onClick);
  document.addEventListener("input", onEdit);
  document.addEventListener("change", onEdit);
}

function reset(name) {
  Object.assign(live, { env: name, offer: null, failedAt: -1, seen: 0, varKey: "", varValue: "", reconfigure: "", replicas: {} });
  Object.assign(live, { pending: null, preview: null, errors: {}, result: "" });
}

async function loadOffer() {
  if (live.loading) return;
  live.loading = true;
  try {
    const response = await fetch(`/api/live/${encodeURIComponent(live.env)}`);
    live.offer = response.ok ? await response.json() : null;
    if (!response.ok) live.failedAt = live.seen;
    if (live.offer && !live.varKey) live.varKey = Object.keys(live.offer.variables).sort()[0] ?? "";
    if (live.offer && !(live.varKey in live.offer.variables)) live.varKey = "";
    if (live.offer) live.varValue = live.offer.variables[live.varKey]?.value ?? "";
  } finally {
    live.loading = false;
    hooks.rerender();
  }
}

function fieldError(...keys) {
  const found = keys.filter((k) => live.errors[k]);
  return found.map((k) => html`<div class="field-error" data-error="${k}">${live.errors[k]}</div>`);
}

function detectorsRow(offer) {
  const mine = new Set(offer.detectors);
  const items = offer.inventory.map((d) => {
    if (mine.has(d.name)) return html`<button class="btn" data-live-exclude="${d.name}">Exclude ${d.name}</button>`;
    if (d.heldBy && d.heldBy !== live.env) return html`<span class="muted" data-live-held="${d.name}">${d.name} held by ${d.heldBy}</span>`;
    return html`<button class="btn" data-live-include="${d.name}">Include ${d.name}</button>`;
  });
  return html`<div class="live-row" id="live-detectors"><b>Detectors</b> <span class="mono">${offer.detectors.join(", ") || "none"}</span> ${items}${fieldError("detectors")}</div>`;
}

function variableRow(offer) {
  const keys = Object.keys(offer.variables).sort();
  if (!keys.length) return html`<div class="live-row muted">the workflow declares no public variables</div>`;
  const options = keys.map((k) => html`<option value="${k}" ${k === live.varKey ? "selected" : ""}>${offer.variables[k].label || k}</option>`);
  const when = offer.reconfigureChoices.map((c) => html`<option value="${c}" ${c === (live.reconfigure || offer.reconfigure) ? "selected" : ""}>${c === "Now" ? "reconfigure now" : "at the next run"}</option>`);
  return html`<div class="live-row"><b>Variable</b>
    <select id="live-var-key" data-live-field="varKey">${options}</select>
    <input id="live-var-value" data-live-field="varValue" value="${live.varValue}">
    <select id="live-reconfigure" data-live-field="reconfigure">${when}</select>
    <button class="btn" id="live-var-preview" data-live-vars>Preview</button>${fieldError(live.varKey, "set", "reconfigure")}</div>`;
}

function scaleRow(offer) {
  if (!offer.scalable.length) {
    return html`<div class="live-row muted" id="live-scale-none">no role of this workflow scales (a role scales when its replicas is one variable, <code>{{ qc_replicas }}</code>)</div>`;
  }
  const roles = offer.scalable.map((r) => {
    const value = live.replicas[r.role] ?? r.replicas ?? "1";
    return html`<span class="live-scale"><span class="mono">${r.role}</span> × <input type="number" min="0" id="live-scale-${r.role}" data-live-replicas="${r.role}" value="${value}">
      <button class="btn" data-live-scale="${r.role}">Preview</button></span>`;
  });
  return html`<div class="live-row"><b>Scale</b> ${roles}${fieldError("role", "replicas")}</div>`;
}

function previewBox() {
  const p = live.preview;
  if (!p) return "";
  const warnings = p.warnings.map((w) => html`<div class="muted">warning: ${w}</div>`);
  if (!p.changed) return html`<div class="live-preview" id="live-preview"><span class="muted">no change to write</span>${warnings}</div>`;
  return html`<div class="live-preview" id="live-preview"><pre id="live-diff" class="diff">${p.diff}</pre>${warnings}
    <button class="btn danger" id="live-confirm" data-live-confirm>Confirm and write</button>
    <button class="btn" id="live-cancel" data-live-cancel>Cancel</button></div>`;
}

export function renderLive(store, name) {
  if (!store.info.actions) return "";
  if (live.env !== name) reset(name);
  const seen = Number(store.objects.environments.get(name)?.metadata?.resourceVersion ?? 0);
  live.seen = seen;
  if (!live.offer) {
    if (live.failedAt === seen) return ""; // nothing to offer (e.g. no such workflow) until it changes
    loadOffer();
    return html`<div class="panel live" id="live"><h2>Live changes</h2><p class="muted">loading…</p></div>`;
  }
  const offer = live.offer;
  if (seen > offer.resourceVersion) loadOffer(); // changed elsewhere: offer what it is now
  const other = Object.keys(live.errors).filter((k) => !["detectors", "role", "replicas", "set", "reconfigure", live.varKey].includes(k));
  return html`<div class="panel live" id="live"><h2>Live changes</h2>
    ${detectorsRow(offer)}${variableRow(offer)}${scaleRow(offer)}${fieldError(...other)}
    ${previewBox()}<div id="live-result" class="${Object.keys(live.errors).length ? "field-error" : "muted"}">${live.result}</div></div>`;
}

async function send(path, body) {
  const response = await fetch(`/api/live/${encodeURIComponent(live.env)}${path}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${hooks.token()}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return { response, answer: await response.json().catch(() => ({})) };
}

async function askPreview(body, note = "") {
  const { response, answer } = await send("/preview", body);
  live.errors = answer.fields ?? {};
  if (response.ok) Object.assign(live, { pending: body, preview: answer, result: note });
  else Object.assign(live, { pending: null, preview: null, result: answer.error ?? `refused (${response.status})` });
  hooks.rerender();
}

async function confirm() {
  const body = { ...live.pending, resourceVersion: live.preview.resourceVersion };
  const { response, answer } = await send("", body);
  if (response.status === 409) return askPreview(live.pending, "changed meanwhile, review again");
  live.errors = answer.fields ?? {};
  if (!response.ok) {
    live.result = answer.error ?? `refused (${response.status})`;
    return hooks.rerender();
  }
  Object.assign(live, { pending: null, preview: null, offer: null, result: `environment/${live.env} changed by ${answer.who}` });
  hooks.toast(live.result);
  hooks.rerender();
}

function changeFor(target) {
  const reconfigure = live.reconfigure ? { reconfigure: live.reconfigure } : {};
  if (target.dataset.liveExclude) return { change: "detectors", remove: [target.dataset.liveExclude] };
  if (target.dataset.liveInclude) return { change: "detectors", add: [target.dataset.liveInclude] };
  if (target.dataset.liveScale) {
    const role = target.dataset.liveScale;
    const text = live.replicas[role] ?? live.offer.scalable.find((r) => r.role === role)?.replicas ?? "1";
    return { change: "scale", role, replicas: Number.isInteger(Number(text)) && text !== "" ? Number(text) : text };
  }
  return { change: "vars", set: { [live.varKey]: live.varValue }, ...reconfigure };
}

function onClick(event) {
  const target = event.target.closest("[data-live-exclude],[data-live-include],[data-live-scale],[data-live-vars],[data-live-confirm],[data-live-cancel]");
  if (!target || !target.closest("#live")) return;
  event.preventDefault();
  if (target.dataset.liveConfirm != null) return confirm();
  if (target.dataset.liveCancel != null) {
    Object.assign(live, { pending: null, preview: null, result: "" });
    return hooks.rerender();
  }
  askPreview(changeFor(target));
}

function onEdit(event) {
  const el = event.target;
  if (!(el instanceof HTMLElement) || !el.closest("#live")) return;
  if (el.dataset.liveReplicas) live.replicas[el.dataset.liveReplicas] = el.value;
  else if (el.dataset.liveField === "varKey" && event.type === "change") {
    live.varKey = el.value;
    live.varValue = live.offer.variables[el.value]?.value ?? "";
    hooks.rerender();
  } else if (el.dataset.liveField) live[el.dataset.liveField] = el.value;
}
