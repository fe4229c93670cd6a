//! Serialization of [`Message`] and [`Expr`] to canonical text.
//!
//! The output is exactly what JavaScript's `JSON.stringify` produces for the reference
//! implementation's representation of the same value: no whitespace, strings escaped the same
//! way, numbers printed as JavaScript prints them. The text is written straight into one
//! `String`; no intermediate JSON tree is built.

use std::fmt::Write as _;

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use serde_json::Value;

use super::{Capture, Expr, FetchInit, Message, PathKey};

pub(crate) fn message_to_text(msg: &Message) -> String {
    let mut writer = Writer::default();
    writer.message(msg);
    writer.out
}

pub(crate) fn expr_to_text(expr: &Expr) -> String {
    let mut out = String::new();
    write_expr(&mut out, expr);
    out
}

/// Appends the canonical text of `expr` to `out`.
pub(super) fn write_expr(out: &mut String, expr: &Expr) {
    let mut writer = Writer {
        out: std::mem::take(out),
    };
    writer.expr(expr);
    *out = writer.out;
}

/// `init` keys the reference writes before `headers`, so that our text matches its key order
/// for the values it sends (it builds `init` as method/status, headers, body, then the rest).
const REQUEST_LEADING_KEYS: &[&str] = &["method"];
const RESPONSE_LEADING_KEYS: &[&str] = &["status", "statusText"];

#[derive(Default)]
struct Writer {
    out: String,
}

impl Writer {
    // --- messages --------------------------------------------------------------------------

    fn message(&mut self, msg: &Message) {
        match msg {
            Message::Push(expr) => self.tag_then_expr("push", expr),
            Message::Pull(id) => {
                self.open("pull");
                self.integer(*id);
                self.close();
            }
            Message::Resolve(id, expr) => self.tag_id_expr("resolve", *id, expr),
            Message::Reject(id, expr) => self.tag_id_expr("reject", *id, expr),
            Message::Release(id, refcount) => {
                self.open("release");
                self.integer(*id);
                self.out.push(',');
                // Refcounts are small in practice; print exactly whatever the value is.
                let _ = write!(self.out, "{refcount}");
                self.close();
            }
            Message::Stream(expr) => self.tag_then_expr("stream", expr),
            Message::Pipe => self.bare("pipe"),
            Message::Abort(expr) => self.tag_then_expr("abort", expr),
        }
    }

    fn tag_then_expr(&mut self, tag: &str, expr: &Expr) {
        self.open(tag);
        self.expr(expr);
        self.close();
    }

    fn tag_id_expr(&mut self, tag: &str, id: i64, expr: &Expr) {
        self.open(tag);
        self.integer(id);
        self.out.push(',');
        self.expr(expr);
        self.close();
    }

    // --- expressions -----------------------------------------------------------------------

    fn expr(&mut self, expr: &Expr) {
        crate::stack::guarded(|| self.expr_inner(expr))
    }

    fn expr_inner(&mut self, expr: &Expr) {
        match expr {
            Expr::Null => self.out.push_str("null"),
            Expr::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Expr::Number(x) => self.number_expr(*x),
            Expr::String(s) => self.string(s),
            Expr::Object(fields) => self.fields(fields),
            Expr::Array(items) => {
                self.out.push_str("[[");
                self.expr_list_items(items);
                self.out.push_str("]]");
            }
            Expr::Undefined => self.bare("undefined"),
            Expr::Inf => self.bare("inf"),
            Expr::NegInf => self.bare("-inf"),
            Expr::NaN => self.bare("nan"),
            Expr::BigInt(digits) => {
                self.open("bigint");
                self.string(digits);
                self.close();
            }
            Expr::Date(ms) => {
                self.open("date");
                // An invalid date (and any non-finite time) is `null`, as the reference sends it.
                match ms {
                    Some(ms) if ms.is_finite() => self.number(*ms),
                    _ => self.out.push_str("null"),
                }
                self.close();
            }
            Expr::Bytes { data, kind } => {
                self.open("bytes");
                self.out.push('"');
                // Base64 never needs JSON escaping; the reference omits the padding.
                STANDARD_NO_PAD.encode_string(data, &mut self.out);
                self.out.push('"');
                if let Some(kind) = kind {
                    self.out.push(',');
                    self.string(kind.name());
                }
                self.close();
            }
            Expr::Error {
                name,
                message,
                stack,
                props,
            } => self.error(name, message, stack.as_deref(), props.as_deref()),
            Expr::Url(href) => {
                self.open("url");
                self.string(href);
                self.close();
            }
            Expr::Headers(pairs) => {
                self.open("headers");
                self.header_pairs(pairs);
                self.close();
            }
            Expr::Request { url, init } => {
                self.open("request");
                self.string(url);
                self.out.push(',');
                self.fetch_init(init, REQUEST_LEADING_KEYS);
                self.close();
            }
            Expr::Response { body, init } => {
                self.open("response");
                self.expr(body);
                self.out.push(',');
                self.fetch_init(init, RESPONSE_LEADING_KEYS);
                self.close();
            }
            Expr::Import { id, path, args } => {
                self.reference("import", *id, path.as_deref(), args.as_deref())
            }
            Expr::Pipeline { id, path, args } => {
                self.reference("pipeline", *id, path.as_deref(), args.as_deref())
            }
            Expr::Remap {
                id,
                path,
                captures,
                instructions,
            } => {
                self.open("remap");
                self.integer(*id);
                self.out.push(',');
                self.path(path);
                self.out.push(',');
                self.captures(captures);
                self.out.push(',');
                self.expr_list(instructions);
                self.close();
            }
            Expr::Export(id) => self.tag_id("export", *id),
            Expr::Promise(id) => self.tag_id("promise", *id),
            Expr::Writable(id) => self.tag_id("writable", *id),
            Expr::Readable(id) => self.tag_id("readable", *id),
            Expr::Blob { mime, content } => {
                self.open("blob");
                self.string(mime);
                self.out.push(',');
                self.expr(content);
                self.close();
            }
        }
    }

    /// A number in expression position: non-finite values have special forms, not literals.
    fn number_expr(&mut self, x: f64) {
        if x.is_nan() {
            self.bare("nan");
        } else if x == f64::INFINITY {
            self.bare("inf");
        } else if x == f64::NEG_INFINITY {
            self.bare("-inf");
        } else {
            self.number(x);
        }
    }

    /// `["error", name, message]`, plus the stack if any, plus `props` (with a `null` stack
    /// placeholder) if any: the shortest form that carries everything, as the reference sends.
    fn error(
        &mut self,
        name: &str,
        message: &str,
        stack: Option<&str>,
        props: Option<&[(String, Expr)]>,
    ) {
        self.open("error");
        self.string(name);
        self.out.push(',');
        self.string(message);
        if stack.is_some() || props.is_some() {
            self.out.push(',');
            match stack {
                Some(stack) => self.string(stack),
                None => self.out.push_str("null"),
            }
        }
        if let Some(props) = props {
            self.out.push(',');
            self.fields(props);
        }
        self.close();
    }

    /// `init`: the leading plain keys, `headers`, `body`, then every other plain key in order.
    fn fetch_init(&mut self, init: &FetchInit, leading: &[&str]) {
        let mut first = true;
        let mut sep = |out: &mut String| {
            if !std::mem::take(&mut first) {
                out.push(',');
            }
        };
        self.out.push('{');
        for key in leading {
            if let Some(value) = init.other.get(*key) {
                sep(&mut self.out);
                self.key(key);
                self.plain(value);
            }
        }
        if let Some(headers) = &init.headers {
            sep(&mut self.out);
            self.key("headers");
            self.header_pairs(headers);
        }
        if let Some(body) = &init.body {
            sep(&mut self.out);
            self.key("body");
            self.expr(body);
        }
        for (key, value) in &init.other {
            // Skip what was written above, and plain keys a typed field overrides.
            let shadowed = (key == "headers" && init.headers.is_some())
                || (key == "body" && init.body.is_some());
            if shadowed || leading.contains(&key.as_str()) {
                continue;
            }
            sep(&mut self.out);
            self.key(key);
            self.plain(value);
        }
        self.out.push('}');
    }

    /// `[tag, id, path?, args?]`; args without a path get an empty path so they stay in place.
    fn reference(&mut self, tag: &str, id: i64, path: Option<&[PathKey]>, args: Option<&[Expr]>) {
        self.open(tag);
        self.integer(id);
        if path.is_some() || args.is_some() {
            self.out.push(',');
            self.path(path.unwrap_or_default());
        }
        if let Some(args) = args {
            self.out.push(',');
            self.expr_list(args);
        }
        self.close();
    }

    fn tag_id(&mut self, tag: &str, id: i64) {
        self.open(tag);
        self.integer(id);
        self.close();
    }

    // --- pieces ----------------------------------------------------------------------------

    /// Starts a form with arguments: `["tag",`.
    fn open(&mut self, tag: &str) {
        self.out.push('[');
        self.string(tag);
        self.out.push(',');
    }

    fn close(&mut self) {
        self.out.push(']');
    }

    /// A form with no arguments, `["tag"]`.
    fn bare(&mut self, tag: &str) {
        self.out.push('[');
        self.string(tag);
        self.out.push(']');
    }

    fn fields(&mut self, fields: &[(String, Expr)]) {
        self.out.push('{');
        for (index, (key, value)) in fields.iter().enumerate() {
            if index > 0 {
                self.out.push(',');
            }
            self.key(key);
            self.expr(value);
        }
        self.out.push('}');
    }

    /// `"key":`
    fn key(&mut self, key: &str) {
        self.string(key);
        self.out.push(':');
    }

    /// A plain (not escaped) JSON list of expressions.
    fn expr_list(&mut self, items: &[Expr]) {
        self.out.push('[');
        self.expr_list_items(items);
        self.out.push(']');
    }

    fn expr_list_items(&mut self, items: &[Expr]) {
        for (index, item) in items.iter().enumerate() {
            if index > 0 {
                self.out.push(',');
            }
            self.expr(item);
        }
    }

    fn header_pairs(&mut self, pairs: &[(String, String)]) {
        self.out.push('[');
        for (index, (name, value)) in pairs.iter().enumerate() {
            if index > 0 {
                self.out.push(',');
            }
            self.out.push('[');
            self.string(name);
            self.out.push(',');
            self.string(value);
            self.out.push(']');
        }
        self.out.push(']');
    }

    fn path(&mut self, path: &[PathKey]) {
        self.out.push('[');
        for (index, key) in path.iter().enumerate() {
            if index > 0 {
                self.out.push(',');
            }
            match key {
                PathKey::Name(name) => self.string(name),
                PathKey::Index(i) => {
                    let _ = write!(self.out, "{i}");
                }
            }
        }
        self.out.push(']');
    }

    fn captures(&mut self, captures: &[Capture]) {
        self.out.push('[');
        for (index, capture) in captures.iter().enumerate() {
            if index > 0 {
                self.out.push(',');
            }
            match capture {
                Capture::Import(id) => self.tag_id("import", *id),
                Capture::Export(id) => self.tag_id("export", *id),
            }
        }
        self.out.push(']');
    }

    /// A plain JSON value (the pass-through parts of a fetch `init`), written as
    /// `JSON.stringify` would write it after `JSON.parse`.
    fn plain(&mut self, value: &Value) {
        match value {
            Value::Null => self.out.push_str("null"),
            Value::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            // JavaScript holds every number as a double, so print it as one.
            Value::Number(n) => match n.as_f64() {
                Some(x) if x.is_finite() => self.number(x),
                _ => self.out.push_str("null"),
            },
            Value::String(s) => self.string(s),
            Value::Array(items) => {
                self.out.push('[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        self.out.push(',');
                    }
                    self.plain(item);
                }
                self.out.push(']');
            }
            Value::Object(map) => {
                self.out.push('{');
                for (index, (key, item)) in map.iter().enumerate() {
                    if index > 0 {
                        self.out.push(',');
                    }
                    self.key(key);
                    self.plain(item);
                }
                self.out.push('}');
            }
        }
    }

    fn integer(&mut self, id: i64) {
        let _ = write!(self.out, "{id}");
    }

    fn number(&mut self, x: f64) {
        write_js_number(&mut self.out, x);
    }

    fn string(&mut self, s: &str) {
        write_json_string(&mut self.out, s);
    }
}

/// Writes a finite number as JavaScript's `Number.prototype.toString` does (ECMA-262
/// Number::toString with radix 10), which is what `JSON.stringify` uses.
pub(super) fn write_js_number(out: &mut String, x: f64) {
    if x == 0.0 {
        // Both zeros print as "0".
        out.push('0');
        return;
    }
    // Fast path: integers that i64 holds exactly print as themselves.
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        let _ = write!(out, "{}", x as i64);
        return;
    }
    if !x.is_finite() {
        // Callers never pass these; JSON.stringify would write null.
        out.push_str("null");
        return;
    }
    let (digits, n) = shortest_digits(x.abs());
    if x < 0.0 {
        out.push('-');
    }
    layout_js_number(out, digits.as_str(), n);
}

/// Lays out x = 0.d1d2…dk × 10^n as ECMA-262 Number::toString does: plain digits up to 21
/// integer places, `0.000ddd` down to 10^-6, exponent notation (`1.5e+25`, `1e-7`) otherwise.
fn layout_js_number(out: &mut String, digits: &str, n: i64) {
    let k = digits.len() as i64;
    if k <= n && n <= 21 {
        out.push_str(digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        // Here n < k, so the split is inside the (ASCII) digits.
        let (int, frac) = digits.split_at(n as usize);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(digits);
    } else {
        let (first, rest) = digits.split_at(digits.len().min(1));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let e = n - 1;
        let _ = write!(out, "e{}{}", if e >= 0 { "+" } else { "-" }, e.abs());
    }
}

/// The shortest digits that round-trip to the positive finite `x`, and n with
/// x = 0.d1d2…dk × 10^n, chosen as ECMA-262 Number::toString chooses them: the fewest digits,
/// then the closest to x, then (on an exact tie) the even one.
///
/// serde_json prints floats with Ryū, which makes exactly those choices (Rust's own `{:e}` does
/// not: it rounds exact ties up), so its output is only re-laid out here.
fn shortest_digits(x: f64) -> (Digits, i64) {
    let mut text = Digits::default();
    if let Some(number) = serde_json::Number::from_f64(x) {
        // Cannot fail: Ryū's longest output, "-1.7976931348623157e308", fits.
        let _ = write!(text, "{number}");
    }
    decimal_parts(text.as_str())
}

/// Splits a decimal `[-]ddd[.ddd][e±x]` into significant digits d1…dk (no leading or trailing
/// zeros) and n with value = 0.d1…dk × 10^n.
fn decimal_parts(text: &str) -> (Digits, i64) {
    let text = text.trim_start_matches('-');
    let (mantissa, exponent) = text.split_once(['e', 'E']).unwrap_or((text, "0"));
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut n = exponent.parse::<i64>().unwrap_or(0) + int.len() as i64;
    let mut digits = Digits::default();
    for byte in int.bytes().chain(frac.bytes()) {
        if digits.len == 0 && byte == b'0' {
            // A leading zero moves the point: 0.05 = 0.5 × 10^-1.
            n -= 1;
        } else {
            // At most 17 significant digits reach here; a longer text is cut, never a panic.
            let _ = digits.push(byte);
        }
    }
    digits.trim_trailing_zeros();
    (digits, n)
}

/// A short ASCII text on the stack: one number's digits, formatted without allocating.
struct Digits {
    bytes: [u8; 40],
    len: usize,
}

impl Default for Digits {
    fn default() -> Self {
        Digits {
            bytes: [0; 40],
            len: 0,
        }
    }
}

impl Digits {
    fn push(&mut self, byte: u8) -> Result<(), ()> {
        let slot = self.bytes.get_mut(self.len).ok_or(())?;
        *slot = byte;
        self.len += 1;
        Ok(())
    }

    fn trim_trailing_zeros(&mut self) {
        while self.len > 0 && self.bytes.get(self.len - 1) == Some(&b'0') {
            self.len -= 1;
        }
    }

    fn as_str(&self) -> &str {
        self.bytes
            .get(..self.len)
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .unwrap_or("")
    }
}

impl std::fmt::Write for Digits {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let slot = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Writes a JSON string literal escaped as `JSON.stringify` escapes it: `"` and `\` with a
/// backslash, the usual short escapes for control characters, `\u00XX` (lowercase hex) for the
/// other control characters, everything else as is.
pub(super) fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let escape: &str = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // Every escaped byte is ASCII, so these slice boundaries are char boundaries.
        out.push_str(&s[start..index]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{byte:04x}");
        } else {
            out.push_str(escape);
        }
        start = index + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}
