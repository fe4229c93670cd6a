// Reference (npm capnweb 0.12.0) server for the interop harness.
//
//   node interop/node/server.mjs [HOST:PORT]        (default 127.0.0.1:0)
//
// Serves, on one port, HTTP batch (POST, any path) and WebSocket (any path), with a fresh
// main object per session: InteropApi (surface.mjs), or StreamsApi (streams-surface.mjs) with
// INTEROP_SURFACE=streams (streams-server.mjs sets it). First stdout line: `listening on HOST:PORT`.
// Exits 0 on SIGTERM/SIGINT, and when its stdin is a pipe/socket that reaches EOF (so a test
// process that dies does not leave it running). With stdin at /dev/null or a TTY it runs until
// killed.

import http from "node:http";
import fs from "node:fs";
import { WebSocket, WebSocketServer } from "ws";
import { newWebSocketRpcSession, nodeHttpBatchRpcResponse } from "capnweb";
import { InteropApi } from "./surface.mjs";
import { StreamsApi } from "./streams-surface.mjs";

// capnweb's WebSocketTransport reads the global WebSocket (for readyState constants); Node 20 has
// none, so use the `ws` package's.
globalThis.WebSocket ??= WebSocket;

function parseHostPort(arg) {
  const m = /^(.*):(\d+)$/.exec(arg ?? "127.0.0.1:0");
  if (!m) {
    console.error(`usage: node server.mjs HOST:PORT (got ${JSON.stringify(arg)})`);
    process.exit(2);
  }
  return { host: m[1].replace(/^\[(.*)\]$/, "$1"), port: Number(m[2]) };
}

const { host, port } = parseHostPort(process.argv[2]);
const surfaces = { interop: InteropApi, streams: StreamsApi };
const surface = process.env.INTEROP_SURFACE ?? "interop";
const Main = surfaces[surface];
if (!Main) {
  console.error(`INTEROP_SURFACE must be one of ${Object.keys(surfaces).join(", ")} (got ${surface})`);
  process.exit(2);
}
const trace = !!process.env.INTEROP_TRACE;

process.on("unhandledRejection", (err) => {
  if (trace) console.error("server: unhandled rejection:", err);
});

const server = http.createServer((req, res) => {
  if (req.headers.upgrade?.toLowerCase() === "websocket") return; // handled by WebSocketServer
  if (trace) {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => console.error(`server <- (${req.method} ${req.url}) ${JSON.stringify(Buffer.concat(chunks).toString("utf8"))}`));
    const end = res.end.bind(res);
    res.end = (body, ...rest) => {
      console.error(`server -> (HTTP ${res.statusCode}) ${JSON.stringify(body === undefined ? "" : String(body))}`);
      return end(body, ...rest);
    };
  }
  nodeHttpBatchRpcResponse(req, res, new Main()).catch((err) => {
    // The reference rejects a batch it cannot parse or evaluate (e.g. invalid JSON from a peer).
    console.error(`server: HTTP batch failed, answering 500: ${err?.name}: ${err?.message}`);
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
});

const wss = new WebSocketServer({ server });
wss.on("connection", (ws) => {
  if (trace) {
    ws.on("message", (m, isBinary) => {
      const text = Buffer.from(m instanceof ArrayBuffer ? new Uint8Array(m) : m).toString("utf8");
      console.error(`server <- ${isBinary ? `(binary frame) ${JSON.stringify(text)}` : text}`);
    });
    const send = ws.send.bind(ws);
    ws.send = (m, ...rest) => { console.error(`server -> ${m}`); return send(m, ...rest); };
  }
  newWebSocketRpcSession(ws, new Main());
});

function shutdown() {
  try { wss.close(); } catch {}
  try { server.close(); } catch {}
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

// Exit when the parent's end of our stdin pipe goes away.
try {
  const st = fs.fstatSync(0);
  if (st.isFIFO() || st.isSocket()) {
    process.stdin.on("end", shutdown);
    process.stdin.on("close", shutdown);
    process.stdin.on("error", shutdown);
    process.stdin.resume();
  }
} catch {
  // no stdin at all
}

server.listen(port, host, () => {
  const addr = server.address();
  fs.writeSync(1, `listening on ${host}:${addr.port}\n`);
});
