// Baseline: Node's `ws` package (pinned in ../package.json), written the straightforward way.
//
// Serves WebSocket at /ws on 127.0.0.1 and speaks the JSON envelope protocol that `wsbench -J`
// uses: {"type":"echo","data":X} -> {"type":"echo_reply","data":X} to the sender;
// {"type":"broadcast","data":X} -> {"type":"broadcast","data":X} to every open connection
// (sender included) by looping client.send. JSON.parse per message; no permessage-deflate.
//
// Usage: node node_ws_server.js --port PORT [--host 127.0.0.1]
'use strict';

const { WebSocketServer, WebSocket } = require('ws');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const host = arg('--host', '127.0.0.1');
const port = Number(arg('--port', ''));
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node node_ws_server.js --port PORT [--host HOST]');
  process.exit(2);
}

const wss = new WebSocketServer({ host, port, path: '/ws', perMessageDeflate: false });

wss.on('connection', (ws) => {
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    const msg = JSON.parse(data.toString());
    if (msg.type === 'echo') {
      ws.send(JSON.stringify({ type: 'echo_reply', data: msg.data }));
    } else if (msg.type === 'broadcast') {
      const out = JSON.stringify({ type: 'broadcast', data: msg.data });
      for (const client of wss.clients) {
        if (client.readyState === WebSocket.OPEN) client.send(out);
      }
    }
  });
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    wss.close();
    process.exit(0);
  });
}
