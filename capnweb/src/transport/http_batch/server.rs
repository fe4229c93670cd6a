//! The HTTP batch server: one request is one whole session.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::ALLOW;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Body;
use tokio::sync::oneshot;

use super::{join_lines, max_body_bytes, Lines};
use crate::error::Error;
use crate::session::{Session, SessionOptions};
use crate::stub::Stub;
use crate::transport::responses::{bytes_response, text_response};
use crate::transport::{Capabilities, CloseReason, Transport};

/// Answers one HTTP batch request, serving `main` to it.
///
/// - Anything but POST: 405 (with `Allow: POST`).
/// - A body that is not UTF-8, or cannot be read: 400; a body larger than
///   `3 × Limits::max_message_size` bytes (see the [module docs](super)): 413.
/// - Otherwise the body's lines (split on `\n`; blank lines, such as a trailing newline, are
///   skipped and a `\r` before a `\n` is dropped) run as a fresh session; once every line was
///   handled and every pulled result was sent, the answer is 200 with the session's messages
///   joined by `\n`. If the session aborted instead (a malformed message, an unknown id, a
///   limit), the answer is 400 saying what was wrong and on which line of the body.
///
/// Every answer is `text/plain`. A pulled result that never settles keeps the request open, as
/// in the reference implementation.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use capnweb::{SessionOptions, Stub, Value};
///
/// let main = Stub::from_fn(|_args: Vec<Value>| async { Ok(Value::from(1)) });
/// let request = http::Request::get("/rpc").body(http_body_util::Empty::<bytes::Bytes>::new()).unwrap();
/// let response = capnweb::http_batch::handle(request, main, SessionOptions::default()).await;
/// assert_eq!(response.status(), 405);
/// # }
/// ```
pub async fn handle<B>(
    request: Request<B>,
    main: Stub,
    options: SessionOptions,
) -> Response<Full<Bytes>>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let unbounded = Duration::MAX;
    handle_within(request, main, options, unbounded, unbounded).await
}

/// [`handle`], with time limits: the body must arrive within `body_timeout` (else 408), and
/// the batch must be answered within `batch_timeout` (else 503, and its session ends).
pub(crate) async fn handle_within<B>(
    request: Request<B>,
    main: Stub,
    options: SessionOptions,
    body_timeout: Duration,
    batch_timeout: Duration,
) -> Response<Full<Bytes>>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if request.method() != Method::POST {
        let mut response = text_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "This endpoint only accepts POST requests (Cap'n Web HTTP batch).".into(),
        );
        response
            .headers_mut()
            .insert(ALLOW, http::HeaderValue::from_static("POST"));
        return response;
    }
    let reading = read_body(request.into_body(), max_body_bytes(&options));
    let body = match within(body_timeout, reading).await {
        Some(Ok(body)) => body,
        Some(Err(refusal)) => return refusal,
        None => {
            return text_response(
                StatusCode::REQUEST_TIMEOUT,
                format!("The request body did not arrive within {body_timeout:?}."),
            )
        }
    };
    match within(batch_timeout, run_batch(body, main, options)).await {
        Some(Ok(messages)) => bytes_response(StatusCode::OK, join_lines(&messages)),
        Some(Err(failure)) => text_response(
            StatusCode::BAD_REQUEST,
            format!("The batch could not be processed: {failure}"),
        ),
        // Dropping the batch ends its session: its calls are cancelled.
        None => text_response(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "The batch did not finish within {batch_timeout:?}, so it was cancelled: one of \
                 its calls waits for something that does not come in time."
            ),
        ),
    }
}

/// `future`'s output, or `None` if it takes longer than `limit` (`Duration::MAX`: no limit).
async fn within<F: Future>(limit: Duration, future: F) -> Option<F::Output> {
    if limit == Duration::MAX {
        return Some(future.await);
    }
    tokio::time::timeout(limit, future).await.ok()
}

/// The body (UTF-8 text), or the response refusing it.
async fn read_body<B>(body: B, max_bytes: usize) -> Result<Bytes, Response<Full<Bytes>>>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let too_large = || {
        text_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The request body is larger than this server accepts ({max_bytes} bytes)."),
        )
    };
    // A declared length says it at once, before anything is read.
    if body.size_hint().lower() > max_bytes as u64 {
        return Err(too_large());
    }
    let bytes = match Limited::new(body, max_bytes).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => return Err(too_large()),
        Err(e) => {
            return Err(text_response(
                StatusCode::BAD_REQUEST,
                format!("The request body could not be read: {e}"),
            ))
        }
    };
    match std::str::from_utf8(&bytes) {
        Ok(_) => Ok(bytes),
        Err(e) => Err(text_response(
            StatusCode::BAD_REQUEST,
            format!(
                "The request body is not UTF-8 text (invalid byte at offset {}).",
                e.valid_up_to()
            ),
        )),
    }
}

/// Why a batch failed: the session's error, and the line of the body it was reading when it
/// aborted (none once every line was read: a later failure is not one line's doing).
#[derive(Debug)]
struct BatchFailure {
    error: Error,
    line: Option<usize>,
}

impl fmt::Display for BatchFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line} of the body: {}", self.error),
            None => write!(f, "{}", self.error),
        }
    }
}

/// Runs `lines` as one session serving `main`; returns the messages the session sent, or why
/// it aborted.
async fn run_batch(
    body: Bytes,
    main: Stub,
    options: SessionOptions,
) -> Result<Vec<Bytes>, BatchFailure> {
    let (all_received_tx, all_received) = oneshot::channel();
    let (end_tx, end_rx) = oneshot::channel();
    let (answer_tx, answer) = oneshot::channel();
    let line = Arc::new(AtomicUsize::new(0));
    let transport = BatchServerTransport {
        lines: Lines::new(body),
        line: Arc::clone(&line),
        all_received: Some(all_received_tx),
        end: Some(end_rx),
        sent: Vec::new(),
        answer: Some(answer_tx),
    };
    let session = Session::new(transport, Some(main), options);
    let failure = |error| BatchFailure { error, line: None };
    tokio::select! {
        biased;
        // Messages are handled in order as they are read, so an abort while lines are still
        // being read is the last line's doing.
        error = session.closed() => return Err(BatchFailure {
            error,
            line: Some(line.load(Ordering::Relaxed)),
        }),
        received = all_received => if received.is_err() {
            return Err(failure(session.closed().await));
        },
    }
    session.drain().await.map_err(failure)?;
    // Ending the input ends the session: its driver hands over every message queued before,
    // then closes, which delivers the answer.
    let _ = end_tx.send(());
    answer.await.map_err(|_| {
        failure(Error::Transport(
            "the batch session ended without handing over its answer".into(),
        ))
    })
}

/// The server end of one batch: the request's lines in, the answer's messages out.
struct BatchServerTransport {
    lines: Lines,
    /// The number of the line handed to the session last, for errors.
    line: Arc<AtomicUsize>,
    /// Fired when the session asks for more than the request held: every line was handled.
    all_received: Option<oneshot::Sender<()>>,
    /// Fired (or dropped) when the answer is complete.
    end: Option<oneshot::Receiver<()>>,
    sent: Vec<Bytes>,
    answer: Option<oneshot::Sender<Vec<Bytes>>>,
}

impl Transport for BatchServerTransport {
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>> {
        // Once closed (after an abort, say), nothing more is read: what is left of the body is
        // not the session's any more, and the failing line's number stays as it was.
        if self.answer.is_none() {
            return Poll::Ready(None);
        }
        if let Some(message) = self.lines.next_message() {
            self.line.store(self.lines.line_number(), Ordering::Relaxed);
            return Poll::Ready(Some(Ok(message)));
        }
        if let Some(all_received) = self.all_received.take() {
            let _ = all_received.send(());
        }
        // Not the end yet: that would end the session while results are still being computed.
        if let Some(end) = &mut self.end {
            if Pin::new(end).poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.end = None;
        }
        Poll::Ready(None)
    }

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn start_send(&mut self, message: Bytes) -> Result<(), Error> {
        self.sent.push(message);
        Ok(())
    }

    fn poll_flush(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(&mut self, _cx: &mut Context<'_>, _reason: &CloseReason) -> Poll<()> {
        if let Some(answer) = self.answer.take() {
            let _ = answer.send(std::mem::take(&mut self.sent));
        }
        Poll::Ready(())
    }

    /// One exchange: the client reads nothing until the answer, so a call on one of its
    /// capabilities cannot be answered within the batch; it fails at once instead of holding
    /// the request.
    fn capabilities(&self) -> Capabilities {
        Capabilities::one_exchange()
    }
}
