//! What `#[rpc_target]`'s generated code uses. Not a public API: names may change at any time.
//!
//! Generated code refers to everything through `::capnweb::__private::…` (or the renamed
//! crate), so it needs no imports and works under `#![no_implicit_prelude]`.

pub use core::clone::Clone;
pub use core::convert::From;
pub use core::fmt::Result as FmtResult;
pub use core::fmt::{Debug, Formatter};
pub use core::future::Future;
pub use core::marker::{PhantomData, Send, Sync};
pub use core::option::Option::{self, None, Some};
pub use core::result::Result::{self, Err, Ok};
pub use std::boxed::Box;
pub use std::string::String;
pub use std::sync::Arc;
pub use std::vec::Vec;

pub use serde::de::DeserializeOwned;
pub use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use crate::{
    CallFuture, Error, FromStub, IntoArg, MapResult, PipelineFields, RpcError, RpcPromise,
    RpcTarget, Stub, TypedStub, Value,
};

use crate::value::from_value;

/// The arguments of one incoming call, decoded one by one with errors that name the method
/// and the argument.
#[derive(Debug)]
pub struct Args {
    method: &'static str,
    names: &'static [&'static str],
    values: std::vec::IntoIter<Value>,
    index: usize,
}

impl Args {
    /// Checks the count: more arguments than parameters is an error (fewer is allowed; the
    /// missing ones are `undefined`, which an `Option` parameter accepts).
    pub fn new(
        method: &'static str,
        names: &'static [&'static str],
        values: Vec<Value>,
    ) -> Result<Args, RpcError> {
        if values.len() > names.len() {
            return Err(RpcError::type_error(format!(
                "{method} takes {} argument{} ({}), but {} were given",
                names.len(),
                if names.len() == 1 { "" } else { "s" },
                names.join(", "),
                values.len()
            )));
        }
        Ok(Args {
            method,
            names,
            values: values.into_iter(),
            index: 0,
        })
    }

    /// Decodes the next argument.
    pub fn decode<T: DeserializeOwned + 'static>(&mut self) -> Result<T, RpcError> {
        let index = self.index;
        self.index += 1;
        let name = self.names.get(index).copied().unwrap_or("?");
        let value = self.values.next().unwrap_or(Value::Undefined);
        let missing = matches!(value, Value::Undefined);
        from_value::<T>(value).map_err(|e| {
            let detail = match e {
                Error::Decode { message, .. } => message,
                other => other.to_string(),
            };
            let position = format!(
                "argument `{name}` ({} of {}) of {}",
                index + 1,
                self.names.len(),
                self.method
            );
            if missing {
                RpcError::type_error(format!("missing {position}: {detail}"))
            } else {
                RpcError::type_error(format!("bad {position}: {detail}"))
            }
        })
    }
}

/// A finished call.
pub fn ready(result: Result<Value, RpcError>) -> CallFuture {
    CallFuture::ready(result)
}

/// A call still running.
pub fn running<F>(future: F) -> CallFuture
where
    F: Future<Output = Result<Value, RpcError>> + Send + 'static,
{
    CallFuture::new(future)
}

/// Encodes a method's return value: scalars and special values at once, containers when the
/// result is sent (written straight into the message) or looked at.
pub fn encode<T: Serialize + Send + 'static>(value: T) -> Result<Value, RpcError> {
    crate::value::defer(value).map_err(|e| RpcError::type_error(e.to_string()))
}

/// Encodes a method's `Result`.
pub fn encode_result<T: Serialize + Send + 'static, E: Into<RpcError>>(
    result: Result<T, E>,
) -> Result<Value, RpcError> {
    match result {
        Ok(value) => encode(value),
        Err(e) => Err(e.into()),
    }
}

/// The error for a method the target does not have.
pub fn no_such_method(target: &'static str, method: &str) -> CallFuture {
    ready(Err(RpcError::type_error(format!(
        "'{method}' is not a method of {target}"
    ))))
}

/// A typed call on `stub`: a rejected promise if an argument could not be encoded.
pub fn call<T>(
    stub: &Stub,
    method: &'static str,
    args: Vec<Result<Value, Error>>,
) -> RpcPromise<T> {
    match args.into_iter().collect::<Result<Vec<_>, _>>() {
        Ok(args) => RpcPromise::cast(stub.call(method, args)),
        Err(e) => crate::typed::rejected(e),
    }
}

/// A typed property read on `stub`.
pub fn get<T>(stub: &Stub, property: &'static str) -> RpcPromise<T> {
    RpcPromise::cast(stub.get(property))
}

/// A promise of the field `wire_name` of what `promise` resolves to (a lazy property read, as
/// `RpcPromise::get`; recorded inside a `.map()` closure).
pub fn field<F>(promise: &RpcPromise<Value>, wire_name: &'static str) -> RpcPromise<F> {
    RpcPromise::cast(promise.get(wire_name))
}

/// Serializes a typed stub as the capability it wraps.
pub fn serialize_stub<S: Serializer>(stub: &Stub, serializer: S) -> Result<S::Ok, S::Error> {
    stub.serialize(serializer)
}

/// Deserializes a capability into a typed stub.
pub fn deserialize_stub<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Stub, D::Error> {
    Stub::deserialize(deserializer)
}

/// The code `#[rpc_target]` generates for the `typescript` feature.
#[cfg(feature = "typescript")]
pub use crate::typescript::generated as typescript;

/// Expands to its input when capnweb's `typescript` feature is on, and to nothing when it is
/// off: `#[rpc_target]` cannot see the features of capnweb, so it wraps what only that feature
/// can compile in this.
#[cfg(feature = "typescript")]
#[doc(hidden)]
#[macro_export]
macro_rules! __capnweb_typescript_only {
    ($($generated:tt)*) => { $($generated)* };
}

/// Expands to its input when capnweb's `typescript` feature is on, and to nothing when it is
/// off.
#[cfg(not(feature = "typescript"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __capnweb_typescript_only {
    ($($generated:tt)*) => {};
}

pub use crate::__capnweb_typescript_only as typescript_only;
