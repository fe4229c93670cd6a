// Throughput of the reference client (npm capnweb 0.12.0) against a server with the interop
// surface, over WebSocket: the same measurements as `cargo run --release --example bench`.
//
//   node interop/node/bench.mjs 127.0.0.1:PORT

import { WebSocket } from "ws";
import { newWebSocketRpcSession } from "capnweb";

globalThis.WebSocket = WebSocket;
const SPAN_MS = 1500;

function report(what, count, ms) {
  const perSecond = (count / ms) * 1000;
  const micros = (ms * 1000) / count;
  console.log(`${what.padEnd(48)} ${perSecond.toFixed(0).padStart(12)} /s ${micros.toFixed(2).padStart(10)} µs each`);
}

async function measure(what, perRound, round) {
  await round();
  const started = performance.now();
  let count = 0;
  while (performance.now() - started < SPAN_MS) {
    await round();
    count += perRound;
  }
  report(what, count, performance.now() - started);
}

const addr = process.argv[2];
if (!addr) {
  console.error("usage: node bench.mjs HOST:PORT");
  process.exit(2);
}
const api = newWebSocketRpcSession(`ws://${addr}/`);
const label = `node client, websocket to ${addr}`;
await measure(`${label}: sequential`, 1, async () => { await api.square(3); });
await measure(`${label}: 100 concurrent`, 100, async () => {
  await Promise.all(Array.from({ length: 100 }, (_, i) => api.square(i)));
});
await measure(`${label}: chain of 10`, 10, async () => {
  let value = api.square(1);
  for (let i = 0; i < 9; i++) value = api.square(value);
  await value;
});
api[Symbol.dispose]();
process.exit(0);
