// Drives clients/js/switchboard.js from Node for tests/e2e/test_js_client.py.
//   node js_client.mjs basic URL       -> one JSON line of results
//   node js_client.mjs follow URL N    -> "M <n>" per message of feed:1, "U" when not
//                                         recovered, "DONE <connections>" after data N
import WebSocket from "ws";
import { Client } from "../../clients/js/switchboard.js";

const [mode, url, last] = process.argv.slice(2);
const client = new Client(url, { WebSocket, backoffBase: 200 });
await client.connect();

if (mode === "basic") {
  const got = [];
  const echoed = await client.echo({ hi: [1, 2] });
  await client.subscribe("room:1", (m) => got.push([m.offset, m.data]));
  const ack = await client.publish("room:1", { n: 1 });
  let code = null;
  try {
    await client.publish("not a channel!", 1);
  } catch (error) {
    code = error.code;
  }
  while (got.length < 1) await new Promise((r) => setTimeout(r, 10));
  console.log(JSON.stringify({ echoed, offset: ack.offset, got, code, node: client.welcome.node }));
  client.close();
} else {
  await client.subscribe(
    "feed:1",
    (m) => {
      console.log(`M ${m.data}`);
      if (m.data === Number(last)) {
        console.log(`DONE ${client.connections}`);
        client.close();
        process.exit(0);
      }
    },
    () => console.log("U"),
  );
  console.log("SUBSCRIBED");
}
