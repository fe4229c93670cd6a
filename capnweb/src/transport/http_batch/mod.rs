//! The HTTP batch transport: a whole session in one POST.
//!
//! The client queues every call it makes until the application awaits a result; then it sends
//! everything queued in that "tick" as one POST (messages joined by `\n`), the server evaluates
//! them, answers once with its messages joined by `\n`, and the session is over. Calls on
//! results, promises passed as arguments and `.map()` all still travel in that one request.
//!
//! - Client: [`connect`] (the server's main object) and [`connect_with`] (the session) for
//!   one batch; a [`Client`], made by a [`ClientBuilder`], for many batches over one pool of
//!   connections, with headers on every POST (e.g. a bearer token), a connect timeout and TLS
//!   roots.
//! - Server: [`handle`] answers one request; [`Server`](crate::Server) and
//!   [`RpcService`](crate::RpcService) route POSTs here for you.
//!
//! ```no_run
//! # async fn example() -> Result<(), capnweb::Error> {
//! use capnweb::{Stub, Value};
//!
//! let api: Stub = capnweb::http_batch::connect("http://127.0.0.1:8080/");
//! // Both calls, and the pipelined call on the first one's result, travel in one POST.
//! let counter = api.call("makeCounter", vec![Value::from(1)]);
//! let (a, b) = tokio::join!(api.call("square", vec![Value::from(3)]), counter.call("increment", vec![Value::from(2)]));
//! # let _ = (a?, b?); Ok(()) }
//! ```
//!
//! URLs are `http://` or, with TLS, `https://`. TLS comes from rustls, under the crate's `tls`
//! feature (on by default): an `https://` server's certificate is checked against the Mozilla
//! roots unless the builder's [`tls`](ClientBuilder::tls) says otherwise (see
//! [`tls`](crate::tls)). Built without the feature, an `https://` URL is refused with an error
//! saying to enable it. Connections speak HTTP/1.1.
//!
//! ## Body size
//!
//! Both sides bound the body they read by the session's
//! [`Limits::max_message_size`](crate::Limits::max_message_size): a body may hold at most the
//! UTF-8 size of one message at that limit, `3 × max_message_size` bytes (one UTF-16 unit is at
//! most 3 bytes), 96 MiB by default. The server answers a larger request with 413; each message
//! inside is still checked against the limits on its own.

mod client;
#[cfg(feature = "typescript")]
mod describe;
mod server;

pub use client::{builder, connect, connect_with, Client, ClientBuilder};
#[cfg(feature = "typescript")]
pub use describe::describe;
pub use server::handle;
#[cfg(feature = "server")]
pub(crate) use server::handle_within;

use bytes::Bytes;

use super::lines::{join_lines, snippet, Lines};
use crate::session::SessionOptions;

/// The largest body either side reads (see the module docs).
pub(crate) fn max_body_bytes(options: &SessionOptions) -> usize {
    options.limits.max_message_size.saturating_mul(3)
}

/// A batch body as its messages (see [`Lines::next_message`]: blank lines are skipped).
fn split_batch(body: &Bytes) -> Vec<Bytes> {
    let mut lines = Lines::new(body.clone());
    std::iter::from_fn(|| lines.next_message()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_body_holds_no_messages_and_blank_lines_are_skipped() {
        let split = |text: &'static str| split_batch(&Bytes::from_static(text.as_bytes()));
        assert!(split("").is_empty());
        assert!(split("\n\r\n").is_empty());
        assert_eq!(split("a\nb"), ["a", "b"]);
        assert_eq!(split("a\n"), ["a"]);
        assert_eq!(split("a\r\n\nb\r\n"), ["a", "b"]);
        assert_eq!(join_lines(&split("a\nb")), "a\nb");
    }
}
