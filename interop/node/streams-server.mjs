// Reference (npm capnweb 0.12.0) server for the streams interop tests: server.mjs, with a
// StreamsApi (streams-surface.mjs) as each session's main object.
//
//   node interop/node/streams-server.mjs [HOST:PORT]        (default 127.0.0.1:0)

process.env.INTEROP_SURFACE = "streams";
await import("./server.mjs");
