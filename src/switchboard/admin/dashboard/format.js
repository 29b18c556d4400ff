// Numbers, durations and table cells as the dashboard's pages show them.

// Numbers the server may omit or send as null render as a dash, not "NaN".
export function fmt(value, digits = 1) {
  if (value == null || !Number.isFinite(value)) return "\u2013";
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString();
  return value.toFixed(digits).replace(/\.0+$/, "");
}

// Whole seconds as the two largest units: "42 s", "5 min 3 s", "2 h 10 min".
export function duration(seconds) {
  if (!Number.isFinite(seconds)) return "\u2013";
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

// "5 minutes", "1 minute", "90 seconds".
export function span(seconds) {
  const plural = (n, unit) => `${n} ${unit}${n === 1 ? "" : "s"}`;
  return seconds % 60 ? plural(seconds, "second") : plural(seconds / 60, "minute");
}

// Text from the server (ids, channel names, users) is set as text, never as HTML.
export function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

// A single row across a table: empty, waiting, or why it cannot be filled.
export function noteRow(tbody, columns, text, className = "empty") {
  const tr = document.createElement("tr");
  tr.className = className;
  const td = cell(text);
  td.colSpan = columns;
  tr.append(td);
  tbody.replaceChildren(tr);
}
