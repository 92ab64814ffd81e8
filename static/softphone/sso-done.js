// The last page of "Sign in with Salesforce" (a popup): hand the outcome to the softphone page
// that opened it, on our own origin only, then close. The server put the outcome in a JSON
// element because the page's CSP runs no inline script.
let result = { type: "softphone-sso", error: "failed" };
try {
  result = JSON.parse(document.getElementById("sso-result").textContent);
} catch {
  // keep the generic failure
}
if (window.opener) {
  window.opener.postMessage(result, location.origin);
  // On a refusal the page stays open: it says why, in words the agent can read. Asked for
  // the phone they are at, a hot-desk agent answers on the softphone page, which says so.
  if (result.token || result.error === "extension_required") window.close();
}
