//! Rust types for the JavaScript values JSON lacks: [`BigInt`], [`Date`], [`Bytes`], [`Fetch`].

use crate::wire::BytesKind;

/// The largest integer a JavaScript number holds exactly: 2^53 − 1.
pub(crate) const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// A JavaScript bigint, held as its decimal text (an optional `-` and digits).
///
/// ```
/// let b = capnweb::BigInt::from(-12345678901234567890i128);
/// assert_eq!(b.as_str(), "-12345678901234567890");
/// assert_eq!(b.to_i128(), Some(-12345678901234567890));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BigInt(String);

impl BigInt {
    /// Parses decimal text (an optional `-` and at least one digit); `None` if malformed.
    pub fn parse(decimal: &str) -> Option<BigInt> {
        let digits = decimal.strip_prefix('-').unwrap_or(decimal);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(BigInt(decimal.to_owned()))
    }

    /// The decimal text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value as an `i128`, if it fits.
    pub fn to_i128(&self) -> Option<i128> {
        self.0.parse().ok()
    }

    /// The value as a `u128`, if it fits.
    pub fn to_u128(&self) -> Option<u128> {
        self.0.parse().ok()
    }
}

impl std::fmt::Display for BigInt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! bigint_from {
    ($($ty:ty),*) => {$(
        impl From<$ty> for BigInt {
            fn from(v: $ty) -> BigInt { BigInt(v.to_string()) }
        }
    )*};
}
bigint_from!(i8, i16, i32, i64, i128, u8, u16, u32, u64, u128, isize, usize);

/// A JavaScript `Date`: milliseconds since the Unix epoch (NaN for an invalid date).
///
/// Two invalid dates are equal, as two dates with the same time are (whatever the NaN's bits).
///
/// ```
/// let d = capnweb::Date::from_millis(1_749_342_170_815.0);
/// assert_eq!(d.millis(), 1_749_342_170_815.0);
/// let t: std::time::SystemTime = d.try_into().unwrap();
/// assert_eq!(capnweb::Date::from(t), d);
/// assert_eq!(capnweb::Date::invalid(), capnweb::Date::invalid());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Date(f64);

impl PartialEq for Date {
    fn eq(&self, other: &Date) -> bool {
        self.0 == other.0 || (self.0.is_nan() && other.0.is_nan())
    }
}

impl Date {
    /// A date at `millis` milliseconds since the Unix epoch.
    pub fn from_millis(millis: f64) -> Date {
        Date(millis)
    }

    /// An invalid date (`new Date(NaN)`), sent as `["date", null]`.
    pub fn invalid() -> Date {
        Date(f64::NAN)
    }

    /// Milliseconds since the Unix epoch (NaN when invalid).
    pub fn millis(self) -> f64 {
        self.0
    }

    /// Whether this is a valid date.
    pub fn is_valid(self) -> bool {
        self.0.is_finite()
    }

    /// The current time.
    pub fn now() -> Date {
        std::time::SystemTime::now().into()
    }
}

impl From<std::time::SystemTime> for Date {
    fn from(t: std::time::SystemTime) -> Date {
        match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => Date(d.as_millis() as f64),
            Err(e) => Date(-(e.duration().as_millis() as f64)),
        }
    }
}

impl TryFrom<Date> for std::time::SystemTime {
    type Error = crate::Error;
    fn try_from(d: Date) -> Result<std::time::SystemTime, crate::Error> {
        if !d.is_valid() {
            return Err(crate::Error::decode(
                "SystemTime",
                "the date is invalid (NaN)",
            ));
        }
        let offset = std::time::Duration::from_millis(d.0.abs() as u64);
        let t = if d.0 >= 0.0 {
            std::time::UNIX_EPOCH.checked_add(offset)
        } else {
            std::time::UNIX_EPOCH.checked_sub(offset)
        };
        t.ok_or_else(|| crate::Error::decode("SystemTime", "the date is out of range"))
    }
}

/// A byte container: the bytes and the JavaScript type they travel as.
///
/// ```
/// let b = capnweb::Bytes::from(vec![1u8, 2, 3]);
/// assert_eq!(b.as_slice(), &[1, 2, 3]);
/// assert_eq!(b.kind(), None); // a plain Uint8Array
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Bytes {
    data: Vec<u8>,
    kind: Option<BytesKind>,
}

impl Bytes {
    /// Bytes that travel as the given kind (`None` = the default `Uint8Array`). A typed array
    /// of elements wider than a byte needs a whole number of them: other lengths cannot be sent
    /// as that kind (encoding them fails with [`Error::Encode`](crate::Error::Encode)).
    pub fn with_kind(data: Vec<u8>, kind: Option<BytesKind>) -> Bytes {
        Bytes { data, kind }
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.data
    }

    /// The kind named on the wire, if any.
    pub fn kind(&self) -> Option<BytesKind> {
        self.kind
    }

    /// The bytes, by value.
    pub fn into_vec(self) -> Vec<u8> {
        self.data
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(data: Vec<u8>) -> Bytes {
        Bytes { data, kind: None }
    }
}

impl From<&[u8]> for Bytes {
    fn from(data: &[u8]) -> Bytes {
        Bytes {
            data: data.to_vec(),
            kind: None,
        }
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.data
    }
}

/// A Fetch API `Request` or `Response` as it travels: headers, an optional body, and the other
/// constructor options as plain JSON.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fetch {
    /// The URL (requests only; empty for responses).
    pub url: String,
    /// Header name/value pairs.
    pub headers: Vec<(String, String)>,
    /// The body: `null`, a string or bytes.
    pub body: Option<super::Value>,
    /// Other options (`method`, `status`, `statusText`, …), passed through untouched; a
    /// `headers` key here (or a request's `body`) is not sent, those being the fields above.
    pub other: serde_json::Map<String, serde_json::Value>,
}

// ---------------------------------------------------------------------------------------------
// serde: these travel as themselves through `to_value`/`from_value` (see `special`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::special::{deserialize_special, serialize_special, unexpected};
use super::Value;

impl BigInt {
    /// The decimal text of an integral, finite `f64` (exact, however large).
    fn from_integral_f64(n: f64) -> BigInt {
        if n.abs() < 9.2e18 {
            BigInt::from(n as i64)
        } else {
            BigInt(format!("{n:.0}"))
        }
    }
}

/// A bigint with [`to_value`](super::to_value); other serializers refuse it.
impl Serialize for BigInt {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_special(Value::BigInt(self.clone()), serializer)
    }
}

/// Accepts a bigint, an integral number (JavaScript peers send small integers as numbers), or a
/// string of decimal digits (how a bigint map key, or a JSON document, spells one).
impl<'de> Deserialize<'de> for BigInt {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<BigInt, D::Error> {
        match deserialize_special(deserializer)? {
            Value::BigInt(b) => Ok(b),
            Value::Number(n) if n.is_finite() && n.fract() == 0.0 => {
                Ok(BigInt::from_integral_f64(n))
            }
            Value::String(s) => match BigInt::parse(&s) {
                Some(b) => Ok(b),
                None => Err(unexpected("a bigint", &Value::String(s))),
            },
            other => Err(unexpected("a bigint or an integral number", &other)),
        }
    }
}

/// A date with [`to_value`](super::to_value); other serializers refuse it.
impl Serialize for Date {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_special(Value::Date(*self), serializer)
    }
}

/// Accepts a date.
impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
        match deserialize_special(deserializer)? {
            Value::Date(d) => Ok(d),
            other => Err(unexpected("a date", &other)),
        }
    }
}

/// Bytes (and their kind) with [`to_value`](super::to_value); plain bytes (`serialize_bytes`)
/// with other serializers.
impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        super::special::serialize_bytes(self, serializer)
    }
}

/// Accepts bytes, or an array of integers 0–255.
impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Bytes, D::Error> {
        match deserialize_special(deserializer)? {
            Value::Bytes(b) => Ok(b),
            Value::Array(items) => {
                let mut data = Vec::with_capacity(items.len());
                for item in &items {
                    match item {
                        Value::Number(n) if n.fract() == 0.0 && (0.0..256.0).contains(n) => {
                            data.push(*n as u8)
                        }
                        other => return Err(unexpected("a byte (an integer 0–255)", other)),
                    }
                }
                Ok(Bytes::from(data))
            }
            other => Err(unexpected("bytes", &other)),
        }
    }
}
