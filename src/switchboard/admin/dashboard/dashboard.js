// Live operator dashboard: follows the admin server's event stream (/dashboard/stream) and
// draws headline numbers, charts over a selectable time range, what the node refused by
// code, and the busiest channels; the Nodes table polls the node registry (nodes.js).

import { adoptKeyFromUrl, askForKey, currentKey, errorMessage, keyHeaders, refusalText,
  storeKey } from "./auth.js";
import { cell, fmt, noteRow, span } from "./format.js";
import { startNodes } from "./nodes.js";
import { TimeChart, compactNumber } from "./plots.js";
import { KINDS, renderRefusals } from "./refusals.js";
import { readEvents } from "./stream.js";

// The samples kept: the server's dashboard_history (from config.json); this until then.
let historySeconds = 300;
// The range selector's choices (seconds), those up to dashboard_history offered.
const RANGES = [60, 300, 900, 3600];
// The server sends a sample every second; this long without one means the
// stream is stuck even if the connection still looks open.
const STALE_AFTER_MS = 5000;
const MB = 1024 * 1024;

const $ = (id) => document.getElementById(id);

const charts = {
  connections: new TimeChart($("chart-connections"), {
    series: [{ label: "open" }], minMax: 5,
  }),
  // Connects and disconnects are often equal (0 at rest, a reconnect loop): the
  // connects line is drawn wide underneath, the disconnects one narrow and dashed
  // on top, so neither hides the other.
  churn: new TimeChart($("chart-churn"), {
    series: [{ label: "connects", width: 4 }, { label: "disconnects", dash: [6, 3] }],
    unit: "/s",
  }),
  messages: new TimeChart($("chart-messages"), {
    series: [{ label: "in" }, { label: "out" }], minMax: 10, unit: "/s",
  }),
  latency: new TimeChart($("chart-latency"), {
    series: [{ label: "p50" }, { label: "p99" }], minMax: 0.1, unit: "ms",
  }),
  memory: new TimeChart($("chart-memory"), {
    series: [{ label: "resident" }], minMax: 10, unit: "MB",
  }),
  cpu: new TimeChart($("chart-cpu"), {
    series: [{ label: "process" }], minMax: 10, unit: "%",
  }),
  refusals: new TimeChart($("chart-refusals"), {
    series: KINDS.map((k) => ({ label: `${k.label}s` })), minMax: 1, unit: "/s",
  }),
};

let config = { key_required: false };
let samples = [];
let lastSampleAt = 0;
let renderQueued = false;
let thisNode = null;

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
    const cutoff = samples[samples.length - 1].t - historySeconds;
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
  charts.refusals.setData(times, KINDS.map((k) => col((s) => s[`${k.key}_per_s`])));

  const last = samples[samples.length - 1];
  renderRefusals($("refusals"), last);
  if (!last) return;
  // Plain digits: tests and scripts read this element as an integer.
  $("connections").textContent = Number.isFinite(last.connections) ? String(last.connections) : "\u2013";
  $("messages-in").textContent = fmt(last.messages_in_per_s);
  $("messages-out").textContent = fmt(last.messages_out_per_s);
  $("memory").textContent = last.memory_bytes == null ? "\u2013" : fmt(last.memory_bytes / MB);
  $("memory-limit").textContent = last.memory_limit_bytes ? `limit ${sizeLabel(last.memory_limit_bytes)}` : "";
  $("cpu").textContent = fmt(last.cpu_percent);
  $("loop-lag").textContent = fmt(last.loop_lag_ms, 2);
  const refused = KINDS.reduce((sum, k) => sum + (last[`${k.key}_per_s`] || 0), 0);
  $("refused").textContent = fmt(refused, 2);
  $("outbox").textContent = `${compactNumber(last.outbox_bytes || 0)}B`;
  $("bytes").textContent =
    `${compactNumber(last.bytes_in_per_s || 0)}B/s / ${compactNumber(last.bytes_out_per_s || 0)}B/s`;
  if (last.node) $("node").textContent = thisNode = last.node;
  renderChannels(Array.isArray(last.channels) ? last.channels : []);
}

// Channel names come from clients, so they are set as text, never as HTML.
function renderChannels(channels) {
  const rows = channels.map((c) => {
    const tr = document.createElement("tr");
    tr.append(cell(String(c.channel)), cell(String(c.subscribers), "num"));
    return tr;
  });
  if (rows.length) $("channels").replaceChildren(...rows);
  else noteRow($("channels"), 2, "No channels with subscribers");
}

// --- time range -------------------------------------------------------------

function rangeLabel(seconds) {
  return seconds % 60 ? `${seconds} s` : seconds % 3600 ? `${seconds / 60} min` : `${seconds / 3600} h`;
}

function selectRange(seconds) {
  for (const chart of Object.values(charts)) chart.rangeSeconds = seconds;
  for (const button of $("range").querySelectorAll("button")) {
    button.setAttribute("aria-pressed", String(Number(button.dataset.seconds) === seconds));
  }
  $("window-note").textContent = `Last ${span(seconds)} of ${span(historySeconds)} kept, one sample per second.`;
  render();
}

// The choices up to dashboard_history, and the whole history itself; the widest first.
function buildRangeSelector() {
  const choices = [...new Set([...RANGES.filter((s) => s < historySeconds), historySeconds])];
  const buttons = choices.map((seconds) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    button.dataset.seconds = String(seconds);
    button.textContent = seconds === historySeconds ? `all ${rangeLabel(seconds)}` : rangeLabel(seconds);
    button.addEventListener("click", () => selectRange(seconds));
    return button;
  });
  $("range").replaceChildren(...buttons);
  selectRange(historySeconds);
}

// --- stream -----------------------------------------------------------------

// Registry times are the nodes' clocks: measure against the server's (the
// newest sample's time, moved on by the time since), not a skewed browser's.
function serverNow() {
  if (!samples.length) return Date.now() / 1000;
  return samples[samples.length - 1].t + (Date.now() - lastSampleAt) / 1000;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function onEvent(name, data) {
  if (name === "history") addSamples(Array.isArray(data) ? data : [], true);
  else if (name === "sample" && data) addSamples([data], false);
}

function onOpen() {
  setStatus("live", "live");
  showBanner("");
  // Only once the key has proven good, so a page without one asks for it once
  // (the form) instead of also failing in the Nodes table.
  startNodes(() => thisNode, serverNow);
}

// Follows the stream for as long as the page is open: reconnects when it drops (with a
// growing wait), asks for the key when the node refuses the one it has.
async function follow() {
  let retryDelay = 1000;
  for (;;) {
    const hadKey = currentKey() !== null;
    if (config.key_required && !hadKey) {
      setStatus("auth", "key needed");
      await askForKey(refusalText(false));
      continue;
    }
    setStatus("connecting", "connecting");
    let response = null;
    try {
      response = await readEvents("/dashboard/stream", keyHeaders(), undefined, { onOpen, onEvent });
      retryDelay = 1000;
    } catch {
      showBanner("Admin server unreachable; retrying.");
    }
    if (response && response.status === 401) {
      storeKey(null);
      setStatus("auth", "unauthorized");
      await askForKey(refusalText(hadKey));
      continue;
    }
    if (response) showBanner(`Stream unavailable (HTTP ${response.status}: ${await errorMessage(response)}); retrying.`);
    setStatus("down", "reconnecting");
    await sleep(retryDelay);
    retryDelay = Math.min(retryDelay * 2, 30000);
  }
}

// The stream can stall without ending (a proxy holding the socket).
setInterval(() => {
  const state = $("status").dataset.state;
  const late = lastSampleAt && Date.now() - lastSampleAt > STALE_AFTER_MS;
  if (state === "live" && late) setStatus("stale", "stale");
  else if (state === "stale" && !late) setStatus("live", "live");
}, 1000);

async function loadConfig() {
  try {
    const response = await fetch("/dashboard/config.json", { cache: "no-store" });
    if (!response.ok) return;
    config = await response.json();
    if (config.history_seconds > 0) historySeconds = config.history_seconds;
    if (config.node) $("node").textContent = thisNode = config.node;
    if (config.version) $("version").textContent = `v${config.version}`;
    document.title = `Switchboard \u00b7 ${config.node || "dashboard"}`;
  } catch {
    // The header is cosmetic; the stream reports real connection problems.
  }
}

adoptKeyFromUrl();
render();
// The stream after the config: its history event fills the range the config sets.
loadConfig().then(() => {
  buildRangeSelector();
  follow();
});
