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
// Subscriptions the server makes (an unasked "subscribed" frame) are Subscriptions like the
// client's own, handed to onSubscribed; "unsubscribed" ends one (onUnsubscribed); both kinds
// resume after a reconnect, also when the server makes one again as the client comes back.
//
// This file is the canonical copy: it lives in the Python package
// (src/switchboard/admin/dashboard/client/), which every node serves as
// /client/switchboard.js; clients/js/switchboard.js is the npm package's copy of it.

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

/** Error codes of a refused resume worth a reconnect (any other ends a server-made one). */
const RETRY_CODES = new Set(["UNAVAILABLE", "RATE_LIMIT_EXCEEDED", "INTERNAL_ERROR"]);

/** One channel followed: where it is (`offset` in `epoch`), its callbacks, who made it.
 * Messages that come while it has no onMessage (a server-made one, until the application
 * sets it) are kept, up to `heldMax` (the oldest dropped past that, counted in `dropped`),
 * and handed over in order the moment onMessage is set. */
export class Subscription {
  constructor(channel, onMessage = null, onUnrecovered = null, options = {}) {
    this.channel = channel;
    this.onUnrecovered = onUnrecovered;
    this.offset = null;
    this.epoch = null;
    this.unrecovered = 0;
    this.server = options.server ?? false;
    this.active = true;
    this.dropped = 0;
    this._onMessage = onMessage;
    this._held = [];
    this._heldMax = Math.max(options.heldMax ?? 1000, 1);
    this._call = options.call ?? ((callback, ...args) => callback(...args));
    this._acked = false; // established once: resumed after every reconnect
    this._live = false; // established on the current connection
    this._repairing = null; // messages held while the client fills a gap
  }

  get onMessage() { return this._onMessage; }

  set onMessage(callback) {
    this._onMessage = callback;
    while (callback && this._held.length && this._onMessage === callback) {
      this._call(callback, this._held.shift());
    }
  }

  /** One message frame: passed on (or kept) unless it is one it had already. */
  deliver(frame) {
    if (this.offset !== null && frame.offset <= this.offset) return; // had it already
    this.offset = frame.offset;
    if (this._onMessage) {
      this._call(this._onMessage, frame);
      return;
    }
    if (this._held.length >= this._heldMax) {
      this._held.shift();
      this.dropped += 1;
    }
    this._held.push(frame);
  }

  /** Where the server says the channel is: in another epoch that is the new position; in
   * the same one the subscription keeps whichever is further. */
  _moved(offset, epoch) {
    if (this.epoch !== epoch || this.offset === null || offset > this.offset) this.offset = offset;
    this.epoch = epoch;
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
    this.onClose = options.onClose ?? null;
    this.onSubscribed = options.onSubscribed ?? null;
    this.onUnsubscribed = options.onUnsubscribed ?? null;
    this.heldMessages = options.heldMessages ?? 1000;
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

  /** `callback(frame)` for every frame of `type` that answers no request; `"*"`: every
   * frame the server sends (answers included), before the client handles it. */
  on(type, callback) {
    if (!this._handlers.has(type)) this._handlers.set(type, []);
    this._handlers.get(type).push(callback);
  }

  /** The channels followed now, the client's and the server's (a copy). */
  get subscriptions() { return new Map(this._subscriptions); }

  /** Follow `channel`: onMessage(frame) in order, once each, across reconnects. For a
   * channel the server subscribed the client to, that subscription takes the callbacks. */
  async subscribe(channel, onMessage, onUnrecovered = null) {
    const existing = this._subscriptions.get(channel);
    if (existing && existing.server) {
      if (onUnrecovered) existing.onUnrecovered = onUnrecovered;
      existing.onMessage = onMessage;
      return existing;
    }
    const subscription = this._new(channel, onMessage, onUnrecovered, false);
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
    const subscription = this._subscriptions.get(channel);
    if (subscription) subscription.active = false;
    this._subscriptions.delete(channel);
    return this.request("unsubscribe", { channel });
  }

  _new(channel, onMessage, onUnrecovered, server) {
    const call = (callback, ...args) => this._call(callback, ...args);
    return new Subscription(channel, onMessage, onUnrecovered,
      { server, heldMax: this.heldMessages, call });
  }

  _subscribe(subscription, repair = false) {
    const fields = { channel: subscription.channel };
    const recovering = subscription.epoch !== null && subscription.offset !== null;
    if (recovering) fields.recover_from = { offset: subscription.offset, epoch: subscription.epoch };
    // Runs as the ack is read, before the publications that follow it.
    fields._onAnswer = (ack) => {
      if (subscription._repairing !== null && !repair) {
        // The server made it again meanwhile from past this client's position, and this
        // subscribe was allowed: unsubscribe and recover the gap.
        subscription._live = true;
        this._repair(subscription);
        return;
      }
      subscription._repairing = null; // what it held comes again after this ack
      subscription._acked = subscription._live = true;
      if (recovering && ack.recovered === undefined) return; // live already (server-made)
      if (recovering && ack.recovered) subscription.epoch = ack.epoch ?? "";
      else subscription._moved(ack.offset ?? 0, ack.epoch ?? "");
      if (recovering && !ack.recovered) this._unrecovered(subscription, ack);
    };
    return this.request("subscribe", fields);
  }

  /** Subscribe again after a reconnect, from where it was (unless it is live already). */
  async _resume(subscription) {
    if (!subscription.active || !subscription._acked || subscription._live) return;
    try {
      await this._subscribe(subscription);
    } catch (error) {
      if (!(error instanceof SwitchboardError)) throw error;
      if (subscription._repairing !== null) this._keepServers(subscription);
      else if (subscription.server && !RETRY_CODES.has(error.code)) this._ended(subscription, error.frame);
      else throw error;
    }
  }

  /** Fill the gap between where the client was and where the server subscribed it. */
  async _repair(subscription) {
    try {
      await this.request("unsubscribe", { channel: subscription.channel });
      await this._subscribe(subscription, true);
    } catch (error) {
      if (error instanceof SwitchboardError && subscription.active) this._ended(subscription, error.frame);
      // otherwise the connection dropped: the next one resumes it
    }
  }

  /** The client may not subscribe itself, but the server did: go on from the server's
   * position; what was missed before it cannot be recovered. */
  _keepServers(subscription) {
    const [start, ...held] = subscription._repairing;
    subscription._repairing = null;
    subscription._live = true;
    subscription.offset = start.offset ?? 0;
    subscription.epoch = start.epoch ?? "";
    this._unrecovered(subscription, start);
    for (const frame of held) subscription.deliver(frame);
  }

  _unrecovered(subscription, frame) {
    subscription.unrecovered += 1;
    if (subscription.onUnrecovered) this._call(subscription.onUnrecovered, subscription, frame);
  }

  /** An unasked "subscribed": a new subscription, or one the client has already. */
  _serverSubscribed(frame) {
    const offset = frame.offset ?? 0;
    const epoch = frame.epoch ?? "";
    let subscription = this._subscriptions.get(frame.channel);
    if (!subscription) {
      subscription = this._new(frame.channel, null, null, true);
      subscription.offset = offset;
      subscription.epoch = epoch;
      subscription._acked = subscription._live = true;
      this._subscriptions.set(frame.channel, subscription);
      if (this.onSubscribed) this._call(this.onSubscribed, subscription, frame);
    } else if (subscription._live || subscription._repairing !== null) {
      // the same subscription, made again on top: its messages come once
    } else if (!subscription._acked) { // the client's first subscribe is under way
      subscription._moved(offset, epoch);
      subscription._live = true;
    } else if (subscription.epoch === epoch && (subscription.offset ?? 0) >= offset) {
      subscription._live = true; // nothing missed: this is where it goes on
    } else {
      // Resumed from further back than the server's start: hold its messages until the
      // resume's answer says whether the client may fill the gap (see _subscribe).
      subscription._repairing = [frame];
    }
  }

  /** `subscription` ended without the client asking (`frame` says why). */
  _ended(subscription, frame) {
    if (this._subscriptions.get(subscription.channel) === subscription) {
      this._subscriptions.delete(subscription.channel);
    }
    subscription.active = false;
    subscription._repairing = null;
    if (this.onUnsubscribed) this._call(this.onUnsubscribed, subscription, frame);
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
    for (const callback of this._handlers.get("*") || []) this._call(callback, frame);
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
      if (subscription._repairing !== null) subscription._repairing.push(frame);
      else subscription.deliver(frame);
      return;
    }
    if (frame.type === "subscribed" && frame.channel !== undefined) this._serverSubscribed(frame);
    if (frame.type === "unsubscribed" && frame.channel !== undefined) {
      const subscription = this._subscriptions.get(frame.channel);
      if (subscription) this._ended(subscription, frame);
    }
    if (frame.type === "*") return; // not a type a server sends; never call the tap twice
    for (const callback of this._handlers.get(frame.type) || []) this._call(callback, frame);
  }

  async _resubscribe() {
    const resuming = [...this._subscriptions.values()];
    for (const subscription of resuming) {
      subscription._live = false; // nothing is live on a new connection yet
      subscription._repairing = null;
    }
    try {
      for (const subscription of resuming) await this._resume(subscription);
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
    const again = !this._closing && this.reconnect && (TOKEN_CODES.has(code)
      ? typeof this.token === "function"
      : RECONNECT_CODES.has(code));
    if (this.onClose) this._call(this.onClose, { code, reason, reconnecting: again });
    if (this._closing) return;
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
