//! Strict parsing of message text into [`Message`] and [`Expr`]. (Being written.)
use super::{Expr, Limits, Message};

/// A message that does not follow the protocol: what was wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct WireError {
    message: String,
}

/// What kind of problem a [`WireError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireErrorKind {
    /// The input does not follow the protocol.
    Malformed,
    /// The input exceeds a [`Limits`] value.
    LimitExceeded,
}

impl WireError {
    /// What kind of problem this is.
    pub fn kind(&self) -> WireErrorKind {
        WireErrorKind::Malformed
    }
}

pub(crate) fn parse_message(_text: &str, _limits: &Limits) -> Result<Message, WireError> {
    Err(WireError {
        message: "unimplemented".into(),
    })
}

pub(crate) fn parse_expr(_text: &str, _limits: &Limits) -> Result<Expr, WireError> {
    Err(WireError {
        message: "unimplemented".into(),
    })
}
