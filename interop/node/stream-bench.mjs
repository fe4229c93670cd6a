// Stream throughput of the reference client (npm capnweb 0.12.0) against a server with the
// streams surface, over WebSocket: 64 KiB chunks of bytes, uploaded (a ReadableStream argument
// of totalBytes) and downloaded (the ReadableStream chunks() returns). Prints one JSON line:
// {"upload_mb_s": …, "download_mb_s": …, "cpu_ms": …} (cpu_ms: this process's CPU time, user and
// system, over both measurements after the warm-up). The same measurements as
// `cargo run --release --example stream-bench`.
//
//   node interop/node/stream-bench.mjs HOST:PORT [MiB]

import { WebSocket } from "ws";
import { newWebSocketRpcSession } from "capnweb";

globalThis.WebSocket ??= WebSocket;
const CHUNK = 64 * 1024;
const [addr, mibArg] = process.argv.slice(2);
if (!addr) {
  console.error("usage: node stream-bench.mjs HOST:PORT [MiB]");
  process.exit(2);
}
const chunks = Math.max(1, Math.round((Number(mibArg ?? 64) * 1024 * 1024) / CHUNK));
const bytes = chunks * CHUNK;
const api = newWebSocketRpcSession(`ws://${addr}/`);

function source(n) {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < n) controller.enqueue(new Uint8Array(CHUNK).fill(i++ % 256));
      else controller.close();
    },
  });
}

const mbPerSecond = (ms) => bytes / 1e6 / (ms / 1000);

// Warm up, then measure.
await api.totalBytes(source(16));
const cpuAtStart = process.cpuUsage();
let started = performance.now();
const total = await api.totalBytes(source(chunks));
const upload = mbPerSecond(performance.now() - started);
if (total !== bytes) throw new Error(`uploaded ${total} bytes, expected ${bytes}`);

started = performance.now();
const reader = (await api.chunks(chunks, CHUNK)).getReader();
let received = 0;
for (;;) {
  const { done, value } = await reader.read();
  if (done) break;
  received += value.byteLength;
}
const download = mbPerSecond(performance.now() - started);
if (received !== bytes) throw new Error(`downloaded ${received} bytes, expected ${bytes}`);

const cpu = process.cpuUsage(cpuAtStart);
const cpu_ms = (cpu.user + cpu.system) / 1000;
console.log(JSON.stringify({ upload_mb_s: upload, download_mb_s: download, cpu_ms, bytes }));
process.exit(0);
