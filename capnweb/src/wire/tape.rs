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

use super::lex::{self, skip_whitespace, unescape, Rejected};

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

/// A tokenized text.
#[derive(Debug)]
pub(super) struct Tape<'t> {
    text: &'t str,
    nodes: Vec<Node>,
}

/// The largest text a tape can index (its offsets are 32-bit, which keeps nodes small).
pub(super) const MAX_TEXT: usize = u32::MAX as usize;

/// An open container while tokenizing.
#[derive(Clone, Copy)]
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
        // A guess that rarely reallocates for small messages and stays modest for big ones.
        let mut nodes = Vec::with_capacity(text.len() / 6 + 4);
        tokenize(text, max_nesting, &mut nodes)?;
        Ok(Tape { text, nodes })
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

/// Tokenizes `text` onto `nodes`, refusing containers nested deeper than `max_nesting`.
///
/// One loop, no recursion: the containers being filled are kept on a stack, the innermost in
/// locals. Positions are `usize` here and stored as `u32` (the caller checked the length).
fn tokenize(text: &str, max_nesting: usize, nodes: &mut Vec<Node>) -> Result<(), Rejected> {
    let bytes = text.as_bytes();
    // The enclosing containers, and the innermost one (`top`, when `depth > 0`).
    let mut enclosing: Vec<Open> = Vec::new();
    let mut top = Open {
        node: 0,
        len: 0,
        object: false,
    };
    let mut depth = 0usize;
    let mut at = skip_whitespace(bytes, 0);
    'value: loop {
        // A value starts at `at`.
        match bytes.get(at) {
            Some(&opener @ (b'[' | b'{')) => {
                if depth >= max_nesting {
                    return Err(Rejected);
                }
                let object = opener == b'{';
                if depth > 0 {
                    enclosing.push(top);
                }
                depth += 1;
                top = Open {
                    node: nodes.len(),
                    len: 0,
                    object,
                };
                nodes.push(if object {
                    Node::Object { len: 0, end: 0 }
                } else {
                    Node::Array { len: 0, end: 0 }
                });
                at = skip_whitespace(bytes, at + 1);
                let closer = if object { b'}' } else { b']' };
                if bytes.get(at) != Some(&closer) {
                    if object {
                        at = key(bytes, at, nodes)?;
                    }
                    continue 'value;
                }
                // Empty: the closer is handled below, as after any last element.
            }
            Some(b'"') => at = string(bytes, at, nodes)?,
            Some(b'-' | b'0'..=b'9') => at = number(text, at, nodes)?,
            Some(b't') => at = literal(bytes, at, b"true", Node::Bool(true), nodes)?,
            Some(b'f') => at = literal(bytes, at, b"false", Node::Bool(false), nodes)?,
            Some(b'n') => at = literal(bytes, at, b"null", Node::Null, nodes)?,
            _ => return Err(Rejected),
        }
        // A value just ended (or an empty container opened): close containers until one
        // takes another element.
        loop {
            at = skip_whitespace(bytes, at);
            if depth == 0 {
                return if at == bytes.len() {
                    Ok(())
                } else {
                    Err(Rejected)
                };
            }
            match bytes.get(at) {
                Some(b',') => {
                    top.len += 1;
                    at = skip_whitespace(bytes, at + 1);
                    if top.object {
                        at = key(bytes, at, nodes)?;
                    }
                    continue 'value;
                }
                Some(&closer) if closer == if top.object { b'}' } else { b']' } => {
                    at += 1;
                    // Every element adds a node: none since the opener means empty.
                    let len = if top.node + 1 == nodes.len() {
                        0
                    } else {
                        top.len + 1
                    };
                    let end = nodes.len() as u32;
                    if let Some(slot) = nodes.get_mut(top.node) {
                        *slot = if top.object {
                            Node::Object { len, end }
                        } else {
                            Node::Array { len, end }
                        };
                    }
                    depth -= 1;
                    if let Some(outer) = enclosing.pop() {
                        top = outer;
                    }
                }
                _ => return Err(Rejected),
            }
        }
    }
}

/// An object key (a string) at `at`, then the `:` before its value; returns where the value
/// may start.
#[inline(always)]
fn key(bytes: &[u8], at: usize, nodes: &mut Vec<Node>) -> Result<usize, Rejected> {
    if bytes.get(at) != Some(&b'"') {
        return Err(Rejected);
    }
    let at = skip_whitespace(bytes, string(bytes, at, nodes)?);
    if bytes.get(at) != Some(&b':') {
        return Err(Rejected);
    }
    Ok(skip_whitespace(bytes, at + 1))
}

fn literal(
    bytes: &[u8],
    at: usize,
    word: &[u8],
    node: Node,
    nodes: &mut Vec<Node>,
) -> Result<usize, Rejected> {
    let end = lex::literal(bytes, at, word)?;
    nodes.push(node);
    Ok(end)
}

/// A string token at `at` (its opening quote) onto the tape.
#[inline(always)]
fn string(bytes: &[u8], at: usize, nodes: &mut Vec<Node>) -> Result<usize, Rejected> {
    let (end, escaped) = lex::string(bytes, at)?;
    nodes.push(Node::String {
        start: (at + 1) as u32,
        end: end as u32,
        escaped,
    });
    Ok(end + 1)
}

/// A number token at `at` onto the tape.
#[inline(always)]
fn number(text: &str, at: usize, nodes: &mut Vec<Node>) -> Result<usize, Rejected> {
    let (value, end) = lex::number(text, at)?;
    nodes.push(Node::Number {
        value,
        start: at as u32,
    });
    Ok(end)
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
