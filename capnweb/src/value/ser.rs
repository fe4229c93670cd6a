//! [`to_value`]: a serde `Serializer` that builds a [`Value`] directly.

use std::fmt;

use serde::ser::{self, Impossible, Serialize};

use super::path_error::{PathError as SerError, PathSeg};
use super::special::{self, MAGIC_NAME};
use super::types::MAX_SAFE_INTEGER;
use super::{BigInt, Bytes, Object, Value};
use crate::Error;

/// Converts a Rust value to a [`Value`], as the module documentation's table describes.
///
/// Fails with [`Error::Encode`] on an integer a JavaScript number cannot hold exactly (beyond
/// ±(2^53 − 1); use `i128`/`u128` or [`BigInt`] for those), on a map key that is not a string,
/// integer, `char` or `bool`, or when the value's own `Serialize` fails. The message says where
/// (`at .items[3].id`).
///
/// ```
/// use capnweb::{to_value, Value};
///
/// #[derive(serde::Serialize)]
/// struct Move { piece: char, to: (u8, u8), capture: Option<String> }
///
/// let v = to_value(&Move { piece: 'N', to: (5, 2), capture: None }).unwrap();
/// let obj = v.as_object().unwrap();
/// assert_eq!(obj["piece"], Value::String("N".into()));
/// assert_eq!(obj["to"], Value::Array(vec![Value::Number(5.0), Value::Number(2.0)]));
/// assert_eq!(obj["capture"], Value::Null);
///
/// assert_eq!(to_value(&()).unwrap(), Value::Undefined);
/// assert!(matches!(to_value(&(1u128 << 100)).unwrap(), Value::BigInt(_)));
/// let err = to_value(&u64::MAX).unwrap_err();
/// assert!(err.to_string().contains("BigInt"));
/// ```
// `Error` is the crate-wide error type; its size is error.rs's business.
#[allow(clippy::result_large_err)]
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, Error> {
    value
        .serialize(ValueSerializer)
        .map_err(|e| Error::encode(e.to_string()))
}

/// [`to_value`], taking the value: bytes, strings and values are moved rather than copied (a
/// stream's chunk is often 64 KiB; copying it was a tenth of a stream's cost per chunk).
#[allow(clippy::result_large_err)]
pub(crate) fn into_value<T: Serialize + 'static>(value: T) -> Result<Value, Error> {
    let mut slot = Some(value);
    let any: &mut dyn std::any::Any = &mut slot;
    if let Some(bytes) = any.downcast_mut::<Option<Bytes>>() {
        return Ok(bytes.take().map_or(Value::Undefined, Value::Bytes));
    }
    if let Some(text) = any.downcast_mut::<Option<String>>() {
        return Ok(text.take().map_or(Value::Undefined, Value::String));
    }
    if let Some(value) = any.downcast_mut::<Option<Value>>() {
        return Ok(value.take().unwrap_or_default());
    }
    // Not one of those: `slot` still holds the value.
    slot.map_or(Ok(Value::Undefined), |value| to_value(&value))
}

pub(crate) fn unsafe_integer(n: impl fmt::Display) -> SerError {
    SerError::new(format!(
        "the integer {n} cannot be represented exactly as a JavaScript number (beyond \
         ±(2^53 − 1)); use i128/u128 or capnweb::BigInt to send it as a bigint"
    ))
}

// ---------------------------------------------------------------------------------------------
// The serializer.

/// Serializes into a [`Value`].
pub(crate) struct ValueSerializer;

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = SerError;

    type SerializeSeq = SerializeArray;
    type SerializeTuple = SerializeArray;
    type SerializeTupleStruct = SerializeArray;
    type SerializeTupleVariant = SerializeTupleVariant;
    type SerializeMap = SerializeObject;
    type SerializeStruct = SerializeObject;
    type SerializeStructVariant = SerializeStructVariant;

    fn serialize_bool(self, v: bool) -> Result<Value, SerError> {
        Ok(Value::Bool(v))
    }

    fn serialize_i8(self, v: i8) -> Result<Value, SerError> {
        Ok(Value::Number(v.into()))
    }

    fn serialize_i16(self, v: i16) -> Result<Value, SerError> {
        Ok(Value::Number(v.into()))
    }

    fn serialize_i32(self, v: i32) -> Result<Value, SerError> {
        Ok(Value::Number(v.into()))
    }

    fn serialize_i64(self, v: i64) -> Result<Value, SerError> {
        if v.unsigned_abs() <= MAX_SAFE_INTEGER as u64 {
            Ok(Value::Number(v as f64))
        } else {
            Err(unsafe_integer(v))
        }
    }

    fn serialize_i128(self, v: i128) -> Result<Value, SerError> {
        Ok(Value::BigInt(BigInt::from(v)))
    }

    fn serialize_u8(self, v: u8) -> Result<Value, SerError> {
        Ok(Value::Number(v.into()))
    }

    fn serialize_u16(self, v: u16) -> Result<Value, SerError> {
        Ok(Value::Number(v.into()))
    }

    fn serialize_u32(self, v: u32) -> Result<Value, SerError> {
        Ok(Value::Number(v.into()))
    }

    fn serialize_u64(self, v: u64) -> Result<Value, SerError> {
        if v <= MAX_SAFE_INTEGER as u64 {
            Ok(Value::Number(v as f64))
        } else {
            Err(unsafe_integer(v))
        }
    }

    fn serialize_u128(self, v: u128) -> Result<Value, SerError> {
        Ok(Value::BigInt(BigInt::from(v)))
    }

    fn serialize_f32(self, v: f32) -> Result<Value, SerError> {
        Ok(Value::Number(v.into()))
    }

    fn serialize_f64(self, v: f64) -> Result<Value, SerError> {
        Ok(Value::Number(v))
    }

    fn serialize_char(self, v: char) -> Result<Value, SerError> {
        Ok(Value::String(v.to_string()))
    }

    fn serialize_str(self, v: &str) -> Result<Value, SerError> {
        Ok(Value::String(v.to_owned()))
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<Value, SerError> {
        Ok(Value::Bytes(Bytes::from(v)))
    }

    fn serialize_none(self) -> Result<Value, SerError> {
        Ok(Value::Null)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, SerError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<Value, SerError> {
        Ok(Value::Undefined)
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, SerError> {
        Ok(Value::Null)
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, SerError> {
        Ok(Value::String(variant.to_owned()))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Value, SerError> {
        if name == MAGIC_NAME {
            return special::capture(value, ValueSerializer).ok_or_else(|| {
                SerError::new("a capnweb special value could not be captured".into())
            });
        }
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, SerError> {
        let inner = value
            .serialize(ValueSerializer)
            .map_err(|e| e.at_key(variant))?;
        let mut object = Object::with_capacity(1);
        object.insert(variant.to_owned(), inner);
        Ok(Value::Object(object))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<SerializeArray, SerError> {
        Ok(SerializeArray {
            items: Vec::with_capacity(len.unwrap_or(0)),
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<SerializeArray, SerError> {
        Ok(SerializeArray {
            items: Vec::with_capacity(len),
        })
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SerializeArray, SerError> {
        Ok(SerializeArray {
            items: Vec::with_capacity(len),
        })
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SerializeTupleVariant, SerError> {
        Ok(SerializeTupleVariant {
            variant,
            items: Vec::with_capacity(len),
        })
    }

    fn serialize_map(self, len: Option<usize>) -> Result<SerializeObject, SerError> {
        Ok(SerializeObject {
            object: Object::with_capacity(len.unwrap_or(0)),
            key: None,
        })
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SerializeObject, SerError> {
        Ok(SerializeObject {
            object: Object::with_capacity(len),
            key: None,
        })
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SerializeStructVariant, SerError> {
        Ok(SerializeStructVariant {
            variant,
            object: Object::with_capacity(len),
        })
    }
}

/// Sequences, tuples and tuple structs.
pub(crate) struct SerializeArray {
    items: Vec<Value>,
}

impl SerializeArray {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        let index = self.items.len();
        let item = value
            .serialize(ValueSerializer)
            .map_err(|e| e.at(PathSeg::Index(index)))?;
        self.items.push(item);
        Ok(())
    }
}

impl ser::SerializeSeq for SerializeArray {
    type Ok = Value;
    type Error = SerError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        self.push(value)
    }

    fn end(self) -> Result<Value, SerError> {
        Ok(Value::Array(self.items))
    }
}

impl ser::SerializeTuple for SerializeArray {
    type Ok = Value;
    type Error = SerError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        self.push(value)
    }

    fn end(self) -> Result<Value, SerError> {
        Ok(Value::Array(self.items))
    }
}

impl ser::SerializeTupleStruct for SerializeArray {
    type Ok = Value;
    type Error = SerError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        self.push(value)
    }

    fn end(self) -> Result<Value, SerError> {
        Ok(Value::Array(self.items))
    }
}

/// `{variant: [..]}`.
pub(crate) struct SerializeTupleVariant {
    variant: &'static str,
    items: Vec<Value>,
}

impl ser::SerializeTupleVariant for SerializeTupleVariant {
    type Ok = Value;
    type Error = SerError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        let index = self.items.len();
        let item = value
            .serialize(ValueSerializer)
            .map_err(|e| e.at(PathSeg::Index(index)).at_key(self.variant))?;
        self.items.push(item);
        Ok(())
    }

    fn end(self) -> Result<Value, SerError> {
        let mut object = Object::with_capacity(1);
        object.insert(self.variant.to_owned(), Value::Array(self.items));
        Ok(Value::Object(object))
    }
}

/// Maps and structs.
pub(crate) struct SerializeObject {
    object: Object,
    key: Option<String>,
}

impl SerializeObject {
    fn insert<T: Serialize + ?Sized>(&mut self, key: String, value: &T) -> Result<(), SerError> {
        match value.serialize(ValueSerializer) {
            Ok(value) => {
                self.object.insert(key, value);
                Ok(())
            }
            Err(e) => Err(e.at(PathSeg::Key(key))),
        }
    }
}

impl ser::SerializeMap for SerializeObject {
    type Ok = Value;
    type Error = SerError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), SerError> {
        self.key = Some(key.serialize(MapKeySerializer)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        match self.key.take() {
            Some(key) => self.insert(key, value),
            None => Err(SerError::new(
                "serialize_value was called before serialize_key".into(),
            )),
        }
    }

    fn serialize_entry<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        &mut self,
        key: &K,
        value: &V,
    ) -> Result<(), SerError> {
        let key = key.serialize(MapKeySerializer)?;
        self.insert(key, value)
    }

    fn end(self) -> Result<Value, SerError> {
        Ok(Value::Object(self.object))
    }
}

impl ser::SerializeStruct for SerializeObject {
    type Ok = Value;
    type Error = SerError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        let value = value
            .serialize(ValueSerializer)
            .map_err(|e| e.at_key(key))?;
        self.object.insert(key.to_owned(), value);
        Ok(())
    }

    fn end(self) -> Result<Value, SerError> {
        Ok(Value::Object(self.object))
    }
}

/// `{variant: {..}}`.
pub(crate) struct SerializeStructVariant {
    variant: &'static str,
    object: Object,
}

impl ser::SerializeStructVariant for SerializeStructVariant {
    type Ok = Value;
    type Error = SerError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        let value = value
            .serialize(ValueSerializer)
            .map_err(|e| e.at_key(key).at_key(self.variant))?;
        self.object.insert(key.to_owned(), value);
        Ok(())
    }

    fn end(self) -> Result<Value, SerError> {
        let mut object = Object::with_capacity(1);
        object.insert(self.variant.to_owned(), Value::Object(self.object));
        Ok(Value::Object(object))
    }
}

// ---------------------------------------------------------------------------------------------
// Map keys.

/// Serializes a map key to its string: strings and chars as they are, integers, floats and
/// booleans as their text (as serde_json does), newtypes and unit variants by their contents.
pub(crate) struct MapKeySerializer;

fn key_must_be_a_string(found: &str) -> SerError {
    SerError::new(format!(
        "a map key must be a string (or an integer, char or bool, which become strings), \
         found {found}"
    ))
}

impl ser::Serializer for MapKeySerializer {
    type Ok = String;
    type Error = SerError;

    type SerializeSeq = Impossible<String, SerError>;
    type SerializeTuple = Impossible<String, SerError>;
    type SerializeTupleStruct = Impossible<String, SerError>;
    type SerializeTupleVariant = Impossible<String, SerError>;
    type SerializeMap = Impossible<String, SerError>;
    type SerializeStruct = Impossible<String, SerError>;
    type SerializeStructVariant = Impossible<String, SerError>;

    fn serialize_bool(self, v: bool) -> Result<String, SerError> {
        Ok(if v { "true" } else { "false" }.to_owned())
    }

    fn serialize_i8(self, v: i8) -> Result<String, SerError> {
        Ok(v.to_string())
    }

    fn serialize_i16(self, v: i16) -> Result<String, SerError> {
        Ok(v.to_string())
    }

    fn serialize_i32(self, v: i32) -> Result<String, SerError> {
        Ok(v.to_string())
    }

    fn serialize_i64(self, v: i64) -> Result<String, SerError> {
        Ok(v.to_string())
    }

    fn serialize_i128(self, v: i128) -> Result<String, SerError> {
        Ok(v.to_string())
    }

    fn serialize_u8(self, v: u8) -> Result<String, SerError> {
        Ok(v.to_string())
    }

    fn serialize_u16(self, v: u16) -> Result<String, SerError> {
        Ok(v.to_string())
    }

    fn serialize_u32(self, v: u32) -> Result<String, SerError> {
        Ok(v.to_string())
    }

    fn serialize_u64(self, v: u64) -> Result<String, SerError> {
        Ok(v.to_string())
    }

    fn serialize_u128(self, v: u128) -> Result<String, SerError> {
        Ok(v.to_string())
    }

    fn serialize_f32(self, _v: f32) -> Result<String, SerError> {
        Err(key_must_be_a_string("f32"))
    }

    fn serialize_f64(self, _v: f64) -> Result<String, SerError> {
        Err(key_must_be_a_string("f64"))
    }

    fn serialize_char(self, v: char) -> Result<String, SerError> {
        Ok(v.to_string())
    }

    fn serialize_str(self, v: &str) -> Result<String, SerError> {
        Ok(v.to_owned())
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result<String, SerError> {
        Err(key_must_be_a_string("bytes"))
    }

    fn serialize_none(self) -> Result<String, SerError> {
        Err(key_must_be_a_string("an Option (None)"))
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<String, SerError> {
        Err(key_must_be_a_string("an Option (Some)"))
    }

    fn serialize_unit(self) -> Result<String, SerError> {
        Err(key_must_be_a_string("()"))
    }

    fn serialize_unit_struct(self, name: &'static str) -> Result<String, SerError> {
        Err(key_must_be_a_string(&format!("the unit struct {name}")))
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, SerError> {
        Ok(variant.to_owned())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<String, SerError> {
        if name == MAGIC_NAME {
            return match special::capture(value, ValueSerializer) {
                Some(Value::String(s)) | Some(Value::Url(s)) => Ok(s),
                Some(Value::BigInt(b)) => Ok(b.to_string()),
                Some(other) => Err(key_must_be_a_string(&format!("a {} value", other.kind()))),
                None => Err(SerError::new(
                    "a capnweb special value could not be captured".into(),
                )),
            };
        }
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        _value: &T,
    ) -> Result<String, SerError> {
        Err(key_must_be_a_string(&format!(
            "the newtype variant {name}::{variant}"
        )))
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, SerError> {
        Err(key_must_be_a_string("a sequence"))
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, SerError> {
        Err(key_must_be_a_string("a tuple"))
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, SerError> {
        Err(key_must_be_a_string(&format!("the tuple struct {name}")))
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, SerError> {
        Err(key_must_be_a_string(&format!(
            "the tuple variant {name}::{variant}"
        )))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, SerError> {
        Err(key_must_be_a_string("a map"))
    }

    fn serialize_struct(
        self,
        name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, SerError> {
        Err(key_must_be_a_string(&format!("the struct {name}")))
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, SerError> {
        Err(key_must_be_a_string(&format!(
            "the struct variant {name}::{variant}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::BytesKind;

    /// Taking a value gives what converting a reference to it gives, moved or not.
    #[test]
    fn into_value_is_to_value_taking_the_value() {
        let bytes = Bytes::with_kind(vec![1, 2, 3, 4], Some(BytesKind::Uint16Array));
        let text = String::from("a line");
        let value = Value::Array(vec![Value::Number(1.0), Value::Null]);
        let big = 1u128 << 100;
        assert_eq!(into_value(bytes.clone()).ok(), to_value(&bytes).ok());
        assert_eq!(into_value(text.clone()).ok(), to_value(&text).ok());
        assert_eq!(into_value(value.clone()).ok(), to_value(&value).ok());
        assert_eq!(into_value(big).ok(), to_value(&big).ok());
        assert_eq!(into_value(Some(2.5)).ok(), Some(Value::Number(2.5)));
        assert_eq!(
            into_value(None::<String>).ok(),
            to_value(&None::<String>).ok()
        );
        assert!(into_value(u64::MAX).is_err());
    }
}
