//! What a decoding error says, in the protocol's terms rather than Rust's: a peer that sent
//! the wrong thing reads "expected a number", not "expected f64", and "an object", not "a map".
//!
//! serde's visitors describe what they want in Rust words ("f64", "a sequence", "struct
//! Point"); [`expected`] rewords those it knows and keeps the rest (a visitor's own words,
//! such as "a date", are already the protocol's).

use std::fmt::Display;

/// `expected` (a visitor's description of what it wants) in the protocol's words.
pub(crate) fn expected<E: Display + ?Sized>(expected: &E) -> String {
    let text = expected.to_string();
    if let Some(range) = integer_range(&text) {
        return range;
    }
    let plain = match text.as_str() {
        "f32" | "f64" => "a number",
        "a sequence" => "an array",
        "a map" => "an object",
        "unit" => "null or undefined",
        "option" => "a value, null or undefined",
        "a character" | "char" => "a string of one character",
        "a borrowed string" | "a string" | "str" => "a string",
        "a byte array" | "byte array" | "a borrowed byte array" => "bytes (a Uint8Array)",
        "a boolean" | "bool" => "a boolean",
        "variant identifier" => "the name of a variant",
        "field identifier" => "the name of a property",
        _ => return reword_compound(&text),
    };
    plain.to_owned()
}

/// The range of an integer type named as Rust names it.
fn integer_range(name: &str) -> Option<String> {
    fn range<T: Display>(min: T, max: T) -> Option<String> {
        Some(format!("an integer from {min} to {max}"))
    }
    match name {
        "i8" => range(i8::MIN, i8::MAX),
        "i16" => range(i16::MIN, i16::MAX),
        "i32" => range(i32::MIN, i32::MAX),
        "i64" => range(i64::MIN, i64::MAX),
        "i128" => range(i128::MIN, i128::MAX),
        "isize" => range(isize::MIN, isize::MAX),
        "u8" => range(u8::MIN, u8::MAX),
        "u16" => range(u16::MIN, u16::MAX),
        "u32" => range(u32::MIN, u32::MAX),
        "u64" => range(u64::MIN, u64::MAX),
        "u128" => range(u128::MIN, u128::MAX),
        "usize" => range(usize::MIN, usize::MAX),
        _ => None,
    }
}

/// serde_derive's descriptions name the Rust type; keep the name, say what it travels as.
fn reword_compound(text: &str) -> String {
    let forms: [(&str, &str); 8] = [
        ("tuple struct ", "an array"),
        ("unit struct ", "null"),
        ("newtype struct ", "a value"),
        ("struct variant ", "an object"),
        ("tuple variant ", "an array"),
        ("newtype variant ", "a value"),
        ("struct ", "an object"),
        ("enum ", "a variant"),
    ];
    for (prefix, travels_as) in forms {
        if let Some(rest) = text.strip_prefix(prefix) {
            // "struct Point with 2 elements": the count is of fields.
            return match rest.split_once(" with ") {
                Some((name, count)) => format!("{travels_as} ({name}) with {count}"),
                None => format!("{travels_as} ({rest})"),
            };
        }
    }
    if let Some(size) = text
        .strip_prefix("a tuple of size ")
        .or_else(|| text.strip_prefix("tuple of size "))
    {
        return format!("an array of {size} elements");
    }
    if let Some(count) = text.strip_prefix("an array of length ") {
        return format!("an array of {count} elements");
    }
    text.to_owned()
}

/// A number as JavaScript writes it: `1.5`, `3000000000`, `NaN`, `Infinity`.
pub(crate) fn number(n: f64) -> String {
    ryu_js::Buffer::new().format(n).to_owned()
}

/// A serde `Unexpected` (what was found, as a visitor saw it) in the protocol's words.
pub(crate) fn found(unexpected: &serde::de::Unexpected<'_>) -> String {
    use serde::de::Unexpected as U;
    match unexpected {
        U::Bool(b) => format!("boolean {b}"),
        U::Unsigned(n) => format!("number {n}"),
        U::Signed(n) => format!("number {n}"),
        U::Float(n) => format!("number {}", number(*n)),
        U::Char(c) => format!("string {:?}", c.to_string()),
        U::Str(s) => format!("string {s:?}"),
        U::Bytes(_) => "bytes".to_owned(),
        U::Unit => "null".to_owned(),
        U::Option => "an optional value".to_owned(),
        U::NewtypeStruct | U::NewtypeVariant => "a value".to_owned(),
        U::Seq | U::TupleVariant => "an array".to_owned(),
        U::Map | U::StructVariant => "an object".to_owned(),
        U::Enum => "a variant".to_owned(),
        U::UnitVariant => "a variant name".to_owned(),
        U::Other(other) => (*other).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_names_become_protocol_words() {
        assert_eq!(expected(&"f64"), "a number");
        assert_eq!(expected(&"u8"), "an integer from 0 to 255");
        assert_eq!(expected(&"a sequence"), "an array");
        assert_eq!(expected(&"a map"), "an object");
        assert_eq!(expected(&"struct Point"), "an object (Point)");
        assert_eq!(
            expected(&"struct Point with 2 elements"),
            "an object (Point) with 2 elements"
        );
        assert_eq!(expected(&"tuple struct Pair"), "an array (Pair)");
        assert_eq!(expected(&"enum Color"), "a variant (Color)");
        assert_eq!(expected(&"a tuple of size 3"), "an array of 3 elements");
        // A visitor's own words are kept.
        assert_eq!(expected(&"a date"), "a date");
    }
}
