//! Any `Serialize` value written straight into the message an [`Encoder`] writes: the same text
//! [`to_value`](crate::to_value) followed by [`Encoder::value`] would give, with the depth,
//! bigint and size limits checked as it goes, and no [`Value`] tree in between. Special values
//! (stubs, promises, dates, errors, …) come through serde's magic newtype as values and are
//! written by the encoder as any value is.

use std::fmt;

use serde::ser::{self, Serialize};

use super::{check_depth, Encoder};
use crate::error::Error;
use crate::value::{
    capture_special, unsafe_integer, BigInt, Bytes, MapKeySerializer, PathError, PathSeg, Value,
    MAGIC_NAME,
};
use crate::wire::tag::Tag;

/// Writes `value`, as found at value depth `depth`, into the message `encoder` is writing.
pub(crate) fn write_serialize<T: Serialize + ?Sized>(
    encoder: &mut Encoder<'_>,
    value: &T,
    depth: usize,
) -> Result<(), Error> {
    value
        .serialize(Writer { encoder, depth })
        .map_err(WriteError::into_error)
}

/// Why writing stopped: the value could not be converted (with where), or a limit or an
/// exporter stopped the message.
#[derive(Debug)]
pub(crate) enum WriteError {
    Value(PathError),
    Stopped(Error),
}

impl WriteError {
    fn at(self, seg: PathSeg) -> WriteError {
        match self {
            WriteError::Value(e) => WriteError::Value(e.at(seg)),
            stopped => stopped,
        }
    }

    fn at_key(self, key: &str) -> WriteError {
        self.at(PathSeg::Key(key.to_owned()))
    }

    fn into_error(self) -> Error {
        match self {
            WriteError::Value(e) => Error::encode(e.to_string()),
            WriteError::Stopped(e) => e,
        }
    }
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::Value(e) => e.fmt(f),
            WriteError::Stopped(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for WriteError {}

impl ser::Error for WriteError {
    fn custom<M: fmt::Display>(message: M) -> Self {
        WriteError::Value(PathError::new(message.to_string()))
    }
}

impl From<Error> for WriteError {
    fn from(e: Error) -> Self {
        WriteError::Stopped(e)
    }
}

impl From<PathError> for WriteError {
    fn from(e: PathError) -> Self {
        WriteError::Value(e)
    }
}

/// Writes one value at `depth`.
struct Writer<'e, 'a> {
    encoder: &'e mut Encoder<'a>,
    depth: usize,
}

impl<'e, 'a> Writer<'e, 'a> {
    /// Checks the depth of the value about to be written.
    fn enter(&self) -> Result<(), WriteError> {
        Ok(check_depth(self.depth, self.encoder.limits)?)
    }

    /// Finishes a scalar: the message may now be over its size limit.
    fn done(self) -> Result<(), WriteError> {
        Ok(self.encoder.check_size()?)
    }

    fn integer(self, n: i64) -> Result<(), WriteError> {
        self.enter()?;
        self.encoder.integer(n);
        self.done()
    }

    fn special(self, value: &Value) -> Result<(), WriteError> {
        Ok(self.encoder.value(value, self.depth)?)
    }

    /// `{"variant":` before an enum variant's contents; `}` after them.
    fn open_variant(&mut self, variant: &str) -> Result<(), WriteError> {
        self.enter()?;
        self.encoder.out.push('{');
        self.encoder.string(variant);
        self.encoder.out.push(':');
        Ok(())
    }

    fn seq(mut self, variant: Option<&'static str>) -> Result<Seq<'e, 'a>, WriteError> {
        let mut depth = self.depth;
        if let Some(variant) = variant {
            self.open_variant(variant)?;
            depth += 1;
        }
        check_depth(depth, self.encoder.limits)?;
        self.encoder.raw("[[");
        Ok(Seq {
            encoder: self.encoder,
            depth,
            index: 0,
            variant,
        })
    }

    fn object(mut self, variant: Option<&'static str>) -> Result<Obj<'e, 'a>, WriteError> {
        let mut depth = self.depth;
        if let Some(variant) = variant {
            self.open_variant(variant)?;
            depth += 1;
        }
        check_depth(depth, self.encoder.limits)?;
        self.encoder.out.push('{');
        Ok(Obj {
            encoder: self.encoder,
            depth,
            first: true,
            key: None,
            variant,
        })
    }
}

/// Writes `value` one level below `depth`, its errors located at `seg`.
fn write_child<T: Serialize + ?Sized>(
    encoder: &mut Encoder<'_>,
    depth: usize,
    value: &T,
    seg: impl FnOnce() -> PathSeg,
) -> Result<(), WriteError> {
    crate::stack::guarded(|| {
        value.serialize(Writer {
            encoder,
            depth: depth + 1,
        })
    })
    .map_err(|e| e.at(seg()))
}

impl<'e, 'a> ser::Serializer for Writer<'e, 'a> {
    type Ok = ();
    type Error = WriteError;
    type SerializeSeq = Seq<'e, 'a>;
    type SerializeTuple = Seq<'e, 'a>;
    type SerializeTupleStruct = Seq<'e, 'a>;
    type SerializeTupleVariant = Seq<'e, 'a>;
    type SerializeMap = Obj<'e, 'a>;
    type SerializeStruct = Obj<'e, 'a>;
    type SerializeStructVariant = Obj<'e, 'a>;

    fn serialize_bool(self, v: bool) -> Result<(), WriteError> {
        self.enter()?;
        self.encoder.raw(if v { "true" } else { "false" });
        self.done()
    }

    fn serialize_i8(self, v: i8) -> Result<(), WriteError> {
        self.integer(v.into())
    }

    fn serialize_i16(self, v: i16) -> Result<(), WriteError> {
        self.integer(v.into())
    }

    fn serialize_i32(self, v: i32) -> Result<(), WriteError> {
        self.integer(v.into())
    }

    fn serialize_i64(self, v: i64) -> Result<(), WriteError> {
        if v.unsigned_abs() > crate::value::MAX_SAFE_INTEGER as u64 {
            return Err(unsafe_integer(v).into());
        }
        self.integer(v)
    }

    fn serialize_i128(self, v: i128) -> Result<(), WriteError> {
        self.special(&Value::BigInt(BigInt::from(v)))
    }

    fn serialize_u8(self, v: u8) -> Result<(), WriteError> {
        self.integer(v.into())
    }

    fn serialize_u16(self, v: u16) -> Result<(), WriteError> {
        self.integer(v.into())
    }

    fn serialize_u32(self, v: u32) -> Result<(), WriteError> {
        self.integer(v.into())
    }

    fn serialize_u64(self, v: u64) -> Result<(), WriteError> {
        match i64::try_from(v) {
            Ok(n) if v <= crate::value::MAX_SAFE_INTEGER as u64 => self.integer(n),
            _ => Err(unsafe_integer(v).into()),
        }
    }

    fn serialize_u128(self, v: u128) -> Result<(), WriteError> {
        self.special(&Value::BigInt(BigInt::from(v)))
    }

    fn serialize_f32(self, v: f32) -> Result<(), WriteError> {
        self.serialize_f64(v.into())
    }

    fn serialize_f64(self, v: f64) -> Result<(), WriteError> {
        self.enter()?;
        self.encoder.number(v);
        self.done()
    }

    fn serialize_char(self, v: char) -> Result<(), WriteError> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<(), WriteError> {
        self.enter()?;
        self.encoder.string(v);
        self.done()
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), WriteError> {
        self.special(&Value::Bytes(Bytes::from(v)))
    }

    fn serialize_none(self) -> Result<(), WriteError> {
        self.enter()?;
        self.encoder.raw("null");
        self.done()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), WriteError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), WriteError> {
        self.enter()?;
        self.encoder.raw(Tag::Undefined.alone());
        self.done()
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), WriteError> {
        self.serialize_none()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), WriteError> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), WriteError> {
        if name == MAGIC_NAME {
            let special = capture_special(value).ok_or_else(|| {
                PathError::new("a capnweb special value could not be captured".into())
            })?;
            return self.special(&special);
        }
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        mut self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), WriteError> {
        self.open_variant(variant)?;
        write_child(self.encoder, self.depth, value, || {
            PathSeg::Key(variant.to_owned())
        })?;
        self.encoder.out.push('}');
        self.done()
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Seq<'e, 'a>, WriteError> {
        self.seq(None)
    }

    fn serialize_tuple(self, _len: usize) -> Result<Seq<'e, 'a>, WriteError> {
        self.seq(None)
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Seq<'e, 'a>, WriteError> {
        self.seq(None)
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Seq<'e, 'a>, WriteError> {
        self.seq(Some(variant))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Obj<'e, 'a>, WriteError> {
        self.object(None)
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Obj<'e, 'a>, WriteError> {
        self.object(None)
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Obj<'e, 'a>, WriteError> {
        self.object(Some(variant))
    }
}

/// An array being written: `[[` … `]]`, inside `{"variant":` … `}` for a tuple variant.
pub(crate) struct Seq<'e, 'a> {
    encoder: &'e mut Encoder<'a>,
    /// The array's own depth.
    depth: usize,
    index: usize,
    variant: Option<&'static str>,
}

impl Seq<'_, '_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WriteError> {
        if self.index > 0 {
            self.encoder.out.push(',');
        }
        let index = self.index;
        let variant = self.variant;
        write_child(self.encoder, self.depth, value, || PathSeg::Index(index)).map_err(|e| {
            match variant {
                Some(variant) => e.at_key(variant),
                None => e,
            }
        })?;
        self.index += 1;
        Ok(())
    }

    fn finish(self) -> Result<(), WriteError> {
        self.encoder.raw("]]");
        if self.variant.is_some() {
            self.encoder.out.push('}');
        }
        Ok(self.encoder.check_size()?)
    }
}

/// serde's four array-like traits, each adding an element.
macro_rules! array_traits {
    ($($trait:ident::$method:ident),* $(,)?) => {$(
        impl ser::$trait for Seq<'_, '_> {
            type Ok = ();
            type Error = WriteError;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WriteError> {
                self.element(value)
            }

            fn end(self) -> Result<(), WriteError> {
                self.finish()
            }
        }
    )*};
}

array_traits! {
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
}

/// An object being written: `{` … `}`, inside `{"variant":` … `}` for a struct variant.
pub(crate) struct Obj<'e, 'a> {
    encoder: &'e mut Encoder<'a>,
    /// The object's own depth.
    depth: usize,
    first: bool,
    /// A map key written, its value still to come.
    key: Option<String>,
    variant: Option<&'static str>,
}

impl Obj<'_, '_> {
    fn entry<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), WriteError> {
        if !self.first {
            self.encoder.out.push(',');
        }
        self.first = false;
        self.encoder.string(key);
        self.encoder.out.push(':');
        let variant = self.variant;
        write_child(self.encoder, self.depth, value, || {
            PathSeg::Key(key.to_owned())
        })
        .map_err(|e| match variant {
            Some(variant) => e.at_key(variant),
            None => e,
        })
    }

    fn finish(self) -> Result<(), WriteError> {
        self.encoder.out.push('}');
        if self.variant.is_some() {
            self.encoder.out.push('}');
        }
        Ok(self.encoder.check_size()?)
    }
}

impl ser::SerializeMap for Obj<'_, '_> {
    type Ok = ();
    type Error = WriteError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), WriteError> {
        self.key = Some(key.serialize(MapKeySerializer)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WriteError> {
        match self.key.take() {
            Some(key) => self.entry(&key, value),
            None => {
                Err(PathError::new("serialize_value was called before serialize_key".into()).into())
            }
        }
    }

    fn serialize_entry<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        &mut self,
        key: &K,
        value: &V,
    ) -> Result<(), WriteError> {
        let key = key.serialize(MapKeySerializer)?;
        self.entry(&key, value)
    }

    fn end(self) -> Result<(), WriteError> {
        self.finish()
    }
}

/// serde's two struct-like traits, each adding a field.
macro_rules! struct_traits {
    ($($trait:ident),* $(,)?) => {$(
        impl ser::$trait for Obj<'_, '_> {
            type Ok = ();
            type Error = WriteError;

            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), WriteError> {
                self.entry(key, value)
            }

            fn end(self) -> Result<(), WriteError> {
                self.finish()
            }
        }
    )*};
}

struct_traits!(SerializeStruct, SerializeStructVariant);

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Serialize;

    use super::*;
    use crate::encode::{Exporter, Reference};
    use crate::hook::Hook;
    use crate::value::{to_value, Date};
    use crate::wire::{Limits, PathKey};

    /// Refuses capabilities: these tests send plain data.
    struct NoCapabilities;

    impl Exporter for NoCapabilities {
        fn stub(&mut self, _hook: &Hook) -> Result<Reference, Error> {
            Err(Error::encode("no stubs here"))
        }

        fn promise(&mut self, _hook: &Hook, _path: &[PathKey]) -> Result<Reference, Error> {
            Err(Error::encode("no promises here"))
        }
    }

    fn direct<T: Serialize>(value: &T, limits: &Limits) -> Result<String, Error> {
        let mut text = String::new();
        let mut exporter = NoCapabilities;
        let mut encoder = Encoder::new(&mut text, &mut exporter, limits);
        write_serialize(&mut encoder, value, 0)?;
        Ok(text)
    }

    fn through_value<T: Serialize>(value: &T, limits: &Limits) -> Result<String, Error> {
        let value = to_value(value)?;
        let mut text = String::new();
        Encoder::new(&mut text, &mut NoCapabilities, limits).value(&value, 0)?;
        Ok(text)
    }

    #[derive(Serialize)]
    enum Shape {
        Empty,
        Circle(f64),
        Pair(i32, String),
        Rect { w: u8, h: u8 },
    }

    #[derive(Serialize)]
    struct Everything {
        text: String,
        ch: char,
        flags: (bool, Option<bool>, Option<u32>),
        numbers: Vec<f64>,
        small: [i16; 3],
        safe: u64,
        big: u128,
        shapes: Vec<Shape>,
        by_id: BTreeMap<u32, Vec<String>>,
        when: Date,
        bytes: crate::value::Bytes,
        unit: (),
        nested: Vec<Vec<Vec<i8>>>,
        value: Value,
    }

    fn everything() -> Everything {
        Everything {
            text: "quote \" backslash \\ line\n emoji \u{1F600}".into(),
            ch: 'é',
            flags: (true, None, Some(7)),
            numbers: vec![0.5, -0.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e300],
            small: [-1, 0, 1],
            safe: (1 << 53) - 1,
            big: 1 << 100,
            shapes: vec![
                Shape::Empty,
                Shape::Circle(2.0),
                Shape::Pair(-3, "x".into()),
                Shape::Rect { w: 4, h: 5 },
            ],
            by_id: BTreeMap::from([(1, vec!["a".into()]), (20, vec![])]),
            when: Date::from_millis(1_700_000_000_000.0),
            bytes: crate::value::Bytes::from(vec![1, 2, 3]),
            unit: (),
            nested: vec![vec![vec![1, 2], vec![]], vec![]],
            value: Value::Array(vec![Value::Undefined, Value::from("v")]),
        }
    }

    #[test]
    fn writes_the_text_that_to_value_then_the_encoder_writes() {
        let limits = Limits::default();
        let value = everything();
        let text = direct(&value, &limits).expect("writes");
        assert_eq!(text, through_value(&value, &limits).expect("converts"));
        assert!(text.starts_with("{\"text\":"), "{text}");
    }

    #[test]
    fn a_message_over_the_size_limit_stops_at_the_limit() {
        let limits = Limits::default().max_message_size(1_000);
        let long = vec![1.5f64; 100_000];
        let e = direct(&long, &limits).expect_err("over the limit");
        assert!(matches!(e, Error::LimitExceeded(_)), "{e}");
        // It stopped near the limit rather than writing the whole array first.
        let mut text = String::new();
        let mut exporter = NoCapabilities;
        let mut encoder = Encoder::new(&mut text, &mut exporter, &limits);
        assert!(write_serialize(&mut encoder, &long, 0).is_err());
        assert!(text.len() < 2_000, "wrote {} bytes", text.len());
    }

    #[test]
    fn depth_and_bigint_limits_hold_as_for_values() {
        let deep = vec![vec![vec![vec![1u8]]]];
        let shallow = Limits::default().max_depth(3);
        assert!(matches!(
            direct(&deep, &shallow),
            Err(Error::LimitExceeded(_))
        ));
        assert!(matches!(
            through_value(&deep, &shallow),
            Err(Error::LimitExceeded(_))
        ));
        let enough = Limits::default().max_depth(5);
        assert_eq!(
            direct(&deep, &enough).ok(),
            through_value(&deep, &enough).ok()
        );
        let short = Limits::default().max_bigint_digits(5);
        assert!(matches!(
            direct(&vec![u128::MAX], &short),
            Err(Error::LimitExceeded(_))
        ));
    }

    #[test]
    fn what_cannot_be_converted_says_where() {
        #[derive(Serialize)]
        struct Row {
            id: u64,
        }
        let rows = vec![Row { id: 1 }, Row { id: u64::MAX }];
        let e = direct(&rows, &Limits::default()).expect_err("not a safe integer");
        let converted = through_value(&rows, &Limits::default()).expect_err("nor here");
        assert_eq!(e.to_string(), converted.to_string());
        assert!(e.to_string().contains("[1].id"), "{e}");
    }
}
