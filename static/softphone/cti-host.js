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

// Calls an Open CTI method and resolves with its answer, whatever the API's callback shape.
function call(fn, ...args) {
  return new Promise((resolve) => fn(...args, (response) => resolve(response || {})));
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
        ok = ok && r.success !== false;
      }
      return ok;
    }
    if (pop.kind === "new_record") {
      const r = await call((cb) => api.screenPop({
        type: api.SCREENPOP_TYPE.NEW_RECORD_MODAL,
        params: { entityName: pop.object, defaultFieldValues: pop.defaults },
        callback: cb,
      }));
      return r.success !== false;
    }
    return true;
  }
  show() {
    this.api.setSoftphonePanelVisibility({ visible: true, callback: () => {} });
  }
  ready() {
    this.api.notifyInitializationComplete();
  }
}

class ClassicHost {
  constructor() {
    this.kind = "classic";
    this.api = window.sforce.interaction;
  }
  async pop(pop) {
    let url = null;
    // Classic opens one page: the first match.
    if (pop.kind === "record" && pop.matches.length) url = `/${pop.matches[0].id}`;
    if (pop.kind === "new_record" && pop.object === "Contact") {
      url = `/003/e?con10=${encodeURIComponent(pop.defaults.Phone || "")}`;
    }
    if (!url) return true;
    const r = await call((cb) => this.api.screenPop(url, true, cb));
    return !r.error;
  }
  show() {
    this.api.setVisible(true, () => {});
  }
  ready() {
    if (this.api.cti && this.api.cti.notifyInitializationComplete) {
      this.api.cti.notifyInitializationComplete();
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
  show() {}
  ready() {}
}

export async function connectHost(onStandalonePop, params = new URLSearchParams(location.search)) {
  const origin = params.get("sfdcIframeOrigin");
  const mode = params.get("mode");
  if (!origin || !/^https?:\/\/[^/]+$/.test(origin)) return new StandaloneHost(onStandalonePop);
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
