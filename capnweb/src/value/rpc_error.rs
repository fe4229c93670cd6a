//! [`RpcError`]: the protocol's error value, `["error", name, message, stack?, props?]`, as
//! a method fails with it and as a peer's failure arrives.

use super::{Object, Value};

/// An error as the protocol carries it: `["error", name, message, stack?, props?]`.
///
/// This is what a method returns to fail a call (any `E: Into<RpcError>` works), and what the
/// caller receives inside [`Error::Remote`](crate::Error::Remote). Stacks are not sent unless
/// the session opts in with
/// [`SessionOptions::on_send_error`](crate::SessionOptions::on_send_error).
///
/// ```
/// use capnweb::RpcError;
///
/// let e = RpcError::range_error("test error").with_prop("code", 42);
/// assert_eq!(e.name, "RangeError");
/// assert_eq!(e.message, "test error");
/// assert_eq!(e.prop("code"), Some(&capnweb::Value::Number(42.0)));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// The JavaScript error class: `"Error"`, `"TypeError"`, `"RangeError"`, …
    pub name: String,
    /// The human-readable message.
    pub message: String,
    /// The stack trace, when the sender chose to reveal it.
    pub stack: Option<String>,
    /// Extra properties (`cause`, `code`, …), each any value.
    pub props: Box<Object>,
}

impl RpcError {
    /// An error of class `name` with `message`.
    pub fn new(name: impl Into<String>, message: impl Into<String>) -> RpcError {
        RpcError {
            name: name.into(),
            message: message.into(),
            stack: None,
            props: Box::default(),
        }
    }

    /// A plain `Error`.
    pub fn error(message: impl Into<String>) -> RpcError {
        RpcError::new("Error", message)
    }

    /// A `TypeError`: a value of the wrong type, a missing method.
    pub fn type_error(message: impl Into<String>) -> RpcError {
        RpcError::new("TypeError", message)
    }

    /// A `RangeError`: a value out of its allowed range.
    pub fn range_error(message: impl Into<String>) -> RpcError {
        RpcError::new("RangeError", message)
    }

    /// Adds an extra property (sent in the error's `props`).
    pub fn with_prop(mut self, key: impl Into<String>, value: impl Into<Value>) -> RpcError {
        self.props.insert(key.into(), value.into());
        self
    }

    /// Sets the `cause` property.
    pub fn with_cause(self, cause: impl Into<Value>) -> RpcError {
        self.with_prop("cause", cause)
    }

    /// Sets the stack trace (sent only if the session's `on_send_error` keeps it).
    pub fn with_stack(mut self, stack: impl Into<String>) -> RpcError {
        self.stack = Some(stack.into());
        self
    }

    /// An extra property, if present.
    pub fn prop(&self, key: &str) -> Option<&Value> {
        self.props.get(key)
    }

    /// The `cause` property, if present.
    pub fn cause(&self) -> Option<&Value> {
        self.prop("cause")
    }
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

impl std::error::Error for RpcError {}

impl From<String> for RpcError {
    fn from(message: String) -> RpcError {
        RpcError::error(message)
    }
}

impl From<&str> for RpcError {
    fn from(message: &str) -> RpcError {
        RpcError::error(message)
    }
}
