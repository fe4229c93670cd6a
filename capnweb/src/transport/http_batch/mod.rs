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
mod server;

pub use client::{builder, connect, connect_with, Client, ClientBuilder};
pub use server::handle;
pub(crate) use server::{handle_within, text_response};

use bytes::Bytes;

use crate::session::SessionOptions;

/// The largest body either side reads (see the module docs).
pub(crate) fn max_body_bytes(options: &SessionOptions) -> usize {
    options.limits.max_message_size.saturating_mul(3)
}

/// A batch body's messages, each a slice of the body, one by one: split on `\n`; an empty
/// body holds none. (Lazily: a body of a million lines is not a million slices at once.)
struct Lines {
    body: Bytes,
    /// Where the next line starts; past the end once every line was handed out.
    next: usize,
}

impl Lines {
    fn new(body: Bytes) -> Lines {
        let next = if body.is_empty() { 1 } else { 0 };
        Lines { body, next }
    }
}

impl Iterator for Lines {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        let start = self.next;
        if start > self.body.len() {
            return None;
        }
        let end = self.body[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(self.body.len(), |i| start + i);
        self.next = end + 1;
        Some(self.body.slice(start..end))
    }
}

/// A batch body as its messages (see [`Lines`]).
fn split_batch(body: &Bytes) -> Vec<Bytes> {
    Lines::new(body.clone()).collect()
}

/// Messages as a batch body: joined by `\n`.
fn join_lines(lines: &[Bytes]) -> Bytes {
    let size = lines.iter().map(Bytes::len).sum::<usize>() + lines.len().saturating_sub(1);
    let mut body = Vec::with_capacity(size);
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            body.push(b'\n');
        }
        body.extend_from_slice(line);
    }
    Bytes::from(body)
}

/// The first characters of `text`, for an error message.
pub(crate) fn snippet(text: &str) -> String {
    const MAX_CHARS: usize = 200;
    let text = text.trim();
    match text.char_indices().nth(MAX_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_body_holds_no_messages() {
        let split = |text: &'static str| split_batch(&Bytes::from_static(text.as_bytes()));
        assert!(split("").is_empty());
        assert_eq!(split("a\nb"), ["a", "b"]);
        assert_eq!(split("a\n"), ["a", ""]);
        assert_eq!(join_lines(&split("a\nb")), "a\nb");
    }

    #[test]
    fn snippets_are_cut_on_characters() {
        assert_eq!(snippet("  short \n"), "short");
        let long = "é".repeat(300);
        assert_eq!(snippet(&long).chars().count(), 201);
    }
}
