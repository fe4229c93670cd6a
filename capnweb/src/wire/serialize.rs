//! Serialization of [`Message`] and [`Expr`] to canonical text.
//!
//! The output is exactly what JavaScript's `JSON.stringify` produces for the reference
//! implementation's representation of the same value: no whitespace, strings escaped the same
//! way, numbers printed as JavaScript prints them. The text is written straight into one
//! `String`; no intermediate JSON tree is built.

use serde_json::Value;

use super::tag::Tag;
use super::text::{
    bare_form, close_form, open_form, write_base64, write_integer, write_key, write_number,
    write_string, write_unsigned,
};
use super::{Capture, ErrorForm, Expr, FetchInit, Message, PathKey, ReferenceForm};

pub(crate) fn message_to_text(msg: &Message) -> String {
    let mut writer = Writer::new();
    writer.message(msg);
    writer.out
}

pub(crate) fn expr_to_text(expr: &Expr) -> String {
    let mut writer = Writer::new();
    writer.expr(expr);
    writer.out
}

/// Appends the canonical text of `expr` to `out` (a message being written elsewhere, e.g. the
/// instructions of a `.map()`).
pub(crate) fn write_expr(out: &mut String, expr: &Expr) {
    let mut writer = Writer {
        out: std::mem::take(out),
        depth: 0,
    };
    writer.expr(expr);
    *out = writer.out;
}

/// `init` keys the reference writes before `headers`, so that our text matches its key order
/// for the values it sends (it builds `init` as method/status, headers, body, then the rest).
const REQUEST_LEADING_KEYS: &[&str] = &["method"];
const RESPONSE_LEADING_KEYS: &[&str] = &["status", "statusText"];

struct Writer {
    out: String,
    /// How many containers deep the expression being written is.
    depth: usize,
}

/// The output buffer's first size: most messages fit, and bigger ones double from there.
const INITIAL_CAPACITY: usize = 256;

impl Writer {
    fn new() -> Self {
        Writer {
            out: String::with_capacity(INITIAL_CAPACITY),
            depth: 0,
        }
    }

    // --- messages --------------------------------------------------------------------------

    fn message(&mut self, msg: &Message) {
        match msg {
            Message::Push(expr) => self.tag_then_expr(Tag::Push, expr),
            Message::Pull(id) => {
                self.open(Tag::Pull);
                self.integer(*id);
                self.close();
            }
            Message::Resolve(id, expr) => self.tag_id_expr(Tag::Resolve, *id, expr),
            Message::Reject(id, expr) => self.tag_id_expr(Tag::Reject, *id, expr),
            Message::Release(id, refcount) => {
                self.open(Tag::Release);
                self.integer(*id);
                self.out.push(',');
                write_unsigned(&mut self.out, *refcount);
                self.close();
            }
            Message::Stream(expr) => self.tag_then_expr(Tag::Stream, expr),
            Message::Pipe => self.bare(Tag::Pipe),
            Message::Abort(expr) => self.tag_then_expr(Tag::Abort, expr),
        }
    }

    fn tag_then_expr(&mut self, tag: Tag, expr: &Expr) {
        self.open(tag);
        self.expr(expr);
        self.close();
    }

    fn tag_id_expr(&mut self, tag: Tag, id: i64, expr: &Expr) {
        self.open(tag);
        self.integer(id);
        self.out.push(',');
        self.expr(expr);
        self.close();
    }

    // --- expressions -----------------------------------------------------------------------

    fn expr(&mut self, expr: &Expr) {
        match expr {
            // The commonest leaves, written without the stack guard: only nesting recurses.
            Expr::Null => self.out.push_str("null"),
            Expr::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Expr::Number(x) => self.number_expr(*x),
            Expr::String(s) => write_string(&mut self.out, s),
            _ => {
                self.depth += 1;
                crate::stack::guarded_at(self.depth, || self.expr_inner(expr));
                self.depth -= 1;
            }
        }
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
            Expr::Undefined => self.bare(Tag::Undefined),
            Expr::Inf => self.bare(Tag::Inf),
            Expr::NegInf => self.bare(Tag::NegInf),
            Expr::NaN => self.bare(Tag::NaN),
            Expr::BigInt(digits) => {
                self.open(Tag::BigInt);
                self.string(digits);
                self.close();
            }
            Expr::Date(ms) => {
                self.open(Tag::Date);
                // An invalid date (and any non-finite time) is `null`, as the reference sends it.
                match ms {
                    Some(ms) if ms.is_finite() => self.number(*ms),
                    _ => self.out.push_str("null"),
                }
                self.close();
            }
            Expr::Bytes { data, kind } => {
                self.open(Tag::Bytes);
                // The reference omits the padding.
                write_base64(&mut self.out, data);
                if let Some(kind) = kind {
                    self.out.push(',');
                    self.string(kind.name());
                }
                self.close();
            }
            Expr::Error(error) => self.error(error),
            Expr::Url(href) => {
                self.open(Tag::Url);
                self.string(href);
                self.close();
            }
            Expr::Headers(pairs) => {
                self.open(Tag::Headers);
                self.header_pairs(pairs);
                self.close();
            }
            Expr::Request(request) => {
                self.open(Tag::Request);
                self.string(&request.url);
                self.out.push(',');
                self.fetch_init(&request.init, REQUEST_LEADING_KEYS, true);
                self.close();
            }
            Expr::Response(response) => {
                self.open(Tag::Response);
                self.expr(&response.body);
                self.out.push(',');
                self.fetch_init(&response.init, RESPONSE_LEADING_KEYS, false);
                self.close();
            }
            Expr::Import(reference) => self.reference(Tag::Import, reference),
            Expr::Pipeline(reference) => self.reference(Tag::Pipeline, reference),
            Expr::Remap(remap) => {
                self.open(Tag::Remap);
                self.integer(remap.id);
                self.out.push(',');
                self.path(&remap.path);
                self.out.push(',');
                self.captures(&remap.captures);
                self.out.push(',');
                self.expr_list(&remap.instructions);
                self.close();
            }
            Expr::Export(id) => self.tag_id(Tag::Export, *id),
            Expr::Promise(id) => self.tag_id(Tag::Promise, *id),
            Expr::Writable(id) => self.tag_id(Tag::Writable, *id),
            Expr::Readable(id) => self.tag_id(Tag::Readable, *id),
            Expr::Blob { mime, content } => {
                self.open(Tag::Blob);
                self.string(mime);
                self.out.push(',');
                self.expr(content);
                self.close();
            }
        }
    }

    /// A number in expression position: non-finite values have special forms, not literals.
    #[inline(always)]
    fn number_expr(&mut self, x: f64) {
        if x.is_finite() {
            self.number(x);
        } else if x.is_nan() {
            self.bare(Tag::NaN);
        } else if x > 0.0 {
            self.bare(Tag::Inf);
        } else {
            self.bare(Tag::NegInf);
        }
    }

    /// `["error", name, message]`, plus the stack if any, plus `props` (with a `null` stack
    /// placeholder) if any: the shortest form that carries everything, as the reference sends.
    fn error(&mut self, error: &ErrorForm) {
        let (name, message) = (&error.name, &error.message);
        let (stack, props) = (error.stack.as_deref(), error.props.as_deref());
        self.open(Tag::Error);
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
    /// A plain `headers` key (or a request's plain `body`) is never written: the reader takes
    /// those keys for the typed fields, so the text would not read back as it was.
    fn fetch_init(&mut self, init: &FetchInit, leading: &[&str], is_request: bool) {
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
            // Skip what was written above, and plain keys that belong to a typed field.
            let shadowed = key == "headers" || (key == "body" && is_request);
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
    fn reference(&mut self, tag: Tag, reference: &ReferenceForm) {
        let (path, args) = (reference.path.as_deref(), reference.args.as_deref());
        self.open(tag);
        self.integer(reference.id);
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

    fn tag_id(&mut self, tag: Tag, id: i64) {
        self.open(tag);
        self.integer(id);
        self.close();
    }

    // --- pieces ----------------------------------------------------------------------------

    /// Starts a form with arguments: `["tag",`.
    fn open(&mut self, tag: Tag) {
        open_form(&mut self.out, tag);
    }

    fn close(&mut self) {
        close_form(&mut self.out);
    }

    /// A form with no arguments, `["tag"]`.
    fn bare(&mut self, tag: Tag) {
        bare_form(&mut self.out, tag);
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
        write_key(&mut self.out, key);
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
                PathKey::Index(i) => write_unsigned(&mut self.out, *i),
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
                Capture::Import(id) => self.tag_id(Tag::Import, *id),
                Capture::Export(id) => self.tag_id(Tag::Export, *id),
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
        write_integer(&mut self.out, id);
    }

    #[inline(always)]
    fn number(&mut self, x: f64) {
        write_number(&mut self.out, x);
    }

    fn string(&mut self, s: &str) {
        write_string(&mut self.out, s);
    }
}
