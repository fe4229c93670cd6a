// The browser side of tests/tests/webtransport_browser.rs: the reference's client (npm
// capnweb, bundled by esbuild) in Chromium, calling capnweb-rs over WebTransport through
// transport.ts. Each step logs `step {...}` to the console; the last line is `result {...}`
// (or `FAIL ...`), which interop/webtransport/drive.mjs waits for.

import { RpcSession, RpcTarget } from "capnweb";
import { WebTransportRpcTransport } from "./transport.js";

/** The interop surface (capnweb_examples::interop), as far as the page uses it. */
interface Counter {
  increment(by?: number): number;
  value(): number;
}
interface Api {
  square(x: number): number;
  makeCounter(initial: number): Counter;
  generateFibonacci(n: number): number[];
  callFunction(func: (x: number) => number, x: number): { result: number };
  incrementCounter(counter: Counter, by?: number): number;
}
/** The streams surface (capnweb_examples::streams), as far as the page uses it. */
interface Streams {
  tail(n: number): ReadableStream<string>;
  collect(lines: ReadableStream<string>): string[];
}

/** A counter the page owns, which the server increments. */
class PageCounter extends RpcTarget {
  #value: number;
  constructor(initial: number) {
    super();
    this.#value = initial;
  }
  increment(by?: number): number {
    this.#value += by ?? 1;
    return this.#value;
  }
  value(): number {
    return this.#value;
  }
}

const params = new URLSearchParams(location.search);
const base = params.get("url") ?? "";
const hashHex = params.get("hash") ?? "";
const hash = new Uint8Array((hashHex.match(/../g) ?? []).map((h) => parseInt(h, 16)));
const options = { serverCertificateHashes: [{ algorithm: "sha-256", value: hash }] };

const results: Record<string, unknown> = {};

async function step(name: string, run: () => Promise<unknown>, want: unknown): Promise<void> {
  let got: unknown;
  try {
    got = await run();
  } catch (e) {
    throw new Error(`${name} failed: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
  const ok = JSON.stringify(got) === JSON.stringify(want);
  console.log(`step ${JSON.stringify({ name, ok, got })}`);
  if (!ok) throw new Error(`${name}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  results[name] = got;
}

async function main(): Promise<void> {
  console.log(`secure context: ${window.isSecureContext}; WebTransport: ${"WebTransport" in window}`);
  const transport = await WebTransportRpcTransport.connect(`${base}/`, options);
  const session = new RpcSession<Api>(transport);
  const api = session.getRemoteMain();

  await step("call", () => api.square(3), 9);
  await step("pipelining", async () => {
    const counter = api.makeCounter(5);
    const squared = api.square(counter.increment(3)); // 8 * 8, no round trip waited for
    const chained = api.square(api.square(api.square(2)));
    return [await squared, await chained];
  }, [64, 256]);
  await step("map", () => api.generateFibonacci(6).map((x) => api.square(x)), [0, 1, 1, 4, 9, 25]);
  await step("callback", async () => (await api.callFunction((x: number) => x * 10, 4)).result, 40);
  await step("callback.counter", () => api.incrementCounter(new PageCounter(4), 3), 7);

  const streamsTransport = await WebTransportRpcTransport.connect(`${base}/streams`, options);
  const streams = new RpcSession<Streams>(streamsTransport).getRemoteMain();
  await step("stream.from-server", async () => {
    const lines: string[] = [];
    const reader = (await streams.tail(3)).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      lines.push(value);
    }
    return lines;
  }, ["line 0", "line 1", "line 2"]);
  await step("stream.to-server", () => {
    const lines = new ReadableStream<string>({
      start(controller) {
        for (const line of ["a", "b", "c"]) controller.enqueue(line);
        controller.close();
      },
    });
    return streams.collect(lines);
  }, ["a", "b", "c"]);

  // A server that does not allow this page's origin refuses the session (403) before any
  // session starts: the page cannot connect.
  const refusedUrl = params.get("refused");
  if (refusedUrl) {
    await step("origin.refused", async () => {
      try {
        const refused = await WebTransportRpcTransport.connect(`${refusedUrl}/`, options);
        await refused.close();
        return "connected";
      } catch (e) {
        console.log(`refused as expected: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
        return "refused";
      }
    }, "refused");
  }

  await transport.close();
  await streamsTransport.close();
  console.log(`result ${JSON.stringify(results)}`);
}

main().catch((e: unknown) => {
  console.log(`FAIL ${e instanceof Error ? e.message : String(e)}`);
});
