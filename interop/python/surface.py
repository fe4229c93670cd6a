"""The interop surface (see interop/README.md) implemented with py-capnweb 0.5.0.

py-capnweb targets are `RpcTarget` subclasses with `call(method, args)` and
`get_property(name)`; a capability is returned by reference as an `RpcStub` around a
`TargetStubHook`.
"""

from __future__ import annotations

from typing import Any

from capnweb.core.hooks import TargetStubHook
from capnweb.core.stubs import RpcStub
from capnweb.error import RpcError
from capnweb.types import RpcTarget


class Counter(RpcTarget):
    def __init__(self, initial: int = 0) -> None:
        self.n = initial

    async def call(self, method: str, args: list[Any]) -> Any:
        if method == "increment":
            by = args[0] if args else 1
            self.n += by
            return self.n
        raise RpcError.not_found(f"Counter has no method {method!r}")

    async def get_property(self, property: str) -> Any:
        if property == "value":
            return self.n
        raise RpcError.not_found(f"Counter has no property {property!r}")


def fibonacci(n: int) -> list[int]:
    out, a, b = [], 0, 1
    for _ in range(n):
        out.append(a)
        a, b = b, a + b
    return out


class InteropApi(RpcTarget):
    async def call(self, method: str, args: list[Any]) -> Any:
        match method:
            case "square":
                return args[0] * args[0]
            case "makeCounter":
                return RpcStub(TargetStubHook(Counter(args[0] if args else 0)))
            case "incrementCounter":
                counter = args[0]
                by = args[1] if len(args) > 1 else 1
                return await counter.increment(by)
            case "callFunction":
                func, x = args[0], args[1]
                return {"result": await func(x)}
            case "callSquare":
                this, x = args[0], args[1]
                return {"result": await this.square(x)}
            case "throwError":
                # py-capnweb can only send its own error codes as the error "name"
                # (bad_request, not_found, internal, ...): there is no way to send RangeError.
                raise RpcError.bad_request("test error")
            case "generateFibonacci":
                return fibonacci(args[0])
            case "returnNull":
                return None
            case "returnUndefined":
                # Python has no `undefined`; py-capnweb sends null.
                return None
            case "returnNumber":
                return args[0]
            case "echo":
                return args[0] if args else None
        raise RpcError.not_found(f"no such method {method!r}")

    async def get_property(self, property: str) -> Any:
        raise RpcError.not_found(f"no such property {property!r}")
