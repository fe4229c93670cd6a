//! JSON text to a flat tape of tokens, in one pass and without recursion.
//!
//! The tape is an index over the text, not a tree: one 16-byte [`Node`] per JSON value, in
//! document order, each container recording its element count and where its contents end.
//! Strings stay in the text until the converter copies them out, so a message costs one
//! allocation here whatever its shape. With the counts known up front, the converter checks
//! arities and looks at elements in the order the protocol's error messages need.
//!
//! The tokenizer accepts exactly the JSON that serde_json accepts (numbers too large for a
//! double, lone surrogate escapes and raw control characters are refused), but says nothing
//! about why it refuses: errors are rare, so the caller asks serde_json for its message then.

use std::borrow::Cow;

use super::text::find_escape;

/// One JSON value on the tape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Node {
    Null,
    Bool(bool),
    /// A number as JavaScript holds it (a double), and where its text starts (error messages
    /// quote it exactly, and ids are checked exactly when the double is not).
    Number {
        value: f64,
        start: u32,
    },
    /// A string's text between its quotes, and whether that has escapes to decode.
    String {
        start: u32,
        end: u32,
        escaped: bool,
    },
    /// An array: its element count, and the index of the first node after its contents.
    Array {
        len: u32,
        end: u32,
    },
    /// An object: its entry count (each entry is a key string node, then the value's nodes),
    /// and the index of the first node after its contents.
    Object {
        len: u32,
        end: u32,
    },
}

/// The text is not JSON (or nests deeper than the bound): the caller finds out why.
#[derive(Debug)]
pub(super) struct Rejected;

/// A tokenized text.
#[derive(Debug)]
pub(super) struct Tape<'t> {
    text: &'t str,
    nodes: Vec<Node>,
}

/// The largest text a tape can index (its offsets are 32-bit, which keeps nodes small).
pub(super) const MAX_TEXT: usize = u32::MAX as usize;

/// An open container while tokenizing.
struct Open {
    node: usize,
    len: u32,
    object: bool,
}

impl<'t> Tape<'t> {
    /// Tokenizes `text`, refusing containers nested deeper than `max_nesting`.
    /// `text` must be at most [`MAX_TEXT`] bytes long.
    pub(super) fn parse(text: &'t str, max_nesting: usize) -> Result<Tape<'t>, Rejected> {
        if text.len() > MAX_TEXT {
            return Err(Rejected);
        }
        let mut lexer = Lexer {
            bytes: text.as_bytes(),
            text,
            at: 0,
            // A guess that rarely reallocates for small messages and stays modest for big ones.
            nodes: Vec::with_capacity(text.len() / 6 + 4),
        };
        lexer.run(max_nesting)?;
        Ok(Tape {
            text,
            nodes: lexer.nodes,
        })
    }

    /// The node at `at` (`null` past the end, which callers never ask for).
    #[inline]
    pub(super) fn node(&self, at: usize) -> Node {
        self.nodes.get(at).copied().unwrap_or(Node::Null)
    }

    /// The index of the first node after the value at `at`.
    #[inline]
    pub(super) fn skip(&self, at: usize) -> usize {
        match self.node(at) {
            Node::Array { end, .. } | Node::Object { end, .. } => end as usize,
            _ => at + 1,
        }
    }

    /// The values of the array at `at` (nothing if it is not an array).
    #[inline]
    pub(super) fn elements(&self, at: usize) -> Elements<'_, 't> {
        let left = match self.node(at) {
            Node::Array { len, .. } => len as usize,
            _ => 0,
        };
        Elements {
            tape: self,
            next: at + 1,
            left,
        }
    }

    /// The `(key, value)` node indices of the object at `at`, in document order, duplicates
    /// included (nothing if it is not an object).
    #[inline]
    pub(super) fn entries(&self, at: usize) -> Entries<'_, 't> {
        let left = match self.node(at) {
            Node::Object { len, .. } => len as usize,
            _ => 0,
        };
        Entries {
            tape: self,
            next: at + 1,
            left,
        }
    }

    /// The decoded text of the string at `at` (empty if it is not a string).
    pub(super) fn str(&self, at: usize) -> Cow<'t, str> {
        let Node::String {
            start,
            end,
            escaped,
        } = self.node(at)
        else {
            return Cow::Borrowed("");
        };
        let raw = self.text.get(start as usize..end as usize).unwrap_or("");
        if escaped {
            Cow::Owned(unescape(raw))
        } else {
            Cow::Borrowed(raw)
        }
    }

    /// Whether the strings at `a` and `b` have the same decoded text.
    pub(super) fn same_str(&self, a: usize, b: usize) -> bool {
        match (self.node(a), self.node(b)) {
            (
                Node::String {
                    start: sa,
                    end: ea,
                    escaped: false,
                },
                Node::String {
                    start: sb,
                    end: eb,
                    escaped: false,
                },
            ) => self.text.get(sa as usize..ea as usize) == self.text.get(sb as usize..eb as usize),
            _ => self.str(a) == self.str(b),
        }
    }

    /// The source text of the number at `at` (empty if it is not a number).
    pub(super) fn number_text(&self, at: usize) -> &'t str {
        let Node::Number { start, .. } = self.node(at) else {
            return "";
        };
        let rest = self.text.get(start as usize..).unwrap_or("");
        let len = rest
            .bytes()
            .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
            .unwrap_or(rest.len());
        rest.get(..len).unwrap_or("")
    }
}

/// The element indices of an array.
pub(super) struct Elements<'a, 't> {
    tape: &'a Tape<'t>,
    next: usize,
    left: usize,
}

impl Iterator for Elements<'_, '_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let at = self.next;
        self.next = self.tape.skip(at);
        Some(at)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Elements<'_, '_> {}

/// The `(key, value)` indices of an object's entries.
pub(super) struct Entries<'a, 't> {
    tape: &'a Tape<'t>,
    next: usize,
    left: usize,
}

impl Iterator for Entries<'_, '_> {
    type Item = (usize, usize);

    #[inline]
    fn next(&mut self) -> Option<(usize, usize)> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let key = self.next;
        let value = key + 1;
        self.next = self.tape.skip(value);
        Some((key, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Entries<'_, '_> {}

struct Lexer<'t> {
    bytes: &'t [u8],
    text: &'t str,
    at: usize,
    nodes: Vec<Node>,
}

impl Lexer<'_> {
    fn run(&mut self, max_nesting: usize) -> Result<(), Rejected> {
        let mut open: Vec<Open> = Vec::new();
        'value: loop {
            // One value starts here.
            self.skip_whitespace();
            match self.peek() {
                Some(b'[') => {
                    self.at += 1;
                    if open.len() >= max_nesting {
                        return Err(Rejected);
                    }
                    open.push(Open {
                        node: self.nodes.len(),
                        len: 0,
                        object: false,
                    });
                    self.nodes.push(Node::Array { len: 0, end: 0 });
                    self.skip_whitespace();
                    if self.peek() != Some(b']') {
                        continue 'value;
                    }
                    // An empty array: closed by the loop below.
                }
                Some(b'{') => {
                    self.at += 1;
                    if open.len() >= max_nesting {
                        return Err(Rejected);
                    }
                    open.push(Open {
                        node: self.nodes.len(),
                        len: 0,
                        object: true,
                    });
                    self.nodes.push(Node::Object { len: 0, end: 0 });
                    self.skip_whitespace();
                    if self.peek() != Some(b'}') {
                        self.key()?;
                        continue 'value;
                    }
                }
                Some(b'"') => self.string()?,
                Some(b'-' | b'0'..=b'9') => self.number()?,
                Some(b't') => self.literal(b"true", Node::Bool(true))?,
                Some(b'f') => self.literal(b"false", Node::Bool(false))?,
                Some(b'n') => self.literal(b"null", Node::Null)?,
                _ => return Err(Rejected),
            }
            // A value just ended (a scalar, or an opened container whose closer is next):
            // close containers until one takes another element.
            loop {
                self.skip_whitespace();
                let Some(top) = open.last_mut() else {
                    return if self.at == self.bytes.len() {
                        Ok(())
                    } else {
                        Err(Rejected)
                    };
                };
                let closer = if top.object { b'}' } else { b']' };
                match self.peek() {
                    Some(b',') => {
                        self.at += 1;
                        top.len += 1;
                        if top.object {
                            self.skip_whitespace();
                            self.key()?;
                        }
                        continue 'value;
                    }
                    Some(byte) if byte == closer => {
                        self.at += 1;
                        // Every element adds a node: none since the opener means empty.
                        let empty = top.node + 1 == self.nodes.len();
                        let len = if empty { 0 } else { top.len + 1 };
                        let end = u32::try_from(self.nodes.len()).map_err(|_| Rejected)?;
                        let node = top.node;
                        if let Some(slot) = self.nodes.get_mut(node) {
                            *slot = if top.object {
                                Node::Object { len, end }
                            } else {
                                Node::Array { len, end }
                            };
                        }
                        open.pop();
                    }
                    _ => return Err(Rejected),
                }
            }
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    #[inline]
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn offset(&self) -> Result<u32, Rejected> {
        u32::try_from(self.at).map_err(|_| Rejected)
    }

    /// An object key (a string), then the `:` before its value.
    fn key(&mut self) -> Result<(), Rejected> {
        if self.peek() != Some(b'"') {
            return Err(Rejected);
        }
        self.string()?;
        self.skip_whitespace();
        if self.peek() != Some(b':') {
            return Err(Rejected);
        }
        self.at += 1;
        Ok(())
    }

    fn literal(&mut self, word: &[u8], node: Node) -> Result<(), Rejected> {
        if self.bytes.get(self.at..self.at + word.len()) != Some(word) {
            return Err(Rejected);
        }
        self.at += word.len();
        self.nodes.push(node);
        Ok(())
    }

    /// A string, from its opening quote.
    fn string(&mut self) -> Result<(), Rejected> {
        self.at += 1;
        let start = self.offset()?;
        let mut escaped = false;
        loop {
            self.at = find_escape(self.bytes, self.at);
            match self.peek() {
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    self.at += 1;
                    self.escape()?;
                }
                // A raw control character, or the end of the text.
                _ => return Err(Rejected),
            }
        }
        let end = self.offset()?;
        self.at += 1;
        self.nodes.push(Node::String {
            start,
            end,
            escaped,
        });
        Ok(())
    }

    /// One escape, after its backslash; `\u` surrogates must come in pairs.
    fn escape(&mut self) -> Result<(), Rejected> {
        let byte = self.peek().ok_or(Rejected)?;
        self.at += 1;
        match byte {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Ok(()),
            b'u' => match self.hex4()? {
                0xDC00..=0xDFFF => Err(Rejected),
                0xD800..=0xDBFF => {
                    if self.bytes.get(self.at..self.at + 2) != Some(b"\\u") {
                        return Err(Rejected);
                    }
                    self.at += 2;
                    match self.hex4()? {
                        0xDC00..=0xDFFF => Ok(()),
                        _ => Err(Rejected),
                    }
                }
                _ => Ok(()),
            },
            _ => Err(Rejected),
        }
    }

    fn hex4(&mut self) -> Result<u32, Rejected> {
        let digits = self.bytes.get(self.at..self.at + 4).ok_or(Rejected)?;
        let mut value = 0;
        for &digit in digits {
            value = value * 16 + char::from(digit).to_digit(16).ok_or(Rejected)?;
        }
        self.at += 4;
        Ok(value)
    }

    /// A number: JSON's grammar, held as the double JavaScript's `JSON.parse` makes of it.
    fn number(&mut self) -> Result<(), Rejected> {
        let start = self.at;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        // Integer part: 0, or digits not starting with 0.
        let int_start = self.at;
        let mut significand: u64 = 0;
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                while let Some(digit @ b'0'..=b'9') = self.peek() {
                    significand = significand
                        .wrapping_mul(10)
                        .wrapping_add(u64::from(digit - b'0'));
                    self.at += 1;
                }
            }
            _ => return Err(Rejected),
        }
        let int_digits = self.at - int_start;
        let mut integral = true;
        if self.peek() == Some(b'.') {
            integral = false;
            self.at += 1;
            self.digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            integral = false;
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.digits()?;
        }
        // 0 followed by more digits (`01`) is not JSON; the caller sees a digit after a value.
        let value = if integral && int_digits <= 19 {
            // Up to 19 digits fit a u64 exactly, and `as f64` rounds it correctly.
            let magnitude = significand as f64;
            if negative {
                -magnitude
            } else {
                magnitude
            }
        } else {
            parse_float(self.text.get(start..self.at).ok_or(Rejected)?)?
        };
        self.nodes.push(Node::Number {
            value,
            start: u32::try_from(start).map_err(|_| Rejected)?,
        });
        Ok(())
    }

    /// One or more digits.
    fn digits(&mut self) -> Result<(), Rejected> {
        let from = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        if self.at == from {
            Err(Rejected)
        } else {
            Ok(())
        }
    }
}

/// A JSON number's text (already checked against the grammar) as the correctly rounded
/// double, by serde_json's parser (which the protocol's numbers were always read with).
/// Too large for a double is refused, as serde_json refuses it.
fn parse_float(text: &str) -> Result<f64, Rejected> {
    serde_json::from_str::<f64>(text).map_err(|_| Rejected)
}

/// Decodes a string's escapes (already validated by the tokenizer; anything else is kept).
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(backslash) = rest.find('\\') {
        out.push_str(rest.get(..backslash).unwrap_or(""));
        let escape = rest.get(backslash + 1..).unwrap_or("");
        let mut used = 1;
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
                        // A validated pair: `\uD8xx\uDCxx`.
                        used += 6;
                        let low = hex_at(escape, 7);
                        0x1_0000 + ((high - 0xD800) << 10) + (low.wrapping_sub(0xDC00) & 0x3FF)
                    }
                    _ => high,
                };
                used += 4;
                out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            _ => used = 0,
        }
        rest = escape.get(used..).unwrap_or("");
    }
    out.push_str(rest);
    out
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

    fn nodes(text: &str) -> Vec<Node> {
        Tape::parse(text, 64)
            .map(|tape| tape.nodes)
            .unwrap_or_default()
    }

    #[test]
    fn containers_record_their_counts_and_ends() {
        assert_eq!(
            nodes(r#" [ 1 , [ ] , { "a" : null } ] "#),
            vec![
                Node::Array { len: 3, end: 6 },
                Node::Number {
                    value: 1.0,
                    start: 3
                },
                Node::Array { len: 0, end: 3 },
                Node::Object { len: 1, end: 6 },
                Node::String {
                    start: 16,
                    end: 17,
                    escaped: false
                },
                Node::Null,
            ]
        );
        assert_eq!(nodes("{}"), vec![Node::Object { len: 0, end: 1 }]);
        assert_eq!(
            nodes("[[]]"),
            vec![
                Node::Array { len: 1, end: 2 },
                Node::Array { len: 0, end: 2 }
            ]
        );
    }

    #[test]
    fn escapes_decode() {
        let text = r#""a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00\u0000z""#;
        let tape = Tape::parse(text, 8).expect("valid");
        assert_eq!(tape.str(0), "a\"b\\c/d\u{8}\u{c}\n\r\té😀\u{0}z");
        assert_eq!(
            serde_json::from_str::<String>(text).ok().as_deref(),
            Some(&*tape.str(0))
        );
    }

    #[test]
    fn what_serde_json_refuses_is_refused() {
        for text in [
            "",
            " ",
            "[",
            "]",
            "[1,]",
            "[,1]",
            "{\"a\"}",
            "{\"a\":}",
            "{1:2}",
            "{\"a\":1,}",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "1e+",
            "+1",
            "tru",
            "nul",
            "1 2",
            "\"\\x\"",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"\\ud800\\u0041\"",
            "\"\\u12\"",
            "\"a\nb\"",
            "\"abc",
            "1e400",
            "-1e400",
            "[1}",
            "{\"a\":1]",
            "[1 2]",
            "\u{feff}1",
        ] {
            assert!(Tape::parse(text, 64).is_err(), "{text:?} accepted");
            assert!(
                serde_json::from_str::<serde_json::Value>(text).is_err(),
                "test bug: serde_json accepts {text:?}"
            );
        }
    }

    #[test]
    fn numbers_are_the_doubles_serde_json_reads() {
        for text in [
            "0",
            "-0",
            "1",
            "-1",
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
            "123456789012345678901234567890",
            "1.7976931348623157e308",
            "4.9e-324",
        ] {
            let tape = Tape::parse(text, 8).expect("valid");
            let Node::Number { value, .. } = tape.node(0) else {
                panic!("{text}: {:?}", tape.node(0));
            };
            let expected: f64 = serde_json::from_str(text).expect("serde_json reads it");
            assert_eq!(value.to_bits(), expected.to_bits(), "{text}");
            assert_eq!(tape.number_text(0), text);
        }
    }

    #[test]
    fn nesting_is_bounded() {
        assert!(Tape::parse("[[[]]]", 3).is_ok());
        assert!(Tape::parse("[[[[]]]]", 3).is_err());
        assert!(Tape::parse(r#"{"a":{"b":{}}}"#, 3).is_ok());
        assert!(Tape::parse(r#"{"a":{"b":{"c":{}}}}"#, 3).is_err());
    }
}
