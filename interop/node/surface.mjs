// The interop surface shared by every server in this harness (see interop/README.md).
// Wire names are camelCase. Implemented with the reference's RpcTarget (npm capnweb 0.12.0).

import { RpcTarget } from "capnweb";

// A counter passed by reference. `increment(by = 1)` returns the new value; `value` is a
// property (read over the wire as ["pipeline", id, ["value"]]).
export class Counter extends RpcTarget {
  #n;
  constructor(initial = 0) {
    super();
    this.#n = initial;
  }
  increment(by = 1) {
    this.#n += by;
    return this.#n;
  }
  get value() {
    return this.#n;
  }
}

function fibonacci(n) {
  const out = [];
  let a = 0, b = 1;
  for (let i = 0; i < n; i++) {
    out.push(a);
    [a, b] = [b, a + b];
  }
  return out;
}

// The main object every server exposes (a fresh one per session).
export class InteropApi extends RpcTarget {
  square(x) {
    return x * x;
  }
  makeCounter(initial) {
    return new Counter(initial);
  }
  incrementCounter(counter, by = 1) {
    // `counter` is a stub the caller provided; the call goes back to its owner.
    return counter.increment(by);
  }
  async callFunction(func, x) {
    return { result: await func(x) };
  }
  callSquare(self, x) {
    // Returns a promise inside the result; the session resolves it before sending.
    return { result: self.square(x) };
  }
  throwError() {
    throw new RangeError("test error");
  }
  generateFibonacci(n) {
    return fibonacci(n);
  }
  returnNull() {
    return null;
  }
  returnUndefined() {
    return undefined;
  }
  returnNumber(x) {
    return x;
  }
  echo(value) {
    return value;
  }
}
