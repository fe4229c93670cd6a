//! [`from_value`]: a serde `Deserializer` over an owned [`Value`].

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, Expected, IntoDeserializer, MapAccess,
    SeqAccess, VariantAccess, Visitor,
};
use serde::forward_to_deserialize_any;

use super::path_error::{PathError as DeError, PathSeg};
use super::special::{self, describe, DepthGuard, MAGIC_NAME};
use super::types::MAX_SAFE_INTEGER;
use super::wording;
use super::{Object, Value};
use crate::Error;

/// Converts a [`Value`] to a Rust value, as the module documentation's table describes.
///
/// The value is consumed: strings, arrays and objects are moved into the result, not copied,
/// and a `Value` (or a field of type `Value`) is handed over as it is. Numbers convert to
/// integer types only when integral and in range; bigints convert to integer types they fit;
/// `null` and `undefined` both read as `None` and as `()`.
///
/// Fails with [`Error::Decode`] naming the Rust type asked for, what was expected and found,
/// and where (`(at .users[2].name)`).
///
/// ```
/// use capnweb::{from_value, Value};
/// use capnweb::value::Object;
///
/// #[derive(serde::Deserialize, Debug, PartialEq)]
/// struct User { name: String, age: u8 }
///
/// let mut obj = Object::new();
/// obj.insert("name".into(), Value::String("Ada".into()));
/// obj.insert("age".into(), Value::Number(36.0));
/// let user: User = from_value(Value::Object(obj)).unwrap();
/// assert_eq!(user, User { name: "Ada".into(), age: 36 });
///
/// let err = from_value::<Vec<u8>>(Value::Array(vec![Value::Number(1.0), Value::Number(300.0)]))
///     .unwrap_err();
/// assert!(err.to_string().contains("out of range: expected an integer from 0 to 255 (at [1])"), "{err}");
/// ```
// `Error` is the crate-wide error type; its size is error.rs's business.
#[allow(clippy::result_large_err)]
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, Error> {
    // A `Value` needs no special case here: `Deserialize for Value` asks for the magic newtype,
    // and `ValueDeserializer` answers by handing the whole value over, so `from_value::<Value>`
    // is O(1) without a `T: 'static` bound or a downcast.
    let _guard = DepthGuard::enter();
    let value = value.settled()?;
    T::deserialize(ValueDeserializer { value })
        .map_err(|e| Error::decode(std::any::type_name::<T>(), e.to_string()))
}

/// "invalid type: expected {what the visitor wants}, found {value}".
fn mismatch(value: &Value, expected: &dyn Expected) -> DeError {
    DeError::new(format!(
        "invalid type: expected {}, found {}",
        wording::expected(expected),
        describe(value)
    ))
}

// ---------------------------------------------------------------------------------------------
// Numbers.

/// An integer type a number or bigint may convert to.
trait Int: Sized + std::str::FromStr {
    /// "an integer from MIN to MAX".
    fn wording() -> String;
    /// The smallest value, as an f64 (exact: 0 or a power of two).
    const LOW: f64;
    /// One past the largest value, as an f64 (exact: a power of two).
    const HIGH: f64;
    fn from_f64(n: f64) -> Self;
}

macro_rules! impl_int {
    ($($ty:ty),*) => {$(
        impl Int for $ty {
            fn wording() -> String {
                format!("an integer from {} to {}", <$ty>::MIN, <$ty>::MAX)
            }
            const LOW: f64 = <$ty>::MIN as f64;
            // `MAX as f64` is exact for narrow types and rounds up to 2^bits for wide ones;
            // adding one gives 2^bits either way.
            const HIGH: f64 = <$ty>::MAX as f64 + 1.0;
            fn from_f64(n: f64) -> Self { n as $ty }
        }
    )*};
}
impl_int!(i8, i16, i32, i64, i128, u8, u16, u32, u64, u128);

fn number_to<T: Int>(n: f64) -> Result<T, DeError> {
    if !n.is_finite() || n.fract() != 0.0 {
        return Err(DeError::new(format!(
            "invalid value: expected {}, found number {}",
            T::wording(),
            wording::number(n)
        )));
    }
    if n < T::LOW || n >= T::HIGH {
        return Err(DeError::new(format!(
            "invalid value: number {} is out of range: expected {}",
            wording::number(n),
            T::wording()
        )));
    }
    Ok(T::from_f64(n))
}

fn bigint_to<T: Int>(b: &super::BigInt) -> Result<T, DeError> {
    b.as_str().parse().map_err(|_| {
        DeError::new(format!(
            "invalid value: bigint {b} is out of range: expected {}",
            T::wording()
        ))
    })
}

// ---------------------------------------------------------------------------------------------
// The deserializer.

/// Deserializes from an owned [`Value`].
pub(crate) struct ValueDeserializer {
    value: Value,
}

impl ValueDeserializer {
    fn new(value: Value) -> ValueDeserializer {
        ValueDeserializer { value }
    }
}

/// A number the way serde_json presents one: integral values as integers, so that integer
/// visitors (and serde's buffering for untagged enums) accept them.
fn visit_number<'de, V: Visitor<'de>>(n: f64, visitor: V) -> Result<V::Value, DeError> {
    if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER as f64 && !(n == 0.0 && n.is_sign_negative())
    {
        if n >= 0.0 {
            visitor.visit_u64(n as u64)
        } else {
            visitor.visit_i64(n as i64)
        }
    } else {
        visitor.visit_f64(n)
    }
}

fn visit_array<'de, V: Visitor<'de>>(items: Vec<Value>, visitor: V) -> Result<V::Value, DeError> {
    let len = items.len();
    let mut seq = ArrayAccess {
        iter: items.into_iter(),
        index: 0,
    };
    let out = visitor.visit_seq(&mut seq)?;
    match seq.iter.len() {
        0 => Ok(out),
        left => Err(DeError::new(format!(
            "invalid length: the array has {len} elements, {left} more than expected"
        ))),
    }
}

fn visit_object<'de, V: Visitor<'de>>(object: Object, visitor: V) -> Result<V::Value, DeError> {
    let len = object.len();
    let mut map = ObjectAccess {
        iter: object.into_iter(),
        key: None,
        value: None,
        index: 0,
    };
    let out = visitor.visit_map(&mut map)?;
    match map.iter.len() {
        0 => Ok(out),
        left => Err(DeError::new(format!(
            "invalid length: the object has {len} entries, {left} more than expected"
        ))),
    }
}

fn visit_tuple<'de, V: Visitor<'de>>(
    value: Value,
    len: usize,
    visitor: V,
) -> Result<V::Value, DeError> {
    match value {
        Value::Array(items) if items.len() == len => visit_array(items, visitor),
        Value::Array(items) => Err(DeError::new(format!(
            "invalid length: expected {}, found an array of {} elements",
            wording::expected(&visitor as &dyn Expected),
            items.len()
        ))),
        other => Err(mismatch(&other, &visitor)),
    }
}

fn headers_to_array(headers: Vec<(String, String)>) -> Vec<Value> {
    headers
        .into_iter()
        .map(|(name, value)| Value::Array(vec![Value::String(name), Value::String(value)]))
        .collect()
}

macro_rules! deserialize_int {
    ($($method:ident => $visit:ident: $ty:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            match self.value {
                Value::Number(n) => visitor.$visit(number_to::<$ty>(n)?),
                Value::BigInt(b) => visitor.$visit(bigint_to::<$ty>(&b)?),
                other => Err(mismatch(&other, &visitor)),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for ValueDeserializer {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::Undefined | Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(n) => visit_number(n, visitor),
            Value::String(s) => visitor.visit_string(s),
            Value::Array(items) => visit_array(items, visitor),
            Value::Object(object) => visit_object(object, visitor),
            Value::Bytes(bytes) if bytes.kind().is_none() => {
                visitor.visit_byte_buf(bytes.into_vec())
            }
            // No data-model form: a marker only capnweb's own visitors understand, which keeps
            // the value alive through serde's buffering (flatten, untagged enums).
            other => special::visit_via_kept(other, visitor),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::Bool(b) => visitor.visit_bool(b),
            other => Err(mismatch(&other, &visitor)),
        }
    }

    deserialize_int! {
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_i128 => visit_i128: i128,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_u128 => visit_u128: u128,
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::Number(n) => visitor.visit_f32(n as f32),
            other => Err(mismatch(&other, &visitor)),
        }
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::Number(n) => visitor.visit_f64(n),
            other => Err(mismatch(&other, &visitor)),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            // A URL is a string to Rust code.
            Value::String(s) | Value::Url(s) => visitor.visit_string(s),
            other => Err(mismatch(&other, &visitor)),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_byte_buf(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::Bytes(bytes) => visitor.visit_byte_buf(bytes.into_vec()),
            Value::String(s) => visitor.visit_string(s),
            Value::Array(items) => visit_array(items, visitor),
            other => Err(mismatch(&other, &visitor)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::Null | Value::Undefined => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::Null | Value::Undefined => visitor.visit_unit(),
            other => Err(mismatch(&other, &visitor)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if name == MAGIC_NAME {
            return special::visit_via_slot(self.value, visitor);
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::Array(items) => visit_array(items, visitor),
            Value::Bytes(bytes) => {
                let mut seq = de::value::SeqDeserializer::new(bytes.into_vec().into_iter());
                let out = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(out)
            }
            Value::Headers(headers) => visit_array(headers_to_array(headers), visitor),
            other => Err(mismatch(&other, &visitor)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visit_tuple(self.value, len, visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visit_tuple(self.value, len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::Object(object) => visit_object(object, visitor),
            Value::Headers(headers) => {
                let mut map = de::value::MapDeserializer::new(headers.into_iter());
                let out = visitor.visit_map(&mut map)?;
                map.end()?;
                Ok(out)
            }
            other => Err(mismatch(&other, &visitor)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.value {
            Value::Object(object) => visit_object(object, visitor),
            Value::Array(items) => visit_array(items, visitor),
            other => Err(mismatch(&other, &visitor)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.value {
            Value::String(variant) => visitor.visit_enum(Enum {
                variant,
                value: None,
            }),
            Value::Object(object) if object.len() == 1 => match object.into_iter().next() {
                Some((variant, value)) => visitor.visit_enum(Enum {
                    variant,
                    value: Some(value),
                }),
                None => Err(DeError::new("invalid value: empty enum object".into())),
            },
            Value::Object(object) => Err(DeError::new(format!(
                "invalid value: expected {} as a string or an object with exactly one key, found \
                 an object with {} keys",
                &visitor as &dyn Expected,
                object.len()
            ))),
            other => Err(mismatch(&other, &visitor)),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::String(s) => visitor.visit_string(s),
            Value::Number(n) => visitor.visit_u64(number_to::<u64>(n)?),
            other => Err(mismatch(&other, &visitor)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        drop(self);
        visitor.visit_unit()
    }
}

impl<'de> IntoDeserializer<'de, DeError> for ValueDeserializer {
    type Deserializer = ValueDeserializer;
    fn into_deserializer(self) -> ValueDeserializer {
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Arrays and objects.

struct ArrayAccess {
    iter: std::vec::IntoIter<Value>,
    index: usize,
}

impl<'de> SeqAccess<'de> for ArrayAccess {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.iter.next() {
            Some(value) => {
                let index = self.index;
                self.index += 1;
                seed.deserialize(ValueDeserializer::new(value))
                    .map(Some)
                    .map_err(|e| e.at(PathSeg::Index(index)))
            }
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct ObjectAccess {
    iter: indexmap::map::IntoIter<String, Value>,
    /// The current key, unless it was moved into the result (`deserialize_string`).
    key: Option<String>,
    value: Option<Value>,
    /// The current entry's position.
    index: usize,
}

impl ObjectAccess {
    fn current_seg(&mut self) -> PathSeg {
        match self.key.take() {
            Some(key) => PathSeg::Key(key),
            None => PathSeg::Entry(self.index.saturating_sub(1)),
        }
    }
}

impl<'de> MapAccess<'de> for ObjectAccess {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((key, value)) = self.iter.next() else {
            return Ok(None);
        };
        self.key = Some(key);
        self.value = Some(value);
        self.index += 1;
        match seed.deserialize(KeyDeserializer { key: &mut self.key }) {
            Ok(key) => Ok(Some(key)),
            Err(e) => Err(e.at(self.current_seg())),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some(value) = self.value.take() else {
            return Err(DeError::new("next_value was called before next_key".into()));
        };
        match seed.deserialize(ValueDeserializer::new(value)) {
            Ok(out) => {
                self.key = None;
                Ok(out)
            }
            Err(e) => Err(e.at(self.current_seg())),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// An object key: a string, which also reads as an integer, float, bool or unit enum variant
/// (the counterpart of `to_value` writing such keys as their text).
struct KeyDeserializer<'a> {
    key: &'a mut Option<String>,
}

impl KeyDeserializer<'_> {
    fn key(&self) -> &str {
        self.key.as_deref().unwrap_or_default()
    }

    fn parse<T: std::str::FromStr>(&self, expected: &dyn Expected) -> Result<T, DeError> {
        self.key().parse().map_err(|_| {
            DeError::new(format!(
                "invalid key: expected {}, found {:?}",
                wording::expected(expected),
                self.key()
            ))
        })
    }
}

macro_rules! deserialize_key_parsed {
    ($($method:ident => $visit:ident: $ty:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            let parsed: $ty = self.parse(&visitor)?;
            visitor.$visit(parsed)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for KeyDeserializer<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_str(self.key())
    }

    deserialize_key_parsed! {
        deserialize_bool => visit_bool: bool,
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_i128 => visit_i128: i128,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_u128 => visit_u128: u128,
        deserialize_f32 => visit_f32: f32,
        deserialize_f64 => visit_f64: f64,
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        // Moved, not copied: the path of a later error names the entry by position instead.
        visitor.visit_string(self.key.take().unwrap_or_default())
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_enum(de::value::StrDeserializer::<DeError>::new(self.key()))
    }

    forward_to_deserialize_any! {
        char str bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}

// ---------------------------------------------------------------------------------------------
// Enums: `"Variant"` or `{"Variant": content}`.

struct Enum {
    variant: String,
    value: Option<Value>,
}

struct Variant {
    variant: String,
    value: Option<Value>,
}

impl<'de> EnumAccess<'de> for Enum {
    type Error = DeError;
    type Variant = Variant;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Variant), DeError> {
        let tag = seed.deserialize(de::value::StrDeserializer::<DeError>::new(&self.variant))?;
        Ok((
            tag,
            Variant {
                variant: self.variant,
                value: self.value,
            },
        ))
    }
}

impl Variant {
    fn content_error(self, wanted: &str) -> DeError {
        let found = match &self.value {
            None => "a unit variant (a plain string)".to_owned(),
            Some(value) => describe(value),
        };
        DeError::new(format!("invalid type: expected {wanted}, found {found}"))
            .at(PathSeg::Key(self.variant))
    }
}

impl<'de> VariantAccess<'de> for Variant {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.value {
            None | Some(Value::Null) | Some(Value::Undefined) => Ok(()),
            Some(_) => Err(self.content_error("a unit variant")),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        match self.value {
            Some(value) => seed
                .deserialize(ValueDeserializer::new(value))
                .map_err(|e| e.at(PathSeg::Key(self.variant))),
            None => Err(self.content_error("a newtype variant")),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Some(value) => {
                visit_tuple(value, len, visitor).map_err(|e| e.at(PathSeg::Key(self.variant)))
            }
            None => Err(self.content_error("a tuple variant")),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let result = match self.value {
            Some(Value::Object(object)) => visit_object(object, visitor),
            Some(Value::Array(items)) => visit_array(items, visitor),
            Some(other) => Err(mismatch(&other, &visitor)),
            None => {
                return Err(Variant {
                    variant: self.variant,
                    value: None,
                }
                .content_error("a struct variant"))
            }
        };
        result.map_err(|e| e.at(PathSeg::Key(self.variant)))
    }
}
