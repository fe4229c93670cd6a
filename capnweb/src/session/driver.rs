//! [`Driver`]: the one task per session that moves messages between the outbox and the
//! transport, and hands what arrives to the session.
//!
//! Reading and writing happen in the same task: the driver reads every message the transport
//! has at hand (up to a burst), handles each one right there (a synchronous method runs
//! inline, and its result is serialized into the outbox at once), then writes everything that
//! produced in one flush. A call costs no task hop on the serving side unless the method
//! itself awaits.
//!
//! Backpressure: while the bytes queued toward the peer exceed
//! `SessionOptions::max_queued_bytes`, the driver stops reading; if that lasts longer than
//! `SessionOptions::send_timeout`, the session aborts. Closing: what is queued (an `abort`
//! included) is sent, then the transport is closed, then what the peer still sends is read and
//! dropped for a short while, so the close is not turned into a reset that loses it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::time::Sleep;

use super::options::MessageDirection;
use super::outbox::Batch;
use super::transport::{CloseReason, Transport};
use super::SessionCore;
use crate::error::Error;
use crate::wire::Limit;

/// Most messages handled before the driver writes what they produced.
const READ_BURST: usize = 64;

/// How long the end of a session may take: sending what is queued, closing, and reading what
/// the peer still sends.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Most bytes read and dropped after closing, while waiting for the peer to close too.
const LINGER_BYTES: usize = 1 << 20;

enum Phase {
    Running,
    Closing(CloseReason),
    Lingering { dropped: usize },
    Done,
}

/// See the module docs.
pub(super) struct Driver<T> {
    core: Arc<SessionCore>,
    transport: T,
    /// Messages taken from the outbox and not yet all handed to the transport.
    batch: Option<Batch>,
    /// Messages handed to the transport since its last flush.
    unflushed: bool,
    /// A batching transport was asked to flush.
    flush_asked: bool,
    phase: Phase,
    /// Running out while reading is paused for backpressure aborts the session.
    stall: Option<Pin<Box<Sleep>>>,
    /// Bounds the closing and lingering phases.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl<T: Transport> Driver<T> {
    pub(super) fn new(core: Arc<SessionCore>, transport: T) -> Self {
        Driver {
            core,
            transport,
            batch: None,
            unflushed: false,
            flush_asked: false,
            phase: Phase::Running,
            stall: None,
            deadline: None,
        }
    }

    /// Whether more is queued toward the peer than the session allows.
    fn paused(&self) -> bool {
        let queued = self.core.queued.load(Ordering::Relaxed)
            + self.batch.as_ref().map_or(0, Batch::remaining);
        queued > self.core.options.max_queued_bytes
    }

    /// Hands what the outbox holds to the transport, and flushes it.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        loop {
            if self.batch.is_none() {
                match self.core.take_outbox() {
                    Some((batch, flush)) => {
                        self.batch = Some(batch);
                        self.flush_asked |= flush;
                    }
                    None => break,
                }
            }
            if let Some(batch) = &mut self.batch {
                while batch.remaining() > 0 {
                    let ready = self.transport.poll_ready(cx);
                    self.core
                        .in_transit
                        .store(batch.remaining(), Ordering::Relaxed);
                    ready!(ready)?;
                    if let Some(message) = batch.next_message() {
                        self.core.count_sent(message.len());
                        self.core.observe(MessageDirection::Sent, &message);
                        self.transport.start_send(message)?;
                        self.unflushed = true;
                    }
                }
            }
            self.batch = None;
            self.core.in_transit.store(0, Ordering::Relaxed);
        }
        if self.unflushed && (!self.core.caps.is_batched() || self.flush_asked) {
            ready!(self.transport.poll_flush(cx))?;
            self.unflushed = false;
            self.flush_asked = false;
        }
        Poll::Ready(Ok(()))
    }

    /// Runs the session until it ends; then returns the reason the transport closes with.
    fn poll_run(&mut self, cx: &mut Context<'_>) -> Poll<CloseReason> {
        loop {
            self.core.driver.register(cx.waker());
            if let Some(reason) = self.core.end_state() {
                return Poll::Ready(reason);
            }
            let writing = self.poll_write(cx);
            if let Poll::Ready(Err(e)) = writing {
                tracing::debug!(error = %e, "sending to the peer failed; ending the session");
                let why = format!("sending to the peer failed: {e}");
                self.core.end(Error::disconnected(why), false);
                continue;
            }
            let mut handled = 0;
            while handled < READ_BURST && !self.paused() {
                match self.transport.poll_recv(cx) {
                    Poll::Ready(Some(Ok(message))) => {
                        handled += 1;
                        self.core.count_received(message.len());
                        self.core.observe(MessageDirection::Received, &message);
                        if let Err(e) = self.core.handle_incoming(&message) {
                            self.core.end(e, true);
                            break;
                        }
                    }
                    Poll::Ready(Some(Err(e))) => {
                        // The transport chose the error's kind (a network failure, a frame the
                        // protocol forbids, a failed HTTP batch); pending calls reject with it.
                        let tell_peer = matches!(e, Error::Protocol(_) | Error::LimitExceeded(_));
                        self.core.end(e, tell_peer);
                        break;
                    }
                    Poll::Ready(None) => {
                        let why = "the peer closed the connection";
                        self.core.end(Error::disconnected(why), false);
                        break;
                    }
                    Poll::Pending => break,
                }
            }
            if self.poll_stall(cx) {
                continue;
            }
            if handled == 0 {
                // The transport cannot take more (a peer that does not read): its readiness,
                // the stall timer or the session's end wakes the driver. Going round again
                // instead would spin a core for as long as the peer does not read.
                if writing.is_pending() {
                    return Poll::Pending;
                }
                if self.batch.is_none() && self.core.park_driver() {
                    return Poll::Pending;
                }
            }
            // Write what those messages produced before reading more.
        }
    }

    /// Keeps the stall timer while reading is paused; `true` if it ran out (the session ended).
    fn poll_stall(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.paused() {
            self.stall = None;
            return false;
        }
        let timeout = self.core.options.send_timeout;
        let stall = self
            .stall
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if stall.as_mut().poll(cx).is_pending() {
            return false;
        }
        let queued = self.core.queued.load(Ordering::Relaxed)
            + self.batch.as_ref().map_or(0, Batch::remaining);
        self.core.end(
            Error::limit(
                Limit::SendTimeout,
                timeout.as_millis(),
                format!(
                    "the peer stopped reading: {queued} bytes of messages waited more than \
                     {timeout:?} to be sent"
                ),
            ),
            true,
        );
        true
    }

    /// Whether the closing deadline has passed.
    fn out_of_time(&mut self, cx: &mut Context<'_>) -> bool {
        let deadline = self
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(CLOSE_TIMEOUT)));
        deadline.as_mut().poll(cx).is_ready()
    }
}

impl<T: Transport> Future for Driver<T> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        loop {
            match &mut this.phase {
                Phase::Running => {
                    let reason = ready!(this.poll_run(cx));
                    this.stall = None;
                    this.phase = Phase::Closing(reason);
                }
                Phase::Closing(reason) => {
                    let reason = reason.clone();
                    if this.out_of_time(cx) {
                        this.phase = Phase::Done;
                        continue;
                    }
                    match this.poll_write(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Err(_)) => {
                            this.phase = Phase::Done;
                            continue;
                        }
                        Poll::Ready(Ok(())) => {}
                    }
                    ready!(this.transport.poll_close(cx, &reason));
                    this.phase = Phase::Lingering { dropped: 0 };
                }
                Phase::Lingering { dropped } => match this.transport.poll_recv(cx) {
                    Poll::Ready(Some(Ok(message))) => {
                        *dropped += message.len();
                        if *dropped > LINGER_BYTES {
                            this.phase = Phase::Done;
                        }
                    }
                    Poll::Ready(Some(Err(_)) | None) => this.phase = Phase::Done,
                    Poll::Pending => {
                        if !this.out_of_time(cx) {
                            return Poll::Pending;
                        }
                        this.phase = Phase::Done;
                    }
                },
                Phase::Done => return Poll::Ready(()),
            }
        }
    }
}
