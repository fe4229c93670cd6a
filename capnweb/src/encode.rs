//! Values to wire text (the opposite of [`evaluate`](crate::evaluate)), written straight into
//! the buffer that goes to the peer.
//!
//! Data maps onto its expression directly; stubs and promises are handed to an [`Exporter`],
//! which decides how the peer will refer to them: a session exports them on its table, the
//! `.map()` recorder captures them. What is written is held to the same [`Limits`] as what is
//! read: a value nested too deeply, a bigint too long, or a message too large fails with
//! [`Error::LimitExceeded`] as soon as the writer can tell, not after the whole text exists.

mod serde_writer;

pub(crate) use serde_writer::write_serialize;

use crate::error::{Error, RpcError};
use crate::hook::Hook;
use crate::value::{Bytes, Fetch, Value};
use crate::wire::tag::Tag;
use crate::wire::text::{write_number, write_string};
use crate::wire::write_expr;
use crate::wire::Limit;
use crate::wire::{Expr, FetchInit, Limits, PathKey, RequestForm, ResponseForm};

/// How the peer will refer to a stub or promise the encoder met.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reference {
    /// `["import", id]`: something the peer exports to us (we pass it back).
    Import(i64),
    /// `["export", id]`: a stub we export.
    Export(i64),
    /// `["pipeline", id, path?]`: a promise the peer is computing for us.
    Pipeline(i64, Vec<PathKey>),
    /// `["promise", id]`: a promise we export and will resolve.
    Promise(i64),
    /// `["writable", id]`: a writable stream we export.
    Writable(i64),
    /// `["readable", id]`: the readable end of the pipe we opened as import `id`.
    Readable(i64),
    /// `["blob", type, ["readable", id]]`.
    Blob(String, i64),
}

/// Decides how stubs and promises inside a value are referred to on the wire.
pub(crate) trait Exporter {
    /// The reference for a stub.
    fn stub(&mut self, hook: &Hook) -> Result<Reference, Error>;
    /// The reference for a promise for `path` of `hook`.
    fn promise(&mut self, hook: &Hook, path: &[PathKey]) -> Result<Reference, Error>;
    /// What to send in place of `error` (`on_send_error`'s answer, written as it is, stack
    /// and all), or `None` to send `error` itself without its stack. (No copy by default: a
    /// copy of an error holds copies of the errors in its props, and the encoder asks again at
    /// each of those, so copying would cost quadratic time in an error chain's depth.)
    fn outgoing_error(&mut self, _error: &RpcError) -> Option<RpcError> {
        None
    }
}

/// Writes one message's worth of values into `out`, checking the limits as it goes.
pub(crate) struct Encoder<'a> {
    out: &'a mut String,
    exporter: &'a mut dyn Exporter,
    limits: &'a Limits,
    /// Where the message being written starts in `out`.
    start: usize,
    /// How much of the message has been counted in UTF-16 units, and the count.
    counted: usize,
    units: usize,
}

impl<'a> Encoder<'a> {
    /// An encoder for a message that starts at the current end of `out`.
    pub(crate) fn new(
        out: &'a mut String,
        exporter: &'a mut dyn Exporter,
        limits: &'a Limits,
    ) -> Self {
        let start = out.len();
        Encoder {
            out,
            exporter,
            limits,
            start,
            counted: 0,
            units: 0,
        }
    }

    /// Appends text that needs no escaping (the message's frame: tags, ids, brackets).
    pub(crate) fn raw(&mut self, text: &str) {
        self.out.push_str(text);
    }

    /// Appends an integer.
    pub(crate) fn integer(&mut self, n: i64) {
        let mut buffer = itoa::Buffer::new();
        self.out.push_str(buffer.format(n));
    }

    /// Appends a JSON string.
    pub(crate) fn string(&mut self, s: &str) {
        write_string(self.out, s);
    }

    /// Appends a property path, `["a",0]`.
    pub(crate) fn path(&mut self, path: &[PathKey]) {
        self.out.push('[');
        for (i, key) in path.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            match key {
                PathKey::Name(name) => write_string(self.out, name),
                PathKey::Index(index) => {
                    let mut buffer = itoa::Buffer::new();
                    self.out.push_str(buffer.format(*index));
                }
            }
        }
        self.out.push(']');
    }

    /// Appends `["pipeline",id,path,[args]]` (a call), or `["pipeline",id,path]` without
    /// `args` (a property read): the expression of a `push`, a `stream` and a `.map()` capture.
    pub(crate) fn pipeline(
        &mut self,
        id: i64,
        path: &[PathKey],
        args: Option<&[Value]>,
    ) -> Result<(), Error> {
        self.raw(Tag::Pipeline.open());
        self.integer(id);
        self.raw(",");
        self.path(path);
        if let Some(args) = args {
            self.raw(",[");
            for (i, arg) in args.iter().enumerate() {
                if i > 0 {
                    self.raw(",");
                }
                self.value(arg, 1)?;
            }
            self.raw("]");
        }
        self.raw("]");
        Ok(())
    }

    /// Appends an expression (already in wire form, e.g. `.map()` instructions).
    pub(crate) fn expr(&mut self, expr: &Expr) -> Result<(), Error> {
        write_expr(self.out, expr);
        self.check_size()
    }

    /// Appends `value` as found at value depth `depth` (0 for a resolution, 1 for arguments).
    pub(crate) fn value(&mut self, value: &Value, depth: usize) -> Result<(), Error> {
        match value {
            // Only containers recurse, so only they need the stack check.
            Value::Array(_) | Value::Object(_) | Value::Error(_) => {
                crate::stack::guarded(|| self.value_level(value, depth))
            }
            _ => self.value_level(value, depth),
        }
    }

    /// Appends an error, its props through the exporter. A prop that cannot be encoded is left
    /// out: the error itself must always get through, as in the reference.
    pub(crate) fn error(&mut self, error: &RpcError, depth: usize) -> Result<(), Error> {
        let replaced = self.exporter.outgoing_error(error);
        let (outgoing, stack) = match &replaced {
            Some(replaced) => (replaced, replaced.stack.as_deref()),
            None => (error, None),
        };
        self.raw(Tag::Error.open());
        self.string(&outgoing.name);
        self.out.push(',');
        self.string(&outgoing.message);
        let props: Vec<_> = outgoing
            .props
            .iter()
            .filter(|(_, v)| !matches!(v, Value::Stub(_) | Value::Promise(_)))
            .collect();
        if stack.is_some() || !props.is_empty() {
            self.out.push(',');
            match stack {
                Some(stack) => self.string(stack),
                None => self.raw("null"),
            }
        }
        if !props.is_empty() {
            self.raw(",{");
            let mut first = true;
            for (key, value) in props {
                let mark = self.out.len();
                if !first {
                    self.out.push(',');
                }
                self.string(key);
                self.out.push(':');
                match self.value(value, depth + 1) {
                    Ok(()) => first = false,
                    Err(e @ Error::LimitExceeded(_)) => return Err(e),
                    Err(_) => self.out.truncate(mark),
                }
            }
            self.out.push('}');
        }
        self.out.push(']');
        self.check_size()
    }

    fn value_level(&mut self, value: &Value, depth: usize) -> Result<(), Error> {
        check_depth(depth, self.limits)?;
        match value {
            Value::Undefined => self.raw(Tag::Undefined.alone()),
            Value::Null => self.raw("null"),
            Value::Bool(b) => self.raw(if *b { "true" } else { "false" }),
            Value::Number(n) => self.number(*n),
            Value::String(s) => self.string(s),
            Value::Array(items) => {
                self.raw("[[");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.value(item, depth + 1)?;
                }
                self.raw("]]");
            }
            Value::Object(object) => {
                self.out.push('{');
                for (i, (key, item)) in object.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.string(key);
                    self.out.push(':');
                    self.value(item, depth + 1)?;
                }
                self.out.push('}');
            }
            Value::BigInt(b) => {
                if b.as_str().len() > self.limits.max_bigint_digits {
                    return Err(Error::limit(
                        Limit::BigIntDigits,
                        self.limits.max_bigint_digits,
                        format!(
                            "a bigint of {} characters is longer than the limit of {}, so it was \
                         not sent",
                            b.as_str().len(),
                            self.limits.max_bigint_digits
                        ),
                    ));
                }
                self.raw(Tag::BigInt.open());
                self.raw("\"");
                self.raw(b.as_str());
                self.raw("\"]");
            }
            Value::Date(d) => {
                self.raw(Tag::Date.open());
                if d.is_valid() {
                    write_number(self.out, d.millis());
                } else {
                    self.raw("null");
                }
                self.out.push(']');
            }
            Value::Bytes(b) => {
                check_whole_elements(b)?;
                self.raw(Tag::Bytes.open());
                self.raw("\"");
                crate::wire::b64::encode_into(b.as_slice(), self.out);
                self.out.push('"');
                if let Some(kind) = b.kind() {
                    self.out.push(',');
                    self.string(kind.name());
                }
                self.out.push(']');
            }
            Value::Error(e) => self.error(e, depth)?,
            Value::Url(href) => {
                self.raw(Tag::Url.open());
                self.string(href);
                self.out.push(']');
            }
            Value::Headers(pairs) => {
                self.raw(Tag::Headers.open());
                self.header_pairs(pairs);
                self.out.push(']');
            }
            Value::Request(request) => {
                let mut init = fetch_init(request, false, depth, self.limits)?;
                if let Some(body) = &request.body {
                    // The body sits one level below the form, as the reader counts it.
                    let (body, streamed) = self.body_expr(body, depth + 1)?;
                    init.body = Some(Box::new(body));
                    // As the reference sends it: fetch wants `duplex` for a streamed body.
                    if streamed && !init.other.contains_key("duplex") {
                        init.other.insert("duplex".into(), "half".into());
                    }
                }
                let expr = Expr::Request(Box::new(RequestForm {
                    url: request.url.clone(),
                    init,
                }));
                self.expr(&expr)?;
            }
            Value::Response(response) => {
                // The body sits one level below the form, as the reader counts it.
                let body = match &response.body {
                    Some(body) => self.body_expr(body, depth + 1)?.0,
                    None => Expr::Null,
                };
                let expr = Expr::Response(Box::new(ResponseForm {
                    body: Box::new(body),
                    init: fetch_init(response, false, depth, self.limits)?,
                }));
                self.expr(&expr)?;
            }
            Value::Stub(stub) => {
                let reference = self.exporter.stub(stub.hook())?;
                self.reference(&reference);
            }
            Value::Promise(promise) => {
                let reference = self.exporter.promise(promise.hook(), promise.path())?;
                self.reference(&reference);
            }
            Value::Deferred(deferred) => deferred.write(self, depth)?,
        }
        self.check_size()
    }

    /// A request or response body: data, or a readable stream (then `true`), which the
    /// exporter sends through a pipe, `["readable", id]`.
    fn body_expr(&mut self, body: &Value, depth: usize) -> Result<(Expr, bool), Error> {
        if let Value::Stub(stub) = body {
            if let Hook::Stream(stream) = stub.hook() {
                if let crate::stream::StreamHook::Readable(_) = &**stream {
                    if let Reference::Readable(id) = self.exporter.stub(stub.hook())? {
                        return Ok((Expr::Readable(id), true));
                    }
                }
            }
        }
        Ok((data_expr(body, depth, self.limits)?, false))
    }

    fn number(&mut self, n: f64) {
        if n.is_nan() {
            self.raw(Tag::NaN.alone());
        } else if n == f64::INFINITY {
            self.raw(Tag::Inf.alone());
        } else if n == f64::NEG_INFINITY {
            self.raw(Tag::NegInf.alone());
        } else {
            write_number(self.out, n);
        }
    }

    fn reference(&mut self, reference: &Reference) {
        if let Reference::Blob(mime, id) = reference {
            self.raw(Tag::Blob.open());
            self.string(mime);
            self.raw(",");
            self.raw(Tag::Readable.open());
            self.integer(*id);
            self.raw("]]");
            return;
        }
        let (tag, id) = match reference {
            Reference::Writable(id) => (Tag::Writable.open(), *id),
            Reference::Readable(id) => (Tag::Readable.open(), *id),
            Reference::Blob(_, id) => (Tag::Readable.open(), *id),
            Reference::Import(id) => (Tag::Import.open(), *id),
            Reference::Export(id) => (Tag::Export.open(), *id),
            Reference::Pipeline(id, _) => (Tag::Pipeline.open(), *id),
            Reference::Promise(id) => (Tag::Promise.open(), *id),
        };
        self.raw(tag);
        self.integer(id);
        if let Reference::Pipeline(_, path) = reference {
            if !path.is_empty() {
                self.out.push(',');
                self.path(path);
            }
        }
        self.out.push(']');
    }

    fn header_pairs(&mut self, pairs: &[(String, String)]) {
        self.out.push('[');
        for (i, (name, value)) in pairs.iter().enumerate() {
            if i > 0 {
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

    /// Fails once the message is over `Limits::max_message_size` UTF-16 units (JavaScript's
    /// string length). Bytes are an upper bound on units, so units are only counted (each
    /// byte once, however often this runs) when the bytes pass the limit.
    fn check_size(&mut self) -> Result<(), Error> {
        let written = self.out.len() - self.start;
        if written <= self.limits.max_message_size {
            return Ok(());
        }
        let fresh = &self.out.as_bytes()[self.start + self.counted..];
        self.units += utf16_units(fresh);
        self.counted = written;
        if self.units <= self.limits.max_message_size {
            return Ok(());
        }
        Err(Error::limit(
            Limit::MessageSize,
            self.limits.max_message_size,
            format!(
                "the message is larger than the limit of {} characters, so it was not sent",
                self.limits.max_message_size
            ),
        ))
    }
}

/// UTF-16 code units of UTF-8 `bytes` (which may start or end inside a character): one per
/// character, two for those beyond the Basic Multilingual Plane (4-byte sequences).
fn utf16_units(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .map(|&b| match b {
            0x80..=0xBF => 0,
            0xF0..=0xFF => 2,
            _ => 1,
        })
        .sum()
}

/// A typed array holds a whole number of elements: bytes of another length cannot be one
/// (the reader, and JavaScript, would refuse them).
fn check_whole_elements(bytes: &Bytes) -> Result<(), Error> {
    match bytes
        .kind()
        .and_then(|kind| kind.element_size().map(|size| (kind, size)))
    {
        Some((kind, size)) if !bytes.len().is_multiple_of(size) => Err(Error::encode(format!(
            "{} bytes is not a whole number of {} elements ({size} bytes each), so they cannot \
             be sent as one",
            bytes.len(),
            kind.name()
        ))),
        _ => Ok(()),
    }
}

/// A value at `depth` is too deep for `limits` (the reader would refuse it).
fn check_depth(depth: usize, limits: &Limits) -> Result<(), Error> {
    if depth >= limits.max_depth {
        return Err(Error::limit(
            Limit::Depth,
            limits.max_depth,
            format!(
                "the value is nested deeper than the limit of {} levels, so it was not sent",
                limits.max_depth
            ),
        ));
    }
    Ok(())
}

/// The `init` of a request or response value at `depth`, its body (requests only) as plain
/// data one level below.
fn fetch_init(
    fetch: &Fetch,
    with_body: bool,
    depth: usize,
    limits: &Limits,
) -> Result<FetchInit, Error> {
    let body = match (&fetch.body, with_body) {
        (Some(body), true) => Some(Box::new(data_expr(body, depth + 1, limits)?)),
        _ => None,
    };
    // The other options are plain JSON, one level below `init`: held to the depth limit as
    // a body is, or the reader would refuse the text.
    for value in fetch.other.values() {
        check_depth(depth + json_depth(value), limits)?;
    }
    Ok(FetchInit {
        body,
        headers: (!fetch.headers.is_empty()).then(|| fetch.headers.clone()),
        other: fetch.other.clone(),
    })
}

/// How deep plain JSON nests: 1 for a scalar, one more per array or object around it. Walked
/// without recursion, as a user's JSON may nest arbitrarily deep.
fn json_depth(value: &serde_json::Value) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(value, 1usize)];
    while let Some((value, depth)) = pending.pop() {
        deepest = deepest.max(depth);
        match value {
            serde_json::Value::Array(items) => {
                pending.extend(items.iter().map(|item| (item, depth + 1)));
            }
            serde_json::Value::Object(entries) => {
                pending.extend(entries.values().map(|entry| (entry, depth + 1)));
            }
            _ => {}
        }
    }
    deepest
}

/// A request or response body at `depth` as an expression: bodies are data (null, strings,
/// bytes, …), never capabilities, and held to the depth limit as every other value is.
fn data_expr(value: &Value, depth: usize, limits: &Limits) -> Result<Expr, Error> {
    check_depth(depth, limits)?;
    Ok(match value {
        Value::Undefined | Value::Null => Expr::Null,
        Value::Bool(b) => Expr::Bool(*b),
        Value::Number(n) if n.is_nan() => Expr::NaN,
        Value::Number(n) if *n == f64::INFINITY => Expr::Inf,
        Value::Number(n) if *n == f64::NEG_INFINITY => Expr::NegInf,
        Value::Number(n) => Expr::Number(*n),
        Value::String(s) => Expr::String(s.clone()),
        Value::Bytes(b) => {
            check_whole_elements(b)?;
            Expr::Bytes {
                data: b.as_slice().to_vec(),
                kind: b.kind(),
            }
        }
        Value::Array(items) => crate::stack::guarded(|| {
            items
                .iter()
                .map(|item| data_expr(item, depth + 1, limits))
                .collect::<Result<_, _>>()
                .map(Expr::Array)
        })?,
        Value::Object(object) => crate::stack::guarded(|| {
            object
                .iter()
                .map(|(k, v)| Ok((k.clone(), data_expr(v, depth + 1, limits)?)))
                .collect::<Result<_, Error>>()
                .map(Expr::Object)
        })?,
        other => {
            return Err(Error::encode(format!(
                "a request or response body must be data (a string, bytes or null), not {}",
                other.kind()
            )))
        }
    })
}
