//! The primitives every writer of protocol text uses: JSON strings escaped as JavaScript's
//! `JSON.stringify` escapes them, numbers printed as JavaScript prints them, and the brackets
//! of the protocol's `["tag", …]` forms.
//!
//! Each appends to a `String` and allocates nothing of its own, so a whole message is written
//! into one buffer. [`Expr`](super::Expr) serialization is built on these, and so can be any
//! other encoder that writes protocol text straight from its own values:
//!
//! ```text
//! let mut out = String::new();
//! open_form(&mut out, Tag::Date);   // ["date",
//! write_number(&mut out, 1.5e12);   // 1500000000000
//! close_form(&mut out);             // ]
//! ```

use super::tag::Tag;

/// Bytes a JSON string cannot hold as they are: `"`, `\` and the control characters.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// The letter of the short escape `JSON.stringify` writes for a byte (`\n` for a newline),
/// if it has one; the other control characters take the `\u00xx` form.
fn short_escape(byte: u8) -> Option<char> {
    match byte {
        b'"' => Some('"'),
        b'\\' => Some('\\'),
        b'\n' => Some('n'),
        b'\r' => Some('r'),
        b'\t' => Some('t'),
        0x08 => Some('b'),
        0x0c => Some('f'),
        _ => None,
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// A mask with the high bit set in each byte of `word` that is `"`, `\` or below 0x20, and
/// possibly in bytes above such a byte (the SWAR tests' borrows only run upwards), so the
/// lowest set bit always marks the first such byte.
#[inline(always)]
fn escape_mask(word: u64) -> u64 {
    let below_space = word.wrapping_sub(ONES * 0x20) & !word;
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let zero_in = |x: u64| x.wrapping_sub(ONES) & !x;
    (below_space | zero_in(quote) | zero_in(backslash)) & HIGHS
}

/// The index of the first byte at or after `from` that a JSON string cannot hold as it is
/// (`"`, `\` or a control character), or `bytes.len()` if there is none.
///
/// Eight bytes are tested at a time, so long runs of plain text cost little.
#[inline(always)]
pub(super) fn find_escape(bytes: &[u8], from: usize) -> usize {
    let mut at = from;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let mask = escape_mask(u64::from_le_bytes(word));
        if mask != 0 {
            return at + (mask.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while let Some(&byte) = bytes.get(at) {
        if NEEDS_ESCAPE[usize::from(byte)] {
            return at;
        }
        at += 1;
    }
    bytes.len()
}

/// Writes `s` as a JSON string literal, escaped exactly as `JSON.stringify` escapes it: `"`
/// and `\` with a backslash, the short escapes for `\b \f \n \r \t`, `\u00xx` (lowercase hex)
/// for the other control characters, and everything else as it is (a Rust string holds no
/// lone surrogates, the only other thing `JSON.stringify` escapes).
pub(crate) fn write_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    loop {
        let at = find_escape(bytes, start);
        // Escaped bytes are ASCII, so `at` is a char boundary.
        out.push_str(s.get(start..at).unwrap_or(""));
        let Some(&byte) = bytes.get(at) else {
            break;
        };
        // Pushed as characters: a copy of a two-byte string would be a call.
        out.push('\\');
        match short_escape(byte) {
            Some(letter) => out.push(letter),
            None => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("u00");
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0xf)]));
            }
        }
        start = at + 1;
    }
    out.push('"');
}

/// Writes `"key":`, the start of an object entry.
pub(crate) fn write_key(out: &mut String, key: &str) {
    write_string(out, key);
    out.push(':');
}

/// The largest magnitude below which every integral double is printed as an integer here
/// (2^53: every integer up to it is exact, and JavaScript prints them all as plain digits).
const EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0;

/// Writes a finite number as JavaScript's `Number.prototype.toString` (and so `JSON.stringify`)
/// prints it: the shortest digits that read back as the same double, ties to even, laid out
/// as ECMA-262 says (`1e+21`, `1.5e-7`, `0.000001`, `-0` as `0`).
///
/// The caller writes the protocol's forms for non-finite numbers (`["nan"]`, `["inf"]`,
/// `["-inf"]`); given one anyway, this writes `null`, as `JSON.stringify` would.
#[inline]
pub(crate) fn write_number(out: &mut String, x: f64) {
    // Within ±2^53 the `as` conversion is exact for integers, and its round trip tells them
    // from fractions (`fract` would be a libm call). Both zeros print as "0", which `as i64`
    // gives for either.
    if x.abs() < EXACT_INTEGERS && (x as i64) as f64 == x {
        write_integer(out, x as i64);
    } else if x.is_finite() {
        out.push_str(ryu_js::Buffer::new().format_finite(x));
    } else {
        out.push_str("null");
    }
}

/// Writes an integer (an id, say) in decimal.
#[inline(always)]
pub(crate) fn write_integer(out: &mut String, n: i64) {
    // Small ones (ids, counts, small numbers) are pushed as digits: no formatting call.
    match n {
        0..=9 => out.push(char::from(b'0' + n as u8)),
        10..=99 => {
            out.push(char::from(b'0' + (n / 10) as u8));
            out.push(char::from(b'0' + (n % 10) as u8));
        }
        _ => out.push_str(itoa::Buffer::new().format(n)),
    }
}

/// Writes an unsigned integer (a refcount, a path index) in decimal.
pub(crate) fn write_unsigned(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// Writes `["tag",`, the start of a form with arguments: write them separated by `,`, then
/// [`close_form`].
#[inline]
pub(crate) fn open_form(out: &mut String, tag: Tag) {
    out.push_str(tag.open());
}

/// Writes `]`, the end of a form started with [`open_form`].
pub(crate) fn close_form(out: &mut String) {
    out.push(']');
}

/// Writes `["tag"]`, a form without arguments (`["undefined"]`, `["pipe"]`).
#[inline]
pub(crate) fn bare_form(out: &mut String, tag: Tag) {
    out.push_str(tag.alone());
}

/// Writes `data` as a quoted base64 string without padding, as the reference writes the
/// `["bytes", …]` form's content (base64 needs no JSON escaping).
pub(crate) fn write_base64(out: &mut String, data: &[u8]) {
    out.push('"');
    super::b64::encode_into(data, out);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_escape_agrees_with_the_table_at_every_offset() {
        let mut text = Vec::new();
        for index in 0..600u32 {
            // Mostly plain bytes (ASCII and UTF-8 lead/continuation bytes), some special.
            let byte = match index * 7919 % 61 {
                0 => b'"',
                1 => b'\\',
                2 => (index % 0x20) as u8,
                n if n < 30 => 0x80 + (index % 0x7f) as u8,
                _ => b' ' + (index % 0x5e) as u8,
            };
            text.push(byte);
        }
        for from in 0..=text.len() {
            let expected = (from..text.len())
                .find(|&at| NEEDS_ESCAPE[usize::from(text[at])])
                .unwrap_or(text.len());
            assert_eq!(find_escape(&text, from), expected, "from {from}");
        }
    }

    #[test]
    fn strings_escape_as_json_stringify() {
        let mut out = String::new();
        write_string(
            &mut out,
            "a\"b\\c\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f}é😀\u{2028}",
        );
        assert_eq!(
            out,
            r#""a\"b\\c\n\r\t\b\f\u0001\u001f"#.to_owned() + "\u{7f}é😀\u{2028}\""
        );
    }

    #[test]
    fn numbers_print_as_javascript() {
        for (x, js) in [
            (0.0, "0"),
            (-0.0, "0"),
            (-3.0, "-3"),
            (1.5, "1.5"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (9_007_199_254_740_992.0, "9007199254740992"),
            (1.5e-7, "1.5e-7"),
            (1e-6, "0.000001"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::NAN, "null"),
            (f64::INFINITY, "null"),
        ] {
            let mut out = String::new();
            write_number(&mut out, x);
            assert_eq!(out, js);
        }
    }

    #[test]
    fn forms() {
        let mut out = String::new();
        open_form(&mut out, Tag::Bytes);
        write_base64(&mut out, b"hi");
        close_form(&mut out);
        out.push(',');
        bare_form(&mut out, Tag::Undefined);
        out.push(',');
        write_key(&mut out, "k");
        write_integer(&mut out, -7);
        out.push(',');
        write_unsigned(&mut out, u64::MAX);
        assert_eq!(
            out,
            r#"["bytes","aGk"],["undefined"],"k":-7,18446744073709551615"#
        );
    }
}
