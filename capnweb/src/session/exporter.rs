//! How a session refers to stubs and promises it sends: its own pending imports by id,
//! everything else exported on its table.

use std::sync::Arc;

use super::import::ImportEntry;
use super::outbox::Outbox;
use super::{SessionCore, Tables};
use crate::encode::{Exporter, Reference};
use crate::error::{Error, RpcError};
use crate::hook::{Hook, LocalPromise};
use crate::stream::{self, Chunks, ReadableCell, StreamHook};
use crate::wire::{Capture, PathKey};

/// An [`Exporter`] over a session's tables. It keeps a journal of what it exported, so that a
/// message that fails to encode (over a limit, say) leaves nothing exported behind it.
///
/// A readable stream in the message opens a pipe: its id is taken while the message is
/// written, and [`commit`](SessionExporter::commit) puts the `["pipe"]` before the message
/// and starts pumping the stream into it. Without a commit (the message was not sent), the
/// ids are given back and the streams keep their content.
pub(super) struct SessionExporter<'a> {
    core: &'a Arc<SessionCore>,
    tables: &'a mut Tables,
    journal: Vec<i64>,
    pipes: Vec<PendingPipe>,
}

/// A pipe the message being written refers to.
struct PendingPipe {
    id: i64,
    cell: Arc<ReadableCell>,
    chunks: Option<Chunks>,
}

impl Drop for SessionExporter<'_> {
    fn drop(&mut self) {
        // Not committed: the pipes were never opened.
        for pipe in self.pipes.drain(..).rev() {
            self.tables.imports.unallocate_positive(pipe.id);
            if let Some(chunks) = pipe.chunks {
                pipe.cell.put_back(chunks);
            }
        }
    }
}

impl<'a> SessionExporter<'a> {
    pub(super) fn new(core: &'a Arc<SessionCore>, tables: &'a mut Tables) -> Self {
        SessionExporter {
            core,
            tables,
            journal: Vec::new(),
            pipes: Vec::new(),
        }
    }

    /// The message was written (the last one in `outbox`): open its pipes before it and start
    /// pumping them.
    pub(super) fn commit(mut self, outbox: &mut Outbox) {
        if self.pipes.is_empty() {
            return;
        }
        outbox.pipes_before_last(self.pipes.len());
        for mut pipe in std::mem::take(&mut self.pipes) {
            let entry = Arc::new(ImportEntry::new(Arc::clone(self.core), pipe.id, false));
            self.tables.imports.insert(pipe.id, Arc::downgrade(&entry));
            let target = entry.hook(false);
            if let Some(chunks) = pipe.chunks.take() {
                drop(tokio::spawn(stream::pump(target, chunks)));
            }
        }
    }

    /// A readable stream's content, for a pipe opened under the next import id.
    fn open_pipe(&mut self, cell: &Arc<ReadableCell>, kind: &str) -> Result<i64, Error> {
        if !self.core.caps.carries_streams() {
            return Err(stream::needs_persistent_session());
        }
        let chunks = cell.take().ok_or_else(|| stream::already_taken(kind))?;
        self.tables.imports.room()?;
        let id = self.tables.imports.allocate_positive();
        self.pipes.push(PendingPipe {
            id,
            cell: Arc::clone(cell),
            chunks: Some(chunks),
        });
        Ok(id)
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
            Reference::Export(id)
            | Reference::Pipeline(id, _)
            | Reference::Promise(id)
            | Reference::Writable(id) => Capture::Export(id),
            Reference::Readable(_) | Reference::Blob(..) => {
                return Err(Error::from(RpcError::type_error(
                    "a .map() mapper cannot capture a ReadableStream or a Blob",
                )))
            }
        })
    }

    /// Takes back what this exporter exported: the message it was for was not sent.
    pub(super) fn undo(mut self) {
        for id in std::mem::take(&mut self.journal) {
            if let Ok(Some(hook)) = self.tables.exports.release(id, 1) {
                self.tables.graveyard.push(hook);
            }
        }
    }
}

impl Exporter for SessionExporter<'_> {
    fn stub(&mut self, hook: &Hook) -> Result<Reference, Error> {
        if let Hook::Stream(stream) = hook {
            return match &**stream {
                StreamHook::Writable(_) => {
                    if !self.core.caps.carries_streams() {
                        return Err(stream::needs_persistent_session());
                    }
                    let id = self.tables.exports.export_stub(hook)?;
                    self.journal.push(id);
                    Ok(Reference::Writable(id))
                }
                StreamHook::Readable(cell) => {
                    Ok(Reference::Readable(self.open_pipe(cell, "ReadableStream")?))
                }
                StreamHook::Blob(mime, cell) => {
                    let id = self.open_pipe(cell, "Blob")?;
                    Ok(Reference::Blob(mime.clone(), id))
                }
            };
        }
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
