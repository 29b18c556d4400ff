#!/usr/bin/env node
// A scriptable WebSocket client built on Node's `ws`, driven by tests/e2e/test_node_client.py.
//
//   node client.js URL SCENARIO [JSON-ARGS]
//
// SCENARIO is "script" (run args.steps, then close) or "interactive" (run one JSON step per
// stdin line; close when stdin ends). Every event is printed to stdout as one JSON line:
//
//   {"event":"upgrade","status":101,"headers":{...}}     the 101 response (lower-case headers)
//   {"event":"open","protocol":"v1.json","extensions":""}
//   {"event":"message","binary":false,"data":<parsed JSON>}   ("text" instead if not JSON,
//   {"event":"message","binary":true,"hex":"0102"}             "hex" for binary messages)
//   {"event":"ping"} / {"event":"pong"}                    control frames from the server
//   {"event":"mark","name":"..."}                          from a "mark" step
//   {"event":"unexpected-response","status":503,"body":"..."}
//   {"event":"error","message":"..."}
//   {"event":"close","code":1000,"reason":"..."}
//   {"event":"timeout"}                                    the hard timeout fired (exit code 3)
//   {"event":"exit","code":0}                              always the last line
//
// Events: one JSON object per stdout line; the close event carries bytes_read (bytes received
// on the socket, headers and frames: shows whether compression was used).
//
// JSON-ARGS (all optional): {"protocols": [...], "perMessageDeflate": bool, "autoPong": bool,
// "timeout": ms (hard limit for the whole run, default 8000), "steps": [...]}.
//
// Steps ({"op": ...}):
//   send {text} | send_json {data} | send_binary {hex} | send_text_bytes {hex} (raw bytes in a
//   text frame, e.g. invalid UTF-8)
//   send_fragments {parts: [string | {hex}], binary?, final?}   one frame per part; with
//                     final: false the message stays open and the next send_fragments continues it
//   expect {count}    wait until `count` more messages arrived (or the connection closed)
//   ping {hex?}       a WebSocket ping frame (allowed between the fragments of a message)
//   wait {ms} | mark {name} | close {code?, reason?} | wait_close | terminate
'use strict';

const readline = require('readline');
const WebSocket = require('ws');

const [url, scenario = 'script', rawArgs = '{}'] = process.argv.slice(2);
if (!url || !['script', 'interactive'].includes(scenario)) {
  process.stderr.write('usage: node client.js URL script|interactive [JSON-ARGS]\n');
  process.exit(2);
}
const args = JSON.parse(rawArgs);

function emit(event) {
  // stdout is a pipe: writes are synchronous on Linux, so nothing is lost on process.exit().
  process.stdout.write(JSON.stringify(event) + '\n');
}

let exiting = false;
function finish(code) {
  if (exiting) return;
  exiting = true;
  emit({ event: 'exit', code });
  process.exit(code);
}

setTimeout(() => {
  emit({ event: 'timeout' });
  finish(3);
}, args.timeout ?? 8000);

const options = { handshakeTimeout: args.handshakeTimeout ?? 5000 };
for (const key of ['perMessageDeflate', 'autoPong']) {
  if (key in args) options[key] = args[key];
}
const ws = new WebSocket(url, args.protocols ?? [], options);

// --- state shared by the steps ---------------------------------------------------------------

let received = 0; // messages so far
let consumed = 0; // messages accounted for by "expect" steps
let closed = false;
let wakeups = []; // resolved on every message and on close

function wake() {
  const pending = wakeups;
  wakeups = [];
  for (const resolve of pending) resolve();
}

async function until(predicate) {
  while (!predicate()) await new Promise((resolve) => wakeups.push(resolve));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// --- events ----------------------------------------------------------------------------------

ws.on('upgrade', (res) => emit({ event: 'upgrade', status: res.statusCode, headers: res.headers }));

ws.on('open', () => {
  emit({ event: 'open', protocol: ws.protocol, extensions: ws.extensions });
  if (scenario === 'script') runScript(args.steps ?? []);
  else runInteractive();
});

ws.on('message', (data, isBinary) => {
  received += 1;
  if (isBinary) {
    emit({ event: 'message', binary: true, hex: Buffer.from(data).toString('hex') });
  } else {
    const text = data.toString('utf8');
    let parsed;
    try {
      parsed = JSON.parse(text);
    } catch {
      emit({ event: 'message', binary: false, text });
      wake();
      return;
    }
    emit({ event: 'message', binary: false, data: parsed });
  }
  wake();
});

ws.on('ping', () => emit({ event: 'ping' }));
ws.on('pong', () => emit({ event: 'pong' }));

ws.on('unexpected-response', (req, res) => {
  // With this listener registered, ws leaves the failed handshake to us.
  const chunks = [];
  res.on('data', (chunk) => chunks.push(chunk));
  res.on('end', () => {
    emit({
      event: 'unexpected-response',
      status: res.statusCode,
      body: Buffer.concat(chunks).toString('utf8'),
    });
    req.destroy();
    finish(0);
  });
});

ws.on('error', (err) => emit({ event: 'error', message: err.message }));

let bytesRead = 0; // bytes that came over the socket (compressed or not), for the close event
ws.on('upgrade', (res) => {
  res.socket.on('close', () => {
    bytesRead = res.socket.bytesRead;
  });
});

ws.on('close', (code, reason) => {
  closed = true;
  const socket = ws._socket; // internal, but stable across ws 8; gone once the socket closed
  emit({
    event: 'close',
    code,
    reason: reason.toString('utf8'),
    bytes_read: socket ? socket.bytesRead : bytesRead,
  });
  wake();
  if (scenario === 'script' && !running) finish(0);
});

// --- steps -----------------------------------------------------------------------------------

let running = false;

async function runStep(step) {
  switch (step.op) {
    case 'send':
      ws.send(step.text);
      break;
    case 'send_json':
      ws.send(JSON.stringify(step.data));
      break;
    case 'send_binary':
      ws.send(Buffer.from(step.hex, 'hex'), { binary: true });
      break;
    case 'send_text_bytes':
      ws.send(Buffer.from(step.hex, 'hex'), { binary: false });
      break;
    case 'send_fragments': {
      const parts = step.parts;
      parts.forEach((part, i) => {
        const data = typeof part === 'string' ? Buffer.from(part, 'utf8') : Buffer.from(part.hex, 'hex');
        const fin = i === parts.length - 1 && step.final !== false;
        ws.send(data, { binary: Boolean(step.binary), fin });
      });
      break;
    }
    case 'expect': {
      const target = consumed + (step.count ?? 1);
      await until(() => received >= target || closed);
      consumed = target;
      break;
    }
    case 'wait':
      await sleep(step.ms);
      break;
    case 'ping':
      ws.ping(step.hex ? Buffer.from(step.hex, 'hex') : undefined);
      break;
    case 'mark':
      emit({ event: 'mark', name: step.name });
      break;
    case 'close':
      ws.close(step.code ?? 1000, step.reason ?? '');
      break;
    case 'wait_close':
      await until(() => closed);
      break;
    case 'terminate':
      ws.terminate();
      break;
    default:
      throw new Error(`unknown step ${JSON.stringify(step)}`);
  }
}

async function closeAndExit() {
  if (!closed) {
    if (ws.readyState === WebSocket.OPEN) ws.close(1000, '');
    await until(() => closed);
  }
  finish(0);
}

async function runScript(steps) {
  running = true;
  try {
    for (const step of steps) await runStep(step);
  } catch (err) {
    emit({ event: 'error', message: `step failed: ${err.message}` });
    finish(4);
  }
  running = false;
  await closeAndExit();
}

function runInteractive() {
  let chain = Promise.resolve();
  const lines = readline.createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (!line.trim()) return;
    chain = chain.then(() => runStep(JSON.parse(line))).catch((err) => {
      emit({ event: 'error', message: `step failed: ${err.message}` });
      finish(4);
    });
  });
  lines.on('close', () => {
    chain = chain.then(closeAndExit);
  });
}
