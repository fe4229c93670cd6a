//! The wire format: [`Message`] and [`Expr`], strict parsing from text and serialization to text.
//!
//! This module knows the protocol's JSON shapes and escaping rules and nothing else: it never
//! touches a session, a table or a stub. Parsing is strict: an unknown tag, a wrong arity or a
//! wrong element type is a [`WireError`] that names the problem and where it was found.
//!
//! Not a stable API: it is public for the tests, the fuzz targets and the benches, and hidden
//! from the docs. The stable ways to read and write the protocol's values are
//! [`serialize`](crate::serialize) and [`deserialize`](crate::deserialize); [`Limits`] and
//! [`Limit`] are re-exported at the crate root.
//!
//! What a new message type touches: its tag in `tag.rs`, its [`Message`] variant, the strict
//! parser (`parse.rs`) and the serializer (`serialize.rs`); then the session, which handles
//! and sends it. The fast parser (`fast.rs`) hands anything it does not know to the strict
//! one, so it changes only to make the new message fast (its tests mutate every form and check
//! that both parsers accept the same, building the same values).
//!
//! ```
//! use capnweb::wire::{Expr, Message};
//!
//! let msg = Message::parse(r#"["push",["pipeline",0,["add"],[1,2]]]"#).unwrap();
//! assert!(matches!(&msg, Message::Push(Expr::Pipeline(call)) if call.id == 0));
//! assert_eq!(msg.to_text(), r#"["push",["pipeline",0,["add"],[1,2]]]"#);
//! ```

pub(crate) mod b64;
mod error;
mod fast;
mod lex;
mod limits;
mod parse;
mod serialize;
pub(crate) mod tag;
mod tape;
pub(crate) mod text;

pub(crate) use serialize::write_expr;

pub use error::{WireError, WireErrorKind};
pub use limits::{Limit, Limits};

/// A property path: the keys walked from a target or value (`["user", "name"]`, `["items", 0]`).
pub type Path = Vec<PathKey>;

/// One step of a [`Path`]: an object key or an array index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathKey {
    /// A property name.
    Name(String),
    /// An array index (JavaScript peers may also send integral numbers for names).
    Index(u64),
}

impl From<&str> for PathKey {
    fn from(name: &str) -> Self {
        PathKey::Name(name.to_owned())
    }
}

impl From<String> for PathKey {
    fn from(name: String) -> Self {
        PathKey::Name(name)
    }
}

impl From<u64> for PathKey {
    fn from(index: u64) -> Self {
        PathKey::Index(index)
    }
}

impl std::fmt::Display for PathKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathKey::Name(name) => f.write_str(name),
            PathKey::Index(index) => write!(f, "{index}"),
        }
    }
}

/// The container type named by the optional third element of `["bytes", base64, kind]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BytesKind {
    /// `ArrayBuffer`
    ArrayBuffer,
    /// `DataView`
    DataView,
    /// `Int8Array`
    Int8Array,
    /// `Uint8Array` (the default when the kind is omitted)
    Uint8Array,
    /// `Uint8ClampedArray`
    Uint8ClampedArray,
    /// `Int16Array` (little-endian elements)
    Int16Array,
    /// `Uint16Array` (little-endian elements)
    Uint16Array,
    /// `Int32Array` (little-endian elements)
    Int32Array,
    /// `Uint32Array` (little-endian elements)
    Uint32Array,
    /// `BigInt64Array` (little-endian elements)
    BigInt64Array,
    /// `BigUint64Array` (little-endian elements)
    BigUint64Array,
    /// `Float32Array` (little-endian elements)
    Float32Array,
    /// `Float64Array` (little-endian elements)
    Float64Array,
}

impl BytesKind {
    /// Every kind, in the order the protocol lists them.
    pub const ALL: [BytesKind; 13] = [
        BytesKind::ArrayBuffer,
        BytesKind::DataView,
        BytesKind::Int8Array,
        BytesKind::Uint8Array,
        BytesKind::Uint8ClampedArray,
        BytesKind::Int16Array,
        BytesKind::Uint16Array,
        BytesKind::Int32Array,
        BytesKind::Uint32Array,
        BytesKind::BigInt64Array,
        BytesKind::BigUint64Array,
        BytesKind::Float32Array,
        BytesKind::Float64Array,
    ];

    /// The JavaScript class name used on the wire.
    pub fn name(self) -> &'static str {
        match self {
            BytesKind::ArrayBuffer => "ArrayBuffer",
            BytesKind::DataView => "DataView",
            BytesKind::Int8Array => "Int8Array",
            BytesKind::Uint8Array => "Uint8Array",
            BytesKind::Uint8ClampedArray => "Uint8ClampedArray",
            BytesKind::Int16Array => "Int16Array",
            BytesKind::Uint16Array => "Uint16Array",
            BytesKind::Int32Array => "Int32Array",
            BytesKind::Uint32Array => "Uint32Array",
            BytesKind::BigInt64Array => "BigInt64Array",
            BytesKind::BigUint64Array => "BigUint64Array",
            BytesKind::Float32Array => "Float32Array",
            BytesKind::Float64Array => "Float64Array",
        }
    }

    /// Looks a kind up by its wire name.
    pub fn from_name(name: &str) -> Option<BytesKind> {
        BytesKind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// The element size in bytes, for typed arrays whose elements span several bytes.
    pub fn element_size(self) -> Option<usize> {
        match self {
            BytesKind::Int16Array | BytesKind::Uint16Array => Some(2),
            BytesKind::Int32Array | BytesKind::Uint32Array | BytesKind::Float32Array => Some(4),
            BytesKind::BigInt64Array | BytesKind::BigUint64Array | BytesKind::Float64Array => {
                Some(8)
            }
            _ => None,
        }
    }
}

/// The `init` of a `["request", url, init]` or `["response", body, init]` expression.
///
/// `body` is an expression; `headers` is a plain list of pairs; every other property is a plain
/// JSON value passed through untouched, as the protocol requires.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FetchInit {
    /// `init.body` (requests only; a response's body is its own element).
    pub body: Option<Box<Expr>>,
    /// `init.headers`, as `[name, value]` pairs.
    pub headers: Option<Vec<(String, String)>>,
    /// Every other property of `init`, in the order received.
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// A capture of a `["remap", …]` expression: a stub the mapper function uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    /// `["import", id]`: an entry on the sender's import table.
    Import(i64),
    /// `["export", id]`: an entry on the sender's export table.
    Export(i64),
}

/// An expression: a JSON value with the protocol's special forms decoded.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Expr {
    /// JSON `null`.
    Null,
    /// JSON `true` / `false`.
    Bool(bool),
    /// A finite JSON number (infinities and NaN have forms of their own).
    Number(f64),
    /// A JSON string.
    String(String),
    /// A JSON object; each value is an expression. Key order is preserved.
    Object(Vec<(String, Expr)>),
    /// An escaped literal array, `[[e1, e2, …]]`.
    Array(Vec<Expr>),
    /// `["undefined"]`
    Undefined,
    /// `["inf"]`
    Inf,
    /// `["-inf"]`
    NegInf,
    /// `["nan"]`
    NaN,
    /// `["bigint", "decimal"]`: the decimal text, validated as an optional `-` and digits.
    BigInt(String),
    /// `["date", ms]`; `None` is `["date", null]`, an invalid date.
    Date(Option<f64>),
    /// `["bytes", base64]` or `["bytes", base64, kind]`, decoded.
    Bytes {
        /// The raw bytes (typed-array elements little-endian).
        data: Vec<u8>,
        /// The container kind, when the sender named one.
        kind: Option<BytesKind>,
    },
    /// `["error", name, message, stack?, props?]`
    Error(Box<ErrorForm>),
    /// `["url", href]`
    Url(String),
    /// `["headers", [[name, value], …]]`
    Headers(Vec<(String, String)>),
    /// `["request", url, init]`
    Request(Box<RequestForm>),
    /// `["response", body, init]`
    Response(Box<ResponseForm>),
    /// `["import", id, path?, args?]`: a stub on the sender's import table.
    Import(Box<ReferenceForm>),
    /// `["pipeline", id, path?, args?]`: like `Import`, but evaluates to a promise.
    Pipeline(Box<ReferenceForm>),
    /// `["remap", id, path, captures, instructions]`: `.map()`.
    Remap(Box<RemapForm>),
    /// `["export", id]`: a stub the sender exports.
    Export(i64),
    /// `["promise", id]`: a promise the sender exports and will resolve unprompted.
    Promise(i64),
    /// `["writable", id]`: a writable stream the sender exports.
    Writable(i64),
    /// `["readable", id]`: the readable end of a pipe the sender created.
    Readable(i64),
    /// `["blob", type, readable]`
    Blob {
        /// The MIME type (may be empty).
        mime: String,
        /// The content expression (in practice a `Readable`).
        content: Box<Expr>,
    },
}

// The larger forms are boxed so that every `Expr` stays small (40 bytes, from 128 inline):
// lists of plain values, the bulk of most messages, then take a third of the memory, and
// moving an expression copies a third of the bytes.

/// The arguments of `["error", name, message, stack?, props?]` ([`Expr::Error`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorForm {
    /// The error class name, e.g. `"RangeError"`.
    pub name: String,
    /// The message.
    pub message: String,
    /// The stack, when sent (`null` in the 4th slot is `None`).
    pub stack: Option<String>,
    /// Extra properties (`cause`, custom fields); each value an expression.
    pub props: Option<Vec<(String, Expr)>>,
}

/// The arguments of `["request", url, init]` ([`Expr::Request`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestForm {
    /// The request URL.
    pub url: String,
    /// The constructor's init.
    pub init: FetchInit,
}

/// The arguments of `["response", body, init]` ([`Expr::Response`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseForm {
    /// The body expression (`null`, a string, bytes or a readable stream).
    pub body: Box<Expr>,
    /// The constructor's init (`body` unused).
    pub init: FetchInit,
}

/// The arguments of `["import" | "pipeline", id, path?, args?]` ([`Expr::Import`],
/// [`Expr::Pipeline`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceForm {
    /// The sender's import id (our export id).
    pub id: i64,
    /// The property path, if any.
    pub path: Option<Path>,
    /// Call arguments, if the path is called.
    pub args: Option<Vec<Expr>>,
}

/// The arguments of `["remap", id, path, captures, instructions]` ([`Expr::Remap`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RemapForm {
    /// The sender's import id of the value being mapped.
    pub id: i64,
    /// The property path to the value being mapped.
    pub path: Path,
    /// The stubs the mapper captured.
    pub captures: Vec<Capture>,
    /// The mapper's instructions; the last one is the result.
    pub instructions: Vec<Expr>,
}

/// A top-level protocol message.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Message {
    /// `["push", expr]`
    Push(Expr),
    /// `["pull", importId]`
    Pull(i64),
    /// `["resolve", exportId, expr]`
    Resolve(i64, Expr),
    /// `["reject", exportId, expr]`
    Reject(i64, Expr),
    /// `["release", importId, refcount]`
    Release(i64, u64),
    /// `["stream", expr]`
    Stream(Expr),
    /// `["pipe"]`
    Pipe,
    /// `["abort", expr]`
    Abort(Expr),
}

impl Message {
    /// Parses one message with the default [`Limits`].
    pub fn parse(text: &str) -> Result<Message, WireError> {
        parse::parse_message(text, &Limits::default())
    }

    /// Parses one message, enforcing `limits`.
    pub fn parse_with_limits(text: &str, limits: &Limits) -> Result<Message, WireError> {
        parse::parse_message(text, limits)
    }

    /// Parses one message from UTF-8 bytes (a transport's frame or body), enforcing `limits`.
    ///
    /// The size limit is checked first, on the bytes; text that is not valid UTF-8 is a
    /// [`WireErrorKind::Malformed`] error that says so.
    ///
    /// ```
    /// use capnweb::wire::{Message, WireErrorKind};
    /// use capnweb::Limits;
    ///
    /// let msg = Message::parse_bytes(br#"["pull",1]"#, &Limits::default()).unwrap();
    /// assert_eq!(msg, Message::Pull(1));
    /// let err = Message::parse_bytes(b"[\"push\",\"\xff\"]", &Limits::default()).unwrap_err();
    /// assert_eq!(err.kind(), WireErrorKind::Malformed);
    /// ```
    pub fn parse_bytes(bytes: &[u8], limits: &Limits) -> Result<Message, WireError> {
        parse::parse_message_bytes(bytes, limits)
    }

    /// The canonical text of this message (one line, no whitespace).
    pub fn to_text(&self) -> String {
        serialize::message_to_text(self)
    }
}

impl Expr {
    /// Parses a bare expression (not wrapped in a message), with the default [`Limits`].
    pub fn parse(text: &str) -> Result<Expr, WireError> {
        parse::parse_expr(text, &Limits::default())
    }

    /// The canonical text of this expression.
    pub fn to_text(&self) -> String {
        serialize::expr_to_text(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_stay_small() {
        // Lists of expressions are most of a message: their size is memory and copying.
        assert_eq!(std::mem::size_of::<Expr>(), 40);
        assert_eq!(std::mem::size_of::<Message>(), 56);
    }
}
