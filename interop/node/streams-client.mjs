// Reference (npm capnweb 0.12.0) client for the streams interop tests.
//
//   node interop/node/streams-client.mjs <ws|http> HOST:PORT
//
// Runs every streams scenario against a server with the streams surface (streams-surface.mjs,
// examples/streams_api.rs) and prints `ok NAME`, `FAIL NAME: REASON` or `skip NAME: WHY` per
// scenario, then `N passed, M failed, K skipped`; exit status 1 if anything failed.
// WebSocket: a fresh session per scenario, whose stats must be back to {imports: 1, exports: 1}
// at its end. HTTP batch: one scenario only, that a stream fails with an error, never a hang.

import { WebSocket } from "ws";
globalThis.WebSocket ??= WebSocket;

import { isDeepStrictEqual, inspect } from "node:util";
import { RpcSession, WebSocketTransport, newHttpBatchRpcSession } from "capnweb";

const [mode, hostPort] = process.argv.slice(2);
if ((mode !== "ws" && mode !== "http") || !hostPort) {
  console.error("usage: node streams-client.mjs <ws|http> HOST:PORT");
  process.exit(2);
}
const SCENARIO_TIMEOUT_MS = Number(process.env.INTEROP_TIMEOUT_MS ?? 10000);


// A writable stream and the readable stream that yields what is written to it. (Node 20's
// TransformStream hands out a WritableStream whose prototype is not the global
// WritableStream's, which the reference refuses to serialize; these are built from the globals.)
function pipePair() {
  let controller;
  const readable = new ReadableStream({ start(c) { controller = c; } });
  const writable = new WritableStream({
    write(chunk) { controller.enqueue(chunk); },
    close() { controller.close(); },
    abort(reason) { controller.error(reason); },
  });
  return { readable, writable };
}

class CheckFailed extends Error {}
const show = (v) => inspect(v, { depth: 6, breakLength: Infinity });
function expectEqual(actual, expected, what = "value") {
  if (!isDeepStrictEqual(actual, expected)) {
    throw new CheckFailed(`${what}: expected ${show(expected)}, got ${show(actual)}`);
  }
}
function expect(cond, msg) { if (!cond) throw new CheckFailed(msg); }
const macrotask = () => new Promise((r) => setImmediate(r));
const later = (ms) => new Promise((r) => setTimeout(r, ms));

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new CheckFailed(`${what}: timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function fromArray(items) {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < items.length) controller.enqueue(items[i++]);
      else controller.close();
    },
  });
}

async function readAll(stream) {
  const out = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return out;
    out.push(value);
  }
}

// Polls `read` until two reads a while apart agree: the producer stopped.
async function settledCount(read) {
  let before = await read();
  for (let i = 0; i < 100; i++) {
    await later(30);
    const now = await read();
    if (now === before) return now;
    before = now;
  }
  throw new CheckFailed(`the producer never stopped (${before})`);
}

const scenarios = [
  { name: "sent.readable-strings", async run(api) {
    expectEqual(await api.collect(fromArray(["a", "b", "c"])), ["a", "b", "c"]);
  } },
  { name: "sent.readable-bytes", async run(api) {
    const chunks = Array.from({ length: 5 }, (_, i) => new Uint8Array(10000).fill(i));
    expectEqual(await api.totalBytes(fromArray(chunks)), 50000);
  } },
  { name: "returned.readable", async run(api) {
    expectEqual(await readAll(await api.tail(3)), ["line 0", "line 1", "line 2"]);
  } },
  { name: "returned.bytes", async run(api) {
    const chunks = await readAll(await api.chunks(4, 1000));
    expectEqual(chunks.length, 4, "chunk count");
    for (const [i, chunk] of chunks.entries()) {
      expect(chunk instanceof Uint8Array, `chunk ${i} is not a Uint8Array: ${show(chunk)}`);
      expectEqual(chunk.length, 1000, `chunk ${i} length`);
      expectEqual(chunk[0], i, `chunk ${i} content`);
    }
  } },
  { name: "returned.blob", async run(api) {
    const blob = await api.blob("hello blob");
    expect(blob instanceof Blob, `not a Blob: ${show(blob)}`);
    expectEqual(blob.type, "text/plain", "type");
    expectEqual(await blob.text(), "hello blob", "text");
  } },
  { name: "sent.blob", async run(api) {
    const blob = new Blob(["abc", new Uint8Array([1, 2, 3])], { type: "application/x-test" });
    expectEqual(await api.blobInfo(blob), "application/x-test:6");
  } },
  { name: "returned.writable", async run(api) {
    const upload = await api.upload();
    expect(upload instanceof WritableStream, `not a WritableStream: ${show(upload)}`);
    const writer = upload.getWriter();
    const uploaded = api.uploaded();
    for (const line of ["u0", "u1", "u2"]) await writer.write(line);
    await writer.close();
    expectEqual(await uploaded, ["u0", "u1", "u2"]);
  } },
  { name: "sent.writable", async run(api) {
    const { readable, writable } = pipePair();
    const [, lines] = await Promise.all([api.writeLines(writable, 3), readAll(readable)]);
    expectEqual(lines, ["line 0", "line 1", "line 2"]);
  } },
  { name: "error.mid-stream", async run(api) {
    // The lines written before the error, then the error. (The reference's own pipe may drop
    // lines still queued when the abort arrives, so a prefix is what both sides promise.)
    const reader = (await api.failing(2)).getReader();
    const lines = [];
    let error;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        lines.push(value);
      }
    } catch (e) { error = e; }
    expectEqual(lines, ["line 0", "line 1"].slice(0, lines.length), "lines before the error");
    expect(error instanceof Error, `the stream did not fail: ${show(error)}`);
    expectEqual(error.name, "RangeError", "name");
    expectEqual(error.message, "the source broke", "message");
    return `(${lines.length} lines, then the error)`;
  } },
  { name: "error.in-sent-stream", async run(api) {
    let i = 0;
    const failing = new ReadableStream({
      pull(controller) {
        if (i++ === 0) controller.enqueue("a");
        else controller.error(new TypeError("client source broke"));
      },
    });
    let error;
    try { await api.collect(failing); } catch (e) { error = e; }
    expect(error instanceof Error, `collect did not fail: ${show(error)}`);
    expect(String(error.message).includes("client source broke"), `message: ${error.message}`);
  } },
  { name: "cancel.returned", async run(api) {
    const reader = (await api.endless()).getReader();
    for (let n = 0; n < 5; n++) expectEqual((await reader.read()).value, n, `item ${n}`);
    await reader.cancel("enough");
    const produced = await settledCount(() => api.produced());
    expect(produced < 1000000, `produced ${produced}`);
    return `(the server produced ${produced})`;
  } },
  { name: "cancel.by-receiver", async run(api) {
    let pulled = 0, canceled = null;
    const source = new ReadableStream({
      pull(controller) { controller.enqueue(`l${pulled++}`); },
      cancel(reason) { canceled = reason ?? "canceled"; },
    }, { highWaterMark: 0 });
    expectEqual(await api.takeTwo(source), ["l0", "l1"]);
    const settled = await settledCount(async () => pulled);
    for (let i = 0; i < 100 && canceled === null; i++) await later(10);
    expect(canceled !== null, `the source was not canceled (pulled ${settled})`);
    return `(pulled ${settled})`;
  } },
  { name: "request.streamed-body", async run(api) {
    const request = new Request("https://example.com/up", { method: "POST", body: "hello body" });
    expectEqual(await api.requestBody(request), "POST https://example.com/up: hello body");
  } },
];

async function runWs(scenario) {
  const ws = new WebSocket(`ws://${hostPort}/`);
  const session = new RpcSession(new WebSocketTransport(ws));
  const api = session.getRemoteMain();
  try {
    const note = await withTimeout(scenario.run(api), SCENARIO_TIMEOUT_MS, "scenario");
    let stats;
    for (let i = 0; i < 400; i++) {
      stats = session.getStats();
      if (stats.imports === 1 && stats.exports === 1) break;
      await macrotask();
      if (i > 200) await later(5);
    }
    expectEqual(stats, { imports: 1, exports: 1 }, "client session stats after the scenario");
    return note;
  } finally {
    api[Symbol.dispose]?.();
    ws.close();
  }
}

async function runHttp() {
  const api = newHttpBatchRpcSession(`http://${hostPort}/`);
  let error;
  try {
    await withTimeout(api.tail(3).then(readAll), SCENARIO_TIMEOUT_MS, "tail over HTTP batch");
  } catch (e) { error = e; }
  expect(error instanceof Error && !(error instanceof CheckFailed),
    `expected the server's error, got ${show(error)}`);
  expect(/WebSocket/.test(error.message), `the error does not say why: ${error.message}`);
  return `(${error.message.slice(0, 60)}…)`;
}

let unhandled = [];
process.on("unhandledRejection", (err) => { unhandled.push(err); });

let passed = 0, failed = 0;
const list = mode === "ws" ? scenarios : [{ name: "http.stream-refused", run: runHttp }];
for (const scenario of list) {
  try {
    const note = await (mode === "ws" ? runWs(scenario) : scenario.run());
    console.log(`ok ${scenario.name}${note ? " " + note : ""}`);
    ++passed;
  } catch (err) {
    const reason = err instanceof CheckFailed ? err.message
      : `rejected: ${err?.name ?? typeof err}: ${err?.message ?? show(err)}`;
    console.log(`FAIL ${scenario.name}: ${reason.replace(/\n/g, " ")}`);
    ++failed;
  }
}
for (const err of unhandled) {
  console.error(`note: unhandled rejection: ${err?.name ?? typeof err}: ${err?.message ?? show(err)}`);
}
console.log(`${passed} passed, ${failed} failed, 0 skipped`);
process.exit(failed > 0 ? 1 : 0);
