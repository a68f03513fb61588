// Environment views: the overview grid and the detail page (role tree, conditions, events, history).
import { renderLive } from "./live.js";
import { ago, bar, duration, esc, html, raw, stateBadge, TASK_STATE_ORDER } from "./util.js";

// The task state that counts as "ready" for an environment's desired state.
const TASK_STATE_FOR = { STANDBY: "STANDBY", DEPLOYED: "STANDBY", CONFIGURED: "CONFIGURED", RUNNING: "RUNNING", DONE: "DONE" };

function enteredAt(env) {
  const history = env.status?.history ?? [];
  const last = history[history.length - 1];
  return last?.finishedAt ?? env.metadata.creationTimestamp;
}

function countsCell(status) {
  const counts = status?.taskCounts ?? {};
  const parts = TASK_STATE_ORDER.filter((s) => counts[s]).map(
    (s) => `<span class="count st-${s.toLowerCase()}" title="${s}">${counts[s]}</span>`,
  );
  return raw(parts.join("") || '<span class="muted">—</span>');
}

function progress(env) {
  const t = env.status?.transition;
  if (!t) return raw('<span class="muted">—</span>');
  const total = env.status.taskTotal || 0;
  const target = { START_ACTIVITY: "RUNNING", STOP_ACTIVITY: "CONFIGURED", CONFIGURE: "CONFIGURED", RESET: "STANDBY", DEPLOY: "STANDBY", EXIT: "DONE" }[t.event];
  const done = target ? env.status.taskCounts?.[target] ?? 0 : 0;
  return raw(
    `<div class="transition"><span class="tr-event">${esc(t.event)}</span> <span class="muted">${ago(t.startedAt)}</span>` +
      bar(done, total, { label: `${done}/${total} ${t.step || ""}` }) + "</div>",
  );
}

export function renderEnvironments(store) {
  const envs = [...store.objects.environments.values()].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  const rows = envs.map((env) => {
    const st = env.status ?? {};
    const wanted = TASK_STATE_FOR[env.spec.state] ?? env.spec.state;
    const ready = st.taskCounts?.[wanted] ?? 0;
    return html`<tr class="row-link" data-env="${env.metadata.name}" data-href="#/environments/${env.metadata.name}">
      <td class="name"><a href="#/environments/${env.metadata.name}">${env.metadata.name}</a></td>
      <td data-field="state">${stateBadge(st.state ?? "STANDBY")}</td>
      <td data-field="desired" class="desired">${env.spec.state}</td>
      <td data-field="run" class="run">${st.runNumber ?? ""}</td>
      <td>${env.spec.workflow}</td>
      <td class="num">${ready}/${st.taskTotal ?? 0}</td>
      <td>${countsCell(st)}</td>
      <td class="num">${ago(enteredAt(env))}</td>
      <td class="progress-cell">${progress(env)}</td>
      <td class="message">${st.message ?? ""}</td>
    </tr>`;
  });
  const totals = {};
  for (const env of envs) totals[env.status?.state ?? "STANDBY"] = (totals[env.status?.state ?? "STANDBY"] ?? 0) + 1;
  const summary = Object.entries(totals).map(([s, n]) => html`<div class="tile"><div class="tile-n">${n}</div>${stateBadge(s)}</div>`);
  return html`<section>
    <div class="tiles">
      <div class="tile"><div class="tile-n">${envs.length}</div><span class="muted">environments</span></div>
      ${summary}
      <div class="tile"><div class="tile-n">${store.objects.tasks.size}</div><span class="muted">tasks</span></div>
      <div class="tile"><div class="tile-n">${store.objects.nodes.size}</div><span class="muted">nodes</span></div>
    </div>
    <table class="grid" id="environments">
      <thead><tr><th>Name</th><th>State</th><th>Desired</th><th>Run</th><th>Workflow</th><th>Ready</th><th>Tasks by state</th><th>In state</th><th>Transition</th><th>Message</th></tr></thead>
      <tbody>${raw(rows.join("") || '<tr><td colspan="10" class="empty">No environments</td></tr>')}</tbody>
    </table>
  </section>`;
}

// ---- detail -----------------------------------------------------------------------------

const roleCache = { version: -1, env: "", tree: null };

function roleTree(store, name) {
  if (roleCache.version === store.version && roleCache.env === name) return roleCache.tree;
  const root = { children: new Map(), tasks: [] };
  for (const task of store.objects.tasks.values()) {
    if (task.env !== name) continue;
    let node = root;
    for (const part of (task.role || "(no role)").split(".")) {
      if (!node.children.has(part)) node.children.set(part, { children: new Map(), tasks: [] });
      node = node.children.get(part);
    }
    node.tasks.push(task);
  }
  Object.assign(roleCache, { version: store.version, env: name, tree: root });
  return root;
}

const TREE_TASK_LIMIT = 50;

function renderNode(label, node, depth, path = "") {
  const taskRows = node.tasks.slice(0, TREE_TASK_LIMIT).map(
    (t) => html`<li class="task-leaf" data-task="${t.name}">${stateBadge(t.state || t.phase)}
      <span class="mono">${t.name}</span> <span class="muted">${t.node || "unplaced"}</span>
      <span class="muted">pid ${t.pid ?? "—"}</span>${t.critical === false ? raw(' <span class="tag">non-critical</span>') : ""}</li>`,
  );
  if (node.tasks.length > TREE_TASK_LIMIT) taskRows.push(html`<li class="muted">… ${node.tasks.length - TREE_TASK_LIMIT} more in the tasks view</li>`);
  const kids = [...node.children.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, child]) => renderNode(k, child, depth + 1, path ? `${path}.${k}` : k));
  const counts = {};
  countTasks(node, counts);
  const summary = Object.entries(counts).map(([s, n]) => `<span class="count st-${s.toLowerCase()}">${n}</span>`).join("");
  const body = raw(taskRows.join("") + kids.join(""));
  if (depth === 0) return html`<ul class="tree">${body}</ul>`;
  return html`<li><details data-key="${path}" ${raw(depth < 3 ? "open" : "")}><summary><span class="role">${label}</span> ${raw(summary)}</summary><ul>${body}</ul></details></li>`;
}

function countTasks(node, counts) {
  for (const t of node.tasks) counts[t.state || t.phase] = (counts[t.state || t.phase] ?? 0) + 1;
  for (const child of node.children.values()) countTasks(child, counts);
}

function actionButtons(store, name) {
  if (!store.info.actions) return html`<div class="actions muted">read-only (server started without tokens)</div>`;
  const buttons = ["deploy", "configure", "start", "stop", "reset", "recover", "exit"].map(
    (a) => html`<button class="btn ${["stop", "exit"].includes(a) ? "danger" : ""}" data-action="${a}" data-env="${name}" id="action-${a}">${a.toUpperCase()}</button>`,
  );
  return html`<div class="actions">${buttons}</div>`;
}

function conditions(status) {
  const rows = (status?.conditions ?? []).map(
    (c) => html`<tr><td>${c.type}</td><td class="cond-${c.status.toLowerCase()}">${c.status}</td><td>${c.reason}</td><td>${c.message}</td><td class="num">${ago(c.lastTransitionTime)}</td></tr>`,
  );
  return raw(rows.join("") || '<tr><td colspan="5" class="empty">No conditions</td></tr>');
}

function history(status) {
  const rows = [...(status?.history ?? [])].reverse().map(
    (h) => html`<tr><td>${h.event}</td><td>${h.fromState} → ${h.toState}</td><td class="res-${(h.result || "").toLowerCase()}">${h.result}</td>
      <td class="num">${h.durationSeconds != null ? `${h.durationSeconds.toFixed(2)}s` : ""}</td><td class="num">${h.runNumber ?? ""}</td>
      <td class="num">${h.finishedAt ? new Date(h.finishedAt).toISOString().slice(11, 19) : ""}</td><td>${h.message}</td></tr>`,
  );
  return raw(rows.join("") || '<tr><td colspan="7" class="empty">No transitions yet</td></tr>');
}

function events(store, name) {
  const items = [...store.objects.events.values()]
    .filter((e) => e.spec.involvedObject.kind === "Environment" && e.spec.involvedObject.name === name)
    .sort((a, b) => Date.parse(b.spec.lastTimestamp ?? 0) - Date.parse(a.spec.lastTimestamp ?? 0))
    .slice(0, 100);
  const rows = items.map(
    (e) => html`<li class="ev ev-${e.spec.type.toLowerCase()}" data-event="${e.metadata.name}"><span class="ev-time">${e.spec.lastTimestamp ? new Date(e.spec.lastTimestamp).toISOString().slice(11, 19) : ""}</span>
      <span class="ev-reason">${e.spec.reason}</span> <span>${e.spec.message}</span>${e.spec.count > 1 ? html` <span class="tag">×${e.spec.count}</span>` : ""} <span class="muted">${e.spec.source}</span></li>`,
  );
  return raw(rows.join("") || '<li class="empty">No events</li>');
}

export function renderEnvironment(store, name) {
  const env = store.objects.environments.get(name);
  if (!env) return html`<section><a href="#/environments">← environments</a><p class="empty">environment/${name} not found (yet)</p></section>`;
  const st = env.status ?? {};
  const tree = renderNode("", roleTree(store, name), 0);
  const vars = Object.entries(env.spec.vars ?? {}).map(([k, v]) => html`<span class="tag">${k}=${v}</span>`);
  return html`<section class="detail" data-env="${name}">
    <div class="detail-head">
      <a href="#/environments" class="back">←</a>
      <h1>${name}</h1>
      <span data-field="state" class="big-state">${stateBadge(st.state ?? "STANDBY")}</span>
      <div class="kv"><span>desired</span><b data-field="desired">${env.spec.state}</b></div>
      <div class="kv"><span>run</span><b data-field="run">${st.runNumber ?? "—"}</b></div>
      <div class="kv"><span>last run</span><b>${st.lastRunNumber ?? "—"}</b></div>
      <div class="kv"><span>in state</span><b>${ago(enteredAt(env))}</b></div>
      <div class="kv"><span>workflow</span><b>${env.spec.workflow}</b></div>
      <div class="kv"><span>run type</span><b>${env.spec.runType}</b></div>
      ${actionButtons(store, name)}
    </div>
    ${st.transition ? html`<div class="transition-wide">${progress(env)}</div>` : ""}
    <div class="vars">${vars} ${st.message ? html`<span class="message">${st.message}</span>` : ""}</div>
    ${renderLive(store, name)}
    <div class="columns">
      <div class="panel"><h2>Roles <a class="small" href="#/tasks?env=${name}">all ${st.taskTotal ?? 0} tasks →</a></h2>${raw(tree)}</div>
      <div class="panel">
        <h2>Conditions</h2>
        <table class="grid small"><thead><tr><th>Type</th><th>Status</th><th>Reason</th><th>Message</th><th>Age</th></tr></thead><tbody>${conditions(st)}</tbody></table>
        <h2>Transitions</h2>
        <table class="grid small"><thead><tr><th>Event</th><th>States</th><th>Result</th><th>Took</th><th>Run</th><th>At</th><th>Message</th></tr></thead><tbody>${history(st)}</tbody></table>
        <h2>Events</h2>
        <ul class="timeline">${events(store, name)}</ul>
      </div>
    </div>
  </section>`;
}

export { duration };
