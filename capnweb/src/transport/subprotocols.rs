//! The WebSocket subprotocols a client offers (`Sec-WebSocket-Protocol`), a bearer token
//! among them kept out of `Debug`.

use http::header::SEC_WEBSOCKET_PROTOCOL;
use http::{HeaderMap, HeaderValue};

use crate::context::{is_token, RequestContext};

/// The subprotocols offered, in order.
#[derive(Clone, Default)]
pub(crate) struct Subprotocols {
    offered: Vec<Offered>,
}

#[derive(Clone)]
struct Offered {
    name: String,
    /// A token: not shown, not repeated in errors.
    secret: bool,
}

impl std::fmt::Debug for Subprotocols {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = self.offered.iter().map(|offered| match offered.secret {
            true => "<token>",
            false => offered.name.as_str(),
        });
        f.debug_list().entries(names).finish()
    }
}

impl Subprotocols {
    /// Offers `name` after those already offered.
    pub(crate) fn offer(&mut self, name: String) {
        self.offered.push(Offered {
            name,
            secret: false,
        });
    }

    /// Offers `capnweb.bearer` and then `token`.
    pub(crate) fn offer_bearer(&mut self, token: String) {
        self.offer(RequestContext::BEARER_SUBPROTOCOL.to_owned());
        self.offered.push(Offered {
            name: token,
            secret: true,
        });
    }

    /// Sets `Sec-WebSocket-Protocol` in `headers` to the offer (marked sensitive if it holds a
    /// token), or says what cannot be offered.
    pub(crate) fn apply(&self, headers: &mut HeaderMap) -> Result<(), String> {
        if self.offered.is_empty() {
            return Ok(());
        }
        for offered in &self.offered {
            if is_token(&offered.name) {
                continue;
            }
            let what = match offered.secret {
                true => "the bearer token cannot be offered as a subprotocol".to_owned(),
                false => format!("{:?} cannot be offered as a subprotocol", offered.name),
            };
            return Err(format!(
                "{what}: a subprotocol is an HTTP token (letters, digits and \
                 !#$%&'*+-.^_`|~), e.g. base64url without padding or hex, not standard base64"
            ));
        }
        let names: Vec<&str> = self.offered.iter().map(|o| o.name.as_str()).collect();
        let mut value = HeaderValue::from_str(&names.join(", "))
            .map_err(|_| "the subprotocols cannot be sent in a header".to_owned())?;
        value.set_sensitive(self.offered.iter().any(|o| o.secret));
        headers.insert(SEC_WEBSOCKET_PROTOCOL, value);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offer_is_one_header_in_order_and_the_token_is_hidden() {
        let mut offer = Subprotocols::default();
        offer.offer("notes.v1".into());
        offer.offer_bearer("s3cr3t-token".into());
        let mut headers = HeaderMap::new();
        offer.apply(&mut headers).unwrap();
        let value = &headers[SEC_WEBSOCKET_PROTOCOL];
        assert_eq!(value, "notes.v1, capnweb.bearer, s3cr3t-token");
        assert!(value.is_sensitive());
        let shown = format!("{offer:?}");
        assert_eq!(shown, r#"["notes.v1", "capnweb.bearer", "<token>"]"#);
    }

    #[test]
    fn a_token_that_is_not_an_http_token_is_refused_without_being_repeated() {
        let mut offer = Subprotocols::default();
        offer.offer_bearer("c2VjcmV0/x==".into());
        let error = offer.apply(&mut HeaderMap::new()).unwrap_err();
        assert!(error.contains("base64url"), "{error}");
        assert!(!error.contains("c2VjcmV0"), "{error}");
        let mut offer = Subprotocols::default();
        offer.offer("a b".into());
        let error = offer.apply(&mut HeaderMap::new()).unwrap_err();
        assert!(error.contains("\"a b\""), "{error}");
    }
}
