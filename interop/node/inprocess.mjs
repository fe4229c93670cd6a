// Node <-> Node in ONE process: the reference's client and server (npm capnweb 0.12.0) over a
// WebSocket on loopback (`ws`'s WebSocketServer on 127.0.0.1:0, newWebSocketRpcSession on both
// ends, the interop surface from surface.mjs). The counterpart of the in-process WebSocket figures
// of `cargo run --release --example bench` (Rust <-> Rust), in the same output format as bench.mjs.
//
//   node interop/node/inprocess.mjs
//
// Each measurement: a warm-up of WARMUP_MS (default 500; lets V8 optimise the hot paths), then
// rounds for about 1.5 s. Every result is checked; a wrong one or a rejection exits 1.

import { WebSocket, WebSocketServer } from "ws";
globalThis.WebSocket ??= WebSocket;

import { newWebSocketRpcSession } from "capnweb";
import { InteropApi } from "./surface.mjs";

const SPAN_MS = 1500;
const WARMUP_MS = Number(process.env.WARMUP_MS ?? 500);

function report(what, count, ms) {
  const perSecond = (count / ms) * 1000;
  const micros = (ms * 1000) / count;
  console.log(`${what.padEnd(48)} ${perSecond.toFixed(0).padStart(12)} /s ${micros.toFixed(2).padStart(10)} µs each`);
}

async function measure(what, perRound, round) {
  const warm = performance.now();
  do await round(); while (performance.now() - warm < WARMUP_MS);
  const started = performance.now();
  let count = 0;
  while (performance.now() - started < SPAN_MS) {
    await round();
    count += perRound;
  }
  report(what, count, performance.now() - started);
}

function check(actual, expected, what) {
  if (actual !== expected) throw new Error(`${what}: expected ${expected}, got ${actual}`);
}

process.on("unhandledRejection", (err) => {
  console.error(`FAIL unhandled rejection: ${err?.stack ?? err}`);
  process.exit(1);
});

// Calls/s with `n` calls always in flight: a new one starts as each finishes (the same
// measurement as the Rust bench's "100 calls in flight").
async function inFlight(what, n) {
  let count = 0;
  let warm = true;
  let started = performance.now();
  let stop = false;
  let stopped = 0;
  let done;
  const finished = new Promise((resolve) => { done = resolve; });
  let running = 0;
  const launch = () => {
    running++;
    api.square(2).then((v) => {
      check(v, 4, "square(2)");
      running--;
      if (!stop) count++;
      const now = performance.now();
      if (warm && now - started >= WARMUP_MS) {
        warm = false; count = 0; started = now;
      } else if (!warm && !stop && now - started >= SPAN_MS) {
        stop = true;
        stopped = now;
      }
      if (!stop) launch();
      else if (running === 0) done();
    }, (err) => { console.error(`FAIL ${err?.stack ?? err}`); process.exit(1); });
  };
  for (let i = 0; i < n; i++) launch();
  await finished;
  // Counted and timed up to the stop; the calls still running then only drain.
  report(what, count, stopped - started);
}

// The server end, in this process.
const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
await new Promise((resolve, reject) => {
  wss.once("listening", resolve);
  wss.once("error", reject);
});
wss.on("connection", (ws) => newWebSocketRpcSession(ws, new InteropApi()));
const addr = `127.0.0.1:${wss.address().port}`;

// The client end, in this process too.
const api = newWebSocketRpcSession(`ws://${addr}/`);
const label = "node websocket";
console.log(`# node <-> node in one process (npm capnweb 0.12.0 client and server, ws on ${addr})`);
try {
  await measure(`${label}: sequential calls`, 1, async () => {
    check(await api.square(3), 9, "square(3)");
  });
  await measure(`${label}: 100 concurrent calls`, 100, async () => {
    const got = await Promise.all(Array.from({ length: 100 }, (_, i) => api.square(i)));
    for (let i = 0; i < 100; i++) check(got[i], i * i, `square(${i})`);
  });
  await inFlight(`${label}: 100 calls in flight`, 100);
  await measure(`${label}: chain of 10 pipelined calls`, 10, async () => {
    let value = api.square(1);
    for (let i = 0; i < 9; i++) value = api.square(value);
    check(await value, 1, "chain of 10");
  });
} catch (err) {
  console.error(`FAIL ${err?.stack ?? err}`);
  process.exit(1);
}
api[Symbol.dispose]();
wss.close();
process.exit(0);
