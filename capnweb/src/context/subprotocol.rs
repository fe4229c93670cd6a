//! WebSocket subprotocols (`Sec-WebSocket-Protocol`, RFC 6455 section 11.3.4): the ones a
//! client offered, and what a subprotocol may be.

/// The subprotocol a client offers before its bearer token (see
/// [`RequestContext::bearer_subprotocol`](crate::RequestContext::bearer_subprotocol)).
pub(crate) const BEARER_SUBPROTOCOL: &str = "capnweb.bearer";

/// The subprotocols in `values` (the `Sec-WebSocket-Protocol` header lines), in the order
/// offered: comma-separated, blanks around them trimmed, empty ones skipped.
pub(super) fn offered<'a>(values: impl Iterator<Item = &'a str>) -> impl Iterator<Item = &'a str> {
    values
        .flat_map(|value| value.split(','))
        .map(|name| name.trim_matches([' ', '\t']))
        .filter(|name| !name.is_empty())
}

/// Whether `name` can be a subprotocol: an HTTP token (RFC 9110 section 5.6.2), i.e. letters,
/// digits and ``!#$%&'*+-.^_`|~``. Base64url without padding and hex are; standard base64
/// (`/`, `=`) is not.
pub(crate) fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offered_subprotocols_are_split_and_trimmed_in_order() {
        let lines = ["capnweb.bearer, abc_DEF-123", " chat ,,\tv2 "];
        let all: Vec<&str> = offered(lines.into_iter()).collect();
        assert_eq!(all, ["capnweb.bearer", "abc_DEF-123", "chat", "v2"]);
    }

    #[test]
    fn tokens_are_http_tokens() {
        assert!(is_token("capnweb.bearer"));
        assert!(is_token("eyJhbGciOiJIUzI1NiJ9_-x"));
        assert!(is_token("0123456789abcdef"));
        for bad in ["", "a b", "a/b", "pad==", "a,b", "é", "a\"b"] {
            assert!(!is_token(bad), "{bad:?}");
        }
    }
}
