//! The protocol's tags, spelled once: every message and expression tag, read by both parsers
//! and written by every writer (the serializer here, and `encode` and the session's outbox,
//! which write straight into message text).

/// Declares [`Tag`] from `Variant = "text"` pairs, so that the name and its spelling cannot
/// drift apart between reading and writing.
macro_rules! tags {
    ($($(#[$doc:meta])* $variant:ident = $text:literal,)*) => {
        /// A message or expression tag of the protocol.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Tag {
            $($(#[$doc])* $variant,)*
        }

        impl Tag {
            /// Every tag, messages first.
            #[cfg(test)]
            pub(crate) const ALL: &[Tag] = &[$(Tag::$variant,)*];

            /// The tag read from `text`, or `None` for a tag the protocol does not have.
            #[inline]
            pub(crate) fn of(text: &str) -> Option<Tag> {
                match text {
                    $($text => Some(Tag::$variant),)*
                    _ => None,
                }
            }

            /// The tag as the wire spells it: `push`.
            #[cfg(test)]
            pub(crate) const fn text(self) -> &'static str {
                match self {
                    $(Tag::$variant => $text,)*
                }
            }

            /// The start of the form with arguments to follow: `["push",`.
            pub(crate) const fn open(self) -> &'static str {
                match self {
                    $(Tag::$variant => concat!("[\"", $text, "\",")),*
                }
            }

            /// The whole form without arguments: `["pipe"]`.
            pub(crate) const fn alone(self) -> &'static str {
                match self {
                    $(Tag::$variant => concat!("[\"", $text, "\"]")),*
                }
            }
        }
    };
}

tags! {
    // Messages.
    /// `["push", expr]`
    Push = "push",
    /// `["pull", importId]`
    Pull = "pull",
    /// `["resolve", exportId, expr]`
    Resolve = "resolve",
    /// `["reject", exportId, expr]`
    Reject = "reject",
    /// `["release", importId, refcount]`
    Release = "release",
    /// `["stream", expr]`
    Stream = "stream",
    /// `["pipe"]`
    Pipe = "pipe",
    /// `["abort", expr]`
    Abort = "abort",
    // Expressions.
    /// `["undefined"]`
    Undefined = "undefined",
    /// `["inf"]`
    Inf = "inf",
    /// `["-inf"]`
    NegInf = "-inf",
    /// `["nan"]`
    NaN = "nan",
    /// `["bigint", decimal]`
    BigInt = "bigint",
    /// `["date", ms]`
    Date = "date",
    /// `["bytes", base64, kind?]`
    Bytes = "bytes",
    /// `["error", name, message, stack?, props?]`
    Error = "error",
    /// `["url", href]`
    Url = "url",
    /// `["headers", pairs]`
    Headers = "headers",
    /// `["request", url, init]`
    Request = "request",
    /// `["response", body, init]`
    Response = "response",
    /// `["import", id, path?, args?]`
    Import = "import",
    /// `["pipeline", id, path?, args?]`
    Pipeline = "pipeline",
    /// `["remap", id, path, captures, instructions]`
    Remap = "remap",
    /// `["export", id]`
    Export = "export",
    /// `["promise", id]`
    Promise = "promise",
    /// `["writable", id]`
    Writable = "writable",
    /// `["readable", id]`
    Readable = "readable",
    /// `["blob", type, content]`
    Blob = "blob",
}

#[cfg(test)]
mod tests {
    use super::Tag;

    #[test]
    fn each_tag_reads_back_from_its_spelling() {
        for &tag in Tag::ALL {
            assert_eq!(Tag::of(tag.text()), Some(tag));
            assert_eq!(tag.open(), format!("[\"{}\",", tag.text()));
            assert_eq!(tag.alone(), format!("[\"{}\"]", tag.text()));
        }
        assert_eq!(Tag::of("Push"), None);
    }
}
