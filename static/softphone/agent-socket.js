// The agent websocket: reconnects by itself with capped backoff and resumes from a snapshot.
const PROTOCOL = "softphone.v2";

export class AgentSocket {
  constructor({ url, token, onMessage, onStatus, onUnauthorized }) {
    this.url = url;
    this.token = token;
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.onUnauthorized = onUnauthorized;
    this.delay = 500;
    this.closed = false;
    this.lastSeq = 0;
  }

  open() {
    this.onStatus({ state: "connecting" });
    const ws = new WebSocket(this.url, [PROTOCOL, `auth.${this.token}`]);
    this.ws = ws;
    ws.onopen = () => {
      // The server opens with a snapshot (welcome); nothing to ask for here.
      this.delay = 500;
      this.onStatus({ state: "connected" });
    };
    ws.onmessage = (event) => {
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
      if (message.type === "welcome") {
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
    ws.onclose = () => {
      if (this.closed) return;
      const seconds = Math.round(this.delay / 100) / 10;
      this.onStatus({ state: "reconnecting", seconds });
      setTimeout(() => this.closed || this.open(), this.delay);
      this.delay = Math.min(this.delay * 2, 10000);
    };
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
    if (this.ws) this.ws.close(1000);
  }
}
