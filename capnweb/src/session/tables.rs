//! Per-session import and export tables: id allocation, reference counts and size caps.
//!
//! Ids follow the protocol: 0 is the main object on both sides; the importer picks positive
//! ids (one per `push`, counting up in lockstep with the peer); the exporter picks negative ids
//! (one per new capability it sends, counting down). Ids are never reused.

use std::sync::Weak;

use rustc_hash::FxHashMap as HashMap;

use super::import::ImportEntry;
use crate::error::Error;
use crate::hook::Hook;
use crate::wire::Limit;

/// One entry of the export table.
pub(super) struct ExportEntry {
    pub(super) hook: Hook,
    /// How many times the peer has been handed this id and not yet released it.
    pub(super) refcount: u64,
    /// Whether a resolve/reject for it has been started (after a pull, or for a promise export).
    pub(super) resolving: bool,
    /// `stream` results are released by the resolve itself.
    pub(super) auto_release: bool,
    /// For a pipe the peer opened: its readable end, until a `["readable", id]` takes it.
    pub(super) pipe_readable: Option<crate::stream::PipeReader>,
}

/// What we export to the peer: our objects and promises, by the ids the peer knows them by.
pub(super) struct ExportTable {
    entries: HashMap<i64, ExportEntry>,
    /// Identity of an exported object -> its id, so a re-export reuses the id.
    by_identity: HashMap<usize, i64>,
    next_negative: i64,
    next_positive: i64,
    max: usize,
}

impl ExportTable {
    pub(super) fn new(main: Hook, max: usize) -> ExportTable {
        let mut entries = HashMap::default();
        entries.insert(0, ExportEntry::new(main));
        ExportTable {
            entries,
            by_identity: HashMap::default(),
            next_negative: -1,
            next_positive: 1,
            max,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn get(&self, id: i64) -> Option<&ExportEntry> {
        self.entries.get(&id)
    }

    pub(super) fn get_mut(&mut self, id: i64) -> Option<&mut ExportEntry> {
        self.entries.get_mut(&id)
    }

    /// Refuses a new entry once the table holds `max`: a peer that never releases cannot make
    /// it grow without bound.
    fn room(&self) -> Result<(), Error> {
        if self.entries.len() < self.max {
            return Ok(());
        }
        Err(Error::limit(
            Limit::Exports,
            self.max,
            format!(
                "the peer holds {} exports without releasing them, the limit for one session",
                self.max
            ),
        ))
    }

    /// Exports a stub: the same object again reuses its id and bumps its count.
    pub(super) fn export_stub(&mut self, hook: &Hook) -> Result<i64, Error> {
        if let Some(identity) = hook.identity() {
            if let Some(&id) = self.by_identity.get(&identity) {
                if let Some(entry) = self.entries.get_mut(&id) {
                    entry.refcount += 1;
                    return Ok(id);
                }
            }
        }
        self.room()?;
        let id = self.allocate_negative();
        if let Some(identity) = hook.identity() {
            self.by_identity.insert(identity, id);
        }
        self.entries.insert(id, ExportEntry::new(hook.clone()));
        Ok(id)
    }

    /// Exports a promise: always a new id, or the peer could miss the resolution.
    pub(super) fn export_promise(&mut self, hook: Hook) -> Result<i64, Error> {
        self.room()?;
        let id = self.allocate_negative();
        self.entries.insert(id, ExportEntry::new(hook));
        Ok(id)
    }

    fn allocate_negative(&mut self) -> i64 {
        let id = self.next_negative;
        self.next_negative -= 1;
        id
    }

    /// Records the result of the peer's next `push` (or `stream`) under the next positive id.
    /// The id the next `push` takes.
    pub(super) fn next_pushed_id(&self) -> i64 {
        self.next_positive
    }

    pub(super) fn insert_pushed(&mut self, hook: Hook, auto_release: bool) -> Result<i64, Error> {
        self.room()?;
        let id = self.next_positive;
        self.next_positive += 1;
        let mut entry = ExportEntry::new(hook);
        entry.auto_release = auto_release;
        self.entries.insert(id, entry);
        Ok(id)
    }

    /// Subtracts `count` references; at zero the entry goes and its hook is returned so the
    /// caller can drop it outside the session lock.
    pub(super) fn release(&mut self, id: i64, count: u64) -> Result<Option<Hook>, String> {
        let entry = self.entries.get_mut(&id).ok_or_else(|| {
            format!(
                "the peer released export {id}, which it does not hold (not on the export table)"
            )
        })?;
        if entry.refcount < count {
            return Err(format!(
                "the peer released export {id} {count} times, but holds only {} references",
                entry.refcount
            ));
        }
        entry.refcount -= count;
        if entry.refcount > 0 {
            return Ok(None);
        }
        let hook = self.entries.remove(&id).map(|e| e.hook);
        if let Some(identity) = hook.as_ref().and_then(Hook::identity) {
            if self.by_identity.get(&identity) == Some(&id) {
                self.by_identity.remove(&identity);
            }
        }
        Ok(hook)
    }

    /// Empties the table (the session ended); the hooks are returned to drop outside the lock.
    pub(super) fn take_all(&mut self) -> Vec<Hook> {
        self.by_identity.clear();
        self.entries.drain().map(|(_, e)| e.hook).collect()
    }
}

impl ExportEntry {
    fn new(hook: Hook) -> ExportEntry {
        ExportEntry {
            hook,
            refcount: 1,
            resolving: false,
            auto_release: false,
            pipe_readable: None,
        }
    }
}

/// What we import from the peer. Entries are held weakly: the stubs and promises that use an
/// import own it, and when the last one goes the import is released.
pub(super) struct ImportTable {
    slots: HashMap<i64, Weak<ImportEntry>>,
    next_positive: i64,
    max: usize,
}

impl ImportTable {
    pub(super) fn new(max: usize) -> ImportTable {
        ImportTable {
            slots: HashMap::default(),
            next_positive: 1,
            max,
        }
    }

    /// Live entries, plus the main import (id 0), which always counts.
    pub(super) fn len(&self) -> usize {
        1 + self.slots.keys().filter(|id| **id != 0).count()
    }

    /// Refuses a new entry once the table holds `max` (the peer's exports we have not
    /// released: each holds memory on our side).
    pub(super) fn room(&self) -> Result<(), Error> {
        if self.slots.len() < self.max {
            return Ok(());
        }
        Err(Error::limit(
            Limit::Imports,
            self.max,
            format!(
                "the peer sent more than {} capabilities that are still in use, the limit for \
                 one session",
                self.max
            ),
        ))
    }

    /// The id the result of our next `push` takes.
    pub(super) fn allocate_positive(&mut self) -> i64 {
        let id = self.next_positive;
        self.next_positive += 1;
        id
    }

    /// Gives back `id`, the last id allocated (its message was not sent).
    pub(super) fn unallocate_positive(&mut self, id: i64) {
        if self.next_positive == id + 1 {
            self.next_positive = id;
        }
    }

    pub(super) fn insert(&mut self, id: i64, entry: Weak<ImportEntry>) {
        self.slots.insert(id, entry);
    }

    pub(super) fn get(&self, id: i64) -> Option<&Weak<ImportEntry>> {
        self.slots.get(&id)
    }

    /// Removes the slot for `id` if it still refers to `entry` (or to nothing alive).
    pub(super) fn remove_if(&mut self, id: i64, entry: usize) {
        if let Some(slot) = self.slots.get(&id) {
            if slot.as_ptr() as usize == entry || slot.strong_count() == 0 {
                self.slots.remove(&id);
            }
        }
    }

    /// Whether a live import was pulled and is not resolved yet (a call of ours in flight).
    pub(super) fn any_awaited(&self) -> bool {
        self.slots
            .values()
            .filter_map(Weak::upgrade)
            .any(|entry| entry.awaited())
    }

    /// Every live entry (the session ended and each must be told).
    pub(super) fn take_all(&mut self) -> Vec<Weak<ImportEntry>> {
        self.slots.drain().map(|(_, e)| e).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::stub::Stub;
    use crate::value::Value;

    fn object() -> Hook {
        Stub::from_fn(|_args: Vec<Value>| async { Ok(Value::Null) }).into_hook()
    }

    fn promise() -> Hook {
        Hook::Payload(Arc::new(Value::Null))
    }

    #[test]
    fn the_main_export_is_id_zero_and_new_exports_count_down() {
        let mut table = ExportTable::new(object(), 10);
        assert_eq!(table.len(), 1);
        assert!(table.get(0).is_some());
        assert_eq!(table.export_stub(&object()).ok(), Some(-1));
        assert_eq!(table.export_promise(promise()).ok(), Some(-2));
        assert_eq!(table.export_stub(&object()).ok(), Some(-3));
        assert_eq!(table.len(), 4);
    }

    #[test]
    fn exporting_an_object_again_reuses_its_id_and_counts_a_reference() {
        let mut table = ExportTable::new(object(), 10);
        let thing = object();
        let id = table.export_stub(&thing).ok();
        assert_eq!(table.export_stub(&thing.clone()).ok(), id);
        let id = id.unwrap_or_default();
        assert_eq!(table.get(id).map(|e| e.refcount), Some(2));
        // The first release leaves the entry; the second removes it and hands the hook back.
        assert!(matches!(table.release(id, 1), Ok(None)));
        assert!(matches!(table.release(id, 1), Ok(Some(_))));
        assert!(table.get(id).is_none());
        // Once released, the same object is a new export with a new id.
        assert_eq!(table.export_stub(&thing).ok(), Some(id - 1));
    }

    #[test]
    fn a_promise_is_a_new_export_every_time() {
        let mut table = ExportTable::new(object(), 10);
        let hook = promise();
        assert_eq!(table.export_promise(hook.clone()).ok(), Some(-1));
        assert_eq!(table.export_promise(hook).ok(), Some(-2));
    }

    #[test]
    fn releasing_what_the_peer_does_not_hold_is_refused() {
        let mut table = ExportTable::new(object(), 10);
        let unknown = table.release(-7, 1).err().unwrap_or_default();
        assert!(unknown.contains("export -7"), "{unknown}");
        let id = table.export_stub(&object()).unwrap_or_default();
        let too_many = table.release(id, 2).err().unwrap_or_default();
        assert!(too_many.contains("holds only 1"), "{too_many}");
        // A refused release changes nothing.
        assert_eq!(table.get(id).map(|e| e.refcount), Some(1));
    }

    #[test]
    fn pushed_results_take_positive_ids_in_order() {
        let mut table = ExportTable::new(object(), 10);
        assert_eq!(table.next_pushed_id(), 1);
        assert_eq!(table.insert_pushed(promise(), false).ok(), Some(1));
        assert_eq!(table.insert_pushed(promise(), true).ok(), Some(2));
        assert_eq!(table.next_pushed_id(), 3);
        assert_eq!(table.get(2).map(|e| e.auto_release), Some(true));
        assert_eq!(table.get(1).map(|e| e.auto_release), Some(false));
    }

    #[test]
    fn the_export_table_stops_at_its_bound_and_has_room_again_after_a_release() {
        let mut table = ExportTable::new(object(), 3);
        let first = table.export_stub(&object()).unwrap_or_default();
        assert!(table.insert_pushed(promise(), false).is_ok());
        assert_eq!(table.len(), 3);
        assert!(matches!(
            table.export_stub(&object()),
            Err(Error::LimitExceeded(_))
        ));
        assert!(matches!(
            table.export_promise(promise()),
            Err(Error::LimitExceeded(_))
        ));
        assert!(matches!(
            table.insert_pushed(promise(), false),
            Err(Error::LimitExceeded(_))
        ));
        // Re-exporting what is there needs no room.
        let again = table.export_stub(
            &table
                .get(first)
                .map(|e| e.hook.clone())
                .unwrap_or_else(promise),
        );
        assert_eq!(again.ok(), Some(first));
        assert!(table.release(first, 2).is_ok());
        assert!(table.export_stub(&object()).is_ok());
    }

    #[test]
    fn taking_everything_empties_the_export_table() {
        let mut table = ExportTable::new(object(), 10);
        let thing = object();
        let id = table.export_stub(&thing).unwrap_or_default();
        assert_eq!(table.take_all().len(), 2);
        assert_eq!(table.len(), 0);
        // The identity map went too: the object is a new export.
        assert_ne!(table.export_stub(&thing).ok(), Some(id));
    }

    #[test]
    fn imports_count_up_and_the_main_import_always_counts() {
        let mut table = ImportTable::new(2);
        assert_eq!(table.len(), 1);
        assert_eq!(table.allocate_positive(), 1);
        assert_eq!(table.allocate_positive(), 2);
        // Only the last id can be given back.
        table.unallocate_positive(1);
        assert_eq!(table.allocate_positive(), 3);
        table.unallocate_positive(3);
        assert_eq!(table.allocate_positive(), 3);
    }

    #[test]
    fn the_import_table_stops_at_its_bound_and_dead_slots_can_be_removed() {
        let mut table = ImportTable::new(2);
        assert!(table.room().is_ok());
        table.insert(-1, Weak::new());
        table.insert(-2, Weak::new());
        assert!(matches!(table.room(), Err(Error::LimitExceeded(_))));
        // A slot whose entry is gone is removed whatever entry is named.
        table.remove_if(-1, 12345);
        assert!(table.get(-1).is_none());
        assert!(table.room().is_ok());
        assert!(!table.any_awaited());
        assert_eq!(table.take_all().len(), 1);
        assert_eq!(table.len(), 1);
    }
}
