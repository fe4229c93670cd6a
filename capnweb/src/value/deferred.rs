//! [`Deferred`]: a method's result kept as the Rust value it returned, so that sending it to the
//! peer writes it straight into the message, under the session's limits, with no [`Value`]
//! tree in between. Only what looks inside it here (a pipelined property read, an interceptor,
//! a local caller) converts it, once.
//!
//! Only containers (structs, maps, sequences, enums with data) are deferred: a scalar costs
//! nothing to convert, and a result that *is* a stub, a promise or another special value must
//! be seen as one at once (a promise is followed to its resolution, a stub is the target).
//! [`defer`] makes that choice by looking at the top level only.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, OnceLock};

use serde::ser::{self, Impossible, Serialize};

use super::ser::ValueSerializer;
use super::special::MAGIC_NAME;
use super::{to_value, Value};
use crate::encode::{write_serialize, Encoder};
use crate::error::Error;

/// A result waiting, as its Rust value, to be sent or looked at (see the module docs).
#[derive(Clone)]
pub struct Deferred(Arc<dyn Held>);

/// The typed value behind a [`Deferred`], its type erased.
trait Held: Send + Sync {
    /// Writes the value into the message `encoder` is writing, as found at `depth`.
    fn write(&self, encoder: &mut Encoder<'_>, depth: usize) -> Result<(), Error>;
    /// The value as a [`Value`], converted on first use.
    fn converted(&self) -> &Result<Value, String>;
}

struct Typed<T> {
    /// A `Mutex` so that a result need only be `Send` (as a future's output is), not `Sync`.
    value: Mutex<T>,
    converted: OnceLock<Result<Value, String>>,
}

impl<T: Serialize + Send + 'static> Held for Typed<T> {
    fn write(&self, encoder: &mut Encoder<'_>, depth: usize) -> Result<(), Error> {
        let value = self.value.lock().unwrap_or_else(|e| e.into_inner());
        // The result's own `Serialize` runs here, inside the session; a panic in it fails
        // this result only.
        catch_unwind(AssertUnwindSafe(|| {
            write_serialize(encoder, &*value, depth)
        }))
        .unwrap_or_else(|_| Err(serialize_panicked()))
    }

    fn converted(&self) -> &Result<Value, String> {
        self.converted.get_or_init(|| {
            let value = self.value.lock().unwrap_or_else(|e| e.into_inner());
            match catch_unwind(AssertUnwindSafe(|| to_value(&*value))) {
                // The message alone: `to_value` (below) says it is an encoding error.
                Ok(converted) => converted.map_err(|e| match e {
                    Error::Encode(e) => e.message().to_owned(),
                    other => other.to_string(),
                }),
                Err(_) => Err("the result's Serialize implementation panicked".into()),
            }
        })
    }
}

fn serialize_panicked() -> Error {
    Error::encode("the result's Serialize implementation panicked")
}

impl Deferred {
    fn new<T: Serialize + Send + 'static>(value: T) -> Deferred {
        Deferred(Arc::new(Typed {
            value: Mutex::new(value),
            converted: OnceLock::new(),
        }))
    }

    /// Writes the value into the message `encoder` is writing.
    pub(crate) fn write(&self, encoder: &mut Encoder<'_>, depth: usize) -> Result<(), Error> {
        self.0.write(encoder, depth)
    }

    /// The value as a [`Value`] (converted once, then cloned).
    #[allow(clippy::result_large_err)]
    pub(crate) fn to_value(&self) -> Result<Value, Error> {
        self.0.converted().clone().map_err(Error::encode)
    }

    /// The converted value to look at; `undefined` if it could not be converted (the error
    /// comes out when it is sent or taken).
    pub(crate) fn view(&self) -> &Value {
        static UNDEFINED: Value = Value::Undefined;
        self.0.converted().as_ref().unwrap_or(&UNDEFINED)
    }
}

impl fmt::Debug for Deferred {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.converted() {
            Ok(value) => value.fmt(f),
            Err(e) => write!(f, "Deferred(error: {e})"),
        }
    }
}

/// A method's return value as what the call resolves to: scalars and special values (stubs,
/// promises, dates, …) converted at once, containers deferred to when they are sent or looked
/// at. Fails as [`to_value`] would on what it sees at the top level.
#[allow(clippy::result_large_err)]
pub(crate) fn defer<T: Serialize + Send + 'static>(value: T) -> Result<Value, Error> {
    match value.serialize(TopLevel) {
        Ok(value) => Ok(value),
        Err(TopLevelError::Container) => Ok(Value::Deferred(Deferred::new(value))),
        Err(TopLevelError::Failed(message)) => Err(Error::encode(message)),
    }
}

/// What [`TopLevel`] found instead of a value.
#[derive(Debug)]
enum TopLevelError {
    /// A container: defer it.
    Container,
    /// The value's `Serialize` failed.
    Failed(String),
}

impl fmt::Display for TopLevelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopLevelError::Container => f.write_str("a container"),
            TopLevelError::Failed(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for TopLevelError {}

impl ser::Error for TopLevelError {
    fn custom<M: fmt::Display>(message: M) -> Self {
        TopLevelError::Failed(message.to_string())
    }
}

/// Converts a scalar or a special value as [`to_value`] does; stops at the first container.
struct TopLevel;

/// A scalar, converted as `to_value` converts it.
fn scalar<T: Serialize + ?Sized>(value: &T) -> Result<Value, TopLevelError> {
    value
        .serialize(ValueSerializer)
        .map_err(|e| TopLevelError::Failed(e.to_string()))
}

type Stop = Impossible<Value, TopLevelError>;

macro_rules! scalars {
    ($($method:ident($ty:ty)),* $(,)?) => {$(
        fn $method(self, v: $ty) -> Result<Value, TopLevelError> {
            scalar(&v)
        }
    )*};
}

impl ser::Serializer for TopLevel {
    type Ok = Value;
    type Error = TopLevelError;
    type SerializeSeq = Stop;
    type SerializeTuple = Stop;
    type SerializeTupleStruct = Stop;
    type SerializeTupleVariant = Stop;
    type SerializeMap = Stop;
    type SerializeStruct = Stop;
    type SerializeStructVariant = Stop;

    scalars! {
        serialize_bool(bool), serialize_i8(i8), serialize_i16(i16), serialize_i32(i32),
        serialize_i64(i64), serialize_i128(i128), serialize_u8(u8), serialize_u16(u16),
        serialize_u32(u32), serialize_u64(u64), serialize_u128(u128), serialize_f32(f32),
        serialize_f64(f64), serialize_char(char), serialize_str(&str),
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<Value, TopLevelError> {
        ValueSerializer
            .serialize_bytes(v)
            .map_err(|e| TopLevelError::Failed(e.to_string()))
    }

    fn serialize_none(self) -> Result<Value, TopLevelError> {
        Ok(Value::Null)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, TopLevelError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<Value, TopLevelError> {
        Ok(Value::Undefined)
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, TopLevelError> {
        Ok(Value::Null)
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, TopLevelError> {
        Ok(Value::String(variant.to_owned()))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Value, TopLevelError> {
        if name == MAGIC_NAME {
            // A special value: converted whole, as to_value would.
            return ValueSerializer
                .serialize_newtype_struct(name, value)
                .map_err(|e| TopLevelError::Failed(e.to_string()));
        }
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<Value, TopLevelError> {
        Err(TopLevelError::Container)
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Stop, TopLevelError> {
        Err(TopLevelError::Container)
    }

    fn serialize_tuple(self, _len: usize) -> Result<Stop, TopLevelError> {
        Err(TopLevelError::Container)
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Stop, TopLevelError> {
        Err(TopLevelError::Container)
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Stop, TopLevelError> {
        Err(TopLevelError::Container)
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Stop, TopLevelError> {
        Err(TopLevelError::Container)
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Stop, TopLevelError> {
        Err(TopLevelError::Container)
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Stop, TopLevelError> {
        Err(TopLevelError::Container)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize)]
    struct Point {
        x: f64,
        y: f64,
    }

    #[test]
    fn scalars_and_special_values_are_converted_at_once() {
        assert_eq!(defer(2.5).ok(), Some(Value::Number(2.5)));
        assert_eq!(defer(()).ok(), Some(Value::Undefined));
        assert_eq!(defer(Some("a")).ok(), Some(Value::from("a")));
        assert_eq!(defer(Value::Null).ok(), Some(Value::Null));
        assert!(defer(u64::MAX).is_err());
    }

    #[test]
    fn containers_are_deferred_and_convert_as_to_value_does() {
        for deferred in [defer(vec![1.0, 2.0]), defer(Point { x: 1.0, y: 2.0 })] {
            assert!(matches!(deferred, Ok(Value::Deferred(_))));
        }
        let Ok(Value::Deferred(deferred)) = defer(Point { x: 1.0, y: 2.0 }) else {
            unreachable!("a struct is deferred");
        };
        let converted = to_value(&Point { x: 1.0, y: 2.0 }).ok();
        assert_eq!(deferred.to_value().ok(), converted);
        assert_eq!(Some(deferred.view().clone()), converted);
    }

    #[test]
    fn a_container_that_cannot_be_converted_says_why_when_taken() {
        let Ok(Value::Deferred(deferred)) = defer(vec![u64::MAX]) else {
            unreachable!("a vector is deferred");
        };
        let e = deferred
            .to_value()
            .expect_err("u64::MAX is not a safe integer");
        assert!(e.to_string().contains("BigInt"), "{e}");
        assert_eq!(deferred.view(), &Value::Undefined);
    }
}
