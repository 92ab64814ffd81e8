// The demo console: frames the softphone as Salesforce does, answers its Open CTI calls,
// shows each pop as a record tab, and drives the PBX simulator.
const $ = (id) => document.getElementById(id);
const frame = $("softphone");
let tabCount = 0;
let softphoneOrigin = location.origin;

// Salesforce frames the softphone from another site (the org's force.com host frames the
// proxy's own host), so the console does too: the proxy's public URL when it has one, else the
// other loopback name (localhost and 127.0.0.1 are two sites). `?softphone=<origin>` overrides.
async function findSoftphone() {
  const asked = new URLSearchParams(location.search).get("softphone");
  if (asked) return new URL(asked).origin;
  try {
    const config = await (await fetch("/demo/api/config")).json();
    if (config.softphone_origin) return new URL(config.softphone_origin).origin;
  } catch {
    // No config: fall through to the loopback names.
  }
  const other = { localhost: "127.0.0.1", "127.0.0.1": "localhost" }[location.hostname];
  if (!other) return location.origin;
  const url = new URL(location.origin);
  url.hostname = other;
  return url.origin;
}

// Frames the softphone with the parameters Salesforce appends: Lightning says sfdcIframeOrigin,
// Classic says sfdcIFrameOrigin (capital F); both carry a nonce.
function loadSoftphone() {
  const mode = $("mode").value;
  const nonce = crypto.randomUUID();
  const params = mode === "Lightning"
    ? new URLSearchParams({ mode, sfdcIframeOrigin: location.origin, nonce })
    : new URLSearchParams({ mode, sfdcIFrameOrigin: location.origin, nonce });
  setClickToDial(false);
  frame.src = `${softphoneOrigin}/softphone/softphone.html?${params}`;
}

function logCall(method, args) {
  const li = document.createElement("li");
  li.textContent = `${new Date().toLocaleTimeString()}  ${method} ${JSON.stringify(args)}`;
  $("cti-log").prepend(li);
}

function selectTab(tab) {
  for (const t of document.querySelectorAll("[role=tab]")) {
    const selected = t === tab;
    t.setAttribute("aria-selected", String(selected));
    t.tabIndex = selected ? 0 : -1;
    $(t.getAttribute("aria-controls")).hidden = !selected;
  }
}

function addTab(title) {
  tabCount += 1;
  const tab = document.createElement("button");
  tab.role = "tab";
  tab.id = `tab-${tabCount}`;
  tab.setAttribute("aria-controls", `panel-${tabCount}`);
  tab.textContent = title;
  tab.addEventListener("click", () => selectTab(tab));
  const panel = document.createElement("section");
  panel.id = `panel-${tabCount}`;
  panel.role = "tabpanel";
  panel.className = "panel";
  panel.setAttribute("aria-labelledby", tab.id);
  $("tabs").append(tab);
  document.querySelector(".workspace").append(panel);
  selectTab(tab);
  return { tab, panel };
}

async function openRecord(recordId) {
  const { tab, panel } = addTab(recordId);
  const response = await fetch(`/demo/api/records/${encodeURIComponent(recordId)}`);
  const heading = document.createElement("h2");
  const list = document.createElement("dl");
  list.className = "card fields";
  if (response.ok) {
    const record = await response.json();
    const f = record.fields;
    const name = f.Name || f.CaseNumber || f.Subject || recordId;
    tab.textContent = `${record.object}: ${name}`;
    heading.textContent = name;
    for (const [key, value] of Object.entries(f)) {
      const dt = document.createElement("dt");
      dt.textContent = key;
      const dd = document.createElement("dd");
      if (/Phone$/.test(key) && value) {
        dd.append(phoneLink(String(value), { recordId: recordId, recordName: name, objectType: record.object }));
      } else {
        dd.textContent = value == null ? "" : String(value);
      }
      list.append(dt, dd);
    }
  } else {
    heading.textContent = `Record ${recordId}`;
  }
  panel.append(heading, list);
  return true;
}

// Phone fields on record pages dial in one click once the softphone enables click-to-dial,
// as Salesforce's own phone fields do; until then they are plain text.
let clickToDial = false;

function phoneLink(number, record) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "phone-link";
  button.textContent = number;
  button.disabled = !clickToDial;
  button.addEventListener("click", () => {
    const payload = { number, recordId: record.recordId, recordName: record.recordName,
      objectType: record.objectType, objectId: record.recordId, objectName: record.recordName,
      object: record.objectType, displayName: record.recordName };
    logCall("clickToDial", payload);
    frame.contentWindow.postMessage({ sfStandin: 1, event: "clickToDial", payload }, softphoneOrigin);
  });
  return button;
}

function setClickToDial(enabled) {
  clickToDial = enabled;
  for (const link of document.querySelectorAll(".phone-link")) link.disabled = !enabled;
}

// The utility bar item, labelled and iconed by the softphone (setSoftphoneItemLabel/Icon).
const UTILITY_ICONS = {
  call: "M6.6 10.8a15.1 15.1 0 0 0 6.6 6.6l2.2-2.2c.3-.3.7-.4 1-.2 1.1.4 2.3.6 3.6.6.6 0 1 .4 1 1V20c0 .6-.4 1-1 1A17 17 0 0 1 3 4c0-.6.4-1 1-1h3.5c.6 0 1 .4 1 1 0 1.3.2 2.5.6 3.6.1.3 0 .7-.2 1l-2.3 2.2z",
  end_call: "M12 9c-1.6 0-3.2.3-4.6.7v3.1c0 .4-.2.7-.6.9-1 .5-1.9 1.1-2.6 1.8-.2.2-.4.3-.7.3-.3 0-.5-.1-.7-.3L.3 13.1a1 1 0 0 1 0-1.4C3.4 8.8 7.5 7 12 7s8.6 1.8 11.7 4.7a1 1 0 0 1 0 1.4l-2.5 2.5c-.2.2-.4.3-.7.3-.3 0-.5-.1-.7-.3-.8-.7-1.6-1.3-2.6-1.8-.4-.2-.6-.5-.6-.9V9.7C15.2 9.3 13.6 9 12 9z",
  phone_portrait: "M16 1H8a2 2 0 0 0-2 2v18a2 2 0 0 0 2 2h8a2 2 0 0 0 2-2V3a2 2 0 0 0-2-2zm-4 21a1.5 1.5 0 1 1 0-3 1.5 1.5 0 0 1 0 3zm4-4H8V4h8z",
  note: "M6 2h9l5 5v15H6zm8 1.5V8h4.5zM8 12v2h8v-2zm0 4v2h8v-2z",
};

function setUtilityItem(args) {
  if (typeof args.label === "string") $("phone-label").textContent = args.label;
  if (typeof args.key === "string") {
    $("phone-toggle").dataset.icon = args.key;
    $("phone-icon").querySelector("path").setAttribute("d", UTILITY_ICONS[args.key] || UTILITY_ICONS.call);
  }
}

// What Setup > Call Centers would hold for the demo's call center (our XML generator's
// custom section included).
function callCenterSettings() {
  return {
    "/reqGeneralInfo/reqInternalName": "SoftphoneProxyDemo",
    "/reqGeneralInfo/reqDisplayName": "Softphone proxy demo",
    "/softphoneSettings/vendor": "Mitel MiVoice Business",
    "/softphoneSettings/serverOrigin": softphoneOrigin,
  };
}

// Salesforce's search page for a name (a number is looked up and popped as before).
function openSearchPage(query) {
  const { panel } = addTab(`Search: ${query}`);
  const heading = document.createElement("h2");
  heading.textContent = `Search results for “${query}”`;
  panel.append(heading);
  return true;
}

function openNewRecord(entityName, defaults) {
  $("new-record-title").textContent = `New ${entityName}`;
  const fields = $("new-record-fields");
  fields.replaceChildren();
  const names = entityName === "Contact" ? ["FirstName", "LastName", "Phone", "Email"] : Object.keys(defaults);
  for (const name of names) {
    const label = document.createElement("label");
    label.textContent = name;
    const input = document.createElement("input");
    input.name = name;
    input.value = defaults[name] || "";
    label.append(input);
    fields.append(label);
  }
  $("new-record").showModal();
  return true;
}

function screenPop(args) {
  if (args.url) {
    // Classic: a Salesforce URL path.
    const url = new URL(args.url, location.origin);
    if (url.pathname === "/003/e") return openNewRecord("Contact", { Phone: url.searchParams.get("con10") || "" });
    return openRecord(url.pathname.replace(/^\//, ""));
  }
  if (args.type === "sobject") return openRecord(args.params.recordId);
  if (args.type === "newRecord") return openNewRecord(args.params.entityName, args.params.defaultFieldValues || {});
  return false;
}

function setPanelVisible(visible) {
  $("phone-panel").hidden = !visible;
  $("phone-toggle").setAttribute("aria-expanded", String(visible));
}

// The agent's own Salesforce search, as searchAndScreenPop and our Apex class would run it.
async function searchOrg(number) {
  const response = await fetch(`/demo/api/search?number=${encodeURIComponent(number)}`);
  return response.ok ? response.json() : [];
}

async function searchAndScreenPop(args) {
  if (/[a-z]/i.test(args.searchParams || "")) return openSearchPage(args.searchParams);
  const matches = await searchOrg(args.searchParams);
  if (!matches.length) return openNewRecord("Contact", args.defaultFieldValues || {});
  for (const match of matches) await openRecord(match.id);
  return true;
}

async function runApex(args) {
  const params = new URLSearchParams(args.methodParams);
  if (args.apexClass !== "SoftphoneSearchController" || args.methodName !== "search") return null;
  return JSON.stringify(await searchOrg(params.get("phoneNumber") || ""));
}

window.addEventListener("message", async (event) => {
  const data = event.data;
  if (event.source !== frame.contentWindow || event.origin !== softphoneOrigin || data?.sfStandin !== 1) return;
  logCall(data.method, data.args);
  let response = { success: true, returnValue: null };
  if (data.method === "screenPop") {
    const ok = await screenPop(data.args);
    response = ok ? { success: true, returnValue: {} } : { success: false, errors: ["unsupported pop"] };
  } else if (data.method === "searchAndScreenPop") {
    response = { success: await searchAndScreenPop(data.args), returnValue: {} };
  } else if (data.method === "runApex") {
    const result = await runApex(data.args);
    response = result === null
      ? { success: false, errors: ["no such Apex method"] }
      : { success: true, returnValue: result };
  } else if (data.method === "setSoftphonePanelVisibility") {
    setPanelVisible(!!data.args.visible);
  } else if (data.method === "setSoftphoneItemLabel" || data.method === "setSoftphoneItemIcon") {
    setUtilityItem(data.args);
  } else if (data.method === "getCallCenterSettings") {
    response = { success: true, returnValue: callCenterSettings() };
  } else if (data.method === "enableClickToDial" || data.method === "disableClickToDial") {
    setClickToDial(data.method === "enableClickToDial");
  }
  frame.contentWindow.postMessage({ sfStandin: 1, id: data.id, response }, softphoneOrigin);
});

// Salesforce's global search, reduced to phone numbers: opens what it finds as record tabs.
async function findRecord(event) {
  event.preventDefault();
  const matches = await searchOrg($("find-number").value.trim());
  $("find-result").textContent = matches.length ? "" : "No record has this number.";
  for (const match of matches) await openRecord(match.id);
}

async function simulate(event) {
  event.preventDefault();
  const ivr = $("sim-ivr").value.split(",").map((s) => s.trim()).filter(Boolean);
  const body = {
    agent: $("sim-queue-only").checked ? null : $("sim-agent").value,
    ani: $("sim-ani").value.trim(), dnis: $("sim-dnis").value.trim(),
    ivr, queue: $("sim-queue").value.trim(),
  };
  let response;
  let result;
  try {
    response = await fetch("/sim/calls", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
    });
    result = await response.json();
  } catch (error) {
    $("sim-result").textContent = `The simulator cannot be reached (${error.message}).`;
    return;
  }
  $("sim-result").textContent = response.ok
    ? `Ringing agent ${result.agent}: call ${result.call_id}`
    : `Refused: ${JSON.stringify(result.detail)}`;
  refreshCalls();
}

async function farEnd(callId, action) {
  await fetch(`/sim/calls/${encodeURIComponent(callId)}/${action}`, { method: "POST" }).catch(() => {});
  refreshCalls();
}

async function refreshCalls() {
  let calls;
  try {
    const response = await fetch("/sim/calls");
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    calls = await response.json();
  } catch (error) {
    $("sim-result").textContent = `The simulator cannot be reached (${error.message}).`;
    return;
  }
  $("calls").replaceChildren(...calls.map((c) => {
    const row = document.createElement("tr");
    for (const text of [c.call_id, c.agent, c.ani || c.far, c.state]) {
      const td = document.createElement("td");
      td.textContent = text;
      row.append(td);
    }
    const td = document.createElement("td");
    const action = (label, path) => {
      const button = document.createElement("button");
      button.className = "btn";
      button.textContent = label;
      button.addEventListener("click", () => farEnd(c.call_id, path));
      td.append(button);
    };
    if (c.state === "dialing" && c.direction === "outbound") {
      action("Far end answers", "far-answer");
      action("Far end busy", "far-busy");
    }
    action("Far end hangs up", "hangup");
    row.append(td);
    return row;
  }));
}

// `?mode=Classic` opens the console in that mode: one framing, no reload of the softphone.
function askedMode() {
  const asked = new URLSearchParams(location.search).get("mode");
  return [...$("mode").options].some((o) => o.value === asked) ? asked : null;
}

async function main() {
  const mode = askedMode();
  if (mode) $("mode").value = mode;
  const agents = await (await fetch("/sim/agents")).json();
  $("sim-agent").replaceChildren(...agents.map((a) => new Option(a, a)));
  $("simulate").addEventListener("submit", simulate);
  $("mode").addEventListener("change", loadSoftphone);
  $("tab-home").addEventListener("click", () => selectTab($("tab-home")));
  $("phone-toggle").addEventListener("click", () => setPanelVisible($("phone-panel").hidden));
  $("find-record").addEventListener("submit", findRecord);
  softphoneOrigin = await findSoftphone();
  $("framing").textContent = softphoneOrigin === location.origin
    ? `Softphone framed from this site (${softphoneOrigin})`
    : `Softphone framed cross-site from ${softphoneOrigin}, as Salesforce frames it`;
  loadSoftphone();
  setInterval(refreshCalls, 2000);
  refreshCalls();
  // Framed once, from the right site: a mode switch from now on reframes it (tests wait here).
  document.body.dataset.console = "ready";
}

main();
