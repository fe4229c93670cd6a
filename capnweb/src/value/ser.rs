//! Placeholder: being written.
use super::Value;
/// Converts a Rust value to a [`Value`].
pub fn to_value<T: serde::Serialize + ?Sized>(_value: &T) -> Result<Value, crate::Error> {
    Err(crate::Error::Encode("unimplemented".into()))
}
