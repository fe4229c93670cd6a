//! One incoming message: parsed strictly, then applied to the session.

use std::sync::Arc;

use super::{rejection, Deferred, SessionCore};
use crate::error::Error;
use crate::evaluate;
use crate::hook::Hook;
use crate::wire::{Expr, Message, WireErrorKind};

impl SessionCore {
    /// Handles one message from the peer. An error means the peer broke the protocol (or a
    /// limit); the caller aborts the session with it.
    pub(super) fn handle_incoming(self: &Arc<Self>, text: &[u8]) -> Result<(), Error> {
        // Nothing runs once the session has ended, whatever is still in the transport.
        let live = self.with_state(|st| {
            st.handling_message = st.ended.is_none();
            st.handling_message
        });
        if !live {
            return Ok(());
        }
        let handled = self.apply(text);
        self.with_state(|st| st.handling_message = false);
        handled
    }

    fn apply(self: &Arc<Self>, text: &[u8]) -> Result<(), Error> {
        let message =
            Message::parse_bytes(text, &self.options.limits).map_err(|e| match e.kind() {
                WireErrorKind::LimitExceeded => Error::LimitExceeded(e.to_string()),
                _ => Error::Protocol(e.to_string()),
            })?;
        match message {
            Message::Push(expr) => self.receive_push(expr, false),
            Message::Stream(expr) => self.receive_push(expr, true),
            Message::Pull(id) => self.with_state(|st| self.start_resolving(&mut st.tables, id)),
            Message::Resolve(id, expr) => {
                let value = evaluate::evaluate(expr, self)?;
                self.settle_import(id, Hook::from_value(value));
                Ok(())
            }
            Message::Reject(id, expr) => {
                let value = evaluate::evaluate(expr, self)?;
                self.settle_import(id, Hook::Error(Error::from(rejection(value))));
                Ok(())
            }
            Message::Release(id, count) => self.with_state(|st| {
                let removed = st
                    .tables
                    .exports
                    .release(id, count)
                    .map_err(Error::Protocol)?;
                if let Some(hook) = removed {
                    st.tables.bury(hook);
                }
                Ok(())
            }),
            Message::Abort(expr) => {
                let error = rejection(evaluate::evaluate(expr, self)?);
                let reason = format!("the peer aborted the session: {error}");
                let peer_error = Some(Box::new(error));
                self.end(Error::Disconnected { reason, peer_error }, false);
                Ok(())
            }
            Message::Pipe => Err(Error::Protocol(
                "the peer opened a pipe (a stream), and streams are not supported by this \
                 implementation yet"
                    .into(),
            )),
        }
    }

    /// A `push` (or a `stream`, which is pulled at once and released by its resolution): the
    /// expression's result takes the peer's next import id.
    fn receive_push(self: &Arc<Self>, expr: Expr, stream: bool) -> Result<(), Error> {
        let max = self.options.max_calls_in_flight;
        let (busy, closing) =
            self.with_state(|st| (st.tables.calls_in_flight >= max, st.closing.is_some()));
        let hook = if closing {
            Hook::Error(Error::from(crate::RpcError::error(
                "the session is closing: it takes no new calls (open a new session)",
            )))
        } else if busy {
            // The call is refused, not the session: the peer learns why on this call alone.
            Hook::Error(Error::from(crate::RpcError::range_error(format!(
                "this session already runs {max} calls for you, its limit; wait for some to \
                 finish before making more"
            ))))
        } else {
            Hook::from_value(evaluate::evaluate(expr, self)?)
        };
        let running = super::is_pending_promise(&hook).cloned();
        self.with_state(|st| {
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
