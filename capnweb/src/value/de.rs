//! Placeholder: being written.
use super::Value;
/// Converts a [`Value`] to a Rust value.
pub fn from_value<T: serde::de::DeserializeOwned>(_value: Value) -> Result<T, crate::Error> {
    Err(crate::Error::decode("?", "unimplemented"))
}
