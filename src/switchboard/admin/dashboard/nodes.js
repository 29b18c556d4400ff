// The dashboard's Nodes table: the management API's node registry (/api/v1/nodes), polled.

import { errorMessage, keyHeaders } from "./auth.js";
import { cell, duration, fmt, noteRow } from "./format.js";

// The registry refreshes each entry once a second; a few seconds is fresh enough.
const NODES_EVERY_MS = 3000;
const NODES_COLUMNS = 8;

const $ = (id) => document.getElementById(id);

// No nodes, or why the registry cannot be read.
const nodesNote = (className, text) => noteRow($("nodes"), NODES_COLUMNS, text, className);

// Node ids and URLs are configuration of other nodes: set as text, never HTML.
// `now`: the server's clock (registry times are the nodes' clocks, not the browser's).
function renderNodes(nodes, thisNode, now) {
  if (!nodes.length) {
    nodesNote("empty", "No node in the registry");
    return;
  }
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

let polling = false;

/**
 * Poll the registry until a 401 (a key only the operator can change: the next
 * `startNodes` after a new key resumes). Polls are chained, so a slow answer never
 * overlaps the next. `thisNode()` and `serverNow()` are read at each render.
 */
export function startNodes(thisNode, serverNow) {
  if (polling) return;
  polling = true;
  const poll = async () => {
    let retry = true;
    try {
      const response = await fetch("/api/v1/nodes", {
        headers: keyHeaders(),
        cache: "no-store",
        signal: AbortSignal.timeout(2 * NODES_EVERY_MS),
      });
      if (response.ok) {
        const body = await response.json();
        renderNodes(Array.isArray(body.nodes) ? body.nodes : [], thisNode(), serverNow());
      } else {
        // 401: no api_key on the server, or the key was rejected; 503 (the broker did
        // not answer) may pass.
        retry = response.status !== 401;
        const why = await errorMessage(response);
        const next = retry ? "; retrying" : "";
        nodesNote("error", `Cannot read the node registry (HTTP ${response.status}): ${why}${next}`);
      }
    } catch (error) {
      nodesNote("error", `Cannot read the node registry (${error.message}); retrying`);
    }
    if (retry) setTimeout(poll, NODES_EVERY_MS);
    else polling = false;
  };
  poll();
}
