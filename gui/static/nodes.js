// The Nodes page (#/nodes) and a node's detail (#/nodes/NAME): live from the feed; actions
// (cordon, uncordon, drain, sync/async mode) go through POST /api/nodes/NAME/ACTION after a
// confirmation, as `o2 cordon|uncordon|drain` and `o2 node mode` write the same Node spec.
import { ago, bar, html, raw, stateBadge } from "./util.js";

const ACTION_TEXT = {
  cordon: "CORDON node {n}? No new task will be placed on it; running tasks stay.",
  uncordon: "UNCORDON node {n}? New tasks may be placed on it again.",
  drain:
    "DRAIN node {n}? It is cordoned; tasks of environments stay until their environment releases them, a pilot is drained by the pilot controller.",
  sync: "Switch node {n} to SYNC mode? Its pilot (if any) is drained and environments may use it.",
  async: "Switch node {n} to ASYNC mode? A pilot job will run there until the node is reclaimed.",
};

let hooks = { token: () => "", confirm: async () => false, toast: () => {}, user: () => null };

export function initNodes(given) {
  hooks = { ...hooks, ...given };
}

// Pilot status as `o2 get nodes` prints it: draining, back-off (k pilots ended, next not before),
// or the running pilot's name.
export function pilotText(node) {
  const st = node.status ?? {};
  const drain = st.drain;
  const backoff = st.backoff;
  if (drain && !drain.finishedAt) return `${drain.pilot} (draining)`;
  if (backoff?.failures) {
    if (!st.pilot && backoff.notBefore) return `back-off: ${backoff.failures}× ended, next after ${backoff.notBefore.slice(11, 19)}Z`;
    if (st.pilot) return `${st.pilot} (ended ${backoff.failures}×)`;
  }
  return st.pilot ?? "";
}

function modeText(node) {
  const reclaim = node.status?.reclaim;
  const mode = node.spec?.mode ?? "sync";
  return reclaim ? `${mode} (reclaimed by ${reclaim.environment})` : mode;
}

// Node operations are the admins' (a shifter runs environments, not the machines).
function mayAct(store) {
  const user = hooks.user();
  return store.info.actions && (user == null || user.mayAdmin);
}

function buttons(store, node) {
  if (!mayAct(store)) return "";
  const name = node.metadata.name;
  const cordoned = node.spec?.unschedulable;
  const mode = node.spec?.mode ?? "sync";
  const one = (action, label, danger = false) =>
    html`<button class="btn ${danger ? "danger" : ""}" data-node-action="${action}" data-node="${name}">${label}</button>`;
  return html`<span class="node-actions">${cordoned ? one("uncordon", "Uncordon") : one("cordon", "Cordon")}
    ${one("drain", "Drain", true)}${mode === "sync" ? one("async", "→ async") : one("sync", "→ sync")}</span>`;
}

function tasksOn(store, node) {
  const host = node.status?.hostname || node.metadata.name;
  return [...store.objects.tasks.values()].filter((t) => t.node === host);
}

function row(store, n) {
  const st = n.status ?? {};
  const total = st.resources?.total ?? {};
  const used = st.resources?.allocated ?? {};
  const attrs = Object.entries(st.attributes ?? {}).map(([k, v]) => html`<span class="tag">${k}=${v}</span>`);
  const name = n.metadata.name;
  return html`<tr data-node="${name}" data-href="#/nodes/${encodeURIComponent(name)}">
    <td class="name"><a href="#/nodes/${encodeURIComponent(name)}">${name}</a></td>
    <td class="muted">${st.hostname}</td>
    <td><span class="flag ${st.ready ? "ok" : "bad"}">${st.ready ? "READY" : "NOT READY"}</span></td>
    <td data-field="cordoned">${n.spec?.unschedulable ? raw('<span class="flag warn">CORDONED</span>') : ""}</td>
    <td data-field="mode"><span class="flag mode">${modeText(n)}</span></td>
    <td>${bar(used.cpus ?? 0, total.cpus ?? 0, { label: `${(used.cpus ?? 0).toFixed(1)} / ${total.cpus ?? 0} CPU` })}</td>
    <td>${bar(used.memory ?? 0, total.memory ?? 0, { label: `${used.memory ?? 0} / ${total.memory ?? 0} MB` })}</td>
    <td class="num"><a href="#/tasks?node=${encodeURIComponent(st.hostname ?? "")}">${st.tasks ?? 0}</a></td>
    <td data-field="pilot">${pilotText(n)}</td>
    <td class="attrs">${attrs}</td>
    <td>${buttons(store, n)}</td></tr>`;
}

export function renderNodes(store) {
  const nodes = [...store.objects.nodes.values()].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  const rows = nodes.map((n) => row(store, n));
  return html`<section><table class="grid small" id="nodes">
    <thead><tr><th>Name</th><th>Host</th><th>Ready</th><th>Cordoned</th><th>Mode</th><th>CPU</th><th>Memory</th><th>Tasks</th><th>Pilot</th><th>Attributes</th><th></th></tr></thead>
    <tbody>${rows.length ? rows : raw('<tr><td colspan="11" class="empty">No nodes</td></tr>')}</tbody></table></section>`;
}

export function renderNode(store, name) {
  const node = store.objects.nodes.get(name);
  if (!node) return html`<section><p class="empty">node/${name} is not (or no longer) known. <a href="#/nodes">All nodes</a></p></section>`;
  const st = node.status ?? {};
  const tasks = tasksOn(store, node).sort((a, b) => a.name.localeCompare(b.name));
  const body = tasks.map(
    (t) => html`<tr data-task="${t.name}"><td class="mono">${t.name}</td>
      <td>${t.env ? html`<a href="#/environments/${encodeURIComponent(t.env)}">${t.env}</a>` : raw('<span class="muted">standalone</span>')}</td>
      <td class="mono">${t.role}</td><td>${stateBadge(t.state || t.phase)}</td><td class="num">${t.pid ?? ""}</td><td class="message">${t.message}</td></tr>`,
  );
  const backoff = st.backoff?.failures
    ? html`<div>Back-off: ${st.backoff.failures} pilots ended in a row (last ${st.backoff.phase} ${st.backoff.detail}); next not before ${st.backoff.notBefore ?? "—"}</div>`
    : "";
  const drain = st.drain ? html`<div>Last drain: ${st.drain.pilot} (${st.drain.reason}) ${st.drain.finishedAt ? `took ${st.drain.seconds?.toFixed(1)} s` : "in progress"}</div>` : "";
  const standalone = mayAct(store)
    ? html`<label class="muted"><input type="checkbox" id="drain-standalone"> drain also deletes standalone tasks</label>`
    : "";
  return html`<section class="detail node-detail" data-node-detail="${name}">
    <div class="detail-head"><h1>${name}</h1><span class="muted">${st.hostname}</span>
      <span class="flag ${st.ready ? "ok" : "bad"}">${st.ready ? "READY" : "NOT READY"}</span>
      ${node.spec?.unschedulable ? raw('<span class="flag warn">CORDONED</span>') : ""}
      <span class="flag mode">${modeText(node)}</span>${buttons(store, node)} ${standalone}</div>
    <div class="muted">agent ${st.agentId ?? "—"} · seen ${ago(st.lastSeen)} ago · pilot ${pilotText(node) || "—"}</div>
    ${backoff}${drain}
    <div class="attrs">${Object.entries(st.attributes ?? {}).map(([k, v]) => html`<span class="tag">${k}=${v}</span>`)}</div>
    <h2>${tasks.length} tasks</h2>
    <table class="grid small" id="node-tasks"><thead><tr><th>Task</th><th>Environment</th><th>Role</th><th>State</th><th>PID</th><th>Message</th></tr></thead>
    <tbody>${body.length ? body : raw('<tr><td colspan="6" class="empty">No tasks on this node</td></tr>')}</tbody></table>
  </section>`;
}

// A click on [data-node-action]: confirm, then POST; the result (and refusals) as a toast.
export async function nodeAction(name, action) {
  const ok = await hooks.confirm(ACTION_TEXT[action].replace("{n}", name));
  if (!ok) return;
  const deleteStandalone = action === "drain" && document.getElementById("drain-standalone")?.checked === true;
  const response = await fetch(`/api/nodes/${encodeURIComponent(name)}/${action}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${hooks.token()}`, "Content-Type": "application/json" },
    body: JSON.stringify({ deleteStandalone }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    hooks.toast(`${action.toUpperCase()} refused: ${body.error ?? response.status}`, { error: true });
    return;
  }
  const extra = action === "drain" ? ` (${body.steps.length} tasks, ${body.deleted.length} deleted)` : "";
  hooks.toast(`${action.toUpperCase()} node ${name} by ${body.who}${extra}`);
}
