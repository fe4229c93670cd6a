"""py-capnweb 0.5.0 client for the interop harness.

    python interop/python/client.py <ws|http> HOST:PORT

Runs the interop scenario list (the same names as interop/node/client.mjs) against a server with
the interop surface and prints `ok NAME`, `FAIL NAME: REASON` or `skip NAME: WHY` per scenario,
then `N passed, M failed, K skipped`. Exit status 1 if anything failed.

A scenario is skipped when py-capnweb 0.5.0 has no way to express it (no such value type, no
API for it); it fails when py-capnweb's API offers it but the run goes wrong. The reasons are
collected in interop/README.md. Each scenario uses a fresh Client (a fresh WebSocket or HTTP
session). URLs use py-capnweb's own paths (/rpc/ws, /rpc/batch); the reference server accepts any
path.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from capnweb.client import Client, ClientConfig  # noqa: E402
from capnweb.core.stubs import RpcStub  # noqa: E402
from capnweb.error import RpcError  # noqa: E402
from capnweb.protocol.wire import WireDate  # noqa: E402

from surface import Counter  # noqa: E402

TIMEOUT = float(os.environ.get("INTEROP_TIMEOUT_MS", "5000")) / 1000


class CheckFailed(Exception):
    pass


class Skip(Exception):
    pass


def expect_equal(actual: Any, expected: Any, what: str = "value") -> None:
    if type(actual) is not type(expected) or actual != expected:
        raise CheckFailed(f"{what}: expected {expected!r}, got {actual!r}")


CALLBACK_SKIP = "HTTP batch is one request/response: the server cannot call back into the client"
NO_PROMISE_ARGS = (
    "py-capnweb 0.5.0 cannot pass a promise as a call argument: a PipelinePromise is not "
    "serializable (ValueError: Invalid wire expression) and a hand-made WirePipeline without a "
    "path goes out as [\"pipeline\", id, null], which the reference rejects"
)
NO_MAP = (
    "py-capnweb 0.5.0's .map() raises TypeError: unhashable type: 'PromiseStubHook' while "
    "recording (MapBuilder keys a dict by hook); besides, on a call result it would fetch the "
    "value and map locally, and calls on captured stubs inside the lambda are sent at once "
    "instead of being recorded as instructions"
)
NO_FUNCTION_EXPORT = (
    "py-capnweb 0.5.0 cannot export a plain function: a capability is an RpcTarget with named "
    "methods, and a call with an empty path (how a function is called) is refused by "
    "TargetStubHook ('Cannot call target without method name')"
)
ERROR_NAMES = (
    "py-capnweb 0.5.0 maps a received error name onto its own ErrorCode set "
    "(bad_request, not_found, cap_revoked, permission_denied, canceled, internal), so "
    "'RangeError' arrives as code 'internal'; the message 'test error' did arrive"
)


def check_test_error(err: BaseException | None) -> None:
    if err is None:
        raise CheckFailed("the call resolved instead of rejecting")
    if not isinstance(err, RpcError):
        raise CheckFailed(f"expected an RpcError, got {type(err).__name__}: {err}")
    expect_equal(err.message, "test error", "error message")
    raise Skip(ERROR_NAMES + f" (code {err.code.value})")


# ---------------------------------------------------------------- scenarios
# Each entry: (name, runner or None, {"http": skip reason, "ws": skip reason, "all": ...})

async def square(c: Client, mode: str) -> None:
    expect_equal(await c.call(0, "square", [7]), 49)


async def make_counter(c: Client, mode: str) -> None:
    # One batch: makeCounter(5), then increment(), increment(4) and .value pipelined on it.
    # PipelinePromise only offers property access, so a pipelined *call* on the result is made
    # with PipelineBatch.call(cap_id=<that result's import id>) - the wire form is then the
    # genuine ["pipeline", 1, ["increment"], [...]].
    b = c.pipeline()
    counter = b.call(0, "makeCounter", [5])
    cid = counter._import_id.value
    inc1 = b.call(cid, "increment", [])
    inc2 = b.call(cid, "increment", [4])
    value = counter.value
    stub, r1, r2, v = await asyncio.gather(counter, inc1, inc2, value)
    if not isinstance(stub, RpcStub):
        raise CheckFailed(f"makeCounter result: expected an RpcStub, got {stub!r}")
    expect_equal([r1, r2, v], [6, 10, 10], "[increment(), increment(4), value]")


async def make_counter_awaited(c: Client, mode: str) -> None:
    counter = await c.call(0, "makeCounter", [1])
    if not isinstance(counter, RpcStub):
        raise CheckFailed(f"expected an RpcStub, got {counter!r}")
    expect_equal(await counter.increment(2), 3, "increment(2)")
    expect_equal(await counter.value, 3, "value property")


async def increment_client_counter(c: Client, mode: str) -> None:
    local = Counter(4)
    stub = c.create_stub(local)
    expect_equal(await c.call(0, "incrementCounter", [stub, 9]), 13, "incrementCounter(clientCounter, 9)")
    expect_equal(local.n, 13, "client-side counter value")


async def call_square(c: Client, mode: str) -> None:
    api = c.get_remote_stub(0)
    expect_equal(await c.call(0, "callSquare", [api, 6]), {"result": 36})


async def throw_error(c: Client, mode: str) -> None:
    err = None
    try:
        await c.call(0, "throwError", [])
    except RpcError as e:
        err = e
    check_test_error(err)


async def generate_fibonacci(c: Client, mode: str) -> None:
    expect_equal(await c.call(0, "generateFibonacci", [10]), [0, 1, 1, 2, 3, 5, 8, 13, 21, 34], "generateFibonacci(10)")
    expect_equal(await c.call(0, "generateFibonacci", [0]), [], "generateFibonacci(0)")


async def return_null(c: Client, mode: str) -> None:
    expect_equal(await c.call(0, "returnNull", []), None)


async def return_number(c: Client, mode: str) -> None:
    expect_equal(await c.call(0, "returnNumber", [42]), 42)
    expect_equal(await c.call(0, "returnNumber", [-1.5]), -1.5)


def echo(value: Any, expected: Any = None) -> Callable[[Client, str], Awaitable[None]]:
    async def run(c: Client, mode: str) -> None:
        got = await c.call(0, "echo", [value])
        expect_equal(got, value if expected is None else expected, "echoed value")
    return run


async def rejection_propagates(c: Client, mode: str) -> None:
    b = c.pipeline()
    failing = b.call(0, "throwError", [])
    foo = b.call(failing._import_id.value, "foo", [])   # pipelined call on the rejected result
    err = None
    try:
        await foo
    except RpcError as e:
        err = e
    check_test_error(err)


NO_UNDEFINED = "py-capnweb 0.5.0 has no undefined: [\"undefined\"] is decoded as the list ['undefined']"
NO_BYTES = "py-capnweb 0.5.0 has no bytes type: a bytes argument raises ValueError (Invalid wire expression) and [\"bytes\", ...] is decoded as a list"
NO_BIGINT = "py-capnweb 0.5.0 has no bigint encoding: ints go out as JSON numbers and [\"bigint\", s] is decoded as a list"
NO_NONFINITE = "py-capnweb 0.5.0 has no encoding for NaN/Infinity: json.dumps writes a bare NaN/Infinity token (invalid JSON, the reference rejects the whole batch with a SyntaxError)"
NO_ERROR_VALUE = (
    "py-capnweb 0.5.0 has no error value with a JS name (only RpcError codes), and it sends an "
    "RpcError argument array-escaped ([[\"error\", ...]]), so a reference peer receives a plain array"
)

SCENARIOS: list[tuple[str, Callable | None, dict[str, str]]] = [
    ("square", square, {}),
    ("makeCounter", make_counter, {}),
    ("makeCounter.awaited-stub", make_counter_awaited,
     {"http": "needs a second round trip on a stub from the first; a batch session is single-use"}),
    ("incrementCounter.server-counter", None, {"all": NO_PROMISE_ARGS}),
    ("incrementCounter.client-counter", increment_client_counter, {"http": CALLBACK_SKIP}),
    ("callFunction", None, {"http": CALLBACK_SKIP, "all": NO_FUNCTION_EXPORT}),
    ("callFunction.async", None, {"http": CALLBACK_SKIP, "all": NO_FUNCTION_EXPORT}),
    ("callSquare", call_square, {}),
    ("throwError", throw_error, {}),
    ("generateFibonacci", generate_fibonacci, {}),
    ("returnNull", return_null, {}),
    ("returnUndefined", None, {"all": NO_UNDEFINED}),
    ("returnNumber", return_number, {}),
    ("echo.json", echo({"s": "héllo ☃ \U0001F600", "n": 1.25, "i": -7, "t": True, "f": False, "z": None, "o": {"a": [1, "x"]}}), {}),
    ("echo.string", echo("just a string"), {}),
    ("echo.date", echo(WireDate(1700000000123)), {}),
    ("echo.bytes", None, {"all": NO_BYTES}),
    ("echo.bytes-empty", None, {"all": NO_BYTES}),
    ("echo.bytes-int16", None, {"all": NO_BYTES}),
    ("echo.bytes-float64", None, {"all": NO_BYTES}),
    ("echo.bytes-arraybuffer", None, {"all": NO_BYTES}),
    ("echo.bigint", None, {"all": NO_BIGINT}),
    ("echo.bigint-negative", None, {"all": NO_BIGINT}),
    ("echo.bigint-40-digits", None, {"all": NO_BIGINT}),
    ("echo.undefined", None, {"all": NO_UNDEFINED}),
    ("echo.nan", None, {"all": NO_NONFINITE}),
    ("echo.infinity", None, {"all": NO_NONFINITE}),
    ("echo.neg-infinity", None, {"all": NO_NONFINITE}),
    ("echo.nested-arrays", echo([[1, [2, [3]]], []]), {}),
    ("echo.empty-array", echo([]), {}),
    ("echo.object-special", None, {"all": "needs bigint, NaN/Infinity, undefined and bytes, which py-capnweb 0.5.0 lacks"}),
    ("echo.error-props", None, {"all": NO_ERROR_VALUE}),
    ("pipeline.one-round-trip", None, {"all": NO_PROMISE_ARGS + "; and " + NO_MAP}),
    ("pipeline.rejection-propagates", rejection_propagates, {}),
    ("map.array", None, {"all": NO_MAP}),
    ("map.null", None, {"all": NO_MAP}),
    ("map.single-value", None, {"all": NO_MAP}),
    ("map.nested", None, {"all": NO_MAP}),
    ("map.client-capture", None, {"http": CALLBACK_SKIP, "all": NO_MAP}),
    ("newWebSocketRpcSession", None, {"all": "exercises the Node reference's convenience constructor; no py-capnweb equivalent"}),
]


async def run_one(mode: str, host_port: str, runner: Callable) -> None:
    path = "/rpc/ws" if mode == "ws" else "/rpc/batch"
    scheme = "ws" if mode == "ws" else "http"
    client = Client(ClientConfig(url=f"{scheme}://{host_port}{path}", timeout=TIMEOUT))
    await asyncio.wait_for(client.__aenter__(), TIMEOUT)
    try:
        await asyncio.wait_for(runner(client, mode), TIMEOUT)
    finally:
        try:
            await asyncio.wait_for(client.close(), 2)
        except BaseException:  # noqa: BLE001 - closing is best effort
            pass


async def main() -> int:
    if len(sys.argv) != 3 or sys.argv[1] not in ("ws", "http"):
        print("usage: client.py <ws|http> HOST:PORT", file=sys.stderr)
        return 2
    mode, host_port = sys.argv[1], sys.argv[2]
    logging.basicConfig(
        level=logging.DEBUG if os.environ.get("INTEROP_TRACE") else logging.CRITICAL + 1,
        stream=sys.stderr,
    )
    passed = failed = skipped = 0
    for name, runner, skips in SCENARIOS:
        reason = skips.get(mode) or skips.get("all")
        if reason or runner is None:
            print(f"skip {name}: {reason}", flush=True)
            skipped += 1
            continue
        try:
            await run_one(mode, host_port, runner)
            print(f"ok {name}", flush=True)
            passed += 1
        except Skip as s:
            print(f"skip {name}: {s}", flush=True)
            skipped += 1
        except CheckFailed as e:
            print(f"FAIL {name}: {e}", flush=True)
            failed += 1
        except (TimeoutError, asyncio.TimeoutError):
            print(f"FAIL {name}: timed out after {TIMEOUT:g} s", flush=True)
            failed += 1
        except Exception as e:  # noqa: BLE001 - every error fails its scenario
            msg = str(e).replace("\n", " ")
            print(f"FAIL {name}: {type(e).__name__}: {msg}", flush=True)
            failed += 1
    print(f"{passed} passed, {failed} failed, {skipped} skipped", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
