//! The interop surface: the reference test suite's `TestTarget` and `Counter`, plus `echo`,
//! written with `#[rpc_target]`. `cargo run --example interop-server` serves it; the interop
//! tests serve it in-process and call other implementations' servers with its typed stub.

use std::sync::Mutex;

use capnweb::typescript::TS;
use capnweb::{rpc_target, RpcError, RpcPromise, Stub, Value};
use serde::{Deserialize, Serialize};

/// The main object of the interop surface.
#[derive(Debug, Default)]
pub struct InteropApi;

/// `{ result: … }`, what `callFunction` and `callSquare` return.
#[derive(Debug, Serialize, Deserialize, TS)]
#[ts(crate = "capnweb::typescript::ts_rs")]
pub struct Wrapped<T> {
    /// The wrapped result.
    pub result: T,
}

#[rpc_target]
impl InteropApi {
    /// `x * x`.
    pub fn square(&self, x: f64) -> f64 {
        x * x
    }

    /// A new counter, by reference.
    pub fn make_counter(&self, initial: f64) -> CounterStub {
        CounterStub::new(Counter::new(initial))
    }

    /// Increments the caller's counter (a call back into the caller) and returns its promise,
    /// so the caller's stub is released as soon as this returns.
    pub fn increment_counter(&self, counter: CounterStub, by: Option<f64>) -> RpcPromise<f64> {
        counter.increment(by.unwrap_or(1.0))
    }

    /// Calls the caller's function with `x`.
    pub async fn call_function(&self, func: Stub, x: Value) -> Result<Wrapped<Value>, RpcError> {
        Ok(Wrapped {
            result: func.call_self(vec![x]).await?,
        })
    }

    /// `{result: api.square(x)}`: a promise inside the result, on a stub the caller passed.
    pub fn call_square(&self, api: InteropApiStub, x: f64) -> Wrapped<RpcPromise<f64>> {
        Wrapped {
            result: api.square(x),
        }
    }

    /// Fails with `RangeError: test error`.
    pub fn throw_error(&self) -> Result<(), RpcError> {
        Err(RpcError::range_error("test error"))
    }

    /// The first `n` Fibonacci numbers, from 0, 1.
    pub fn generate_fibonacci(&self, n: f64) -> Vec<f64> {
        let n = n.max(0.0) as usize;
        let mut fib = vec![0.0, 1.0];
        while fib.len() < n {
            fib.push(fib[fib.len() - 1] + fib[fib.len() - 2]);
        }
        fib.truncate(n);
        fib
    }

    /// `null`.
    pub fn return_null(&self) -> Option<f64> {
        None
    }

    /// `undefined`.
    pub fn return_undefined(&self) {}

    /// Its argument.
    pub fn return_number(&self, x: f64) -> f64 {
        x
    }

    /// Its argument, unchanged, whatever its type.
    pub fn echo(&self, value: Value) -> Value {
        value
    }
}

/// The reference's `Counter`.
#[derive(Debug)]
pub struct Counter {
    value: Mutex<f64>,
}

impl Counter {
    /// A counter starting at `initial`.
    pub fn new(initial: f64) -> Counter {
        Counter {
            value: Mutex::new(initial),
        }
    }
}

#[rpc_target]
impl Counter {
    /// Adds `by` (1 when omitted); returns the new value.
    pub fn increment(&self, by: Option<f64>) -> f64 {
        let mut value = self.value.lock().unwrap_or_else(|p| p.into_inner());
        *value += by.unwrap_or(1.0);
        *value
    }

    /// The current value.
    #[rpc(property)]
    pub fn value(&self) -> f64 {
        *self.value.lock().unwrap_or_else(|p| p.into_inner())
    }
}
