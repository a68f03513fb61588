// Who did what (#/audit?user=&object=): the GUI's audit Events (GET /api/audit), newest first.
// Events expire after an hour; the run log keeps who started and stopped each run.
import { html } from "./util.js";

export const audit = { key: null, loading: false, entries: [], error: "" };

let rerender = () => {};

export function initAudit(hook) {
  rerender = hook;
}

// Reload when the filter changes or a new audit Event reaches the feed.
function signature(store) {
  let count = 0;
  for (const e of store.objects.events.values()) if ((e.spec?.reason ?? e.reason) === "UserAction") count++;
  return count;
}

async function load(key, query) {
  audit.loading = true;
  try {
    const response = await fetch(`/api/audit?${query}`);
    const body = await response.json().catch(() => ({}));
    audit.entries = response.ok ? body.entries ?? [] : [];
    audit.error = response.ok ? "" : body.error ?? `HTTP ${response.status}`;
  } catch (error) {
    audit.error = String(error);
  } finally {
    audit.loading = false;
    audit.key = key;
    rerender();
  }
}

function link(object) {
  const [kind, name] = object.split("/");
  const view = { environment: "environments", node: "nodes" }[kind];
  return view ? html`<a href="#/${view}/${encodeURIComponent(name)}">${object}</a>` : object;
}

export function renderAudit(store, params) {
  const user = params.get("user") ?? "";
  const object = params.get("object") ?? "";
  const query = new URLSearchParams();
  if (user) query.set("user", user);
  if (object) query.set("object", object);
  const key = `${query}|${signature(store)}`;
  if (key !== audit.key && !audit.loading) load(key, query);
  const rows = audit.entries.map(
    (e) => html`<tr data-audit="${e.event}"><td class="mono">${(e.time ?? "").replace("T", " ").slice(0, 19)}</td>
      <td data-field="user"><a href="#/audit?user=${encodeURIComponent(e.user)}">${e.user}</a></td>
      <td data-field="object">${link(e.object)}</td><td class="message">${e.message}</td></tr>`,
  );
  const empty = audit.error
    ? html`<tr><td colspan="4" class="empty">Cannot read the audit Events: ${audit.error}</td></tr>`
    : html`<tr><td colspan="4" class="empty">${audit.key === null ? "Loading…" : "No actions in the last hour"}</td></tr>`;
  return html`<section class="audit">
    <div class="filters">
      <input id="audit-user" data-filter="user" placeholder="user" value="${user}">
      <input id="audit-object" data-filter="object" placeholder="object: node/flp1 or a name part" value="${object}">
      <span class="muted">${audit.entries.length} actions, newest first (Events are kept one hour)</span>
    </div>
    <table class="grid small" id="audit">
      <thead><tr><th>Time (UTC)</th><th>User</th><th>Object</th><th>What</th></tr></thead>
      <tbody>${rows.length ? rows : empty}</tbody>
    </table>
  </section>`;
}
