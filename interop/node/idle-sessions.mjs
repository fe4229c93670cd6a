// Opens N WebSocket sessions to a server with the interop surface, has each make one real call,
// and keeps them all open and idle until told to close them, so that the caller can read the
// server's RSS with every session established (bench/idle-sessions.sh).
//
//   node interop/node/idle-sessions.mjs HOST:PORT [N=10000]
//
// Each session is a raw `ws` WebSocket speaking the protocol by hand (the server sees exactly what
// the reference client sends for `await api.square(2)`): it sends
// `["push",["pipeline",0,["square"],[2]]]` and `["pull",1]`, requires `["resolve",1,4]` back, then
// sends `["release",1,1]`. After that the session is idle: both ends hold only their main entries.
// (Raw sockets keep the client small, so it competes less with the server on a small machine.)
//
// Opens at most CONCURRENCY (env, default 200) sessions at a time, so the server's accept backlog
// never holds more than that. Prints `opened N (in S s)` once all N are established, then waits
// for its stdin to reach EOF (or SIGTERM/SIGINT), checks that every session is still open (a
// server that closed one while idle fails the run), closes them all, prints `closed N`, exits 0.
// Any failure: `FAIL ...` on stderr, exit 1.

import fs from "node:fs";
import { WebSocket } from "ws";

const [addr, nArg] = process.argv.slice(2);
const N = Number(nArg ?? 10000);
if (!addr || !/^.+:\d+$/.test(addr) || !(Number.isInteger(N) && N > 0)) {
  console.error("usage: node idle-sessions.mjs HOST:PORT [N=10000]");
  process.exit(2);
}
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 200);
const OPEN_TIMEOUT_MS = Number(process.env.OPEN_TIMEOUT_MS ?? 30000);

function fail(message) {
  console.error(`FAIL ${message}`);
  process.exit(1);
}

const sockets = [];
let closedEarly = 0;
let phase = "opening";

function openOne(i) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${addr}/`, { perMessageDeflate: false });
    const timer = setTimeout(() => reject(new Error(`session ${i}: no answer within ${OPEN_TIMEOUT_MS} ms`)), OPEN_TIMEOUT_MS);
    let answered = false;
    ws.on("open", () => {
      ws.send(JSON.stringify(["push", ["pipeline", 0, ["square"], [2]]]));
      ws.send(JSON.stringify(["pull", 1]));
    });
    ws.on("message", (data) => {
      let msg;
      try {
        msg = JSON.parse(data.toString("utf8"));
      } catch {
        msg = undefined;
      }
      if (answered || JSON.stringify(msg) !== JSON.stringify(["resolve", 1, 4])) {
        reject(new Error(`session ${i}: unexpected message ${JSON.stringify(data.toString("utf8"))}`));
        return;
      }
      answered = true;
      clearTimeout(timer);
      ws.send(JSON.stringify(["release", 1, 1]));
      resolve(ws);
    });
    ws.on("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`session ${i}: ${err.message}`));
    });
    ws.on("close", (code, reason) => {
      clearTimeout(timer);
      if (!answered) reject(new Error(`session ${i}: closed before the answer (${code} ${reason})`));
      else if (phase !== "closing") {
        ++closedEarly;
        console.error(`session ${i}: closed by the server while idle (${code} ${reason})`);
      }
    });
  });
}

const started = performance.now();
let next = 0;
try {
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, N) }, async () => {
    while (next < N) {
      const i = next++;
      sockets.push(await openOne(i));
    }
  }));
} catch (err) {
  fail(err.message);
}
phase = "idle";
console.log(`opened ${N} (in ${((performance.now() - started) / 1000).toFixed(2)} s)`);

// Wait for the caller: EOF on stdin when it is a pipe or socket (with stdin at /dev/null or a
// terminal, only a signal ends the wait).
await new Promise((resolve) => {
  process.once("SIGTERM", resolve);
  process.once("SIGINT", resolve);
  try {
    const st = fs.fstatSync(0);
    if (st.isFIFO() || st.isSocket()) {
      process.stdin.on("end", resolve);
      process.stdin.on("close", resolve);
      process.stdin.on("error", resolve);
      process.stdin.resume();
    }
  } catch {
    // no stdin: wait for a signal
  }
});

if (closedEarly > 0) fail(`${closedEarly} of ${N} sessions were closed by the server while idle`);
const stillOpen = sockets.filter((ws) => ws.readyState === WebSocket.OPEN).length;
if (stillOpen !== N) fail(`only ${stillOpen} of ${N} sessions still open`);
phase = "closing";
await Promise.all(sockets.map((ws) => new Promise((resolve) => {
  ws.once("close", resolve);
  ws.close(1000);
  setTimeout(() => { ws.terminate(); resolve(); }, 10000).unref();
})));
console.log(`closed ${N}`);
process.exit(0);
