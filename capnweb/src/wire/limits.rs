/// Resource limits applied to what a peer sends, with the reference implementation's defaults.
///
/// Limits are a local, receiver-side decision: a message that exceeds one is refused and the
/// session that received it is aborted with an error naming the limit.
///
/// ```
/// let limits = capnweb::Limits::default().max_depth(64).max_message_size(1 << 20);
/// assert_eq!(limits.max_bigint_digits, 16384);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest decimal text accepted in `["bigint", "…"]`, counting a leading `-`. Default 16384.
    pub max_bigint_digits: usize,
    /// Deepest nesting of values accepted in one message. Default 256.
    pub max_depth: usize,
    /// Largest message accepted, in UTF-16 code units (as JavaScript counts string length),
    /// checked before parsing. Default 33,554,432.
    pub max_message_size: usize,
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
    /// Sets [`Limits::max_bigint_digits`].
    pub fn max_bigint_digits(mut self, digits: usize) -> Self {
        self.max_bigint_digits = digits;
        self
    }

    /// Sets [`Limits::max_depth`].
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }

    /// Sets [`Limits::max_message_size`].
    pub fn max_message_size(mut self, size: usize) -> Self {
        self.max_message_size = size;
        self
    }
}
