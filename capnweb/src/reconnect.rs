//! [`Reconnecting`]: a client that opens a new session when the old one broke, with backoff,
//! and hands out the new session's stubs.
//!
//! A session is per connection: when the transport breaks, every stub from it is broken for
//! good (a call on one fails with [`Error::Disconnected`], and so does every call pending at
//! the break), and whatever the server kept for the session is gone. Nothing can be carried
//! over. What a client can do is notice, open a new session, and redo what set the old one up
//! (authenticate, subscribe): [`Reconnecting`] does the first two, and runs your setup
//! ([`on_connect`](Reconnecting::on_connect)) for the third. State that must survive a
//! reconnect (a cursor into an event stream, say) lives on the client, outside any session.
//!
//! ```no_run
//! # async fn example() -> Result<(), capnweb::Error> {
//! use capnweb::reconnect::{Backoff, Reconnecting};
//! use capnweb::{SessionOptions, Stub, Value};
//!
//! let api = Reconnecting::<Stub>::new(|| {
//!     capnweb::websocket::connect_with("ws://127.0.0.1:8080/", None, SessionOptions::default())
//! })
//! .backoff(Backoff::default().max_attempts(10));
//!
//! loop {
//!     // The current session's main object; after a break, a new session's (retrying with
//!     // backoff until one opens, or the attempts run out).
//!     let main = api.main().await?;
//!     match main.call("next", vec![]).await {
//!         Ok(value) => println!("{value:?}"),
//!         // The session broke under the call: the next `main()` opens a new one.
//!         Err(e) if e.is_disconnected() => continue,
//!         Err(e) => return Err(e),
//!     }
//! }
//! # }
//! ```

use std::collections::hash_map::RandomState;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::error::Error;
use crate::session::Session;
use crate::stub::FromStub;

type Connect = Box<dyn Fn() -> BoxFuture<'static, Result<Session, Error>> + Send + Sync>;
type Setup<T> = Box<dyn Fn(T) -> BoxFuture<'static, Result<(), Error>> + Send + Sync>;

/// How long to wait between attempts to open a session: `initial`, then growing by `factor`
/// up to `max`, each wait shortened by a random part of up to a quarter (so that clients cut
/// off together do not all come back at once). By default 100 ms growing ×2 up to 10 s, with
/// no limit on attempts.
///
/// ```
/// use std::time::Duration;
/// use capnweb::reconnect::Backoff;
///
/// let backoff = Backoff::default()
///     .initial(Duration::from_millis(50))
///     .max(Duration::from_secs(5))
///     .max_attempts(20);
/// # let _ = backoff;
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    factor: u32,
    max_attempts: Option<u32>,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(10),
            factor: 2,
            max_attempts: None,
        }
    }
}

impl Backoff {
    /// The wait after the first failed attempt (default 100 ms).
    pub fn initial(mut self, wait: Duration) -> Self {
        self.initial = wait;
        self
    }

    /// The longest wait (default 10 s).
    pub fn max(mut self, wait: Duration) -> Self {
        self.max = wait;
        self
    }

    /// How much each wait grows over the one before (default 2; at least 1).
    pub fn factor(mut self, factor: u32) -> Self {
        self.factor = factor.max(1);
        self
    }

    /// How many attempts one [`Reconnecting::main`] makes before it gives up and returns the
    /// last error (default: no limit; at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts.max(1));
        self
    }

    /// The wait after failed attempt number `attempt` (counting from 1).
    fn wait(&self, attempt: u32) -> Duration {
        let growth = self.factor.saturating_pow(attempt.saturating_sub(1));
        let wait = self.initial.saturating_mul(growth).min(self.max);
        // Up to a quarter less, at random.
        let random = RandomState::new().build_hasher().finish();
        let cut = wait.mul_f64((random % 1024) as f64 / 4096.0);
        wait - cut
    }
}

/// A client that opens a new session when the old one broke (see the [module docs](self)).
///
/// Clones share the session.
#[must_use]
pub struct Reconnecting<T> {
    inner: Arc<Inner<T>>,
}

struct Inner<T> {
    connect: Connect,
    setup: Option<Setup<T>>,
    backoff: Backoff,
    /// The session and its main object, while it lives. Held while connecting, so that
    /// callers wait for one new session instead of each opening their own.
    current: tokio::sync::Mutex<Option<(Session, T)>>,
    sessions: AtomicU64,
}

impl<T> Clone for Reconnecting<T> {
    fn clone(&self) -> Self {
        Reconnecting {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T> fmt::Debug for Reconnecting<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reconnecting")
            .field("backoff", &self.inner.backoff)
            .field("sessions", &self.inner.sessions.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<T: FromStub + Clone + Send + Sync + 'static> Reconnecting<T> {
    /// A client that opens sessions with `connect` (e.g. a closure calling
    /// [`websocket::connect_with`](crate::websocket::connect_with)) and hands out their main
    /// object as `T` (a [`Stub`](crate::Stub) or a typed stub). Nothing connects until the
    /// first [`main`](Reconnecting::main).
    pub fn new<F, Fut>(connect: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Session, Error>> + Send + 'static,
    {
        Reconnecting {
            inner: Arc::new(Inner {
                connect: Box::new(move || Box::pin(connect())),
                setup: None,
                backoff: Backoff::default(),
                current: tokio::sync::Mutex::new(None),
                sessions: AtomicU64::new(0),
            }),
        }
    }

    /// The waits between attempts.
    pub fn backoff(self, backoff: Backoff) -> Self {
        self.rebuild(|inner| inner.backoff = backoff)
    }

    /// Runs `setup` on each new session's main object before handing it out: to
    /// authenticate, subscribe again, resume from a cursor. An error counts as a failed attempt
    /// (the session is dropped, and the next attempt follows the backoff).
    pub fn on_connect<F, Fut>(self, setup: F) -> Self
    where
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        self.rebuild(|inner| inner.setup = Some(Box::new(move |main| Box::pin(setup(main)))))
    }

    /// Applies `change` to the settings; only before the client is shared.
    fn rebuild(mut self, change: impl FnOnce(&mut Inner<T>)) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            change(inner);
        }
        self
    }

    /// The main object of the current session, opening a new one first if there is none or
    /// it broke: attempt after attempt, waiting between them as the backoff says, until one
    /// opens (and its [`on_connect`](Reconnecting::on_connect) setup succeeds) or the attempts
    /// run out (then the last attempt's error).
    pub async fn main(&self) -> Result<T, Error> {
        let mut current = self.inner.current.lock().await;
        if let Some((session, main)) = &*current {
            if !session.is_closed() {
                return Ok(main.clone());
            }
        }
        *current = None;
        let (session, main) = self.open().await?;
        *current = Some((session, main.clone()));
        Ok(main)
    }

    /// The current session, if one is open and has not broken.
    pub async fn session(&self) -> Option<Session> {
        let current = self.inner.current.lock().await;
        current
            .as_ref()
            .filter(|(session, _)| !session.is_closed())
            .map(|(session, _)| session.clone())
    }

    /// How many sessions were opened so far.
    pub fn sessions_opened(&self) -> u64 {
        self.inner.sessions.load(Ordering::Relaxed)
    }

    async fn open(&self) -> Result<(Session, T), Error> {
        let inner = &*self.inner;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let error = match (inner.connect)().await {
                Ok(session) => {
                    let main: T = session.main_as();
                    match &inner.setup {
                        None => Ok(()),
                        Some(setup) => setup(main.clone()).await,
                    }
                    .map(|()| (session, main))
                }
                Err(e) => Err(e),
            };
            match error {
                Ok(opened) => {
                    inner.sessions.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(attempt, "a session was opened");
                    return Ok(opened);
                }
                Err(e) if inner.backoff.max_attempts.is_some_and(|max| attempt >= max) => {
                    tracing::debug!(attempt, error = %e, "giving up opening a session");
                    return Err(e);
                }
                Err(e) => {
                    let wait = inner.backoff.wait(attempt);
                    tracing::debug!(attempt, error = %e, ?wait, "opening a session failed; trying again");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_to_the_max_less_at_most_a_quarter() {
        let backoff = Backoff::default()
            .initial(Duration::from_millis(100))
            .max(Duration::from_secs(1));
        for (attempt, full) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1000),
            (40, 1000),
        ] {
            let wait = backoff.wait(attempt);
            let full = Duration::from_millis(full);
            assert!(wait <= full && wait >= full * 3 / 4, "{attempt}: {wait:?}");
        }
    }
}
