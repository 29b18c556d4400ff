// Demo client for /demo: lets a person try the v1 JSON wire protocol against this node's
// WebSocket port through the JavaScript client (the same module as clients/js, served by
// the node as /client/switchboard.js), and see every frame the server sends back.
// Subscriptions resume after a reconnect from their last offset, as the client does.

import { Client } from "/client/switchboard.js";

const MAX_LOG_ENTRIES = 500; // older entries are dropped so the page stays fast

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

let client = null;
let url = null;
// The current client's subscriptions, by channel (the client's own objects: it keeps
// their offset and epoch, which it sends back as recover_from when it reconnects).
const subscriptions = new Map();

// --- log ----------------------------------------------------------------------

function timeStamp() {
  const d = new Date();
  return d.toTimeString().slice(0, 8) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

// Everything shown here may come from other clients (broadcasts, channel
// messages), so it is only ever set with textContent, never parsed as HTML.
function appendEntry(className, meta, body, attributes = {}) {
  const log = $("log");
  // Follow new entries only when the reader is already at the bottom, so
  // scrolling back to read an old frame is not yanked away.
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 24;
  const entry = document.createElement("div");
  entry.className = `entry ${className}`;
  for (const [name, value] of Object.entries(attributes)) entry.setAttribute(name, value);
  const head = document.createElement("div");
  head.className = "meta";
  head.textContent = `${timeStamp()}  ${meta}`;
  entry.append(head);
  if (body != null) {
    const pre = document.createElement("pre");
    pre.textContent = body;
    entry.append(pre);
  }
  log.append(entry);
  while (log.childElementCount > MAX_LOG_ENTRIES) log.firstElementChild.remove();
  if (atBottom) log.scrollTop = log.scrollHeight;
}

const note = (text) => appendEntry("note", text, null);

// The client's "*" tap: every frame the server sends, answers included.
function logReceived(frame) {
  const type = frame && typeof frame.type === "string" ? frame.type : "unknown";
  appendEntry("frame", `\u2190 ${type}`, JSON.stringify(frame, null, 2), { "data-type": type });
  if (type === "welcome") {
    $("connection-id").textContent = String(frame.connection_id ?? "\u2013");
    $("ws-node").textContent = String(frame.node ?? "\u2013");
    // The tap runs before the client counts this connection.
    $("ws-connects").textContent = String(client ? client.connections + 1 : 1);
    setStatus("open", "connected");
    setSendEnabled(true);
    renderSubscriptions();
  }
}

// --- sending --------------------------------------------------------------------

// Input is data: valid JSON goes as JSON (so {"a":1} is an object and 5 a
// number), anything else as the string the person typed.
function readData(inputId) {
  const text = $(inputId).value;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

// Sent frames are logged too, but without the "frame" class: tests and readers count
// .frame as "received from the server". The client adds the request id.
function logSent(type, fields) {
  appendEntry("sent", `\u2192 ${type}`, JSON.stringify({ type, ...fields }, null, 2), {
    "data-sent-type": type,
  });
}

// The answer (ack, reply or error frame) is in the log already, through the tap;
// here only what the log cannot show: a request that never got one.
async function run(type, fields, call) {
  if (!client || !client.welcome) {
    note("not connected");
    return;
  }
  logSent(type, fields);
  try {
    await call();
  } catch (error) {
    if (error.name !== "SwitchboardError") note(`${type}: ${error.message}`);
  }
}

function channel() {
  return $("channel-input").value.trim();
}

function renderSubscriptions() {
  const rows = [];
  for (const sub of subscriptions.values()) {
    const dt = document.createElement("dt");
    dt.textContent = sub.channel;
    const dd = document.createElement("dd");
    dd.dataset.channel = sub.channel;
    const missed = sub.unrecovered ? `, ${sub.unrecovered} not recovered` : "";
    dd.textContent = `offset ${sub.offset ?? "\u2013"}, epoch ${sub.epoch || "\u2013"}${missed}`;
    rows.push(dt, dd);
  }
  $("subscriptions").replaceChildren(...rows);
}

function subscribe() {
  const name = channel();
  return run("subscribe", { channel: name }, async () => {
    const sub = await client.subscribe(
      name,
      () => renderSubscriptions(),
      (lost) => {
        note(`${lost.channel}: the server could not recover what was missed`);
        renderSubscriptions();
      },
    );
    subscriptions.set(name, sub);
    renderSubscriptions();
  });
}

function unsubscribe() {
  const name = channel();
  return run("unsubscribe", { channel: name }, async () => {
    const done = client.unsubscribe(name);
    subscriptions.delete(name);
    renderSubscriptions();
    await done;
  });
}

const actions = {
  "echo-send": () => {
    const data = readData("echo-input");
    return run("echo", { data }, () => client.request("echo", { data }));
  },
  "broadcast-send": () => {
    const data = readData("broadcast-input");
    return run("broadcast", { data }, () => client.broadcast(data));
  },
  "subscribe-send": subscribe,
  "unsubscribe-send": unsubscribe,
  "presence-send": () => {
    const name = channel();
    return run("presence", { channel: name }, () => client.request("presence", { channel: name }));
  },
  "publish-send": () => {
    const data = readData("publish-input");
    const name = channel();
    return run("publish", { channel: name, data }, () => client.publish(name, data));
  },
};

// Enter in an input presses the button next to it.
const enterSends = {
  "echo-input": "echo-send",
  "broadcast-input": "broadcast-send",
  "channel-input": "subscribe-send",
  "publish-input": "publish-send",
};

function setSendEnabled(enabled) {
  for (const id of Object.keys(actions)) $(id).disabled = !enabled;
  $("disconnect").disabled = !enabled;
}

// --- connection -------------------------------------------------------------------

function setStatus(state, text) {
  const el = $("ws-status");
  el.dataset.state = state;
  el.textContent = text;
}

async function resolveUrl() {
  const override = params.get("ws");
  if (override) return override;
  let config = {};
  try {
    const response = await fetch("/dashboard/config.json");
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    config = await response.json();
  } catch (error) {
    note(`could not read /dashboard/config.json (${error.message}); assuming port 8080, path /ws`);
  }
  const tls = config.tls ?? location.protocol === "https:";
  const port = config.ws_port ?? 8080;
  const path = config.ws_path ?? "/ws";
  // location.hostname keeps IPv6 brackets, so the URL stays valid for [::1].
  return `${tls ? "wss" : "ws"}://${location.hostname}:${port}${path}`;
}

function onClose({ code, reason, reconnecting }, owner) {
  if (owner !== client) return; // an old client's late close
  setSendEnabled(false);
  const why = reason ? `: ${reason}` : "";
  if (reconnecting) {
    setStatus("connecting", "reconnecting");
    note(`closed, code ${code}${why}; reconnecting (subscriptions resume from their offsets)`);
  } else {
    setStatus("closed", "disconnected");
    note(`closed, code ${code}${why}`);
  }
}

// A new client each time: Disconnect ends one for good (no reconnect), Reconnect makes
// the next (its subscriptions start again from the form).
function connect() {
  if (client) client.close();
  setStatus("connecting", "connecting");
  setSendEnabled(false);
  $("connection-id").textContent = "\u2013";
  $("ws-node").textContent = "\u2013";
  note(`connecting to ${url}`);
  let made;
  try {
    // A malformed ?ws= would have the client retry it for ever: refuse it here.
    if (!["ws:", "wss:"].includes(new URL(url).protocol)) throw new Error("not a ws:// or wss:// URL");
    const token = params.get("token");
    made = new Client(url, { token, onClose: (event) => onClose(event, made) });
  } catch (error) {
    setStatus("closed", "disconnected");
    note(`cannot connect to ${url}: ${error.message}`);
    return;
  }
  made.on("*", logReceived);
  client = made;
  subscriptions.clear();
  renderSubscriptions();
  made.connect().catch((error) => note(`cannot connect: ${error.message}`));
}

async function start() {
  for (const [id, action] of Object.entries(actions)) $(id).addEventListener("click", action);
  for (const [input, button] of Object.entries(enterSends)) {
    $(input).addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !$(button).disabled) $(button).click();
    });
  }
  $("reconnect").addEventListener("click", connect);
  $("disconnect").addEventListener("click", () => client && client.close());
  $("clear-log").addEventListener("click", () => $("log").replaceChildren());
  setSendEnabled(false);

  url = await resolveUrl();
  $("ws-url").textContent = url;
  connect();
}

start();
