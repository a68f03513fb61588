// Table views: tasks (filtered, sorted, paginated for 10,000+ rows), GitSources (nodes: nodes.js).
import { ago, compareBy, html, raw, stateBadge, TASK_STATE_ORDER } from "./util.js";

const PAGE_SIZE = 100;
const TASK_COLUMNS = [
  ["name", "Name"], ["env", "Environment"], ["role", "Role"], ["state", "State"], ["phase", "Phase"],
  ["desired", "Desired"], ["node", "Node"], ["pid", "PID"], ["message", "Message"],
];

function matchesLabel(task, selector) {
  if (!selector) return true;
  return selector.split(",").every((pair) => {
    const [k, v] = pair.split("=").map((s) => s.trim());
    return v === undefined ? k in (task.labels ?? {}) : (task.labels ?? {})[k] === v;
  });
}

export function filterTasks(tasks, params) {
  const env = params.get("env") ?? "";
  const state = params.get("state") ?? "";
  const node = params.get("node") ?? "";
  const label = params.get("label") ?? "";
  const text = (params.get("q") ?? "").toLowerCase();
  return tasks.filter(
    (t) =>
      (!env || t.env === env) &&
      (!state || (t.state || t.phase) === state) &&
      (!node || t.node === node) &&
      matchesLabel(t, label) &&
      (!text || t.name.includes(text) || (t.role ?? "").includes(text)),
  );
}

function select(id, filter, current, options, all) {
  const opts = [html`<option value="">${all}</option>`, ...options.map((o) => html`<option value="${o}" ${raw(o === current ? "selected" : "")}>${o}</option>`)];
  return html`<select id="${id}" data-filter="${filter}">${opts}</select>`;
}

function sortHeader(key, label, params) {
  const active = params.get("sort") === key;
  const arrow = active ? (params.get("dir") === "desc" ? " ▼" : " ▲") : "";
  return html`<th data-sort="${key}" class="sortable ${active ? "sorted" : ""}">${label}${arrow}</th>`;
}

export function renderTasks(store, params) {
  const all = [...store.objects.tasks.values()];
  const envs = [...new Set(all.map((t) => t.env).filter(Boolean))].sort();
  const nodes = [...new Set(all.map((t) => t.node).filter(Boolean))].sort();
  const states = [...TASK_STATE_ORDER, "Pending", "Staging", "Failed", "Killed", "Lost", "Finished"];
  const rows = filterTasks(all, params);
  rows.sort(compareBy(params.get("sort") || "name", params.get("dir") || "asc"));
  const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
  const page = Math.min(pages, Math.max(1, Number(params.get("page") || 1)));
  const slice = rows.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE);
  const body = slice.map(
    (t) => html`<tr data-task="${t.name}">
      <td class="mono">${t.name}</td><td><a href="#/environments/${t.env}">${t.env}</a></td><td class="mono">${t.role}</td>
      <td data-field="state">${stateBadge(t.state || "—")}</td><td>${t.phase}</td><td class="muted">${t.desired}</td>
      <td>${t.node}</td><td class="num">${t.pid ?? ""}</td><td class="message">${t.message}</td></tr>`,
  );
  return html`<section>
    <div class="filters">
      ${select("f-env", "env", params.get("env") ?? "", envs, "all environments")}
      ${select("f-state", "state", params.get("state") ?? "", states, "all states")}
      ${select("f-node", "node", params.get("node") ?? "", nodes, "all nodes")}
      <input id="f-label" data-filter="label" placeholder="label k=v,…" value="${params.get("label") ?? ""}">
      <input id="f-q" data-filter="q" placeholder="name or role" value="${params.get("q") ?? ""}">
      <span class="muted" id="task-count">${rows.length} of ${all.length} tasks</span>
    </div>
    <table class="grid" id="tasks">
      <thead><tr>${TASK_COLUMNS.map(([k, l]) => sortHeader(k, l, params))}</tr></thead>
      <tbody>${body.length ? body : raw('<tr><td colspan="9" class="empty">No tasks match</td></tr>')}</tbody>
    </table>
    <div class="pager">
      <button class="btn" data-page="${Math.max(1, page - 1)}" ${raw(page <= 1 ? "disabled" : "")}>‹ prev</button>
      <span>page ${page} / ${pages}</span>
      <button class="btn" data-page="${Math.min(pages, page + 1)}" ${raw(page >= pages ? "disabled" : "")}>next ›</button>
    </div>
  </section>`;
}

export function renderGitSources(store) {
  const items = [...store.objects.gitsources.values()].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  const rows = items.map((g) => {
    const st = g.status ?? {};
    return html`<tr data-gitsource="${g.metadata.name}">
      <td class="name">${g.metadata.name}</td><td class="mono">${g.spec.url}</td><td>${g.spec.ref}</td><td class="mono">${(st.lastAppliedCommit ?? "").slice(0, 12)}</td>
      <td><span class="sync sync-${(st.sync ?? "Unknown").toLowerCase()}">${st.sync ?? "Unknown"}</span></td>
      <td><span class="health health-${(st.health ?? "Unknown").toLowerCase()}">${st.health ?? "Unknown"}</span></td>
      <td class="num">${st.inventoryCount ?? 0}</td><td class="num">${st.driftCount ?? 0}</td><td class="num">${ago(st.lastSyncTime)}</td>
      <td>${g.spec.suspend ? "suspended" : ""}</td><td class="message">${st.message}</td></tr>`;
  });
  return html`<section><table class="grid" id="gitsources">
    <thead><tr><th>Name</th><th>URL</th><th>Ref</th><th>Commit</th><th>Sync</th><th>Health</th><th>Objects</th><th>Drift</th><th>Synced</th><th></th><th>Message</th></tr></thead>
    <tbody>${rows.length ? rows : raw('<tr><td colspan="11" class="empty">No GitSources</td></tr>')}</tbody></table></section>`;
}
