// switchboard.js: a dependency-free client for Switchboard (browsers, and Node with `ws`).
//
//   import { Client } from "./switchboard.js";
//   const client = new Client("wss://example.com/ws", { token: () => fetchToken() });
//   await client.connect();
//   await client.subscribe("room:1", (message) => show(message.data), (sub, ack) => resync());
//   await client.publish("room:1", { text: "hi" });
//
// The rules it keeps are those of docs/clients.md: reconnect after a close code that says
// so, waiting the close reason's reconnect_after_ms (a draining node sends one) or a
// full-jitter exponential backoff; resume every subscription with recover_from its last
// offset and epoch; call onUnrecovered when the server cannot recover; fail requests in
// flight when the connection drops (never send one twice); JSON (v1.json) frames.

/** Close codes after which the client reconnects (1006: dropped without a close frame). */
export const RECONNECT_CODES = new Set([1001, 1006, 1011, 1012, 1013, 4001, 4002, 4008]);
/** Refused tokens: reconnected only when `token` is a function (a fresh one each time). */
export const TOKEN_CODES = new Set([4401, 4403, 4410]);

/** The server answered a request with an error frame. */
export class SwitchboardError extends Error {
  constructor(frame) {
    super(`${frame.code}: ${frame.message || ""}`);
    this.name = "SwitchboardError";
    this.code = frame.code;
    this.frame = frame;
  }
}

/** The connection dropped (or was not up) before the request was answered. */
export class ConnectionLost extends Error {
  constructor(message) {
    super(message);
    this.name = "ConnectionLost";
  }
}

/** The `reconnect_after_ms` of a close reason, or null. */
export function reconnectHint(reason) {
  if (!reason || reason[0] !== "{") return null;
  try {
    const value = JSON.parse(reason).reconnect_after_ms;
    return typeof value === "number" && value >= 0 ? value : null;
  } catch {
    return null;
  }
}

export class Client {
  constructor(url, options = {}) {
    this.url = url;
    this.token = options.token ?? null;
    this.WebSocket = options.WebSocket ?? globalThis.WebSocket;
    if (!this.WebSocket) throw new Error("no WebSocket: pass { WebSocket } (Node: the ws package)");
    this.reconnect = options.reconnect ?? true;
    this.backoffBase = options.backoffBase ?? 500;
    this.backoffMax = options.backoffMax ?? 30000;
    this.requestTimeout = options.requestTimeout ?? 10000;
    this.welcome = null;
    this.connections = 0;
    this.closeCode = null;
    this._ws = null;
    this._nextId = 1;
    this._pending = new Map();
    this._subscriptions = new Map();
    this._handlers = new Map();
    this._closing = false;
    this._attempt = 0;
    this._waiters = [];
    this.closed = new Promise((resolve) => (this._resolveClosed = resolve));
  }

  /** Connect (and keep reconnecting); resolves with the first welcome. */
  connect() {
    const up = new Promise((resolve, reject) => this._waiters.push({ resolve, reject }));
    if (!this._ws) this._open();
    return up;
  }

  close() {
    this._closing = true;
    if (this._ws) this._ws.close(1000);
    this._finish(1000);
  }

  request(type, fields = {}) {
    const ws = this._ws;
    if (!ws || ws.readyState !== 1 || !this.welcome) {
      return Promise.reject(new ConnectionLost("not connected just now; try again"));
    }
    const id = this._nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._pending.delete(id);
        reject(new Error(`no answer to ${type} within ${this.requestTimeout} ms`));
      }, this.requestTimeout);
      this._pending.set(id, { resolve, reject, timer, onAnswer: fields._onAnswer });
      const message = { ...fields, type, id };
      delete message._onAnswer;
      ws.send(JSON.stringify(message));
    }).then((frame) => {
      if (frame.type === "error") throw new SwitchboardError(frame);
      return frame;
    });
  }

  publish(channel, data) { return this.request("publish", { channel, data }); }
  broadcast(data) { return this.request("broadcast", { data }); }
  echo(data) { return this.request("echo", { data }).then((frame) => frame.data); }
  send(data, { user, connection } = {}) {
    const to = connection !== undefined ? { connection } : { user };
    return this.request("send", { to, data });
  }

  /** `callback(frame)` for every frame of `type` that answers no request. */
  on(type, callback) {
    if (!this._handlers.has(type)) this._handlers.set(type, []);
    this._handlers.get(type).push(callback);
  }

  /** Follow `channel`: onMessage(frame) in order, once each, across reconnects. */
  async subscribe(channel, onMessage, onUnrecovered = null) {
    const subscription = { channel, onMessage, onUnrecovered, offset: null, epoch: null,
      unrecovered: 0, acked: false };
    this._subscriptions.set(channel, subscription);
    try {
      await this._subscribe(subscription);
    } catch (error) {
      this._subscriptions.delete(channel);
      throw error;
    }
    return subscription;
  }

  unsubscribe(channel) {
    this._subscriptions.delete(channel);
    return this.request("unsubscribe", { channel });
  }

  _subscribe(subscription) {
    const fields = { channel: subscription.channel };
    const recovering = subscription.epoch !== null && subscription.offset !== null;
    if (recovering) fields.recover_from = { offset: subscription.offset, epoch: subscription.epoch };
    // Runs as the ack is read, before the publications that follow it.
    fields._onAnswer = (ack) => {
      subscription.epoch = ack.epoch ?? "";
      if (!recovering || !ack.recovered) subscription.offset = ack.offset ?? 0;
      subscription.acked = true;
      if (recovering && !ack.recovered) {
        subscription.unrecovered += 1;
        if (subscription.onUnrecovered) this._call(subscription.onUnrecovered, subscription, ack);
      }
    };
    return this.request("subscribe", fields);
  }

  async _url() {
    if (this.token === null) return this.url;
    const token = typeof this.token === "function" ? await this.token() : this.token;
    const join = this.url.includes("?") ? "&" : "?";
    return `${this.url}${join}token=${encodeURIComponent(token)}`;
  }

  async _open() {
    let ws;
    try {
      ws = new this.WebSocket(await this._url(), ["v1.json"]);
    } catch (error) {
      this._retry(null);
      return;
    }
    this._ws = ws;
    this.welcome = null;
    ws.onmessage = (event) => this._frame(ws, JSON.parse(event.data));
    ws.onclose = (event) => this._closed(ws, event.code || 1006, event.reason || "");
    ws.onerror = () => {}; // the close that follows says what happened
  }

  _frame(ws, frame) {
    if (frame.type === "welcome" && !this.welcome) {
      this.welcome = frame;
      this.connections += 1;
      this._attempt = 0;
      this._resubscribe();
      return;
    }
    const pending = frame.id !== undefined ? this._pending.get(frame.id) : undefined;
    if (pending) {
      this._pending.delete(frame.id);
      clearTimeout(pending.timer);
      if (pending.onAnswer && frame.type !== "error") pending.onAnswer(frame);
      pending.resolve(frame);
      return;
    }
    if (frame.type === "message") {
      const subscription = this._subscriptions.get(frame.channel);
      if (!subscription) return;
      if (subscription.offset !== null && frame.offset <= subscription.offset) return; // had it
      subscription.offset = frame.offset;
      this._call(subscription.onMessage, frame);
      return;
    }
    for (const callback of this._handlers.get(frame.type) || []) this._call(callback, frame);
  }

  async _resubscribe() {
    try {
      for (const subscription of this._subscriptions.values()) {
        if (subscription.acked) await this._subscribe(subscription);
      }
    } catch (error) {
      if (this._ws) this._ws.close(1000); // come back and try again
      return;
    }
    for (const waiter of this._waiters.splice(0)) waiter.resolve(this.welcome);
  }

  _closed(ws, code, reason) {
    if (ws !== this._ws) return;
    this._ws = null;
    for (const pending of this._pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(new ConnectionLost("the connection dropped"));
    }
    this._pending.clear();
    if (this._closing) return;
    const again = this.reconnect && (TOKEN_CODES.has(code)
      ? typeof this.token === "function"
      : RECONNECT_CODES.has(code));
    if (!again) {
      this._finish(code);
      return;
    }
    this._retry(reconnectHint(reason));
  }

  _retry(hintMs) {
    const ceiling = Math.min(this.backoffMax, this.backoffBase * 2 ** this._attempt);
    this._attempt += 1;
    const delay = hintMs !== null ? hintMs : Math.random() * ceiling; // full jitter
    setTimeout(() => { if (!this._closing) this._open(); }, delay);
  }

  _finish(code) {
    if (this.closeCode !== null) return;
    this.closeCode = code;
    for (const waiter of this._waiters.splice(0)) {
      waiter.reject(new ConnectionLost(`the server closed the connection (${code})`));
    }
    this._resolveClosed(code);
  }

  _call(callback, ...args) {
    try {
      const outcome = callback(...args);
      if (outcome && typeof outcome.catch === "function") outcome.catch((e) => console.error(e));
    } catch (error) {
      console.error(error); // the application's bug must not stop the client
    }
  }
}
