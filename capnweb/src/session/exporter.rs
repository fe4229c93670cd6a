//! How a session refers to stubs and promises it sends: its imports by id, everything else
//! exported on its table.

use std::sync::Arc;

use super::{SessionInner, State};
use crate::encode::Exporter;
use crate::error::{Error, RpcError};
use crate::hook::{Hook, LocalPromise};
use crate::wire::{Capture, Expr, PathKey, ReferenceForm};

pub(super) struct SessionExporter<'a> {
    session: &'a Arc<SessionInner>,
    st: &'a mut State,
}

impl<'a> SessionExporter<'a> {
    pub(super) fn new(session: &'a Arc<SessionInner>, st: &'a mut State) -> Self {
        SessionExporter { session, st }
    }

    /// The import id if `hook` is a still-pending import of this very session.
    fn own_import(&self, hook: &Hook) -> Option<i64> {
        match hook {
            Hook::Import(import) if import.belongs_to(self.session) && import.is_pending() => {
                Some(import.id())
            }
            _ => None,
        }
    }

    /// A `.map()` capture: our import by id, anything else exported.
    pub(super) fn capture(&mut self, hook: &Hook) -> Capture {
        match self.own_import(hook) {
            Some(id) => Capture::Import(id),
            None => Capture::Export(self.st.exports.export_stub(hook)),
        }
    }
}

impl Exporter for SessionExporter<'_> {
    fn stub_expr(&mut self, hook: &Hook) -> Result<Expr, Error> {
        Ok(match self.capture(hook) {
            Capture::Import(id) => Expr::Import(Box::new(ReferenceForm {
                id,
                path: None,
                args: None,
            })),
            Capture::Export(id) => Expr::Export(id),
        })
    }

    fn promise_expr(&mut self, hook: &Hook, path: &[PathKey]) -> Result<Expr, Error> {
        if let Some(id) = self.own_import(hook) {
            let path = (!path.is_empty()).then(|| path.to_vec());
            return Ok(Expr::Pipeline(Box::new(ReferenceForm {
                id,
                path,
                args: None,
            })));
        }
        // A property of a local hook is read by a task: reading it here could run user code
        // (a target's getter) or re-enter this session while its tables are locked.
        let target = if path.is_empty() {
            hook.clone()
        } else {
            let (hook, path) = (hook.clone(), path.to_vec());
            LocalPromise::spawn(async move { hook.get(&path).pull().await })
        };
        let id = self.st.exports.export_promise(target);
        self.session.start_resolving(self.st, id)?;
        Ok(Expr::Promise(id))
    }

    fn outgoing_error(&mut self, error: &RpcError) -> RpcError {
        match &self.session.options.on_send_error {
            Some(hook) => hook(error).unwrap_or_else(|| RpcError {
                stack: None,
                ..error.clone()
            }),
            None => RpcError {
                stack: None,
                ..error.clone()
            },
        }
    }
}
