// Demo client for /demo: lets a person try the v1 JSON wire protocol against
// this node's WebSocket port and see every frame the server sends back.

const MAX_LOG_ENTRIES = 500; // older entries are dropped so the page stays fast

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const apiKey = params.get("key");
const withKey = (path) => (apiKey ? `${path}?key=${encodeURIComponent(apiKey)}` : path);

let socket = null;
let nextId = 1;

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

function logReceived(raw) {
  if (typeof raw !== "string") {
    const size = raw.byteLength ?? raw.size ?? 0;
    appendEntry("frame", `\u2190 binary frame, ${size} bytes`, null, { "data-type": "binary" });
    return;
  }
  let frame;
  try {
    frame = JSON.parse(raw);
  } catch {
    appendEntry("frame", "\u2190 text (not JSON)", raw, { "data-type": "text" });
    return;
  }
  const type = frame && typeof frame.type === "string" ? frame.type : "unknown";
  appendEntry("frame", `\u2190 ${type}`, JSON.stringify(frame, null, 2), { "data-type": type });
  if (type === "welcome") {
    $("connection-id").textContent = String(frame.connection_id ?? "\u2013");
    $("ws-node").textContent = String(frame.node ?? "\u2013");
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

function send(message) {
  if (!socket || socket.readyState !== WebSocket.OPEN) {
    note("not connected");
    return;
  }
  const text = JSON.stringify(message);
  socket.send(text);
  // Sent frames are logged too, but without the "frame" class: tests and
  // readers count .frame as "received from the server".
  appendEntry("sent", `\u2192 ${message.type}`, JSON.stringify(message, null, 2), {
    "data-sent-type": message.type,
  });
}

const requestId = () => String(nextId++);

function channel() {
  return $("channel-input").value.trim();
}

const actions = {
  "echo-send": () => send({ type: "echo", data: readData("echo-input"), id: requestId() }),
  "broadcast-send": () => send({ type: "broadcast", data: readData("broadcast-input") }),
  "subscribe-send": () => send({ type: "subscribe", channel: channel(), id: requestId() }),
  "unsubscribe-send": () => send({ type: "unsubscribe", channel: channel(), id: requestId() }),
  "publish-send": () =>
    send({ type: "publish", channel: channel(), data: readData("publish-input"), id: requestId() }),
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
    const response = await fetch(withKey("/dashboard/config.json"));
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

let url = null;

function connect() {
  if (socket) {
    // Detach first so the old socket's late events do not touch the page.
    socket.onclose = socket.onmessage = null;
    socket.close(1000);
  }
  setStatus("connecting", "connecting");
  setSendEnabled(false);
  $("connection-id").textContent = "\u2013";
  $("ws-node").textContent = "\u2013";
  note(`connecting to ${url}`);
  let ws;
  try {
    ws = new WebSocket(url);
  } catch (error) {
    // A malformed ?ws= override throws synchronously.
    setStatus("closed", "disconnected");
    note(`cannot connect: ${error.message}`);
    return;
  }
  ws.binaryType = "arraybuffer";
  ws.onopen = () => {
    setStatus("open", "connected");
    setSendEnabled(true);
  };
  ws.onmessage = (event) => logReceived(event.data);
  ws.onclose = (event) => {
    setStatus("closed", "disconnected");
    setSendEnabled(false);
    const reason = event.reason ? `: ${event.reason}` : "";
    note(`closed, code ${event.code}${reason}`);
  };
  socket = ws;
}

async function start() {
  for (const [id, action] of Object.entries(actions)) $(id).addEventListener("click", action);
  for (const [input, button] of Object.entries(enterSends)) {
    $(input).addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !$(button).disabled) $(button).click();
    });
  }
  $("reconnect").addEventListener("click", connect);
  $("disconnect").addEventListener("click", () => socket && socket.close(1000, "closed by user"));
  $("clear-log").addEventListener("click", () => $("log").replaceChildren());
  $("dashboard-link").href = withKey("/dashboard");
  setSendEnabled(false);

  url = await resolveUrl();
  $("ws-url").textContent = url;
  connect();
}

start();
