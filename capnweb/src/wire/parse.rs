//! Strict parsing of message text into [`Message`] and [`Expr`].
//!
//! Parsing runs in three steps, cheapest first, so hostile input costs as little as possible:
//! the size limit is checked on the raw text, a byte scan bounds the JSON nesting (which keeps
//! serde_json's recursion, run with its own limit disabled, safe on any stack), and only then is
//! the text parsed into a `serde_json::Value` and converted, strictly, into the protocol's types.
//! Every error names the problem and the place it was found, e.g.
//! `at message[1][2]: expected a property path …, found an object`.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use serde::Deserialize as _;
use serde_json::{Map, Number, Value};

use super::{BytesKind, Capture, Expr, FetchInit, Limits, Message, Path, PathKey};

/// What kind of problem a [`WireError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WireErrorKind {
    /// The text is not JSON, or not a well-formed protocol message or expression.
    Malformed,
    /// The input exceeds one of the receiver's [`Limits`]; the message names the limit.
    LimitExceeded,
}

/// A message that does not follow the protocol: what was wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct WireError {
    kind: WireErrorKind,
    message: String,
}

impl WireError {
    /// Whether the input was malformed or exceeded a limit.
    pub fn kind(&self) -> WireErrorKind {
        self.kind
    }

    /// The full description, including where in the input the problem was found.
    pub fn message(&self) -> &str {
        &self.message
    }

    fn new(kind: WireErrorKind, message: String) -> Self {
        WireError { kind, message }
    }
}

/// The largest id or refcount accepted: JavaScript numbers are exact up to 2^53.
const MAX_SAFE_ID: f64 = 9_007_199_254_740_992.0; // 2^53

/// Room the byte pre-scan leaves above `2 * max_depth`: a value at the deepest allowed depth may
/// itself open a few brackets that do not count as value depth (e.g. a request's header pairs).
const NESTING_SLACK: usize = 8;

/// The deepest bracket nesting parsed whatever `Limits::max_depth` says. Parsing recurses once
/// per bracket; at this bound the worst case measured about 1.2 MiB of stack in release builds
/// (so a 2 MiB thread, tokio's default, is safe) and 3.2 MiB in debug builds. It admits value
/// depths up to about 500 (512 nested escaped arrays, 1000 nested objects).
const MAX_JSON_NESTING: usize = 1024;

/// Tags and text quoted in error messages are cut to this many characters, so a hostile peer
/// cannot make us build (or log) huge error strings.
const QUOTE_LIMIT: usize = 64;

pub(crate) fn parse_message(text: &str, limits: &Limits) -> Result<Message, WireError> {
    let value = parse_json(text, limits, "message")?;
    Converter { limits: *limits }
        .message(value)
        .map_err(|fail| fail.into_wire_error("message"))
}

pub(crate) fn parse_expr(text: &str, limits: &Limits) -> Result<Expr, WireError> {
    let value = parse_json(text, limits, "expression")?;
    Converter { limits: *limits }
        .expr(value, 0)
        .map_err(|fail| fail.into_wire_error("expr"))
}

// ---------------------------------------------------------------------------------------------
// Steps 1 and 2: size and nesting checks on the raw text, then JSON.

/// Texts nested at most this deep parse on the current stack.
const SHALLOW_NESTING: usize = 64;
/// Stack for a deeper text: generous per level (debug builds use the most).
const STACK_PER_NESTING: usize = 8 * 1024;
const STACK_BASE: usize = 256 * 1024;

/// Checks the size and nesting limits, then parses the text as JSON.
fn parse_json(text: &str, limits: &Limits, what: &str) -> Result<Value, WireError> {
    check_size(text, limits, what)?;
    let nesting = check_nesting(text, limits)?;
    let parse = || {
        let mut de = serde_json::Deserializer::from_str(text);
        // Safe: `check_nesting` has already bounded how deep serde_json can recurse, and a
        // deep text is parsed on a stack grown to fit it.
        de.disable_recursion_limit();
        Value::deserialize(&mut de).and_then(|value| de.end().map(|()| value))
    };
    let value = if nesting > SHALLOW_NESTING {
        stacker::grow(nesting * STACK_PER_NESTING + STACK_BASE, parse)
    } else {
        parse()
    };
    value.map_err(|err| WireError::new(WireErrorKind::Malformed, format!("invalid JSON: {err}")))
}

/// The size limit counts UTF-16 code units, as JavaScript's `string.length` does.
fn check_size(text: &str, limits: &Limits, what: &str) -> Result<(), WireError> {
    // A UTF-8 byte never stands for more than one UTF-16 unit, so short texts need no count.
    if text.len() <= limits.max_message_size {
        return Ok(());
    }
    let units: usize = text.chars().map(char::len_utf16).sum();
    if units <= limits.max_message_size {
        return Ok(());
    }
    Err(WireError::new(
        WireErrorKind::LimitExceeded,
        format!(
            "{what} of {units} UTF-16 code units exceeds the limit of {} \
             (Limits::max_message_size)",
            limits.max_message_size
        ),
    ))
}

/// Scans the bytes for bracket nesting deeper than any message within `max_depth` can need.
///
/// Each level of value depth costs at most two JSON brackets (`[[…]]`, or an element of a list
/// inside a form), so anything deeper than `2 * max_depth + NESTING_SLACK` must exceed the value
/// depth limit (or be malformed), and is refused before serde_json recurses into it. Whatever
/// the limit, nesting beyond [`MAX_JSON_NESTING`] is refused too, to keep the stack safe.
fn check_nesting(text: &str, limits: &Limits) -> Result<usize, WireError> {
    let by_limit = limits
        .max_depth
        .saturating_mul(2)
        .saturating_add(NESTING_SLACK);
    let bound = by_limit.min(MAX_JSON_NESTING);
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
                    return Err(nesting_error(limits, bound < by_limit));
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
    let message = if hard_cap {
        format!(
            "message nesting exceeds {MAX_JSON_NESTING} brackets, the most this parser accepts \
             whatever Limits::max_depth says, to keep the stack safe"
        )
    } else {
        depth_problem(limits)
    };
    WireError::new(WireErrorKind::LimitExceeded, message)
}

fn depth_problem(limits: &Limits) -> String {
    format!(
        "message nesting exceeds the limit of {} (Limits::max_depth)",
        limits.max_depth
    )
}

// ---------------------------------------------------------------------------------------------
// Step 3: JSON value to protocol types.

/// A conversion failure on its way up: the problem, plus the path to it collected while
/// unwinding (innermost segment first), so the success path never pays for path tracking.
#[derive(Debug)]
struct Fail {
    kind: WireErrorKind,
    problem: String,
    /// Path segments, innermost first.
    rev_path: Vec<Segment>,
    /// Whether the path is worth printing (not for depth errors, whose path is the problem).
    show_path: bool,
}

#[derive(Debug)]
enum Segment {
    Index(usize),
    Key(String),
}

type Result<T, E = Fail> = std::result::Result<T, E>;

impl Fail {
    fn malformed(problem: String) -> Self {
        Fail {
            kind: WireErrorKind::Malformed,
            problem,
            rev_path: Vec::new(),
            show_path: true,
        }
    }

    fn limit(problem: String, show_path: bool) -> Self {
        Fail {
            kind: WireErrorKind::LimitExceeded,
            problem,
            rev_path: Vec::new(),
            show_path,
        }
    }

    /// "expected X, found Y" for a value of the wrong type.
    fn expected(what: &str, found: &Value) -> Self {
        Fail::malformed(format!("expected {what}, found {}", describe(found)))
    }

    fn at_index(mut self, index: usize) -> Self {
        if self.show_path {
            self.rev_path.push(Segment::Index(index));
        }
        self
    }

    fn at_key(mut self, key: &str) -> Self {
        if self.show_path {
            self.rev_path.push(Segment::Key(key.to_owned()));
        }
        self
    }

    fn into_wire_error(self, root: &str) -> WireError {
        if !self.show_path {
            return WireError::new(self.kind, self.problem);
        }
        let mut message = format!("at {root}");
        for segment in self.rev_path.iter().rev() {
            match segment {
                Segment::Index(index) => message.push_str(&format!("[{index}]")),
                Segment::Key(key) if is_identifier(key) => message.push_str(&format!(".{key}")),
                Segment::Key(key) => message.push_str(&format!("[{}]", quote(key))),
            }
        }
        message.push_str(": ");
        message.push_str(&self.problem);
        WireError::new(self.kind, message)
    }
}

/// Adds the index of a list element to the path of an error from inside it.
trait AtIndex<T> {
    fn at(self, index: usize) -> Result<T>;
}

impl<T> AtIndex<T> for Result<T> {
    fn at(self, index: usize) -> Result<T> {
        self.map_err(|fail| fail.at_index(index))
    }
}

fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// A JSON-quoted, length-capped rendering of untrusted text for an error message.
fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_LIMIT) {
        Some((cut, _)) => format!("{}…", Value::from(&text[..cut])),
        None => Value::from(text).to_string(),
    }
}

/// Names a JSON value's type (and, when short, the value) for "found …" in error messages.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) => format!("a string ({})", quote(s)),
        Value::Array(items) => match items.len() {
            0 => "an empty array".to_owned(),
            1 => "an array of 1 element".to_owned(),
            n => format!("an array of {n} elements"),
        },
        Value::Object(_) => "an object".to_owned(),
    }
}

/// "takes 1 argument (…), found 2": arity errors count the elements after the tag.
fn arity_error(tag: &str, expects: &str, len: usize) -> Fail {
    Fail::malformed(format!(
        "\"{tag}\" takes {expects}, found {}",
        len.saturating_sub(1)
    ))
}

/// Converts parsed JSON into protocol types, enforcing the value limits.
struct Converter {
    limits: Limits,
}

impl Converter {
    // --- messages --------------------------------------------------------------------------

    fn message(&self, value: Value) -> Result<Message> {
        let mut items = match value {
            Value::Array(items) => items,
            other => {
                return Err(Fail::expected(
                    "a message (an array starting with a tag)",
                    &other,
                ))
            }
        };
        // The tag is moved out; element 0 is not looked at again.
        let tag = match items.first_mut() {
            Some(Value::String(tag)) => std::mem::take(tag),
            Some(other) => return Err(Fail::expected("a message tag string", other).at_index(0)),
            None => {
                return Err(Fail::malformed(
                    "empty array; expected a message tag".to_owned(),
                ))
            }
        };
        let len = items.len();
        let arity = |count: usize, expects: &str| {
            if len == count + 1 {
                Ok(())
            } else {
                Err(arity_error(&tag, expects, len))
            }
        };
        let message = match tag.as_str() {
            "push" => {
                arity(1, "1 argument (an expression)")?;
                Message::Push(self.expr(take(&mut items, 1), 0).at(1)?)
            }
            "pull" => {
                arity(1, "1 argument (an import id)")?;
                Message::Pull(id(arg(&items, 1)).at(1)?)
            }
            "resolve" | "reject" => {
                arity(2, "2 arguments (an export id and an expression)")?;
                let id = id(arg(&items, 1)).at(1)?;
                let expr = self.expr(take(&mut items, 2), 0).at(2)?;
                if tag == "resolve" {
                    Message::Resolve(id, expr)
                } else {
                    Message::Reject(id, expr)
                }
            }
            "release" => {
                arity(2, "2 arguments (an import id and a refcount)")?;
                Message::Release(id(arg(&items, 1)).at(1)?, refcount(arg(&items, 2)).at(2)?)
            }
            "stream" => {
                arity(1, "1 argument (an expression)")?;
                Message::Stream(self.expr(take(&mut items, 1), 0).at(1)?)
            }
            "pipe" => {
                arity(0, "no arguments")?;
                Message::Pipe
            }
            "abort" => {
                arity(1, "1 argument (an expression)")?;
                Message::Abort(self.expr(take(&mut items, 1), 0).at(1)?)
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

    /// Converts one expression found at value depth `depth`.
    fn expr(&self, value: Value, depth: usize) -> Result<Expr> {
        crate::stack::guarded(|| self.expr_at(value, depth))
    }

    fn expr_at(&self, value: Value, depth: usize) -> Result<Expr> {
        if depth >= self.limits.max_depth {
            return Err(Fail::limit(depth_problem(&self.limits), false));
        }
        Ok(match value {
            Value::Null => Expr::Null,
            Value::Bool(b) => Expr::Bool(b),
            Value::Number(n) => Expr::Number(number(&n)),
            Value::String(s) => Expr::String(s),
            Value::Object(map) => Expr::Object(self.fields(map, depth)?),
            Value::Array(items) => self.special(items, depth)?,
        })
    }

    /// An object's fields, each value an expression one level deeper.
    fn fields(&self, map: Map<String, Value>, depth: usize) -> Result<Vec<(String, Expr)>> {
        let mut fields = Vec::with_capacity(map.len());
        for (key, value) in map {
            match self.expr(value, depth + 1) {
                Ok(expr) => fields.push((key, expr)),
                Err(fail) => return Err(fail.at_key(&key)),
            }
        }
        Ok(fields)
    }

    /// A list of expressions (an escaped array's contents, call arguments, instructions).
    fn exprs(&self, items: Vec<Value>, depth: usize) -> Result<Vec<Expr>> {
        let mut exprs = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            exprs.push(self.expr(item, depth + 1).at(index)?);
        }
        Ok(exprs)
    }

    /// An array in expression position: an escaped array or a tagged special form.
    fn special(&self, mut items: Vec<Value>, depth: usize) -> Result<Expr> {
        if let [Value::Array(inner)] = items.as_mut_slice() {
            let inner = std::mem::take(inner);
            return Ok(Expr::Array(self.exprs(inner, depth).at(0)?));
        }
        // The tag is moved out; element 0 is not looked at again.
        let tag = match items.first_mut() {
            Some(Value::String(tag)) => std::mem::take(tag),
            Some(other) => {
                return Err(Fail::expected(
                    "an expression tag string (a literal array must be escaped as [[…]])",
                    other,
                )
                .at_index(0));
            }
            None => {
                return Err(Fail::malformed(
                    "empty array; a literal array must be escaped as [[…]]".to_owned(),
                ));
            }
        };
        self.tagged(&tag, items, depth)
    }

    /// A tagged special form, `[tag, …]`: looked up in [`FORMS`], arity checked, then parsed.
    // Kept out of line and tiny: it is part of the recursion through nested forms, so its frame
    // is paid once per level (the per-form work lives in the small functions of the table).
    #[inline(never)]
    fn tagged(&self, tag: &str, items: Vec<Value>, depth: usize) -> Result<Expr> {
        let Some(form) = FORMS.iter().find(|form| form.tag == tag) else {
            return Err(Fail::malformed(format!(
                "unknown expression tag {} (a literal array must be escaped as [[…]])",
                quote(tag)
            )));
        };
        let args = items.len().saturating_sub(1);
        if args < form.min_args || args > form.max_args {
            return Err(arity_error(tag, form.expects, items.len()));
        }
        (form.parse)(self, tag, items, depth)
    }

    /// `["undefined"]`, `["inf"]`, `["-inf"]`, `["nan"]`
    fn constant(&self, tag: &str, _items: Vec<Value>, _depth: usize) -> Result<Expr> {
        Ok(match tag {
            "undefined" => Expr::Undefined,
            "inf" => Expr::Inf,
            "-inf" => Expr::NegInf,
            _ => Expr::NaN,
        })
    }

    fn bigint_form(&self, _tag: &str, mut items: Vec<Value>, _depth: usize) -> Result<Expr> {
        Ok(Expr::BigInt(self.bigint(take(&mut items, 1)).at(1)?))
    }

    fn date_form(&self, _tag: &str, items: Vec<Value>, _depth: usize) -> Result<Expr> {
        Ok(Expr::Date(date(arg(&items, 1)).at(1)?))
    }

    fn bytes_form(&self, _tag: &str, items: Vec<Value>, _depth: usize) -> Result<Expr> {
        bytes(&items)
    }

    fn url_form(&self, _tag: &str, mut items: Vec<Value>, _depth: usize) -> Result<Expr> {
        Ok(Expr::Url(
            string(take(&mut items, 1), "a URL string").at(1)?,
        ))
    }

    fn headers_form(&self, _tag: &str, mut items: Vec<Value>, _depth: usize) -> Result<Expr> {
        Ok(Expr::Headers(header_pairs(take(&mut items, 1)).at(1)?))
    }

    /// `["request", url, init]`
    fn request_form(&self, _tag: &str, mut items: Vec<Value>, depth: usize) -> Result<Expr> {
        let url = string(take(&mut items, 1), "a URL string").at(1)?;
        let init = self.fetch_init(take(&mut items, 2), true, depth).at(2)?;
        Ok(Expr::Request { url, init })
    }

    /// `["response", body, init]`
    fn response_form(&self, _tag: &str, mut items: Vec<Value>, depth: usize) -> Result<Expr> {
        let body = Box::new(self.expr(take(&mut items, 1), depth + 1).at(1)?);
        let init = self.fetch_init(take(&mut items, 2), false, depth).at(2)?;
        Ok(Expr::Response { body, init })
    }

    /// `["export" | "promise" | "writable" | "readable", id]`
    fn id_form(&self, tag: &str, items: Vec<Value>, _depth: usize) -> Result<Expr> {
        let id = id(arg(&items, 1)).at(1)?;
        Ok(match tag {
            "export" => Expr::Export(id),
            "promise" => Expr::Promise(id),
            "writable" => Expr::Writable(id),
            _ => Expr::Readable(id),
        })
    }

    /// `["blob", type, content]`
    fn blob_form(&self, _tag: &str, mut items: Vec<Value>, depth: usize) -> Result<Expr> {
        let mime = string(take(&mut items, 1), "a MIME type string").at(1)?;
        let content = Box::new(self.expr(take(&mut items, 2), depth + 1).at(2)?);
        Ok(Expr::Blob { mime, content })
    }

    /// `["bigint", "…"]`'s text: length-capped before it is even looked at, then validated.
    fn bigint(&self, value: Value) -> Result<String> {
        let text = string(value, "a decimal string")?;
        if text.len() > self.limits.max_bigint_digits {
            return Err(Fail::limit(
                format!(
                    "bigint of {} characters exceeds the limit of {} (Limits::max_bigint_digits)",
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
    fn error_form(&self, _tag: &str, mut items: Vec<Value>, depth: usize) -> Result<Expr> {
        let name = string(take(&mut items, 1), "an error name string").at(1)?;
        let message = string(take(&mut items, 2), "an error message string").at(2)?;
        let stack = match items.get_mut(3).map(std::mem::take) {
            None | Some(Value::Null) => None,
            Some(Value::String(stack)) => Some(stack),
            Some(other) => return Err(Fail::expected("a stack string or null", &other).at_index(3)),
        };
        let props = match items.get_mut(4).map(std::mem::take) {
            None => None,
            Some(Value::Object(map)) => Some(self.fields(map, depth).at(4)?),
            Some(other) => return Err(Fail::expected("a props object", &other).at_index(4)),
        };
        Ok(Expr::Error {
            name,
            message,
            stack,
            props,
        })
    }

    /// The init object of `request` (whose `body` is an expression) or `response`.
    fn fetch_init(&self, value: Value, is_request: bool, depth: usize) -> Result<FetchInit> {
        let map = match value {
            Value::Object(map) => map,
            other => return Err(Fail::expected("an init object", &other)),
        };
        let mut init = FetchInit::default();
        for (key, value) in map {
            match key.as_str() {
                "body" if is_request => {
                    let body = self
                        .expr(value, depth + 1)
                        .map_err(|fail| fail.at_key(&key))?;
                    init.body = Some(Box::new(body));
                }
                "headers" => {
                    init.headers = Some(header_pairs(value).map_err(|fail| fail.at_key(&key))?);
                }
                // Everything else is a plain value the protocol passes through untouched.
                _ => {
                    let mut value = value;
                    normalize_numbers(&mut value);
                    init.other.insert(key, value);
                }
            }
        }
        Ok(init)
    }

    /// `["import" | "pipeline", id, path?, args?]`
    fn reference_form(&self, tag: &str, mut items: Vec<Value>, depth: usize) -> Result<Expr> {
        let id = id(arg(&items, 1)).at(1)?;
        let path = match items.get_mut(2).map(std::mem::take) {
            Some(value) => Some(path(value).at(2)?),
            None => None,
        };
        let args = match items.get_mut(3).map(std::mem::take) {
            Some(value) => Some(
                self.expr_list(value, "a list of call arguments", depth)
                    .at(3)?,
            ),
            None => None,
        };
        Ok(if tag == "import" {
            Expr::Import { id, path, args }
        } else {
            Expr::Pipeline { id, path, args }
        })
    }

    /// `["remap", id, path, captures, instructions]`
    fn remap_form(&self, _tag: &str, mut items: Vec<Value>, depth: usize) -> Result<Expr> {
        let id = id(arg(&items, 1)).at(1)?;
        let path = path(take(&mut items, 2)).at(2)?;
        let captures = captures(take(&mut items, 3)).at(3)?;
        let instructions = self
            .expr_list(take(&mut items, 4), "a list of instructions", depth)
            .at(4)?;
        Ok(Expr::Remap {
            id,
            path,
            captures,
            instructions,
        })
    }

    /// A plain (not escaped) JSON array whose elements are expressions one level deeper.
    fn expr_list(&self, value: Value, what: &str, depth: usize) -> Result<Vec<Expr>> {
        match value {
            Value::Array(items) => self.exprs(items, depth),
            other => Err(Fail::expected(what, &other)),
        }
    }
}

/// One special form: its tag, how many elements may follow the tag, and its parser.
struct Form {
    tag: &'static str,
    min_args: usize,
    max_args: usize,
    /// The arity in words, for "takes …, found N" errors.
    expects: &'static str,
    parse: fn(&Converter, &str, Vec<Value>, usize) -> Result<Expr>,
}

const fn form(
    tag: &'static str,
    (min_args, max_args): (usize, usize),
    expects: &'static str,
    parse: fn(&Converter, &str, Vec<Value>, usize) -> Result<Expr>,
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
    form("undefined", (0, 0), "no arguments", Converter::constant),
    form("inf", (0, 0), "no arguments", Converter::constant),
    form("-inf", (0, 0), "no arguments", Converter::constant),
    form("nan", (0, 0), "no arguments", Converter::constant),
    form(
        "bigint",
        (1, 1),
        "1 argument (a decimal string)",
        Converter::bigint_form,
    ),
    form(
        "date",
        (1, 1),
        "1 argument (milliseconds since the epoch, or null)",
        Converter::date_form,
    ),
    form(
        "bytes",
        (1, 2),
        "1 or 2 arguments (base64 text and an optional kind name)",
        Converter::bytes_form,
    ),
    form(
        "error",
        (2, 4),
        "2 to 4 arguments (name, message, optional stack, optional props)",
        Converter::error_form,
    ),
    form(
        "url",
        (1, 1),
        "1 argument (a URL string)",
        Converter::url_form,
    ),
    form(
        "headers",
        (1, 1),
        "1 argument (a list of [name, value] pairs)",
        Converter::headers_form,
    ),
    form(
        "request",
        (2, 2),
        "2 arguments (a URL string and an init object)",
        Converter::request_form,
    ),
    form(
        "response",
        (2, 2),
        "2 arguments (a body expression and an init object)",
        Converter::response_form,
    ),
    form("import", (1, 3), REFERENCE_ARGS, Converter::reference_form),
    form(
        "pipeline",
        (1, 3),
        REFERENCE_ARGS,
        Converter::reference_form,
    ),
    form(
        "remap",
        (4, 4),
        "4 arguments (an import id, a property path, captures and instructions)",
        Converter::remap_form,
    ),
    form("export", (1, 1), "1 argument (an id)", Converter::id_form),
    form("promise", (1, 1), "1 argument (an id)", Converter::id_form),
    form("writable", (1, 1), "1 argument (an id)", Converter::id_form),
    form("readable", (1, 1), "1 argument (an id)", Converter::id_form),
    form(
        "blob",
        (2, 2),
        "2 arguments (a MIME type string and a content expression)",
        Converter::blob_form,
    ),
];

const REFERENCE_ARGS: &str =
    "1 to 3 arguments (an import id, an optional property path and optional call arguments)";

// ---------------------------------------------------------------------------------------------
// Leaf values: these never recurse, so they need no depth.

/// Element `index` (callers have already checked the arity; a missing one reads as `null`).
fn arg(items: &[Value], index: usize) -> &Value {
    static NULL: Value = Value::Null;
    items.get(index).unwrap_or(&NULL)
}

/// Moves element `index` out, leaving `null` (callers have already checked the arity).
fn take(items: &mut [Value], index: usize) -> Value {
    items
        .get_mut(index)
        .map(std::mem::take)
        .unwrap_or(Value::Null)
}

fn string(value: Value, what: &str) -> Result<String> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(Fail::expected(what, &other)),
    }
}

/// A JSON number as JavaScript sees it: always a double.
fn number(n: &Number) -> f64 {
    // Without serde_json's arbitrary_precision every number has an f64 value.
    n.as_f64().unwrap_or(f64::NAN)
}

/// An integral number within ±2^53 (JSON `1.0` is the same number as `1`, as in JavaScript).
fn integer(value: &Value, what: &str) -> Result<i64> {
    let Value::Number(n) = value else {
        return Err(Fail::expected(what, value));
    };
    safe_integer(n).ok_or_else(|| {
        Fail::malformed(format!(
            "expected {what}, found {n}, which is not an integer within ±2^53"
        ))
    })
}

fn safe_integer(n: &Number) -> Option<i64> {
    match n.as_i64() {
        Some(i) => (i.unsigned_abs() <= MAX_SAFE_ID as u64).then_some(i),
        None => {
            let x = number(n);
            (x.fract() == 0.0 && x.abs() <= MAX_SAFE_ID).then_some(x as i64)
        }
    }
}

/// Stores every number in a pass-through value the way JavaScript would hold it (a double),
/// in one canonical `Number` representation, so equal values compare equal after a round trip
/// (`4e5` and `400000` are the same number to a JavaScript peer).
fn normalize_numbers(value: &mut Value) {
    match value {
        Value::Number(n) => {
            let x = number(n);
            // Integral doubles below 2^63 are exact as i64; -0 becomes 0, as JSON.stringify does.
            *n = if x.fract() == 0.0 && x.abs() < 9.2e18 {
                Number::from(x as i64)
            } else {
                Number::from_f64(x).unwrap_or_else(|| Number::from(0))
            };
        }
        Value::Array(items) => items.iter_mut().for_each(normalize_numbers),
        Value::Object(map) => map.values_mut().for_each(normalize_numbers),
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
}

fn id(value: &Value) -> Result<i64> {
    integer(value, "an integer id")
}

fn refcount(value: &Value) -> Result<u64> {
    let count = integer(value, "a non-negative integer refcount")?;
    u64::try_from(count)
        .map_err(|_| Fail::malformed(format!("expected a non-negative refcount, found {count}")))
}

/// `["date", ms]`'s argument: a number, or null for an invalid date.
fn date(value: &Value) -> Result<Option<f64>> {
    match value {
        Value::Null => Ok(None),
        Value::Number(n) => Ok(Some(number(n))),
        other => Err(Fail::expected("a number of milliseconds or null", other)),
    }
}

/// The standard alphabet, padding optional (the reference strips it when sending), and lenient
/// about unused trailing bits as JavaScript's decoders are.
const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// `["bytes", base64, kind?]`
fn bytes(items: &[Value]) -> Result<Expr> {
    let Value::String(text) = arg(items, 1) else {
        return Err(Fail::expected("a base64 string", arg(items, 1)).at_index(1));
    };
    let data = BASE64_LENIENT
        .decode(text)
        .map_err(|err| Fail::malformed(format!("invalid base64: {err}")).at_index(1))?;
    let kind = match items.get(2) {
        None => None,
        Some(Value::String(name)) => Some(bytes_kind(name, data.len()).at(2)?),
        Some(other) => return Err(Fail::expected("a bytes kind name", other).at_index(2)),
    };
    Ok(Expr::Bytes { data, kind })
}

/// A bytes kind by name; typed arrays must hold a whole number of elements.
fn bytes_kind(name: &str, len: usize) -> Result<BytesKind> {
    let kind = BytesKind::from_name(name)
        .ok_or_else(|| Fail::malformed(format!("unknown bytes kind {}", quote(name))))?;
    if let Some(size) = kind.element_size() {
        if len % size != 0 {
            return Err(Fail::malformed(format!(
                "{len} bytes is not a whole number of {name} elements ({size} bytes each)"
            )));
        }
    }
    Ok(kind)
}

/// A plain JSON list of `[name, value]` string pairs (headers).
fn header_pairs(value: Value) -> Result<Vec<(String, String)>> {
    let Value::Array(items) = value else {
        return Err(Fail::expected("a list of [name, value] pairs", &value));
    };
    let mut pairs = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        pairs.push(header_pair(item).at(index)?);
    }
    Ok(pairs)
}

fn header_pair(mut value: Value) -> Result<(String, String)> {
    if let Value::Array(pair) = &mut value {
        if let [Value::String(name), Value::String(val)] = pair.as_mut_slice() {
            return Ok((std::mem::take(name), std::mem::take(val)));
        }
    }
    Err(Fail::expected("a [name, value] pair of strings", &value))
}

/// A plain JSON list of property names: strings or non-negative integers.
fn path(value: Value) -> Result<Path> {
    const WHAT: &str = "a property path (a list of strings and non-negative integers)";
    let Value::Array(items) = value else {
        return Err(Fail::expected(WHAT, &value));
    };
    let mut path = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let key = match item {
            Value::String(name) => PathKey::Name(name),
            Value::Number(ref n) => match safe_integer(n).and_then(|i| u64::try_from(i).ok()) {
                Some(n) => PathKey::Index(n),
                None => {
                    return Err(
                        Fail::expected("a string or a non-negative integer", &item).at_index(index)
                    );
                }
            },
            other => {
                return Err(
                    Fail::expected("a property name (a string or number)", &other).at_index(index),
                );
            }
        };
        path.push(key);
    }
    Ok(path)
}

/// A plain JSON list of `["import", id]` / `["export", id]` captures.
fn captures(value: Value) -> Result<Vec<Capture>> {
    let Value::Array(items) = value else {
        return Err(Fail::expected("a list of captures", &value));
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| capture(item).at(index))
        .collect()
}

fn capture(value: &Value) -> Result<Capture> {
    const WHAT: &str = "a capture ([\"import\", id] or [\"export\", id])";
    let Value::Array(pair) = value else {
        return Err(Fail::expected(WHAT, value));
    };
    match pair.as_slice() {
        [Value::String(tag), id_value] if tag == "import" => {
            Ok(Capture::Import(id(id_value).at(1)?))
        }
        [Value::String(tag), id_value] if tag == "export" => {
            Ok(Capture::Export(id(id_value).at(1)?))
        }
        [Value::String(tag), _] => Err(Fail::malformed(format!(
            "unknown capture tag {}; expected \"import\" or \"export\"",
            quote(tag)
        ))
        .at_index(0)),
        _ => Err(Fail::expected(WHAT, value)),
    }
}
