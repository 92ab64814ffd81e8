// The Salesforce side of the page: Open CTI when framed by Salesforce, else a standalone host
// that lists pops inside the page. Salesforce appends mode and sfdcIframeOrigin to our URL.
const API_VERSION = "60.0";

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`cannot load ${src}`));
    document.head.append(script);
  });
}

const CALL_TIMEOUT_MS = 5000;

// Calls an Open CTI method and resolves with its answer, whatever the API's callback shape.
// A host that never answers (a broken frame, a missing nonce) must not hang the phone.
function call(fn) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ timeout: true }), CALL_TIMEOUT_MS);
    try {
      fn((response) => {
        clearTimeout(timer);
        resolve(response || {});
      });
    } catch (error) {
      clearTimeout(timer);
      resolve({ thrown: error });
    }
  });
}

function succeeded(response) {
  if (response.error) return false;
  return response.success === true || response.result === true
    || typeof response.result === "string";
}

class LightningHost {
  constructor() {
    this.kind = "lightning";
    this.api = window.sforce.opencti;
  }
  async pop(pop) {
    const api = this.api;
    if (pop.kind === "record") {
      // Consoles pop every match, each in its own tab.
      let ok = true;
      for (const match of pop.matches) {
        const r = await call((cb) => api.screenPop({
          type: api.SCREENPOP_TYPE.SOBJECT, params: { recordId: match.id }, callback: cb,
        }));
        ok = ok && succeeded(r);
      }
      return ok;
    }
    if (pop.kind === "search") {
      // The org's own search, in the agent's session, respecting its softphone layout.
      const r = await call((cb) => api.searchAndScreenPop({
        searchParams: pop.search,
        queryParams: "",
        defaultFieldValues: { Phone: pop.search },
        callType: api.CALL_TYPE.INBOUND,
        deferred: false,
        callback: cb,
      }));
      return succeeded(r);
    }
    if (pop.kind === "new_record") {
      const r = await call((cb) => api.screenPop({
        type: api.SCREENPOP_TYPE.NEW_RECORD_MODAL,
        params: { entityName: pop.object, defaultFieldValues: pop.defaults },
        callback: cb,
      }));
      return succeeded(r);
    }
    return true;
  }
  // The org's own search for what the agent typed, when our server cannot search.
  async search(query) {
    const api = this.api;
    return succeeded(await call((cb) => api.searchAndScreenPop({
      searchParams: query,
      queryParams: "",
      defaultFieldValues: {},
      callType: api.CALL_TYPE.OUTBOUND,
      deferred: false,
      callback: cb,
    })));
  }
  show() {
    call((cb) => this.api.setSoftphonePanelVisibility({ visible: true, callback: cb }));
  }
  // The utility bar item: its label, and its icon (an SLDS utility icon name) when it changed.
  status(label, iconKey, iconChanged) {
    call((cb) => this.api.setSoftphoneItemLabel({ label, callback: cb }));
    if (iconChanged) call((cb) => this.api.setSoftphoneItemIcon({ key: iconKey, callback: cb }));
  }
  onClickToDial(handler) {
    this.api.onClickToDial({ listener: (payload) => handler(payload?.number, payload) });
  }
  clickToDial(enabled) {
    const api = this.api;
    call((cb) => (enabled ? api.enableClickToDial : api.disableClickToDial)({ callback: cb }));
  }
  async callCenterSettings() {
    const r = await call((cb) => this.api.getCallCenterSettings({ callback: cb }));
    return r.success && r.returnValue && typeof r.returnValue === "object" ? r.returnValue : {};
  }
  ready() {
    call((cb) => this.api.notifyInitializationComplete({ callback: cb }));
  }
}

class ClassicHost {
  constructor() {
    this.kind = "classic";
    this.api = window.sforce.interaction;
  }
  async pop(pop) {
    if (pop.kind === "search") return this.searchWithApex(pop.search);
    let url = null;
    // Classic opens one page: the first match.
    if (pop.kind === "record" && pop.matches.length) url = `/${pop.matches[0].id}`;
    if (pop.kind === "new_record" && pop.object === "Contact") {
      url = `/003/e?con10=${encodeURIComponent(pop.defaults.Phone || "")}`;
    }
    if (pop.kind === "new_record" && pop.object === "Task") {
      // Classic's new Task page takes the Who and What in its URL.
      const query = new URLSearchParams();
      if (pop.defaults.WhoId) query.set("who_id", pop.defaults.WhoId);
      if (pop.defaults.WhatId) query.set("what_id", pop.defaults.WhatId);
      url = `/00T/e?${query}`;
    }
    if (!url) return true;
    return succeeded(await call((cb) => this.api.screenPop(url, true, cb)));
  }
  // Classic has no searchAndScreenPop: our Apex class (apex/) searches in the agent's session.
  async searchWithApex(number) {
    const r = await call((cb) => this.api.runApex(
      "SoftphoneSearchController", "search", `phoneNumber=${encodeURIComponent(number)}`, cb,
    ));
    let matches = [];
    try {
      matches = JSON.parse(r.result || "[]");
    } catch {
      return false;
    }
    const url = matches.length
      ? `/${matches[0].id}`
      : `/003/e?con10=${encodeURIComponent(number)}`;
    return succeeded(await call((cb) => this.api.screenPop(url, true, cb)));
  }
  async search(query) {
    return succeeded(await call((cb) => this.api.searchAndScreenPop(query, "", "outbound", cb)));
  }
  show() {
    call((cb) => this.api.setVisible(true, cb));
  }
  // Classic has no utility bar item to label.
  status() {}
  onClickToDial(handler) {
    this.api.cti.onClickToDial((response) => {
      let payload = {};
      try {
        payload = JSON.parse(response?.result || "{}");
      } catch {
        return;
      }
      handler(payload.number, payload);
    });
  }
  clickToDial(enabled) {
    const cti = this.api.cti;
    call((cb) => (enabled ? cti.enableClickToDial(cb) : cti.disableClickToDial(cb)));
  }
  async callCenterSettings() {
    const r = await call((cb) => this.api.cti.getCallCenterSettings(cb));
    try {
      const found = typeof r.result === "string" ? JSON.parse(r.result) : r.result;
      return found && typeof found === "object" ? found : {};
    } catch {
      return {};
    }
  }
  ready() {
    try {
      this.api.cti.notifyInitializationComplete();
    } catch (error) {
      console.warn("notifyInitializationComplete failed:", error);
    }
  }
}

class StandaloneHost {
  constructor(onPop) {
    this.kind = "standalone";
    this.onPop = onPop;
  }
  async pop(pop) {
    this.onPop(pop);
    return true;
  }
  async search(query) {
    this.onPop({ kind: "search", search: query });
    return true;
  }
  show() {}
  status() {}
  onClickToDial() {}
  clickToDial() {}
  async callCenterSettings() {
    return {};
  }
  ready() {}
}

// Salesforce names the framing origin sfdcIframeOrigin for Lightning and sfdcIFrameOrigin for
// Classic, whose script also needs the nonce. Open CTI refuses an origin whose protocol differs
// from the page's, so such a page runs standalone instead of failing on every call.
export async function connectHost(onStandalonePop, params = new URLSearchParams(location.search)) {
  const origin = params.get("sfdcIframeOrigin") || params.get("sfdcIFrameOrigin");
  const mode = params.get("mode");
  const usable = origin && /^https?:\/\/[^/]+$/.test(origin)
    && new URL(origin).protocol === location.protocol
    && (mode === "Lightning" || params.get("nonce"));
  if (!usable) return new StandaloneHost(onStandalonePop);
  try {
    if (mode === "Lightning") {
      await loadScript(`${origin}/support/api/${API_VERSION}/lightning/opencti_min.js`);
      return new LightningHost();
    }
    await loadScript(`${origin}/support/api/${API_VERSION}/interaction.js`);
    return new ClassicHost();
  } catch (error) {
    console.warn("Open CTI unavailable, showing pops in the page:", error);
    return new StandaloneHost(onStandalonePop);
  }
}
