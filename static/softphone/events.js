// The page's one event emitter. The socket's message router and the feature modules say what
// happened (emit); whoever cares subscribes (on). So no feature module imports another to tell
// it news, and none imports render.js: "changed" asks for a redraw, and render.js listens.
// Handlers run at once, in the order they subscribed, as the direct calls they replace did.
// Topics: "changed" (redraw; render.js), "status" (the agent's state; call-screen.js),
// "live_log" (a log the agent can still change; wrap-up.js), "settings_saved" and
// "settings_refused" (settings.js), "search_results" and "search_error" (search.js).
const handlers = new Map();

export function on(topic, handler) {
  if (!handlers.has(topic)) handlers.set(topic, []);
  handlers.get(topic).push(handler);
}

export function emit(topic, payload) {
  for (const handler of handlers.get(topic) || []) handler(payload);
}
