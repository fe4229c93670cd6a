//! The serde bridge (`to_value`/`from_value`) and the standalone codec
//! (`serialize_value`/`deserialize_value`).
//!
//! The input drives [`arbitrary`] to build values: [`Value`]s of every data kind (no stubs or
//! promises: those need a session), and typed Rust shapes (structs, enums of every
//! representation, maps with number keys, `#[serde(flatten)]`, `Value`/`Date`/`Bytes`/`BigInt`
//! fields, 128-bit integers). The same bytes are also read as wire text.
//!
//! Asserted:
//!
//! * `to_value(&v) == v` and `from_value::<Value>(v) == v` for any `Value`; alike inside a
//!   `Vec`, a map and an `Option` (where `null` and `undefined` read as `None`).
//! * A typed value survives `to_value` then `from_value` exactly (compared by `Debug`, which
//!   tells `-0.0` from `0.0` and shows NaN). `to_value` refuses exactly the 64-bit integers
//!   beyond ±(2^53 − 1), and nothing else in these shapes.
//! * What `serialize_value` writes, `deserialize_value` reads, to the value the wire can carry
//!   ([`over_the_wire`] says precisely what that is: `-0` is `0`, an infinite date is an
//!   invalid one, keys that would override `Object.prototype` members are dropped, …); the
//!   text of what was read is a fixed point. `serialize_value` fails only with
//!   `LimitExceeded`, or with `Encode` for what cannot be written (see [`encodable`]).
//! * For typed values, `deserialize(serialize(x))` is `from_value` of the wire's version of
//!   `to_value(x)`.
//! * Wire text that `deserialize_value` accepts serializes again, and reads back equal.

use std::collections::BTreeMap;
use std::fmt::Debug;

use arbitrary::{Arbitrary, Unstructured};
use capnweb::value::{Fetch, Object};
use capnweb::wire::BytesKind;
use capnweb::{
    deserialize, deserialize_value, from_value, serialize, serialize_value, to_value, BigInt,
    Bytes, Date, Error, RpcError, Value,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The largest integer a JavaScript number holds exactly.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Runs every check on one input.
pub fn check(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        check_wire_text(text);
    }
    let mut u = Unstructured::new(data);
    // A few values per input, until the bytes run out.
    for _ in 0..4 {
        if u.is_empty() {
            break;
        }
        let Ok(kind) = u.int_in_range(0u8..=3) else {
            break;
        };
        let done = match kind {
            0 | 1 => value(&mut u, 0, true).map(|v| check_value(&v)),
            2 => Record::arbitrary(&mut u).map(|r| check_typed(&r)),
            _ => Ints::arbitrary(&mut u).map(|i| check_ints(&i)),
        };
        if done.is_err() {
            break;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Building values.

const KEYS: &[&str] = &[
    "",
    "a",
    "name",
    "message",
    "stack",
    "cause",
    "headers",
    "body",
    "method",
    "status",
    "statusText",
    "__proto__",
    "toString",
    "toJSON",
    "constructor",
    "valueOf",
    "0",
    "-1",
    "\u{0}",
    "\u{2028}",
    "é😀",
    // The key of capnweb's internal marker maps (`value::special`): peer data must never be
    // taken for one.
    "\u{0}$capnweb::private::SpecialMarker",
];

fn string(u: &mut Unstructured) -> arbitrary::Result<String> {
    if u.ratio(1, 3)? {
        Ok((*u.choose(KEYS)?).to_owned())
    } else {
        String::arbitrary(u)
    }
}

fn number(u: &mut Unstructured) -> arbitrary::Result<f64> {
    const SPECIAL: &[f64] = &[
        0.0,
        -0.0,
        1.0,
        -1.5,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        9_007_199_254_740_991.0,
        9_007_199_254_740_992.0,
        1e21,
        1e-7,
        5e-324,
        f64::MAX,
        f64::MIN_POSITIVE,
    ];
    if u.ratio(1, 2)? {
        Ok(*u.choose(SPECIAL)?)
    } else {
        f64::arbitrary(u)
    }
}

fn bigint(u: &mut Unstructured) -> arbitrary::Result<BigInt> {
    let negative = bool::arbitrary(u)?;
    let len = u.int_in_range(1usize..=40)?;
    let mut text = String::with_capacity(len + 1);
    if negative {
        text.push('-');
    }
    for _ in 0..len {
        text.push(char::from(b'0' + u.int_in_range(0u8..=9)?));
    }
    Ok(BigInt::parse(&text).expect("digits"))
}

fn bytes(u: &mut Unstructured) -> arbitrary::Result<Bytes> {
    let kind = if u.ratio(1, 3)? {
        None
    } else {
        Some(*u.choose(&BytesKind::ALL)?)
    };
    let mut data = Vec::<u8>::arbitrary(u)?;
    // Usually a whole number of elements; now and then not.
    if let Some(size) = kind.and_then(BytesKind::element_size) {
        if !u.ratio(1, 8)? {
            data.truncate(data.len() / size * size);
        }
    }
    Ok(Bytes::with_kind(data, kind))
}

fn headers(u: &mut Unstructured) -> arbitrary::Result<Vec<(String, String)>> {
    let n = u.int_in_range(0usize..=3)?;
    (0..n).map(|_| Ok((string(u)?, string(u)?))).collect()
}

/// A plain JSON value (the pass-through parts of a fetch `init`).
fn json(u: &mut Unstructured, depth: u32) -> arbitrary::Result<serde_json::Value> {
    use serde_json::Value as J;
    let choice = if depth >= 3 {
        u.int_in_range(0u8..=4)?
    } else {
        u.int_in_range(0u8..=7)?
    };
    Ok(match choice {
        7 => {
            // Deep plain nesting. Plain values have no value depth: the reader bounds the
            // message's brackets (2 * max_depth + 8), and the writer does not hold plain values
            // to that bound, so nesting beyond it makes text the reader refuses (an open
            // finding, see README.md): kept below it here.
            let levels = u.int_in_range(150usize..=250)?;
            let mut v = J::Null;
            for _ in 0..levels {
                v = J::Array(vec![v]);
            }
            v
        }
        0 => J::Null,
        1 => J::Bool(bool::arbitrary(u)?),
        2 => serde_json::Number::from_f64(number(u)?).map_or(J::Null, J::Number),
        3 => J::Number(i64::arbitrary(u)?.into()),
        4 => J::String(string(u)?),
        5 => {
            let n = u.int_in_range(0usize..=3)?;
            J::Array(
                (0..n)
                    .map(|_| json(u, depth + 1))
                    .collect::<Result<_, _>>()?,
            )
        }
        _ => {
            let n = u.int_in_range(0usize..=3)?;
            let mut map = serde_json::Map::new();
            for _ in 0..n {
                map.insert(string(u)?, json(u, depth + 1)?);
            }
            J::Object(map)
        }
    })
}

fn fetch_other(
    u: &mut Unstructured,
) -> arbitrary::Result<serde_json::Map<String, serde_json::Value>> {
    let n = u.int_in_range(0usize..=3)?;
    let mut map = serde_json::Map::new();
    for _ in 0..n {
        map.insert(string(u)?, json(u, 1)?);
    }
    Ok(map)
}

fn object(u: &mut Unstructured, depth: u32, undefined: bool) -> arbitrary::Result<Object> {
    let n = u.int_in_range(0usize..=4)?;
    let mut object = Object::new();
    for _ in 0..n {
        object.insert(string(u)?, value(u, depth + 1, undefined)?);
    }
    Ok(object)
}

/// A `Value` of any data kind (no stubs or promises), sometimes nested very deep; without
/// `undefined` anywhere unless `undefined`.
pub fn value(u: &mut Unstructured, depth: u32, undefined: bool) -> arbitrary::Result<Value> {
    let leaf = depth >= 5 || u.len() < 4;
    let choice = if leaf {
        u.int_in_range(0u8..=10)?
    } else {
        u.int_in_range(0u8..=17)?
    };
    Ok(match choice {
        0 if undefined => Value::Undefined,
        0 | 1 => Value::Null,
        2 => Value::Bool(bool::arbitrary(u)?),
        3 | 4 => Value::Number(number(u)?),
        5 => Value::String(string(u)?),
        6 => Value::BigInt(bigint(u)?),
        7 => Value::Date(Date::from_millis(number(u)?)),
        8 => Value::Bytes(bytes(u)?),
        9 => Value::Url(string(u)?),
        10 => Value::Headers(headers(u)?),
        11 => {
            let n = u.int_in_range(0usize..=4)?;
            Value::Array(
                (0..n)
                    .map(|_| value(u, depth + 1, undefined))
                    .collect::<Result<_, _>>()?,
            )
        }
        12 => Value::Object(object(u, depth, undefined)?),
        13 => {
            let mut error = RpcError::new(string(u)?, string(u)?);
            if bool::arbitrary(u)? {
                error.stack = Some(string(u)?);
            }
            *error.props = object(u, depth, undefined)?;
            Value::Error(Box::new(error))
        }
        14 | 15 => {
            let body = if bool::arbitrary(u)? {
                Some(value(u, depth + 1, undefined)?)
            } else {
                None
            };
            let fetch = Fetch {
                url: string(u)?,
                headers: headers(u)?,
                body,
                other: fetch_other(u)?,
            };
            if choice == 14 {
                Value::Request(Box::new(fetch))
            } else {
                Value::Response(Box::new(fetch))
            }
        }
        16 if depth == 0 => {
            // Around the depth limit (256), in arrays, objects or error props (at the top
            // only: one such tower per value is enough).
            let levels = u.int_in_range(250usize..=260)?;
            let how = u.int_in_range(0u8..=2)?;
            let mut v = value(u, 5, undefined)?;
            for _ in 0..levels {
                v = match how {
                    0 => Value::Array(vec![v]),
                    1 => Value::Object(Object::from_iter([("k".to_owned(), v)])),
                    _ => Value::Error(Box::new(RpcError::error("e").with_prop("p", v))),
                };
            }
            v
        }
        _ => {
            let n = u.int_in_range(0usize..=4)?;
            let items = (0..n)
                .map(|_| value(u, depth + 1, undefined))
                .collect::<Result<_, _>>()?;
            Value::Array(items)
        }
    })
}

// ---------------------------------------------------------------------------------------------
// What the wire carries.

/// The members of `Object.prototype`, and `toJSON`: keys the receiving side drops.
fn is_reserved_key(key: &str) -> bool {
    matches!(
        key,
        "constructor"
            | "__defineGetter__"
            | "__defineSetter__"
            | "hasOwnProperty"
            | "__lookupGetter__"
            | "__lookupSetter__"
            | "isPrototypeOf"
            | "propertyIsEnumerable"
            | "toString"
            | "valueOf"
            | "__proto__"
            | "toLocaleString"
            | "toJSON"
    )
}

fn wire_number(n: f64) -> f64 {
    // `-0` is written `0`, as `JSON.stringify` writes it.
    if n == 0.0 {
        0.0
    } else {
        n
    }
}

/// A plain JSON number as the wire carries it: a double, integral ones below 2^63 as i64.
fn wire_json(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        J::Number(n) => {
            let x = n.as_f64().unwrap_or(0.0);
            if x.fract() == 0.0 && x.abs() < 9.2e18 {
                J::Number((x as i64).into())
            } else {
                serde_json::Number::from_f64(x).map_or(J::Null, J::Number)
            }
        }
        J::Array(items) => J::Array(items.iter().map(wire_json).collect()),
        J::Object(map) => J::Object(map.iter().map(|(k, v)| (k.clone(), wire_json(v))).collect()),
        other => other.clone(),
    }
}

/// The plain options of a fetch as the wire carries them: the reference's leading keys first
/// (the writer's order; it matters to typed values, compared by `Debug`), without `dropped`.
fn wire_other(
    other: &serde_json::Map<String, serde_json::Value>,
    leading: &[&str],
    dropped: &[&str],
) -> serde_json::Map<String, serde_json::Value> {
    let first = leading.iter().filter_map(|&k| other.get_key_value(k));
    let rest = other
        .iter()
        .filter(|(k, _)| !leading.contains(&k.as_str()) && !dropped.contains(&k.as_str()));
    first
        .chain(rest)
        .map(|(k, v)| (k.clone(), wire_json(v)))
        .collect()
}

fn over_the_wire_object(object: &Object) -> Object {
    object
        .iter()
        .filter(|(key, _)| !is_reserved_key(key))
        .map(|(key, value)| (key.clone(), over_the_wire(value)))
        .collect()
}

/// A fetch body as the wire carries it: data only, `undefined` as `null`.
fn over_the_wire_body(value: &Value) -> Value {
    match value {
        Value::Undefined => Value::Null,
        Value::Number(n) => Value::Number(wire_number(*n)),
        Value::Array(items) => Value::Array(items.iter().map(over_the_wire_body).collect()),
        Value::Object(object) => Value::Object(
            object
                .iter()
                .filter(|(key, _)| !is_reserved_key(key))
                .map(|(key, value)| (key.clone(), over_the_wire_body(value)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Whether the encoder can write `value` at all (regardless of limits): bytes of a typed
/// array hold whole elements, and fetch bodies are data. (An error with props it cannot write
/// is still written, without them.)
fn encodable(value: &Value) -> bool {
    match value {
        Value::Bytes(bytes) => whole_elements(bytes),
        Value::Array(items) => items.iter().all(encodable),
        Value::Object(object) => object.values().all(encodable),
        Value::Request(fetch) | Value::Response(fetch) => fetch.body.as_ref().is_none_or(data),
        _ => true,
    }
}

fn whole_elements(bytes: &Bytes) -> bool {
    bytes
        .kind()
        .and_then(BytesKind::element_size)
        .is_none_or(|size| bytes.len().is_multiple_of(size))
}

/// A fetch body the encoder can write: data only.
fn data(value: &Value) -> bool {
    match value {
        Value::Undefined | Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {
            true
        }
        Value::Bytes(bytes) => whole_elements(bytes),
        Value::Array(items) => items.iter().all(data),
        Value::Object(object) => object.values().all(data),
        _ => false,
    }
}

/// What `deserialize_value(serialize_value(v))` gives, when `serialize_value` succeeds.
pub fn over_the_wire(value: &Value) -> Value {
    match value {
        Value::Number(n) => Value::Number(wire_number(*n)),
        Value::Date(d) if !d.is_valid() => Value::Date(Date::invalid()),
        Value::Date(d) => Value::Date(Date::from_millis(wire_number(d.millis()))),
        Value::Array(items) => Value::Array(items.iter().map(over_the_wire).collect()),
        Value::Object(object) => Value::Object(over_the_wire_object(object)),
        Value::Error(error) => {
            // Without a session the stack is never sent; props that cannot be encoded are left
            // out (the error itself always gets through); the error's own fields are not props.
            let props = error
                .props
                .iter()
                .filter(|(key, _)| !matches!(key.as_str(), "name" | "message" | "stack"))
                .filter(|(key, _)| !is_reserved_key(key))
                .filter(|(_, value)| encodable(value))
                .map(|(key, value)| (key.clone(), over_the_wire(value)))
                .collect();
            Value::Error(Box::new(RpcError {
                name: error.name.clone(),
                message: error.message.clone(),
                stack: None,
                props: Box::new(props),
            }))
        }
        // A plain `headers` key (and a request's plain `body`) is not sent.
        Value::Request(fetch) => Value::Request(Box::new(Fetch {
            url: fetch.url.clone(),
            headers: fetch.headers.clone(),
            body: fetch.body.as_ref().map(over_the_wire_body),
            other: wire_other(&fetch.other, &["method"], &["headers", "body"]),
        })),
        Value::Response(fetch) => Value::Response(Box::new(Fetch {
            // A response has no URL on the wire, and always a body (null if none).
            url: String::new(),
            headers: fetch.headers.clone(),
            body: Some(fetch.body.as_ref().map_or(Value::Null, over_the_wire_body)),
            other: wire_other(&fetch.other, &["status", "statusText"], &["headers"]),
        })),
        other => other.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// The checks.

fn check_value(v: &Value) {
    // The serde bridge hands a Value through untouched.
    assert_eq!(&to_value(v).expect("to_value of a Value"), v, "to_value");
    assert_eq!(
        &from_value::<Value>(v.clone()).expect("from_value"),
        v,
        "from_value"
    );
    let list = vec![v.clone(), Value::Null];
    assert_eq!(
        to_value(&list).expect("to_value of a Vec"),
        Value::Array(list.clone())
    );
    assert_eq!(
        from_value::<Vec<Value>>(Value::Array(list.clone())).expect("Vec"),
        list
    );
    let map = BTreeMap::from([("k".to_owned(), v.clone())]);
    let as_object = Value::Object(Object::from_iter([("k".to_owned(), v.clone())]));
    assert_eq!(to_value(&map).expect("to_value of a map"), as_object);
    assert_eq!(
        from_value::<BTreeMap<String, Value>>(as_object).expect("map"),
        map
    );
    let expected = (!v.is_nullish()).then(|| v.clone());
    assert_eq!(
        from_value::<Option<Value>>(v.clone()).expect("Option"),
        expected
    );
    assert_eq!(&to_value(&Some(v.clone())).expect("to_value of Some"), v);

    match serialize_value(v) {
        Ok(text) => {
            let back = deserialize_value(&text).unwrap_or_else(|e| {
                panic!("serialize_value wrote {text}, which does not read: {e}")
            });
            assert_eq!(back, over_the_wire(v), "read back from {text}");
            let again = serialize_value(&back)
                .unwrap_or_else(|e| panic!("{back:?}, read from {text}, does not serialize: {e}"));
            let back_again = deserialize_value(&again).expect("read again");
            assert_eq!(back_again, back, "read again from {again}");
            assert_eq!(
                serialize_value(&back_again).ok(),
                Some(again),
                "not a fixed point"
            );
        }
        Err(Error::LimitExceeded(_)) => {}
        Err(Error::Encode(e)) => assert!(!encodable(v), "{v:?} is data, but: {e}"),
        Err(other) => panic!("serialize_value failed with {other:?}"),
    }
}

fn check_wire_text(text: &str) {
    let Ok(value) = deserialize_value(text) else {
        return;
    };
    let canonical = serialize_value(&value)
        .unwrap_or_else(|e| panic!("{text} reads as {value:?}, which does not serialize: {e}"));
    let back = deserialize_value(&canonical)
        .unwrap_or_else(|e| panic!("{canonical} (from {text}) does not read: {e}"));
    assert_eq!(back, over_the_wire(&value), "read back from {canonical}");
    assert_eq!(
        serialize_value(&back).ok(),
        Some(canonical),
        "not a fixed point"
    );
    assert_eq!(to_value(&value).expect("to_value"), value);
}

fn debug<T: Debug>(t: &T) -> String {
    format!("{t:?}")
}

fn check_typed<T>(t: &T)
where
    T: Serialize + DeserializeOwned + Debug,
{
    let value = to_value(t).unwrap_or_else(|e| panic!("to_value of {t:?}: {e}"));
    let back: T = from_value(value.clone())
        .unwrap_or_else(|e| panic!("from_value of {value:?} (from {t:?}): {e}"));
    assert_eq!(debug(&back), debug(t), "through {value:?}");
    match serialize(t) {
        Ok(text) => {
            let expected = from_value::<T>(over_the_wire(&value));
            let read = deserialize::<T>(&text);
            match (&expected, &read) {
                (Ok(a), Ok(b)) => assert_eq!(debug(a), debug(b), "read from {text}"),
                (Err(_), Err(_)) => {}
                _ => panic!("{text}: read as {read:?}, expected {expected:?}"),
            }
        }
        Err(Error::LimitExceeded(_)) => {}
        Err(Error::Encode(e)) => assert!(!encodable(&value), "{value:?} is data, but: {e}"),
        Err(other) => panic!("serialize of {t:?} failed: {other:?}"),
    }
}

fn check_ints(ints: &Ints) {
    let safe = ints.signed.unsigned_abs() <= MAX_SAFE_INTEGER && ints.unsigned <= MAX_SAFE_INTEGER;
    match to_value(ints) {
        Ok(_) => assert!(safe, "to_value accepted {ints:?}"),
        Err(e) => assert!(!safe, "to_value refused {ints:?}: {e}"),
    }
    if safe {
        check_typed(ints);
    }
}

// ---------------------------------------------------------------------------------------------
// Typed shapes.

#[derive(Debug, Serialize, Deserialize, Arbitrary)]
struct Ints {
    signed: i64,
    unsigned: u64,
}

#[derive(Debug, Serialize, Deserialize, Arbitrary)]
struct Unit;

#[derive(Debug, Serialize, Deserialize, Arbitrary)]
struct Newtype(u16);

#[derive(Debug, Serialize, Deserialize, Arbitrary)]
enum Kind {
    Unit,
    Newtype(i32),
    Tuple(u8, String),
    Struct { a: bool, b: Option<f32> },
}

#[derive(Debug, Serialize, Deserialize, Arbitrary)]
#[serde(tag = "type")]
enum Tagged {
    A { x: i32, y: String },
    B(Inner),
    C,
}

#[derive(Debug, Serialize, Deserialize, Arbitrary)]
#[serde(tag = "t", content = "c")]
enum Adjacent {
    Num(f64),
    Pair(u8, char),
    Nothing,
}

#[derive(Debug, Serialize, Deserialize, Arbitrary)]
#[serde(untagged)]
enum Untagged {
    Num(f64),
    Text(String),
    List(Vec<bool>),
    Fields { a: u8, b: String },
    When(DateField),
    Any(UntaggedAny),
}

/// The catch-all of [`Untagged`]: a buffered `Value` that no earlier variant would take, as
/// serde tries the variants in order and the first that fits wins (a number in `Any` comes back
/// as `Num`, by design, in serde_json too). A value that would fit one is wrapped in an array
/// that starts with `null`, which none of them takes.
#[derive(Debug, Serialize, Deserialize)]
#[serde(transparent)]
struct UntaggedAny(Value);

impl<'a> Arbitrary<'a> for UntaggedAny {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let v = value(u, 3, false)?;
        let is_fields = |v: &Value| match v {
            // `Fields { a, b }` takes any object holding both keys (others are ignored), and a
            // sequence of two.
            Value::Object(map) => map.contains_key("a") && map.contains_key("b"),
            Value::Array(items) => items.len() == 2,
            _ => false,
        };
        let taken = match &v {
            // Bytes without a kind are buffered as bytes, which `String` takes when UTF-8.
            Value::Number(_) | Value::String(_) | Value::Date(_) | Value::Bytes(_) => true,
            Value::Array(items) => items.iter().all(|i| matches!(i, Value::Bool(_))),
            _ => false,
        };
        Ok(UntaggedAny(if taken || is_fields(&v) {
            Value::Array(vec![Value::Null, v])
        } else {
            v
        }))
    }
}

#[derive(Debug, Serialize, Deserialize, Arbitrary)]
struct Inner {
    label: String,
    n: i16,
}

#[derive(Debug, Serialize, Deserialize, Arbitrary)]
struct Flat {
    #[serde(rename = "x-v")]
    v: BufferedValueField,
    #[serde(rename = "x-n")]
    n: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, Arbitrary)]
struct Record {
    id: u32,
    small: i8,
    name: String,
    ch: char,
    score: f64,
    ratio: f32,
    flag: bool,
    tags: Vec<String>,
    note: Option<String>,
    kind: Kind,
    kinds: Vec<Kind>,
    map: BTreeMap<String, i16>,
    by_number: BTreeMap<u16, bool>,
    pair: (i16, String),
    unit: (),
    unit_struct: Unit,
    newtype: Newtype,
    big: i128,
    ubig: u128,
    tagged: Tagged,
    adjacent: Adjacent,
    untagged: Vec<Untagged>,
    value: ValueField,
    values: Vec<ValueField>,
    date: DateField,
    bytes: BytesField,
    bigint: BigIntField,
    nested: Option<Box<Record>>,
    #[serde(flatten)]
    flat: Flat,
}

/// A `Value` field (through the serde bridge's special path).
#[derive(Debug, Serialize, Deserialize)]
#[serde(transparent)]
struct ValueField(Value);

impl<'a> Arbitrary<'a> for ValueField {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        value(u, 3, true).map(ValueField)
    }
}

/// A `Value` field where serde buffers it (`#[serde(flatten)]`, untagged enums): there
/// `undefined` is unit, and reads back as `null` (as documented in capnweb's
/// `value::special`), so it holds none.
#[derive(Debug, Serialize, Deserialize)]
#[serde(transparent)]
struct BufferedValueField(Value);

impl<'a> Arbitrary<'a> for BufferedValueField {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        value(u, 3, false).map(BufferedValueField)
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(transparent)]
struct DateField(Date);

impl<'a> Arbitrary<'a> for DateField {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        number(u).map(|ms| DateField(Date::from_millis(ms)))
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(transparent)]
struct BytesField(Bytes);

impl<'a> Arbitrary<'a> for BytesField {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        bytes(u).map(BytesField)
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(transparent)]
struct BigIntField(BigInt);

impl<'a> Arbitrary<'a> for BigIntField {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        bigint(u).map(BigIntField)
    }
}
