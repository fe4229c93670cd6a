// Reference (npm capnweb 0.12.0) client for the interop harness.
//
//   node interop/node/client.mjs <ws|http> HOST:PORT
//
// Runs every scenario against a server exposing the interop surface (interop/README.md) and prints
// one line per scenario: `ok NAME`, `FAIL NAME: REASON` or `skip NAME: WHY`, then
// `N passed, M failed, K skipped`. Exit status 1 if anything failed.
//
// WebSocket: a fresh session per scenario, built from the public pieces newWebSocketRpcSession()
// is made of (RpcSession + WebSocketTransport) so that the session's getStats() is reachable; at
// the end of each scenario the client session must be back to {imports: 1, exports: 1} (only the
// two main objects). One scenario uses newWebSocketRpcSession() itself.
// HTTP batch: a fresh newHttpBatchRpcSession() per scenario (batch sessions are single-use);
// globalThis.fetch is wrapped to count POSTs.
//
// INTEROP_TRACE=1 prints every WebSocket message to stderr.

import { WebSocket } from "ws";
globalThis.WebSocket ??= WebSocket;

import { isDeepStrictEqual, inspect } from "node:util";
import {
  RpcSession, RpcStub, WebSocketTransport,
  newWebSocketRpcSession, newHttpBatchRpcSession,
} from "capnweb";
import { Counter } from "./surface.mjs";

const [mode, hostPort] = process.argv.slice(2);
if ((mode !== "ws" && mode !== "http") || !hostPort) {
  console.error("usage: node client.mjs <ws|http> HOST:PORT");
  process.exit(2);
}
const trace = !!process.env.INTEROP_TRACE;
const SCENARIO_TIMEOUT_MS = Number(process.env.INTEROP_TIMEOUT_MS ?? 5000);

// ---------------------------------------------------------------- helpers

class CheckFailed extends Error {}

function show(v) {
  return inspect(v, { depth: 6, breakLength: Infinity });
}

// Under Node the reference decodes kind-less ["bytes", b64] to a Buffer (a Uint8Array subclass);
// compare such values as plain Uint8Arrays.
function normalizeBytes(v) {
  if (typeof Buffer !== "undefined" && Buffer.isBuffer(v)) {
    return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  }
  if (Array.isArray(v)) return v.map(normalizeBytes);
  if (v && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalizeBytes(x)]));
  }
  return v;
}

function expectEqual(actual, expected, what = "value") {
  if (!isDeepStrictEqual(normalizeBytes(actual), normalizeBytes(expected))) {
    throw new CheckFailed(`${what}: expected ${show(expected)}, got ${show(actual)}`);
  }
}

function expect(cond, msg) {
  if (!cond) throw new CheckFailed(msg);
}

const macrotask = () => new Promise((r) => setImmediate(r));
// How long the peer's releases may take to arrive once a scenario is done.
const RELEASE_DEADLINE_MS = 5000;

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new CheckFailed(`${what}: timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// Wraps a string transport, recording every message with its direction.
class TracingTransport {
  constructor(inner, log) {
    this.inner = inner;
    this.log = log;
  }
  send(message) {
    this.log.push(["c2s", message]);
    if (trace) console.error(`  c2s ${message}`);
    return this.inner.send(message);
  }
  async receive() {
    const message = await this.inner.receive();
    this.log.push(["s2c", message]);
    if (trace) console.error(`  s2c ${message}`);
    return message;
  }
  abort(reason) {
    this.inner.abort?.(reason);
  }
}

// Count HTTP POSTs made through fetch (newHttpBatchRpcSession uses globalThis.fetch).
let postCount = 0;
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const method = (init?.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase();
  if (method === "POST") ++postCount;
  return realFetch(input, init);
};

function dispose(...things) {
  for (const t of things) t?.[Symbol.dispose]?.();
}

// ---------------------------------------------------------------- scenarios
//
// Each scenario gets ctx = { api, mode, log (ws only) } and throws on failure. `needsCallbacks`:
// the server must call back into the client, which an HTTP batch (one request, one response)
// cannot carry: the batch would never complete.

const CALLBACK_SKIP = "HTTP batch is one request/response: the server cannot call back into the client";

const scenarios = [
  // -- the surface, method by method
  { name: "square", async run({ api }) {
    expectEqual(await api.square(7), 49);
  } },
  { name: "makeCounter", async run({ api }) {
    // All in one batch (HTTP batch sessions are single-use); E-order keeps them in sequence.
    const counter = api.makeCounter(5);
    const got = await Promise.all([counter.increment(), counter.increment(4), counter.value]);
    expectEqual(got, [6, 10, 10], "[increment(), increment(4), value]");
    dispose(counter);
  } },
  { name: "makeCounter.awaited-stub", wsOnly: "needs a second round trip on a stub from the first; a batch session is single-use", async run({ api }) {
    const counter = await api.makeCounter(1);
    expect(counter instanceof RpcStub, `expected an RpcStub, got ${show(counter)}`);
    expectEqual(await counter.increment(2), 3, "increment(2)");
    expectEqual(await counter.value, 3, "value property");
    dispose(counter);
  } },
  { name: "incrementCounter.server-counter", async run({ api }) {
    const counter = api.makeCounter(2);
    const got = await Promise.all([api.incrementCounter(counter, 4), api.incrementCounter(counter)]);
    expectEqual(got, [6, 7], "[incrementCounter(counter, 4), incrementCounter(counter) (by = 1)]");
    dispose(counter);
  } },
  { name: "incrementCounter.client-counter", needsCallbacks: true, async run({ api }) {
    const local = new Counter(4);
    expectEqual(await api.incrementCounter(local, 9), 13, "incrementCounter(clientCounter, 9)");
    expectEqual(local.value, 13, "client-side counter value");
  } },
  { name: "callFunction", needsCallbacks: true, async run({ api }) {
    const calls = [];
    const result = await api.callFunction((x) => { calls.push(x); return x * 3; }, 7);
    expectEqual(result, { result: 21 });
    expectEqual(calls, [7], "client function calls");
  } },
  { name: "callFunction.async", needsCallbacks: true, async run({ api }) {
    const result = await api.callFunction(async (x) => { await macrotask(); return `got ${x}`; }, 5);
    expectEqual(result, { result: "got 5" });
  } },
  { name: "callSquare", async run({ api }) {
    expectEqual(await api.callSquare(api, 6), { result: 36 });
  } },
  { name: "throwError", async run({ api }) {
    let caught;
    try {
      await api.throwError();
    } catch (err) {
      caught = err;
    }
    expect(caught !== undefined, "throwError() resolved instead of rejecting");
    expect(caught instanceof Error, `rejection is not an Error: ${show(caught)}`);
    expectEqual(caught.name, "RangeError", "error name");
    expectEqual(caught.message, "test error", "error message");
    expect(caught instanceof RangeError, "rejection is not a RangeError instance");
  } },
  { name: "generateFibonacci", async run({ api }) {
    const [ten, zero] = await Promise.all([api.generateFibonacci(10), api.generateFibonacci(0)]);
    expectEqual(ten, [0, 1, 1, 2, 3, 5, 8, 13, 21, 34], "generateFibonacci(10)");
    expectEqual(zero, [], "generateFibonacci(0)");
  } },
  { name: "returnNull", async run({ api }) {
    expectEqual(await api.returnNull(), null);
  } },
  { name: "returnUndefined", async run({ api }) {
    expectEqual(await api.returnUndefined(), undefined);
  } },
  { name: "returnNumber", async run({ api }) {
    expectEqual(await Promise.all([api.returnNumber(42), api.returnNumber(-1.5)]), [42, -1.5]);
  } },

  // -- echo: every value type round-trips
  ...echoScenarios(),

  // -- pipelining
  { name: "pipeline.one-round-trip", async run({ api, mode, log }) {
    const postsBefore = postCount;
    const c = api.makeCounter(5);
    const first = c.increment(2);             // never awaited: pushed, never pulled
    const third = c.increment(3);
    const v = api.square(third);              // promise as argument: ["pipeline", id]
    const fib = api.generateFibonacci(6);
    const m = fib.map((x) => api.square(x));
    const [vv, mm] = await Promise.all([v, m]);
    expectEqual(vv, 100, "square(c.increment(3)) after increment(2) on makeCounter(5)");
    expectEqual(mm, [0, 1, 1, 4, 9, 25], "generateFibonacci(6).map(square)");
    // Passing `third` as an argument did not consume it: it must be disposed too.
    dispose(first, third, c, fib);
    if (mode === "http") {
      const posts = postCount - postsBefore;
      expectEqual(posts, 1, "POST requests for the whole scenario");
      return `(${posts} POST)`;
    } else {
      // One round trip: every push/pull went out before the first server message arrived.
      const firstS2c = log.findIndex(([d]) => d === "s2c");
      const late = log.slice(firstS2c).filter(([d, m]) => d === "c2s" && /^\["(push|pull)"/.test(m));
      expect(firstS2c > 0, "no server message seen");
      expectEqual(late, [], "push/pull sent after the first server message");
      const sent = log.slice(0, firstS2c).filter(([d, m]) => /^\["(push|pull)"/.test(m)).length;
      return `(${sent} push/pull before first reply)`;
    }
  } },
  { name: "pipeline.rejection-propagates", async run({ api }) {
    let caught;
    const failing = api.throwError();
    try {
      await failing.foo();
    } catch (err) {
      caught = err;
    }
    dispose(failing);
    expect(caught instanceof Error, `expected a rejection, got ${show(caught)}`);
    expectEqual([caught.name, caught.message], ["RangeError", "test error"], "pipelined rejection");
  } },

  // -- map()
  { name: "map.array", async run({ api }) {
    const fib = api.generateFibonacci(5);
    expectEqual(await fib.map((x) => api.square(x)), [0, 1, 1, 4, 9]);
    dispose(fib);
  } },
  { name: "map.null", async run({ api }) {
    const p = api.returnNull();
    expectEqual(await p.map((x) => api.square(x)), null);
    dispose(p);
  } },
  { name: "map.single-value", async run({ api }) {
    const p = api.returnNumber(7);
    expectEqual(await p.map((x) => api.square(x)), 49);
    dispose(p);
  } },
  { name: "map.nested", async run({ api }) {
    const fib = api.generateFibonacci(4);
    const r = await fib.map((x) => api.generateFibonacci(x).map((y) => api.square(y)));
    dispose(fib);
    expectEqual(r, [[], [0], [0], [0, 1]]);
  } },
  { name: "map.client-capture", needsCallbacks: true, async run({ api }) {
    const local = new Counter(0);
    const stub = new RpcStub(local);
    const fib = api.generateFibonacci(4);
    const r = await fib.map((x) => stub.increment(x));
    dispose(fib, stub);
    expectEqual(r, [0, 1, 2, 4]);
    expectEqual(local.value, 4, "client counter after map");
  } },

  // -- the convenience constructor itself
  { name: "newWebSocketRpcSession", wsOnly: "WebSocket-only scenario", async run() {
    const api = newWebSocketRpcSession(`ws://${hostPort}/`);
    try {
      expectEqual(await api.square(9), 81);
      const counter = api.makeCounter(3);
      expectEqual(await counter.increment(3), 6);
      dispose(counter);
    } finally {
      dispose(api);
    }
  } },
];

function echoScenarios() {
  const big = 1234567890123456789012345678901234567890n; // 40 digits
  const error = new TypeError("boom");
  error.code = 42;
  error.detail = { tags: ["a", "b"], when: new Date(0) };

  const cases = [
    ["echo.json", { s: "héllo ☃ \u{1F600}", n: 1.25, i: -7, t: true, f: false, z: null, o: { a: [1, "x"] } }],
    ["echo.string", "just a string"],
    ["echo.date", new Date(1700000000123)],
    ["echo.bytes", new Uint8Array([0, 1, 2, 61, 250, 255])],
    ["echo.bytes-empty", new Uint8Array([])],
    ["echo.bytes-int16", new Int16Array([-1, 2, 32767, -32768])],
    ["echo.bytes-float64", new Float64Array([1.5, -0.25, Number.MAX_VALUE])],
    ["echo.bytes-arraybuffer", new Uint8Array([9, 8, 7]).buffer],
    ["echo.bigint", 42n],
    ["echo.bigint-negative", -9007199254740993n],
    ["echo.bigint-40-digits", big],
    ["echo.undefined", undefined],
    ["echo.nan", NaN],
    ["echo.infinity", Infinity],
    ["echo.neg-infinity", -Infinity],
    ["echo.nested-arrays", [[1, [2, [3]]], []]],
    ["echo.empty-array", []],
    ["echo.object-special", {
      when: new Date(86400000), big: 123n, nan: NaN, inf: [Infinity, -Infinity], u: undefined,
      bytes: new Uint8Array([1, 2, 3]), inner: { arr: [[1], [2, [3]]], nothing: null },
    }],
  ];
  const out = cases.map(([name, value]) => ({
    name, async run({ api }) {
      const got = await api.echo(value);
      expectEqual(got, value, "echoed value");
      if (value !== null && typeof value === "object") {
        const proto = Object.getPrototypeOf(normalizeBytes(got));
        expect(proto === Object.getPrototypeOf(value),
               `prototype: expected ${value.constructor?.name}, got ${got?.constructor?.name}`);
      }
    },
  }));
  out.push({ name: "echo.error-props", async run({ api }) {
    const got = await api.echo(error);
    expect(got instanceof Error, `expected an Error value, got ${show(got)}`);
    expect(got instanceof TypeError, "expected a TypeError instance");
    expectEqual(got.name, "TypeError", "name");
    expectEqual(got.message, "boom", "message");
    expectEqual(got.code, 42, "code prop");
    expectEqual(got.detail, { tags: ["a", "b"], when: new Date(0) }, "detail prop");
  } });
  return out;
}

// ---------------------------------------------------------------- runner

async function runWs(scenario) {
  const log = [];
  const ws = new WebSocket(`ws://${hostPort}/`);
  const session = new RpcSession(new TracingTransport(new WebSocketTransport(ws), log));
  const api = session.getRemoteMain();
  try {
    const note = await withTimeout(scenario.run({ api, mode, log }), SCENARIO_TIMEOUT_MS, "scenario");
    // Everything the scenario made must be released again: only the two mains remain. The
    // peer's releases are messages still on their way, so wait for them, up to a deadline
    // (a count of event-loop turns was too short on a loaded machine).
    let stats;
    const deadline = performance.now() + RELEASE_DEADLINE_MS;
    for (;;) {
      stats = session.getStats();
      if (stats.imports === 1 && stats.exports === 1) break;
      if (performance.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 1));
    }
    expectEqual(stats, { imports: 1, exports: 1 }, "client session stats after the scenario");
    return note;
  } finally {
    dispose(api);
    ws.close();
  }
}

async function runHttp(scenario) {
  const api = newHttpBatchRpcSession(`http://${hostPort}/`);
  return await withTimeout(scenario.run({ api, mode, log: null }), SCENARIO_TIMEOUT_MS, "scenario");
}

// A rejection nobody awaited would otherwise crash the process; report it instead.
let unhandled = [];
process.on("unhandledRejection", (err) => { unhandled.push(err); });

let passed = 0, failed = 0, skipped = 0;
for (const scenario of scenarios) {
  if (mode === "http" && scenario.needsCallbacks) {
    console.log(`skip ${scenario.name}: ${CALLBACK_SKIP}`);
    ++skipped;
    continue;
  }
  if (mode === "http" && scenario.wsOnly) {
    console.log(`skip ${scenario.name}: ${scenario.wsOnly}`);
    ++skipped;
    continue;
  }
  if (trace) console.error(`== ${scenario.name}`);
  try {
    const note = await (mode === "ws" ? runWs(scenario) : runHttp(scenario));
    console.log(`ok ${scenario.name}${note ? " " + note : ""}`);
    ++passed;
  } catch (err) {
    const reason = err instanceof CheckFailed ? err.message
      : `rejected: ${err?.name ?? typeof err}: ${err?.message ?? show(err)}`;
    console.log(`FAIL ${scenario.name}: ${reason.replace(/\n/g, " ")}`);
    ++failed;
  }
}
// Not a scenario failure by itself (each scenario checks its own results), but never hidden.
for (const err of unhandled) {
  console.error(`note: unhandled rejection: ${err?.name ?? typeof err}: ${err?.message ?? show(err)}`);
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);
