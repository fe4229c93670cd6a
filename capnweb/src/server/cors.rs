//! CORS for HTTP batch: what a browser needs before a page of another (allowed) origin may send
//! a batch with `fetch(…, { mode: "cors" })` and read its answer. The preflight (`OPTIONS`,
//! for a POST whose content type or headers are not "simple") is answered 204 with what the
//! POST may carry; the POST's response names the origin. The origin policy
//! ([`origin`](super::origin)) decides who is allowed; this module only writes the headers.

use bytes::Bytes;
use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;

/// How long a browser may keep a preflight's answer (10 minutes: a changed policy is seen
/// soon; Chromium caps it at 2 hours anyway).
const MAX_AGE: HeaderValue = HeaderValue::from_static("600");

/// The headers a batch may carry when the preflight does not list the ones it wants.
const DEFAULT_ALLOWED_HEADERS: HeaderValue =
    HeaderValue::from_static("content-type, authorization");

/// Whether a request is a CORS preflight: `OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`.
pub(crate) fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::OPTIONS
        && headers.contains_key(ORIGIN)
        && headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD)
}

/// 204 for an allowed origin's preflight: POST, with the headers it asked for, from `origin`.
pub(crate) fn preflight_response(
    origin: &HeaderValue,
    request: &HeaderMap,
    credentials: bool,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    allow_reading(headers, origin, credentials);
    headers.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST"),
    );
    headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, requested_headers(request));
    headers.insert(ACCESS_CONTROL_MAX_AGE, MAX_AGE);
    response
}

/// Lets the page at `origin` read a response: `Access-Control-Allow-Origin`, `Vary: Origin`
/// (a cache must not give it to another origin), and credentials if allowed.
pub(crate) fn allow_reading(response: &mut HeaderMap, origin: &HeaderValue, credentials: bool) {
    response.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    response.append(VARY, HeaderValue::from_static("origin"));
    if credentials {
        response.insert(
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}

/// The headers the preflight asks for, if they are a list of header names (the batch's
/// session never reads them: the factory may); else the default list.
fn requested_headers(request: &HeaderMap) -> HeaderValue {
    let Some(asked) = request
        .get(ACCESS_CONTROL_REQUEST_HEADERS)
        .and_then(|value| value.to_str().ok())
    else {
        return DEFAULT_ALLOWED_HEADERS;
    };
    let names: Option<Vec<HeaderName>> = asked
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| HeaderName::from_bytes(name.as_bytes()).ok())
        .collect();
    match names {
        Some(names) if !names.is_empty() => {
            let list = names
                .iter()
                .map(HeaderName::as_str)
                .collect::<Vec<_>>()
                .join(", ");
            HeaderValue::from_str(&list).unwrap_or(DEFAULT_ALLOWED_HEADERS)
        }
        _ => DEFAULT_ALLOWED_HEADERS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        crate::context::header_map(pairs)
    }

    #[test]
    fn a_preflight_needs_origin_and_a_requested_method() {
        let preflight = headers(&[
            ("origin", "https://app.example"),
            ("access-control-request-method", "POST"),
        ]);
        assert!(is_preflight(&Method::OPTIONS, &preflight));
        assert!(!is_preflight(&Method::POST, &preflight));
        let no_method = headers(&[("origin", "https://app.example")]);
        assert!(!is_preflight(&Method::OPTIONS, &no_method));
        assert!(!is_preflight(&Method::OPTIONS, &HeaderMap::new()));
    }

    #[test]
    fn a_preflight_answer_allows_post_from_that_origin() {
        let origin = HeaderValue::from_static("https://app.example");
        let request = headers(&[("access-control-request-headers", "Content-Type, X-Trace")]);
        let response = preflight_response(&origin, &request, false);
        assert_eq!(response.status(), 204);
        let headers = response.headers();
        assert_eq!(
            headers["access-control-allow-origin"],
            "https://app.example"
        );
        assert_eq!(headers["access-control-allow-methods"], "POST");
        assert_eq!(
            headers["access-control-allow-headers"],
            "content-type, x-trace"
        );
        assert_eq!(headers["access-control-max-age"], "600");
        assert_eq!(headers["vary"], "origin");
        assert!(!headers.contains_key("access-control-allow-credentials"));
    }

    #[test]
    fn credentials_are_allowed_only_when_asked() {
        let origin = HeaderValue::from_static("https://app.example");
        let mut response = HeaderMap::new();
        allow_reading(&mut response, &origin, true);
        assert_eq!(response["access-control-allow-credentials"], "true");
    }

    #[test]
    fn requested_headers_that_are_not_names_get_the_default_list() {
        for asked in ["", "bad header, x", " , "] {
            let request = headers(&[("access-control-request-headers", asked)]);
            assert_eq!(
                requested_headers(&request),
                DEFAULT_ALLOWED_HEADERS,
                "{asked:?}"
            );
        }
        assert_eq!(
            requested_headers(&HeaderMap::new()),
            DEFAULT_ALLOWED_HEADERS
        );
    }
}
