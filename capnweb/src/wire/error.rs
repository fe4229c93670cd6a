//! What a parse failure reports: [`WireError`] for callers, and [`Fail`], the failure on its way
//! up through the converter, which collects the path to the problem as it unwinds (so a
//! successful parse never pays for path tracking).

use super::limits::Limit;

/// What kind of problem a [`WireError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WireErrorKind {
    /// The text is not JSON, or not a well-formed protocol message or expression.
    Malformed,
    /// The input exceeds one of the receiver's [`Limits`](super::Limits); the message names
    /// the limit.
    LimitExceeded,
}

/// A message that does not follow the protocol: what was wrong and where. Shown, it also
/// names the setting that raises an exceeded limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    kind: WireErrorKind,
    message: String,
    /// For [`WireErrorKind::LimitExceeded`]: which bound, and its value.
    limit: Option<(Limit, u64)>,
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        match self.limit.and_then(|(limit, _)| limit.setting()) {
            Some(setting) => write!(f, " ({setting})"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for WireError {}

impl WireError {
    /// Whether the input was malformed or exceeded a limit.
    pub fn kind(&self) -> WireErrorKind {
        self.kind
    }

    /// What was wrong and where in the input, in the protocol's terms (what a peer is told;
    /// the `Display` form adds the setting that raises an exceeded limit).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// For an exceeded limit: which one, and its value (in [`Limit::unit`]s).
    pub fn limit(&self) -> Option<(Limit, u64)> {
        self.limit
    }

    pub(super) fn new(kind: WireErrorKind, message: String) -> Self {
        WireError {
            kind,
            message,
            limit: None,
        }
    }

    /// An exceeded limit: `max` is its value.
    pub(super) fn exceeded(limit: Limit, max: usize, message: String) -> Self {
        WireError {
            kind: WireErrorKind::LimitExceeded,
            message,
            limit: Some((limit, max as u64)),
        }
    }
}

/// Tags and text quoted in error messages are cut to this many characters, so a hostile peer
/// cannot make us build (or log) huge error strings.
const QUOTE_LIMIT: usize = 64;

/// A conversion failure on its way up: the problem, plus the path to it collected while
/// unwinding (innermost segment first). Boxed, so that results stay as small as their values.
#[derive(Debug)]
pub(super) struct Fail(Box<Failure>);

#[derive(Debug)]
struct Failure {
    kind: WireErrorKind,
    problem: String,
    /// For an exceeded limit: which one, and its value.
    limit: Option<(Limit, u64)>,
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

impl Fail {
    #[cold]
    pub(super) fn malformed(problem: String) -> Self {
        Fail(Box::new(Failure {
            kind: WireErrorKind::Malformed,
            problem,
            limit: None,
            rev_path: Vec::new(),
            show_path: true,
        }))
    }

    #[cold]
    pub(super) fn limit(limit: Limit, max: usize, problem: String, show_path: bool) -> Self {
        Fail(Box::new(Failure {
            kind: WireErrorKind::LimitExceeded,
            problem,
            limit: Some((limit, max as u64)),
            rev_path: Vec::new(),
            show_path,
        }))
    }

    /// "expected X, found Y" for a value of the wrong type (`found` describes it).
    #[cold]
    pub(super) fn expected(what: &str, found: &str) -> Self {
        Fail::malformed(format!("expected {what}, found {found}"))
    }

    #[cold]
    pub(super) fn at_index(mut self, index: usize) -> Self {
        if self.0.show_path {
            self.0.rev_path.push(Segment::Index(index));
        }
        self
    }

    #[cold]
    pub(super) fn at_key(mut self, key: &str) -> Self {
        if self.0.show_path {
            self.0.rev_path.push(Segment::Key(key.to_owned()));
        }
        self
    }

    /// The error as the caller sees it, its path rooted at `root` (`message` or `expr`).
    pub(super) fn into_wire_error(self, root: &str) -> WireError {
        let failure = *self.0;
        let error = |message| WireError {
            kind: failure.kind,
            message,
            limit: failure.limit,
        };
        if !failure.show_path {
            return error(failure.problem);
        }
        let mut message = format!("at {root}");
        for segment in failure.rev_path.iter().rev() {
            match segment {
                Segment::Index(index) => message.push_str(&format!("[{index}]")),
                Segment::Key(key) if is_identifier(key) => message.push_str(&format!(".{key}")),
                Segment::Key(key) => message.push_str(&format!("[{}]", quote(key))),
            }
        }
        message.push_str(": ");
        message.push_str(&failure.problem);
        error(message)
    }
}

/// Adds the index of a list element to the path of an error from inside it.
pub(super) trait AtIndex<T> {
    fn at(self, index: usize) -> Result<T, Fail>;
}

impl<T> AtIndex<T> for Result<T, Fail> {
    #[inline]
    fn at(self, index: usize) -> Result<T, Fail> {
        self.map_err(|fail| fail.at_index(index))
    }
}

fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// A JSON-quoted, length-capped rendering of untrusted text for an error message.
pub(super) fn quote(text: &str) -> String {
    let (shown, more) = match text.char_indices().nth(QUOTE_LIMIT) {
        Some((cut, _)) => (text.get(..cut).unwrap_or(""), "…"),
        None => (text, ""),
    };
    let mut quoted = String::new();
    super::text::write_string(&mut quoted, shown);
    quoted.push_str(more);
    quoted
}

/// "takes 1 argument (…), found 2": arity errors count the elements after the tag.
#[cold]
pub(super) fn arity_error(tag: &str, expects: &str, len: usize) -> Fail {
    Fail::malformed(format!(
        "\"{tag}\" takes {expects}, found {}",
        len.saturating_sub(1)
    ))
}
