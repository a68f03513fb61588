// The o2 GUI: live state from the server's SSE feed, hash routing, rendering, actions.
import { initAudit, renderAudit } from "./audit.js";
import { renderEnvironments, renderEnvironment } from "./environments.js";
import { initNodes, nodeAction, renderNode, renderNodes } from "./nodes.js";
import { initLive } from "./live.js";
import { initRuns, renderRuns, sampleTasks } from "./runs.js";
import { renderTasks, renderGitSources } from "./tables.js";
import { since } from "./util.js";
import { afterRender, initUx, updateBanner } from "./ux.js";
import { initWizard, renderWizard } from "./wizard.js";

const PLURALS = ["environments", "tasks", "nodes", "gitsources", "events"];

export const store = {
  objects: Object.fromEntries(PLURALS.map((p) => [p, new Map()])),
  revision: 0,
  seq: 0,
  live: false,
  info: { actions: false, confirm: ["stop", "exit"] },
  version: 0, // bumped on every change: views cache derived indexes on it
  user: null, // whoami: { name, role, mayAct, mayAdmin } of the token or the SSO header, once known
};

function nameOf(obj) {
  return obj.name ?? obj.metadata.name;
}

function applySnapshot(msg) {
  for (const plural of PLURALS) store.objects[plural] = new Map();
  for (const [plural, items] of Object.entries(msg.objects)) {
    const map = new Map();
    for (const item of items) map.set(nameOf(item), item);
    store.objects[plural] = map;
  }
  store.revision = msg.revision;
  store.seq = msg.seq;
  store.version++;
}

function applyDelta(msg) {
  for (const change of msg.changes) {
    const map = store.objects[change.kind] ?? (store.objects[change.kind] = new Map());
    if (change.op === "put") map.set(nameOf(change.obj), change.obj);
    else map.delete(change.name);
  }
  store.revision = msg.revision;
  store.seq = msg.seq;
  store.version++;
}

function connect() {
  const source = new EventSource("/api/stream");
  source.addEventListener("snapshot", (e) => {
    applySnapshot(JSON.parse(e.data));
    setLive(true);
    scheduleRender();
  });
  source.addEventListener("delta", (e) => {
    applyDelta(JSON.parse(e.data));
    scheduleRender();
  });
  source.onerror = () => setLive(false); // EventSource reconnects by itself, with Last-Event-ID
  window.o2feed = source;
}

function setLive(live) {
  store.live = live;
  const el = document.getElementById("conn");
  el.textContent = live ? `LIVE · rev ${store.revision}` : "RECONNECTING";
  el.className = `conn ${live ? "conn-up" : "conn-down"}`;
  updateBanner(store);
}

// ---- routing ----------------------------------------------------------------------------

export function parseRoute(hash = location.hash) {
  const [path, query = ""] = hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { view: parts[0] || "environments", name: parts[1], params: new URLSearchParams(query) };
}

export function navigate(view, params) {
  const query = new URLSearchParams([...params].filter(([, v]) => v !== "" && v != null));
  const text = query.toString();
  const target = `#/${view}${text ? `?${text}` : ""}`;
  if (location.hash !== target) history.replaceState(null, "", target);
  scheduleRender();
}

const VIEWS = {
  environments: (route) => (route.name ? renderEnvironment(store, route.name) : renderEnvironments(store)),
  tasks: (route) => renderTasks(store, route.params),
  nodes: (route) => (route.name ? renderNode(store, route.name) : renderNodes(store)),
  audit: (route) => renderAudit(store, route.params),
  gitsources: () => renderGitSources(store),
  new: (route) => renderWizard(route.params),
  runs: (route) => renderRuns(store, route.params),
};

let pending = false;
let rendered = { version: -1, hash: null, info: null };

export function scheduleRender() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    render();
  });
}

// A render replaces the view's elements: one landing between a button's press and release would
// swallow the click, so while a pointer is down the render waits for its release.
let pressed = false;

function render() {
  if (pressed) return;
  if (rendered.version === store.version && rendered.hash === location.hash && rendered.info === store.info) return;
  rendered = { version: store.version, hash: location.hash, info: store.info };
  const route = parseRoute();
  const view = VIEWS[route.view] ?? VIEWS.environments;
  const main = document.getElementById("view");
  const active = document.activeElement;
  const focused = active && active.id && main.contains(active) ? { id: active.id, pos: active.selectionStart } : null;
  const open = new Map([...main.querySelectorAll("details[data-key]")].map((d) => [d.dataset.key, d.open]));
  main.innerHTML = view(route);
  main.dataset.view = route.view;
  for (const d of main.querySelectorAll("details[data-key]")) if (open.has(d.dataset.key)) d.open = open.get(d.dataset.key);
  if (focused) {
    const el = document.getElementById(focused.id);
    if (el) {
      el.focus();
      if (focused.pos != null && el.setSelectionRange) el.setSelectionRange(focused.pos, focused.pos);
    }
  }
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.route === route.view);
  afterRender(route.view);
  if (store.live) setLive(true);
}

// ---- actions ----------------------------------------------------------------------------

const confirmDialog = () => document.getElementById("confirm");

function askConfirm(text) {
  return new Promise((resolve) => {
    const dialog = confirmDialog();
    document.getElementById("confirm-text").textContent = text;
    dialog.returnValue = "";
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}

function toast(text, { error = false } = {}) {
  const el = document.getElementById("toast");
  el.textContent = text;
  el.className = `toast ${error ? "toast-error" : ""}`;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (el.hidden = true), 4000);
}

async function act(env, action) {
  if (store.info.confirm.includes(action)) {
    const ok = await askConfirm(`${action.toUpperCase()} environment ${env}? Running processes will be affected.`);
    if (!ok) return;
  }
  const token = document.getElementById("token").value.trim();
  const response = await fetch(`/api/environments/${encodeURIComponent(env)}/${action}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
  });
  const body = await response.json().catch(() => ({}));
  if (response.ok) toast(`${action.toUpperCase()} requested for ${env} by ${body.who}`);
  else toast(`${action.toUpperCase()} refused: ${body.error ?? response.status}`, { error: true });
}

function onClick(event) {
  const nodeButton = event.target.closest("[data-node-action]");
  if (nodeButton) {
    event.preventDefault();
    event.stopPropagation();
    nodeAction(nodeButton.dataset.node, nodeButton.dataset.nodeAction);
    return;
  }
  const button = event.target.closest("[data-action]");
  if (button) {
    event.preventDefault();
    act(button.dataset.env, button.dataset.action);
    return;
  }
  const sorter = event.target.closest("[data-sort]");
  if (sorter) {
    const route = parseRoute();
    const params = route.params;
    const same = params.get("sort") === sorter.dataset.sort;
    params.set("sort", sorter.dataset.sort);
    params.set("dir", same && params.get("dir") !== "desc" ? "desc" : "asc");
    navigate(route.view, params);
    return;
  }
  const page = event.target.closest("[data-page]");
  if (page) {
    const route = parseRoute();
    route.params.set("page", page.dataset.page);
    navigate(route.view, route.params);
    return;
  }
  const row = event.target.closest("[data-href]");
  if (row) location.hash = row.dataset.href;
}

function onInput(event) {
  const filter = event.target.closest("[data-filter]");
  if (!filter) return;
  const route = parseRoute();
  route.params.set(filter.dataset.filter, filter.value);
  route.params.delete("page");
  navigate(route.view, route.params);
}

async function loadInfo() {
  try {
    const response = await fetch("/api/info");
    if (response.status === 401) return askReadToken();
    store.info = await response.json();
  } catch {
    return;
  }
  document.getElementById("token-box").hidden = !store.info.actions;
  const saved = sessionStorage.getItem("o2-token");
  const input = document.getElementById("token");
  if (saved) input.value = saved;
  input.addEventListener("change", () => {
    sessionStorage.setItem("o2-token", input.value.trim());
    showUser(input.value.trim());
  });
  if (saved || store.info.sso) showUser(saved ?? "");
  scheduleRender();
}

// Who the token signs in as (and their role), so a viewer knows why writes are refused.
async function showUser(token) {
  const el = document.getElementById("whoami");
  if (!token && !store.info.sso) {
    el.textContent = "";
    store.user = null;
    scheduleRender();
    return;
  }
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const response = await fetch("/api/whoami", { headers });
  const user = await response.json().catch(() => ({}));
  el.textContent = response.ok ? `${user.name} · ${user.role}` : "unknown token";
  el.classList.toggle("whoami-bad", !response.ok);
  store.user = response.ok ? user : null;
  store.version++;
  scheduleRender();
}

// The server was started with --read-token-file: EventSource cannot send headers, so the
// token travels as a same-site cookie, limited to this server's API.
function askReadToken() {
  const token = window.prompt("This o2 GUI needs a read token:");
  if (!token) return;
  document.cookie = `o2-read=${encodeURIComponent(token.trim())}; path=/api; SameSite=Strict`;
  window.location.reload();
}

let ticks = 0;

function tick() {
  if (store.live && ticks++ % 2 === 0) {
    sampleTasks(store);
    const route = parseRoute();
    if (route.view === "runs" && route.params.get("env")) {
      store.version++;
      scheduleRender();
    }
  }
  document.getElementById("clock").textContent = new Date().toISOString().slice(11, 19) + " UTC";
  const now = Date.now();
  for (const el of document.querySelectorAll("[data-since]")) el.textContent = since(el.dataset.since, now);
  updateBanner(store, now);
}

initWizard({
  rerender: () => {
    store.version++;
    scheduleRender();
  },
  token: () => document.getElementById("token").value.trim(),
  user: () => store.user,
  done: (text, name) => {
    toast(text);
    location.hash = `#/environments/${encodeURIComponent(name)}`;
  },
});
initNodes({
  token: () => document.getElementById("token").value.trim(),
  confirm: askConfirm,
  toast,
  user: () => store.user,
});
initAudit(() => {
  store.version++;
  scheduleRender();
});
initLive({
  rerender: () => {
    store.version++;
    scheduleRender();
  },
  token: () => document.getElementById("token").value.trim(),
  toast: (text) => toast(text),
});
initRuns(() => {
  store.version++;
  scheduleRender();
});
initUx(store);
document.addEventListener("pointerdown", () => (pressed = true), true);
document.addEventListener("pointerup", () => {
  pressed = false;
  scheduleRender(); // after the click: a frame runs once this event's task is done
}, true);
document.addEventListener("click", onClick);
document.addEventListener("input", onInput);
window.addEventListener("hashchange", scheduleRender);
setInterval(tick, 1000);
tick();
loadInfo();
connect();
window.o2store = store;
