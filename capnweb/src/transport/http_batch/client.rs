//! The HTTP batch client: buffer until the application awaits, then one POST.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::oneshot;

use super::{max_body_bytes, snippet, split_batch};
use crate::error::{Error, RpcError};
use crate::session::{Session, SessionOptions};
use crate::stub::FromStub;
use crate::transport::{MessageReceiver, MessageSender, Transport};

/// Largest part of an error response read for the error message.
const ERROR_BODY_BYTES: usize = 4096;

/// Starts an HTTP batch session with the server at `url` and returns its main object as `T`
/// (a [`Stub`](crate::Stub) or a typed stub).
///
/// Nothing is sent yet: the batch goes out as one POST when the application first awaits a
/// result, holding every call made until then in the same tick. After the answer the session
/// is over; stubs from it fail with a disconnected error. A failed request (a non-2xx status, no
/// server) rejects every pending call with [`Error::Transport`](crate::Error::Transport).
///
/// Must be called inside a Tokio runtime. Plain `http://` only.
///
/// ```no_run
/// # async fn example() -> Result<(), capnweb::Error> {
/// use capnweb::{Stub, Value};
///
/// let api: Stub = capnweb::http_batch::connect("http://127.0.0.1:8080/rpc");
/// let nine = api.call("square", vec![Value::from(3)]).await?;
/// # let _ = nine; Ok(()) }
/// ```
pub fn connect<T: FromStub>(url: &str) -> T {
    connect_with(url, SessionOptions::default()).main_as()
}

/// Like [`connect`], returning the session (for its [`stats`](Session::stats), or to set
/// `options`).
///
/// ```no_run
/// # async fn example() -> Result<(), capnweb::Error> {
/// use capnweb::{Limits, SessionOptions, Value};
///
/// let options = SessionOptions::default().limits(Limits::default().max_depth(64));
/// let session = capnweb::http_batch::connect_with("http://127.0.0.1:8080/rpc", options);
/// let nine = session.main().call("square", vec![Value::from(3)]).await?;
/// # let _ = nine; Ok(()) }
/// ```
pub fn connect_with(url: &str, options: SessionOptions) -> Session {
    let transport = BatchClientTransport::new(url, max_body_bytes(&options));
    Session::new(transport, None, options)
}

/// What the POST produced: the server's messages, or why there are none.
type Delivery = Result<Vec<String>, Error>;

/// The client end of one batch: a sender that buffers and POSTs once, and a receiver that
/// hands out the answer's lines.
struct BatchClientTransport {
    sender: BatchSender,
    receiver: BatchReceiver,
}

impl BatchClientTransport {
    fn new(url: &str, max_response_bytes: usize) -> Self {
        let (delivery_tx, delivery_rx) = oneshot::channel();
        BatchClientTransport {
            sender: BatchSender {
                url: url.to_owned(),
                max_response_bytes,
                batch: Some(Vec::new()),
                delivery: Some(delivery_tx),
            },
            receiver: BatchReceiver {
                delivery: Some(delivery_rx),
                lines: Vec::new().into_iter(),
            },
        }
    }
}

impl Transport for BatchClientTransport {
    const BATCHED: bool = true;
    type Sender = BatchSender;
    type Receiver = BatchReceiver;

    fn split(self) -> (BatchSender, BatchReceiver) {
        (self.sender, self.receiver)
    }
}

struct BatchSender {
    url: String,
    max_response_bytes: usize,
    /// The messages to send; `None` once the POST went out.
    batch: Option<Vec<String>>,
    /// Where the answer goes (to the receiver).
    delivery: Option<oneshot::Sender<Delivery>>,
}

impl MessageSender for BatchSender {
    async fn send(&mut self, messages: Vec<String>) -> Result<(), Error> {
        // After the POST the server's session is gone: what follows (the releases of the
        // results) has nowhere to go, and is dropped.
        if let Some(batch) = &mut self.batch {
            batch.extend(messages);
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), Error> {
        let Some(batch) = self.batch.take() else {
            return Ok(());
        };
        let outcome = post_batch(&self.url, batch.join("\n"), self.max_response_bytes).await;
        if let Some(delivery) = self.delivery.take() {
            // The receiver ends the session with the failure, if any, so every pending call
            // sees the same error.
            let _ = delivery.send(outcome);
        }
        Ok(())
    }

    async fn close(&mut self, _reason: Option<RpcError>) {
        self.batch = None;
        self.delivery = None;
    }
}

struct BatchReceiver {
    /// The answer, until it arrived.
    delivery: Option<oneshot::Receiver<Delivery>>,
    lines: std::vec::IntoIter<String>,
}

impl MessageReceiver for BatchReceiver {
    async fn recv(&mut self) -> Option<Result<String, Error>> {
        if let Some(delivery) = &mut self.delivery {
            // Awaited by reference so that a cancelled `recv` loses nothing.
            let outcome = delivery.await;
            self.delivery = None;
            match outcome {
                Ok(Ok(lines)) => self.lines = lines.into_iter(),
                Ok(Err(error)) => return Some(Err(error)),
                // The session closed before sending anything.
                Err(_) => return None,
            }
        }
        // After the answer's lines the batch session is over.
        self.lines.next().map(Ok)
    }
}

/// POSTs one batch to `url`; returns the answer's messages.
async fn post_batch(url: &str, body: String, max_response_bytes: usize) -> Delivery {
    let failed =
        |what: String| Error::Transport(format!("the HTTP batch request to {url} failed: {what}"));
    let uri: http::Uri = url
        .parse()
        .map_err(|e| failed(format!("the URL is not usable: {e}")))?;
    let request = http::Request::post(uri)
        .header(CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| failed(format!("the request could not be built: {e}")))?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let response = client
        .request(request)
        .await
        .map_err(|e| failed(error_chain(&e)))?;
    let status = response.status();
    let limit = if status.is_success() {
        max_response_bytes
    } else {
        ERROR_BODY_BYTES
    };
    let body = Limited::new(response.into_body(), limit).collect().await;
    if !status.is_success() {
        let start = body
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
            .unwrap_or_default();
        return Err(failed(format!(
            "the server answered {status}: {}",
            snippet(&start)
        )));
    }
    let body = body
        .map_err(|e| {
            if e.is::<LengthLimitError>() {
                failed(format!(
                    "the answer is larger than {max_response_bytes} bytes (see Limits::max_message_size)"
                ))
            } else {
                failed(format!("reading the answer failed: {e}"))
            }
        })?
        .to_bytes();
    let text = std::str::from_utf8(&body)
        .map_err(|e| failed(format!("the answer is not UTF-8 text: {e}")))?;
    Ok(split_batch(text))
}

/// An error and its sources, so that "client error (Connect)" says what went wrong.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
