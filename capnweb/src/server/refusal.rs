//! [`Refusal`]: a main-object factory's "no", as an HTTP response.

use std::fmt;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, WWW_AUTHENTICATE};
use http::{HeaderMap, Response, StatusCode};
use http_body_util::Full;

use crate::transport::responses::text_response;

/// Why a request gets no session: the HTTP status, a message for the client, and any headers
/// to send with them. A factory given to
/// [`RpcService::with_context`](crate::RpcService::with_context) returns it to refuse a
/// request; a WebSocket is refused before it is upgraded.
///
/// ```
/// use capnweb::Refusal;
///
/// let refusal = Refusal::unauthorized("a valid bearer token is needed");
/// assert_eq!(refusal.status(), 401);
/// assert_eq!(refusal.message(), "a valid bearer token is needed");
///
/// let refusal = Refusal::new(http::StatusCode::TOO_MANY_REQUESTS, "slow down")
///     .with_header(http::header::RETRY_AFTER, http::HeaderValue::from_static("30"));
/// assert_eq!(refusal.status(), 429);
/// ```
#[derive(Clone)]
#[must_use]
pub struct Refusal {
    // Boxed: factories return `Result<M, Refusal>`, and a refusal is the rare case.
    inner: Box<Parts>,
}

#[derive(Clone)]
struct Parts {
    status: StatusCode,
    message: String,
    headers: HeaderMap,
}

impl fmt::Debug for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refusal")
            .field("status", &self.inner.status)
            .field("message", &self.inner.message)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.inner.status, self.inner.message)
    }
}

impl std::error::Error for Refusal {}

impl Refusal {
    /// A refusal with `status` and a message for the client (sent as the `text/plain` body).
    pub fn new(status: StatusCode, message: impl Into<String>) -> Refusal {
        Refusal {
            inner: Box::new(Parts {
                status,
                message: message.into(),
                headers: HeaderMap::new(),
            }),
        }
    }

    /// 401 Unauthorized, with `WWW-Authenticate: Bearer`: the request carries no credentials,
    /// or ones that are not valid.
    pub fn unauthorized(message: impl Into<String>) -> Refusal {
        Refusal::new(StatusCode::UNAUTHORIZED, message)
            .with_header(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    /// 403 Forbidden: the caller is known, and not allowed this.
    pub fn forbidden(message: impl Into<String>) -> Refusal {
        Refusal::new(StatusCode::FORBIDDEN, message)
    }

    /// 404 Not Found.
    pub fn not_found(message: impl Into<String>) -> Refusal {
        Refusal::new(StatusCode::NOT_FOUND, message)
    }

    /// Adds a header to the response (replacing one of the same name).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Refusal {
        self.inner.headers.insert(name, value);
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.inner.status
    }

    /// The message for the client.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    pub(crate) fn into_response(self) -> Response<Full<Bytes>> {
        let Parts {
            status,
            message,
            headers,
        } = *self.inner;
        let mut response = text_response(status, message);
        response.headers_mut().extend(headers);
        response
    }
}

impl From<StatusCode> for Refusal {
    /// A refusal with the status's own reason as its message ("Unauthorized").
    fn from(status: StatusCode) -> Refusal {
        Refusal::new(status, status.canonical_reason().unwrap_or("Refused"))
    }
}
