//! Connections that arrive while the server already serves
//! [`max_connections`](super::Server::max_connections): [`AtCapacity`] says what they get, and
//! [`TurnAway`] gives it to them.
//!
//! They are accepted at once rather than left in the listen backlog, where a client would wait
//! for its own timeout without learning why. Turning one away is cheap and bounded: a canned
//! answer, a few seconds at most, a fixed number at a time (past that, a connection is closed
//! unanswered), and it never counts as an open connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// What a [`Server`](super::Server) does with a connection that arrives while it serves
/// [`max_connections`](super::Server::max_connections) already (set with
/// [`Server::at_capacity`](super::Server::at_capacity)).
///
/// Either way the connection is accepted and dealt with at once, is not counted among the
/// open connections, and shows in
/// [`ServerHandle::refused_connections`](super::ServerHandle::refused_connections).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), capnweb::Error> {
/// use std::time::Duration;
/// use capnweb::{AtCapacity, Server};
///
/// let server = Server::bind("127.0.0.1:0")
///     .await?
///     .max_connections(5_000)
///     .at_capacity(AtCapacity::ServiceUnavailable { retry_after: Duration::from_secs(10) });
/// # let _ = server; Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AtCapacity {
    /// Answer `503 Service Unavailable` with a `Retry-After` header (`retry_after` in whole
    /// seconds, rounded up, at least 1) and a short text saying that the server is at its
    /// connection limit, then close. The default, with 1 s. On a TLS server the answer
    /// follows the handshake, so the client can read it.
    ServiceUnavailable {
        /// When the client may try again.
        retry_after: Duration,
    },
    /// Close the connection at once, unanswered: the cheapest, but the client learns only
    /// that the connection was closed.
    Close,
}

impl Default for AtCapacity {
    fn default() -> Self {
        AtCapacity::ServiceUnavailable {
            retry_after: Duration::from_secs(1),
        }
    }
}

/// How many connections may be getting their 503 at once; past that, they are closed
/// unanswered (a flood of them costs an accept and a close each).
const ANSWERS_IN_FLIGHT: usize = 64;

/// How long one answer may take, TLS handshake included, until the client has closed its side.
const ANSWER_TIME: Duration = Duration::from_secs(2);

/// Turns away the connections that arrive at capacity, as its [`AtCapacity`] says.
pub(super) struct TurnAway {
    /// The whole answer, made once: `None` for [`AtCapacity::Close`].
    answer: Option<Bytes>,
    in_flight: Arc<Semaphore>,
    answer_time: Duration,
    #[cfg(feature = "tls")]
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl TurnAway {
    pub(super) fn new(policy: AtCapacity) -> TurnAway {
        TurnAway::bounded(policy, ANSWERS_IN_FLIGHT, ANSWER_TIME)
    }

    fn bounded(policy: AtCapacity, in_flight: usize, answer_time: Duration) -> TurnAway {
        let answer = match policy {
            AtCapacity::ServiceUnavailable { retry_after } => {
                Some(service_unavailable(retry_after))
            }
            AtCapacity::Close => None,
        };
        TurnAway {
            answer,
            in_flight: Arc::new(Semaphore::new(in_flight)),
            answer_time,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Answers over TLS, handshake first.
    #[cfg(feature = "tls")]
    pub(super) fn over_tls(mut self, acceptor: tokio_rustls::TlsAcceptor) -> TurnAway {
        self.tls = Some(acceptor);
        self
    }

    /// Gives `stream` its answer in a task of its own, or closes it now: if the policy says so,
    /// or too many answers are in flight already.
    pub(super) fn turn_away(&self, stream: TcpStream, peer: SocketAddr) {
        let Some(answer) = self.answer.clone() else {
            tracing::debug!(%peer, "closed a connection: the server is at max_connections");
            return;
        };
        let Ok(permit) = Arc::clone(&self.in_flight).try_acquire_owned() else {
            tracing::debug!(
                %peer,
                "closed a connection unanswered: the server is at max_connections, and as many \
                 connections as it answers at once are being told so"
            );
            return;
        };
        tracing::debug!(%peer, "answering 503 to a connection: the server is at max_connections");
        #[cfg(feature = "tls")]
        let tls = self.tls.clone();
        let answer_time = self.answer_time;
        tokio::spawn(async move {
            let answered = async {
                #[cfg(feature = "tls")]
                if let Some(acceptor) = tls {
                    return send(acceptor.accept(stream).await?, &answer).await;
                }
                send(stream, &answer).await
            };
            if let Ok(Err(e)) = tokio::time::timeout(answer_time, answered).await {
                tracing::debug!(%peer, error = %e, "a connection turned away at max_connections failed");
            }
            drop(permit);
        });
    }
}

/// Sends `answer` and closes our side, then reads whatever the client sent until it closes
/// too: closing a socket with unread input resets the connection, and a reset can destroy
/// the answer before the client has read it.
async fn send<IO>(mut io: IO, answer: &[u8]) -> std::io::Result<()>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    io.write_all(answer).await?;
    io.shutdown().await?;
    let mut discard = [0u8; 1024];
    while io.read(&mut discard).await? > 0 {}
    Ok(())
}

/// The whole HTTP/1.1 answer: 503, `Retry-After`, and a line of text.
fn service_unavailable(retry_after: Duration) -> Bytes {
    let seconds = retry_after
        .as_secs()
        .saturating_add(u64::from(retry_after.subsec_nanos() > 0))
        .max(1);
    let body = format!("The server is at its connection limit; try again in {seconds} s.\n");
    Bytes::from(format!(
        "HTTP/1.1 503 Service Unavailable\r\n\
         content-type: text/plain; charset=utf-8\r\n\
         retry-after: {seconds}\r\n\
         connection: close\r\n\
         content-length: {}\r\n\
         \r\n\
         {body}",
        body.len()
    ))
}

#[cfg(test)]
mod tests {
    use tokio::net::TcpListener;

    use super::*;

    #[test]
    fn retry_after_is_whole_seconds_rounded_up() {
        for (after, seconds) in [(0, "1"), (1_000, "1"), (1_001, "2"), (30_000, "30")] {
            let answer = service_unavailable(Duration::from_millis(after));
            let text = String::from_utf8_lossy(&answer);
            assert!(
                text.contains(&format!("\r\nretry-after: {seconds}\r\n")),
                "{text}"
            );
            let (head, body) = text.split_once("\r\n\r\n").unwrap();
            assert!(
                head.contains(&format!("content-length: {}", body.len())),
                "{text}"
            );
        }
    }

    /// Accepts one connection from a client that has sent a request, and turns it away.
    async fn turned_away(listener: &TcpListener, turn_away: &TurnAway) -> TcpStream {
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let (stream, peer) = listener.accept().await.unwrap();
        turn_away.turn_away(stream, peer);
        client
    }

    async fn read_all(client: &mut TcpStream) -> String {
        let mut received = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut received));
        // A reset after the answer still counts as closed; what arrived is what matters.
        let _ = read.await.expect("the connection should be closed");
        String::from_utf8_lossy(&received).into_owned()
    }

    #[tokio::test]
    async fn past_the_answers_in_flight_a_connection_is_closed_unanswered() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let turn_away = TurnAway::bounded(AtCapacity::default(), 1, Duration::from_secs(30));
        // The first client reads its answer but keeps its side open, so the answer stays in
        // flight (the server waits for the client's close).
        let mut first = turned_away(&listener, &turn_away).await;
        let mut head = [0u8; 12];
        first.read_exact(&mut head).await.unwrap();
        assert_eq!(&head, b"HTTP/1.1 503");
        let mut second = turned_away(&listener, &turn_away).await;
        assert_eq!(read_all(&mut second).await, "", "no answer past the bound");
        // Once the first closes, its place is free again (as soon as the server has read
        // the close).
        drop(first);
        let answered = async {
            loop {
                let mut client = turned_away(&listener, &turn_away).await;
                let answer = read_all(&mut client).await;
                if !answer.is_empty() {
                    break answer;
                }
            }
        };
        let third = tokio::time::timeout(Duration::from_secs(5), answered)
            .await
            .expect("the answer's place should be free once its client closed");
        assert!(third.starts_with("HTTP/1.1 503"), "{third}");
    }

    #[tokio::test]
    async fn the_close_policy_answers_nothing() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let turn_away = TurnAway::new(AtCapacity::Close);
        let mut client = turned_away(&listener, &turn_away).await;
        assert_eq!(read_all(&mut client).await, "");
    }
}
