// Cap'n Web over WebTransport, for the reference implementation (npm capnweb) in a browser:
// a WebTransport session wrapped as its `RpcTransport`.
//
// The mapping (the same as capnweb-rs's `webtransport` module): the client opens one
// bidirectional stream on the session; every message is its JSON text followed by "\n" on that
// stream, both ways (JSON.stringify never emits a raw newline). A "\r" before the "\n" and empty
// lines are ignored. Ending: the side that ends closes its half of the stream, then closes the
// session with code 0 (clean), 3000 (an error, the reason its message) or 1001 (going away).
//
//   const transport = await WebTransportRpcTransport.connect("https://127.0.0.1:4433/", {
//     serverCertificateHashes: [{ algorithm: "sha-256", value: hash }],
//   });
//   const session = new RpcSession<Api>(transport, localMain);
//   const api = session.getRemoteMain();

import type { RpcTransport } from "capnweb";

/** The session close codes (WebTransport application codes). */
export const CLOSE_NORMAL = 0;
export const CLOSE_ERROR = 3000;
export const CLOSE_GOING_AWAY = 1001;

/** What `connect` takes beyond the URL. */
export interface ConnectOptions extends WebTransportOptions {
  /** The longest message accepted, in UTF-16 code units (default: the reference's 32 Mi). */
  maxMessageSize?: number;
}

const DEFAULT_MAX_MESSAGE_SIZE = 32 * 1024 * 1024;

/** A WebTransport session as a Cap'n Web `RpcTransport`. */
export class WebTransportRpcTransport implements RpcTransport {
  readonly session: WebTransport;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #reader: ReadableStreamDefaultReader<string>;
  #encoder = new TextEncoder();
  #buffer = "";
  #queue: string[] = [];
  #ended: Error | null = null;
  #maxMessageSize: number;

  private constructor(
    session: WebTransport,
    stream: WebTransportBidirectionalStream,
    maxMessageSize: number,
  ) {
    this.session = session;
    this.#maxMessageSize = maxMessageSize;
    this.#writer = stream.writable.getWriter();
    this.#reader = stream.readable
      .pipeThrough(new TextDecoderStream() as unknown as ReadableWritablePair<string, Uint8Array>)
      .getReader();
    // A failed session ends receive() with its reason, even if nothing is being read.
    session.closed.then(
      (info) => this.#end(closedError(info.closeCode ?? 0, info.reason ?? "")),
      (e: unknown) => this.#end(asError(e, "the WebTransport session failed")),
    );
  }

  /** Opens a session to `url`, then its stream. */
  static async connect(url: string, options: ConnectOptions = {}): Promise<WebTransportRpcTransport> {
    const { maxMessageSize, ...wtOptions } = options;
    const session = new WebTransport(url, wtOptions);
    await session.ready;
    const stream = await session.createBidirectionalStream();
    return new WebTransportRpcTransport(session, stream, maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE);
  }

  async send(message: string): Promise<void> {
    if (this.#ended) throw this.#ended;
    await this.#writer.write(this.#encoder.encode(message + "\n"));
  }

  async receive(): Promise<string> {
    for (;;) {
      const next = this.#queue.shift();
      if (next !== undefined) return next;
      if (this.#ended) throw this.#ended;
      const { value, done } = await this.#reader.read().catch((e: unknown) => {
        throw this.#ended ?? asError(e, "reading the WebTransport stream failed");
      });
      if (done) {
        if (this.#buffer.trim() !== "") {
          this.#end(new Error("the peer ended the WebTransport stream in the middle of a message"));
        } else {
          // The peer ended its stream: its session close (if it comes) says why.
          const why = await Promise.race([
            this.session.closed.then(
              (info) => closedError(info.closeCode ?? 0, info.reason ?? ""),
              (e: unknown) => asError(e, "the WebTransport session failed"),
            ),
            new Promise<Error>((resolve) =>
              setTimeout(() => resolve(new Error("the peer ended the WebTransport stream")), 3000),
            ),
          ]);
          this.#end(why);
        }
        continue;
      }
      this.#take(value);
    }
  }

  abort(reason: unknown): void {
    const message = reason instanceof Error ? reason.message : String(reason);
    this.#end(asError(reason, "aborted"));
    void this.#close(CLOSE_ERROR, message);
  }

  /** Ends the session cleanly (or with `code` and `reason`). */
  async close(code = CLOSE_NORMAL, reason = ""): Promise<void> {
    this.#end(new Error("the session was closed"));
    await this.#close(code, reason);
  }

  async #close(code: number, reason: string): Promise<void> {
    try {
      await this.#writer.close();
    } catch {
      // Already closed or failed: the session close below still says why.
    }
    try {
      this.session.close({ closeCode: code, reason: reason.slice(0, 1024) });
    } catch {
      // Closed already.
    }
  }

  /** Splits what arrived into messages, holding at most one unfinished line. */
  #take(text: string): void {
    this.#buffer += text;
    let newline: number;
    while ((newline = this.#buffer.indexOf("\n")) >= 0) {
      let line = this.#buffer.slice(0, newline);
      this.#buffer = this.#buffer.slice(newline + 1);
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (line !== "") this.#queue.push(line);
    }
    if (this.#buffer.length > this.#maxMessageSize) {
      const error = new Error(
        `a message on the WebTransport stream is longer than ${this.#maxMessageSize} characters`,
      );
      this.#buffer = "";
      this.abort(error);
    }
  }

  #end(error: Error): void {
    if (!this.#ended) this.#ended = error;
  }
}

function closedError(code: number, reason: string): Error {
  if (code === CLOSE_NORMAL) return new Error("the peer closed the WebTransport session");
  return new Error(`the peer closed the WebTransport session (${code}: ${reason})`);
}

function asError(e: unknown, what: string): Error {
  return e instanceof Error ? e : new Error(`${what}: ${String(e)}`);
}
