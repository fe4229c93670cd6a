//! The error of the serde bridge, both directions: what went wrong and the path to where.

use std::fmt;

use serde::{de, ser};

use super::wording;

/// One step from the root to a failing value.
#[derive(Debug)]
pub(crate) enum PathSeg {
    Index(usize),
    Key(String),
    /// An object entry whose key was moved into the result, by position.
    Entry(usize),
}

/// Writes a path (given innermost step first) as `.users[2].name`.
fn write_path(f: &mut fmt::Formatter<'_>, reversed: &[PathSeg]) -> fmt::Result {
    for seg in reversed.iter().rev() {
        match seg {
            PathSeg::Index(i) => write!(f, "[{i}]")?,
            PathSeg::Key(k) if is_plain_key(k) => write!(f, ".{k}")?,
            PathSeg::Key(k) => write!(f, "[{k:?}]")?,
            PathSeg::Entry(i) => write!(f, ".<key #{i}>")?,
        }
    }
    Ok(())
}

fn is_plain_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

/// Why a conversion failed, and where (boxed: results stay one word wide on the success path).
#[derive(Debug)]
pub(crate) struct PathError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    message: String,
    /// Innermost step first.
    path: Vec<PathSeg>,
}

impl PathError {
    pub(crate) fn new(message: String) -> PathError {
        PathError(Box::new(Inner {
            message,
            path: Vec::new(),
        }))
    }

    /// The same error, one step further out.
    pub(crate) fn at(mut self, seg: PathSeg) -> PathError {
        self.0.path.push(seg);
        self
    }

    pub(crate) fn at_key(self, key: &str) -> PathError {
        self.at(PathSeg::Key(key.to_owned()))
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)?;
        if !self.0.path.is_empty() {
            f.write_str(" (at ")?;
            write_path(f, &self.0.path)?;
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl std::error::Error for PathError {}

impl ser::Error for PathError {
    fn custom<T: fmt::Display>(msg: T) -> PathError {
        PathError::new(msg.to_string())
    }
}

/// serde's own wording names Rust types ("expected f64", "a map"); a peer reads these, so
/// they say it in the protocol's terms (see `wording`).
impl de::Error for PathError {
    fn custom<T: fmt::Display>(msg: T) -> PathError {
        PathError::new(msg.to_string())
    }

    fn invalid_type(unexpected: de::Unexpected<'_>, expected: &dyn de::Expected) -> PathError {
        PathError::new(format!(
            "invalid type: expected {}, found {}",
            wording::expected(expected),
            wording::found(&unexpected)
        ))
    }

    fn invalid_value(unexpected: de::Unexpected<'_>, expected: &dyn de::Expected) -> PathError {
        PathError::new(format!(
            "invalid value: expected {}, found {}",
            wording::expected(expected),
            wording::found(&unexpected)
        ))
    }

    fn invalid_length(len: usize, expected: &dyn de::Expected) -> PathError {
        PathError::new(format!(
            "invalid length: expected {}, found {len} element{}",
            wording::expected(expected),
            if len == 1 { "" } else { "s" }
        ))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> PathError {
        PathError::new(format!(
            "unknown variant {variant:?}: expected {}",
            one_of(expected)
        ))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> PathError {
        PathError::new(format!(
            "unknown property {field:?}: expected {}",
            one_of(expected)
        ))
    }

    fn missing_field(field: &'static str) -> PathError {
        PathError::new(format!("missing property {field:?}"))
    }

    fn duplicate_field(field: &'static str) -> PathError {
        PathError::new(format!("duplicate property {field:?}"))
    }
}

/// `"a"`, `"a" or "b"`, `one of "a", "b", "c"`; `none` for an empty list.
fn one_of(names: &[&str]) -> String {
    match names {
        [] => "none".to_owned(),
        [one] => format!("{one:?}"),
        [a, b] => format!("{a:?} or {b:?}"),
        _ => {
            let quoted: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
            format!("one of {}", quoted.join(", "))
        }
    }
}
