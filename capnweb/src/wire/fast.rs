//! The fast path: message text straight to a [`Message`] in one pass, with no tape and no
//! error reporting.
//!
//! It accepts only what the strict path ([`parse`](super::parse)) accepts, building the same
//! values, and gives up on anything else: any problem, and anything unusual (a repeated key, an
//! id at 2^53 or beyond, a request or response form). The caller then runs the strict path,
//! which decides and explains, so a refused message costs a second pass and an accepted one
//! costs one. The two must agree on what they accept: the tests check that they do.
//!
//! Lists are gathered on a per-thread scratch stack and moved into a vector of exactly their
//! length when they end, so a list of n elements costs one allocation, not log n.

use std::cell::Cell;

use super::b64;
use super::lex::{self, byte, skip_whitespace, unescape, Rejected};
use super::limits::{nesting_bound, MAX_SAFE_ID, PAIRWISE_KEYS};
use super::tag::Tag;
use super::{
    BytesKind, Capture, ErrorForm, Expr, Limits, Message, Path, PathKey, ReferenceForm, RemapForm,
};

/// Not on the fast path: the strict path decides.
type Fast<T> = Result<T, Rejected>;

/// Parses a message, or returns `None` for the strict path to decide.
pub(super) fn message(text: &str, limits: &Limits) -> Option<Message> {
    with_reader(text, limits, |reader| {
        let message = reader.message()?;
        reader.end()?;
        Ok(message)
    })
}

/// Parses a bare expression, or returns `None` for the strict path to decide.
pub(super) fn expr(text: &str, limits: &Limits) -> Option<Expr> {
    with_reader(text, limits, |reader| {
        let expr = reader.expr(0)?;
        reader.end()?;
        Ok(expr)
    })
}

thread_local! {
    /// The scratch stacks, kept between parses on each thread.
    static SCRATCH: Cell<Scratch> = const {
        Cell::new(Scratch {
            exprs: Vec::new(),
            fields: Vec::new(),
        })
    };
}

#[derive(Default)]
struct Scratch {
    exprs: Vec<Expr>,
    fields: Vec<(String, Expr)>,
}

/// Scratch stacks larger than this many entries (about 1 MiB of fields) are not kept for the
/// next parse.
const SCRATCH_KEPT: usize = 16 * 1024;

fn with_reader<T>(
    text: &str,
    limits: &Limits,
    parse: impl FnOnce(&mut Reader<'_>) -> Fast<T>,
) -> Option<T> {
    // (During thread teardown the thread-local may be gone: then the stacks start empty.)
    let scratch = SCRATCH.try_with(Cell::take).unwrap_or_default();
    let mut reader = Reader {
        text,
        bytes: text.as_bytes(),
        at: 0,
        limits: *limits,
        brackets: 0,
        max_brackets: nesting_bound(limits).0,
        scratch,
    };
    let result = parse(&mut reader).ok();
    let mut scratch = reader.scratch;
    // After giving up, the stacks still hold what was parsed so far.
    scratch.exprs.clear();
    scratch.fields.clear();
    if scratch.exprs.capacity() <= SCRATCH_KEPT && scratch.fields.capacity() <= SCRATCH_KEPT {
        let _ = SCRATCH.try_with(|cell| cell.set(scratch));
    }
    result
}

struct Reader<'t> {
    text: &'t str,
    bytes: &'t [u8],
    at: usize,
    limits: Limits,
    /// Brackets open now, and the most allowed (the strict path's nesting bound).
    brackets: usize,
    max_brackets: usize,
    scratch: Scratch,
}

impl Reader<'_> {
    // --- tokens ----------------------------------------------------------------------------

    /// The next byte that is not whitespace (0 at the end), which `at` then points at.
    #[inline(always)]
    fn peek(&mut self) -> u8 {
        self.at = skip_whitespace(self.bytes, self.at);
        byte(self.bytes, self.at)
    }

    #[inline(always)]
    fn eat(&mut self, expected: u8) -> Fast<()> {
        if self.peek() == expected {
            self.at += 1;
            Ok(())
        } else {
            Err(Rejected)
        }
    }

    #[inline(always)]
    fn open(&mut self, bracket: u8) -> Fast<()> {
        self.eat(bracket)?;
        self.brackets += 1;
        if self.brackets > self.max_brackets {
            return Err(Rejected);
        }
        Ok(())
    }

    #[inline(always)]
    fn close(&mut self, bracket: u8) -> Fast<()> {
        self.eat(bracket)?;
        self.brackets -= 1;
        Ok(())
    }

    /// After an element: `true` after a `,` (another follows), `false` after the closer.
    #[inline(always)]
    fn more(&mut self, closer: u8) -> Fast<bool> {
        let next = self.peek();
        self.at += 1;
        if next == b',' {
            Ok(true)
        } else if next == closer {
            self.brackets -= 1;
            Ok(false)
        } else {
            Err(Rejected)
        }
    }

    /// Opens a list; `false` if it is empty (and so already closed).
    #[inline(always)]
    fn open_list(&mut self, opener: u8, closer: u8) -> Fast<bool> {
        self.open(opener)?;
        if self.peek() == closer {
            self.at += 1;
            self.brackets -= 1;
            return Ok(false);
        }
        Ok(true)
    }

    /// Only whitespace is left.
    fn end(&mut self) -> Fast<()> {
        if self.peek() == 0 && self.at == self.bytes.len() {
            Ok(())
        } else {
            Err(Rejected)
        }
    }

    /// A string's raw text between its quotes, and whether it has escapes.
    #[inline(always)]
    fn raw_string(&mut self) -> Fast<(&str, bool)> {
        if self.peek() != b'"' {
            return Err(Rejected);
        }
        let (end, escaped) = lex::string(self.bytes, self.at)?;
        let raw = self.text.get(self.at + 1..end).ok_or(Rejected)?;
        self.at = end + 1;
        Ok((raw, escaped))
    }

    #[inline(always)]
    fn string(&mut self) -> Fast<String> {
        if self.peek() != b'"' {
            return Err(Rejected);
        }
        let (string, end) = lex::decoded_string(self.text, self.at)?;
        self.at = end;
        Ok(string)
    }

    /// A form's tag, compared as text (escapes decoded, rarely needed).
    fn tag(&mut self) -> Fast<Tag> {
        let (raw, escaped) = self.raw_string()?;
        if escaped {
            Tag::of(&unescape(raw)).ok_or(Rejected)
        } else {
            Tag::of(raw).ok_or(Rejected)
        }
    }

    #[inline(always)]
    fn number(&mut self) -> Fast<f64> {
        let (value, end) = lex::number(self.text, self.at)?;
        self.at = end;
        Ok(value)
    }

    /// An integer within ±2^53 (an integral double below 2^53 is the number exactly; at 2^53
    /// and beyond only the number's text can tell, which the strict path reads).
    #[inline(always)]
    fn id(&mut self) -> Fast<i64> {
        self.peek();
        let x = self.number()?;
        let id = x as i64;
        if id as f64 == x && x.abs() < MAX_SAFE_ID {
            Ok(id)
        } else {
            Err(Rejected)
        }
    }

    fn literal(&mut self, word: &[u8]) -> Fast<()> {
        self.at = lex::literal(self.bytes, self.at, word)?;
        Ok(())
    }

    // --- messages --------------------------------------------------------------------------

    fn message(&mut self) -> Fast<Message> {
        self.open(b'[')?;
        let message = match self.tag()? {
            Tag::Push => Message::Push(self.argument(0)?),
            Tag::Stream => Message::Stream(self.argument(0)?),
            Tag::Abort => Message::Abort(self.argument(0)?),
            Tag::Pull => {
                self.eat(b',')?;
                Message::Pull(self.id()?)
            }
            tag @ (Tag::Resolve | Tag::Reject) => {
                self.eat(b',')?;
                let id = self.id()?;
                let expr = self.argument(0)?;
                if tag == Tag::Resolve {
                    Message::Resolve(id, expr)
                } else {
                    Message::Reject(id, expr)
                }
            }
            Tag::Release => {
                self.eat(b',')?;
                let id = self.id()?;
                self.eat(b',')?;
                let count = u64::try_from(self.id()?).map_err(|_| Rejected)?;
                Message::Release(id, count)
            }
            Tag::Pipe => Message::Pipe,
            _ => return Err(Rejected),
        };
        self.close(b']')?;
        Ok(message)
    }

    /// `,` then an expression at `depth`.
    #[inline(always)]
    fn argument(&mut self, depth: usize) -> Fast<Expr> {
        self.eat(b',')?;
        self.expr(depth)
    }

    // --- expressions -----------------------------------------------------------------------

    /// An expression at value depth `depth`.
    #[inline(always)]
    fn expr(&mut self, depth: usize) -> Fast<Expr> {
        if depth >= self.limits.max_depth {
            return Err(Rejected);
        }
        Ok(match self.peek() {
            b'"' => Expr::String(self.string()?),
            b'-' | b'0'..=b'9' => Expr::Number(self.number()?),
            b't' => {
                self.literal(b"true")?;
                Expr::Bool(true)
            }
            b'f' => {
                self.literal(b"false")?;
                Expr::Bool(false)
            }
            b'n' => {
                self.literal(b"null")?;
                Expr::Null
            }
            b'{' | b'[' => self.container(depth)?,
            _ => return Err(Rejected),
        })
    }

    /// An object or array in expression position: only these recurse, so only they guard
    /// the stack.
    #[inline(never)]
    fn container(&mut self, depth: usize) -> Fast<Expr> {
        crate::stack::guarded_at(depth, || self.container_here(depth))
    }

    fn container_here(&mut self, depth: usize) -> Fast<Expr> {
        if self.peek() == b'{' {
            return Ok(Expr::Object(self.fields(depth)?));
        }
        self.open(b'[')?;
        let expr = match self.peek() {
            // `[[…]]`: an escaped array, whose one element is the list.
            b'[' => Expr::Array(self.list(depth)?),
            b'"' => {
                let tag = self.tag()?;
                self.form(tag, depth)?
            }
            _ => return Err(Rejected),
        };
        self.close(b']')?;
        Ok(expr)
    }

    /// An object's fields, each value an expression one level deeper than `depth`.
    fn fields(&mut self, depth: usize) -> Fast<Vec<(String, Expr)>> {
        if !self.open_list(b'{', b'}')? {
            return Ok(Vec::new());
        }
        let mark = self.scratch.fields.len();
        loop {
            let key = self.string()?;
            self.eat(b':')?;
            let value = self.expr(depth + 1)?;
            // (`extend`, not `push`: see `push_item`.)
            self.scratch.fields.extend(std::iter::once((key, value)));
            if !self.more(b'}')? {
                break;
            }
        }
        let fields = self.scratch.fields.get(mark..).unwrap_or(&[]);
        if has_repeated_key(fields) {
            return Err(Rejected);
        }
        Ok(self.scratch.fields.split_off(mark))
    }

    /// A plain list of expressions one level deeper than `depth` (an escaped array's
    /// contents, call arguments, instructions).
    fn list(&mut self, depth: usize) -> Fast<Vec<Expr>> {
        if !self.open_list(b'[', b']')? {
            return Ok(Vec::new());
        }
        let mark = self.scratch.exprs.len();
        loop {
            self.push_item(depth + 1)?;
            if !self.more(b']')? {
                break;
            }
        }
        Ok(self.scratch.exprs.split_off(mark))
    }

    /// An expression at `depth`, pushed onto the scratch stack (numbers and strings, the
    /// commonest elements, without the round trip through `expr`).
    #[inline(always)]
    fn push_item(&mut self, depth: usize) -> Fast<()> {
        if depth >= self.limits.max_depth {
            return Err(Rejected);
        }
        match self.peek() {
            // `extend` with one item, not `push`: it makes room first and writes the item
            // straight into its slot, where `push` builds it beside and copies it (a
            // store-forwarding stall a copy, half the time of a list of numbers).
            b'-' | b'0'..=b'9' => {
                let x = self.number()?;
                self.scratch
                    .exprs
                    .extend(std::iter::once(x).map(Expr::Number));
            }
            b'"' => {
                let s = self.string()?;
                self.scratch
                    .exprs
                    .extend(std::iter::once(s).map(Expr::String));
            }
            _ => {
                let item = self.expr(depth)?;
                self.scratch.exprs.extend(std::iter::once(item));
            }
        }
        Ok(())
    }

    /// The arguments of the form `tag`, up to (not including) its closing bracket.
    fn form(&mut self, tag: Tag, depth: usize) -> Fast<Expr> {
        Ok(match tag {
            Tag::Undefined => Expr::Undefined,
            Tag::Inf => Expr::Inf,
            Tag::NegInf => Expr::NegInf,
            Tag::NaN => Expr::NaN,
            Tag::BigInt => {
                self.eat(b',')?;
                let text = self.string()?;
                let digits = text.strip_prefix('-').unwrap_or(&text);
                if text.len() > self.limits.max_bigint_digits
                    || digits.is_empty()
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(Rejected);
                }
                Expr::BigInt(text)
            }
            Tag::Date => {
                self.eat(b',')?;
                if self.peek() == b'n' {
                    self.literal(b"null")?;
                    Expr::Date(None)
                } else {
                    Expr::Date(Some(self.number()?))
                }
            }
            Tag::Bytes => self.bytes()?,
            Tag::Error => self.error(depth)?,
            Tag::Url => {
                self.eat(b',')?;
                Expr::Url(self.string()?)
            }
            Tag::Headers => {
                self.eat(b',')?;
                Expr::Headers(self.header_pairs()?)
            }
            tag @ (Tag::Import | Tag::Pipeline) => {
                self.eat(b',')?;
                let id = self.id()?;
                let mut path = None;
                let mut args = None;
                if self.peek() == b',' {
                    self.at += 1;
                    path = Some(self.path()?);
                    if self.peek() == b',' {
                        self.at += 1;
                        args = Some(self.list(depth)?);
                    }
                }
                let reference = Box::new(ReferenceForm { id, path, args });
                if tag == Tag::Import {
                    Expr::Import(reference)
                } else {
                    Expr::Pipeline(reference)
                }
            }
            Tag::Remap => {
                self.eat(b',')?;
                let id = self.id()?;
                self.eat(b',')?;
                let path = self.path()?;
                self.eat(b',')?;
                let captures = self.captures()?;
                self.eat(b',')?;
                let instructions = self.list(depth)?;
                Expr::Remap(Box::new(RemapForm {
                    id,
                    path,
                    captures,
                    instructions,
                }))
            }
            Tag::Export => Expr::Export(self.id_argument()?),
            Tag::Promise => Expr::Promise(self.id_argument()?),
            Tag::Writable => Expr::Writable(self.id_argument()?),
            Tag::Readable => Expr::Readable(self.id_argument()?),
            Tag::Blob => {
                self.eat(b',')?;
                let mime = self.string()?;
                let content = Box::new(self.argument(depth + 1)?);
                Expr::Blob { mime, content }
            }
            // Requests, responses (their plain parts) and unknown tags: the strict path.
            _ => return Err(Rejected),
        })
    }

    fn id_argument(&mut self) -> Fast<i64> {
        self.eat(b',')?;
        self.id()
    }

    /// `["bytes", base64, kind?]`'s arguments.
    fn bytes(&mut self) -> Fast<Expr> {
        self.eat(b',')?;
        let data = match self.plain_base64() {
            Some(data) => data,
            None => {
                let (raw, escaped) = self.raw_string()?;
                if escaped {
                    b64::decode(unescape(raw).as_bytes())
                } else {
                    b64::decode(raw.as_bytes())
                }
                .map_err(|_| Rejected)?
            }
        };
        let mut kind = None;
        if self.peek() == b',' {
            self.at += 1;
            let name = self.string()?;
            let found = BytesKind::from_name(&name).ok_or(Rejected)?;
            if found
                .element_size()
                .is_some_and(|size| data.len() % size != 0)
            {
                return Err(Rejected);
            }
            kind = Some(found);
        }
        Ok(Expr::Bytes { data, kind })
    }

    /// A string of base64 without escapes, decoded, found with a vectorised search for its
    /// closing quote rather than lexed byte by byte (bytes are most of a stream's text). If the
    /// text up to the first quote is not base64, `None`: the string holds an escape, a control
    /// character or other text, and is read the ordinary way.
    fn plain_base64(&mut self) -> Option<Vec<u8>> {
        if self.peek() != b'"' {
            return None;
        }
        let start = self.at + 1;
        let len = memchr::memchr(b'"', self.bytes.get(start..)?)?;
        // Base64 text holds no quote, backslash or control character, so decoding it also
        // checked that it is a whole JSON string without escapes.
        let data = b64::decode(self.bytes.get(start..start + len)?).ok()?;
        self.at = start + len + 1;
        Some(data)
    }

    /// `["error", name, message, stack?, props?]`'s arguments.
    fn error(&mut self, depth: usize) -> Fast<Expr> {
        self.eat(b',')?;
        let name = self.string()?;
        self.eat(b',')?;
        let message = self.string()?;
        let mut stack = None;
        let mut props = None;
        if self.peek() == b',' {
            self.at += 1;
            if self.peek() == b'n' {
                self.literal(b"null")?;
            } else {
                stack = Some(self.string()?);
            }
            if self.peek() == b',' {
                self.at += 1;
                if self.peek() != b'{' {
                    return Err(Rejected);
                }
                props = Some(self.fields(depth)?);
            }
        }
        Ok(Expr::Error(Box::new(ErrorForm {
            name,
            message,
            stack,
            props,
        })))
    }

    /// A plain list of `[name, value]` string pairs.
    fn header_pairs(&mut self) -> Fast<Vec<(String, String)>> {
        let mut pairs = Vec::new();
        if self.open_list(b'[', b']')? {
            loop {
                self.open(b'[')?;
                let name = self.string()?;
                self.eat(b',')?;
                let value = self.string()?;
                self.close(b']')?;
                pairs.push((name, value));
                if !self.more(b']')? {
                    break;
                }
            }
        }
        Ok(pairs)
    }

    /// A plain list of property names: strings, or integers from 0 below 2^53.
    fn path(&mut self) -> Fast<Path> {
        let mut path = Vec::new();
        if self.open_list(b'[', b']')? {
            loop {
                let key = if self.peek() == b'"' {
                    PathKey::Name(self.string()?)
                } else {
                    let x = self.number()?;
                    let index = x as u64;
                    if index as f64 != x || x >= MAX_SAFE_ID {
                        return Err(Rejected);
                    }
                    PathKey::Index(index)
                };
                path.push(key);
                if !self.more(b']')? {
                    break;
                }
            }
        }
        Ok(path)
    }

    /// A plain list of `["import", id]` / `["export", id]` captures.
    fn captures(&mut self) -> Fast<Vec<Capture>> {
        let mut captures = Vec::new();
        if self.open_list(b'[', b']')? {
            loop {
                self.open(b'[')?;
                let tag = self.tag()?;
                self.eat(b',')?;
                let id = self.id()?;
                self.close(b']')?;
                captures.push(match tag {
                    Tag::Import => Capture::Import(id),
                    Tag::Export => Capture::Export(id),
                    _ => return Err(Rejected),
                });
                if !self.more(b']')? {
                    break;
                }
            }
        }
        Ok(captures)
    }
}

/// Whether two of `fields` have the same key.
fn has_repeated_key(fields: &[(String, Expr)]) -> bool {
    if fields.len() <= PAIRWISE_KEYS {
        return fields.iter().enumerate().any(|(index, (key, _))| {
            fields
                .get(index + 1..)
                .unwrap_or(&[])
                .iter()
                .any(|(other, _)| other == key)
        });
    }
    // Sort cheap hashes of the keys; only keys whose hashes collide are compared as text
    // (sorted too, so even keys crafted to collide cost n log n comparisons, never n²).
    let mut hashes: Vec<(u64, usize)> = fields
        .iter()
        .enumerate()
        .map(|(index, (key, _))| (key_hash(key), index))
        .collect();
    hashes.sort_unstable();
    let mut colliding: Vec<&str> = Vec::new();
    for (at, pair) in hashes.windows(2).enumerate() {
        let [(first, a), (second, b)] = pair else {
            continue;
        };
        if first == second {
            // A run of equal hashes: take its first key once, and each following one.
            let starts_run = at == 0 || hashes.get(at - 1).is_none_or(|(h, _)| h != first);
            for (index, take) in [(a, starts_run), (b, true)] {
                if let (true, Some((key, _))) = (take, fields.get(*index)) {
                    colliding.push(key);
                }
            }
        }
    }
    colliding.sort_unstable();
    colliding.windows(2).any(|pair| pair.first() == pair.get(1))
}

/// A cheap, unkeyed hash of a key (a multiply-rotate mix over 8-byte words), only ever used
/// to skip comparing keys that differ.
fn key_hash(key: &str) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut hash = key.len() as u64;
    for chunk in key.as_bytes().chunks(8) {
        let mut word = [0u8; 8];
        for (slot, byte) in word.iter_mut().zip(chunk) {
            *slot = *byte;
        }
        hash = (hash.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every form, and the shapes around them, for the mutations to start from.
    const SEEDS: &[&str] = &[
        r#"["push",["pipeline",0,["add",1],[1,-2.5e3,"x",true,false,null]]]"#,
        r#"["resolve",-1,{"a":[["x",["date",5],["bigint","-12"],["bytes","AQIDBA","Int32Array"]]]}]"#,
        r#"["push",["bytes","aGVsbG8gd29ybGQ"]]"#,
        r#"["push",["bytes","aGk=",  "Uint8Array"]]"#,
        r#"["push",["bytes","a\u0047k"]]"#,
        r#"["reject",2,["error","Error","m",null,{"cause":["error","TypeError","x","stk"]}]]"#,
        r#"["push",["import",3,[],[["undefined"],["inf"],["-inf"],["nan"],["url","u"]]]]"#,
        r#"["push",["remap",1,["items"],[["import",0],["export",-2]],[["pipeline",0,["n"]]]]]"#,
        r#"["stream",["pipeline",1,["write"],[["blob","t",["readable",4]]]]]"#,
        r#"["resolve",3,[[["headers",[["k","v"]]],["export",-1],["promise",-2],["writable",-3]]]]"#,
        r#"["release",3,2]"#,
        r#"["pull",9007199254740991]"#,
        r#"["abort",{"k\u0062":"\ud83d\ude00\n","\u0070":[[1e21,-0,1.5]]}]"#,
        r#" [ "pipe" ] "#,
    ];

    const TOKENS: &[&str] = &[
        "[[",
        "]]",
        "{\"a\":",
        "}",
        ",0",
        ",[]",
        "null",
        "1.5",
        "-0",
        "9007199254740992",
        "\"bigint\"",
        "\"error\"",
        "\"import\"",
        "\"\\u0061\"",
        "\"a\":1,\"a\":2",
        " ",
        "1e400",
        "01",
        "[\"undefined\"]",
        "\"date\"",
        "\"Uint16Array\"",
    ];

    #[test]
    fn repeated_keys_are_found_in_objects_of_any_size() {
        for size in [0usize, 1, 2, 8, 9, 100, 1000] {
            let mut fields: Vec<(String, Expr)> =
                (0..size).map(|i| (format!("key{i}"), Expr::Null)).collect();
            assert!(!has_repeated_key(&fields), "{size}");
            if size > 0 {
                for at in [0, size / 2, size - 1] {
                    let key = fields[at].0.clone();
                    fields.push((key, Expr::Null));
                    assert!(has_repeated_key(&fields), "{size} {at}");
                    fields.pop();
                }
            }
        }
    }

    #[test]
    fn base64_with_escapes_or_other_text_is_read_as_a_string_first() {
        let bytes = |text: &str| match message(text, &Limits::default()) {
            Some(Message::Push(Expr::Bytes { data, .. })) => Some(data),
            _ => None,
        };
        assert_eq!(bytes(r#"["push",["bytes","aGk"]]"#), Some(b"hi".to_vec()));
        // An escaped letter is still base64, once the string is decoded.
        assert_eq!(
            bytes(r#"["push",["bytes","a\u0047k"]]"#),
            Some(b"hi".to_vec())
        );
        // A quote in the middle ends the search there; the string is then lexed as JSON.
        assert_eq!(bytes(r#"["push",["bytes","aG\"k"]]"#), None);
        assert_eq!(bytes(r#"["push",["bytes","aGk"#), None);
    }

    #[test]
    fn what_the_fast_path_accepts_the_strict_path_accepts_alike() {
        let mut state = 0x5eed_u64;
        let mut next = move |n: usize| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 33) % n as u64) as usize
        };
        let alphabet = b"[]{}\",:0123456789-.eE\\ abnulltrue";
        let mut fast_accepted = 0;
        for round in 0..20_000 {
            let mut bytes = SEEDS[round % SEEDS.len()].as_bytes().to_vec();
            for _ in 0..1 + next(3) {
                let at = next(bytes.len() + 1);
                match next(4) {
                    0 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    1 => bytes.insert(at, alphabet[next(alphabet.len())]),
                    2 => {
                        let token = TOKENS[next(TOKENS.len())].as_bytes();
                        bytes.splice(at..at, token.iter().copied());
                    }
                    _ => {
                        let end = (at + next(12)).min(bytes.len());
                        let piece = bytes[at..end].to_vec();
                        let to = next(bytes.len() + 1);
                        bytes.splice(to..to, piece);
                    }
                }
            }
            let text = String::from_utf8_lossy(&bytes);
            let limits = match round % 3 {
                0 => Limits::default(),
                1 => Limits::default().max_depth(3).max_bigint_digits(2),
                _ => Limits::default().max_depth(1),
            };
            if let Some(fast) = message(&text, &limits) {
                fast_accepted += 1;
                let strict = super::super::parse::strict_message(&text, &limits);
                // Debug output tells -0 from 0, which `==` does not.
                assert_eq!(
                    strict.as_ref().map(|m| format!("{m:?}")),
                    Ok(format!("{fast:?}")),
                    "{text}"
                );
            }
        }
        assert!(fast_accepted > 500, "{fast_accepted}");
    }
}
