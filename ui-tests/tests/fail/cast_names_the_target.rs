//! `RpcPromise::<T>::cast` names the type it casts to; the type it casts from cannot be named,
//! so the old spelling `RpcPromise::cast::<u64>(p)` (which now would read as the source) does not
//! compile.
use capnweb::{RpcPromise, Stub, Value};

fn main() {
    let api = Stub::from_fn(|_args: Vec<Value>| async { Ok(Value::from(1)) });
    let _id: RpcPromise<u64> = RpcPromise::cast::<Value>(api.call_self(vec![]));
}
