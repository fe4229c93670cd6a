//! `#[serde(with = "capnweb::bigint")]`: an integer field that travels as a JavaScript bigint.
//!
//! A JavaScript number holds integers exactly only up to ±(2^53 − 1), so by default an `i64` or
//! `u64` outside that range is refused (see the [`value`](crate::value) module). With this
//! helper the field is always sent as `["bigint", "…"]`, whatever its value, and either form is
//! accepted when reading: a bigint, or an integral number (what a JavaScript peer sends for a
//! small one). A value that does not fit the field's type is refused, saying so.
//!
//! ```
//! #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
//! struct Account {
//!     #[serde(with = "capnweb::bigint")]
//!     id: u64,
//!     #[serde(with = "capnweb::bigint::option")]
//!     parent: Option<i64>,
//! }
//!
//! let account = Account { id: u64::MAX, parent: Some(-1) };
//! let text = capnweb::serialize(&account).unwrap();
//! assert_eq!(text, r#"{"id":["bigint","18446744073709551615"],"parent":["bigint","-1"]}"#);
//! assert_eq!(capnweb::deserialize::<Account>(&text).unwrap(), account);
//! // A JavaScript peer may send a small value as a plain number.
//! let small: Account = capnweb::deserialize(r#"{"id":7,"parent":null}"#).unwrap();
//! assert_eq!(small, Account { id: 7, parent: None });
//! ```

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::value::BigInt;

/// The integer types the helper works with.
pub trait Integer: Copy + Into<BigInt> + Sized {
    /// The value of `bigint`, if it fits this type.
    fn from_bigint(bigint: &BigInt) -> Option<Self>;
}

macro_rules! integer {
    ($($ty:ty),*) => {$(
        impl Integer for $ty {
            fn from_bigint(bigint: &BigInt) -> Option<Self> {
                bigint.as_str().parse().ok()
            }
        }
    )*};
}
integer!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize);

/// Serializes `value` as a bigint.
pub fn serialize<T: Integer, S: Serializer>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
    let bigint: BigInt = (*value).into();
    bigint.serialize(serializer)
}

/// Deserializes a bigint or an integral number into `T`.
pub fn deserialize<'de, T: Integer, D: Deserializer<'de>>(deserializer: D) -> Result<T, D::Error> {
    let bigint = BigInt::deserialize(deserializer)?;
    T::from_bigint(&bigint).ok_or_else(|| out_of_range::<T, D::Error>(&bigint))
}

/// A bigint that does not fit `T`, said as "expected an integer from MIN to MAX" by capnweb's
/// own decoder.
fn out_of_range<T, E: serde::de::Error>(bigint: &BigInt) -> E {
    let found = format!("bigint {bigint}");
    E::invalid_value(
        serde::de::Unexpected::Other(&found),
        &std::any::type_name::<T>(),
    )
}

/// The same for an `Option` of an integer: `None` is `null`.
pub mod option {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Integer;
    use crate::value::BigInt;

    /// Serializes `value` as a bigint, or `null`.
    pub fn serialize<T: Integer, S: Serializer>(
        value: &Option<T>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => super::serialize(value, serializer),
            None => serializer.serialize_none(),
        }
    }

    /// Deserializes a bigint, an integral number, or `null`/`undefined`.
    pub fn deserialize<'de, T: Integer, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<T>, D::Error> {
        match Option::<BigInt>::deserialize(deserializer)? {
            None => Ok(None),
            Some(bigint) => T::from_bigint(&bigint)
                .map(Some)
                .ok_or_else(|| super::out_of_range::<T, D::Error>(&bigint)),
        }
    }
}
