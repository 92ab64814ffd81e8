// Demo stand-in for Salesforce's Open CTI script, served by the demo console at the paths
// Salesforce uses. It implements the calls the softphone makes by postMessage to the console,
// the way the real script talks to the Salesforce page that frames the softphone.
(function () {
  "use strict";
  var params = new URLSearchParams(window.location.search);
  // As the real scripts: Lightning reads sfdcIframeOrigin, Classic sfdcIFrameOrigin + nonce.
  var hostOrigin = params.get("sfdcIframeOrigin") || params.get("sfdcIFrameOrigin");
  if (!hostOrigin) throw new Error("Open CTI: sfdcIframeOrigin is missing");
  var pending = new Map();
  var nextId = 1;
  var clickToDialListener = null;

  function post(method, args, callback, shape) {
    // The real Classic script silently posts nothing without its nonce; so does this one.
    if (shape !== "lightning" && shape && !params.get("nonce")) return;
    var id = nextId++;
    if (typeof callback === "function") pending.set(id, { callback: callback, shape: shape });
    window.parent.postMessage({ sfStandin: 1, id: id, method: method, args: args || {} }, hostOrigin);
  }

  window.addEventListener("message", function (event) {
    var data = event.data;
    if (event.source !== window.parent || event.origin !== hostOrigin || !data || data.sfStandin !== 1) return;
    if (data.event === "clickToDial") {
      if (clickToDialListener) clickToDialListener(data.payload);
      return;
    }
    var entry = pending.get(data.id);
    if (!entry) return;
    pending.delete(data.id);
    var r = data.response || {};
    // Classic answers {result, error}: runApex's result is the Apex method's string, the other
    // calls' result is true on success.
    var classicResult = entry.shape === "classicJson" ? JSON.stringify(r.returnValue || {})
      : typeof r.returnValue === "string" ? r.returnValue : !!r.success;
    entry.callback(entry.shape !== "lightning"
      ? { result: r.success ? classicResult : null, error: r.success ? null : r.errors }
      : { success: !!r.success, returnValue: r.returnValue, errors: r.errors || null });
  });

  // Like the real script, Lightning methods take one options object and nothing else.
  function lightning(method, optional) {
    return function (options) {
      if (arguments.length > 1 || (options === undefined ? !optional : typeof options !== "object")) {
        throw new Error("Open CTI " + method + ": expects one options object");
      }
      var args = Object.assign({}, options || {});
      var callback = args.callback;
      delete args.callback;
      delete args.listener;
      post(method, args, callback, "lightning");
    };
  }

  window.sforce = window.sforce || {};
  window.sforce.opencti = {
    SCREENPOP_TYPE: {
      SOBJECT: "sobject", URL: "url", OBJECTHOME: "objecthome", LIST: "list",
      SEARCH: "search", NEW_RECORD_MODAL: "newRecord", FLOW: "flow",
    },
    CALL_TYPE: { INBOUND: "inbound", OUTBOUND: "outbound", INTERNAL: "internal" },
    screenPop: lightning("screenPop"),
    searchAndScreenPop: lightning("searchAndScreenPop"),
    runApex: lightning("runApex"),
    setSoftphonePanelVisibility: lightning("setSoftphonePanelVisibility"),
    enableClickToDial: lightning("enableClickToDial"),
    disableClickToDial: lightning("disableClickToDial"),
    notifyInitializationComplete: lightning("notifyInitializationComplete", true),
    setSoftphoneItemLabel: lightning("setSoftphoneItemLabel"),
    setSoftphoneItemIcon: lightning("setSoftphoneItemIcon"),
    getCallCenterSettings: lightning("getCallCenterSettings"),
    onClickToDial: function (options) {
      if (!options || typeof options.listener !== "function") {
        throw new Error("Open CTI onClickToDial: a listener is required");
      }
      clickToDialListener = options.listener;
      post("onClickToDial", {}, null);
    },
  };
  window.sforce.interaction = {
    screenPop: function (url, force, callback) {
      post("screenPop", { url: url, force: !!force }, callback, "classic");
    },
    runApex: function (apexClass, methodName, methodParams, callback) {
      post("runApex", { apexClass: apexClass, methodName: methodName, methodParams: methodParams },
        callback, "classic");
    },
    searchAndScreenPop: function (searchParams, queryParams, callType, callback) {
      post("searchAndScreenPop", { searchParams: searchParams, queryParams: queryParams,
        callType: callType }, callback, "classic");
    },
    setVisible: function (visible, callback) {
      post("setSoftphonePanelVisibility", { visible: !!visible }, callback, "classic");
    },
    cti: {
      notifyInitializationComplete: function () {
          post("notifyInitializationComplete", {}, null, "classic");
      },
      getCallCenterSettings: function (callback) {
        post("getCallCenterSettings", {}, callback, "classicJson");
      },
      enableClickToDial: function (callback) { post("enableClickToDial", {}, callback, "classic"); },
      disableClickToDial: function (callback) { post("disableClickToDial", {}, callback, "classic"); },
      onClickToDial: function (listener) {
        clickToDialListener = function (payload) { listener({ result: JSON.stringify(payload) }); };
        post("onClickToDial", {}, null, "classic");
      },
    },
  };
})();
