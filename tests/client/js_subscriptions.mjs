// Drives clients/js/switchboard.js from Node for the server-made subscription tests of
// tests/e2e/test_js_client.py:   node js_subscriptions.mjs URL
// Prints one JSON line per event (welcome, subscribed, message, unsubscribed, unrecovered,
// echo); reads one command per stdin line: "attach CHANNEL" (give the server-made
// subscription its onMessage), "echo TEXT" (a round trip), "close".
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { Client } from "../../clients/js/switchboard.js";

const require = createRequire(new URL("../node/package.json", import.meta.url));
const WebSocket = require("ws"); // tests/node's copy of the ws package
const print = (event) => console.log(JSON.stringify(event));

const client = new Client(process.argv[2], {
  WebSocket,
  backoffBase: 100,
  onSubscribed: (subscription) => {
    const { channel, offset, server } = subscription;
    print({ e: "subscribed", channel, offset, server });
    subscription.onUnrecovered = (_, frame) => print({ e: "unrecovered", channel, frame });
  },
  onUnsubscribed: (subscription, frame) => {
    print({ e: "unsubscribed", channel: subscription.channel, active: subscription.active,
      reason: frame.code ?? frame.type, known: client.subscriptions.has(subscription.channel) });
  },
});
client.on("*", (frame) => {
  if (frame.type === "welcome") {
    print({ e: "welcome", connection_id: frame.connection_id, n: client.connections + 1 });
  }
});
await client.connect();

for await (const line of createInterface({ input: process.stdin })) {
  const [command, argument] = line.split(" ");
  if (command === "attach") {
    client.subscriptions.get(argument).onMessage = (m) =>
      print({ e: "message", channel: m.channel, offset: m.offset, data: m.data });
  } else if (command === "echo") {
    print({ e: "echo", data: await client.echo(argument) });
  } else if (command === "close") {
    break;
  }
}
client.close();
process.exit(0);
