// The agent websocket: reconnects by itself with capped backoff and resumes from a snapshot.
// A connection can die without a word (a cut cable, a sleeping laptop): a ping that gets no
// answer, or the browser going offline, ends it, and the reconnect loop takes over.
// Every wait is jittered, so a whole floor of pages cut at once does not come back at once; a
// server too busy to take the page now (1013 "busy; retry after N") is given the time it asks.
const PROTOCOL = "softphone.v2";
const PING_EVERY_MS = 20000;
const ANSWER_WITHIN_MS = 10000;

export class AgentSocket {
  // `extraProtocols`: offered besides ours; the Voice connector names itself this way.
  constructor({ url, token, onMessage, onStatus, onUnauthorized, extraProtocols = [] }) {
    this.url = url;
    this.token = token;
    this.extraProtocols = extraProtocols;
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.onUnauthorized = onUnauthorized;
    this.delay = 500;
    this.closed = false;
    this.lastSeq = 0;
    this.retry = null;
    this.pinger = null;
    this.deadline = null;
    this.offline = () => this.drop();
    this.online = () => this.retryNow();
    window.addEventListener("offline", this.offline);
    window.addEventListener("online", this.online);
  }

  open() {
    clearTimeout(this.retry);
    this.retry = null;
    this.onStatus({ state: "connecting" });
    // Without a token (a resumed session) the browser's session cookie signs the socket in.
    const protocols = this.token ? [PROTOCOL, `auth.${this.token}`] : [PROTOCOL];
    const ws = new WebSocket(this.url, [...protocols, ...this.extraProtocols]);
    this.ws = ws;
    ws.onopen = () => {
      // The server opens with a snapshot (welcome); the backoff is reset only once it came,
      // since a busy server also opens before it says so.
      this.onStatus({ state: "connected" });
      this.startPings();
    };
    ws.onmessage = (event) => {
      clearTimeout(this.deadline);
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === "error" && message.code === "unauthorized") {
        this.closed = true;
        this.onUnauthorized();
        return;
      }
      if (message.type === "pong") return;
      if (message.type === "error" && message.code === "busy") return; // the close says when
      if (message.type === "welcome") {
        this.delay = 500;
        this.lastSeq = message.seq;
      } else if (typeof message.seq === "number") {
        // Calls, agent state, call logs and agent data share one numbered stream per agent.
        if (message.seq <= this.lastSeq) return; // already in the snapshot
        // A gap means an event went missing: ask for a fresh snapshot.
        if (message.seq > this.lastSeq + 1) this.send({ type: "hello", last_seq: this.lastSeq });
        this.lastSeq = message.seq;
      }
      this.onMessage(message);
    };
    ws.onclose = (event) => {
      this.stopPings();
      if (this.closed || ws !== this.ws) return;
      const busy = event?.code === 1013 && /retry after (\d+)/.exec(event.reason || "");
      const wait = busy ? Number(busy[1]) * 1000 : this.delay;
      const jittered = wait * (busy ? 1 : 0.5) + Math.random() * (busy ? 1000 : wait * 0.5);
      const seconds = Math.max(1, Math.round(jittered / 1000));
      this.onStatus({ state: busy ? "busy" : "reconnecting", seconds });
      this.retry = setTimeout(() => this.closed || this.open(), jittered);
      if (!busy) this.delay = Math.min(this.delay * 2, 10000);
    };
  }

  startPings() {
    this.stopPings();
    this.pinger = setInterval(() => {
      if (!this.send({ type: "ping" })) return;
      clearTimeout(this.deadline);
      this.deadline = setTimeout(() => this.drop(), ANSWER_WITHIN_MS);
    }, PING_EVERY_MS);
  }

  stopPings() {
    clearInterval(this.pinger);
    clearTimeout(this.deadline);
  }

  // The connection is gone even if the socket has not noticed: close it and reconnect.
  drop() {
    if (this.closed || !this.ws) return;
    const ws = this.ws;
    if (ws.readyState === WebSocket.CLOSED) return;
    ws.onclose?.();
    ws.onclose = null;
    ws.onmessage = null;
    ws.close();
  }

  // The network is back: do not sit out the rest of the backoff.
  retryNow() {
    if (this.closed || !this.retry) return;
    this.delay = 500;
    this.open();
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  close() {
    this.closed = true;
    this.stopPings();
    clearTimeout(this.retry);
    window.removeEventListener("offline", this.offline);
    window.removeEventListener("online", this.online);
    if (this.ws) this.ws.close(1000);
  }
}
