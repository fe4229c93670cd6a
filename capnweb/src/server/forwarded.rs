//! Where a request was sent: the scheme and host a browser used to reach this service, read
//! from the connection and the `Host` header, or from a reverse proxy's forwarded headers
//! (`Forwarded`, RFC 7239; `X-Forwarded-Host`, `X-Forwarded-Proto`) when those are trusted.

use http::header::{FORWARDED, HOST};
use http::{HeaderMap, Uri};

/// The scheme of the connection a request arrived on, as far as the service knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum ConnectionScheme {
    /// Served by [`Server`](crate::Server), which knows whether it speaks TLS.
    Known(Scheme),
    /// Mounted in someone else's server: the request line's scheme if it has one (HTTP/2),
    /// else either.
    #[default]
    Unknown,
}

/// `http` or `https`: the schemes of the origins a browser sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Http,
    Https,
}

impl Scheme {
    /// `http` and `ws` are plain, `https` and `wss` are TLS (case-insensitive); no other.
    pub(crate) fn parse(text: &str) -> Option<Scheme> {
        match text.to_ascii_lowercase().as_str() {
            "http" | "ws" => Some(Scheme::Http),
            "https" | "wss" => Some(Scheme::Https),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    pub(crate) fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// The schemes and authority (`host[:port]`) the request was sent to. Several schemes when
/// the service cannot tell (see [`ConnectionScheme::Unknown`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Destination<'a> {
    pub(crate) schemes: &'static [Scheme],
    pub(crate) authority: Option<&'a str>,
}

/// Where the request was sent. With `trust_forwarded`, a proxy's `Forwarded` (`proto=`,
/// `host=`) and then `X-Forwarded-Proto` / `X-Forwarded-Host` take the place of the
/// connection's scheme and the `Host` header; without it they are ignored, as any client can
/// send them.
pub(crate) fn destination<'a>(
    headers: &'a HeaderMap,
    uri: &'a Uri,
    connection: ConnectionScheme,
    trust_forwarded: bool,
) -> Destination<'a> {
    let forwarded_scheme = trust_forwarded.then(|| forwarded_scheme(headers)).flatten();
    let forwarded_host = trust_forwarded.then(|| forwarded_host(headers)).flatten();
    let schemes: &'static [Scheme] = match (forwarded_scheme, connection) {
        (Some(scheme), _) | (None, ConnectionScheme::Known(scheme)) => one(scheme),
        (None, ConnectionScheme::Unknown) => match uri.scheme_str().and_then(Scheme::parse) {
            Some(scheme) => one(scheme),
            None => &[Scheme::Http, Scheme::Https],
        },
    };
    let authority = forwarded_host.or_else(|| direct_host(headers, uri));
    Destination { schemes, authority }
}

fn one(scheme: Scheme) -> &'static [Scheme] {
    match scheme {
        Scheme::Http => &[Scheme::Http],
        Scheme::Https => &[Scheme::Https],
    }
}

/// The `Host` header, or the request line's authority (HTTP/2's `:authority`).
fn direct_host<'a>(headers: &'a HeaderMap, uri: &'a Uri) -> Option<&'a str> {
    let host = headers.get(HOST).and_then(|value| value.to_str().ok());
    host.or_else(|| uri.authority().map(|authority| authority.as_str()))
        .map(str::trim)
        .filter(|host| !host.is_empty())
}

/// The client-facing scheme a proxy reports.
fn forwarded_scheme(headers: &HeaderMap) -> Option<Scheme> {
    forwarded_parameter(headers, "proto")
        .or_else(|| first_value(headers, "x-forwarded-proto"))
        .and_then(Scheme::parse)
}

/// The client-facing host a proxy reports.
fn forwarded_host(headers: &HeaderMap) -> Option<&str> {
    forwarded_parameter(headers, "host").or_else(|| first_value(headers, "x-forwarded-host"))
}

/// The first element's `name=` parameter of the `Forwarded` header (RFC 7239), unquoted.
///
/// The first element is the one the outermost proxy wrote: the request as the browser sent
/// it. A browser cannot forge it (a page cannot set these headers on a WebSocket, nor on a
/// cross-site POST without a preflight), and other clients send no `Origin` to check.
fn forwarded_parameter<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let value = headers.get(FORWARDED)?.to_str().ok()?;
    let first_element = value.split(',').next()?;
    first_element
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim().trim_matches('"'))
        .filter(|value| !value.is_empty())
}

/// The first of a header's comma-separated values (a chain of proxies appends theirs).
fn first_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let value = headers.get(name)?.to_str().ok()?;
    value
        .split(',')
        .next()
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        crate::context::header_map(pairs)
    }

    fn https() -> ConnectionScheme {
        ConnectionScheme::Known(Scheme::Https)
    }

    #[test]
    fn without_trust_the_connection_and_host_header_decide() {
        let headers = headers(&[
            ("host", "api.example.com:8443"),
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-proto", "http"),
            ("forwarded", "host=evil.example;proto=http"),
        ]);
        let uri = Uri::from_static("/rpc");
        let seen = destination(&headers, &uri, https(), false);
        assert_eq!(seen.schemes, &[Scheme::Https]);
        assert_eq!(seen.authority, Some("api.example.com:8443"));
    }

    #[test]
    fn forwarded_is_read_before_the_x_forwarded_headers() {
        let headers = headers(&[
            ("host", "127.0.0.1:9000"),
            ("x-forwarded-host", "other.example"),
            (
                "forwarded",
                "for=192.0.2.60;proto=https;host=\"app.example.com\", for=10.0.0.1;host=inner",
            ),
        ]);
        let uri = Uri::from_static("/rpc");
        let connection = ConnectionScheme::Known(Scheme::Http);
        let seen = destination(&headers, &uri, connection, true);
        assert_eq!(seen.schemes, &[Scheme::Https]);
        assert_eq!(seen.authority, Some("app.example.com"));
    }

    #[test]
    fn x_forwarded_headers_give_the_first_hop() {
        let headers = headers(&[
            ("host", "127.0.0.1:9000"),
            ("x-forwarded-host", "app.example.com:8080, inner:1"),
            ("x-forwarded-proto", "HTTPS"),
        ]);
        let uri = Uri::from_static("/rpc");
        let connection = ConnectionScheme::Known(Scheme::Http);
        let seen = destination(&headers, &uri, connection, true);
        assert_eq!(seen.schemes, &[Scheme::Https]);
        assert_eq!(seen.authority, Some("app.example.com:8080"));
    }

    #[test]
    fn trusted_but_absent_forwarded_headers_leave_the_direct_view() {
        let headers = headers(&[("host", "a.example"), ("x-forwarded-proto", "gopher")]);
        let uri = Uri::from_static("/rpc");
        let seen = destination(&headers, &uri, https(), true);
        assert_eq!(seen.schemes, &[Scheme::Https]);
        assert_eq!(seen.authority, Some("a.example"));
    }

    #[test]
    fn an_unknown_connection_takes_the_request_line_scheme_or_either() {
        let no_headers = HeaderMap::new();
        let absolute = Uri::from_static("https://a.example/rpc");
        let seen = destination(&no_headers, &absolute, ConnectionScheme::Unknown, false);
        assert_eq!(seen.schemes, &[Scheme::Https]);
        assert_eq!(seen.authority, Some("a.example"));

        let host = headers(&[("host", "a.example")]);
        let relative = Uri::from_static("/rpc");
        let seen = destination(&host, &relative, ConnectionScheme::Unknown, false);
        assert_eq!(seen.schemes, &[Scheme::Http, Scheme::Https]);
    }

    #[test]
    fn no_host_at_all_is_no_authority() {
        let (no_headers, uri) = (HeaderMap::new(), Uri::from_static("/rpc"));
        let seen = destination(&no_headers, &uri, https(), true);
        assert_eq!(seen.authority, None);
    }
}
