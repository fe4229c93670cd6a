//! The plain-text HTTP answers the batch handler and the server give: errors and refusals.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{Response, StatusCode};
use http_body_util::Full;

/// A `text/plain` response.
pub(crate) fn text_response(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    bytes_response(status, Bytes::from(body))
}

/// A `text/plain` response of UTF-8 bytes already made.
pub(crate) fn bytes_response(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
