// Control-room usability: dark/light theme, the feed-disconnected banner with the data's age,
// a search box over environments/tasks/nodes, and keyboard navigation of the view's tables.
import { html } from "./util.js";

const THEME_KEY = "o2-theme";
const SEARCH_LIMIT = 12;

// ---- theme ----------------------------------------------------------------------------------

// The saved choice wins; otherwise the OS preference, so a light control room gets light.
export function initialTheme(saved = localStorage.getItem(THEME_KEY)) {
  if (saved === "dark" || saved === "light") return saved;
  return window.matchMedia?.("(prefers-color-scheme: light)").matches ? "light" : "dark";
}

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
  const button = document.getElementById("theme");
  button.textContent = theme === "dark" ? "☀" : "☾";
  button.title = `switch to the ${theme === "dark" ? "light" : "dark"} theme`;
}

function toggleTheme() {
  const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
  localStorage.setItem(THEME_KEY, next);
  applyTheme(next);
}

// ---- feed banner ------------------------------------------------------------------------------

// While the feed is up the data is current; once it drops, the banner says how old it is.
export function updateBanner(store, now = Date.now()) {
  if (store.live) store.freshAt = now;
  const banner = document.getElementById("feed-banner");
  const down = !store.live && store.freshAt != null;
  banner.hidden = !down;
  if (!down) return;
  const age = Math.max(0, Math.round((now - store.freshAt) / 1000));
  banner.textContent = `Live feed disconnected: the data shown is ${age} s old (revision ${store.revision}). Reconnecting…`;
}

// ---- search -----------------------------------------------------------------------------------

export function searchMatches(store, text) {
  const needle = text.trim().toLowerCase();
  if (!needle) return [];
  const found = [];
  const kinds = [
    ["environment", store.objects.environments, (n) => `#/environments/${encodeURIComponent(n)}`],
    ["node", store.objects.nodes, (n) => `#/nodes/${encodeURIComponent(n)}`],
    ["task", store.objects.tasks, (n) => `#/tasks?q=${encodeURIComponent(n)}`],
  ];
  for (const [kind, map, href] of kinds) {
    for (const name of map.keys()) {
      if (found.length >= SEARCH_LIMIT) return found;
      if (String(name).toLowerCase().includes(needle)) found.push({ kind, name, href: href(name) });
    }
  }
  return found;
}

function showResults(store) {
  const input = document.getElementById("search");
  const list = document.getElementById("search-results");
  const found = searchMatches(store, input.value);
  list.hidden = !input.value.trim();
  list.innerHTML = found.length
    ? found.map((f) => html`<li><a href="${f.href}" data-search-hit><span class="muted">${f.kind}</span> ${f.name}</a></li>`).join("")
    : html`<li class="muted">nothing matches</li>`;
}

function closeSearch() {
  document.getElementById("search-results").hidden = true;
  document.getElementById("search").value = "";
}

// ---- keyboard navigation of tables -------------------------------------------------------------

const keys = { index: -1, view: null };

function rows() {
  return [...document.querySelectorAll("#view table.grid tbody tr")].filter((r) => !r.querySelector(".empty"));
}

function highlight(all) {
  all.forEach((r, i) => r.classList.toggle("kb-row", i === keys.index));
  all[keys.index]?.scrollIntoView({ block: "nearest" });
}

// After every render the table is new: the highlight follows its index, reset on a new view.
export function afterRender(view) {
  if (view !== keys.view) Object.assign(keys, { index: -1, view });
  if (keys.index >= 0) highlight(rows());
}

function open(row) {
  if (row.dataset.href) location.hash = row.dataset.href;
  else row.querySelector("a[href]")?.click();
}

function onKey(event) {
  const target = event.target;
  if (target.id === "search" && event.key === "Enter") {
    const hit = document.querySelector("[data-search-hit]");
    if (hit) location.hash = hit.getAttribute("href");
    closeSearch();
    return;
  }
  if (target.id === "search" && event.key === "Escape") return closeSearch();
  if (target.closest?.("input, select, textarea, dialog, button") || event.altKey || event.ctrlKey || event.metaKey) return;
  const all = rows();
  if (!all.length) return;
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    event.preventDefault();
    const step = event.key === "ArrowDown" ? 1 : -1;
    keys.index = Math.min(all.length - 1, Math.max(0, keys.index + step));
    highlight(all);
  } else if (event.key === "Enter" && all[keys.index]) {
    event.preventDefault();
    open(all[keys.index]);
  }
}

export function initUx(store) {
  applyTheme(initialTheme());
  document.getElementById("theme").addEventListener("click", toggleTheme);
  document.getElementById("search").addEventListener("input", () => showResults(store));
  document.getElementById("search-results").addEventListener("click", closeSearch);
  document.addEventListener("keydown", onKey);
}
