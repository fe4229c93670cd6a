// The streams interop surface on the reference (npm capnweb 0.12.0): the same methods as
// capnweb_examples::streams::StreamsApi (examples/streams_api.rs). One object per session.

import { RpcTarget } from "capnweb";

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

function linesStream(n) {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < n) controller.enqueue(`line ${i++}`);
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

export class StreamsApi extends RpcTarget {
  #upload = null;
  #produced = 0;

  tail(n) { return linesStream(n); }

  chunks(n, size) {
    let i = 0;
    return new ReadableStream({
      pull(controller) {
        if (i < n) { controller.enqueue(new Uint8Array(size).fill(i % 256)); ++i; }
        else controller.close();
      },
    });
  }

  failing(n) {
    let i = 0;
    return new ReadableStream({
      pull(controller) {
        if (i < n) controller.enqueue(`line ${i++}`);
        else controller.error(new RangeError("the source broke"));
      },
    });
  }

  endless() {
    let i = 0;
    const self = this;
    return new ReadableStream({
      pull(controller) { self.#produced++; controller.enqueue(i++); },
    });
  }

  produced() { return this.#produced; }

  blob(text) { return new Blob([text], { type: "text/plain" }); }

  async blobInfo(blob) {
    const bytes = new Uint8Array(await blob.arrayBuffer());
    return `${blob.type}:${bytes.length}`;
  }

  async collect(lines) { return await readAll(lines); }

  async totalBytes(chunks) {
    let total = 0;
    for (const chunk of await readAll(chunks)) total += chunk.byteLength;
    return total;
  }

  async takeTwo(lines) {
    const reader = lines.getReader();
    const out = [];
    while (out.length < 2) {
      const { done, value } = await reader.read();
      if (done) break;
      out.push(value);
    }
    await reader.cancel("took two");
    return out;
  }

  upload() {
    const { readable, writable } = pipePair();
    this.#upload = readable;
    return writable;
  }

  async uploaded() {
    if (!this.#upload) throw new Error("upload() was not called");
    const readable = this.#upload;
    this.#upload = null;
    return await readAll(readable);
  }

  async writeLines(out, n) {
    const writer = out.getWriter();
    for (let i = 0; i < n; i++) await writer.write(`line ${i}`);
    await writer.close();
  }

  async requestBody(request) {
    return `${request.method} ${request.url}: ${await request.text()}`;
  }
}
