// The search field: people by name or number, asked of the server as the agent types. Each
// result dials, stars, opens its record, or becomes the record the call is logged against.
// Without the server's search (no integration user, API budget low) Salesforce's own search
// opens instead, in the agent's session.
import { currentCall, logIdOf, pickNumber } from "./call-screen.js";
import { el, icon, iconButton } from "./dom.js";
import { emit, on } from "./events.js";
import { t } from "./i18n.js";
import { isFavorite, toggleFavorite } from "./lists.js";
import { popRecord } from "./messages.js";
import { $, notice, send, state, toast } from "./state.js";
import { pickRecord, wrappingLogs } from "./wrap-up.js";

const DEBOUNCE_MS = 350;
const MIN_QUERY = 2;
const MAX_QUERY = 80;
// How long the server's "search unavailable" holds before the server is asked again.
const UNAVAILABLE_MS = 60000;
const search = { timer: null, asked: "", results: null, unavailableUntil: 0 };

function query() {
  return $("search").value.trim().slice(0, MAX_QUERY);
}

function status(text) {
  $("search-status").textContent = text;
}

function browserSearch() {
  return Date.now() < search.unavailableUntil;
}

export function clearSearch() {
  clearTimeout(search.timer);
  Object.assign(search, { timer: null, asked: "", results: null });
  $("search").value = "";
  status("");
  renderSearch();
}

function ask() {
  clearTimeout(search.timer);
  search.timer = null;
  const q = query();
  if (q.length < MIN_QUERY) return;
  if (browserSearch()) {
    searchInSalesforce(q);
    return;
  }
  if (!send({ type: "search", query: q })) {
    status(t("errorOffline"));
    return;
  }
  search.asked = q;
  status(t("searching"));
}

function typed() {
  clearTimeout(search.timer);
  const q = query();
  if (q.length < MIN_QUERY) {
    search.results = null;
    status("");
    renderSearch();
    return;
  }
  // Salesforce's own search opens a page: only when the agent asks (Enter), never per key.
  if (browserSearch()) {
    status(t("searchPressEnter"));
    return;
  }
  search.timer = setTimeout(ask, DEBOUNCE_MS);
}

async function searchInSalesforce(q) {
  status(t("searchingSalesforce", { query: q }));
  const ok = await state.host.search(q);
  status(ok ? t("searchOpened") : t("searchFailed"));
}

function searchResults(message) {
  // An answer to a query the agent has typed past is no news.
  if (message.query !== query()) return;
  search.results = { query: message.query, records: message.records, phones: message.phones };
  const count = message.records.length;
  status(count === 0 ? t("searchNone") : count === 1 ? t("searchOne") : t("searchMany", { count }));
  renderSearch();
}

// The search's own errors (messages.js sends only these here; others go to the notice line).
function searchError(message) {
  if (message.code === "slow_down") {
    // One search at a time: ask again once the agent has paused.
    clearTimeout(search.timer);
    search.timer = setTimeout(ask, DEBOUNCE_MS);
  } else if (message.code === "search_unavailable") {
    search.unavailableUntil = Date.now() + UNAVAILABLE_MS;
    search.results = null;
    renderSearch();
    const q = query();
    if (q.length >= MIN_QUERY) searchInSalesforce(q);
  } else if (message.code === "search_failed") {
    status(t("searchFailed"));
  }
}

// The call log a result can become the record of: the call under way, else the wrap-up shown.
function targetLog() {
  const call = currentCall();
  if (call && call.state !== "cleared" && state.logs.has(logIdOf(call))) return logIdOf(call);
  return wrappingLogs()[0]?.call_id || null;
}

function objectName(object) {
  const key = `object_${object}`;
  const text = t(key);
  return text === key ? object : text;
}

function resultItem(record, phone, logId) {
  const li = el("li", "entry");
  const key = `sr-${record.id}`;
  const main = el("button", "entry-main");
  main.type = "button";
  main.dataset.key = `${key}-call`;
  main.disabled = !phone;
  main.append(icon("phone"));
  const text = el("span", "entry-text");
  if (phone) text.append(el("span", "sr-only", `${t("callPrefix")} `));
  text.append(el("span", "entry-name", record.name));
  const sub = [objectName(record.object), phone || t("searchNoPhone")].join(" · ");
  text.append(el("span", "entry-sub", sub));
  main.append(text);
  main.addEventListener("click", () => pickNumber(phone));
  li.append(main);
  if (logId) {
    const picked = (state.picks.get(logId) || state.logs.get(logId)?.picked)?.id === record.id;
    const log = iconButton("log", t("logAgainst", { name: record.name }), `${key}-log`, () => {
      if (pickRecord(logId, { object: record.object, id: record.id, name: record.name })) {
        toast(t("loggedAgainst", { name: record.name }));
        emit("changed");
      } else {
        notice(t("errorOffline"));
      }
    });
    log.setAttribute("aria-pressed", String(picked));
    li.append(log);
  }
  li.append(iconButton("person", t("openRecord", { name: record.name }), `${key}-record`,
    () => popRecord(record.object, record.id, record.name)));
  if (phone) {
    const star = iconButton("star", t("favoriteToggle", { name: record.name }), `${key}-star`,
      () => toggleFavorite({ number: phone, name: record.name, object: record.object, record_id: record.id }));
    star.classList.add("star");
    star.setAttribute("aria-pressed", String(isFavorite(phone)));
    li.append(star);
  }
  return li;
}

export function renderSearch() {
  const found = search.results;
  const logId = targetLog();
  $("search-results").replaceChildren(...(found?.records || []).map((record) => resultItem(
    record, found.phones[record.id] || "", logId,
  )));
  $("search-results").hidden = !found?.records.length;
}

// Up and down walk the results; Escape clears; Enter on a result dials it (it is a button).
function keydown(event) {
  const items = [...$("search-results").querySelectorAll(".entry-main:not(:disabled)")];
  const input = $("search");
  const at = items.indexOf(document.activeElement);
  if (event.key === "Escape") {
    if (!input.value && at < 0) return;
    event.preventDefault();
    clearSearch();
    input.focus();
  } else if (event.key === "ArrowDown" && items.length) {
    event.preventDefault();
    items[Math.min(at + 1, items.length - 1)].focus();
  } else if (event.key === "ArrowUp" && (at >= 0 || document.activeElement === input)) {
    event.preventDefault();
    if (at > 0) items[at - 1].focus();
    else input.focus();
  } else if (event.key === "Enter" && document.activeElement === input) {
    event.preventDefault();
    ask();
  }
}

export function setupSearch() {
  on("search_results", searchResults);
  on("search_error", searchError);
  $("search").addEventListener("input", typed);
  $("search-block").addEventListener("keydown", keydown);
}
