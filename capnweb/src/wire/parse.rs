//! Strict parsing of message text into [`Message`] and [`Expr`]. (Being written.)
use super::{Expr, Limits, Message};

/// A message that does not follow the protocol: what was wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct WireError {
    message: String,
}

pub(crate) fn parse_message(_text: &str, _limits: &Limits) -> Result<Message, WireError> {
    Err(WireError { message: "unimplemented".into() })
}

pub(crate) fn parse_expr(_text: &str, _limits: &Limits) -> Result<Expr, WireError> {
    Err(WireError { message: "unimplemented".into() })
}
