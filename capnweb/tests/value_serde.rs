//! The serde bridge: `to_value` / `from_value` and special values inside ordinary Rust types.

use std::collections::{BTreeMap, HashMap};

use capnweb::value::Object;
use capnweb::{from_value, to_value, BigInt, Bytes, Date, Error, RpcError, Value};
use serde::{Deserialize, Serialize};

fn num(n: f64) -> Value {
    Value::Number(n)
}

fn s(text: &str) -> Value {
    Value::String(text.into())
}

fn obj<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect::<Object>(),
    )
}

fn round_trip<T>(value: &T) -> T
where
    T: Serialize + serde::de::DeserializeOwned,
{
    let v = to_value(value).expect("to_value");
    from_value(v).expect("from_value")
}

fn encode_err<T: Serialize + ?Sized>(value: &T) -> String {
    match to_value(value) {
        Err(e @ Error::Encode(_)) => e.to_string(),
        other => panic!("expected an encode error, got {other:?}"),
    }
}

fn decode_err<T: serde::de::DeserializeOwned + std::fmt::Debug>(value: Value) -> String {
    match from_value::<T>(value) {
        Err(e @ Error::Decode { .. }) => e.to_string(),
        other => panic!("expected a decode error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Exact values produced.

#[test]
fn scalars_map_as_documented() {
    assert_eq!(to_value(&true).unwrap(), Value::Bool(true));
    assert_eq!(to_value(&7u8).unwrap(), num(7.0));
    assert_eq!(to_value(&-7i32).unwrap(), num(-7.0));
    assert_eq!(to_value(&1.5f32).unwrap(), num(1.5));
    assert_eq!(to_value(&f64::NAN).unwrap(), num(f64::NAN));
    assert_eq!(to_value(&'x').unwrap(), s("x"));
    assert_eq!(to_value("hi").unwrap(), s("hi"));
    assert_eq!(to_value(&String::from("hi")).unwrap(), s("hi"));
    assert_eq!(to_value(&None::<u32>).unwrap(), Value::Null);
    assert_eq!(to_value(&Some(3u32)).unwrap(), num(3.0));
    assert_eq!(to_value(&()).unwrap(), Value::Undefined);
    assert_eq!(
        to_value(&vec![1, 2]).unwrap(),
        Value::Array(vec![num(1.0), num(2.0)])
    );
    assert_eq!(
        to_value(&[1u8, 2, 3]).unwrap(),
        Value::Array(vec![num(1.0), num(2.0), num(3.0)])
    );
    assert_eq!(
        to_value(&(1, "a", false)).unwrap(),
        Value::Array(vec![num(1.0), s("a"), Value::Bool(false)])
    );
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Unit;

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Meters(f64);

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Pair(i32, String);

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
enum Shape {
    Empty,
    Circle(f64),
    Rect(f64, f64),
    Poly { sides: u32, closed: bool },
}

#[test]
fn structs_and_enums_map_as_documented() {
    assert_eq!(to_value(&Unit).unwrap(), Value::Null);
    assert_eq!(to_value(&Meters(2.5)).unwrap(), num(2.5));
    assert_eq!(
        to_value(&Pair(1, "x".into())).unwrap(),
        Value::Array(vec![num(1.0), s("x")])
    );
    assert_eq!(to_value(&Shape::Empty).unwrap(), s("Empty"));
    assert_eq!(
        to_value(&Shape::Circle(1.0)).unwrap(),
        obj([("Circle", num(1.0))])
    );
    assert_eq!(
        to_value(&Shape::Rect(1.0, 2.0)).unwrap(),
        obj([("Rect", Value::Array(vec![num(1.0), num(2.0)]))])
    );
    assert_eq!(
        to_value(&Shape::Poly {
            sides: 3,
            closed: true
        })
        .unwrap(),
        obj([(
            "Poly",
            obj([("sides", num(3.0)), ("closed", Value::Bool(true))])
        )])
    );
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Ordered {
    zeta: u8,
    alpha: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    maybe: Option<u8>,
    #[serde(rename = "renamed")]
    original: bool,
}

#[test]
fn struct_fields_keep_their_order_and_attributes_apply() {
    let v = to_value(&Ordered {
        zeta: 1,
        alpha: 2,
        maybe: None,
        original: true,
    })
    .unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["zeta", "alpha", "renamed"]);
    let back: Ordered = from_value(v).unwrap();
    assert_eq!(
        back,
        Ordered {
            zeta: 1,
            alpha: 2,
            maybe: None,
            original: true
        }
    );
}

#[test]
fn maps_become_objects_with_string_keys() {
    let mut ints = BTreeMap::new();
    ints.insert(10u32, "ten");
    ints.insert(2u32, "two");
    assert_eq!(
        to_value(&ints).unwrap(),
        obj([("2", s("two")), ("10", s("ten"))])
    );
    let back: BTreeMap<u32, String> = from_value(to_value(&ints).unwrap()).unwrap();
    assert_eq!(back.get(&10).map(String::as_str), Some("ten"));

    let mut signed = BTreeMap::new();
    signed.insert(-5i64, 1u8);
    signed.insert(i64::MAX, 2u8); // keys are text, so no 2^53 limit
    let back: BTreeMap<i64, u8> = round_trip(&signed);
    assert_eq!(back, signed);

    let mut chars = BTreeMap::new();
    chars.insert('a', 1);
    assert_eq!(to_value(&chars).unwrap(), obj([("a", num(1.0))]));
    assert_eq!(round_trip(&chars), chars);

    let mut bools = BTreeMap::new();
    bools.insert(true, 1);
    assert_eq!(round_trip(&bools), bools);

    #[derive(Serialize, Deserialize, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
    enum Color {
        Red,
        Green,
    }
    let mut colors = BTreeMap::new();
    colors.insert(Color::Green, 2);
    colors.insert(Color::Red, 1);
    assert_eq!(
        to_value(&colors).unwrap(),
        obj([("Red", num(1.0)), ("Green", num(2.0))])
    );
    assert_eq!(round_trip(&colors), colors);
}

#[test]
fn non_string_map_keys_are_refused_naming_the_key_type() {
    let mut m = HashMap::new();
    m.insert((1, 2), "tuple key");
    let err = encode_err(&m);
    assert!(
        err.contains("map key must be a string") && err.contains("tuple"),
        "{err}"
    );

    let mut m = BTreeMap::new();
    m.insert(vec![1], 0);
    let err = encode_err(&m);
    assert!(err.contains("sequence"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Round trips.

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Address {
    street: String,
    zip: Option<u32>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct User {
    id: u64,
    name: String,
    email: Option<String>,
    tags: Vec<String>,
    address: Address,
    shapes: Vec<Shape>,
    scores: HashMap<String, f64>,
    ranks: BTreeMap<u16, char>,
    pair: (u8, i16, String),
    unit: (),
    marker: Unit,
    meters: Meters,
    tuple_struct: Pair,
    nested: Vec<Vec<Option<i8>>>,
}

fn sample_user() -> User {
    User {
        id: (1 << 53) - 1,
        name: "Ada".into(),
        email: None,
        tags: vec!["admin".into(), "ops".into()],
        address: Address {
            street: "1 Main".into(),
            zip: Some(12345),
        },
        shapes: vec![
            Shape::Empty,
            Shape::Circle(2.0),
            Shape::Rect(1.0, 3.0),
            Shape::Poly {
                sides: 5,
                closed: false,
            },
        ],
        scores: [("math".to_owned(), 9.5), ("art".to_owned(), -1.25)]
            .into_iter()
            .collect(),
        ranks: [(1, 'a'), (300, 'ß')].into_iter().collect(),
        pair: (255, -32768, "p".into()),
        unit: (),
        marker: Unit,
        meters: Meters(0.5),
        tuple_struct: Pair(-1, "q".into()),
        nested: vec![vec![Some(1), None], vec![]],
    }
}

#[test]
fn nested_struct_round_trips() {
    let user = sample_user();
    let v = to_value(&user).unwrap();
    let o = v.as_object().unwrap();
    assert_eq!(o["unit"], Value::Undefined);
    assert_eq!(o["marker"], Value::Null);
    assert_eq!(o["email"], Value::Null);
    assert_eq!(o["id"], num(9_007_199_254_740_991.0));
    assert_eq!(from_value::<User>(v).unwrap(), user);
}

#[test]
fn every_enum_shape_round_trips() {
    for shape in [
        Shape::Empty,
        Shape::Circle(2.0),
        Shape::Rect(1.0, 3.0),
        Shape::Poly {
            sides: 5,
            closed: false,
        },
    ] {
        assert_eq!(round_trip(&shape), shape);
    }
    // A unit variant may also arrive as `{"Empty": null}`.
    assert_eq!(
        from_value::<Shape>(obj([("Empty", Value::Null)])).unwrap(),
        Shape::Empty
    );
}

#[test]
fn tagged_enum_representations_round_trip() {
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[serde(tag = "type")]
    enum Internal {
        A { x: i32 },
        B,
    }
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[serde(tag = "t", content = "c")]
    enum Adjacent {
        A(String),
        B { y: bool },
    }
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[serde(untagged)]
    enum Untagged {
        Num(u32),
        Text(String),
        Both { n: u32, t: String },
    }
    assert_eq!(
        to_value(&Internal::A { x: 1 }).unwrap(),
        obj([("type", s("A")), ("x", num(1.0))])
    );
    assert_eq!(round_trip(&Internal::A { x: 1 }), Internal::A { x: 1 });
    assert_eq!(round_trip(&Internal::B), Internal::B);
    assert_eq!(
        round_trip(&Adjacent::A("z".into())),
        Adjacent::A("z".into())
    );
    assert_eq!(
        round_trip(&Adjacent::B { y: true }),
        Adjacent::B { y: true }
    );
    assert_eq!(round_trip(&Untagged::Num(4)), Untagged::Num(4));
    assert_eq!(
        round_trip(&Untagged::Text("t".into())),
        Untagged::Text("t".into())
    );
    let both = Untagged::Both {
        n: 1,
        t: "u".into(),
    };
    assert_eq!(round_trip(&both), both);
}

#[test]
fn unit_and_options_read_from_null_and_undefined() {
    from_value::<()>(Value::Undefined).unwrap();
    from_value::<()>(Value::Null).unwrap();
    from_value::<Unit>(Value::Null).unwrap();
    assert_eq!(from_value::<Option<u8>>(Value::Null).unwrap(), None);
    assert_eq!(from_value::<Option<u8>>(Value::Undefined).unwrap(), None);
    assert_eq!(from_value::<Option<u8>>(num(4.0)).unwrap(), Some(4));
    assert_eq!(from_value::<Option<Option<u8>>>(Value::Null).unwrap(), None);
    // Missing optional fields are fine; `undefined` ones too.
    let addr: Address = from_value(obj([("street", s("x")), ("zip", Value::Undefined)])).unwrap();
    assert_eq!(
        addr,
        Address {
            street: "x".into(),
            zip: None
        }
    );
    let addr: Address = from_value(obj([("street", s("x"))])).unwrap();
    assert_eq!(addr.zip, None);
}

#[test]
fn flattened_and_defaulted_fields_work() {
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Outer {
        id: u32,
        #[serde(flatten)]
        inner: Address,
        #[serde(flatten)]
        extra: BTreeMap<String, Value>,
        #[serde(default)]
        count: u32,
    }
    let v = obj([
        ("id", num(1.0)),
        ("street", s("s")),
        ("zip", num(9.0)),
        ("when", Value::Date(Date::from_millis(5.0))),
        ("big", Value::BigInt(BigInt::from(1u128 << 80))),
        ("gone", Value::Undefined),
    ]);
    let outer: Outer = from_value(v).unwrap();
    assert_eq!(outer.id, 1);
    assert_eq!(
        outer.inner,
        Address {
            street: "s".into(),
            zip: Some(9)
        }
    );
    assert_eq!(outer.count, 0);
    // Special values survive serde's buffering for `flatten`.
    assert_eq!(outer.extra["when"], Value::Date(Date::from_millis(5.0)));
    assert_eq!(outer.extra["big"], Value::BigInt(BigInt::from(1u128 << 80)));
    assert!(outer.extra["gone"].is_nullish());
    let again = to_value(&outer).unwrap();
    let o = again.as_object().unwrap();
    assert_eq!(o["when"], Value::Date(Date::from_millis(5.0)));
    assert_eq!(o["street"], s("s"));
}

#[test]
fn a_flattened_value_collects_the_remaining_entries() {
    #[derive(Serialize, Deserialize, Debug)]
    struct Envelope {
        kind: String,
        #[serde(flatten)]
        rest: Value,
    }
    let v = obj([
        ("kind", s("k")),
        ("at", Value::Date(Date::from_millis(1.0))),
        ("n", num(2.0)),
    ]);
    let env: Envelope = from_value(v.clone()).unwrap();
    assert_eq!(env.kind, "k");
    assert_eq!(
        env.rest,
        obj([("at", Value::Date(Date::from_millis(1.0))), ("n", num(2.0))])
    );
    assert_eq!(to_value(&env).unwrap(), v);
}

#[test]
fn special_values_survive_internally_tagged_enums() {
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[serde(tag = "op")]
    enum Op {
        Stamp { at: Date, extra: Value },
    }
    let op = Op::Stamp {
        at: Date::from_millis(9.0),
        extra: Value::Url("u:".into()),
    };
    let v = to_value(&op).unwrap();
    assert_eq!(
        v,
        obj([
            ("op", s("Stamp")),
            ("at", Value::Date(Date::from_millis(9.0))),
            ("extra", Value::Url("u:".into()))
        ])
    );
    assert_eq!(from_value::<Op>(v).unwrap(), op);
}

#[test]
fn special_values_survive_untagged_enums() {
    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(untagged)]
    enum When {
        At(Date),
        Never(String),
    }
    assert_eq!(
        from_value::<When>(Value::Date(Date::from_millis(3.0))).unwrap(),
        When::At(Date::from_millis(3.0))
    );
    assert_eq!(
        from_value::<When>(s("never")).unwrap(),
        When::Never("never".into())
    );
}

// ---------------------------------------------------------------------------------------------
// Integers and JavaScript numbers.

#[test]
fn integers_up_to_2_pow_53_minus_1_are_numbers() {
    const MAX: i64 = (1 << 53) - 1;
    assert_eq!(to_value(&MAX).unwrap(), num(MAX as f64));
    assert_eq!(to_value(&-MAX).unwrap(), num(-MAX as f64));
    assert_eq!(to_value(&(MAX as u64)).unwrap(), num(MAX as f64));
    assert_eq!(from_value::<i64>(num(MAX as f64)).unwrap(), MAX);
    assert_eq!(from_value::<i64>(num(-MAX as f64)).unwrap(), -MAX);
    assert_eq!(from_value::<u64>(num(MAX as f64)).unwrap(), MAX as u64);
}

#[test]
fn integers_beyond_2_pow_53_are_refused_pointing_at_bigint() {
    for err in [
        encode_err(&(1u64 << 53)),
        encode_err(&(1i64 << 53)),
        encode_err(&-(1i64 << 53)),
        encode_err(&u64::MAX),
        encode_err(&i64::MIN),
        encode_err(&usize::MAX),
    ] {
        assert!(
            err.contains("cannot be represented exactly as a JavaScript number"),
            "{err}"
        );
        assert!(err.contains("i128/u128") && err.contains("BigInt"), "{err}");
    }
    assert!(encode_err(&(1u64 << 53)).contains("9007199254740992"));

    #[derive(Serialize)]
    struct Row {
        id: u64,
    }
    let err = encode_err(&vec![Row { id: 1 }, Row { id: u64::MAX }]);
    assert!(err.contains("(at [1].id)"), "{err}");
}

#[test]
fn i128_and_u128_are_always_bigints() {
    assert_eq!(to_value(&5i128).unwrap(), Value::BigInt(BigInt::from(5)));
    assert_eq!(
        to_value(&u128::MAX).unwrap(),
        Value::BigInt(BigInt::from(u128::MAX))
    );
    assert_eq!(
        to_value(&i128::MIN).unwrap(),
        Value::BigInt(BigInt::from(i128::MIN))
    );
    assert_eq!(round_trip(&i128::MIN), i128::MIN);
    assert_eq!(round_trip(&u128::MAX), u128::MAX);
    // Numbers are accepted too.
    assert_eq!(from_value::<i128>(num(-12.0)).unwrap(), -12);
}

#[test]
fn bigints_read_into_integers_that_fit() {
    let big = |n: i128| Value::BigInt(BigInt::from(n));
    assert_eq!(from_value::<i64>(big(i64::MIN as i128)).unwrap(), i64::MIN);
    assert_eq!(from_value::<u64>(big(u64::MAX as i128)).unwrap(), u64::MAX);
    assert_eq!(from_value::<u8>(big(200)).unwrap(), 200);
    let err = decode_err::<u64>(big(-1));
    assert!(
        err.contains(
            "bigint -1 is out of range: expected an integer from 0 to 18446744073709551615"
        ),
        "{err}"
    );
    let err = decode_err::<i64>(Value::BigInt(BigInt::from(u128::MAX)));
    assert!(
        err.contains("out of range: expected an integer from -9223372036854775808"),
        "{err}"
    );
}

#[test]
fn numbers_read_into_integers_only_when_integral_and_in_range() {
    let err = decode_err::<i32>(num(1.5));
    assert!(
        err.contains("expected an integer from -2147483648 to 2147483647, found number 1.5"),
        "{err}"
    );
    let err = decode_err::<i32>(num(3e9));
    assert!(
        err.contains("number 3000000000 is out of range: expected an integer from"),
        "{err}"
    );
    assert_eq!(from_value::<u32>(num(3e9)).unwrap(), 3_000_000_000);
    assert!(decode_err::<u8>(num(-1.0)).contains("out of range: expected an integer from 0 to 255"));
    assert!(
        decode_err::<u8>(num(256.0)).contains("out of range: expected an integer from 0 to 255")
    );
    assert_eq!(from_value::<u8>(num(255.0)).unwrap(), 255);
    assert_eq!(from_value::<i8>(num(-128.0)).unwrap(), -128);
    assert!(
        decode_err::<i8>(num(128.0)).contains("out of range: expected an integer from -128 to 127")
    );
    assert!(decode_err::<i64>(num(f64::NAN)).contains("found number NaN"));
    assert!(decode_err::<u64>(num(f64::INFINITY)).contains("found number Infinity"));
    assert!(decode_err::<i64>(num(9.3e18))
        .contains("out of range: expected an integer from -9223372036854775808"));
    assert_eq!(from_value::<f32>(num(0.5)).unwrap(), 0.5);
    assert!(from_value::<f64>(num(f64::NAN)).unwrap().is_nan());
}

// ---------------------------------------------------------------------------------------------
// Special values inside ordinary Rust types.

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Event {
    when: Date,
    big: BigInt,
    blob: Bytes,
    any: Value,
    maybe_when: Option<Date>,
    error: RpcError,
}

#[test]
fn special_values_round_trip_inside_structs() {
    let event = Event {
        when: Date::from_millis(1_749_342_170_815.0),
        big: BigInt::from(-(1i128 << 100)),
        blob: Bytes::from(vec![0, 1, 255]),
        any: Value::Undefined,
        maybe_when: Some(Date::invalid()),
        error: RpcError::type_error("bad").with_prop("code", 7),
    };
    let v = to_value(&event).unwrap();
    let o = v.as_object().unwrap();
    assert_eq!(
        o["when"],
        Value::Date(Date::from_millis(1_749_342_170_815.0))
    );
    assert_eq!(o["big"], Value::BigInt(BigInt::from(-(1i128 << 100))));
    assert_eq!(o["blob"], Value::Bytes(Bytes::from(vec![0, 1, 255])));
    assert_eq!(o["any"], Value::Undefined);
    assert!(matches!(o["maybe_when"], Value::Date(d) if !d.is_valid()));
    assert!(matches!(&o["error"], Value::Error(e) if e.name == "TypeError"));
    let back: Event = from_value(v).unwrap();
    assert_eq!(back.when, event.when);
    assert_eq!(back.big, event.big);
    assert_eq!(back.blob, event.blob);
    assert_eq!(back.any, Value::Undefined);
    assert!(back.maybe_when.is_some_and(|d| !d.is_valid()));
    assert_eq!(back.error, event.error);
}

#[test]
fn value_fields_carry_every_kind_unchanged() {
    #[derive(Serialize, Deserialize, Debug)]
    struct Holder {
        items: Vec<Value>,
        map: HashMap<String, Value>,
    }
    let items = vec![
        Value::Undefined,
        Value::Null,
        Value::from(RpcError::range_error("r")),
        Value::Url("https://example.com/x".into()),
        Value::Headers(vec![("a".into(), "b".into())]),
        Value::Bytes(Bytes::with_kind(
            vec![1, 2],
            Some(capnweb::wire::BytesKind::ArrayBuffer),
        )),
        Value::Date(Date::from_millis(0.0)),
        obj([("k", Value::BigInt(BigInt::from(3)))]),
    ];
    let holder = Holder {
        items: items.clone(),
        map: [("u".to_owned(), Value::Url("u:".into()))].into(),
    };
    let v = to_value(&holder).unwrap();
    assert_eq!(v.as_object().unwrap()["items"], Value::Array(items.clone()));
    let back: Holder = from_value(v).unwrap();
    assert_eq!(back.items, items);
    assert_eq!(back.map["u"], Value::Url("u:".into()));
}

#[test]
fn value_converts_to_and_from_itself() {
    let v = obj([(
        "a",
        Value::Array(vec![Value::Undefined, Value::Date(Date::from_millis(1.0))]),
    )]);
    assert_eq!(to_value(&v).unwrap(), v);
    assert_eq!(from_value::<Value>(v.clone()).unwrap(), v);
    assert_eq!(
        from_value::<Value>(Value::Undefined).unwrap(),
        Value::Undefined
    );
    assert_eq!(from_value::<Option<Value>>(Value::Undefined).unwrap(), None);
    assert_eq!(
        from_value::<Vec<Value>>(Value::Array(vec![Value::Undefined])).unwrap(),
        [Value::Undefined]
    );
}

#[test]
fn a_url_reads_as_a_string() {
    #[derive(Deserialize)]
    struct Link {
        href: String,
    }
    let link: Link = from_value(obj([("href", Value::Url("https://a.b/".into()))])).unwrap();
    assert_eq!(link.href, "https://a.b/");
    assert_eq!(from_value::<String>(Value::Url("u:".into())).unwrap(), "u:");
}

#[test]
fn bigint_fields_accept_integral_numbers() {
    assert_eq!(from_value::<BigInt>(num(42.0)).unwrap(), BigInt::from(42));
    assert_eq!(
        from_value::<BigInt>(num(-1e20)).unwrap().as_str(),
        "-100000000000000000000"
    );
    assert_eq!(from_value::<BigInt>(num(-0.0)).unwrap().as_str(), "0");
    let err = decode_err::<BigInt>(num(0.5));
    assert!(
        err.contains("expected a bigint") && err.contains("number 0.5"),
        "{err}"
    );
}

#[test]
fn bytes_fields_accept_bytes_and_byte_arrays() {
    let b: Bytes = from_value(Value::Bytes(Bytes::from(vec![9]))).unwrap();
    assert_eq!(b.as_slice(), [9]);
    let b: Bytes = from_value(Value::Array(vec![num(1.0), num(2.0)])).unwrap();
    assert_eq!(b.as_slice(), [1, 2]);
    assert!(decode_err::<Bytes>(Value::Array(vec![num(256.0)])).contains("byte"));
    // A plain `Vec<u8>` reads from bytes as well as from an array of numbers.
    assert_eq!(
        from_value::<Vec<u8>>(Value::Bytes(Bytes::from(vec![4, 5]))).unwrap(),
        [4, 5]
    );
    // The typed-array kind survives a round trip.
    let typed = Bytes::with_kind(vec![0; 4], Some(capnweb::wire::BytesKind::Float32Array));
    assert_eq!(
        round_trip(&typed).kind(),
        Some(capnweb::wire::BytesKind::Float32Array)
    );
}

/// What `#[serde(with = "serde_bytes")]` does, without the dependency.
#[derive(Debug, PartialEq)]
struct ByteBuf(Vec<u8>);

impl Serialize for ByteBuf {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for ByteBuf {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ByteBuf, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ByteBuf;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a byte buffer")
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<ByteBuf, E> {
                Ok(ByteBuf(v))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

#[test]
fn serde_bytes_style_buffers_are_bytes() {
    assert_eq!(
        to_value(&ByteBuf(vec![1, 2])).unwrap(),
        Value::Bytes(Bytes::from(vec![1, 2]))
    );
    assert_eq!(round_trip(&ByteBuf(vec![7])), ByteBuf(vec![7]));
    let err = decode_err::<ByteBuf>(Value::Bool(true));
    assert!(
        err.contains("expected a byte buffer, found boolean true"),
        "{err}"
    );
}

#[test]
fn special_fields_refuse_other_kinds() {
    let err = decode_err::<Date>(num(5.0));
    assert!(err.contains("expected a date, found number 5"), "{err}");
    let err = decode_err::<Event>(obj([("when", s("yesterday"))]));
    assert!(
        err.contains("expected a date, found string \"yesterday\"") && err.contains("(at .when)"),
        "{err}"
    );
    let err = decode_err::<RpcError>(s("x"));
    assert!(err.contains("expected an error"), "{err}");
}

#[test]
fn foreign_serializers_refuse_special_values() {
    #[derive(Serialize)]
    struct Stamped {
        at: Date,
    }
    let err = serde_json::to_string(&Stamped { at: Date::now() })
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("can only be converted with capnweb::to_value"),
        "{err}"
    );
    let err = serde_json::to_string(&BigInt::from(1))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("only be converted with capnweb::to_value"),
        "{err}"
    );
    let err = serde_json::to_string(&Value::from(RpcError::error("e")))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("only be converted with capnweb::to_value"),
        "{err}"
    );
}

#[test]
fn serde_json_handles_plain_values() {
    let v = obj([
        (
            "a",
            Value::Array(vec![num(1.0), num(2.5), Value::Null, Value::Bool(true)]),
        ),
        ("u", Value::Undefined),
        ("url", Value::Url("https://x/".into())),
    ]);
    assert_eq!(
        serde_json::to_string(&v).unwrap(),
        r#"{"a":[1.0,2.5,null,true],"u":null,"url":"https://x/"}"#
    );
    let parsed: Value = serde_json::from_str(r#"{"a":[1,2.5,null,true],"s":"x"}"#).unwrap();
    assert_eq!(
        parsed,
        obj([
            (
                "a",
                Value::Array(vec![num(1.0), num(2.5), Value::Null, Value::Bool(true)])
            ),
            ("s", s("x"))
        ])
    );
    // Plain bytes are bytes in the data model.
    assert_eq!(
        serde_json::to_string(&Bytes::from(vec![1, 2])).unwrap(),
        "[1,2]"
    );
    assert_eq!(
        serde_json::from_str::<Bytes>("[1,2]").unwrap().as_slice(),
        [1, 2]
    );
    assert_eq!(
        serde_json::from_str::<BigInt>("\"-12\"").unwrap(),
        BigInt::from(-12)
    );
}

#[test]
fn a_json_value_reads_plain_values() {
    let v = obj([
        ("n", num(3.0)),
        ("f", num(0.5)),
        ("l", Value::Array(vec![s("x")])),
    ]);
    let json: serde_json::Value = from_value(v).unwrap();
    assert_eq!(json, serde_json::json!({"n": 3, "f": 0.5, "l": ["x"]}));
    let v = to_value(&serde_json::json!({"n": 3, "nested": {"b": [true, "x"]}})).unwrap();
    assert_eq!(
        v,
        obj([
            ("n", num(3.0)),
            (
                "nested",
                obj([("b", Value::Array(vec![Value::Bool(true), s("x")]))])
            )
        ])
    );
    // `serde_json::Value::Null` serializes as serde's unit, which is `()`, hence `undefined`:
    // the data model cannot tell the two apart.
    assert_eq!(
        to_value(&serde_json::Value::Null).unwrap(),
        Value::Undefined
    );
}

#[test]
fn a_serialize_with_helper_using_serde_json_inside_to_value_works() {
    fn as_json<S: serde::Serializer>(v: &Value, s: S) -> Result<S::Ok, S::Error> {
        let text = serde_json::to_string(v).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }
    #[derive(Serialize)]
    struct Wrapped {
        #[serde(serialize_with = "as_json")]
        payload: Value,
    }
    let v = to_value(&Wrapped {
        payload: obj([("k", num(1.0))]),
    })
    .unwrap();
    assert_eq!(v, obj([("payload", s(r#"{"k":1.0}"#))]));
    let err = encode_err(&Wrapped {
        payload: Value::Date(Date::from_millis(0.0)),
    });
    assert!(
        err.contains("only be converted with capnweb::to_value") && err.contains("(at .payload)"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// Decode errors: what was expected, what was found, and where.

#[derive(Deserialize, Debug)]
#[allow(dead_code)]
struct Team {
    users: Vec<Member>,
}

#[derive(Deserialize, Debug)]
#[allow(dead_code)]
struct Member {
    name: String,
    age: u8,
}

#[test]
fn decode_errors_name_types_and_path() {
    let member = |name: Value| obj([("name", name), ("age", num(30.0))]);
    let v = obj([(
        "users",
        Value::Array(vec![member(s("a")), member(s("b")), member(num(5.0))]),
    )]);
    let err = from_value::<Team>(v).unwrap_err();
    let Error::Decode { expected, message } = &err else {
        panic!("{err:?}")
    };
    assert!(expected.ends_with("Team"), "{expected}");
    assert_eq!(
        message,
        "invalid type: expected a string, found number 5 (at .users[2].name)"
    );

    let v = obj([(
        "users",
        Value::Array(vec![obj([("name", s("a")), ("age", num(-3.0))])]),
    )]);
    let err = decode_err::<Team>(v);
    assert!(
        err.contains(
            "number -3 is out of range: expected an integer from 0 to 255 (at .users[0].age)"
        ),
        "{err}"
    );

    let v = obj([("users", Value::Array(vec![obj([("name", s("a"))])]))]);
    let err = decode_err::<Team>(v);
    assert!(
        err.contains("missing property \"age\" (at .users[0])"),
        "{err}"
    );

    let err = decode_err::<Team>(obj([("users", s("nobody"))]));
    assert!(
        err.contains("expected an array, found string \"nobody\" (at .users)"),
        "{err}"
    );

    let err = decode_err::<Member>(Value::Date(Date::from_millis(0.0)));
    assert!(err.contains("found date"), "{err}");

    let err = decode_err::<Vec<u32>>(Value::Array(vec![num(1.0), Value::Undefined]));
    assert!(err.contains("found undefined (at [1])"), "{err}");
}

#[test]
fn decode_errors_inside_maps_and_enums_have_paths() {
    let err = decode_err::<BTreeMap<String, u8>>(obj([("ok", num(1.0)), ("bad", s("x"))]));
    assert!(err.contains("found string \"x\" (at .<key #1>)"), "{err}");
    let err = decode_err::<BTreeMap<u32, u8>>(obj([("one", num(1.0))]));
    assert!(
        err.contains("invalid key: expected an integer from 0 to 4294967295, found \"one\"")
            && err.contains("(at .one)"),
        "{err}"
    );

    let err = decode_err::<Shape>(obj([(
        "Poly",
        obj([("sides", num(-1.0)), ("closed", Value::Bool(true))]),
    )]));
    assert!(err.contains("(at .Poly.sides)"), "{err}");
    let err = decode_err::<Shape>(s("Circle"));
    assert!(err.contains("expected a newtype variant"), "{err}");
    let err = decode_err::<Shape>(s("Hexagon"));
    assert!(err.contains("unknown variant \"Hexagon\""), "{err}");
    let err = decode_err::<Shape>(obj([("Circle", num(1.0)), ("Rect", num(1.0))]));
    assert!(
        err.contains("exactly one key") && err.contains("2 keys"),
        "{err}"
    );
}

#[test]
fn tuples_are_length_checked() {
    assert_eq!(
        from_value::<(u8, String)>(Value::Array(vec![num(1.0), s("a")])).unwrap(),
        (1, "a".into())
    );
    let err = decode_err::<(u8, u8)>(Value::Array(vec![num(1.0)]));
    assert!(err.contains("found an array of 1 elements"), "{err}");
    let err = decode_err::<(u8, u8)>(Value::Array(vec![num(1.0), num(2.0), num(3.0)]));
    assert!(err.contains("found an array of 3 elements"), "{err}");
    let err = decode_err::<Pair>(Value::Array(vec![num(1.0)]));
    assert!(err.contains("array of 1 elements"), "{err}");
    let err = decode_err::<[u8; 2]>(Value::Array(vec![]));
    assert!(err.contains("array of 0 elements"), "{err}");
}

#[test]
fn strings_and_chars() {
    assert_eq!(from_value::<char>(s("é")).unwrap(), 'é');
    assert!(decode_err::<char>(s("ab")).contains("expected a string of one character"));
    assert!(decode_err::<String>(num(1.0)).contains("expected a string, found number 1"));
}

#[test]
fn nested_from_value_and_to_value_calls_work() {
    // A Deserialize impl that itself calls from_value (special values in the outer call stay
    // available while the inner one runs).
    #[derive(Debug, PartialEq)]
    struct Via(u32);
    impl<'de> Deserialize<'de> for Via {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Via, D::Error> {
            let v = Value::deserialize(d)?;
            from_value(v).map(Via).map_err(serde::de::Error::custom)
        }
    }
    #[derive(Deserialize, Debug, PartialEq)]
    struct Outer {
        a: Via,
        when: Date,
    }
    let v = obj([
        ("a", num(4.0)),
        ("when", Value::Date(Date::from_millis(2.0))),
    ]);
    assert_eq!(
        from_value::<Outer>(v).unwrap(),
        Outer {
            a: Via(4),
            when: Date::from_millis(2.0)
        }
    );
}

/// Found by fuzzing (fuzz/, the serde_bridge target): an invalid date was not equal to itself
/// (its time is NaN), so a value holding one differed from its own round trip, unlike a NaN
/// number.
#[test]
fn invalid_dates_are_equal() {
    assert_eq!(Date::invalid(), Date::invalid());
    assert_eq!(Date::invalid(), Date::from_millis(-f64::NAN));
    assert_ne!(Date::invalid(), Date::from_millis(0.0));
    assert_ne!(Date::from_millis(0.0), Date::invalid());
    let v = Value::Date(Date::invalid());
    let text = capnweb::serialize_value(&v).unwrap();
    assert_eq!(text, r#"["date",null]"#);
    assert_eq!(capnweb::deserialize_value(&text).unwrap(), v);
}

/// Found by fuzzing (fuzz/, the serde_bridge target): a request or response body was written
/// however deep it nested, so `serialize_value` produced text that `deserialize_value` (and a
/// peer) refuses as too deep. The body counts one level below its form, as the reader counts it.
#[test]
fn fetch_bodies_are_held_to_the_depth_limit() {
    fn nested(levels: usize) -> Value {
        let mut v = num(1.0);
        for _ in 0..levels {
            v = Value::Array(vec![v]);
        }
        v
    }
    let request = |body: Value| {
        Value::Request(Box::new(capnweb::value::Fetch {
            url: "https://example.com/".into(),
            body: Some(body),
            ..Default::default()
        }))
    };
    let response = |body: Value| {
        Value::Response(Box::new(capnweb::value::Fetch {
            body: Some(body),
            ..Default::default()
        }))
    };
    for make in [request, response] {
        // The form at depth 0, its body at 1: 254 arrays put the number at 255, the deepest.
        let deepest = make(nested(254));
        let text = capnweb::serialize_value(&deepest).unwrap();
        assert_eq!(capnweb::deserialize_value(&text).unwrap(), deepest);
        let too_deep = make(nested(255));
        let err = capnweb::serialize_value(&too_deep).unwrap_err();
        assert!(
            matches!(&err, Error::LimitExceeded(m) if m.limit() == capnweb::Limit::Depth && m.max() == 256),
            "{err:?}"
        );
    }
}

/// Found by fuzzing (fuzz/, the serde_bridge target): bytes of a typed-array kind whose length
/// is not a whole number of elements (3 bytes as a `Uint32Array`) were written as they were,
/// text that the reader refuses. They are refused when encoding instead.
#[test]
fn typed_arrays_are_sent_only_as_whole_elements() {
    use capnweb::wire::BytesKind;
    let bytes =
        |len: usize| Value::Bytes(Bytes::with_kind(vec![7; len], Some(BytesKind::Uint32Array)));
    let whole = bytes(8);
    let text = capnweb::serialize_value(&whole).unwrap();
    assert_eq!(text, r#"["bytes","BwcHBwcHBwc","Uint32Array"]"#);
    assert_eq!(capnweb::deserialize_value(&text).unwrap(), whole);
    let err = capnweb::serialize_value(&bytes(3)).unwrap_err();
    assert!(
        matches!(&err, Error::Encode(m) if m.message().contains("3 bytes is not a whole number of Uint32Array")),
        "{err:?}"
    );
    // Inside a request body too.
    let request = Value::Request(Box::new(capnweb::value::Fetch {
        url: "https://example.com/".into(),
        body: Some(bytes(3)),
        ..Default::default()
    }));
    assert!(matches!(
        capnweb::serialize_value(&request),
        Err(Error::Encode(_))
    ));
    // An error's prop that cannot be sent is left out; the error itself gets through.
    let error = Value::from(
        RpcError::error("e")
            .with_prop("data", bytes(3))
            .with_prop("n", 1),
    );
    let text = capnweb::serialize_value(&error).unwrap();
    assert_eq!(text, r#"["error","Error","e",null,{"n":1}]"#);
    // Single-byte kinds take any length.
    let any = Value::Bytes(Bytes::with_kind(vec![1, 2, 3], Some(BytesKind::Int8Array)));
    assert!(capnweb::serialize_value(&any).is_ok());
}

/// Found by fuzzing (fuzz/, the serde_bridge target, as slow inputs): to leave its stack out,
/// the encoder wrote a copy of each error, props and all, and copied each error in those props
/// again when it came to write it, so an error chain cost time quadratic in its depth. A chain
/// now costs what the same errors side by side cost (within a wide margin: this is a timing).
#[test]
fn an_error_chain_is_written_in_linear_time() {
    fn level(cause: Option<Value>) -> RpcError {
        let mut error = RpcError::error("e").with_stack("at level");
        for i in 0..200 {
            error = error.with_prop(format!("p{i}"), i as f64);
        }
        match cause {
            Some(cause) => error.with_cause(cause),
            None => error,
        }
    }
    const LEVELS: usize = 250;
    let chain = (0..LEVELS).fold(None, |cause, _| Some(Value::from(level(cause))));
    let chain = chain.unwrap();
    let side_by_side = Value::Array((0..LEVELS).map(|_| Value::from(level(None))).collect());
    let time = |v: &Value| {
        (0..3)
            .map(|_| {
                let start = std::time::Instant::now();
                let text = capnweb::serialize_value(v).unwrap();
                let elapsed = start.elapsed();
                assert!(!text.contains("at level"), "a stack was written");
                elapsed
            })
            .min()
            .unwrap()
    };
    let (chained, flat) = (time(&chain), time(&side_by_side));
    assert!(
        chained < flat * 10 + std::time::Duration::from_millis(50),
        "a chain of {LEVELS} errors took {chained:?}, the same errors side by side {flat:?}"
    );
    let text = capnweb::serialize_value(&chain).unwrap();
    let Value::Error(back) = capnweb::deserialize_value(&text).unwrap() else {
        panic!("not an error: {text}");
    };
    assert_eq!(back.props.len(), 201);
}

/// Found by fuzzing (fuzz/, the serde_bridge target): a `headers` key among a fetch's other
/// options (or a request's `body`) was written whenever the typed field was empty, and the
/// reader takes those keys for the typed fields: `{"headers":0}` did not read at all, and a
/// plain `body` came back as the body. They are not sent now (the typed fields are).
#[test]
fn plain_fetch_options_do_not_shadow_the_typed_fields() {
    let mut other = serde_json::Map::new();
    other.insert("headers".into(), serde_json::json!(0));
    other.insert("body".into(), serde_json::json!([1]));
    other.insert("method".into(), serde_json::json!("POST"));
    let request = Value::Request(Box::new(capnweb::value::Fetch {
        url: "https://example.com/".into(),
        other: other.clone(),
        ..Default::default()
    }));
    let text = capnweb::serialize_value(&request).unwrap();
    assert_eq!(
        text,
        r#"["request","https://example.com/",{"method":"POST"}]"#
    );
    let Value::Request(back) = capnweb::deserialize_value(&text).unwrap() else {
        panic!("not a request: {text}");
    };
    assert!(back.headers.is_empty() && back.body.is_none(), "{back:?}");
    // A response's init has no body key of its own: a plain one passes through.
    let response = Value::Response(Box::new(capnweb::value::Fetch {
        other,
        ..Default::default()
    }));
    let text = capnweb::serialize_value(&response).unwrap();
    let Value::Response(back) = capnweb::deserialize_value(&text).unwrap() else {
        panic!("not a response: {text}");
    };
    assert_eq!(
        back.other.get("body"),
        Some(&serde_json::json!([1])),
        "{text}"
    );
    assert!(!back.other.contains_key("headers"), "{text}");
}

/// Found by fuzzing (fuzz/, the serde_bridge target): a fetch's other options (plain JSON)
/// were written however deep they nested, while the reader bounds a message's brackets, so
/// 600 levels made text the reader refuses. They are held to the depth limit, as bodies are.
#[test]
fn a_fetchs_plain_options_are_held_to_the_depth_limit() {
    fn nested_json(levels: usize) -> serde_json::Value {
        let mut v = serde_json::Value::from(1);
        for _ in 0..levels {
            v = serde_json::Value::Array(vec![v]);
        }
        v
    }
    let request = |levels: usize| {
        let mut other = serde_json::Map::new();
        other.insert("cache".into(), nested_json(levels));
        Value::Request(Box::new(capnweb::value::Fetch {
            url: "https://example.com/".into(),
            other,
            ..Default::default()
        }))
    };
    // The form at depth 0: 255 arrays around the number reach 255, the deepest allowed.
    let deepest = request(254);
    let text = capnweb::serialize_value(&deepest).unwrap();
    assert_eq!(capnweb::deserialize_value(&text).unwrap(), deepest);
    for levels in [255, 600] {
        let err = capnweb::serialize_value(&request(levels)).unwrap_err();
        assert!(
            matches!(&err, Error::LimitExceeded(m) if m.limit() == capnweb::Limit::Depth && m.max() == 256),
            "{levels}: {err:?}"
        );
    }
}

/// Found by fuzzing (fuzz/, the serde_bridge target): an object whose key was the internal
/// marker key of special values, read into a `#[serde(flatten)]` `Value`, was taken for a
/// marker (and failed, or could have stood for another special value of the same call). The
/// key now ends with a number drawn once per process, which no peer's object holds.
#[test]
fn an_object_holding_the_old_marker_key_is_an_ordinary_object() {
    #[derive(Serialize, Deserialize, Debug)]
    struct Envelope {
        kind: String,
        #[serde(flatten)]
        rest: Value,
    }
    let at = Value::Date(Date::from_millis(1.0));
    let forged = obj([("\0$capnweb::private::SpecialMarker", num(0.0))]);
    let v = obj([
        ("kind", s("k")),
        ("at", at.clone()),
        ("inner", forged.clone()),
    ]);
    let env: Envelope = from_value(v.clone()).unwrap();
    assert_eq!(
        env.rest,
        obj([("at", at.clone()), ("inner", forged.clone())])
    );
    // Straight from the wire's text too.
    let text = capnweb::serialize_value(&v).unwrap();
    let env: Envelope = capnweb::deserialize(&text).unwrap();
    assert_eq!(env.rest, obj([("at", at), ("inner", forged)]));
}
