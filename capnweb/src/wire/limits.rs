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
