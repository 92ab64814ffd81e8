// What a "Sign in with Salesforce" that did not finish says, as a translation key: shared by
// the softphone page and the Salesforce Voice connector.
const REFUSALS = {
  no_agent: "errorSsoNoAgent",
  denied: "errorSsoDenied",
  seats_full: "errorSeatsFull",
};

export function ssoRefusalKey(error) {
  return REFUSALS[error] || "errorSsoFailed";
}
