// Small DOM helpers: text only, never markup. Icons, labelled icon buttons, tabs, durations.
import { settings } from "./state.js";

const SVG = "http://www.w3.org/2000/svg";
const ICONS = {
  star: "M12 2.8l2.8 5.9 6.5.8-4.8 4.4 1.3 6.4L12 17.1l-5.8 3.2 1.3-6.4-4.8-4.4 6.5-.8z",
  person: "M12 12a4.5 4.5 0 1 0 0-9 4.5 4.5 0 0 0 0 9zm0 2c-4.4 0-8 2.2-8 5v2h16v-2c0-2.8-3.6-5-8-5z",
  up: "M13 20h-2V8.8l-4.6 4.6L5 12l7-7 7 7-1.4 1.4L13 8.8z",
  down: "M11 4h2v11.2l4.6-4.6L19 12l-7 7-7-7 1.4-1.4 4.6 4.6z",
  close: "M18.4 7 17 5.6l-5 5-5-5L5.6 7l5 5-5 5L7 18.4l5-5 5 5 1.4-1.4-5-5z",
  inbound: "M19 6.4 17.6 5 7 15.6V9H5v10h10v-2H8.4z",
  outbound: "M5 17.6 6.4 19 17 8.4V15h2V5H9v2h6.6z",
  block: "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 2a8 8 0 0 1 4.9 1.7L5.7 16.9A8 8 0 0 1 12 4zm0 16a8 8 0 0 1-4.9-1.7L18.3 7.1A8 8 0 0 1 12 20z",
  plus: "M11 5h2v6h6v2h-6v6h-2v-6H5v-2h6z",
  phone: "M6.6 10.8a15.1 15.1 0 0 0 6.6 6.6l2.2-2.2c.3-.3.7-.4 1-.2 1.1.4 2.3.6 3.6.6.6 0 1 .4 1 1V20c0 .6-.4 1-1 1A17 17 0 0 1 3 4c0-.6.4-1 1-1h3.5c.6 0 1 .4 1 1 0 1.3.2 2.5.6 3.6.1.3 0 .7-.2 1z",
  log: "M6 2h9l5 5v15H6zm8 1.5V8h4.5zM8 12v2h8v-2zm0 4v2h8v-2z",
};

export function icon(name) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("class", `icon icon-${name}`);
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}

export function el(tag, className = "", text = "") {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

// A button that shows only an icon: its name is its aria-label (and, with tooltips, its title).
export function iconButton(name, label, key, onClick) {
  const button = el("button", "btn-icon");
  button.type = "button";
  button.setAttribute("aria-label", label);
  button.dataset.tip = "";
  button.dataset.key = key;
  button.append(icon(name));
  button.addEventListener("click", onClick);
  return button;
}

export function applyTooltips() {
  const on = settings().tooltips !== false;
  for (const node of document.querySelectorAll("[data-tip]")) {
    if (on) node.title = node.getAttribute("aria-label") || "";
    else node.removeAttribute("title");
  }
}

export function visible(node) {
  return node.isConnected && !node.closest("[hidden]");
}

export function detail(list, label, value) {
  if (!value) return;
  list.append(el("dt", "", label), el("dd", "", value));
}

export function formatDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const mm = String(Math.floor(s / 60)).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mm.slice(-2)}:${ss}` : `${mm}:${ss}`;
}

export function clock(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

// Arrow keys move between tabs, as WAI-ARIA tabs do.
export function setupTabs(list, select) {
  list.addEventListener("click", (event) => {
    const tab = event.target.closest("[role=tab]");
    if (tab) select(tab);
  });
  list.addEventListener("keydown", (event) => {
    const tabs = [...list.querySelectorAll("[role=tab]")];
    const i = tabs.indexOf(document.activeElement);
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (i < 0 || next === undefined) return;
    event.preventDefault();
    const tab = tabs[(next + tabs.length) % tabs.length];
    select(tab);
    tab.focus();
  });
}
