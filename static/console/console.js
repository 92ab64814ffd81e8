// The demo console: frames the softphone as Salesforce does, answers its Open CTI calls,
// shows each pop as a record tab, and drives the PBX simulator.
const $ = (id) => document.getElementById(id);
const frame = $("softphone");
let tabCount = 0;

// Frames the softphone with the parameters Salesforce appends: Lightning says sfdcIframeOrigin,
// Classic says sfdcIFrameOrigin (capital F); both carry a nonce.
function loadSoftphone() {
  const mode = $("mode").value;
  const nonce = crypto.randomUUID();
  const params = mode === "Lightning"
    ? new URLSearchParams({ mode, sfdcIframeOrigin: location.origin, nonce })
    : new URLSearchParams({ mode, sfdcIFrameOrigin: location.origin, nonce });
  frame.src = `/softphone/softphone.html?${params}`;
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
      dd.textContent = value == null ? "" : String(value);
      list.append(dt, dd);
    }
  } else {
    heading.textContent = `Record ${recordId}`;
  }
  panel.append(heading, list);
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
  if (event.source !== frame.contentWindow || event.origin !== location.origin || data?.sfStandin !== 1) return;
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
  }
  frame.contentWindow.postMessage({ sfStandin: 1, id: data.id, response }, location.origin);
});

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

async function main() {
  const agents = await (await fetch("/sim/agents")).json();
  $("sim-agent").replaceChildren(...agents.map((a) => new Option(a, a)));
  $("simulate").addEventListener("submit", simulate);
  $("mode").addEventListener("change", loadSoftphone);
  $("tab-home").addEventListener("click", () => selectTab($("tab-home")));
  $("phone-toggle").addEventListener("click", () => setPanelVisible($("phone-panel").hidden));
  loadSoftphone();
  setInterval(refreshCalls, 2000);
  refreshCalls();
}

main();
