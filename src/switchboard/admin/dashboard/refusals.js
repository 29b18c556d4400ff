// The dashboard's errors and refusals panel: what the node refused, by code, from the
// monitor's samples (`errors`, `rate_limited`, `handshake_rejected`: {code: {total, per_s}}).

import { cell, fmt, noteRow } from "./format.js";

/** The sample's refusal kinds, in the order the table and the chart show them. */
export const KINDS = [
  { key: "errors", label: "error frame" },
  { key: "rate_limited", label: "rate limit" },
  { key: "handshake_rejected", label: "handshake" },
];

/** Fill `tbody` from the newest sample (or say there is none yet). */
export function renderRefusals(tbody, last) {
  const rows = [];
  for (const kind of KINDS) {
    const now = (last && last[kind.key]) || {};
    for (const [code, counts] of Object.entries(now)) {
      const tr = document.createElement("tr");
      tr.dataset.kind = kind.key;
      tr.dataset.code = code;
      tr.append(
        cell(kind.label, "kind"),
        cell(code, "code"),
        cell(fmt(counts.per_s, 2), "num rate"),
        cell(String(counts.total), "num total"),
      );
      if (counts.per_s > 0) tr.className = "active";
      rows.push(tr);
    }
  }
  if (rows.length) tbody.replaceChildren(...rows);
  else noteRow(tbody, 4, last ? "Nothing refused since the node started" : "Waiting for samples");
}
