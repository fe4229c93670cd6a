//! [`Value`]: the dynamic data model of Cap'n Web, and the serde bridge to ordinary Rust types.
//!
//! `Value` is JSON plus what JavaScript peers send beside it: `undefined`, bigints, dates, byte
//! arrays, errors, URLs, headers, requests and responses, and capabilities (stubs and promises).
//! [`to_value`] and [`from_value`] map ordinary Rust types onto it as the reference's JavaScript
//! peers expect:
//!
//! | Rust | Value | wire |
//! | --- | --- | --- |
//! | `()` | `Undefined` | `["undefined"]` |
//! | `None`, unit structs | `Null` | `null` |
//! | `bool`, `String`, `char` | `Bool`, `String` | literal |
//! | `f32`, `f64`, integers up to ±2^53 | `Number` | literal (`["nan"]`, `["inf"]`, `["-inf"]`) |
//! | `i128`, `u128`, [`BigInt`] | `BigInt` | `["bigint", "…"]` |
//! | `Vec<T>`, tuples, arrays | `Array` | `[[…]]` |
//! | structs, maps | `Object` | `{…}` |
//! | [`Bytes`] (or `serde_bytes`) | `Bytes` | `["bytes", base64]` |
//! | [`Date`] | `Date` | `["date", ms]` |
//!
//! Integers outside ±(2^53 − 1) cannot be represented exactly by a JavaScript number, so
//! [`to_value`] refuses them with an error rather than round them silently; use `i128`/`u128`
//! or [`BigInt`] for such values and they travel as bigints.
//!
//! ```
//! use capnweb::{from_value, to_value, Value};
//!
//! #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
//! struct Point { x: f64, y: f64, tags: Vec<String>, note: Option<String> }
//!
//! let p = Point { x: 1.0, y: 2.5, tags: vec!["a".into()], note: None };
//! let v = to_value(&p).unwrap();
//! assert!(matches!(v, Value::Object(_)));
//! assert_eq!(from_value::<Point>(v).unwrap(), p);
//! assert!(to_value(&u64::MAX).is_err());
//! ```

mod de;
mod deferred;
mod path_error;
mod rpc_error;
mod ser;
pub(crate) mod special;
mod types;
mod wording;

pub use de::from_value;
pub(crate) use deferred::defer;
pub use deferred::Deferred;
pub(crate) use path_error::{PathError, PathSeg};
pub use rpc_error::RpcError;
pub(crate) use ser::into_value;
pub use ser::to_value;
pub(crate) use ser::{unsafe_integer, MapKeySerializer};
pub(crate) use special::MAGIC_NAME;
pub(crate) use types::MAX_SAFE_INTEGER;
pub use types::{BigInt, Bytes, Date, Fetch};

/// Takes the value a capnweb special value's token parks (see `special`), for a serializer of
/// capnweb's own on `serialize_newtype_struct(MAGIC_NAME, token)`.
pub(crate) fn capture_special<T: serde::Serialize + ?Sized>(token: &T) -> Option<Value> {
    special::capture(token, ser::ValueSerializer)
}

use crate::{RpcPromise, Stub};

/// An object: string keys in insertion order, each mapped to a [`Value`].
pub type Object = indexmap::IndexMap<String, Value>;

/// A Cap'n Web value.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum Value {
    /// JavaScript `undefined`.
    #[default]
    Undefined,
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A JavaScript number (any f64, including NaN and the infinities).
    Number(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object.
    Object(Object),
    /// A JavaScript bigint.
    BigInt(BigInt),
    /// A JavaScript `Date`.
    Date(Date),
    /// A byte container (`Uint8Array`, `ArrayBuffer`, typed arrays).
    Bytes(Bytes),
    /// An `Error`.
    Error(Box<RpcError>),
    /// A `URL`, by its href.
    Url(String),
    /// A `Headers` object, as name/value pairs.
    Headers(Vec<(String, String)>),
    /// A Fetch `Request`.
    Request(Box<Fetch>),
    /// A Fetch `Response`.
    Response(Box<Fetch>),
    /// A capability: a stub for an object that lives on one side or the other.
    Stub(Stub),
    /// A promise: replaced by its resolution before an application sees the value.
    Promise(RpcPromise<Value>),
    /// A method's result still held as the Rust value it returned, written straight into the
    /// message that sends it. Internal: converted to one of the other variants before an
    /// application sees the value.
    #[doc(hidden)]
    Deferred(Deferred),
}

impl Value {
    /// A short name for the kind of value, for error messages (`"string"`, `"array"`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Undefined => "undefined",
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
            Value::BigInt(_) => "bigint",
            Value::Date(_) => "date",
            Value::Bytes(_) => "bytes",
            Value::Error(_) => "error",
            Value::Url(_) => "url",
            Value::Headers(_) => "headers",
            Value::Request(_) => "request",
            Value::Response(_) => "response",
            Value::Stub(_) => "stub",
            Value::Promise(_) => "promise",
            Value::Deferred(deferred) => deferred.view().kind(),
        }
    }

    /// The value with a deferred result converted: what an application may see.
    #[allow(clippy::result_large_err)]
    pub(crate) fn settled(self) -> Result<Value, crate::Error> {
        match self {
            Value::Deferred(deferred) => deferred.to_value(),
            other => Ok(other),
        }
    }

    /// This value, or the converted value of a deferred result, to look at.
    pub(crate) fn view(&self) -> &Value {
        match self {
            Value::Deferred(deferred) => deferred.view(),
            other => other,
        }
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self.view() {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self.view() {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The number as an `i64`, if this is an integral number within ±2^53.
    pub fn as_i64(&self) -> Option<i64> {
        match self.view() {
            Value::Number(n) if n.fract() == 0.0 && n.abs() <= types::MAX_SAFE_INTEGER as f64 => {
                Some(*n as i64)
            }
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self.view() {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The entries, if this is an object.
    pub fn as_object(&self) -> Option<&Object> {
        match self.view() {
            Value::Object(object) => Some(object),
            _ => None,
        }
    }

    /// The stub, if this is a stub.
    pub fn as_stub(&self) -> Option<&Stub> {
        match self.view() {
            Value::Stub(stub) => Some(stub),
            _ => None,
        }
    }

    /// Whether this is `null` or `undefined`.
    pub fn is_nullish(&self) -> bool {
        matches!(self.view(), Value::Null | Value::Undefined)
    }

    /// Whether a stub or promise is anywhere inside this value.
    pub(crate) fn holds_capability(&self) -> bool {
        match self {
            // Unknown until written or converted: assume it may.
            Value::Stub(_) | Value::Promise(_) | Value::Deferred(_) => true,
            Value::Array(items) => items.iter().any(Value::holds_capability),
            Value::Object(object) => object.values().any(Value::holds_capability),
            Value::Error(e) => e.props.values().any(Value::holds_capability),
            Value::Request(fetch) | Value::Response(fetch) => {
                fetch.body.as_ref().is_some_and(Value::holds_capability)
            }
            _ => false,
        }
    }

    /// Whether a promise is anywhere inside this value.
    pub fn contains_promise(&self) -> bool {
        match self {
            // Unknown until converted: those who resolve promises convert it on the way.
            Value::Promise(_) | Value::Deferred(_) => true,
            Value::Array(items) => items.iter().any(Value::contains_promise),
            Value::Object(object) => object.values().any(Value::contains_promise),
            _ => false,
        }
    }
}

/// Equality on data; stubs and promises compare by identity.
impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self.view(), other.view()) {
            (Value::Undefined, Value::Undefined) | (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => a == b || (a.is_nan() && b.is_nan()),
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => a == b,
            (Value::Object(a), Value::Object(b)) => a == b,
            (Value::BigInt(a), Value::BigInt(b)) => a == b,
            (Value::Date(a), Value::Date(b)) => a == b,
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            (Value::Error(a), Value::Error(b)) => a == b,
            (Value::Url(a), Value::Url(b)) => a == b,
            (Value::Headers(a), Value::Headers(b)) => a == b,
            (Value::Request(a), Value::Request(b)) => a == b,
            (Value::Response(a), Value::Response(b)) => a == b,
            (Value::Stub(a), Value::Stub(b)) => a.same_target(b),
            (Value::Promise(a), Value::Promise(b)) => RpcPromise::same_target(a, b),
            _ => false,
        }
    }
}

macro_rules! value_from {
    ($($ty:ty => $variant:ident),* $(,)?) => {$(
        impl From<$ty> for Value {
            fn from(v: $ty) -> Value { Value::$variant(v.into()) }
        }
    )*};
}

value_from! {
    bool => Bool, f64 => Number, f32 => Number, i32 => Number, u32 => Number, i16 => Number,
    u16 => Number, i8 => Number, u8 => Number, String => String, &str => String,
    Vec<Value> => Array, Object => Object, BigInt => BigInt, Date => Date, Bytes => Bytes,
    Stub => Stub,
}

impl From<RpcError> for Value {
    fn from(e: RpcError) -> Value {
        Value::Error(Box::new(e))
    }
}

impl From<()> for Value {
    fn from(_: ()) -> Value {
        Value::Undefined
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

impl<T> From<RpcPromise<T>> for Value {
    fn from(p: RpcPromise<T>) -> Value {
        Value::Promise(RpcPromise::untyped(p))
    }
}
