//! [`serialize`] and [`deserialize`]: values to the wire format's text and back without a
//! session, as the reference's standalone `serialize()` and `deserialize()` do (to store values,
//! or to send them some other way).
//!
//! The text is exactly what a session would send for the same value (`["date",…]`, escaped
//! arrays, `["bigint",…]`, …), held to the default [`Limits`]. Capabilities cannot travel
//! this way: a stub or promise is refused, in either direction, with an error saying so.
//!
//! ```
//! use capnweb::{deserialize, serialize, Date};
//!
//! #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
//! struct Note { title: String, tags: Vec<String>, when: Date }
//!
//! let note = Note { title: "hi".into(), tags: vec!["a".into()], when: Date::from_millis(0.0) };
//! let text = serialize(&note).unwrap();
//! assert_eq!(text, r#"{"title":"hi","tags":[["a"]],"when":["date",0]}"#);
//! assert_eq!(deserialize::<Note>(&text).unwrap(), note);
//! assert!(deserialize::<capnweb::Value>(r#"["export",-1]"#).is_err());
//! ```

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::encode::{write_serialize, Encoder, Exporter, Reference};
use crate::error::Error;
use crate::evaluate::{self, Importer};
use crate::hook::Hook;
use crate::value::{from_value, Value};
use crate::wire::{Expr, Limits, PathKey};

/// The wire text of `value` (any serde type; see the [`value`](crate::value) module for how
/// Rust types map onto the protocol's values).
///
/// Fails with [`Error::Encode`] for a value holding a stub or promise, and with
/// [`Error::LimitExceeded`] for one over the default [`Limits`] (nested deeper than 256, a
/// bigint longer than 16384 digits, a text longer than 32 Mi characters).
pub fn serialize<T: Serialize + ?Sized>(value: &T) -> Result<String, Error> {
    // Written straight to text, as a session writes a method's result: no Value in between.
    let (mut text, mut exporter, limits) = (String::new(), NoSession, Limits::default());
    let mut encoder = Encoder::new(&mut text, &mut exporter, &limits);
    write_serialize(&mut encoder, value, 0)?;
    Ok(text)
}

/// The wire text of a [`Value`]; see [`serialize`].
pub fn serialize_value(value: &Value) -> Result<String, Error> {
    let mut text = String::new();
    Encoder::new(&mut text, &mut NoSession, &Limits::default()).value(value, 0)?;
    Ok(text)
}

/// The value of wire text, as `T`.
///
/// Fails with [`Error::Decode`] for text that is not a well-formed expression (it says what
/// is wrong and where), for one that refers to a capability (`["export", …]`,
/// `["import", …]`, …, which only mean something inside a session), or for a value that
/// does not fit `T`; with [`Error::LimitExceeded`] for text over the default [`Limits`].
pub fn deserialize<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    from_value(deserialize_value(text)?)
}

/// The [`Value`] of wire text; see [`deserialize`].
pub fn deserialize_value(text: &str) -> Result<Value, Error> {
    let expr = Expr::parse(text).map_err(|e| match e.kind() {
        crate::wire::WireErrorKind::LimitExceeded => {
            match crate::error::LimitError::from_wire(&e) {
                Some(limit) => Error::LimitExceeded(limit),
                None => Error::decode("a Cap'n Web value", e.to_string()),
            }
        }
        _ => Error::decode("a Cap'n Web value", e.to_string()),
    })?;
    evaluate::evaluate(expr, &NoSession)
}

/// Refuses every capability: there is no session to refer to it in.
struct NoSession;

fn no_capability(what: &str) -> Error {
    Error::decode(
        "a Cap'n Web value",
        format!(
            "{what} refers to a capability, which has no meaning outside a session: \
             only a session can pass a live reference"
        ),
    )
}

fn not_serializable() -> Error {
    Error::encode(
        "a stub or promise cannot be serialized without a session: it is a live reference, \
         which only a session can pass to a peer",
    )
}

impl Exporter for NoSession {
    fn stub(&mut self, _hook: &Hook) -> Result<Reference, Error> {
        Err(not_serializable())
    }

    fn promise(&mut self, _hook: &Hook, _path: &[PathKey]) -> Result<Reference, Error> {
        Err(not_serializable())
    }
}

impl Importer for NoSession {
    fn import_stub(&self, id: i64) -> Result<Hook, Error> {
        Err(no_capability(&format!("[\"export\", {id}]")))
    }

    fn import_promise(&self, id: i64) -> Result<Hook, Error> {
        Err(no_capability(&format!("[\"promise\", {id}]")))
    }

    fn export(&self, id: i64) -> Result<Hook, Error> {
        Err(no_capability(&format!("a reference to export {id}")))
    }
}
