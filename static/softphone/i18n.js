// Translations: the first of the browser's languages that we ship, else English.
const SUPPORTED = ["en", "fr", "de", "es"];
let strings = {};

export function pickLanguage(languages = navigator.languages || [navigator.language]) {
  for (const tag of languages) {
    const base = String(tag || "").toLowerCase().split("-")[0];
    if (SUPPORTED.includes(base)) return base;
  }
  return "en";
}

export async function loadStrings(lang = pickLanguage()) {
  const url = new URL(`i18n/${lang}.json`, import.meta.url);
  const response = await fetch(url);
  strings = await response.json();
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  // Icon-only buttons and unlabelled groups get their accessible name the same way.
  for (const el of document.querySelectorAll("[data-i18n-label]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  }
  return lang;
}

export function t(key, vars = {}) {
  const text = strings[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}
