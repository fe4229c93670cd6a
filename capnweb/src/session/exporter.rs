//! How a session refers to stubs and promises it sends: its own pending imports by id,
//! everything else exported on its table.

use std::sync::Arc;

use super::{SessionCore, Tables};
use crate::encode::{Exporter, Reference};
use crate::error::{Error, RpcError};
use crate::hook::{Hook, LocalPromise};
use crate::wire::{Capture, PathKey};

/// An [`Exporter`] over a session's tables. It keeps a journal of what it exported, so that a
/// message that fails to encode (over a limit, say) leaves nothing exported behind it.
pub(super) struct SessionExporter<'a> {
    core: &'a Arc<SessionCore>,
    tables: &'a mut Tables,
    journal: Vec<i64>,
}

impl<'a> SessionExporter<'a> {
    pub(super) fn new(core: &'a Arc<SessionCore>, tables: &'a mut Tables) -> Self {
        SessionExporter {
            core,
            tables,
            journal: Vec::new(),
        }
    }

    /// The import id if `hook` is a still-pending import of this very session.
    fn own_import(&self, hook: &Hook) -> Option<i64> {
        match hook {
            Hook::Remote(remote)
                if remote.entry.session_key() == self.core.key() && remote.entry.is_pending() =>
            {
                Some(remote.entry.id())
            }
            _ => None,
        }
    }

    /// A `.map()` capture: our import by id, anything else exported.
    pub(super) fn capture(&mut self, hook: &Hook) -> Result<Capture, Error> {
        Ok(match self.stub(hook)? {
            Reference::Import(id) => Capture::Import(id),
            Reference::Export(id) | Reference::Pipeline(id, _) | Reference::Promise(id) => {
                Capture::Export(id)
            }
        })
    }

    /// Takes back what this exporter exported: the message it was for was not sent.
    pub(super) fn undo(self) {
        for id in self.journal {
            if let Ok(Some(hook)) = self.tables.exports.release(id, 1) {
                self.tables.graveyard.push(hook);
            }
        }
    }
}

impl Exporter for SessionExporter<'_> {
    fn stub(&mut self, hook: &Hook) -> Result<Reference, Error> {
        if let Some(id) = self.own_import(hook) {
            return Ok(Reference::Import(id));
        }
        let id = self.tables.exports.export_stub(hook)?;
        self.journal.push(id);
        Ok(Reference::Export(id))
    }

    fn promise(&mut self, hook: &Hook, path: &[PathKey]) -> Result<Reference, Error> {
        if let Some(id) = self.own_import(hook) {
            return Ok(Reference::Pipeline(id, path.to_vec()));
        }
        // A property of a local hook is read by a task: reading it here could run user code
        // (a target's getter) or re-enter this session while its tables are locked.
        let target = if path.is_empty() {
            hook.clone()
        } else {
            let (hook, path) = (hook.clone(), path.to_vec());
            LocalPromise::spawn(async move { hook.get(&path).pull().await })
        };
        let id = self.tables.exports.export_promise(target)?;
        self.journal.push(id);
        self.core.start_resolving(self.tables, id)?;
        Ok(Reference::Promise(id))
    }

    fn outgoing_error(&mut self, error: &RpcError) -> Option<RpcError> {
        self.core.options.on_send_error.as_ref()?(error)
    }
}
