// A fixed load, driven by the reference's own client (npm capnweb 0.12.0), against any server with
// the interop surface (interop/README.md). Used by bench/compare.sh to put the reference server
// and ours under identical load.
//
//   node interop/node/load.mjs HOST:PORT [--server-pid PID] [--phases NAME,...]
//
// --phases runs only the phases named (default: all four); bench/compare.sh runs ws.concurrent
// alone under strace.
//
// Phases, in this order (each WebSocket phase on its own session, opened before its clock starts):
//   ws.sequential   3,000 square(x), one at a time, over one WebSocket session
//   ws.concurrent   60,000 square(x) over one WebSocket session, in windows of 1,000
//                   (each window awaited with Promise.all)
//   ws.pipelined    2,000 x { c = makeCounter(k); await c.increment(1); dispose c } over one
//                   WebSocket session (makeCounter is never awaited: the increment is pipelined)
//   http.batch      300 HTTP batch sessions (newHttpBatchRpcSession), each one POST carrying
//                   c = makeCounter(k), c.increment(1), c.increment(1)
//
// Every result is checked; a wrong result, a rejection, a POST count or POST body that is not as
// expected, a session whose tables are not back to {imports: 1, exports: 1} after its phase, or a
// phase that exceeds LOAD_TIMEOUT_MS (default 120000) fails the run: `FAIL ...` on stderr, exit 1.
//
// Prints one line per phase, then `RESULT {json}` (one line; machine-readable). With
// --server-pid, each phase also records the CPU time the server process used during it
// (sum of /proc/PID/task/*/schedstat, ns precision; threads that exit mid-phase are not counted)
// and the client's own CPU time (process.cpuUsage()).

import { WebSocket } from "ws";
globalThis.WebSocket ??= WebSocket;

import fs from "node:fs";
import { RpcSession, WebSocketTransport, newHttpBatchRpcSession } from "capnweb";

// ---------------------------------------------------------------- arguments

const args = process.argv.slice(2);
let addr;
let serverPid;
let only;
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--server-pid") serverPid = Number(args[++i]);
  else if (args[i] === "--phases") only = new Set(String(args[++i] ?? "").split(","));
  else if (!addr) addr = args[i];
  else usage();
}
if (!addr || !/^.+:\d+$/.test(addr) || (serverPid !== undefined && !(serverPid > 0))) usage();
function usage() {
  console.error("usage: node load.mjs HOST:PORT [--server-pid PID] [--phases NAME,...]");
  process.exit(2);
}
const PHASE_NAMES = ["ws.sequential", "ws.concurrent", "ws.pipelined", "http.batch"];
if (only && [...only].some((name) => !PHASE_NAMES.includes(name))) usage();
const runs = (name) => !only || only.has(name);
const PHASE_TIMEOUT_MS = Number(process.env.LOAD_TIMEOUT_MS ?? 120000);

// ---------------------------------------------------------------- failure

class LoadFailed extends Error {}

function fail(message) {
  throw new LoadFailed(message);
}

function check(actual, expected, what) {
  if (actual !== expected) {
    fail(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

process.on("unhandledRejection", (err) => {
  console.error(`FAIL unhandled rejection: ${err?.stack ?? err}`);
  process.exit(1);
});

// ---------------------------------------------------------------- measuring

// CPU time of every live thread of `pid`, in ns (first field of each task's schedstat).
function taskCpuNs(pid) {
  let total = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // the thread exited between readdir and read
    }
  }
  return total;
}

function sample() {
  return {
    wall: performance.now(),
    client: process.cpuUsage(),
    server: serverPid ? taskCpuNs(serverPid) : undefined,
  };
}

const phases = [];

async function phase(name, { ops, calls }, body) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new LoadFailed(`not done after ${PHASE_TIMEOUT_MS} ms`)), PHASE_TIMEOUT_MS);
  });
  const before = sample();
  try {
    await Promise.race([body(), timeout]);
  } catch (err) {
    throw err instanceof LoadFailed ? new LoadFailed(`${name}: ${err.message}`) : new LoadFailed(`${name}: rejected: ${err?.stack ?? err}`);
  } finally {
    clearTimeout(timer);
  }
  const after = sample();
  const ms = after.wall - before.wall;
  const clientCpu = process.cpuUsage(before.client);
  const result = {
    name,
    ops,
    calls,
    ms: round(ms, 3),
    callsPerSec: round((calls / ms) * 1000, 1),
    opsPerSec: round((ops / ms) * 1000, 1),
    clientCpuMs: round((clientCpu.user + clientCpu.system) / 1000, 3),
  };
  if (serverPid) result.serverCpuMs = round((after.server - before.server) / 1e6, 3);
  phases.push(result);
  const extra = serverPid ? `  server cpu ${result.serverCpuMs.toFixed(0).padStart(6)} ms` : "";
  console.log(
    `${name.padEnd(14)} ${String(ops).padStart(6)} ops ${String(calls).padStart(6)} calls ` +
    `${(ms / 1000).toFixed(3).padStart(8)} s ${result.callsPerSec.toFixed(0).padStart(9)} calls/s ` +
    `${result.opsPerSec.toFixed(0).padStart(9)} ops/s  client cpu ${result.clientCpuMs.toFixed(0).padStart(6)} ms${extra}`,
  );
}

function round(x, digits) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

// ---------------------------------------------------------------- WebSocket sessions

// Opens a WebSocket and waits for it to be open, then builds the reference's client session on it
// (what newWebSocketRpcSession does, with getStats() reachable).
async function openSession() {
  const ws = new WebSocket(`ws://${addr}/`);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", (err) => reject(new LoadFailed(`WebSocket to ${addr} failed: ${err.message}`)));
  });
  const session = new RpcSession(new WebSocketTransport(ws));
  return { ws, session, api: session.getRemoteMain() };
}

// After a phase: only the two main entries may remain in the client's tables (everything the
// phase created was disposed or released). The peer's releases are messages still on their way:
// waits for them up to a deadline (a count of event-loop turns was too short on a loaded machine).
async function closeSession({ ws, session, api }, name) {
  let stats;
  const deadline = performance.now() + 5000;
  for (;;) {
    stats = session.getStats();
    if (stats.imports === 1 && stats.exports === 1) break;
    if (performance.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 1));
  }
  if (stats.imports !== 1 || stats.exports !== 1) {
    fail(`${name}: client session tables not back to {imports: 1, exports: 1}: ${JSON.stringify(stats)}`);
  }
  const closed = new Promise((r) => ws.once("close", r));
  api[Symbol.dispose](); // shuts the session down; the transport closes the socket
  await closed;
}

// ---------------------------------------------------------------- HTTP batch: count POSTs

let posts = 0;
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  if ((init?.method ?? "GET").toUpperCase() === "POST") {
    ++posts;
    const body = String(init.body ?? "");
    const pushes = body.split("\n").filter((line) => line.startsWith('["push",')).length;
    if (pushes !== 3) {
      return Promise.reject(new LoadFailed(`POST #${posts} carried ${pushes} pushes, expected 3: ${body}`));
    }
  }
  return realFetch(input, init);
};

// ---------------------------------------------------------------- the load

const SEQUENTIAL = 3000;
const CONCURRENT = 60000;
const WINDOW = 1000;
const PIPELINED = 2000;
const BATCHES = 300;

async function main() {
  console.log(`# load.mjs: reference client (npm capnweb 0.12.0) -> ${addr}${serverPid ? ` (server pid ${serverPid})` : ""}`);

  let s;
  if (runs("ws.sequential")) {
    s = await openSession();
    await phase("ws.sequential", { ops: SEQUENTIAL, calls: SEQUENTIAL }, async () => {
      for (let i = 0; i < SEQUENTIAL; i++) {
        const x = i + 1;
        check(await s.api.square(x), x * x, `square(${x})`);
      }
    });
    await closeSession(s, "ws.sequential");
  }

  if (runs("ws.concurrent")) {
    s = await openSession();
    await phase("ws.concurrent", { ops: CONCURRENT, calls: CONCURRENT }, async () => {
      for (let start = 0; start < CONCURRENT; start += WINDOW) {
        const xs = Array.from({ length: WINDOW }, (_, j) => start + j - CONCURRENT / 2);
        const got = await Promise.all(xs.map((x) => s.api.square(x)));
        for (let j = 0; j < WINDOW; j++) check(got[j], xs[j] * xs[j], `square(${xs[j]})`);
      }
    });
    await closeSession(s, "ws.concurrent");
  }

  if (runs("ws.pipelined")) {
    s = await openSession();
    await phase("ws.pipelined", { ops: PIPELINED, calls: 2 * PIPELINED }, async () => {
      for (let k = 0; k < PIPELINED; k++) {
        const counter = s.api.makeCounter(k);
        try {
          check(await counter.increment(1), k + 1, `makeCounter(${k}).increment(1)`);
        } finally {
          counter[Symbol.dispose]();
        }
      }
    });
    await closeSession(s, "ws.pipelined");
  }

  if (runs("http.batch")) {
    const postsBefore = posts;
    await phase("http.batch", { ops: BATCHES, calls: 3 * BATCHES }, async () => {
      for (let b = 0; b < BATCHES; b++) {
        const k = 1000 * b;
        const api = newHttpBatchRpcSession(`http://${addr}/`);
        const counter = api.makeCounter(k);
        try {
          const got = await Promise.all([counter.increment(1), counter.increment(1)]);
          check(got[0], k + 1, `batch ${b}: makeCounter(${k}).increment(1)`);
          check(got[1], k + 2, `batch ${b}: makeCounter(${k}).increment(1), twice`);
        } finally {
          counter[Symbol.dispose]();
          api[Symbol.dispose]();
        }
      }
    });
    check(posts - postsBefore, BATCHES, "POSTs made by the http.batch phase");
  }

  const ms = phases.reduce((a, p) => a + p.ms, 0);
  const calls = phases.reduce((a, p) => a + p.calls, 0);
  const result = {
    addr,
    serverPid: serverPid ?? null,
    calls,
    ms: round(ms, 3),
    callsPerSec: round((calls / ms) * 1000, 1),
    clientCpuMs: round(phases.reduce((a, p) => a + p.clientCpuMs, 0), 3),
    ...(serverPid ? { serverCpuMs: round(phases.reduce((a, p) => a + p.serverCpuMs, 0), 3) } : {}),
    phases,
  };
  console.log(`total          ${String(calls).padStart(17)} calls ${(ms / 1000).toFixed(3).padStart(8)} s ${result.callsPerSec.toFixed(0).padStart(9)} calls/s`);
  console.log(`RESULT ${JSON.stringify(result)}`);
}

try {
  await main();
  process.exit(0);
} catch (err) {
  console.error(`FAIL ${err instanceof LoadFailed ? err.message : err?.stack ?? err}`);
  process.exit(1);
}
