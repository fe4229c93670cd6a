//! The primitive writers behind every outgoing text: JSON strings and numbers exactly as
//! JavaScript's `JSON.stringify` writes them, and expressions in canonical form. The session's
//! value encoder writes messages with these, straight into its outgoing buffer.

use super::Expr;

/// Appends `s` as a JSON string literal, escaped as `JSON.stringify` escapes it.
pub(crate) fn write_string(out: &mut String, s: &str) {
    super::serialize::write_json_string(out, s);
}

/// Appends the finite number `x` as JavaScript prints it (`Number.prototype.toString`).
/// Callers write NaN and the infinities as their special forms.
pub(crate) fn write_number(out: &mut String, x: f64) {
    super::serialize::write_js_number(out, x);
}

/// Appends the canonical text of `expr`.
pub(crate) fn write_expr(out: &mut String, expr: &Expr) {
    super::serialize::write_expr(out, expr);
}
