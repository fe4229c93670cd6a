//! JSON's tokens — whitespace, strings, numbers, literals — read exactly as serde_json reads
//! them (the protocol's text was always read with it): numbers too large for a double, lone
//! surrogate escapes and raw control characters are refused.
//!
//! Each function reads one token at a position and returns where it ends; none says why it
//! refuses (the caller asks serde_json for its message then, on that cold path).

use super::text::find_escape;

/// The text is not JSON: the caller finds out why.
#[derive(Debug)]
pub(super) struct Rejected;

/// The byte at `at`, or 0 past the end (0 never starts or continues a token).
#[inline(always)]
pub(super) fn byte(bytes: &[u8], at: usize) -> u8 {
    bytes.get(at).copied().unwrap_or(0)
}

/// The position of the first byte at or after `at` that is not JSON whitespace.
#[inline(always)]
pub(super) fn skip_whitespace(bytes: &[u8], mut at: usize) -> usize {
    while let b' ' | b'\n' | b'\t' | b'\r' = byte(bytes, at) {
        at += 1;
    }
    at
}

/// `word` (`true`, `false`, `null`) at `at`; returns the position after it.
#[inline(always)]
pub(super) fn literal(bytes: &[u8], at: usize, word: &[u8]) -> Result<usize, Rejected> {
    if bytes.get(at..at + word.len()) == Some(word) {
        Ok(at + word.len())
    } else {
        Err(Rejected)
    }
}

/// A string from its opening quote at `at`: returns the position of its closing quote, and
/// whether it has escapes to decode.
#[inline(always)]
pub(super) fn string(bytes: &[u8], at: usize) -> Result<(usize, bool), Rejected> {
    let mut at = at + 1;
    let mut escaped = false;
    loop {
        at = find_escape(bytes, at);
        match byte(bytes, at) {
            b'"' => return Ok((at, escaped)),
            b'\\' => {
                escaped = true;
                at = escape(bytes, at + 1)?;
            }
            // A raw control character, or the end of the text.
            _ => return Err(Rejected),
        }
    }
}

/// One escape, from just after its backslash; `\u` surrogates must come in pairs. Returns the
/// position after it.
#[cold]
fn escape(bytes: &[u8], at: usize) -> Result<usize, Rejected> {
    match byte(bytes, at) {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Ok(at + 1),
        b'u' => match hex4(bytes, at + 1)? {
            0xDC00..=0xDFFF => Err(Rejected),
            0xD800..=0xDBFF => {
                if bytes.get(at + 5..at + 7) != Some(b"\\u") {
                    return Err(Rejected);
                }
                match hex4(bytes, at + 7)? {
                    0xDC00..=0xDFFF => Ok(at + 11),
                    _ => Err(Rejected),
                }
            }
            _ => Ok(at + 5),
        },
        _ => Err(Rejected),
    }
}

fn hex4(bytes: &[u8], at: usize) -> Result<u32, Rejected> {
    let digits = bytes.get(at..at + 4).ok_or(Rejected)?;
    let mut value = 0;
    for &digit in digits {
        value = value * 16 + char::from(digit).to_digit(16).ok_or(Rejected)?;
    }
    Ok(value)
}

/// A number at `start`: JSON's grammar, read as the double JavaScript's `JSON.parse` makes of
/// it. Returns the double and the position after the number.
///
/// (`01` is left for the caller to refuse: it finds a digit where a separator must be.)
#[inline(always)]
pub(super) fn number(text: &str, start: usize) -> Result<(f64, usize), Rejected> {
    let bytes = text.as_bytes();
    let negative = byte(bytes, start) == b'-';
    let int_start = start + usize::from(negative);
    let first = byte(bytes, int_start).wrapping_sub(b'0');
    if first > 9 {
        return Err(Rejected);
    }
    let mut at = int_start + 1;
    let mut significand = u64::from(first);
    if first != 0 {
        loop {
            let digit = byte(bytes, at).wrapping_sub(b'0');
            if digit > 9 {
                break;
            }
            significand = significand.wrapping_mul(10).wrapping_add(u64::from(digit));
            at += 1;
        }
    }
    let next = byte(bytes, at);
    if next != b'.' && next | 0x20 != b'e' && at - int_start <= 18 {
        // The common case, a short integer: exact in an i64, and rounded correctly to a double.
        let magnitude = significand as i64 as f64;
        return Ok((if negative { -magnitude } else { magnitude }, at));
    }
    long_number(text, start, at - int_start, significand)
}

/// A number with a fraction, an exponent or more than 18 integer digits: its grammar checked
/// here, its value read by fast-float2 (correctly rounded, as serde_json's reading is, so the
/// same double), and refused beyond a double's range as serde_json refuses it.
#[inline(never)]
fn long_number(
    text: &str,
    start: usize,
    int_digits: usize,
    significand: u64,
) -> Result<(f64, usize), Rejected> {
    let bytes = text.as_bytes();
    let mut at = start + usize::from(byte(bytes, start) == b'-') + int_digits;
    let mut integral = true;
    if byte(bytes, at) == b'.' {
        integral = false;
        at = digits(bytes, at + 1)?;
    }
    if byte(bytes, at) | 0x20 == b'e' {
        integral = false;
        at += 1;
        if let b'+' | b'-' = byte(bytes, at) {
            at += 1;
        }
        at = digits(bytes, at)?;
    }
    let value = if integral && int_digits <= 19 {
        // 19 digits still fit a u64 exactly, and `as f64` rounds it correctly.
        let magnitude = significand as f64;
        if byte(bytes, start) == b'-' {
            -magnitude
        } else {
            magnitude
        }
    } else {
        let text = text.get(start..at).ok_or(Rejected)?;
        let value: f64 = fast_float2::parse(text).map_err(|_| Rejected)?;
        if !value.is_finite() {
            return Err(Rejected);
        }
        value
    };
    Ok((value, at))
}

/// One or more digits at `from`; returns the position after them.
fn digits(bytes: &[u8], from: usize) -> Result<usize, Rejected> {
    let mut at = from;
    while byte(bytes, at).is_ascii_digit() {
        at += 1;
    }
    if at == from {
        Err(Rejected)
    } else {
        Ok(at)
    }
}

/// A string from its opening quote at `at`, validated and decoded in one pass: its text, and
/// the position after its closing quote.
#[inline(always)]
pub(super) fn decoded_string(text: &str, at: usize) -> Result<(String, usize), Rejected> {
    let bytes = text.as_bytes();
    let start = at + 1;
    let stop = find_escape(bytes, start);
    match byte(bytes, stop) {
        // The usual case: no escapes, one copy.
        b'"' => Ok((text.get(start..stop).ok_or(Rejected)?.to_owned(), stop + 1)),
        b'\\' => escaped_string(text, start, stop),
        _ => Err(Rejected),
    }
}

/// The rest of [`decoded_string`] from its first escape (at `stop`).
#[inline(never)]
fn escaped_string(text: &str, start: usize, mut stop: usize) -> Result<(String, usize), Rejected> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(2 * (stop - start) + 16);
    let mut run = start;
    loop {
        out.push_str(text.get(run..stop).ok_or(Rejected)?);
        match byte(bytes, stop) {
            b'"' => return Ok((out, stop + 1)),
            b'\\' => {
                let end = escape(bytes, stop + 1)?;
                push_escape(&mut out, text.get(stop + 1..end).unwrap_or(""));
                run = end;
            }
            _ => return Err(Rejected),
        }
        stop = find_escape(bytes, run);
    }
}

/// Decodes a string's escapes (already validated by [`string`]).
pub(super) fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    // In a validated string the only byte `find_escape` stops at is a backslash (quotes and
    // control characters cannot be there).
    loop {
        let backslash = find_escape(rest.as_bytes(), 0);
        if backslash == rest.len() {
            break;
        }
        out.push_str(rest.get(..backslash).unwrap_or(""));
        let escape = rest.get(backslash + 1..).unwrap_or("");
        let used = match escape.as_bytes() {
            // A validated pair: `\uD8xx\uDCxx`.
            [b'u', b'd' | b'D', b'8'..=b'9' | b'a'..=b'b' | b'A'..=b'B', ..] => 11,
            [b'u', ..] => 5,
            _ => 1,
        };
        push_escape(&mut out, escape.get(..used).unwrap_or(escape));
        rest = escape.get(used..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// Appends what one validated escape stands for; `escape` is its text after the backslash
/// (`n`, `u00e9`, or a surrogate pair `ud83d\ude00`).
fn push_escape(out: &mut String, escape: &str) {
    match escape.as_bytes().first() {
        Some(b'"') => out.push('"'),
        Some(b'\\') => out.push('\\'),
        Some(b'/') => out.push('/'),
        Some(b'b') => out.push('\u{8}'),
        Some(b'f') => out.push('\u{c}'),
        Some(b'n') => out.push('\n'),
        Some(b'r') => out.push('\r'),
        Some(b't') => out.push('\t'),
        Some(b'u') => {
            let high = hex_at(escape, 1);
            let code = match high {
                0xD800..=0xDBFF => {
                    let low = hex_at(escape, 7);
                    0x1_0000 + ((high - 0xD800) << 10) + (low.wrapping_sub(0xDC00) & 0x3FF)
                }
                _ => high,
            };
            out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
        }
        _ => {}
    }
}

/// The four hex digits at `at` in `text` (0 where they are not hex digits).
fn hex_at(text: &str, at: usize) -> u32 {
    text.get(at..at + 4)
        .and_then(|digits| u32::from_str_radix(digits, 16).ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_the_doubles_serde_json_reads() {
        for text in [
            "0",
            "-0",
            "1",
            "-1",
            "12",
            "999999999999999999",
            "1000000000000000000",
            "9999999999999999999",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "9007199254740993",
            "1.5",
            "-0.0",
            "1e-400",
            "1E2",
            "2.5e+3",
            "0.1",
            "0e5",
            "123456789012345678901234567890",
            "1.7976931348623157e308",
            "4.9e-324",
            "0.000001",
            "-12.5e-3",
        ] {
            let (value, end) = number(text, 0).expect("valid");
            let expected: f64 = serde_json::from_str(text).expect("serde_json reads it");
            assert_eq!(value.to_bits(), expected.to_bits(), "{text}");
            assert_eq!(end, text.len(), "{text}");
        }
        for text in [
            "-", "+1", ".5", "1.", "1e", "1e+", "1.e5", "-a", "1e400", "-1e400",
        ] {
            let whole = number(text, 0).is_ok_and(|(_, end)| end == text.len());
            assert!(!whole, "{text} accepted");
        }
    }

    #[test]
    fn escapes_decode_as_serde_json_decodes_them() {
        let text = r#""a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00\u0000z""#;
        let (end, escaped) = string(text.as_bytes(), 0).expect("valid");
        assert!(escaped);
        assert_eq!(end, text.len() - 1);
        let expected: String = serde_json::from_str(text).expect("valid");
        assert_eq!(unescape(&text[1..end]), expected);
        assert_eq!(decoded_string(text, 0).ok(), Some((expected, text.len())));
        for bad in [
            r#""\x""#,
            r#""\ud800""#,
            r#""\udc00""#,
            r#""\ud800\u0041""#,
            r#""\u12""#,
        ] {
            assert!(string(bad.as_bytes(), 0).is_err(), "{bad}");
        }
        assert!(string(b"\"a\nb\"", 0).is_err());
        assert!(string(b"\"abc", 0).is_err());
    }
}
