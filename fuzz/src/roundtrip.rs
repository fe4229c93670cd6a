//! The wire codec: parse -> serialize -> parse.
//!
//! What the parser guarantees, and so what is asserted (see `capnweb/src/wire/parse.rs`):
//!
//! * A message that parses has a canonical text (`to_text`) that parses again to an equal
//!   `Message` (`PartialEq`), and that text is a fixed point: the reparse's text is the same.
//!   Equality is `PartialEq`'s, which is exactly what survives the text:
//!   - `-0` is written `0` (as `JSON.stringify` writes it), and `-0.0 == 0.0`; every other
//!     number prints as the shortest text that reads back as the same double, so the fixed
//!     point pins numbers down bit for bit;
//!   - NaN and the infinities only exist as the `["nan"]`/`["inf"]`/`["-inf"]` forms (JSON
//!     has no literal for them, and literals beyond the double range are refused);
//!   - a repeated object key is resolved when parsed (the last value, in the first key's
//!     place), so what is parsed has no repeats and nothing is lost on the way back;
//!   - the plain parts of a fetch `init` (a `serde_json::Map`) compare without regard to
//!     order, because the writer puts the reference's leading keys (`method`, `status`,
//!     `statusText`) first; the fixed point then pins that order down.
//! * The canonical text parses under the same limits whenever it fits the size limit (it
//!   can be longer than the input: `1e20` is written in 21 digits).
//! * `parse_bytes` and `parse_with_limits` agree on UTF-8 input; other bytes are refused.
//! * Tighter limits accept less: a message accepted under tight limits is accepted, equal,
//!   under the defaults.
//! * A bare expression (`Expr::parse`) round-trips the same way, and parses iff it parses
//!   as the argument of a `push` (the bracket bound leaves room for the message's own
//!   bracket), to the same expression.

use capnweb::wire::{Expr, Message, WireErrorKind};
use capnweb::Limits;

/// Limits tight enough that every limit is within a few bytes' reach of the fuzzer.
fn tight() -> Limits {
    Limits::default()
        .max_depth(3)
        .max_bigint_digits(4)
        .max_message_size(64)
}

/// UTF-16 code units, as the size limit counts them.
fn utf16_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// Runs every check on one input.
pub fn check(data: &[u8]) {
    let default = check_message(data, &Limits::default());
    let tight = check_message(data, &tight());
    if let Some(tight) = tight {
        assert_eq!(
            default.as_ref(),
            Some(&tight),
            "accepted under tight limits but not alike under the defaults"
        );
    }
    if let Ok(text) = std::str::from_utf8(data) {
        check_expr(text);
    }
}

/// The message checks under `limits`; returns the message if the input parsed.
fn check_message(data: &[u8], limits: &Limits) -> Option<Message> {
    let parsed = Message::parse_bytes(data, limits);
    match std::str::from_utf8(data) {
        Ok(text) => {
            let again = Message::parse_with_limits(text, limits);
            match (&parsed, &again) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "parse_bytes and parse_with_limits differ"),
                (Err(a), Err(b)) => assert_eq!(a.kind(), b.kind()),
                _ => panic!("parse_bytes gave {parsed:?}, parse_with_limits gave {again:?}"),
            }
        }
        Err(_) => {
            let kind = parsed.as_ref().err().map(|e| e.kind());
            assert!(
                matches!(
                    kind,
                    Some(WireErrorKind::Malformed | WireErrorKind::LimitExceeded)
                ),
                "invalid UTF-8 gave {parsed:?}"
            );
        }
    }
    let first = parsed.ok()?;
    let text = first.to_text();
    let unbounded = limits.max_message_size(usize::MAX);
    let second = Message::parse_with_limits(&text, &unbounded).unwrap_or_else(|e| {
        panic!("the canonical text {text} of {first:?} does not parse: {e}");
    });
    assert_eq!(second, first, "reparsed from {text}");
    assert_eq!(
        second.to_text(),
        text,
        "the canonical text is not a fixed point"
    );
    let fits = utf16_len(&text) <= limits.message_size();
    let under_limits = Message::parse_with_limits(&text, limits);
    assert_eq!(
        under_limits.is_ok(),
        fits,
        "canonical text {text} under {limits:?}: {under_limits:?}"
    );
    Some(first)
}

fn check_expr(text: &str) {
    let parsed = Expr::parse(text);
    let wrapped = format!("[\"push\",{text}]");
    let unbounded = Limits::default().max_message_size(usize::MAX);
    let as_push = Message::parse_with_limits(&wrapped, &unbounded);
    let Ok(first) = parsed else {
        // Refused alone, it may still be a valid argument only if the refusal was its size.
        if let Ok(message) = &as_push {
            assert!(
                utf16_len(text) > Limits::default().message_size(),
                "{text} is refused as an expression but {wrapped} parses, as {message:?}"
            );
        }
        return;
    };
    match as_push {
        Ok(Message::Push(expr)) => assert_eq!(expr, first, "as a push argument"),
        other => panic!("{text} parses as an expression but {wrapped} gives {other:?}"),
    }
    let canonical = first.to_text();
    let second = Expr::parse(&canonical).unwrap_or_else(|e| {
        panic!("the canonical text {canonical} of {first:?} does not parse: {e}");
    });
    assert_eq!(second, first, "reparsed from {canonical}");
    assert_eq!(second.to_text(), canonical, "not a fixed point");
}
