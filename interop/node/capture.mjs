// Records reference wire transcripts (npm capnweb 0.12.0) for the Rust engine's golden tests.
//
//   node interop/node/capture.mjs [OUT]     (default: capnweb/tests/golden/transcripts.json)
//
// Two reference RpcSessions are joined by an in-memory transport pair that logs every message text
// in the order it was sent, with its direction ("c2s" client->server, "s2c" server->client). Each
// scenario runs on a fresh pair, awaits everything it started, then lets the sessions settle
// (SETTLE_MACROTASKS turns of setImmediate) before both sessions' getStats() are recorded.
//
// Server main object: the interop surface (surface.mjs: square, makeCounter, incrementCounter,
// callFunction, callSquare, throwError, generateFibonacci, returnNull, returnUndefined,
// returnNumber, echo) plus one extra method used only here:
//   hang()  -> a promise that never settles (keeps a call pending for the abort scenarios).
//
// Output, per scenario:
//   { "description": "...",
//     "messages": [["c2s", "<message text>"], ["s2c", "..."], ...],
//     "dropped": [...]      (only if a side sent after its connection was closed: never delivered)
//     "outcome": ...,       (what the client application observed, JSON-friendly)
//     "stats": {"client": {"imports": n, "exports": n}, "server": {...}} }
//
// Deterministic: no timers, no randomness, stacks are redacted by the reference; two runs give
// byte-identical output.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { RpcSession, RpcStub } from "capnweb";
import { Counter, InteropApi } from "./surface.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const outPath = process.argv[2] ?? path.join(here, "..", "..", "capnweb", "tests", "golden", "transcripts.json");
const SETTLE_MACROTASKS = 8;

class CaptureApi extends InteropApi {
  hang() {
    return new Promise(() => {});
  }
}

// ---------------------------------------------------------------- in-memory transport pair

class MemoryTransport {
  constructor(direction, shared) {
    this.direction = direction;     // direction of the messages this end sends
    this.shared = shared;           // { messages, dropped }
    this.queue = [];
    this.waiter = null;             // {resolve, reject}
    this.closed = null;             // Error once closed/failed (receive rejects with it)
    this.sendClosed = false;        // sends are dropped (connection gone)
    this.peer = null;
  }
  send(text) {
    if (this.sendClosed) {
      this.shared.dropped.push([this.direction, text]);
      return;
    }
    this.shared.messages.push([this.direction, text]);
    this.peer.deliver(text);
  }
  deliver(text) {
    if (this.closed) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve(text);
    } else {
      this.queue.push(text);
    }
  }
  receive() {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift());
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => { this.waiter = { resolve, reject }; });
  }
  // Make this end's receive() fail (as a transport does when the connection drops), without
  // closing the sending direction.
  failReceive(error) {
    if (this.closed) return;
    this.closed = error;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(error);
    }
  }
  // Called by the RpcSession when it aborts: like WebSocketTransport.abort(), close the whole
  // connection. The peer's receive() then fails with "peer closed".
  abort(reason) {
    this.sendClosed = true;
    this.failReceive(reason);
    this.peer.sendClosed = true;
    this.peer.failReceive(new Error("Peer closed the connection."));
  }
}

function makePair() {
  const shared = { messages: [], dropped: [] };
  const client = new MemoryTransport("c2s", shared);
  const server = new MemoryTransport("s2c", shared);
  client.peer = server;
  server.peer = client;
  return { shared, client, server };
}

const macrotask = () => new Promise((r) => setImmediate(r));
async function settle() {
  for (let i = 0; i < SETTLE_MACROTASKS; i++) await macrotask();
}

// JSON-friendly description of what the application saw.
function describe(v) {
  if (v === undefined) return { undefined: true };
  if (typeof v === "bigint") return { bigint: v.toString() };
  if (typeof v === "number" && !Number.isFinite(v)) return { number: String(v) };
  if (v instanceof Error) return { error: { name: v.name, message: v.message } };
  if (v instanceof RpcStub) return { stub: true };
  if (Array.isArray(v)) return v.map(describe);
  if (v instanceof Date) return { date: v.getTime() };
  if (v instanceof ArrayBuffer) return { bytes: Array.from(new Uint8Array(v)), kind: "ArrayBuffer" };
  if (ArrayBuffer.isView(v)) return { bytes: Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)), kind: v.constructor.name };
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, describe(x)]));
  return v;
}

async function settled(promise) {
  try {
    return { resolved: describe(await promise) };
  } catch (err) {
    return { rejected: describe(err) };
  }
}

// ---------------------------------------------------------------- scenarios

const scenarios = [
  ["basic-call", "await api.square(3)", async ({ api }) => {
    return settled(api.square(3));
  }],

  ["property-read", "c = api.makeCounter(4); await c.value; dispose c (never awaited itself)", async ({ api }) => {
    const c = api.makeCounter(4);
    const r = await settled(c.value);
    c[Symbol.dispose]();
    return r;
  }],

  ["pipelined-call", "c = api.makeCounter(1); await c.increment(2) without awaiting c; dispose c", async ({ api }) => {
    const c = api.makeCounter(1);
    const r = await settled(c.increment(2));
    c[Symbol.dispose]();
    return r;
  }],

  ["awaited-stub", "c = await api.makeCounter(2); await c.increment(); await c.value; dispose c (import of the server's export -1)", async ({ api }) => {
    const c = await api.makeCounter(2);
    const a = await settled(c.increment());
    const b = await settled(c.value);
    c[Symbol.dispose]();
    return [a, b];
  }],

  ["promise-argument", "inner = api.square(2); await api.square(inner); dispose inner (an argument does not consume it)", async ({ api }) => {
    const inner = api.square(2);
    const r = await settled(api.square(inner));
    inner[Symbol.dispose]();
    return r;
  }],

  ["stub-passed-back", "await api.callSquare(api, 5): the caller's own import 0 as an argument, a promise in the result", async ({ api }) => {
    return settled(api.callSquare(api, 5));
  }],

  ["callback-function", "await api.callFunction(x => x * 10, 3): the server calls the client's exported function", async ({ api }) => {
    return settled(api.callFunction((x) => x * 10, 3));
  }],

  ["callback-target", "await api.incrementCounter(new Counter(4), 9): the server calls a client RpcTarget", async ({ api }) => {
    return settled(api.incrementCounter(new Counter(4), 9));
  }],

  ["error", "await api.throwError() (rejects RangeError 'test error')", async ({ api }) => {
    return settled(api.throwError());
  }],

  ["pipelined-on-rejected", "p = api.throwError(); await p.foo(); dispose p", async ({ api }) => {
    const p = api.throwError();
    const r = await settled(p.foo());
    p[Symbol.dispose]();
    return r;
  }],

  ["map-array", "fib = api.generateFibonacci(5); await fib.map(x => api.square(x)); dispose fib", async ({ api }) => {
    const fib = api.generateFibonacci(5);
    const r = await settled(fib.map((x) => api.square(x)));
    fib[Symbol.dispose]();
    return r;
  }],

  ["map-null", "p = api.returnNull(); await p.map(x => api.square(x)); dispose p", async ({ api }) => {
    const p = api.returnNull();
    const r = await settled(p.map((x) => api.square(x)));
    p[Symbol.dispose]();
    return r;
  }],

  ["map-single-value", "p = api.returnNumber(7); await p.map(x => api.square(x)); dispose p", async ({ api }) => {
    const p = api.returnNumber(7);
    const r = await settled(p.map((x) => api.square(x)));
    p[Symbol.dispose]();
    return r;
  }],

  ["map-captured-client-stub", "clientCounter = new RpcStub(new Counter(0)); fib = api.generateFibonacci(3); await fib.map(x => clientCounter.increment(x)); dispose fib, clientCounter", async ({ api }) => {
    const clientCounter = new RpcStub(new Counter(0));
    const fib = api.generateFibonacci(3);
    const r = await settled(fib.map((x) => clientCounter.increment(x)));
    fib[Symbol.dispose]();
    clientCounter[Symbol.dispose]();
    return r;
  }],

  ["map-nested", "fib = api.generateFibonacci(3); await fib.map(x => api.generateFibonacci(x).map(y => api.square(y))); dispose fib", async ({ api }) => {
    const fib = api.generateFibonacci(3);
    const r = await settled(fib.map((x) => api.generateFibonacci(x).map((y) => api.square(y))));
    fib[Symbol.dispose]();
    return r;
  }],

  ["echo-values", "await api.echo(v) for an object holding every special value type", async ({ api }) => {
    const err = new TypeError("boom");
    err.code = 42;
    const value = {
      arr: [[1, [2, [3]]], []], u: undefined, nan: NaN, inf: Infinity, ninf: -Infinity,
      big: 12345678901234567890123456789012345678n, neg: -5n, date: new Date(1700000000123),
      bytes: new Uint8Array([0, 1, 2, 61, 250, 255]), i16: new Int16Array([-1, 256]),
      buf: new Uint8Array([7, 8, 9]).buffer, err, nil: null, s: "str", t: true,
    };
    return settled(api.echo(value));
  }],

  ["dropped-promise", "p = api.square(5); p[Symbol.dispose]() (never awaited); then await api.square(6)", async ({ api }) => {
    const p = api.square(5);
    p[Symbol.dispose]();
    return settled(api.square(6));
  }],

  ["unawaited-promise-kept", "p = api.square(5) kept but never awaited nor disposed; then await api.square(6) (no pull, no release for p)", async ({ api }) => {
    const p = api.square(5);
    const r = await settled(api.square(6));
    void p;
    return r;
  }],

  ["abort-main-stub-disposed", "p = api.hang(); pending; the client disposes its main stub (session shutdown), which closes the transport", async ({ api }) => {
    const p = api.hang();
    const pending = settled(p);
    await settle();
    api[Symbol.dispose]();
    return pending;
  }],

  ["abort-transport-failed", "p = api.hang(); pending; the client transport's receive() fails with Error('connection lost'): the client sends abort", async ({ api, transports }) => {
    const p = api.hang();
    const pending = settled(p);
    await settle();
    transports.client.failReceive(new Error("connection lost"));
    return pending;
  }],
];

// ---------------------------------------------------------------- runner

const out = {};
process.on("unhandledRejection", () => {});   // rejections are recorded via `settled`

for (const [name, description, run] of scenarios) {
  const transports = makePair();
  const server = new RpcSession(transports.server, new CaptureApi());
  const client = new RpcSession(transports.client);
  const api = client.getRemoteMain();
  const outcome = await run({ api, transports });
  await settle();
  const entry = { description, messages: transports.shared.messages };
  if (transports.shared.dropped.length) entry.dropped = transports.shared.dropped;
  entry.outcome = outcome;
  entry.stats = { client: client.getStats(), server: server.getStats() };
  out[name] = entry;
  if (!name.startsWith("abort-")) api[Symbol.dispose]();
}

// One message per line keeps diffs of the golden file readable.
let text = "{\n";
const names = Object.keys(out);
names.forEach((name, i) => {
  const e = out[name];
  text += `  ${JSON.stringify(name)}: {\n`;
  text += `    "description": ${JSON.stringify(e.description)},\n`;
  const list = (key) => {
    text += `    ${JSON.stringify(key)}: [\n`;
    text += e[key].map((m) => `      ${JSON.stringify(m)}`).join(",\n");
    text += e[key].length ? "\n    ],\n" : "    ],\n";
  };
  list("messages");
  if (e.dropped) list("dropped");
  text += `    "outcome": ${JSON.stringify(e.outcome)},\n`;
  text += `    "stats": ${JSON.stringify(e.stats)}\n`;
  text += `  }${i + 1 < names.length ? "," : ""}\n`;
});
text += "}\n";
JSON.parse(text);  // sanity: the output is valid JSON
fs.mkdirSync(path.dirname(outPath), { recursive: true });
fs.writeFileSync(outPath, text);
console.log(`wrote ${names.length} scenarios to ${path.relative(process.cwd(), outPath)}`);
