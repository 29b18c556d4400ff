// Live operator dashboard: reads the admin server's Server-Sent Events stream
// (/dashboard/stream) and draws headline numbers, charts and busy channels, and
// polls the management API's node registry (/api/v1/nodes) for the Nodes table.

import { LineChart, compactNumber } from "./charts.js";

// The charts' span: the server's dashboard_history (from config.json), as long
// as the samples it keeps; this until the config has arrived.
let windowSeconds = 300;
// The server sends a sample every second; this long without one means the
// stream is stuck even if the browser still thinks it is open.
const STALE_AFTER_MS = 5000;
const MB = 1024 * 1024;
// The registry refreshes each entry once a second; a few seconds is fresh enough.
const NODES_EVERY_MS = 3000;
const NODES_COLUMNS = 8;

// EventSource cannot send headers, so the API key travels in the query string,
// taken from this page's own URL (/dashboard?key=...).
const apiKey = new URLSearchParams(location.search).get("key");
const withKey = (path) => (apiKey ? `${path}?key=${encodeURIComponent(apiKey)}` : path);

const $ = (id) => document.getElementById(id);

const charts = {
  connections: new LineChart($("chart-connections"), {
    series: [{ label: "open" }], minMax: 5,
  }),
  // Connects and disconnects are often equal (0 at rest, a reconnect loop): the
  // connects line is drawn wide underneath, the disconnects one narrow and dashed
  // on top, so neither hides the other.
  churn: new LineChart($("chart-churn"), {
    series: [{ label: "connects", width: 4 }, { label: "disconnects", dash: [6, 3] }],
  }),
  messages: new LineChart($("chart-messages"), {
    series: [{ label: "in" }, { label: "out" }], minMax: 10,
  }),
  latency: new LineChart($("chart-latency"), {
    series: [{ label: "p50" }, { label: "p99" }], minMax: 0.1,
  }),
  memory: new LineChart($("chart-memory"), {
    series: [{ label: "resident" }], minMax: 10,
  }),
  cpu: new LineChart($("chart-cpu"), {
    series: [{ label: "process" }], minMax: 10,
  }),
};

let samples = [];
let lastSampleAt = 0;
let renderQueued = false;
let source = null;
let retryDelay = 1000;
let thisNode = null;
let nodesPolling = false;

function setStatus(state, text) {
  const el = $("status");
  el.dataset.state = state;
  el.textContent = text;
}

function showBanner(text) {
  const el = $("banner");
  el.textContent = text || "";
  el.hidden = !text;
}

// --- data -----------------------------------------------------------------

function addSamples(incoming, replace) {
  if (replace) samples = [];
  for (const s of incoming) {
    if (!s || typeof s.t !== "number") continue;
    // After a reconnect the history overlaps what we already have; keep time
    // strictly increasing so the charts never draw backwards.
    if (samples.length && s.t <= samples[samples.length - 1].t) continue;
    samples.push(s);
  }
  if (samples.length) {
    const cutoff = samples[samples.length - 1].t - windowSeconds;
    const firstKept = samples.findIndex((s) => s.t >= cutoff);
    if (firstKept > 0) samples.splice(0, firstKept);
  }
  lastSampleAt = Date.now();
  scheduleRender();
}

// Several events can land in one frame (history then a sample); draw once.
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    render();
  });
}

// --- rendering --------------------------------------------------------------

// Numbers the server may omit or send as null render as a dash, not "NaN".
function fmt(value, digits = 1) {
  if (value == null || !Number.isFinite(value)) return "\u2013";
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString();
  return value.toFixed(digits).replace(/\.0+$/, "");
}

// Limits are usually whole gigabytes; "8 GB" reads better than "8192 MB".
function sizeLabel(bytes) {
  const mb = bytes / MB;
  return mb >= 1024 ? `${fmt(mb / 1024)} GB` : `${fmt(mb)} MB`;
}

function render() {
  const times = samples.map((s) => s.t);
  const col = (pick) => samples.map((s) => {
    const v = pick(s);
    return typeof v === "number" ? v : null;
  });

  charts.connections.setData(times, [col((s) => s.connections)]);
  charts.churn.setData(times, [col((s) => s.opened_per_s), col((s) => s.closed_per_s)]);
  charts.messages.setData(times, [col((s) => s.messages_in_per_s), col((s) => s.messages_out_per_s)]);
  charts.latency.setData(times, [col((s) => s.p50_ms), col((s) => s.p99_ms)]);
  charts.memory.setData(times, [col((s) => (s.memory_bytes == null ? null : s.memory_bytes / MB))]);
  charts.cpu.setData(times, [col((s) => s.cpu_percent)]);

  const last = samples[samples.length - 1];
  if (!last) return;
  // Plain digits: tests and scripts read this element as an integer.
  $("connections").textContent = Number.isFinite(last.connections) ? String(last.connections) : "\u2013";
  $("messages-in").textContent = fmt(last.messages_in_per_s);
  $("messages-out").textContent = fmt(last.messages_out_per_s);
  $("memory").textContent = last.memory_bytes == null ? "\u2013" : fmt(last.memory_bytes / MB);
  $("memory-limit").textContent = last.memory_limit_bytes ? `limit ${sizeLabel(last.memory_limit_bytes)}` : "";
  $("cpu").textContent = fmt(last.cpu_percent);
  $("loop-lag").textContent = fmt(last.loop_lag_ms, 2);
  $("outbox").textContent = `${compactNumber(last.outbox_bytes || 0)}B`;
  $("bytes").textContent =
    `${compactNumber(last.bytes_in_per_s || 0)}B/s / ${compactNumber(last.bytes_out_per_s || 0)}B/s`;
  if (last.node) $("node").textContent = thisNode = last.node;
  renderChannels(Array.isArray(last.channels) ? last.channels : []);
}

// Channel names come from clients, so they are set as text, never as HTML.
function renderChannels(channels) {
  const body = $("channels");
  const rows = channels.map((c) => {
    const tr = document.createElement("tr");
    const name = document.createElement("td");
    name.textContent = String(c.channel);
    const count = document.createElement("td");
    count.className = "num";
    count.textContent = String(c.subscribers);
    tr.append(name, count);
    return tr;
  });
  if (!rows.length) {
    const tr = document.createElement("tr");
    tr.className = "empty";
    const td = document.createElement("td");
    td.colSpan = 2;
    td.textContent = "No channels with subscribers";
    tr.append(td);
    rows.push(tr);
  }
  body.replaceChildren(...rows);
}

// --- nodes ------------------------------------------------------------------

// Whole seconds as the two largest units: "42 s", "5 min 3 s", "2 h 10 min".
function duration(seconds) {
  if (!Number.isFinite(seconds)) return "\u2013";
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

// Registry times are the nodes' clocks: measure against the server's (the
// newest sample's time, moved on by the time since), not a skewed browser's.
function serverNow() {
  if (!samples.length) return Date.now() / 1000;
  return samples[samples.length - 1].t + (Date.now() - lastSampleAt) / 1000;
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

// A single row across the table: no nodes, or why the registry cannot be read.
function nodesNote(className, text) {
  const tr = document.createElement("tr");
  tr.className = className;
  const td = cell(text);
  td.colSpan = NODES_COLUMNS;
  tr.append(td);
  $("nodes").replaceChildren(tr);
}

// Node ids and URLs are configuration of other nodes: set as text, never HTML.
function renderNodes(nodes) {
  if (!nodes.length) {
    nodesNote("empty", "No node in the registry");
    return;
  }
  const now = serverNow();
  $("nodes").replaceChildren(...nodes.map((n) => {
    const tr = document.createElement("tr");
    tr.dataset.node = String(n.node_id);
    const name = cell(String(n.node_id));
    name.title = n.version ? `${n.url} \u00b7 v${n.version}` : String(n.url);
    if (n.node_id === thisNode) {
      tr.className = "self";
      const tag = document.createElement("span");
      tag.className = "tag";
      tag.textContent = "this node";
      name.append(tag);
    }
    const state = cell(String(n.state), "state");
    state.dataset.state = String(n.state);
    const cap = n.max_connections > 0 ? ` / ${fmt(n.max_connections, 0)}` : "";
    const age = now - n.updated_at;
    tr.append(
      name,
      state,
      cell(`${fmt(n.connections, 0)}${cap}`, "num connections"),
      cell(fmt(n.messages_per_s), "num"),
      cell(fmt(n.cpu_percent), "num"),
      cell(fmt(n.loop_lag_ms, 2), "num"),
      cell(duration(now - n.started_at), "num"),
      cell(age < 60 ? `${fmt(Math.max(age, 0))} s ago` : `${duration(age)} ago`, "num"),
    );
    return tr;
  }));
}

async function errorMessage(response) {
  try {
    return String((await response.json()).error.message);
  } catch {
    return response.statusText || "no details";
  }
}

// The management API takes the key in a header, which fetch (unlike
// EventSource) can send. Polls are chained, so a slow answer never overlaps.
async function pollNodes() {
  let retry = true;
  try {
    const response = await fetch("/api/v1/nodes", {
      headers: apiKey ? { "X-API-Key": apiKey } : {},
      cache: "no-store",
      signal: AbortSignal.timeout(2 * NODES_EVERY_MS),
    });
    if (response.ok) {
      const body = await response.json();
      renderNodes(Array.isArray(body.nodes) ? body.nodes : []);
    } else {
      // 401 (no api_key on the server, or the key was rejected) only changes
      // with a new page URL; 503 (the broker did not answer) may pass.
      retry = response.status !== 401;
      const why = await errorMessage(response);
      const next = retry ? "; retrying" : "";
      nodesNote("error", `Cannot read the node registry (HTTP ${response.status}): ${why}${next}`);
    }
  } catch (error) {
    nodesNote("error", `Cannot read the node registry (${error.message}); retrying`);
  }
  if (retry) setTimeout(pollNodes, NODES_EVERY_MS);
}

// --- stream -----------------------------------------------------------------

function parse(event) {
  try {
    return JSON.parse(event.data);
  } catch {
    return null;
  }
}

function connect() {
  setStatus("connecting", "connecting");
  source = new EventSource(withKey("/dashboard/stream"));
  source.addEventListener("open", () => {
    retryDelay = 1000;
    setStatus("live", "live");
    showBanner("");
    // Only once the key has proven good, so a page without one asks for it
    // once (the banner) instead of also failing in the Nodes table.
    if (!nodesPolling) {
      nodesPolling = true;
      pollNodes();
    }
  });
  source.addEventListener("history", (event) => {
    const data = parse(event);
    addSamples(Array.isArray(data) ? data : [], true);
  });
  source.addEventListener("sample", (event) => {
    const data = parse(event);
    if (data) addSamples([data], false);
  });
  source.addEventListener("error", () => {
    // CONNECTING means the browser is already retrying on its own (the
    // stream dropped). CLOSED means it gave up: a non-200 answer, which is
    // usually a missing or wrong key. EventSource hides the status, so ask.
    if (source.readyState === EventSource.CONNECTING) {
      setStatus("down", "reconnecting");
      return;
    }
    source.close();
    setStatus("down", "disconnected");
    diagnose().then((retry) => {
      if (!retry) return;
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 30000);
    });
  });
}

// Resolves to false when retrying cannot help: the key only changes when the
// operator reloads the page with a new URL.
async function diagnose() {
  const abort = new AbortController();
  try {
    const response = await fetch(withKey("/dashboard/stream"), { signal: abort.signal });
    if (response.status === 401 || response.status === 403) {
      setStatus("auth", "unauthorized");
      const rejected = apiKey ? " (the key in this URL was rejected)" : "";
      showBanner(`API key required: open /dashboard?key=...${rejected}`);
      return false;
    }
    if (!response.ok) {
      showBanner(`Stream unavailable (HTTP ${response.status}); retrying.`);
    }
  } catch {
    showBanner("Admin server unreachable; retrying.");
  } finally {
    // Only the status line was wanted; do not hold a second stream open.
    abort.abort();
  }
  return true;
}

// The stream can stall without an error event (a proxy holding the socket).
setInterval(() => {
  if ($("status").dataset.state === "live" && lastSampleAt && Date.now() - lastSampleAt > STALE_AFTER_MS) {
    setStatus("stale", "stale");
  } else if ($("status").dataset.state === "stale" && Date.now() - lastSampleAt <= STALE_AFTER_MS) {
    setStatus("live", "live");
  }
}, 1000);

// "5 minutes", "1 minute", "90 seconds": the footer's words for the window.
function span(seconds) {
  const plural = (n, unit) => `${n} ${unit}${n === 1 ? "" : "s"}`;
  return seconds % 60 ? plural(seconds, "second") : plural(seconds / 60, "minute");
}

async function loadConfig() {
  try {
    const response = await fetch(withKey("/dashboard/config.json"));
    if (!response.ok) return;
    const config = await response.json();
    if (config.history_seconds > 0) {
      windowSeconds = config.history_seconds;
      for (const chart of Object.values(charts)) chart.windowSeconds = windowSeconds;
      $("window-note").textContent = `Last ${span(windowSeconds)}, one sample per second.`;
    }
    if (config.node) $("node").textContent = thisNode = config.node;
    if (config.version) $("version").textContent = `v${config.version}`;
    document.title = `Switchboard \u00b7 ${config.node || "dashboard"}`;
  } catch {
    // The header is cosmetic; the stream reports real connection problems.
  }
}

$("demo-link").href = withKey("/demo");
render();
renderChannels([]);
// The stream after the config: its history event fills the window the config sets.
loadConfig().then(connect);
