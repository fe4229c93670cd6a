/// Resource limits applied to what a peer sends, with the reference implementation's defaults.
///
/// Limits are a local, receiver-side decision: a message that exceeds one is refused and the
/// session that received it is aborted with an error naming the limit.
///
/// ```
/// let limits = capnweb::Limits::default().max_depth(64).max_message_size(1 << 20);
/// assert_eq!(limits.depth(), 64);
/// assert_eq!(limits.bigint_digits(), 16384);
/// ```
///
/// The fields are private so that limits can be added without breaking code that builds one:
/// start from `default()` and set what you need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Limits {
    /// Longest decimal text accepted in `["bigint", "…"]`, counting a leading `-`. Default 16384.
    pub(crate) max_bigint_digits: usize,
    /// Deepest nesting of values accepted in one message. Default 256.
    pub(crate) max_depth: usize,
    /// Largest message accepted, in UTF-16 code units (as JavaScript counts string length),
    /// checked before parsing. Default 33,554,432.
    pub(crate) max_message_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bigint_digits: 16384,
            max_depth: 256,
            max_message_size: 32 * 1024 * 1024,
        }
    }
}

impl Limits {
    /// Sets the longest decimal text accepted in `["bigint", "…"]`, counting a leading `-`.
    pub fn max_bigint_digits(mut self, digits: usize) -> Self {
        self.max_bigint_digits = digits;
        self
    }

    /// Sets the deepest nesting of values accepted in one message.
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }

    /// Sets the largest message accepted, in UTF-16 code units (as JavaScript counts string
    /// length), checked before parsing.
    pub fn max_message_size(mut self, size: usize) -> Self {
        self.max_message_size = size;
        self
    }

    /// The longest bigint text accepted (default 16384).
    pub fn bigint_digits(&self) -> usize {
        self.max_bigint_digits
    }

    /// The deepest nesting accepted (default 256).
    pub fn depth(&self) -> usize {
        self.max_depth
    }

    /// The largest message accepted, in UTF-16 code units (default 33,554,432).
    pub fn message_size(&self) -> usize {
        self.max_message_size
    }
}

/// Which bound was exceeded: one of [`Limits`], one of the session's own bounds, or one of
/// the fixed bounds of this implementation. [`Error::LimitExceeded`](crate::Error) carries it,
/// with the bound's value, so a caller can tell what to raise.
///
/// ```
/// use capnweb::Limit;
///
/// assert_eq!(Limit::Depth.setting(), Some("Limits::max_depth"));
/// assert_eq!(Limit::Depth.unit(), "levels");
/// assert_eq!(Limit::Nesting.setting(), None); // fixed: no setting raises it
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// A message's size, in UTF-16 code units ([`Limits::max_message_size`]).
    MessageSize,
    /// How deep values nest ([`Limits::max_depth`]).
    Depth,
    /// A bigint's decimal text ([`Limits::max_bigint_digits`]).
    BigIntDigits,
    /// Capabilities the peer holds from us without releasing them
    /// ([`SessionOptions::max_exports`](crate::SessionOptions::max_exports)).
    Exports,
    /// Capabilities from the peer still in use here
    /// ([`SessionOptions::max_imports`](crate::SessionOptions::max_imports)).
    Imports,
    /// How long messages may wait for a peer that stopped reading, in milliseconds
    /// ([`SessionOptions::send_timeout`](crate::SessionOptions::send_timeout), with
    /// [`max_queued_bytes`](crate::SessionOptions::max_queued_bytes)).
    SendTimeout,
    /// Bytes a stream's writer may send ahead of its reader
    /// ([`SessionOptions::max_stream_buffer_bytes`](crate::SessionOptions::max_stream_buffer_bytes)).
    StreamBuffer,
    /// Bracket nesting in one message, whatever [`Limits::max_depth`] says: fixed, to keep
    /// the stack safe.
    Nesting,
    /// A message's length in bytes, whatever [`Limits::max_message_size`] says: fixed (4 GiB).
    TextLength,
}

impl Limit {
    /// The setting that raises it (`"Limits::max_depth"`), or `None` for a fixed bound.
    pub fn setting(self) -> Option<&'static str> {
        Some(match self {
            Limit::MessageSize => "Limits::max_message_size",
            Limit::Depth => "Limits::max_depth",
            Limit::BigIntDigits => "Limits::max_bigint_digits",
            Limit::Exports => "SessionOptions::max_exports",
            Limit::Imports => "SessionOptions::max_imports",
            Limit::SendTimeout => "SessionOptions::send_timeout",
            Limit::StreamBuffer => "SessionOptions::max_stream_buffer_bytes",
            Limit::Nesting | Limit::TextLength => return None,
        })
    }

    /// What the bound counts: `"UTF-16 code units"`, `"levels"`, `"bytes"`, ….
    pub fn unit(self) -> &'static str {
        match self {
            Limit::MessageSize => "UTF-16 code units",
            Limit::Depth => "levels",
            Limit::BigIntDigits => "characters",
            Limit::Exports | Limit::Imports => "capabilities",
            Limit::SendTimeout => "milliseconds",
            Limit::StreamBuffer | Limit::TextLength => "bytes",
            Limit::Nesting => "brackets",
        }
    }
}

// The bounds both parsers (`fast` and `parse`) apply, so that they agree.

/// The largest id or refcount accepted: JavaScript numbers are exact up to 2^53.
pub(super) const MAX_SAFE_ID: f64 = 9_007_199_254_740_992.0; // 2^53

/// Room the nesting bound leaves above `2 * max_depth`: a value at the deepest allowed depth
/// may itself open a few brackets that do not count as value depth (e.g. a request's header
/// pairs).
const NESTING_SLACK: usize = 8;

/// The deepest bracket nesting parsed whatever `Limits::max_depth` says, to keep the stack
/// safe. It admits value depths up to about 500 (512 nested escaped arrays, 1000 nested
/// objects).
pub(super) const MAX_JSON_NESTING: usize = 1024;

/// How deep brackets may nest: each level of value depth costs at most two JSON brackets
/// (`[[…]]`, or an element of a list inside a form), so anything deeper than
/// `2 * max_depth + NESTING_SLACK` must exceed the value depth limit (or be malformed), and is
/// refused before any conversion. Whatever the limit, nesting beyond [`MAX_JSON_NESTING`] is
/// refused too. Returns the bound, and whether it is the hard cap rather than the limit's.
pub(super) fn nesting_bound(limits: &Limits) -> (usize, bool) {
    let by_limit = limits
        .max_depth
        .saturating_mul(2)
        .saturating_add(NESTING_SLACK);
    (by_limit.min(MAX_JSON_NESTING), by_limit > MAX_JSON_NESTING)
}

/// Objects with up to this many keys look for repeats pairwise; larger ones use a hash set.
pub(super) const PAIRWISE_KEYS: usize = 8;
