//! One incoming message: parsed strictly, then applied to the session.

use std::sync::Arc;

use super::{rejection, Deferred, SessionCore};
use crate::error::{Error, LimitError};
use crate::evaluate;
use crate::hook::Hook;
use crate::wire::{Expr, Message, WireErrorKind};

/// Whether a call from the peer is taken, decided as its message is admitted.
struct Admission {
    /// The session already runs its most calls.
    busy: bool,
    /// The session is closing.
    closing: bool,
    /// The id a `push` takes.
    next_push: i64,
}

impl SessionCore {
    /// Handles one message from the peer. An error means the peer broke the protocol (or a
    /// limit); the caller aborts the session with it.
    ///
    /// A message that only touches the tables (`pull`, `release`) is one critical section.
    /// One that is evaluated runs with `handling_message` set, so that resolutions becoming
    /// ready meanwhile (from other tasks) are sent after it, as the reference sends them.
    pub(super) fn handle_incoming(self: &Arc<Self>, text: &[u8]) -> Result<(), Error> {
        let parsed = Message::parse_bytes(text, &self.options.limits).map_err(|e| match e.kind() {
            WireErrorKind::LimitExceeded => match LimitError::from_wire(&e) {
                Some(limit) => Error::LimitExceeded(limit),
                None => Error::protocol(e.message()),
            },
            _ => Error::protocol(e.message()),
        });
        let message = match parsed {
            Ok(message) => message,
            // Nothing runs once the session has ended, whatever is still in the transport.
            Err(_) if self.with_state(|st| st.ended.is_some()) => return Ok(()),
            Err(e) => return Err(e),
        };
        match message {
            Message::Pull(id) => self.with_state(|st| {
                if st.ended.is_some() {
                    return Ok(());
                }
                self.start_resolving(&mut st.tables, id)
            }),
            Message::Release(id, count) => self.with_state(|st| {
                if st.ended.is_some() {
                    return Ok(());
                }
                let removed = st
                    .tables
                    .exports
                    .release(id, count)
                    .map_err(Error::protocol)?;
                if let Some(hook) = removed {
                    st.tables.bury(hook);
                }
                Ok(())
            }),
            evaluated => self.handle_evaluated(evaluated),
        }
    }

    /// A message whose expression is evaluated (see [`SessionCore::handle_incoming`]).
    fn handle_evaluated(self: &Arc<Self>, message: Message) -> Result<(), Error> {
        let max = self.options.max_calls_in_flight;
        let admitted = self.with_state(|st| {
            if st.ended.is_some() {
                return None;
            }
            st.handling_message = true;
            Some(Admission {
                busy: st.tables.calls_in_flight >= max,
                closing: st.closing.is_some(),
                next_push: st.tables.exports.next_pushed_id(),
            })
        });
        let Some(admission) = admitted else {
            return Ok(());
        };
        let handled = match message {
            // Clears `handling_message` itself, in the critical section that records the call.
            Message::Push(expr) => return self.receive_push(expr, false, admission),
            Message::Stream(expr) => return self.receive_push(expr, true, admission),
            Message::Resolve(id, expr) => self
                .evaluate(expr, None)
                .map(|value| self.settle_import(id, Hook::from_value(value))),
            Message::Reject(id, expr) => self.evaluate(expr, None).map(|value| {
                self.settle_import(id, Hook::Error(Error::from(rejection(value))));
            }),
            Message::Abort(expr) => self.evaluate(expr, None).map(|value| {
                let error = rejection(value);
                let reason = format!("the peer aborted the session: {error}");
                let peer_error = Some(Box::new(error));
                self.end(Error::Disconnected { reason, peer_error }, false);
            }),
            Message::Pipe => self.receive_pipe(),
            Message::Pull(_) | Message::Release(..) => Ok(()),
        };
        self.with_state(|st| st.handling_message = false);
        handled
    }

    /// A `push` (or a `stream`, which is pulled at once and released by its resolution): the
    /// expression's result takes the peer's next import id.
    fn receive_push(
        self: &Arc<Self>,
        expr: Expr,
        stream: bool,
        Admission {
            busy,
            closing,
            next_push,
        }: Admission,
    ) -> Result<(), Error> {
        let max = self.options.max_calls_in_flight;
        let hook = if closing {
            Hook::Error(Error::from(crate::RpcError::error(
                "the session is closing: it takes no new calls (open a new session)",
            )))
        } else if busy {
            // The call is refused, not the session: the peer learns why on this call alone.
            tracing::warn!(
                max,
                "a call was refused: the peer has the most calls in flight"
            );
            Hook::Error(Error::from(crate::RpcError::range_error(format!(
                "this session already runs {max} calls for you, its limit; wait for some to \
                 finish before making more"
            ))))
        } else {
            match self.evaluate(expr, Some(next_push)) {
                Ok(value) => Hook::from_value(value),
                Err(e) => {
                    self.with_state(|st| st.handling_message = false);
                    return Err(e);
                }
            }
        };
        let running = super::is_pending_promise(&hook).cloned();
        self.with_state(|st| {
            st.handling_message = false;
            let id = st.tables.exports.insert_pushed(hook, stream)?;
            if let Some(call) = &running {
                st.tables.calls_in_flight += 1;
                let core = Arc::downgrade(self);
                call.when_settled(Box::new(move |_| {
                    if let Some(core) = core.upgrade() {
                        core.defer(Deferred::CallFinished);
                    }
                }));
            }
            if stream {
                self.start_resolving(&mut st.tables, id)?;
            }
            Ok(())
        })
    }
}

impl SessionCore {
    /// `["pipe"]`: a pipe whose writable end takes the peer's next import id and whose readable
    /// end waits for a `["readable", id]`. A session that cannot carry a stream (an HTTP
    /// batch's) fails the pipe at once, so its reader learns why instead of waiting.
    fn receive_pipe(self: &Arc<Self>) -> Result<(), Error> {
        use crate::stream::{Pipe, PipeReader, PipeWriter, StreamHook};
        let pipe = Pipe::new(self.options.max_stream_buffer_bytes);
        if !self.caps.carries_streams() {
            pipe.fail(crate::stream::needs_persistent_session());
        }
        let writer = crate::hook::TargetCell::new(Arc::new(PipeWriter::new(Arc::clone(&pipe))));
        let hook = Hook::Stream(Arc::new(StreamHook::Writable(Hook::Target(writer))));
        let reader = PipeReader::new(pipe);
        self.with_state(|st| {
            let id = st.tables.exports.insert_pushed(hook, false)?;
            if let Some(entry) = st.tables.exports.get_mut(id) {
                entry.pipe_readable = Some(reader);
            }
            Ok(())
        })
    }

    /// Evaluates an expression from the peer: the calls in it are the peer's, made under the
    /// session's scope (interceptor, handler timeout, counters, tracing).
    fn evaluate(self: &Arc<Self>, expr: Expr, call_id: Option<i64>) -> Result<crate::Value, Error> {
        let scope = Some(self.scope(call_id));
        crate::hook::scope::within(scope, || evaluate::evaluate(expr, self))
    }
}
