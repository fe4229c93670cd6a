//! The origin policy: which web pages may call a service.
//!
//! A browser lets any page open a WebSocket to any site, and send it a `text/plain` POST
//! without asking first (no CORS preflight); both carry the user's cookies for that site. What
//! the browser does add, and a page cannot change, is the `Origin` header: the scheme, host
//! and port of the page that made the request. So a request with an `Origin` is served only
//! when that origin is the request's own (the page was loaded from this service's own scheme,
//! host and port) or the service allows it; a request without one (from a program, not a
//! page) is served as always.
//!
//! The settings are builder methods of [`RpcService`] and of [`Server`] (which gives them to
//! every service it serves that does not set its own): [`RpcService::allow_origin`],
//! [`RpcService::allow_any_origin`], [`RpcService::trust_forwarded_headers`] and
//! [`RpcService::allow_credentials`].

use std::fmt;

use http::header::ORIGIN;
use http::{HeaderMap, HeaderValue, StatusCode, Uri};

use super::forwarded::{destination, ConnectionScheme, Destination, Scheme};
use super::refusal::Refusal;
use super::{RpcService, Server};

/// How much of a malformed `Origin` header a refusal quotes.
const QUOTED_ORIGIN_MAX: usize = 200;

/// An origin as a browser sends it: a scheme, a host (lowercase) and a port (the scheme's
/// default filled in, so `http://a.com` and `http://a.com:80` are one origin).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: Scheme,
    host: String,
    port: u16,
}

impl Origin {
    /// `http://host[:port]` or `https://host[:port]`, nothing after.
    fn parse(text: &str) -> Option<Origin> {
        let (scheme, authority) = split_scheme(text)?;
        Origin::at(scheme, authority)
    }

    /// The origin of `scheme` and `authority` (`host[:port]`).
    fn at(scheme: Scheme, authority: &str) -> Option<Origin> {
        let (host, port) = split_authority(authority)?;
        Some(Origin {
            scheme,
            host: host.to_ascii_lowercase(),
            port: port.unwrap_or(scheme.default_port()),
        })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.host)?;
        if self.port != self.scheme.default_port() {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

/// `http` or `https`, and what follows `://`. Only these two: an origin's scheme is the page's.
fn split_scheme(text: &str) -> Option<(Scheme, &str)> {
    let (scheme, rest) = text.split_once("://")?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        _ => return None,
    };
    Some((scheme, rest))
}

/// `host[:port]` (an IPv6 host in brackets) into the host and the port, if one is given.
fn split_authority(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')? + 1;
        let (host, after) = authority.split_at(end);
        let inside = &host[1..end - 1];
        let ipv6 = |c: char| c.is_ascii_hexdigit() || c == ':' || c == '.';
        if inside.is_empty() || !inside.chars().all(ipv6) {
            return None;
        }
        let port = match after {
            "" => None,
            after => Some(after.strip_prefix(':')?),
        };
        (host, port)
    } else {
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~' | '%');
        if host.is_empty() || !host.chars().all(name) {
            return None;
        }
        (host, port)
    };
    let port = match port {
        // An empty port is the default one (RFC 3986, 3.2.3).
        None | Some("") => None,
        Some(digits) if digits.bytes().all(|b| b.is_ascii_digit()) => Some(digits.parse().ok()?),
        Some(_) => return None,
    };
    Some((host, port))
}

/// One entry of an allow list: an exact origin, or every subdomain of a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
enum OriginPattern {
    /// `https://app.example.com`
    Exact(Origin),
    /// `https://*.example.com`: any host ending in `.example.com` (at any depth), with the
    /// same scheme and port; not `example.com` itself.
    Subdomains {
        scheme: Scheme,
        /// With its leading dot: `.example.com`.
        suffix: String,
        port: u16,
    },
}

impl OriginPattern {
    /// Parses what a user wrote, or says why it is not an origin.
    fn parse(written: &str) -> Result<OriginPattern, String> {
        let text = written.trim();
        // A trailing slash is a common slip, and cannot mean anything else.
        let text = text.strip_suffix('/').unwrap_or(text);
        if text == "*" {
            return Err("to allow every origin, use allow_any_origin()".into());
        }
        if text.eq_ignore_ascii_case("null") {
            return Err(
                "the origin `null` (sandboxed pages, file: URLs) names no site, so it cannot \
                 be allowed alone: use allow_any_origin() if the service authenticates its \
                 callers in-band"
                    .into(),
            );
        }
        let form = "write an origin as http://host[:port] or https://host[:port], or \
                    https://*.example.com for every subdomain, with no path";
        let Some((scheme, authority)) = split_scheme(text) else {
            return Err(format!(
                "it does not start with http:// or https://; {form}"
            ));
        };
        let (subdomains, authority) = match authority.strip_prefix("*.") {
            Some(domain) => (true, domain),
            None => (false, authority),
        };
        let Some(origin) = Origin::at(scheme, authority) else {
            return Err(form.into());
        };
        if !subdomains {
            return Ok(OriginPattern::Exact(origin));
        }
        if origin.host.starts_with('[') {
            return Err("an IP address has no subdomains".into());
        }
        Ok(OriginPattern::Subdomains {
            scheme,
            suffix: format!(".{}", origin.host),
            port: origin.port,
        })
    }

    fn matches(&self, origin: &Origin) -> bool {
        match self {
            OriginPattern::Exact(allowed) => allowed == origin,
            OriginPattern::Subdomains {
                scheme,
                suffix,
                port,
            } => {
                origin.scheme == *scheme
                    && origin.port == *port
                    && origin.host.len() > suffix.len()
                    && origin.host.ends_with(suffix.as_str())
            }
        }
    }
}

/// Which foreign origins are allowed.
#[derive(Debug, Clone)]
enum Allowed {
    Any,
    Listed(Vec<OriginPattern>),
}

/// A service's (or a server's) origin settings. Each is `None` until set: a service's unset
/// ones are its server's, and a server's unset ones the defaults (only the request's own
/// origin; forwarded headers ignored; no credentials for other origins).
#[derive(Debug, Clone, Default)]
pub(crate) struct OriginPolicy {
    allowed: Option<Allowed>,
    trust_forwarded: Option<bool>,
    credentials: Option<bool>,
}

/// What the policy says of a request it serves: how its `Origin` header relates to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// No `Origin` header: not a page's request.
    Absent,
    /// A page of the request's own origin.
    Own,
    /// A page of another origin that the policy allows: its batch responses need CORS
    /// headers naming it (this `Origin` value) for the page to read them.
    Allowed(HeaderValue),
}

impl OriginPolicy {
    /// Adds `pattern` to the allow list (or panics, saying what is wrong with it: it comes
    /// from the program, not from a peer). `setting` names the method, for that message.
    fn allow(mut self, setting: &str, pattern: &str) -> Self {
        let parsed = match OriginPattern::parse(pattern) {
            Ok(parsed) => parsed,
            Err(why) => panic!("{setting}({pattern:?}): {why}"),
        };
        match &mut self.allowed {
            Some(Allowed::Any) => {}
            Some(Allowed::Listed(list)) => list.push(parsed),
            None => self.allowed = Some(Allowed::Listed(vec![parsed])),
        }
        self
    }

    /// These settings, with `defaults`' for those left unset.
    pub(crate) fn over(&self, defaults: &OriginPolicy) -> OriginPolicy {
        OriginPolicy {
            allowed: self.allowed.clone().or_else(|| defaults.allowed.clone()),
            trust_forwarded: self.trust_forwarded.or(defaults.trust_forwarded),
            credentials: self.credentials.or(defaults.credentials),
        }
    }

    /// Whether an allowed foreign page's requests may carry its user's cookies (CORS
    /// `Access-Control-Allow-Credentials`).
    pub(crate) fn allows_credentials(&self) -> bool {
        self.credentials.unwrap_or(false)
    }

    /// Serves the request (saying how it relates to the request's origin) or refuses it with
    /// 403, naming the origin and the setting that would allow it.
    pub(crate) fn check(
        &self,
        headers: &HeaderMap,
        uri: &Uri,
        connection: ConnectionScheme,
    ) -> Result<Verdict, Refusal> {
        let mut values = headers.get_all(ORIGIN).iter();
        let Some(value) = values.next() else {
            return Ok(Verdict::Absent);
        };
        let trust_forwarded = self.trust_forwarded.unwrap_or(false);
        let sent_to = destination(headers, uri, connection, trust_forwarded);
        if values.next().is_some() {
            return Err(refusal(
                "This service refuses a request with several Origin headers (a browser sends \
                 one)."
                    .into(),
            ));
        }
        let origin = value.to_str().ok().and_then(Origin::parse);
        if let Some(origin) = &origin {
            if is_own_origin(origin, &sent_to) {
                return Ok(Verdict::Own);
            }
        }
        let allowed = match (&self.allowed, &origin) {
            (Some(Allowed::Any), _) => true,
            (Some(Allowed::Listed(list)), Some(origin)) => list.iter().any(|p| p.matches(origin)),
            _ => false,
        };
        if allowed {
            return Ok(Verdict::Allowed(value.clone()));
        }
        let quoted = String::from_utf8_lossy(value.as_bytes());
        let quoted: String = quoted.chars().take(QUOTED_ORIGIN_MAX).collect();
        Err(refusal(self.refusal_message(
            &quoted,
            origin.as_ref(),
            &sent_to,
            headers,
        )))
    }

    /// Why a page's request was refused, and what to change if it should not be.
    fn refusal_message(
        &self,
        quoted: &str,
        origin: Option<&Origin>,
        sent_to: &Destination<'_>,
        headers: &HeaderMap,
    ) -> String {
        let own = own_origin_text(sent_to);
        let mut message = match origin {
            Some(_) => format!(
                "This service does not take requests from web pages of other sites: the origin \
                 {quoted} is not allowed to call this service (its own origin is {own}). If \
                 that page should call it, allow it with RpcService::allow_origin(\"{quoted}\") \
                 (or Server::allow_origin, for every service of a server)."
            ),
            None if quoted == "null" => format!(
                "This service does not take requests from web pages of other sites: the origin \
                 null (a sandboxed page, a file: URL, or a redirect from another site) is not \
                 allowed to call this service (its own origin is {own}). It can only be \
                 allowed with RpcService::allow_any_origin(), for a service that \
                 authenticates its callers in-band rather than by cookies."
            ),
            None => format!(
                "This service refuses the request: its Origin header ({quoted}) is not an \
                 origin (http://host[:port] or https://host[:port])."
            ),
        };
        let proxied = ["forwarded", "x-forwarded-host", "x-forwarded-proto"]
            .iter()
            .any(|name| headers.contains_key(*name));
        if proxied && !self.trust_forwarded.unwrap_or(false) {
            message.push_str(
                " The request came through a proxy (it has forwarded headers, which are \
                 ignored): if that proxy is yours and tells the public host, set \
                 trust_forwarded_headers(true).",
            );
        }
        message
    }
}

fn refusal(message: String) -> Refusal {
    Refusal::new(StatusCode::FORBIDDEN, message)
}

/// Whether `origin` is where the request was sent.
fn is_own_origin(origin: &Origin, sent_to: &Destination<'_>) -> bool {
    let Some(authority) = sent_to.authority else {
        return false;
    };
    sent_to
        .schemes
        .iter()
        .filter_map(|scheme| Origin::at(*scheme, authority))
        .any(|own| own == *origin)
}

/// The request's own origin, for a refusal: `http(s)://` when the scheme is not known.
fn own_origin_text(sent_to: &Destination<'_>) -> String {
    let Some(authority) = sent_to.authority else {
        return "unknown, as the request names no host".into();
    };
    match sent_to.schemes {
        [scheme] => match Origin::at(*scheme, authority) {
            Some(own) => own.to_string(),
            None => format!("unknown, as its host {authority:?} is not a host"),
        },
        _ => format!("http(s)://{authority}"),
    }
}

/// Origin settings of a service.
impl RpcService {
    /// Lets web pages from `origin` call this service, besides pages of its own origin (the
    /// scheme, host and port the request was sent to, always allowed).
    ///
    /// `origin` is `scheme://host[:port]` (`https://app.example.com`), or
    /// `scheme://*.domain[:port]` for the pages of every subdomain of `domain`
    /// (`https://*.example.com` allows `https://app.example.com` and
    /// `https://a.b.example.com`, not `https://example.com`). Call it once per origin. An
    /// allowed page's HTTP batch gets CORS headers naming it (and a preflight its answer), so
    /// it may use `fetch` with `mode: "cors"`.
    ///
    /// A request with an `Origin` header that is neither its own nor allowed gets 403 before
    /// anything runs (a WebSocket is not upgraded, and the main-object factory is not
    /// called); one without the header (a program, not a page) is served.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use capnweb::{RpcService, Stub, Value};
    /// use hyper::service::Service;
    ///
    /// let service = RpcService::new(|| Stub::from_fn(|_args: Vec<Value>| async { Ok(Value::from(1)) }))
    ///     .allow_origin("https://app.example.com")
    ///     .allow_origin("https://*.partner.example");
    /// let from = |origin: &str| {
    ///     http::Request::post("/rpc")
    ///         .header("host", "api.example.com")
    ///         .header("origin", origin)
    ///         .body(http_body_util::Full::new(bytes::Bytes::new()))
    ///         .unwrap()
    /// };
    /// assert_eq!(service.call(from("https://app.example.com")).await.unwrap().status(), 200);
    /// assert_eq!(service.call(from("https://eu.partner.example")).await.unwrap().status(), 200);
    /// assert_eq!(service.call(from("https://api.example.com")).await.unwrap().status(), 200);
    /// assert_eq!(service.call(from("https://evil.example")).await.unwrap().status(), 403);
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// If `origin` is not an origin (a path, a scheme other than http and https, `*` or
    /// `null`): the message says why.
    pub fn allow_origin(mut self, origin: &str) -> Self {
        self.origins = self.origins.allow("RpcService::allow_origin", origin);
        self
    }

    /// Lets pages of every origin call this service (including `null`, a sandboxed page's):
    /// for a public API, or one that authenticates each caller in-band (a token passed to an
    /// `authenticate` method), never one that trusts cookies. Their batches get CORS headers.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use capnweb::{RpcService, Stub, Value};
    /// use hyper::service::Service;
    ///
    /// let service = RpcService::new(|| Stub::from_fn(|_args: Vec<Value>| async { Ok(Value::from(1)) }))
    ///     .allow_any_origin();
    /// let request = http::Request::post("/rpc")
    ///     .header("origin", "https://anyone.example")
    ///     .body(http_body_util::Full::new(bytes::Bytes::new()))
    ///     .unwrap();
    /// let response = service.call(request).await.unwrap();
    /// assert_eq!(response.status(), 200);
    /// assert_eq!(response.headers()["access-control-allow-origin"], "https://anyone.example");
    /// # }
    /// ```
    pub fn allow_any_origin(mut self) -> Self {
        self.origins.allowed = Some(Allowed::Any);
        self
    }

    /// Whether the request's own origin is read from a reverse proxy's headers (`Forwarded`'s
    /// `host=` and `proto=`, else `X-Forwarded-Host` and `X-Forwarded-Proto`) instead of the
    /// `Host` header and the connection (default: no, they are ignored).
    ///
    /// Set it when a proxy you run stands between browsers and this service and sets these
    /// headers: otherwise the pages it serves, whose origin is the proxy's public one, look
    /// foreign. Without a proxy, leave it off: anyone could send the headers.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use capnweb::{RpcService, Stub, Value};
    /// use hyper::service::Service;
    ///
    /// let through_proxy = || {
    ///     http::Request::post("/rpc")
    ///         .header("host", "127.0.0.1:9000") // where the proxy sent it
    ///         .header("x-forwarded-host", "app.example.com")
    ///         .header("x-forwarded-proto", "https")
    ///         .header("origin", "https://app.example.com")
    ///         .body(http_body_util::Full::new(bytes::Bytes::new()))
    ///         .unwrap()
    /// };
    /// let new_main = || Stub::from_fn(|_args: Vec<Value>| async { Ok(Value::from(1)) });
    /// let direct = RpcService::new(new_main);
    /// assert_eq!(direct.call(through_proxy()).await.unwrap().status(), 403);
    /// let proxied = RpcService::new(new_main).trust_forwarded_headers(true);
    /// assert_eq!(proxied.call(through_proxy()).await.unwrap().status(), 200);
    /// # }
    /// ```
    pub fn trust_forwarded_headers(mut self, trust: bool) -> Self {
        self.origins.trust_forwarded = Some(trust);
        self
    }

    /// Whether pages of the allowed other origins ([`allow_origin`](RpcService::allow_origin),
    /// [`allow_any_origin`](RpcService::allow_any_origin)) may send their user's cookies and
    /// HTTP authentication with an HTTP batch (`fetch(…, { credentials: "include" })`): CORS's
    /// `Access-Control-Allow-Credentials: true` (default: no). Pages of the service's own
    /// origin send cookies anyway, and so does any WebSocket.
    ///
    /// ```
    /// use capnweb::{RpcService, Stub, Value};
    ///
    /// let service = RpcService::new(|| Stub::from_fn(|_args: Vec<Value>| async { Ok(Value::from(1)) }))
    ///     .allow_origin("https://app.example.com")
    ///     .allow_credentials(true);
    /// # let _ = service;
    /// ```
    pub fn allow_credentials(mut self, allow: bool) -> Self {
        self.origins.credentials = Some(allow);
        self
    }
}

/// Origin settings of every service a server serves (unless it sets its own).
impl Server {
    /// Lets web pages from `origin` call the server's services: see
    /// [`RpcService::allow_origin`]. A service that allows origins of its own does not take
    /// the server's list.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), capnweb::Error> {
    /// let server = capnweb::Server::bind("127.0.0.1:0")
    ///     .await?
    ///     .allow_origin("https://app.example.com")
    ///     .allow_origin("https://*.example.com");
    /// # let _ = server; Ok(()) }
    /// ```
    ///
    /// # Panics
    ///
    /// If `origin` is not an origin: the message says why.
    pub fn allow_origin(mut self, origin: &str) -> Self {
        self.origins = self.origins.allow("Server::allow_origin", origin);
        self
    }

    /// Lets pages of every origin call the server's services: see
    /// [`RpcService::allow_any_origin`].
    pub fn allow_any_origin(mut self) -> Self {
        self.origins.allowed = Some(Allowed::Any);
        self
    }

    /// Whether the server's services read their own origin from a reverse proxy's headers:
    /// see [`RpcService::trust_forwarded_headers`]. Set it when the server runs behind a proxy
    /// of yours.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), capnweb::Error> {
    /// // Behind nginx on the same machine, which sets X-Forwarded-Host and X-Forwarded-Proto.
    /// let server = capnweb::Server::bind("127.0.0.1:0")
    ///     .await?
    ///     .trust_forwarded_headers(true);
    /// # let _ = server; Ok(()) }
    /// ```
    pub fn trust_forwarded_headers(mut self, trust: bool) -> Self {
        self.origins.trust_forwarded = Some(trust);
        self
    }

    /// Whether pages of allowed other origins may send cookies with an HTTP batch: see
    /// [`RpcService::allow_credentials`].
    pub fn allow_credentials(mut self, allow: bool) -> Self {
        self.origins.credentials = Some(allow);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_headers(pairs: &[(&str, &str)]) -> HeaderMap {
        crate::context::header_map(pairs)
    }

    fn check(policy: &OriginPolicy, pairs: &[(&str, &str)]) -> Result<Verdict, Refusal> {
        let uri = Uri::from_static("/rpc");
        let plain = ConnectionScheme::Known(Scheme::Http);
        policy.check(&request_headers(pairs), &uri, plain)
    }

    fn from(origin: &str) -> Vec<(&str, &str)> {
        vec![("host", "api.example.com"), ("origin", origin)]
    }

    fn allowing(pattern: &str) -> OriginPolicy {
        OriginPolicy::default().allow("test", pattern)
    }

    #[test]
    fn no_origin_header_is_served() {
        let verdict = check(&OriginPolicy::default(), &[("host", "api.example.com")]);
        assert_eq!(verdict.unwrap(), Verdict::Absent);
    }

    #[test]
    fn the_own_origin_is_served_with_default_ports_filled_in() {
        let policy = OriginPolicy::default();
        for origin in ["http://api.example.com", "HTTP://API.example.com:80"] {
            assert_eq!(
                check(&policy, &from(origin)).unwrap(),
                Verdict::Own,
                "{origin}"
            );
        }
        let explicit_port = [
            ("host", "api.example.com:80"),
            ("origin", "http://api.example.com"),
        ];
        assert_eq!(check(&policy, &explicit_port).unwrap(), Verdict::Own);
    }

    #[test]
    fn another_scheme_or_port_is_another_origin() {
        let policy = OriginPolicy::default();
        for origin in [
            "https://api.example.com",
            "http://api.example.com:8080",
            "http://example.com",
        ] {
            assert!(check(&policy, &from(origin)).is_err(), "{origin}");
        }
    }

    #[test]
    fn a_refusal_is_403_naming_the_origin_and_the_setting() {
        let refusal = check(&OriginPolicy::default(), &from("http://evil.example")).unwrap_err();
        assert_eq!(refusal.status(), 403);
        let message = refusal.message();
        assert!(
            message.contains("the origin http://evil.example is not allowed"),
            "{message}"
        );
        assert!(
            message.contains("RpcService::allow_origin(\"http://evil.example\")"),
            "{message}"
        );
        assert!(message.contains("http://api.example.com"), "{message}");
        assert!(!message.contains("trust_forwarded_headers"), "{message}");
    }

    #[test]
    fn null_is_foreign_unless_any_origin_is_allowed() {
        let refusal = check(&allowing("https://app.example.com"), &from("null")).unwrap_err();
        assert!(
            refusal.message().contains("allow_any_origin()"),
            "{refusal}"
        );
        let any = OriginPolicy {
            allowed: Some(Allowed::Any),
            ..OriginPolicy::default()
        };
        assert!(matches!(
            check(&any, &from("null")),
            Ok(Verdict::Allowed(_))
        ));
    }

    #[test]
    fn exact_origins_match_exactly() {
        let policy = allowing("https://app.example.com/");
        let allowed = check(&policy, &from("https://APP.example.com:443")).unwrap();
        assert_eq!(
            allowed,
            Verdict::Allowed(HeaderValue::from_static("https://APP.example.com:443"))
        );
        for origin in [
            "http://app.example.com",
            "https://app.example.com:8443",
            "https://app.example.com.evil.net",
            "https://x.app.example.com",
        ] {
            assert!(check(&policy, &from(origin)).is_err(), "{origin}");
        }
    }

    #[test]
    fn a_wildcard_matches_subdomains_only() {
        let policy = allowing("https://*.example.com");
        for origin in ["https://app.example.com", "https://a.b.example.com"] {
            assert!(
                matches!(check(&policy, &from(origin)), Ok(Verdict::Allowed(_))),
                "{origin}"
            );
        }
        for origin in [
            "https://example.com",
            "https://example.com.evil.net",
            "https://evilexample.com",
            "https://.example.com",
            "http://app.example.com",
            "https://app.example.com:8443",
        ] {
            assert!(check(&policy, &from(origin)).is_err(), "{origin}");
        }
    }

    #[test]
    fn a_wildcard_with_a_port_matches_that_port() {
        let policy = allowing("http://*.localhost:5173");
        assert!(check(&policy, &from("http://dev.localhost:5173")).is_ok());
        assert!(check(&policy, &from("http://dev.localhost")).is_err());
    }

    #[test]
    fn malformed_origins_are_refused_and_quoted() {
        let policy = OriginPolicy::default();
        for origin in [
            "api.example.com",
            "ftp://api.example.com",
            "http://api.example.com/path",
            "http://user@api.example.com",
            "http://api.example.com:http",
            "http://",
        ] {
            let refusal = check(&policy, &from(origin)).unwrap_err();
            assert!(refusal.message().contains(origin), "{refusal}");
        }
    }

    #[test]
    fn several_origin_headers_are_refused() {
        let headers = [
            ("host", "api.example.com"),
            ("origin", "http://api.example.com"),
            ("origin", "http://evil.example"),
        ];
        assert!(check(&OriginPolicy::default(), &headers).is_err());
    }

    #[test]
    fn ipv6_hosts_compare_with_their_ports() {
        let policy = OriginPolicy::default();
        let headers = [("host", "[::1]:8080"), ("origin", "http://[::1]:8080")];
        assert_eq!(check(&policy, &headers).unwrap(), Verdict::Own);
        let headers = [("host", "[::1]:8080"), ("origin", "http://[::1]:8081")];
        assert!(check(&policy, &headers).is_err());
    }

    #[test]
    fn forwarded_headers_count_only_when_trusted() {
        let behind_proxy = [
            ("host", "127.0.0.1:9000"),
            ("x-forwarded-host", "app.example.com"),
            ("x-forwarded-proto", "https"),
            ("origin", "https://app.example.com"),
        ];
        let refusal = check(&OriginPolicy::default(), &behind_proxy).unwrap_err();
        assert!(
            refusal.message().contains("trust_forwarded_headers(true)"),
            "{refusal}"
        );
        let trusting = OriginPolicy {
            trust_forwarded: Some(true),
            ..OriginPolicy::default()
        };
        assert_eq!(check(&trusting, &behind_proxy).unwrap(), Verdict::Own);
    }

    #[test]
    fn a_tls_connection_makes_the_own_origin_https() {
        let headers = request_headers(&from("https://api.example.com"));
        let uri = Uri::from_static("/rpc");
        let policy = OriginPolicy::default();
        let tls = ConnectionScheme::Known(Scheme::Https);
        assert_eq!(policy.check(&headers, &uri, tls).unwrap(), Verdict::Own);
        let plain = ConnectionScheme::Known(Scheme::Http);
        assert!(policy.check(&headers, &uri, plain).is_err());
    }

    #[test]
    fn a_service_keeps_its_own_settings_over_the_servers() {
        let server = OriginPolicy {
            trust_forwarded: Some(true),
            credentials: Some(true),
            ..OriginPolicy::default()
        }
        .allow("test", "https://server.example");
        let service = allowing("https://service.example");
        let merged = service.over(&server);
        assert!(merged.trust_forwarded.unwrap_or(false));
        assert!(merged.allows_credentials());
        assert!(check(&merged, &from("https://service.example")).is_ok());
        assert!(check(&merged, &from("https://server.example")).is_err());
        let inherited = OriginPolicy::default().over(&server);
        assert!(check(&inherited, &from("https://server.example")).is_ok());
    }

    #[test]
    fn patterns_that_are_not_origins_say_why() {
        for (pattern, says) in [
            ("*", "allow_any_origin()"),
            ("null", "allow_any_origin()"),
            ("app.example.com", "http://"),
            ("https://app.example.com/path", "no path"),
            ("https://*.[::1]", "no subdomains"),
            ("https://a.*.example.com", "no path"),
        ] {
            let why = OriginPattern::parse(pattern).unwrap_err();
            assert!(why.contains(says), "{pattern}: {why}");
        }
    }

    #[test]
    #[should_panic(expected = "RpcService::allow_origin(\"https://app.example.com/app\")")]
    fn allowing_a_malformed_origin_panics_naming_it() {
        let _ = OriginPolicy::default()
            .allow("RpcService::allow_origin", "https://app.example.com/app");
    }
}
