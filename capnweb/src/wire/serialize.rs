//! Serialization of [`Message`] and [`Expr`] to canonical text. (Being written.)
use super::{Expr, Message};

pub(crate) fn message_to_text(_msg: &Message) -> String {
    String::new()
}

pub(crate) fn expr_to_text(_expr: &Expr) -> String {
    String::new()
}
