// The agent's own settings: a draft edited here, saved to the server (it follows the agent),
// plus this browser's desktop notifications, and which PBX the call center says it is.
import { applyTooltips, iconButton, setupTabs } from "./dom.js";
import { emit, on } from "./events.js";
import { t } from "./i18n.js";
import { notificationState, setNotifications } from "./notifications.js";
import { $, notice, send, state } from "./state.js";

const POP_RULES = ["ani", "dnis", "ivr", "new_contact"];
const RULE_KEYS = { ani: "ruleAni", dnis: "ruleDnis", ivr: "ruleIvr", new_contact: "ruleNewContact" };
const MATCH_OBJECTS = ["Contact", "Account", "Lead"];
const CHECKS = {
  "set-tooltips": "tooltips",
  "set-edit-number": "edit_number",
  "set-auto-save": "auto_save_notes",
  "set-debug": "debug_logs",
  "set-log-inbound": "log_inbound",
  "set-log-outbound": "log_outbound",
  "set-log-internal": "log_internal",
};

function openSettings() {
  if (!state.data) return;
  state.view = "settings";
  state.draft = structuredClone(state.data.settings);
  $("settings-status").textContent = "";
  emit("changed");
  $("settings-title").focus();
}

function closeSettings() {
  state.view = "main";
  state.draft = null;
  emit("changed");
  $("open-settings").focus();
}

function settingsSaved(saved) {
  state.savingSettings = false;
  state.draft = structuredClone(saved);
  $("settings-status").textContent = t("settingsSaved");
}

function settingsRefused() {
  state.savingSettings = false;
  $("settings-status").textContent = "";
}

function draftChanged() {
  state.draft.dirty = true;
  $("settings-status").textContent = "";
}

function ruleName(rule) {
  return t(RULE_KEYS[rule]);
}

function moveRule(rule, to) {
  const order = state.draft.pop_order.filter((r) => r !== rule);
  if (to !== null) order.splice(Math.max(0, Math.min(to, order.length)), 0, rule);
  state.draft.pop_order = order;
  draftChanged();
  emit("changed");
  $("settings-status").textContent = to === null
    ? t("ruleMovedOff", { rule: ruleName(rule) })
    : t("ruleMoved", { rule: ruleName(rule), n: order.indexOf(rule) + 1, count: order.length });
}

function ruleButton(name, label, key, disabled, onClick) {
  const button = iconButton(name, label, key, () => {
    if (button.getAttribute("aria-disabled") !== "true") onClick();
  });
  // Still focusable when it can do nothing, so focus never falls out of the list.
  if (disabled) button.setAttribute("aria-disabled", "true");
  return button;
}

function ruleItem(rule, buttons) {
  const li = document.createElement("li");
  li.className = "rule";
  const name = document.createElement("span");
  name.className = "rule-name";
  name.textContent = ruleName(rule);
  li.append(name, ...buttons);
  return li;
}

function renderNotifications() {
  const { supported, on, blocked } = notificationState();
  const box = $("set-notify");
  box.checked = on;
  box.disabled = !supported;
  $("set-notify-hint").textContent = !supported ? t("notifyUnsupported")
    : blocked ? t("notifyBlocked") : t("notifyHint");
}

export function renderSettings() {
  const draft = state.draft;
  const vendor = state.callCenter.vendor;
  $("settings-vendor").textContent = vendor ? t("connectedTo", { vendor }) : "";
  $("settings-vendor").hidden = !vendor;
  for (const [id, field] of Object.entries(CHECKS)) $(id).checked = Boolean(draft[field]);
  if (document.activeElement !== $("set-subject")) $("set-subject").value = draft.call_subject;
  $("set-pop-ringing").checked = draft.pop_at === "ringing";
  $("set-pop-answer").checked = draft.pop_at === "answer";
  $("set-ivr-exact").checked = draft.ivr_match === "exact";
  $("set-ivr-start").checked = draft.ivr_match === "start_with";
  for (const object of MATCH_OBJECTS) {
    $(`set-match-${object}`).checked = draft.match_objects.includes(object);
  }
  renderNotifications();
  for (const tab of $("settings-tabs").querySelectorAll("[role=tab]")) {
    const selected = tab.dataset.panel === state.settingsTab;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    $(tab.getAttribute("aria-controls")).hidden = !selected;
  }
  const order = draft.pop_order;
  $("pop-order").replaceChildren(...order.map((rule, i) => {
    const name = ruleName(rule);
    return ruleItem(rule, [
      ruleButton("up", t("moveUp", { rule: name }), `up-${rule}`, i === 0,
        () => moveRule(rule, i - 1)),
      ruleButton("down", t("moveDown", { rule: name }), `down-${rule}`, i === order.length - 1,
        () => moveRule(rule, i + 1)),
      ruleButton("block", t("ruleOff", { rule: name }), `off-${rule}`, false, () => {
        moveRule(rule, null);
        $("no-pop").querySelector(`[data-key="on-${rule}"]`)?.focus();
      }),
    ]);
  }));
  const off = POP_RULES.filter((rule) => !order.includes(rule));
  $("no-pop").replaceChildren(...off.map((rule) => ruleItem(rule, [
    ruleButton("plus", t("ruleOn", { rule: ruleName(rule) }), `on-${rule}`, false, () => {
      moveRule(rule, order.length);
      $("pop-order").querySelector(`[data-key="down-${rule}"]`)?.focus();
    }),
  ])));
  $("no-pop-empty").hidden = off.length > 0;
  applyTooltips();
}

function saveSettings(event) {
  event.preventDefault();
  if (!state.draft) return;
  const { dirty, ...values } = state.draft;
  values.call_subject = $("set-subject").value.trim().slice(0, 80);
  notice("");
  if (send({ type: "save_settings", settings: values })) {
    state.savingSettings = true;
    $("settings-status").textContent = t("settingsSaving");
  } else {
    notice(t("errorOffline"));
  }
}

export function setupSettings() {
  on("settings_saved", settingsSaved);
  on("settings_refused", settingsRefused);
  $("open-settings").addEventListener("click", () => {
    if (state.view === "settings") closeSettings();
    else openSettings();
  });
  $("settings-close").addEventListener("click", closeSettings);
  $("settings-form").addEventListener("submit", saveSettings);
  setupTabs($("settings-tabs"), (tab) => {
    state.settingsTab = tab.dataset.panel;
    emit("changed");
  });
  for (const [id, field] of Object.entries(CHECKS)) {
    $(id).addEventListener("change", () => {
      state.draft[field] = $(id).checked;
      draftChanged();
    });
  }
  $("set-subject").addEventListener("input", () => {
    state.draft.call_subject = $("set-subject").value.slice(0, 80);
    draftChanged();
  });
  for (const [name, field] of [["pop-at", "pop_at"], ["ivr-match", "ivr_match"]]) {
    for (const radio of document.querySelectorAll(`input[name="${name}"]`)) {
      radio.addEventListener("change", () => {
        state.draft[field] = radio.value;
        draftChanged();
      });
    }
  }
  for (const object of MATCH_OBJECTS) {
    $(`set-match-${object}`).addEventListener("change", () => {
      state.draft.match_objects = MATCH_OBJECTS.filter((o) => $(`set-match-${o}`).checked);
      draftChanged();
    });
  }
  // This browser only, and at once: it is not one of the settings that follow the agent.
  $("set-notify").addEventListener("change", async () => {
    await setNotifications($("set-notify").checked);
    renderNotifications();
  });
}
