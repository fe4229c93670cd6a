//! Reading a server's description: a GET of its Cap'n Web endpoint asking for JSON, over the
//! HTTP batch client's connection stack (its TLS, timeouts and headers).

use http::StatusCode;

use super::{Client, ClientBuilder};
use crate::describe::ApiDescription;
use crate::error::{Error, TransportError};

/// Largest description read: far above any real API's, and a bound on what a server can make
/// the client hold.
const MAX_DESCRIPTION_BYTES: usize = 16 << 20;

/// What a 404 or 405 means here.
const NOT_DESCRIBED: &str = "this server does not describe itself (it is not a capnweb server \
    with .describe on, or describing is off)";

/// The description of the API at `url` (`http://`, `https://`; `ws://` and `wss://` are read
/// as `http://` and `https://`), which the server serves when its service has
/// [`describe`](crate::RpcService::describe) on.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), capnweb::Error> {
/// use capnweb::{rpc_target, RpcService};
///
/// pub struct Api;
///
/// #[rpc_target]
/// impl Api {
///     /// Adds two numbers.
///     pub fn add(&self, a: f64, b: f64) -> f64 { a + b }
/// }
///
/// let server = capnweb::Server::bind("127.0.0.1:0").await?;
/// let addr = server.local_addr();
/// tokio::spawn(server.serve(RpcService::new(|| ApiStub::new(Api)).describe::<ApiStub>()));
///
/// let api = capnweb::http_batch::describe(&format!("ws://{addr}/")).await?;
/// assert_eq!(api.targets[0].name, "Api");
/// assert_eq!(api.targets[0].members[0].docs.as_deref(), Some("Adds two numbers."));
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// A URL that is not one; a failed connection; a server that does not describe itself (404 or
/// 405: the message says so); another status (the message has the start of its body); an
/// answer that is not a description.
pub async fn describe(url: &str) -> Result<ApiDescription, Error> {
    let http_url = match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("ws") => format!("http://{rest}"),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("wss") => format!("https://{rest}"),
        _ => url.to_owned(),
    };
    let client = ClientBuilder::new(http_url).build()?;
    client.describe().await
}

impl Client {
    /// The description of the API at this client's URL, sent with its headers (a bearer token,
    /// say) and over its TLS settings: as [`describe`], for a server that needs them.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), capnweb::Error> {
    /// let client = capnweb::http_batch::ClientBuilder::new("https://api.example.com/rpc")
    ///     .bearer_token("s3cr3t")
    ///     .build()?;
    /// let api = client.describe().await?;
    /// println!("{}", api.targets[0].name);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`describe`].
    pub async fn describe(&self) -> Result<ApiDescription, Error> {
        let client = self;
        let failed = |what: String| {
            Error::Transport(TransportError::new(format!(
                "describing {} failed: {what}",
                client.url()
            )))
        };
        let (status, body) = client
            .get("application/json", MAX_DESCRIPTION_BYTES)
            .await?;
        match status {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => {
                return Err(failed(format!("{NOT_DESCRIBED}; it answered {status}")));
            }
            _ => {
                let text = String::from_utf8_lossy(&body);
                return Err(failed(format!(
                    "the server answered {status}: {}",
                    text.trim()
                )));
            }
        }
        serde_json::from_slice(&body).map_err(|e| {
            failed(format!(
                "the answer is not a capnweb API description ({e}); is this a capnweb server?"
            ))
        })
    }
}
