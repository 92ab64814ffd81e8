// Favorites and call history: one entry each is a button that calls, a star, and the record.
import { pickNumber } from "./call-screen.js";
import { el, formatDuration, icon, iconButton, setupTabs } from "./dom.js";
import { emit } from "./events.js";
import { t } from "./i18n.js";
import { popRecord } from "./messages.js";
import { $, displayNumber, notice, send, state } from "./state.js";

export function isFavorite(number) {
  return (state.data?.favorites || []).some((f) => f.number === number);
}

export function toggleFavorite(entry) {
  notice("");
  if (isFavorite(entry.number)) {
    send({ type: "favorite_remove", number: entry.number });
  } else {
    send({
      type: "favorite_add",
      favorite: {
        number: entry.number.slice(0, 40),
        name: (entry.name || "").slice(0, 80),
        object: (entry.object || "").slice(0, 40),
        record_id: (entry.record_id || "").slice(0, 18),
      },
    });
  }
}

function addFavorite(event) {
  event.preventDefault();
  const number = $("favorite-number").value.trim();
  const name = $("favorite-name").value.trim();
  if (!number) {
    $("favorite-number").focus();
    return;
  }
  notice("");
  const favorite = { number: number.slice(0, 40), name: name.slice(0, 80), object: "", record_id: "" };
  if (send({ type: "favorite_add", favorite })) {
    $("favorite-number").value = "";
    $("favorite-name").value = "";
  }
}

function entryItem(entry, key, subtitle, kind) {
  const li = el("li", "entry");
  const label = entry.name || (entry.number && displayNumber(entry.number)) || t("withheld");
  const main = el("button", "entry-main");
  main.type = "button";
  main.dataset.key = `${key}-call`;
  main.disabled = !entry.number;
  if (kind) main.append(icon(kind.icon));
  if (kind?.missed) main.classList.add("missed");
  const text = el("span", "entry-text");
  text.append(el("span", "sr-only", `${t("callPrefix")} `), el("span", "entry-name", label));
  if (subtitle) text.append(el("span", "entry-sub", subtitle));
  main.append(text);
  main.addEventListener("click", () => pickNumber(entry.number));
  li.append(main);
  if (entry.record_id) {
    li.append(iconButton("person", t("openRecord", { name: label }), `${key}-record`,
      () => popRecord(entry.object, entry.record_id, entry.name)));
  }
  if (entry.number) {
    const star = iconButton("star", t("favoriteToggle", { name: label }), `${key}-star`,
      () => toggleFavorite(entry));
    star.classList.add("star");
    star.setAttribute("aria-pressed", String(isFavorite(entry.number)));
    li.append(star);
  }
  return li;
}

function when(timestamp) {
  const date = new Date(timestamp * 1000);
  const today = date.toDateString() === new Date().toDateString();
  const options = today ? { hour: "2-digit", minute: "2-digit" }
    : { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" };
  return new Intl.DateTimeFormat(document.documentElement.lang, options).format(date);
}

function historySubtitle(entry) {
  const outcome = entry.outcome === "answered"
    ? formatDuration(entry.duration) : t(`outcome_${entry.outcome}`);
  const parts = [];
  if (entry.name && entry.number) parts.push(displayNumber(entry.number));
  parts.push(when(entry.started_at), outcome);
  return parts.join(" · ");
}

export function renderLists() {
  const data = state.data;
  $("favorites-block").hidden = !data;
  $("history-block").hidden = !data;
  if (!data) return;
  $("favorites").replaceChildren(...data.favorites.map((f) => entryItem(
    f, `fav-${f.number}`, f.name ? displayNumber(f.number) : "", null,
  )));
  $("favorites-empty").hidden = data.favorites.length > 0;
  const list = data.history?.[state.historyList] || [];
  for (const tab of $("history-tabs").querySelectorAll("[role=tab]")) {
    const selected = tab.dataset.list === state.historyList;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    if (selected) $("history-panel").setAttribute("aria-labelledby", tab.id);
  }
  $("history").replaceChildren(...list.map((entry) => entryItem(
    entry, `hist-${entry.call_id}`, historySubtitle(entry), {
      icon: entry.placed ? "outbound" : "inbound",
      missed: entry.outcome === "missed",
    },
  )));
  $("history-empty").hidden = list.length > 0;
}

export function setupLists() {
  $("favorite-form").addEventListener("submit", addFavorite);
  setupTabs($("history-tabs"), (tab) => {
    state.historyList = tab.dataset.list;
    emit("changed");
  });
}
