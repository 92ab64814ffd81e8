// Which screen shows, drawn from the state; the agent's focus survives every redraw.
import { currentCall, renderCall } from "./call-screen.js";
import { applyTooltips, visible } from "./dom.js";
import { on } from "./events.js";
import { t } from "./i18n.js";
import { renderLists } from "./lists.js";
import { bindEditor } from "./notes.js";
import { renderSearch } from "./search.js";
import { renderSettings } from "./settings.js";
import { $, show, state } from "./state.js";
import { updateUtilityItem } from "./utility-item.js";
import { clearWrapUp, renderWrapUp, wrappingLogs } from "./wrap-up.js";

// Whoever changed the state asks for a redraw with emit("changed"); only this module draws.
export function setupRender() {
  on("changed", render);
}

// Re-renders keep the agent's focus: on the same element, or on its replacement (data-key).
function render() {
  const active = document.activeElement;
  const hadFocus = active && active !== document.body;
  const key = active?.dataset?.key;
  renderScreens();
  if (!hadFocus || (document.activeElement === active && visible(active))) return;
  if (key) {
    const twin = [...document.querySelectorAll("[data-key]")]
      .find((node) => node.dataset.key === key && visible(node));
    if (twin) {
      twin.focus();
      return;
    }
  }
  if (!state.session || $("screen-idle").hidden) return;
  // What had focus went away: the notes of a call just ended, else the dial field.
  (state.wrapShown ? $("notes") : $("dial-number")).focus();
}

function renderScreens() {
  clearInterval(state.timer);
  updateUtilityItem();
  if (!state.session) return;
  $("open-settings").hidden = !state.data;
  $("open-settings").setAttribute("aria-pressed", String(state.view === "settings"));
  const call = currentCall();
  const wrapping = wrappingLogs();
  // A call that just went into wrap-up brings the agent back from settings to its panel.
  const wrapId = wrapping[0]?.call_id || null;
  if (wrapId && wrapId !== state.wrapShown && !call) state.view = "main";
  const settingsShown = state.view === "settings" && state.draft;
  if (call && (call.state === "ringing" || !settingsShown)) {
    clearWrapUp();
    renderCall(call);
  } else if (settingsShown) {
    clearWrapUp();
    bindEditor(wrapId, null);
    $("call-state").textContent = "";
    show("settings");
    renderSettings();
  } else {
    $("call-state").textContent = "";
    show("idle");
    if (wrapping.length) {
      bindEditor(wrapId, $("wrapup-notes"));
      renderWrapUp(wrapping[0], wrapping.length);
    } else {
      bindEditor(null, null);
      clearWrapUp();
    }
  }
  state.wrapShown = call ? null : wrapId;
  // The search goes with the agent: on the idle screen, or below the call under way.
  const slot = call && call.state !== "ringing" ? $("call-search") : $("idle-search");
  if ($("search-block").parentElement !== slot) slot.append($("search-block"));
  renderSearch();
  renderLists();
  applyTooltips();
}

export function standalonePop(pop) {
  const li = document.createElement("li");
  if (pop.kind === "record") {
    li.textContent = pop.matches.map((m) => `${m.object}: ${m.name}`).join(", ");
  } else if (pop.kind === "search") {
    li.textContent = t("popSearch", { number: pop.search });
  } else if (pop.object === "Task") {
    li.textContent = pop.about ? t("popNewTaskFor", { name: pop.about }) : t("popNewTask");
  } else {
    li.textContent = t("popNew", { number: pop.defaults.Phone || "" });
  }
  $("pop-list").prepend(li);
  $("standalone-pops").hidden = false;
}
