//! The extra request headers of the client builders: collected as they are given, the first
//! bad one kept to be reported when the builder is used (as `reqwest` does), applied to each
//! request over the headers the transport sets itself.

use http::{HeaderMap, HeaderName, HeaderValue};

/// Headers given to a client builder, and the first one that could not be converted.
#[derive(Clone, Debug, Default)]
pub(crate) struct ExtraHeaders {
    headers: HeaderMap,
    /// What was wrong with the first header that could not be converted.
    error: Option<String>,
}

impl ExtraHeaders {
    /// Adds `name: value` beside any value already given for `name`.
    pub(crate) fn add<K, V>(&mut self, name: K, value: V)
    where
        K: TryInto<HeaderName>,
        K::Error: Into<http::Error>,
        V: TryInto<HeaderValue>,
        V::Error: Into<http::Error>,
    {
        if self.error.is_some() {
            return;
        }
        let name = match name.try_into() {
            Ok(name) => name,
            Err(e) => {
                self.error = Some(format!("a header name is not valid: {}", e.into()));
                return;
            }
        };
        match value.try_into() {
            Ok(value) => {
                self.headers.append(name, value);
            }
            Err(e) => {
                self.error = Some(format!(
                    "the value of the header {name} is not valid: {}",
                    e.into()
                ));
            }
        }
    }

    /// Sets `Authorization: Bearer <token>`, marked sensitive (so `Debug` does not show it).
    pub(crate) fn bearer(&mut self, token: impl std::fmt::Display) {
        match HeaderValue::try_from(format!("Bearer {token}")) {
            Ok(mut value) => {
                value.set_sensitive(true);
                self.headers.insert(http::header::AUTHORIZATION, value);
            }
            // The token is not repeated: it is a secret.
            Err(_) => {
                self.error.get_or_insert_with(|| {
                    "the bearer token cannot be sent in a header (it holds a control character \
                     such as a line break)"
                        .to_owned()
                });
            }
        }
    }

    /// What was wrong with the first bad header, if one was.
    pub(crate) fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Puts the headers into `request`'s: a name given replaces the request's own values.
    pub(crate) fn apply(&self, request: &mut HeaderMap) {
        for name in self.headers.keys() {
            request.remove(name);
        }
        for (name, value) in &self.headers {
            request.append(name.clone(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_names_replace_the_requests_own_and_repeat() {
        let mut extra = ExtraHeaders::default();
        extra.add("x-tag", "one");
        extra.add("x-tag", "two");
        extra.add(http::header::CONTENT_TYPE, "text/plain");
        let mut request = HeaderMap::new();
        request.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("a/b"));
        request.insert(http::header::HOST, HeaderValue::from_static("h"));
        extra.apply(&mut request);
        assert_eq!(
            request.get_all("x-tag").iter().collect::<Vec<_>>(),
            ["one", "two"]
        );
        assert_eq!(request["content-type"], "text/plain");
        assert_eq!(request["host"], "h");
    }

    #[test]
    fn the_first_bad_header_is_kept() {
        let mut extra = ExtraHeaders::default();
        extra.add("bad name", "x");
        extra.add("x-fine", "a\nb");
        assert!(extra
            .error()
            .unwrap()
            .contains("a header name is not valid"));
        let mut extra = ExtraHeaders::default();
        extra.add("x-fine", "a\nb");
        assert!(extra
            .error()
            .unwrap()
            .contains("the value of the header x-fine"));
    }

    #[test]
    fn a_bearer_token_is_sensitive_and_not_repeated_in_errors() {
        let mut extra = ExtraHeaders::default();
        extra.bearer("s3cr3t");
        assert!(!format!("{extra:?}").contains("s3cr3t"));
        let mut extra = ExtraHeaders::default();
        extra.bearer("s3c\nr3t");
        assert!(!extra.error().unwrap().contains("s3c"));
    }
}
