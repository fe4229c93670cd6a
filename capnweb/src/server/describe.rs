//! The opt-in descriptor endpoint: a `GET` of a service's path asking for JSON
//! (`Accept: application/json`) answers with the API's description
//! ([`ApiDescription`]), for `capnweb describe` and [`http_batch::describe`](crate::http_batch::describe).

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, VARY};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;

use super::request::is_websocket_request;
use super::service::RpcService;
use crate::describe::{describe_all, ApiDescription, Describe};
use crate::typescript::TS;

impl RpcService {
    /// Describes the API to clients that ask: a `GET` of the service's path with
    /// `Accept: application/json` answers 200 with [`describe_all::<S>()`](describe_all) as
    /// JSON, where without it such a `GET` gets 405 (or goes to the
    /// [`fallback_service`](crate::Routes::fallback_service)). `S` is the main object's stub
    /// type. The origin policy applies as to every other request (a page of a foreign origin
    /// is refused with 403; an allowed one can read the answer).
    ///
    /// Off by default: a description tells anyone who can reach the endpoint every method,
    /// so turn it on where that is fine (a public API, development, a server behind its own
    /// authentication).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use capnweb::{rpc_target, RpcService};
    /// use http_body_util::BodyExt;
    /// use hyper::service::Service;
    ///
    /// pub struct Api;
    ///
    /// #[rpc_target]
    /// impl Api {
    ///     pub fn add(&self, a: f64, b: f64) -> f64 { a + b }
    /// }
    ///
    /// let service = RpcService::new(|| ApiStub::new(Api)).describe::<ApiStub>();
    /// let request = http::Request::get("/rpc")
    ///     .header("accept", "application/json")
    ///     .body(http_body_util::Full::new(bytes::Bytes::new()))
    ///     .unwrap();
    /// let response = service.call(request).await.unwrap();
    /// assert_eq!(response.status(), 200);
    /// assert_eq!(response.headers()["content-type"], "application/json");
    /// let json = response.into_body().collect().await.unwrap().to_bytes();
    /// let api: serde_json::Value = serde_json::from_slice(&json).unwrap();
    /// assert_eq!(api["targets"][0]["name"], "Api");
    /// assert_eq!(api["targets"][0]["members"][0]["name"], "add");
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// As [`describe_all`] (it runs here, once): two of your types declared under one name,
    /// or a target reached from `S` with a type that has no TypeScript form.
    pub fn describe<S: Describe + TS + 'static>(self) -> Self {
        self.description(&describe_all::<S>())
    }

    /// Describes the API with `description` (made by [`describe_all`], or edited): as
    /// [`describe`](RpcService::describe).
    pub fn description(mut self, description: &ApiDescription) -> Self {
        match serde_json::to_vec(description) {
            Ok(json) => self.description = Some(Bytes::from(json)),
            // Strings and lists only: this does not happen.
            Err(e) => tracing::error!(error = %e, "the API description could not be encoded"),
        }
        self
    }

    /// Whether this service answers `request` with its description.
    pub(super) fn describes<B>(&self, request: &Request<B>) -> bool {
        self.description.is_some() && asks_for_description(request)
    }
}

/// A `GET` (not a WebSocket upgrade) that accepts `application/json`. A browser opening the
/// page sends `Accept: text/html, …, */*`: that is the fallback service's, not ours.
fn asks_for_description<B>(request: &Request<B>) -> bool {
    request.method() == Method::GET
        && !is_websocket_request(request)
        && request
            .headers()
            .get_all(ACCEPT)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(accepts_json)
}

/// Whether one media range of `Accept` is `application/json` with a quality above 0.
fn accepts_json(range: &str) -> bool {
    let mut parts = range.split(';').map(str::trim);
    let is_json = parts
        .next()
        .is_some_and(|media| media.eq_ignore_ascii_case("application/json"));
    let refused = parts.any(|param| {
        param
            .split_once('=')
            .filter(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
            .and_then(|(_, q)| q.trim().parse::<f32>().ok())
            .is_some_and(|q| q <= 0.0)
    });
    is_json && !refused
}

/// The description's answer.
pub(super) fn description_response(json: &Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(json.clone()));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // The same path answers other requests otherwise (405, a fallback's page).
    headers.insert(VARY, HeaderValue::from_static("accept"));
    response
}

#[cfg(test)]
mod tests {
    use super::accepts_json;

    #[test]
    fn json_is_accepted_unless_its_quality_is_zero() {
        assert!(accepts_json("application/json"));
        assert!(accepts_json(" Application/JSON ; q=0.5"));
        assert!(!accepts_json("application/json;q=0"));
        assert!(!accepts_json("*/*"));
        assert!(!accepts_json("text/html"));
    }
}
