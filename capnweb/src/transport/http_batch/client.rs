//! The HTTP batch client: buffer until the application awaits, then one POST.

use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures::future::BoxFuture;
use http::header::CONTENT_TYPE;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::{join_lines, max_body_bytes, snippet, split_batch};
use crate::error::Error;
use crate::session::{Session, SessionOptions};
use crate::stub::FromStub;
use crate::transport::{CloseReason, Transport};

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
type Delivery = Result<Vec<Bytes>, Error>;

/// The client end of one batch: collects messages, POSTs them on the first flush, then hands
/// out the answer's lines.
struct BatchClientTransport {
    url: String,
    max_response_bytes: usize,
    queued: Vec<Bytes>,
    state: ClientState,
}

enum ClientState {
    /// Collecting the batch.
    Collecting,
    /// The POST is under way.
    Posting(BoxFuture<'static, Delivery>),
    /// The answer's messages, then the end of the session.
    Answered(std::vec::IntoIter<Bytes>),
    /// Closed, or the POST failed: nothing more comes.
    Done,
}

impl BatchClientTransport {
    fn new(url: &str, max_response_bytes: usize) -> Self {
        BatchClientTransport {
            url: url.to_owned(),
            max_response_bytes,
            queued: Vec::new(),
            state: ClientState::Collecting,
        }
    }
}

impl Transport for BatchClientTransport {
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>> {
        loop {
            match &mut self.state {
                // Nothing arrives before the POST; the driver polls again after flushing.
                ClientState::Collecting => return Poll::Pending,
                ClientState::Posting(post) => match ready!(post.as_mut().poll(cx)) {
                    Ok(lines) => self.state = ClientState::Answered(lines.into_iter()),
                    Err(e) => {
                        // The session ends with the failure, so every pending call sees it.
                        self.state = ClientState::Done;
                        return Poll::Ready(Some(Err(e)));
                    }
                },
                // After the answer's lines the batch session is over.
                ClientState::Answered(lines) => return Poll::Ready(lines.next().map(Ok)),
                ClientState::Done => return Poll::Ready(None),
            }
        }
    }

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn start_send(&mut self, message: Bytes) -> Result<(), Error> {
        // After the POST the server's session is gone: what follows (the releases of the
        // results) has nowhere to go, and is dropped.
        if let ClientState::Collecting = self.state {
            self.queued.push(message);
        }
        Ok(())
    }

    fn poll_flush(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if let ClientState::Collecting = self.state {
            if !self.queued.is_empty() {
                let body = join_lines(&std::mem::take(&mut self.queued));
                let (url, limit) = (self.url.clone(), self.max_response_bytes);
                self.state =
                    ClientState::Posting(Box::pin(
                        async move { post_batch(&url, body, limit).await },
                    ));
            }
        }
        Poll::Ready(Ok(()))
    }

    fn poll_close(&mut self, _cx: &mut Context<'_>, _reason: &CloseReason) -> Poll<()> {
        self.queued.clear();
        self.state = ClientState::Done;
        Poll::Ready(())
    }

    fn is_batched(&self) -> bool {
        true
    }
}

/// POSTs one batch to `url`; returns the answer's messages.
async fn post_batch(url: &str, body: Bytes, max_response_bytes: usize) -> Delivery {
    let failed =
        |what: String| Error::Transport(format!("the HTTP batch request to {url} failed: {what}"));
    let uri: http::Uri = url
        .parse()
        .map_err(|e| failed(format!("the URL is not usable: {e}")))?;
    let request = http::Request::post(uri)
        .header(CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(body))
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
    std::str::from_utf8(&body).map_err(|e| failed(format!("the answer is not UTF-8 text: {e}")))?;
    Ok(split_batch(&body))
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
