// Browser storage that may be missing. Framed cross-site by Salesforce, the page is a
// third-party document, and where the browser blocks third-party site data (Chrome with
// third-party cookies blocked, incognito, enterprise policy) merely reading sessionStorage
// throws. Every read and write goes through here and falls back to memory, so the page always
// starts; what lives only in memory is gone after a reload (see docs/browsers.md).

function open(kind) {
  try {
    const storage = window[kind];
    const probe = "softphone.probe";
    storage.setItem(probe, "1");
    storage.removeItem(probe);
    return storage;
  } catch {
    return null;
  }
}

class Store {
  constructor(kind) {
    this.real = open(kind);
    this.memory = new Map();
  }

  // True when values survive a reload (the browser lets this frame keep site data).
  get persistent() {
    return this.real !== null;
  }

  get(key) {
    if (this.real) {
      try {
        return this.real.getItem(key);
      } catch {
        this.real = null; // blocked since (a policy change): memory from now on
      }
    }
    return this.memory.has(key) ? this.memory.get(key) : null;
  }

  set(key, value) {
    this.memory.set(key, value);
    if (!this.real) return;
    try {
      this.real.setItem(key, value);
    } catch {
      // Full or blocked: memory keeps it for this page's life.
    }
  }

  remove(key) {
    this.memory.delete(key);
    try {
      this.real?.removeItem(key);
    } catch {
      // Blocked: nothing stored there to remove.
    }
  }

  getJson(key, fallback) {
    try {
      const value = JSON.parse(this.get(key) ?? "null");
      return value ?? fallback;
    } catch {
      return fallback;
    }
  }

  setJson(key, value) {
    this.set(key, JSON.stringify(value));
  }
}

// One per tab (the session, pops this tab opened) and one per browser profile (preferences).
export const tabStorage = new Store("sessionStorage");
export const localStore = new Store("localStorage");
