//! Expressions from the peer that name its objects (`export`, `promise`, `readable`) or ours
//! (`import`), as hooks: the session's side of the evaluator.

use super::import::ImportEntry;
use super::SessionCore;
use crate::error::Error;
use crate::hook::Hook;
use std::sync::Arc;
use std::sync::Weak;

/// Ids the exporter chooses are negative (0 is the main object, positive ids are the
/// importer's): anything else in an `export` or `promise` would collide with our own imports.
fn exporter_chosen(id: i64, tag: &str) -> Result<(), Error> {
    if id < 0 {
        Ok(())
    } else {
        Err(Error::protocol(format!(
            "the peer sent [\"{tag}\", {id}], but ids the exporter chooses must be negative"
        )))
    }
}

impl crate::evaluate::Importer for Arc<SessionCore> {
    fn import_stub(&self, id: i64) -> Result<Hook, Error> {
        exporter_chosen(id, "export")?;
        self.with_state(|st| {
            if let Some(e) = &st.ended {
                return Err(e.clone());
            }
            if let Some(entry) = st.tables.imports.get(id).and_then(Weak::upgrade) {
                entry.lock().remote_refcount += 1;
                return Ok(entry.hook(false));
            }
            st.tables.imports.room()?;
            let entry = Arc::new(ImportEntry::new(Arc::clone(self), id, false));
            st.tables.imports.insert(id, Arc::downgrade(&entry));
            Ok(entry.hook(false))
        })
    }

    fn import_promise(&self, id: i64) -> Result<Hook, Error> {
        exporter_chosen(id, "promise")?;
        self.with_state(|st| {
            if let Some(e) = &st.ended {
                return Err(e.clone());
            }
            if st
                .tables
                .imports
                .get(id)
                .is_some_and(|w| w.strong_count() > 0)
            {
                return Err(Error::protocol(format!(
                    "the peer sent promise {id}, reusing an id already on the import table"
                )));
            }
            st.tables.imports.room()?;
            let entry = Arc::new(ImportEntry::new(Arc::clone(self), id, true));
            st.tables.imports.insert(id, Arc::downgrade(&entry));
            Ok(entry.hook(true))
        })
    }

    fn readable(&self, id: i64) -> Result<Hook, Error> {
        use futures::StreamExt;
        let reader = self.with_state(|st| {
            st.tables
                .exports
                .get_mut(id)
                .and_then(|entry| entry.pipe_readable.take())
        });
        let reader = reader.ok_or_else(|| {
            Error::protocol(format!(
                "the peer sent [\"readable\", {id}], but export {id} is not a pipe or its \
                 readable end was already taken"
            ))
        })?;
        let cell = crate::stream::ReadableCell::new(reader.boxed());
        Ok(Hook::Stream(Arc::new(crate::stream::StreamHook::Readable(
            cell,
        ))))
    }

    fn export(&self, id: i64) -> Result<Hook, Error> {
        self.with_state(|st| {
            st.tables
                .exports
                .get(id)
                .map(|e| e.hook.clone())
                .ok_or_else(|| {
                    Error::protocol(format!(
                        "the peer referred to export {id}, which is not on the export table"
                    ))
                })
        })
    }
}
