//! Strict parsing of message text into [`Message`] and [`Expr`].
//!
//! The size limit is checked first, on the raw text. Then the [fast path](super::fast) tries
//! the text in one pass; it accepts only what this module would, and gives up on anything
//! else. What it gives up on is parsed here, strictly, in two steps: the text is tokenized onto
//! a flat [`Tape`] (which bounds the bracket nesting as it goes), and the tape is converted into
//! the protocol's types with every check made in the protocol's order (the arity before the
//! elements, say), which the tape's element counts allow. No JSON tree is built on either path.
//! Every error names the problem and the place it was found, e.g.
//! `at message[1][2]: expected a property path …, found an object`; the path is collected only
//! while a failure unwinds.
//!
//! Text the tokenizer refuses is explained afterwards, on that cold path: by the nesting scan
//! if it nests too deep, otherwise by serde_json's own message for the syntax error.

use std::borrow::Cow;
use std::collections::HashSet;

use serde::Deserialize as _;
use serde_json::{Map, Number, Value};

use super::error::{arity_error, quote, AtIndex as _, Fail, WireError, WireErrorKind};
use super::fast;
use super::limits::{nesting_bound, Limit, MAX_JSON_NESTING, MAX_SAFE_ID, PAIRWISE_KEYS};
use super::tag::Tag;
use super::tape::{Node, Tape, MAX_TEXT};
use super::{
    BytesKind, Capture, ErrorForm, Expr, FetchInit, Limits, Message, Path, PathKey, ReferenceForm,
    RemapForm, RequestForm, ResponseForm,
};

pub(crate) fn parse_message(text: &str, limits: &Limits) -> Result<Message, WireError> {
    check_size(text.as_bytes(), limits, "message")?;
    message_from_text(text, limits)
}

pub(crate) fn parse_message_bytes(bytes: &[u8], limits: &Limits) -> Result<Message, WireError> {
    check_size(bytes, limits, "message")?;
    let text = simdutf8::compat::from_utf8(bytes).map_err(|err| {
        WireError::new(
            WireErrorKind::Malformed,
            format!("message is not valid UTF-8: {err}"),
        )
    })?;
    message_from_text(text, limits)
}

pub(crate) fn parse_expr(text: &str, limits: &Limits) -> Result<Expr, WireError> {
    check_size(text.as_bytes(), limits, "expression")?;
    check_length(text)?;
    if let Some(expr) = fast::expr(text, limits) {
        return Ok(expr);
    }
    let tape = tokenize(text, limits)?;
    Converter::new(&tape, limits)
        .expr(0, 0)
        .map_err(|fail| fail.into_wire_error("expr"))
}

/// The fast path first; whatever it does not accept, the strict path decides and explains.
fn message_from_text(text: &str, limits: &Limits) -> Result<Message, WireError> {
    check_length(text)?;
    match fast::message(text, limits) {
        Some(message) => Ok(message),
        None => strict_message(text, limits),
    }
}

/// The strict path: tokens onto a tape, then a conversion that checks everything in the
/// protocol's order and explains what it refuses.
pub(super) fn strict_message(text: &str, limits: &Limits) -> Result<Message, WireError> {
    let tape = tokenize(text, limits)?;
    Converter::new(&tape, limits)
        .message(0)
        .map_err(|fail| fail.into_wire_error("message"))
}

// ---------------------------------------------------------------------------------------------
// Steps 1 and 2: size, then tokens (with the nesting bound).

/// The size limit counts UTF-16 code units, as JavaScript's `string.length` does.
fn check_size(text: &[u8], limits: &Limits, what: &str) -> Result<(), WireError> {
    // A UTF-8 byte never stands for more than one UTF-16 unit, so short texts need no count.
    if text.len() <= limits.max_message_size {
        return Ok(());
    }
    let units = utf16_len(text);
    if units <= limits.max_message_size {
        return Ok(());
    }
    Err(WireError::exceeded(
        Limit::MessageSize,
        limits.max_message_size,
        format!(
            "the {what} is {units} UTF-16 code units long, more than the limit of {}",
            limits.max_message_size
        ),
    ))
}

/// The UTF-16 length of UTF-8 text, counted on its bytes: each character has one byte that is
/// not a continuation byte, and the four-byte ones (lead byte 0xF0 and up) take two units.
/// (On invalid UTF-8 this is still a fair count, so the size is checked before validity.)
fn utf16_len(text: &[u8]) -> usize {
    text.iter()
        .map(|&byte| usize::from(byte & 0xC0 != 0x80) + usize::from(byte >= 0xF0))
        .sum()
}

/// The tape indexes texts up to [`MAX_TEXT`] bytes (4 GiB), whatever the size limit says.
fn check_length(text: &str) -> Result<(), WireError> {
    if text.len() <= MAX_TEXT {
        return Ok(());
    }
    Err(WireError::exceeded(
        Limit::TextLength,
        MAX_TEXT,
        format!(
            "the message is {} bytes long, more than the {MAX_TEXT} bytes this \
             implementation reads whatever its limits",
            text.len()
        ),
    ))
}

fn tokenize<'t>(text: &'t str, limits: &Limits) -> Result<Tape<'t>, WireError> {
    let (bound, _) = nesting_bound(limits);
    Tape::parse(text, bound).map_err(|_| explain_rejection(text, limits))
}

/// Why the tokenizer refused `text`: too deep, or the syntax error serde_json reports.
#[cold]
#[inline(never)]
fn explain_rejection(text: &str, limits: &Limits) -> WireError {
    // The nesting scan runs first over the whole text, so a deep text reports its depth even
    // when it is also malformed further on.
    let nesting = match check_nesting(text, limits) {
        Ok(nesting) => nesting,
        Err(err) => return err,
    };
    let parse = || {
        let mut de = serde_json::Deserializer::from_str(text);
        // Safe: `check_nesting` has bounded how deep serde_json can recurse, and a deep text
        // is parsed on a stack grown to fit it.
        de.disable_recursion_limit();
        Value::deserialize(&mut de).and_then(|_| de.end())
    };
    let result = if nesting > SHALLOW_NESTING {
        stacker::grow(nesting * STACK_PER_NESTING + STACK_BASE, parse)
    } else {
        parse()
    };
    let message = match result {
        Err(err) => format!("invalid JSON: {err}"),
        // The tokenizer accepts exactly what serde_json accepts; this is never reached.
        Ok(()) => "invalid JSON".to_owned(),
    };
    WireError::new(WireErrorKind::Malformed, message)
}

/// Texts nested at most this deep are explained on the current stack.
const SHALLOW_NESTING: usize = 64;
/// Stack for serde_json on a deeper text: generous per level (debug builds use the most).
const STACK_PER_NESTING: usize = 8 * 1024;
const STACK_BASE: usize = 256 * 1024;

/// Scans the bytes for bracket nesting beyond [`nesting_bound`], ignoring brackets in strings
/// and anything else about the syntax; returns the deepest nesting seen.
fn check_nesting(text: &str, limits: &Limits) -> Result<usize, WireError> {
    let (bound, hard_cap) = nesting_bound(limits);
    let mut depth = 0usize;
    let mut deepest = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in text.as_bytes() {
        if in_string {
            // Only quotes and backslashes matter inside a string; brackets there are text.
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
                if depth > bound {
                    return Err(nesting_error(limits, hard_cap));
                }
            }
            // Unbalanced closers are left for serde_json to report as a syntax error.
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(deepest)
}

fn nesting_error(limits: &Limits, hard_cap: bool) -> WireError {
    if hard_cap {
        WireError::exceeded(
            Limit::Nesting,
            MAX_JSON_NESTING,
            format!(
                "the message is nested deeper than {MAX_JSON_NESTING} brackets, the most this \
                 implementation reads whatever its limits"
            ),
        )
    } else {
        WireError::exceeded(Limit::Depth, limits.max_depth, depth_problem(limits))
    }
}

fn depth_problem(limits: &Limits) -> String {
    format!(
        "the message is nested deeper than the limit of {} levels",
        limits.max_depth
    )
}

// ---------------------------------------------------------------------------------------------
// Step 3: tape to protocol types.

type Result<T, E = Fail> = std::result::Result<T, E>;

/// The elements of a form (a message or a tagged expression): how many there are, and the
/// node indices of the first few (no form has more than five).
struct Items {
    len: usize,
    first: [usize; 6],
}

impl Items {
    fn of(tape: &Tape<'_>, at: usize) -> Items {
        let elements = tape.elements(at);
        let len = elements.len();
        let mut first = [usize::MAX; 6];
        for (slot, index) in first.iter_mut().zip(elements) {
            *slot = index;
        }
        Items { len, first }
    }

    /// Element `index`, if there is one.
    fn get(&self, index: usize) -> Option<usize> {
        if index < self.len {
            self.first.get(index).copied()
        } else {
            None
        }
    }

    /// Element `index` (callers have already checked the arity; a missing one reads as
    /// `null`, an index past the tape).
    fn at(&self, index: usize) -> usize {
        self.get(index).unwrap_or(usize::MAX)
    }
}

/// An object's entries with duplicate keys resolved as `JSON.parse` (and serde_json) resolve
/// them: the last value wins, in the first key's place.
enum UniqueEntries<'a, 't> {
    /// No key repeats (the usual case): the tape's own order.
    Plain(super::tape::Entries<'a, 't>),
    /// `(key, value)` node indices after resolving repeats.
    Resolved(std::vec::IntoIter<(usize, usize)>),
}

impl Iterator for UniqueEntries<'_, '_> {
    type Item = (usize, usize);

    fn next(&mut self) -> Option<(usize, usize)> {
        match self {
            UniqueEntries::Plain(entries) => entries.next(),
            UniqueEntries::Resolved(entries) => entries.next(),
        }
    }
}

/// Converts a tape into protocol types, enforcing the value limits.
struct Converter<'a, 't> {
    tape: &'a Tape<'t>,
    limits: Limits,
}

impl<'a, 't> Converter<'a, 't> {
    fn new(tape: &'a Tape<'t>, limits: &Limits) -> Self {
        Converter {
            tape,
            limits: *limits,
        }
    }

    // --- messages --------------------------------------------------------------------------

    fn message(&self, at: usize) -> Result<Message> {
        if !matches!(self.tape.node(at), Node::Array { .. }) {
            return Err(self.expected("a message (an array starting with a tag)", at));
        }
        let items = Items::of(self.tape, at);
        let tag = match items.get(0) {
            Some(first) if matches!(self.tape.node(first), Node::String { .. }) => {
                self.tape.str(first)
            }
            Some(first) => return Err(self.expected("a message tag string", first).at_index(0)),
            None => {
                return Err(Fail::malformed(
                    "empty array; expected a message tag".to_owned(),
                ))
            }
        };
        let len = items.len;
        let arity = |count: usize, expects: &str| {
            if len == count + 1 {
                Ok(())
            } else {
                Err(arity_error(&tag, expects, len))
            }
        };
        let message = match Tag::of(&tag) {
            Some(Tag::Push) => {
                arity(1, "1 argument (an expression)")?;
                Message::Push(self.expr(items.at(1), 0).at(1)?)
            }
            Some(Tag::Pull) => {
                arity(1, "1 argument (an import id)")?;
                Message::Pull(self.id(items.at(1)).at(1)?)
            }
            Some(settle @ (Tag::Resolve | Tag::Reject)) => {
                arity(2, "2 arguments (an export id and an expression)")?;
                let id = self.id(items.at(1)).at(1)?;
                let expr = self.expr(items.at(2), 0).at(2)?;
                if settle == Tag::Resolve {
                    Message::Resolve(id, expr)
                } else {
                    Message::Reject(id, expr)
                }
            }
            Some(Tag::Release) => {
                arity(2, "2 arguments (an import id and a refcount)")?;
                Message::Release(
                    self.id(items.at(1)).at(1)?,
                    self.refcount(items.at(2)).at(2)?,
                )
            }
            Some(Tag::Stream) => {
                arity(1, "1 argument (an expression)")?;
                Message::Stream(self.expr(items.at(1), 0).at(1)?)
            }
            Some(Tag::Pipe) => {
                arity(0, "no arguments")?;
                Message::Pipe
            }
            Some(Tag::Abort) => {
                arity(1, "1 argument (an expression)")?;
                Message::Abort(self.expr(items.at(1), 0).at(1)?)
            }
            _ => {
                return Err(Fail::malformed(format!(
                    "unknown message tag {}",
                    quote(&tag)
                )));
            }
        };
        Ok(message)
    }

    // --- expressions -----------------------------------------------------------------------

    /// Converts the expression at node `at`, found at value depth `depth`.
    #[inline(always)]
    fn expr(&self, at: usize, depth: usize) -> Result<Expr> {
        if depth >= self.limits.max_depth {
            return Err(self.too_deep());
        }
        Ok(match self.tape.node(at) {
            Node::Null => Expr::Null,
            Node::Bool(b) => Expr::Bool(b),
            Node::Number { value, .. } => Expr::Number(value),
            Node::String { .. } => Expr::String(self.tape.str(at).into_owned()),
            Node::Object { .. } | Node::Array { .. } => self.container(at, depth)?,
        })
    }

    /// An object or array in expression position. Only these recurse, so only they need the
    /// stack guard (and the scalars above stay inline in the loops over lists).
    #[inline(never)]
    fn container(&self, at: usize, depth: usize) -> Result<Expr> {
        crate::stack::guarded(|| match self.tape.node(at) {
            Node::Object { .. } => self.fields(at, depth).map(Expr::Object),
            _ => self.special(at, depth),
        })
    }

    #[cold]
    fn too_deep(&self) -> Fail {
        Fail::limit(
            Limit::Depth,
            self.limits.max_depth,
            depth_problem(&self.limits),
            false,
        )
    }

    /// An object's fields, each value an expression one level deeper.
    fn fields(&self, at: usize, depth: usize) -> Result<Vec<(String, Expr)>> {
        let entries = self.unique_entries(at);
        let mut fields = Vec::with_capacity(entries.size_hint().0);
        for (key, value) in entries {
            let key = self.tape.str(key);
            match self.expr(value, depth + 1) {
                Ok(expr) => fields.push((key.into_owned(), expr)),
                Err(fail) => return Err(fail.at_key(&key)),
            }
        }
        Ok(fields)
    }

    /// A list of expressions (an escaped array's contents, call arguments, instructions).
    fn exprs(&self, at: usize, depth: usize) -> Result<Vec<Expr>> {
        let elements = self.tape.elements(at);
        let mut exprs = Vec::with_capacity(elements.len());
        for (index, item) in elements.enumerate() {
            exprs.push(self.expr(item, depth + 1).at(index)?);
        }
        Ok(exprs)
    }

    /// An array in expression position: an escaped array or a tagged special form.
    fn special(&self, at: usize, depth: usize) -> Result<Expr> {
        let items = Items::of(self.tape, at);
        if items.len == 1 && matches!(self.tape.node(items.at(0)), Node::Array { .. }) {
            return Ok(Expr::Array(self.exprs(items.at(0), depth).at(0)?));
        }
        let tag = match items.get(0) {
            Some(first) if matches!(self.tape.node(first), Node::String { .. }) => {
                self.tape.str(first)
            }
            Some(first) => {
                return Err(self
                    .expected(
                        "an expression tag string (a literal array must be escaped as [[…]])",
                        first,
                    )
                    .at_index(0));
            }
            None => {
                return Err(Fail::malformed(
                    "empty array; a literal array must be escaped as [[…]]".to_owned(),
                ));
            }
        };
        self.tagged(&tag, &items, depth)
    }

    /// A tagged special form, `[tag, …]`: looked up in [`FORMS`], arity checked, then parsed.
    // Kept out of line and small: it is part of the recursion through nested forms, so its
    // frame is paid once per level (the per-form work lives in the functions of the table).
    #[inline(never)]
    fn tagged(&self, tag: &str, items: &Items, depth: usize) -> Result<Expr> {
        let Some(form) = Tag::of(tag).and_then(|tag| FORMS.iter().find(|form| form.tag == tag))
        else {
            return Err(Fail::malformed(format!(
                "unknown expression tag {} (a literal array must be escaped as [[…]])",
                quote(tag)
            )));
        };
        let args = items.len.saturating_sub(1);
        if args < form.min_args || args > form.max_args {
            return Err(arity_error(tag, form.expects, items.len));
        }
        match form.parse {
            Parser::Constant => self.constant(form.tag),
            Parser::BigInt => self.bigint_form(items),
            Parser::Date => self.date_form(items),
            Parser::Bytes => self.bytes(items),
            Parser::Error => self.error_form(items, depth),
            Parser::Url => self.url_form(items),
            Parser::Headers => self.headers_form(items),
            Parser::Request => self.request_form(items, depth),
            Parser::Response => self.response_form(items, depth),
            Parser::Reference => self.reference_form(form.tag, items, depth),
            Parser::Remap => self.remap_form(items, depth),
            Parser::Id => self.id_form(form.tag, items),
            Parser::Blob => self.blob_form(items, depth),
        }
    }

    /// `["undefined"]`, `["inf"]`, `["-inf"]`, `["nan"]`
    fn constant(&self, tag: Tag) -> Result<Expr> {
        Ok(match tag {
            Tag::Undefined => Expr::Undefined,
            Tag::Inf => Expr::Inf,
            Tag::NegInf => Expr::NegInf,
            _ => Expr::NaN,
        })
    }

    fn bigint_form(&self, items: &Items) -> Result<Expr> {
        Ok(Expr::BigInt(self.bigint(items.at(1)).at(1)?))
    }

    fn date_form(&self, items: &Items) -> Result<Expr> {
        Ok(Expr::Date(self.date(items.at(1)).at(1)?))
    }

    fn url_form(&self, items: &Items) -> Result<Expr> {
        Ok(Expr::Url(self.string(items.at(1), "a URL string").at(1)?))
    }

    fn headers_form(&self, items: &Items) -> Result<Expr> {
        Ok(Expr::Headers(self.header_pairs(items.at(1)).at(1)?))
    }

    /// `["request", url, init]`
    fn request_form(&self, items: &Items, depth: usize) -> Result<Expr> {
        let url = self.string(items.at(1), "a URL string").at(1)?;
        let init = self.fetch_init(items.at(2), true, depth).at(2)?;
        Ok(Expr::Request(Box::new(RequestForm { url, init })))
    }

    /// `["response", body, init]`
    fn response_form(&self, items: &Items, depth: usize) -> Result<Expr> {
        let body = Box::new(self.expr(items.at(1), depth + 1).at(1)?);
        let init = self.fetch_init(items.at(2), false, depth).at(2)?;
        Ok(Expr::Response(Box::new(ResponseForm { body, init })))
    }

    /// `["export" | "promise" | "writable" | "readable", id]`
    fn id_form(&self, tag: Tag, items: &Items) -> Result<Expr> {
        let id = self.id(items.at(1)).at(1)?;
        Ok(match tag {
            Tag::Export => Expr::Export(id),
            Tag::Promise => Expr::Promise(id),
            Tag::Writable => Expr::Writable(id),
            _ => Expr::Readable(id),
        })
    }

    /// `["blob", type, content]`
    fn blob_form(&self, items: &Items, depth: usize) -> Result<Expr> {
        let mime = self.string(items.at(1), "a MIME type string").at(1)?;
        let content = Box::new(self.expr(items.at(2), depth + 1).at(2)?);
        Ok(Expr::Blob { mime, content })
    }

    /// `["bigint", "…"]`'s text: length-capped before it is even looked at, then validated.
    fn bigint(&self, at: usize) -> Result<String> {
        let text = self.string(at, "a decimal string")?;
        if text.len() > self.limits.max_bigint_digits {
            return Err(Fail::limit(
                Limit::BigIntDigits,
                self.limits.max_bigint_digits,
                format!(
                    "a bigint of {} characters is longer than the limit of {}",
                    text.len(),
                    self.limits.max_bigint_digits
                ),
                true,
            ));
        }
        let digits = text.strip_prefix('-').unwrap_or(&text);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Fail::malformed(format!(
                "expected a decimal integer (an optional '-' and digits), found {}",
                quote(&text)
            )));
        }
        Ok(text)
    }

    /// `["error", name, message, stack?, props?]`
    fn error_form(&self, items: &Items, depth: usize) -> Result<Expr> {
        let name = self.string(items.at(1), "an error name string").at(1)?;
        let message = self.string(items.at(2), "an error message string").at(2)?;
        let stack = match items.get(3) {
            None => None,
            Some(at) => match self.tape.node(at) {
                Node::Null => None,
                Node::String { .. } => Some(self.tape.str(at).into_owned()),
                _ => return Err(self.expected("a stack string or null", at).at_index(3)),
            },
        };
        let props = match items.get(4) {
            None => None,
            Some(at) => match self.tape.node(at) {
                Node::Object { .. } => Some(self.fields(at, depth).at(4)?),
                _ => return Err(self.expected("a props object", at).at_index(4)),
            },
        };
        Ok(Expr::Error(Box::new(ErrorForm {
            name,
            message,
            stack,
            props,
        })))
    }

    /// The init object of `request` (whose `body` is an expression) or `response`.
    fn fetch_init(&self, at: usize, is_request: bool, depth: usize) -> Result<FetchInit> {
        if !matches!(self.tape.node(at), Node::Object { .. }) {
            return Err(self.expected("an init object", at));
        }
        let mut init = FetchInit::default();
        for (key, value) in self.unique_entries(at) {
            let key = self.tape.str(key);
            match &*key {
                "body" if is_request => {
                    let body = self
                        .expr(value, depth + 1)
                        .map_err(|fail| fail.at_key(&key))?;
                    init.body = Some(Box::new(body));
                }
                "headers" => {
                    let headers = self.header_pairs(value).map_err(|fail| fail.at_key(&key))?;
                    init.headers = Some(headers);
                }
                // Everything else is a plain value the protocol passes through untouched.
                _ => {
                    init.other.insert(key.into_owned(), self.plain(value));
                }
            }
        }
        Ok(init)
    }

    /// `["import" | "pipeline", id, path?, args?]`
    fn reference_form(&self, tag: Tag, items: &Items, depth: usize) -> Result<Expr> {
        let id = self.id(items.at(1)).at(1)?;
        let path = match items.get(2) {
            Some(at) => Some(self.path(at).at(2)?),
            None => None,
        };
        let args = match items.get(3) {
            Some(at) => Some(
                self.expr_list(at, "a list of call arguments", depth)
                    .at(3)?,
            ),
            None => None,
        };
        let reference = Box::new(ReferenceForm { id, path, args });
        Ok(if tag == Tag::Import {
            Expr::Import(reference)
        } else {
            Expr::Pipeline(reference)
        })
    }

    /// `["remap", id, path, captures, instructions]`
    fn remap_form(&self, items: &Items, depth: usize) -> Result<Expr> {
        let id = self.id(items.at(1)).at(1)?;
        let path = self.path(items.at(2)).at(2)?;
        let captures = self.captures(items.at(3)).at(3)?;
        let instructions = self
            .expr_list(items.at(4), "a list of instructions", depth)
            .at(4)?;
        Ok(Expr::Remap(Box::new(RemapForm {
            id,
            path,
            captures,
            instructions,
        })))
    }

    /// A plain (not escaped) JSON array whose elements are expressions one level deeper.
    fn expr_list(&self, at: usize, what: &str, depth: usize) -> Result<Vec<Expr>> {
        match self.tape.node(at) {
            Node::Array { .. } => self.exprs(at, depth),
            _ => Err(self.expected(what, at)),
        }
    }

    // --- objects ---------------------------------------------------------------------------

    /// The entries of the object at `at`, repeated keys resolved.
    fn unique_entries(&self, at: usize) -> UniqueEntries<'a, 't> {
        let entries = self.tape.entries(at);
        if entries.len() < 2 || !self.has_repeated_key(at) {
            return UniqueEntries::Plain(entries);
        }
        UniqueEntries::Resolved(self.resolve_repeats(at).into_iter())
    }

    fn has_repeated_key(&self, at: usize) -> bool {
        let entries = self.tape.entries(at);
        if entries.len() <= PAIRWISE_KEYS {
            let mut keys = [0usize; PAIRWISE_KEYS];
            let mut count = 0;
            for ((key, _), slot) in entries.zip(keys.iter_mut()) {
                *slot = key;
                count += 1;
            }
            let keys = keys.get(..count).unwrap_or(&[]);
            return keys.iter().enumerate().any(|(index, &key)| {
                keys.get(index + 1..)
                    .unwrap_or(&[])
                    .iter()
                    .any(|&other| self.tape.same_str(key, other))
            });
        }
        let mut seen = HashSet::with_capacity(entries.len());
        entries
            .map(|(key, _)| self.tape.str(key))
            .any(|key| !seen.insert(key))
    }

    /// `(key, value)` pairs in first-key order, each with its key's last value.
    #[cold]
    fn resolve_repeats(&self, at: usize) -> Vec<(usize, usize)> {
        let mut resolved: Vec<(usize, usize)> = Vec::new();
        let mut place: std::collections::HashMap<Cow<'t, str>, usize> =
            std::collections::HashMap::new();
        for (key, value) in self.tape.entries(at) {
            match place.entry(self.tape.str(key)) {
                std::collections::hash_map::Entry::Occupied(slot) => {
                    if let Some(entry) = resolved.get_mut(*slot.get()) {
                        entry.1 = value;
                    }
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(resolved.len());
                    resolved.push((key, value));
                }
            }
        }
        resolved
    }

    /// A pass-through JSON value (the plain parts of a fetch `init`), with every number held
    /// the way JavaScript would hold it: a double, in one canonical `Number` representation,
    /// so equal values compare equal after a round trip (`4e5` and `400000` are the same
    /// number to a JavaScript peer).
    fn plain(&self, at: usize) -> Value {
        match self.tape.node(at) {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(b),
            Node::Number { value, .. } => Value::Number(canonical_number(value)),
            Node::String { .. } => Value::String(self.tape.str(at).into_owned()),
            Node::Array { .. } => crate::stack::guarded(|| {
                Value::Array(
                    self.tape
                        .elements(at)
                        .map(|item| self.plain(item))
                        .collect(),
                )
            }),
            Node::Object { .. } => crate::stack::guarded(|| {
                let mut map = Map::new();
                // Repeated keys resolve as in JSON.parse: the map keeps the first place.
                for (key, value) in self.tape.entries(at) {
                    map.insert(self.tape.str(key).into_owned(), self.plain(value));
                }
                Value::Object(map)
            }),
        }
    }

    // --- leaf values -----------------------------------------------------------------------

    /// "expected X, found Y" for the value at `at`.
    #[cold]
    fn expected(&self, what: &str, at: usize) -> Fail {
        Fail::expected(what, &self.describe(at))
    }

    /// Names a JSON value's type (and, when short, the value) for "found …" in error messages.
    #[cold]
    fn describe(&self, at: usize) -> String {
        match self.tape.node(at) {
            Node::Null => "null".to_owned(),
            Node::Bool(b) => format!("a boolean ({b})"),
            Node::Number { .. } => format!("a number ({})", self.number(at)),
            Node::String { .. } => format!("a string ({})", quote(&self.tape.str(at))),
            Node::Array { len, .. } => match len {
                0 => "an empty array".to_owned(),
                1 => "an array of 1 element".to_owned(),
                n => format!("an array of {n} elements"),
            },
            Node::Object { .. } => "an object".to_owned(),
        }
    }

    /// The number at `at` exactly as its text reads (an integer stays an exact integer), as
    /// serde_json reads it; error messages print it this way.
    #[cold]
    fn number(&self, at: usize) -> Number {
        let value = match self.tape.node(at) {
            Node::Number { value, .. } => value,
            _ => 0.0,
        };
        serde_json::from_str(self.tape.number_text(at))
            .ok()
            .or_else(|| Number::from_f64(value))
            .unwrap_or_else(|| Number::from(0))
    }

    fn string(&self, at: usize, what: &str) -> Result<String> {
        match self.tape.node(at) {
            Node::String { .. } => Ok(self.tape.str(at).into_owned()),
            _ => Err(self.expected(what, at)),
        }
    }

    /// The number at `at` if it is an integer within ±2^53 (JSON `1.0` is the same number as
    /// `1`, as in JavaScript).
    fn safe_integer(&self, at: usize) -> Option<i64> {
        let Node::Number { value, .. } = self.tape.node(at) else {
            return None;
        };
        // Below 2^53 the double is the number exactly (a larger integer never rounds below).
        if value.fract() == 0.0 && value.abs() < MAX_SAFE_ID {
            return Some(value as i64);
        }
        // At 2^53 or beyond, the text decides: 9007199254740993 rounds to 2^53 but is not it.
        safe_number(&self.number(at))
    }

    /// An integral number within ±2^53.
    fn integer(&self, at: usize, what: &str) -> Result<i64> {
        if !matches!(self.tape.node(at), Node::Number { .. }) {
            return Err(self.expected(what, at));
        }
        self.safe_integer(at).ok_or_else(|| {
            Fail::malformed(format!(
                "expected {what}, found {}, which is not an integer within ±2^53",
                self.number(at)
            ))
        })
    }

    fn id(&self, at: usize) -> Result<i64> {
        self.integer(at, "an integer id")
    }

    fn refcount(&self, at: usize) -> Result<u64> {
        let count = self.integer(at, "a non-negative integer refcount")?;
        u64::try_from(count).map_err(|_| {
            Fail::malformed(format!("expected a non-negative refcount, found {count}"))
        })
    }

    /// `["date", ms]`'s argument: a number, or null for an invalid date.
    fn date(&self, at: usize) -> Result<Option<f64>> {
        match self.tape.node(at) {
            Node::Null => Ok(None),
            Node::Number { value, .. } => Ok(Some(value)),
            _ => Err(self.expected("a number of milliseconds or null", at)),
        }
    }

    /// `["bytes", base64, kind?]`
    fn bytes(&self, items: &Items) -> Result<Expr> {
        let text = items.at(1);
        if !matches!(self.tape.node(text), Node::String { .. }) {
            return Err(self.expected("a base64 string", text).at_index(1));
        }
        let data = super::b64::decode(self.tape.str(text).as_bytes())
            .map_err(|err| Fail::malformed(format!("invalid base64: {err}")).at_index(1))?;
        let kind = match items.get(2) {
            None => None,
            Some(at) => match self.tape.node(at) {
                Node::String { .. } => Some(bytes_kind(&self.tape.str(at), data.len()).at(2)?),
                _ => return Err(self.expected("a bytes kind name", at).at_index(2)),
            },
        };
        Ok(Expr::Bytes { data, kind })
    }

    /// A plain JSON list of `[name, value]` string pairs (headers).
    fn header_pairs(&self, at: usize) -> Result<Vec<(String, String)>> {
        if !matches!(self.tape.node(at), Node::Array { .. }) {
            return Err(self.expected("a list of [name, value] pairs", at));
        }
        let elements = self.tape.elements(at);
        let mut pairs = Vec::with_capacity(elements.len());
        for (index, item) in elements.enumerate() {
            pairs.push(self.header_pair(item).at(index)?);
        }
        Ok(pairs)
    }

    fn header_pair(&self, at: usize) -> Result<(String, String)> {
        if let Node::Array { len: 2, .. } = self.tape.node(at) {
            let name = at + 1;
            let value = self.tape.skip(name);
            if let (Node::String { .. }, Node::String { .. }) =
                (self.tape.node(name), self.tape.node(value))
            {
                let name = self.tape.str(name).into_owned();
                return Ok((name, self.tape.str(value).into_owned()));
            }
        }
        Err(self.expected("a [name, value] pair of strings", at))
    }

    /// A plain JSON list of property names: strings or non-negative integers.
    fn path(&self, at: usize) -> Result<Path> {
        const WHAT: &str = "a property path (a list of strings and non-negative integers)";
        if !matches!(self.tape.node(at), Node::Array { .. }) {
            return Err(self.expected(WHAT, at));
        }
        let elements = self.tape.elements(at);
        let mut path = Vec::with_capacity(elements.len());
        for (index, item) in elements.enumerate() {
            let key = match self.tape.node(item) {
                Node::String { .. } => PathKey::Name(self.tape.str(item).into_owned()),
                Node::Number { .. } => {
                    match self.safe_integer(item).and_then(|i| u64::try_from(i).ok()) {
                        Some(n) => PathKey::Index(n),
                        None => {
                            return Err(self
                                .expected("a string or a non-negative integer", item)
                                .at_index(index));
                        }
                    }
                }
                _ => {
                    return Err(self
                        .expected("a property name (a string or number)", item)
                        .at_index(index));
                }
            };
            path.push(key);
        }
        Ok(path)
    }

    /// A plain JSON list of `["import", id]` / `["export", id]` captures.
    fn captures(&self, at: usize) -> Result<Vec<Capture>> {
        if !matches!(self.tape.node(at), Node::Array { .. }) {
            return Err(self.expected("a list of captures", at));
        }
        self.tape
            .elements(at)
            .enumerate()
            .map(|(index, item)| self.capture(item).at(index))
            .collect()
    }

    fn capture(&self, at: usize) -> Result<Capture> {
        const WHAT: &str = "a capture ([\"import\", id] or [\"export\", id])";
        if let Node::Array { len: 2, .. } = self.tape.node(at) {
            let tag = at + 1;
            let id = self.tape.skip(tag);
            if let Node::String { .. } = self.tape.node(tag) {
                let tag = self.tape.str(tag);
                return match Tag::of(&tag) {
                    Some(Tag::Import) => Ok(Capture::Import(self.id(id).at(1)?)),
                    Some(Tag::Export) => Ok(Capture::Export(self.id(id).at(1)?)),
                    _ => Err(Fail::malformed(format!(
                        "unknown capture tag {}; expected \"import\" or \"export\"",
                        quote(&tag)
                    ))
                    .at_index(0)),
                };
            }
        }
        Err(self.expected(WHAT, at))
    }
}

/// One special form: its tag, how many elements may follow the tag, and its parser.
struct Form {
    tag: Tag,
    min_args: usize,
    max_args: usize,
    /// The arity in words, for "takes …, found N" errors.
    expects: &'static str,
    parse: Parser,
}

/// Which converter method parses a form's arguments.
#[derive(Clone, Copy)]
enum Parser {
    Constant,
    BigInt,
    Date,
    Bytes,
    Error,
    Url,
    Headers,
    Request,
    Response,
    Reference,
    Remap,
    Id,
    Blob,
}

const fn form(
    tag: Tag,
    (min_args, max_args): (usize, usize),
    expects: &'static str,
    parse: Parser,
) -> Form {
    Form {
        tag,
        min_args,
        max_args,
        expects,
        parse,
    }
}

/// Every expression tag of the protocol.
const FORMS: &[Form] = &[
    form(Tag::Undefined, (0, 0), "no arguments", Parser::Constant),
    form(Tag::Inf, (0, 0), "no arguments", Parser::Constant),
    form(Tag::NegInf, (0, 0), "no arguments", Parser::Constant),
    form(Tag::NaN, (0, 0), "no arguments", Parser::Constant),
    form(
        Tag::BigInt,
        (1, 1),
        "1 argument (a decimal string)",
        Parser::BigInt,
    ),
    form(
        Tag::Date,
        (1, 1),
        "1 argument (milliseconds since the epoch, or null)",
        Parser::Date,
    ),
    form(
        Tag::Bytes,
        (1, 2),
        "1 or 2 arguments (base64 text and an optional kind name)",
        Parser::Bytes,
    ),
    form(
        Tag::Error,
        (2, 4),
        "2 to 4 arguments (name, message, optional stack, optional props)",
        Parser::Error,
    ),
    form(Tag::Url, (1, 1), "1 argument (a URL string)", Parser::Url),
    form(
        Tag::Headers,
        (1, 1),
        "1 argument (a list of [name, value] pairs)",
        Parser::Headers,
    ),
    form(
        Tag::Request,
        (2, 2),
        "2 arguments (a URL string and an init object)",
        Parser::Request,
    ),
    form(
        Tag::Response,
        (2, 2),
        "2 arguments (a body expression and an init object)",
        Parser::Response,
    ),
    form(Tag::Import, (1, 3), REFERENCE_ARGS, Parser::Reference),
    form(Tag::Pipeline, (1, 3), REFERENCE_ARGS, Parser::Reference),
    form(
        Tag::Remap,
        (4, 4),
        "4 arguments (an import id, a property path, captures and instructions)",
        Parser::Remap,
    ),
    form(Tag::Export, (1, 1), "1 argument (an id)", Parser::Id),
    form(Tag::Promise, (1, 1), "1 argument (an id)", Parser::Id),
    form(Tag::Writable, (1, 1), "1 argument (an id)", Parser::Id),
    form(Tag::Readable, (1, 1), "1 argument (an id)", Parser::Id),
    form(
        Tag::Blob,
        (2, 2),
        "2 arguments (a MIME type string and a content expression)",
        Parser::Blob,
    ),
];

const REFERENCE_ARGS: &str =
    "1 to 3 arguments (an import id, an optional property path and optional call arguments)";

// ---------------------------------------------------------------------------------------------
// Leaf helpers that need no tape.

/// An exactly read number, if it is an integer within ±2^53.
fn safe_number(n: &Number) -> Option<i64> {
    match n.as_i64() {
        Some(i) => (i.unsigned_abs() <= MAX_SAFE_ID as u64).then_some(i),
        None => {
            // Without serde_json's arbitrary_precision every number has an f64 value.
            let x = n.as_f64().unwrap_or(f64::NAN);
            (x.fract() == 0.0 && x.abs() <= MAX_SAFE_ID).then_some(x as i64)
        }
    }
}

/// A double in one canonical `Number` representation: integral doubles below 2^63 are exact
/// as i64 (and -0 becomes 0, as JSON.stringify writes it), the rest stay doubles.
fn canonical_number(x: f64) -> Number {
    if x.fract() == 0.0 && x.abs() < 9.2e18 {
        Number::from(x as i64)
    } else {
        Number::from_f64(x).unwrap_or_else(|| Number::from(0))
    }
}

/// A bytes kind by name; typed arrays must hold a whole number of elements.
fn bytes_kind(name: &str, len: usize) -> Result<BytesKind> {
    let kind = BytesKind::from_name(name)
        .ok_or_else(|| Fail::malformed(format!("unknown bytes kind {}", quote(name))))?;
    if let Some(size) = kind.element_size() {
        if !len.is_multiple_of(size) {
            return Err(Fail::malformed(format!(
                "{len} bytes is not a whole number of {name} elements ({size} bytes each)"
            )));
        }
    }
    Ok(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_length_is_counted_on_bytes() {
        for text in [
            "",
            "abc",
            "é",
            "☃",
            "😀",
            "a😀é☃z",
            "\u{10ffff}\u{7f}\u{80}",
        ] {
            let expected: usize = text.chars().map(char::len_utf16).sum();
            assert_eq!(utf16_len(text.as_bytes()), expected, "{text}");
        }
    }
}
