// The connections page (/dashboard/connections): this node's connections from the
// management API (GET /api/v1/connections, paged by cursor, filtered by user or channel),
// with its actions: close one (DELETE) and send one a message (POST).

import { adoptKeyFromUrl, errorMessage, keyedFetch } from "./auth.js";
import { cell, duration, fmt, noteRow } from "./format.js";

const PAGE_SIZE = 50;
const REFRESH_EVERY_MS = 5000;
const COLUMNS = 8;

const $ = (id) => document.getElementById(id);

let config = { key_required: false };
// The cursors of the pages visited: [null] is the first page.
let cursors = [null];
let nextCursor = null;
let sendTarget = null;

function showBanner(text) {
  $("banner").textContent = text || "";
  $("banner").hidden = !text;
}

function showResult(kind, text) {
  const el = $("action-result");
  el.dataset.kind = kind;
  el.textContent = text;
  el.hidden = false;
}

function api(path, init = {}) {
  return keyedFetch(path, { cache: "no-store", ...init }, config.key_required);
}

const connectionPath = (id) => `/api/v1/connections/${encodeURIComponent(id)}`;

const note = (text, className) => noteRow($("connections"), COLUMNS, text, className);

function actionButton(label, className, onClick) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = className;
  button.textContent = label;
  button.addEventListener("click", onClick);
  return button;
}

// Ids, users, addresses and channel names come from clients: set as text, never HTML.
function renderRows(items) {
  const now = Date.now() / 1000;
  $("connections").replaceChildren(...items.map((c) => {
    const tr = document.createElement("tr");
    tr.dataset.id = c.id;
    const actions = document.createElement("td");
    actions.className = "actions";
    actions.append(
      actionButton("Send", "secondary send", () => openSend(c.id)),
      actionButton("Disconnect", "danger disconnect", () => disconnect(c.id)),
    );
    tr.append(
      cell(c.id, "id"),
      cell(c.user == null ? "\u2013" : String(c.user), "user"),
      cell(String(c.address ?? "\u2013")),
      cell(`${duration(now - c.connected_at)} ago`, "num"),
      cell(`${c.subprotocol}${c.compression ? " + deflate" : ""}`),
      cell((c.subscriptions || []).join(", ") || "\u2013", "channels"),
      cell(`${fmt(c.messages_in, 0)} / ${fmt(c.messages_out, 0)}`, "num"),
      actions,
    );
    return tr;
  }));
}

async function load() {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  const user = $("filter-user").value.trim();
  const channel = $("filter-channel").value.trim();
  if (user) params.set("user", user);
  if (channel) params.set("channel", channel);
  const cursor = cursors[cursors.length - 1];
  if (cursor) params.set("cursor", cursor);
  let response;
  try {
    response = await api(`/api/v1/connections?${params}`);
  } catch (error) {
    note(`Cannot reach the admin server (${error.message}); retrying`, "error");
    return;
  }
  if (!response.ok) {
    note(`Cannot list connections (HTTP ${response.status}): ${await errorMessage(response)}`, "error");
    return;
  }
  showBanner("");
  const body = await response.json();
  const items = Array.isArray(body.items) ? body.items : [];
  nextCursor = body.next_cursor ?? null;
  if (items.length) renderRows(items);
  else note(user || channel ? "No connection matches" : "No open connection on this node");
  const first = (cursors.length - 1) * PAGE_SIZE;
  $("summary").textContent = items.length
    ? `${body.total} connection${body.total === 1 ? "" : "s"}; showing ${first + 1}\u2013${first + items.length}`
    : `${body.total} connections`;
  $("next-page").disabled = nextCursor === null;
  $("first-page").disabled = cursors.length === 1;
}

async function disconnect(id) {
  if (!confirm(`Close connection ${id}? Its client gets close code 1000.`)) return;
  const response = await api(connectionPath(id), { method: "DELETE" });
  if (response.ok) {
    const body = await response.json();
    showResult("ok", `Closed ${id} (close code ${body.code}).`);
  } else {
    showResult("error", `Could not close ${id} (HTTP ${response.status}): ${await errorMessage(response)}`);
  }
  await load();
}

function openSend(id) {
  sendTarget = id;
  $("send-target").textContent = id;
  $("send-panel").hidden = false;
  $("send-data").focus();
}

// Valid JSON goes as JSON (so {"a":1} is an object and 5 a number), anything else as the
// string typed. The bare value is the body: the API's oldest form, which every version takes.
function readData() {
  const text = $("send-data").value;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function send(event) {
  event.preventDefault();
  const id = sendTarget;
  const response = await api(connectionPath(id), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ data: readData() }),
  });
  if (response.ok) {
    showResult("ok", `Sent to ${id}.`);
    $("send-panel").hidden = true;
  } else {
    showResult("error", `Could not send to ${id} (HTTP ${response.status}): ${await errorMessage(response)}`);
  }
}

async function start() {
  adoptKeyFromUrl();
  try {
    const response = await fetch("/dashboard/config.json", { cache: "no-store" });
    if (response.ok) config = await response.json();
  } catch {
    // The list says what is wrong if the server cannot be reached.
  }
  if (config.node) $("node").textContent = config.node;
  document.title = `Switchboard \u00b7 ${config.node || "node"} \u00b7 connections`;
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    cursors = [null];
    load();
  });
  $("refresh").addEventListener("click", load);
  $("next-page").addEventListener("click", () => {
    if (nextCursor === null) return;
    cursors.push(nextCursor);
    load();
  });
  $("first-page").addEventListener("click", () => {
    cursors = [null];
    load();
  });
  $("send-panel").addEventListener("submit", send);
  $("send-cancel").addEventListener("click", () => ($("send-panel").hidden = true));
  await load();
  // Chained, so a slow answer never overlaps the next refresh.
  const refresh = async () => {
    await load();
    setTimeout(refresh, REFRESH_EVERY_MS);
  };
  setTimeout(refresh, REFRESH_EVERY_MS);
}

start();
