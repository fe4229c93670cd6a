//! Carrying [`Value`]s that the serde data model lacks through serde.
//!
//! serde knows booleans, numbers, strings, bytes, sequences and maps, but not `undefined`,
//! bigints, dates, errors, URLs, headers, requests, responses, stubs or promises. Such values
//! must still survive [`to_value`](super::to_value) and [`from_value`](super::from_value) when
//! they sit inside ordinary Rust types (a struct with a `Date` field, a `Value` field, a `Stub`
//! field). This module smuggles them past serde, the way `serde_json::value::RawValue` does.
//!
//! # Serializing: a newtype with a magic name, and a handshake
//!
//! [`serialize_special`] (and `Serialize for Value`) calls
//! `serializer.serialize_newtype_struct(MAGIC_NAME, &token)`.
//!
//! * capnweb's serializer recognizes the name, raises a thread-local "capture" flag and
//!   serializes the token; the token sees the flag, lowers it, and parks its `Value` in a
//!   thread-local slot, which the serializer then takes. The value moves straight into the
//!   result; nothing is re-encoded.
//! * Any other serializer (serde_json, or a serde wrapper such as the one `#[serde(flatten)]`
//!   uses) serializes the token's contents as it would any newtype; the flag is down, so the
//!   token knows it is talking to a foreign serializer. Special values then fail with an error
//!   saying they can only be converted with `capnweb::to_value`; plain data (`Value::Object`,
//!   …) is written in the ordinary data model, so `serde_json::to_string(&value)` works for
//!   JSON-like values. Three special kinds have an obvious data-model form and use it there:
//!   `Undefined` (unit, i.e. `null` in JSON), `Url` (its href) and `Bytes` (bytes, kind lost).
//!
//! The handshake is used rather than a "we are inside `to_value`" depth counter because it is
//! exact: a foreign serializer running *inside* a `to_value` call (a `serialize_with` helper
//! that produces a JSON string, say) is still recognized as foreign.
//!
//! # Deserializing: a newtype with a magic name, a marker map, and a stash
//!
//! [`deserialize_special`] (and `Deserialize for Value`) calls
//! `deserializer.deserialize_newtype_struct(MAGIC_NAME, visitor)`.
//!
//! * capnweb's deserializer recognizes the name, moves its whole `Value` into a thread-local
//!   slot and hands the visitor a one-entry *marker map* `{marker_key(): SLOT}`; the visitor
//!   takes the value out of the slot. A `Value` (or `Date`, `Stub`, …) field therefore costs
//!   O(1) no matter how large the value is, and nothing is cloned.
//! * When something asks capnweb's deserializer for `deserialize_any` on a special value (serde
//!   buffering for `#[serde(flatten)]` and untagged enums does), the value is kept in a
//!   thread-local list for the rest of the [`from_value`](super::from_value) call and the
//!   visitor gets the marker map `{marker_key(): index}`. When the buffered content is later
//!   replayed into a `Value`/`Date`/`Stub` field, the marker leads back to the value (cloned,
//!   since buffered content may be replayed more than once). Visitors that are not capnweb's
//!   (e.g. `serde_json::Value`) see the marker as an ordinary map: special values have no
//!   meaning outside capnweb. (`undefined` is not a marker but unit, so `Option`s still work
//!   when buffered; it comes back as `Null` through a buffer. Plain `Bytes` are bytes.)
//! * Any other deserializer (serde_json) calls `visit_newtype_struct`, and the visitor reads a
//!   plain value with `deserialize_any`.
//!
//! # For `Stub`, `RpcPromise` and other capability types
//!
//! This is how `Stub` (below, for the placeholder), `RpcError` and the stream types are wired
//! up, and `RpcPromise<T>` below too.
//!
//! ```ignore
//! impl Serialize for Stub {
//!     fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
//!         special::serialize_special(Value::Stub(self.clone()), s)
//!     }
//! }
//! impl<'de> Deserialize<'de> for Stub {
//!     fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Stub, D::Error> {
//!         match special::deserialize_special(d)? {
//!             Value::Stub(stub) => Ok(stub),
//!             other => Err(special::unexpected("a stub", &other)),
//!         }
//!     }
//! }
//! ```

use std::cell::{Cell, RefCell};
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::{self, SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::RpcError;
use super::{BigInt, Bytes, Object, Value};
use crate::{RpcPromise, Stub};

/// The newtype-struct name that marks a special value on its way through serde.
pub(crate) const MAGIC_NAME: &str = "$capnweb::private::Special";

/// The single key of the marker map a special value is handed to a visitor as. It ends with a
/// number drawn once per process, so that no object a peer sends (a map in a `#[serde(flatten)]`
/// or untagged `Value`, say) can hold the key and be taken for a marker.
pub(crate) fn marker_key() -> &'static str {
    use std::hash::{BuildHasher, Hasher};
    static KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        // std's hasher keys are random per process; no need for a random-number crate.
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        format!("\0$capnweb::private::SpecialMarker:{random:016x}")
    })
}

/// The marker-map value meaning "the value is in the slot" (other values index the kept list).
pub(crate) const SLOT_ID: u64 = u64::MAX;

thread_local! {
    /// Raised by capnweb's serializer right before it serializes a magic token.
    static CAPTURE_REQUESTED: Cell<bool> = const { Cell::new(false) };
    /// Where a token parks its value for capnweb's serializer.
    static CAPTURED: Cell<Option<Value>> = const { Cell::new(None) };
    /// Where capnweb's deserializer parks a value for the visitor it is about to call.
    static SLOT: Cell<Option<Value>> = const { Cell::new(None) };
    /// Values handed out by `deserialize_any` during the current `from_value` call.
    static KEPT: RefCell<Vec<Value>> = const { RefCell::new(Vec::new()) };
    /// How many `from_value` calls are running on this thread.
    static DE_DEPTH: Cell<u32> = const { Cell::new(0) };
}

// ---------------------------------------------------------------------------------------------
// The crate-internal API.

/// Serializes a value that the serde data model lacks (a stub, a promise, a date, …).
///
/// Call it from `impl Serialize for T` for any `T` that stands for such a value. With
/// [`to_value`](super::to_value) the value lands in the result unchanged; with any other
/// serializer the call fails with an error saying the value can only be converted with
/// `capnweb::to_value` (plain data values, if passed, are written in the ordinary data model).
pub(crate) fn serialize_special<S: Serializer>(
    value: Value,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_newtype_struct(MAGIC_NAME, &Token::Owned(Cell::new(Some(value))))
}

/// Deserializes a value that the serde data model lacks, as the whole [`Value`].
///
/// Call it from `impl Deserialize for T` for any `T` that stands for such a value, then match
/// the variant wanted (and fail with [`unexpected`] otherwise). From
/// [`from_value`](super::from_value) the value arrives exactly as it was (a field holding
/// `Value::Stub` yields that stub); from another deserializer (serde_json) it is whatever plain
/// value was there.
pub(crate) fn deserialize_special<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Value, D::Error> {
    deserializer.deserialize_newtype_struct(MAGIC_NAME, ValueVisitor)
}

/// The error for a special value of the wrong kind: "invalid type: expected {what}, found {kind}".
pub(crate) fn unexpected<E: de::Error>(what: &str, found: &Value) -> E {
    E::custom(format_args!(
        "invalid type: expected {what}, found {}",
        describe(found)
    ))
}

/// A short description of a value for error messages: its kind, and for scalars the value.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {}", super::wording::number(*n)),
        Value::String(s) => describe_str("string", s),
        Value::Url(s) => describe_str("url", s),
        Value::BigInt(b) => format!("bigint {b}"),
        Value::Array(items) => format!("array of {} elements", items.len()),
        other => other.kind().to_owned(),
    }
}

fn describe_str(kind: &str, s: &str) -> String {
    const MAX: usize = 40;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{kind} {:?}…", &s[..cut]),
        None => format!("{kind} {s:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Serialization.

/// What [`serialize_special`] or `Serialize for Value` hands the serializer.
enum Token<'a> {
    Borrowed(&'a Value),
    Owned(Cell<Option<Value>>),
    Bytes(&'a Bytes),
}

impl Serialize for Token<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if CAPTURE_REQUESTED.with(|flag| flag.replace(false)) {
            // capnweb's serializer asked: park the value for it.
            let value = match self {
                Token::Borrowed(value) => (*value).clone(),
                Token::Owned(cell) => cell.take().unwrap_or_default(),
                Token::Bytes(bytes) => Value::Bytes((*bytes).clone()),
            };
            CAPTURED.with(|slot| slot.set(Some(value)));
            return serializer.serialize_unit();
        }
        match self {
            Token::Borrowed(value) => serialize_plain(value, serializer),
            Token::Owned(cell) => match cell.take() {
                Some(value) => serialize_plain(&value, serializer),
                None => Err(ser::Error::custom(
                    "a capnweb special value was serialized twice",
                )),
            },
            Token::Bytes(bytes) => serializer.serialize_bytes(bytes),
        }
    }
}

/// Called by capnweb's serializer on `serialize_newtype_struct(MAGIC_NAME, token)`.
pub(crate) fn capture<T: Serialize + ?Sized, S: Serializer>(
    token: &T,
    serializer: S,
) -> Option<Value> {
    CAPTURE_REQUESTED.with(|flag| flag.set(true));
    let result = token.serialize(serializer);
    CAPTURE_REQUESTED.with(|flag| flag.set(false));
    let captured = CAPTURED.with(Cell::take);
    result.ok().and(captured)
}

/// A value in the ordinary serde data model, for serializers other than capnweb's.
fn serialize_plain<S: Serializer>(value: &Value, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        // Like `JSON.stringify` in an array: there is no `undefined` outside JavaScript.
        Value::Deferred(deferred) => serialize_plain(deferred.view(), serializer),
        Value::Undefined | Value::Null => serializer.serialize_unit(),
        Value::Bool(b) => serializer.serialize_bool(*b),
        Value::Number(n) => serializer.serialize_f64(*n),
        Value::String(s) | Value::Url(s) => serializer.serialize_str(s),
        Value::Array(items) => {
            let mut seq = serializer.serialize_seq(Some(items.len()))?;
            for item in items {
                seq.serialize_element(item)?;
            }
            seq.end()
        }
        Value::Object(object) => {
            let mut map = serializer.serialize_map(Some(object.len()))?;
            for (key, item) in object {
                map.serialize_entry(key, item)?;
            }
            map.end()
        }
        // The typed-array kind has no place in the data model; the bytes do.
        Value::Bytes(bytes) => serializer.serialize_bytes(bytes),
        other => Err(ser::Error::custom(format_args!(
            "a {} value can only be converted with capnweb::to_value, not by another serde \
             serializer (it has no representation outside Cap'n Web)",
            other.kind()
        ))),
    }
}

/// `Value` serializes as itself with [`to_value`](super::to_value) (a clone, no re-encoding);
/// other serializers see JSON-like values in the ordinary data model (`undefined` as unit,
/// URLs as strings, bytes as bytes) and fail on the rest.
impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_newtype_struct(MAGIC_NAME, &Token::Borrowed(self))
    }
}

// ---------------------------------------------------------------------------------------------
// Deserialization.

/// Counts a running `from_value`; the kept list is emptied when the outermost one ends.
pub(crate) struct DepthGuard(());

impl DepthGuard {
    pub(crate) fn enter() -> DepthGuard {
        DE_DEPTH.with(|depth| depth.set(depth.get() + 1));
        DepthGuard(())
    }
}

impl Drop for DepthGuard {
    fn drop(&mut self) {
        let outermost = DE_DEPTH.with(|depth| {
            let d = depth.get().saturating_sub(1);
            depth.set(d);
            d == 0
        });
        if outermost {
            let kept = KEPT.with(|kept| std::mem::take(&mut *kept.borrow_mut()));
            drop(kept);
        }
    }
}

/// Hands `value` to `visitor` through the slot (capnweb's deserializer, magic newtype).
pub(crate) fn visit_via_slot<'de, V: Visitor<'de>, E: de::Error>(
    value: Value,
    visitor: V,
) -> Result<V::Value, E> {
    SLOT.with(|slot| slot.set(Some(value)));
    let result = visitor.visit_map(MarkerAccess::<E>::new(SLOT_ID));
    // Whatever the visitor did not take is dropped here.
    drop(SLOT.with(Cell::take));
    result
}

/// Hands `value` to `visitor` through the kept list (capnweb's deserializer, `deserialize_any`).
pub(crate) fn visit_via_kept<'de, V: Visitor<'de>, E: de::Error>(
    value: Value,
    visitor: V,
) -> Result<V::Value, E> {
    let id = KEPT.with(|kept| {
        let mut kept = kept.borrow_mut();
        kept.push(value);
        kept.len() as u64 - 1
    });
    visitor.visit_map(MarkerAccess::<E>::new(id))
}

/// Looks up the value a marker map points to.
fn take_marked(id: u64) -> Option<Value> {
    if id == SLOT_ID {
        SLOT.with(Cell::take)
    } else {
        let index = usize::try_from(id).ok()?;
        KEPT.with(|kept| kept.borrow().get(index).cloned())
    }
}

/// The one-entry map `{marker_key(): id}`.
struct MarkerAccess<E> {
    id: Option<u64>,
    key_done: bool,
    _error: std::marker::PhantomData<E>,
}

impl<E> MarkerAccess<E> {
    fn new(id: u64) -> Self {
        MarkerAccess {
            id: Some(id),
            key_done: false,
            _error: std::marker::PhantomData,
        }
    }
}

impl<'de, E: de::Error> MapAccess<'de> for MarkerAccess<E> {
    type Error = E;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, E> {
        if self.key_done {
            return Ok(None);
        }
        self.key_done = true;
        seed.deserialize(de::value::BorrowedStrDeserializer::new(marker_key()))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, E> {
        match self.id.take() {
            Some(id) => seed.deserialize(de::value::U64Deserializer::new(id)),
            None => Err(E::custom("the special-value marker has no second value")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(usize::from(self.id.is_some()))
    }
}

/// Builds a [`Value`] from any deserializer; recognizes capnweb's marker maps.
struct ValueVisitor;

/// A map key as `ValueVisitor` reads it: the marker key, or an ordinary key.
enum MapKey {
    Marker,
    Name(String),
}

struct MapKeySeed;

impl<'de> DeserializeSeed<'de> for MapKeySeed {
    type Value = MapKey;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<MapKey, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for MapKeySeed {
    type Value = MapKey;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<MapKey, E> {
        Ok(if key == marker_key() {
            MapKey::Marker
        } else {
            MapKey::Name(key.to_owned())
        })
    }

    fn visit_string<E: de::Error>(self, key: String) -> Result<MapKey, E> {
        Ok(if key == marker_key() {
            MapKey::Marker
        } else {
            MapKey::Name(key)
        })
    }
}

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v as f64))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v as f64))
    }

    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(Value::BigInt(BigInt::from(v)))
    }

    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(Value::BigInt(BigInt::from(v)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Number(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(Bytes::from(v)))
    }

    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(Bytes::from(v)))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element::<Value>()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let first = match map.next_key_seed(MapKeySeed)? {
            None => return Ok(Value::Object(Object::new())),
            Some(MapKey::Marker) => {
                let id: u64 = map.next_value()?;
                return take_marked(id).ok_or_else(|| {
                    de::Error::custom(
                        "a capnweb special-value marker was found outside capnweb::from_value",
                    )
                });
            }
            Some(MapKey::Name(key)) => key,
        };
        let mut object = Object::with_capacity(map.size_hint().unwrap_or(0).min(4096) + 1);
        object.insert(first, map.next_value()?);
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// Any value. With [`from_value`](super::from_value) a `Value` (or a field of type `Value`) is
/// moved out of the input as it is, in O(1); from other deserializers (serde_json) it is built
/// from the plain data model (`null` → `Null`, integers → `Number`, `i128`/`u128` → `BigInt`,
/// bytes → `Bytes`).
impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserialize_special(deserializer)
    }
}

// ---------------------------------------------------------------------------------------------
// Types standing for special values.

impl Serialize for RpcError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_special(Value::Error(Box::new(self.clone())), serializer)
    }
}

impl<'de> Deserialize<'de> for RpcError {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RpcError, D::Error> {
        match deserialize_special(deserializer)? {
            Value::Error(error) => Ok(*error),
            other => Err(unexpected("an error", &other)),
        }
    }
}

impl Serialize for Stub {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_special(Value::Stub(self.clone()), serializer)
    }
}

impl<'de> Deserialize<'de> for Stub {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Stub, D::Error> {
        match deserialize_special(deserializer)? {
            Value::Stub(stub) => Ok(stub),
            other => Err(unexpected("a stub", &other)),
        }
    }
}

impl<T> Serialize for RpcPromise<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_special(
            Value::Promise(RpcPromise::untyped(self.clone())),
            serializer,
        )
    }
}

/// A promise field accepts a promise, or any other value as an already-resolved promise.
impl<'de, T> Deserialize<'de> for RpcPromise<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RpcPromise<T>, D::Error> {
        Ok(match deserialize_special(deserializer)? {
            Value::Promise(promise) => RpcPromise::cast(promise),
            other => RpcPromise::resolved(other),
        })
    }
}

/// `Serialize for Bytes`: the bytes and their kind with capnweb's serializer; the bytes alone
/// (`serialize_bytes`) with any other, with no copy made for the latter.
pub(crate) fn serialize_bytes<S: Serializer>(
    bytes: &Bytes,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_newtype_struct(MAGIC_NAME, &Token::Bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Date;

    #[test]
    fn describe_truncates_long_strings() {
        let long = "x".repeat(100);
        let d = describe(&Value::String(long));
        assert!(d.ends_with('…'), "{d}");
        assert!(d.len() < 60, "{d}");
        assert_eq!(describe(&Value::Number(1.5)), "number 1.5");
    }

    #[test]
    fn foreign_serializer_rejects_special_values() {
        let err = serde_json::to_string(&Value::Date(Date::from_millis(0.0))).unwrap_err();
        assert!(
            err.to_string()
                .contains("only be converted with capnweb::to_value"),
            "{err}"
        );
        assert_eq!(serde_json::to_string(&Value::Undefined).unwrap(), "null");
    }

    #[test]
    fn marker_outside_from_value_is_an_error() {
        let text = format!("{{\"{}\": 3}}", marker_key().replace('\0', "\\u0000"));
        let err = serde_json::from_str::<Value>(&text).unwrap_err();
        assert!(
            err.to_string().contains("outside capnweb::from_value"),
            "{err}"
        );
    }
}
