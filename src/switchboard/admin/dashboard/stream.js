// The dashboard's live stream: Server-Sent Events read with fetch, not EventSource, because
// an EventSource cannot send the X-API-Key header (and a key in its URL would end up in
// history and logs). One connection; the caller decides whether and when to open another.

/**
 * Read `path` as an event stream until it ends or `signal` aborts.
 * Resolves with the Response when it was not 200 (the caller reads why), or null when a
 * 200 stream ended; rejects on a network error.
 */
export async function readEvents(path, headers, signal, { onOpen, onEvent }) {
  const response = await fetch(path, {
    headers: { ...headers, Accept: "text/event-stream" },
    cache: "no-store",
    signal,
  });
  if (!response.ok || !response.body) return response;
  onOpen();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return null;
    buffer += value;
    // Events end with a blank line; a chunk may hold several, or part of one.
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      dispatch(block, onEvent);
    }
  }
}

function dispatch(block, onEvent) {
  let name = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) name = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  if (!data.length) return;
  let parsed;
  try {
    parsed = JSON.parse(data.join("\n"));
  } catch {
    return; // not ours to guess at
  }
  onEvent(name, parsed);
}
